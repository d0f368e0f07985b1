"""Printing checklists in headless Chromium: the generic checklists and a per-failure one.

The ``test-checklist`` root is built with the site's theme (furo) and served on 127.0.0.1;
Chromium prints each page to PDF, ``pdftotext`` must find every step and the filled values,
and ``pdftoppm`` renders page 1 to ``tests/artifacts/`` for a human to look at.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from bbwatch.commands.triage import standalone_html
from bbwatch.triage.checklist import load_checklists
from bbwatch.triage.context import triage_docname
from bbwatch.triage.fill import fill
from sphinx.testing.util import SphinxTestApp

from tests.conftest import REPO
from tests.triage_samples import HOSTILE_BUILDER, HOSTILE_EXCERPT, hostile_context

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")
ARTIFACTS = REPO / "tests" / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif((CHROMIUM is None or not POPPLER) and not os.environ.get("CI"),
                       reason="chromium or poppler-utils missing (CI installs them: .ci/run)"),
]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("print-site")
    app = SphinxTestApp("html", srcdir=REPO / "tests" / "roots" / "test-checklist",
                        builddir=out, freshenv=True, confoverrides={"html_theme": "furo"},
                        status=StringIO(), warning=StringIO())
    try:
        app.build()
    finally:
        app.cleanup()
    assert app.warning.getvalue().strip() == ""
    (Path(app.outdir) / "harness.html").write_text(HARNESS)
    # The per-failure page forced to each paper size (the site's CSS says size: auto).
    ctx = hostile_context()
    page = Path(app.outdir) / (triage_docname(ctx.builder, ctx.build_number, "test_evil") + ".html")
    for paper in ("A4", "letter"):
        style = f"<style>@page {{ size: {paper}; }}</style>"
        forced = page.read_text().replace("</head>", style + "</head>")
        (page.parent / f"paper-{paper}.html").write_text(forced)
    # The A4 page with every box ticked (no script: nothing restores them from storage).
    unticked = re.sub(r'<script[^>]*checklist\.js[^>]*></script>', "",
                      (page.parent / "paper-A4.html").read_text())
    ticked = re.sub(r"<input ([^>]*\bbbwatch-checklist-box\b[^>]*?)/?>", r"<input \1 checked>",
                    unticked)  # only the checklists' boxes (furo's drawer toggles are inputs too)
    assert ticked.count(" checked>") > 5
    (page.parent / "unticked-A4.html").write_text(unticked)
    (page.parent / "ticked-A4.html").write_text(ticked)
    # What `bbwatch triage --format html` prints, served beside the site.
    checklists = load_checklists()
    (Path(app.outdir) / "cli.html").write_text(
        standalone_html(fill(hostile_context(), checklists), checklists))
    handler = functools.partial(_Quiet, directory=str(app.outdir))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


# Ticks step 2 of the triage checklist in a same-origin iframe, reloads (ticks must persist),
# presses Reset, reloads again (nothing ticked), then writes what it saw into #result.
HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" src="index.html" width="800" height="600"></iframe>
<script>
var f = document.getElementById("f"), stage = 0, seen = {};
function boxes() {
  return Array.prototype.slice.call(
    f.contentDocument.querySelectorAll("#checklist-triage input.bbwatch-checklist-box"));
}
function state() { return boxes().map(function (b) { return b.checked; }); }
f.onload = function () {
  if (stage === 0) {
    seen.initial = state();
    boxes()[1].click();
    seen.clicked = state();
    stage = 1; f.contentWindow.location.reload();
  } else if (stage === 1) {
    seen.reloaded = state();
    seen.other = Array.prototype.slice.call(f.contentDocument.querySelectorAll(
      "#checklist-first-week input.bbwatch-checklist-box")).map(function (b) { return b.checked; });
    f.contentDocument.querySelector("#checklist-triage .bbwatch-checklist-reset").click();
    seen.reset = state();
    stage = 2; f.contentWindow.location.reload();
  } else {
    seen.after_reset = state();
    document.getElementById("result").textContent = "RESULT" + JSON.stringify(seen) + "END";
  }
};
</script></body></html>
"""


def print_pdf(url: str, pdf: Path) -> list[str]:
    """Print ``url`` to ``pdf``; the text of each page."""
    assert CHROMIUM is not None and POPPLER, "chromium and poppler-utils are required in CI"
    profile = pdf.parent / f"profile-{pdf.stem}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
           "--no-pdf-header-footer", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert pdf.is_file() and pdf.stat().st_size > 1000, done.stderr[-2000:]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    return text.split("\f")


