"""The hostile site (tests/hostile_site.py) in headless Chromium: no payload runs, the text is
shown literally, and a 10 kB builder/worker name or log line does not widen the page.

Pages are served from 127.0.0.1; Chromium gets a fresh profile and no background traffic
(tests/chromium.py). Every payload that could run sets ``document.title`` (and one appends a
``PWNED-script`` text node to the body), so the dumped DOM shows whether anything ran.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import chromium, hostile
from tests.hostile_site import HostileSite, build_hostile_site
from tests.test_hostile import Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium.find() is None and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (CI installs it: .ci/run)"),
]

# Loads ?page=... in a 1280 px iframe and reports what the page looks like once it settled.
HARNESS = """<!doctype html><html><head><title>harness</title></head><body>
<iframe id="f" style="width:1280px;height:900px"></iframe>
<script>
const frame = document.getElementById("f");
frame.addEventListener("load", () => setTimeout(() => {
  const doc = frame.contentDocument;
  const out = document.createElement("pre");
  out.id = "report";
  out.textContent = JSON.stringify({
    title: doc.title, scrollWidth: doc.documentElement.scrollWidth,
    clientWidth: doc.documentElement.clientWidth});
  document.body.append(out);
}, 200));
frame.src = new URLSearchParams(location.search).get("page");
</script></body></html>
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> HostileSite:
    built = build_hostile_site(tmp_path_factory.mktemp("hostile-browser"))
    assert built.returncode == 0, built.output
    (built.outdir / "_harness.html").write_text(HARNESS, encoding="utf-8")
    return built


@pytest.fixture(scope="module")
def served(site: HostileSite) -> Iterator[str]:
    with chromium.StaticServer(site.outdir) as url:
        yield url


def pages_of(site: HostileSite) -> list[str]:
    return [str(p.relative_to(site.outdir)) for p in site.live_pages()]


def static_title(path: Path) -> str:
    found = re.search(r"<title>(.*?)</title>", path.read_text("utf-8"), re.S)
    assert found
    return _comparable(Page(f"<p>{found.group(1)}</p>").all_text)


def _comparable(title: str) -> str:
    """Chromium shows a NUL as U+FFFD and collapses spaces; compare what is left."""
    return "".join(c for c in title if c.isprintable() and not c.isspace() and c != "\ufffd")


def test_no_payload_runs_and_text_is_literal(site: HostileSite, served: str) -> None:
    for name in pages_of(site):
        dom = chromium.dump_dom(served + name, budget_ms=3000)
        page = Page(dom)
        assert _title(dom) == static_title(site.outdir / name), f"{name}: document.title changed"
        assert not re.search(r"PWNED-script\s*</body>", dom), f"{name}: a script appended"
        for tag, attr, value in page.attrs:
            assert not (attr.startswith("on") and hostile.MARK in value), f"{name}: <{tag} {attr}>"
            if tag == "a" and attr == "href":
                assert not "".join(value.split()).lower().startswith("javascript:"), name
        if name == "status.html":
            assert f"AMD64 {hostile.SCRIPT} 3.x" in page.all_text
            assert f"ARM64 {hostile.IMG} {hostile.JS_URL} 3.x" in page.all_text
        if name == "failures.html":
            assert hostile.TEST_ID in page.all_text
            assert hostile.MYST in page.all_text  # markup shown, not rendered


def _title(dom: str) -> str:
    found = re.search(r"<title>(.*?)</title>", dom, re.S)
    return _comparable(Page(f"<p>{found.group(1)}</p>").all_text) if found else ""


def test_long_names_and_lines_do_not_widen_the_page(site: HostileSite, served: str) -> None:
    for name in pages_of(site):
        dom = chromium.dump_dom(f"{served}_harness.html?page={name}", budget_ms=5000)
        found = re.search(r'<pre id="report">(.*?)</pre>', dom, re.S)
        assert found, f"{name}: the harness got no report"
        report = json.loads(Page(f"<p>{found.group(1)}</p>").all_text)
        assert _comparable(report["title"]) == static_title(site.outdir / name), name
        # the 10 kB worker name and log line must wrap or scroll inside their box
        assert report["scrollWidth"] <= report["clientWidth"] + 1, f"{name}: {report}"