def keep_page1(pdf: Path, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    prefix = ARTIFACTS / name
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(prefix)], check=True, timeout=60)
    png = prefix.with_suffix(".png")
    assert png.is_file() and png.stat().st_size > 2000
    return png


def flat(text: str) -> str:
    """PDF text with line breaks and hyphenation undone, for substring checks."""
    return re.sub(r"\s+", " ", text)


def test_generic_checklists_print_one_per_page(served: str, tmp_path: Path) -> None:
    pages = print_pdf(served + "index.html", tmp_path / "generic.pdf")
    keep_page1(tmp_path / "generic.pdf", "print-generic-page1")
    checklists = load_checklists()
    everything = flat(" ".join(pages))
    names = ("triage", "first-week", "new-issue", "analysis", "infrastructure")
    for name in names:
        for step in checklists[name].steps:
            assert flat(step.title) in everything, f"{name}: {step.title!r} not printed"
    starts = [next(i for i, p in enumerate(pages) if checklists[name].title in flat(p))
              for name in names]
    assert starts == sorted(set(starts)), "each checklist starts on a page of its own"
    for name, start in zip(names, starts, strict=True):
        last = flat(checklists[name].steps[-1].title)
        assert last in flat(pages[start]), f"{name} does not fit on one page"
    assert "Reset this checklist" not in everything  # no screen-only controls on paper
    assert "Hide navigation sidebar" not in everything and "Back to top" not in everything


def test_per_failure_checklist_prints_filled_values(served: str, tmp_path: Path) -> None:
    ctx = hostile_context()
    page = triage_docname(ctx.builder, ctx.build_number, "test_evil") + ".html"
    pages = print_pdf(served + page, tmp_path / "failure.pdf")
    keep_page1(tmp_path / "failure.pdf", "print-failure-page1")
    text = flat(" ".join(pages))
    compact = re.sub(r"\s+", "", " ".join(pages))
    for step in load_checklists()["triage"].steps:
        assert flat(step.title) in text
    assert "Read the test log" in flat(pages[0]), "the first checklist starts on page 1"
    assert flat(HOSTILE_BUILDER) in text  # unicode, quotes and markup printed as text
    for line in HOSTILE_EXCERPT.splitlines():
        assert re.sub(r"\s+", "", line) in compact
    # No URL is spelled out on paper: the links that matter are QR codes with a short label.
    assert "issues?q=" not in compact and "issues/new?title=" not in compact
    for label in ("Build", "Test log", "New issue form", "Best candidate #4242"):
        assert label in text
    assert "Reset this checklist" not in text


def test_ticks_persist_per_page_and_reset_clears_them(served: str, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium is required in CI"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=15000", "--dump-dom", served + "harness.html"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r"RESULT(.*?)END", done.stdout)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(html.unescape(found.group(1)))
    steps = len(load_checklists()["triage"].steps)
    ticked = [i == 1 for i in range(steps)]
    assert seen["initial"] == [False] * steps
    assert seen["clicked"] == ticked
    assert seen["reloaded"] == ticked  # kept in localStorage across a reload
    assert not any(seen["other"])  # per checklist: the other one on the page is untouched
    assert seen["reset"] == [False] * steps
    assert seen["after_reset"] == [False] * steps  # reset also cleared the storage


def test_cli_html_prints_like_the_site(served: str, tmp_path: Path) -> None:
    pages = print_pdf(served + "cli.html", tmp_path / "cli.pdf")
    keep_page1(tmp_path / "cli.pdf", "print-cli-page1")
    text = flat(" ".join(pages))
    for name in ("triage", "new-issue"):
        assert load_checklists()[name].title in text
        for step in load_checklists()[name].steps:
            assert flat(step.title) in text
    # Analysis is a later job: on paper, a note in its place (issue 17: at most two sheets)
    assert load_checklists()["analysis"].title not in text
    assert "is on this page on screen" in text
    assert flat(HOSTILE_BUILDER) in text and "Reset this checklist" not in text
    first = next(i for i, p in enumerate(pages) if "Read the test log" in flat(p))
    second = next(i for i, p in enumerate(pages) if "File a new issue" in flat(p))
    assert first == 0 and second >= first and len([p for p in pages if p.strip()]) <= 2


@pytest.mark.parametrize(("paper", "points"), [("A4", "(A4)"), ("letter", "(letter)")])
def test_per_failure_checklist_fits_a4_and_letter(served: str, tmp_path: Path, paper: str,
                                                  points: str) -> None:
    ctx = hostile_context()
    folder = triage_docname(ctx.builder, ctx.build_number, "test_evil").rsplit("/", 1)[0]
    pdf = tmp_path / f"{paper}.pdf"
    pages = print_pdf(f"{served}{folder}/paper-{paper}.html", pdf)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    assert points in info
    text = flat(" ".join(pages))
    assert int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1)) <= 2
    for name in ("triage", "new-issue"):
        for step in load_checklists()[name].steps:
            assert flat(step.title) in text, f"{paper}: {step.title!r} cut off"
    assert "Analysis, a separate and later job" in text
    # No URL spelled out after its link (the analysis' suspect commit stays on screen).
    compact = re.sub(r"\s+", "", text)
    assert "commit/" + "feedface" * 5 not in compact


# -- paper that works (issue 17): QR codes, empty boxes, a header on every sheet ---------------
ZBAR = shutil.which("zbarimg")


def qr_payloads(pdf: Path, page: int = 1) -> list[str]:
    """The QR codes on one printed page, decoded (pdftoppm at 300 dpi, then zbarimg)."""
    assert ZBAR is not None, "zbar-tools is required in CI (.ci/run installs it)"
    prefix = pdf.with_name(f"{pdf.stem}-p{page}")
    subprocess.run(["pdftoppm", "-png", "-r", "300", "-f", str(page), "-l", str(page),
                    "-singlefile", str(pdf), str(prefix)], check=True, timeout=60)
    done = subprocess.run([ZBAR, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable",
                           str(prefix.with_suffix(".png"))], capture_output=True, timeout=60)
    return [line for line in done.stdout.decode("utf-8").splitlines() if line]


def page_links(page_html: str) -> list[str]:
    """The hrefs of the page's print-only QR links, in order."""
    tags = re.findall(r"<a [^>]*\bbbwatch-qr-target\b[^>]*>", page_html)
    return [html.unescape(re.search(r'href="([^"]+)"', tag).group(1)) for tag in tags]


@pytest.mark.parametrize("name", ["paper-A4", "cli"])
def test_printed_qr_codes_are_exactly_the_page_links(served: str, tmp_path: Path,
                                                     name: str) -> None:
    ctx = hostile_context()
    folder = triage_docname(ctx.builder, ctx.build_number, "test_evil").rsplit("/", 1)[0]
    url = served + ("cli.html" if name == "cli" else f"{folder}/{name}.html")
    pdf = tmp_path / f"{name}.pdf"
    print_pdf(url, pdf)
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - 127.0.0.1
        links = page_links(answer.read().decode("utf-8"))
    assert [link.split("?")[0] for link in links[:2]] == [ctx.build_url.split("?")[0],
                                                           ctx.log_url]
    assert len(links) == 4 and "issues/new?" in links[2] and links[3].endswith("/4242")
    assert sorted(qr_payloads(pdf)) == sorted(links)


def test_every_box_prints_empty_and_each_sheet_names_the_failure(served: str,
                                                                 tmp_path: Path) -> None:
    import datetime as dt

    ctx = hostile_context()
    page = triage_docname(ctx.builder, ctx.build_number, "test_evil") + ".html"
    pdf = tmp_path / "header.pdf"
    pages = print_pdf(served + page, pdf)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for number, text in enumerate(pages[:-1] if not pages[-1].strip() else pages, 1):
        head = flat(text)[:400]
        assert "test_evil" in head and "build #42" in head, f"sheet {number}: {head!r}"
        assert f"printed {today}" in head or "printed " + dt.date.today().isoformat() in head
    # Every box prints empty: the same sheet with every box ticked prints the same pixels.
    folder = page.rsplit("/", 1)[0]
    sheets = []
    for name in ("unticked-A4", "ticked-A4"):
        print_pdf(f"{served}{folder}/{name}.html", tmp_path / f"{name}.pdf")
        sheets.append(keep_page1(tmp_path / f"{name}.pdf", f"print-{name}-page1").read_bytes())
    assert sheets[0] == sheets[1]
