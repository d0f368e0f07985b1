"""The watcher's card (docs/card.md) printed from the real site in headless Chromium: exactly one
sheet on A4 and on US Letter, and its QR codes, decoded from the rendered page, are exactly the
live pages' URLs. On screen the codes are not shown.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser.test_print import ARTIFACTS, CHROMIUM, print_pdf

ZBAR = shutil.which("zbarimg")
BASE = "http://127.0.0.1:8000/"  # html_baseurl unset: the address of `make serve`
LIVE = {f"{BASE}live/known-failures.html", f"{BASE}live/status.html",
        f"{BASE}live/flaky-tests.html"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif((CHROMIUM is None or ZBAR is None or not shutil.which("pdfinfo"))
                       and not os.environ.get("CI"),
                       reason="chromium, zbar-tools or poppler-utils missing (.ci/run has them)"),
]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def served(whole_site: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    html, status = whole_site
    assert status.startswith("0\n"), status
    site = tmp_path_factory.mktemp("card-site") / "html"
    shutil.copytree(html, site)
    card = site / "card.html"
    for paper in ("A4", "letter"):
        forced = card.read_text().replace(
            "</head>", f"<style>@page {{ size: {paper}; }}</style></head>")
        (site / f"card-{paper}.html").write_text(forced)
    (site / "screen-harness.html").write_text(SCREEN_HARNESS)
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _qr_payloads(pdf: Path) -> set[str]:
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(pdf), str(prefix)], check=True,
                   timeout=60)
    found: set[str] = set()
    for png in sorted(pdf.parent.glob(prefix.name + "*.png")):
        done = subprocess.run([ZBAR or "zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable",
                               str(png)], capture_output=True, text=True, timeout=60)
        found |= {line for line in done.stdout.splitlines() if line}
    return found


@pytest.mark.parametrize("paper", ["A4", "letter"])
def test_card_prints_on_one_sheet_with_the_live_pages_qr_codes(served: str, tmp_path: Path,
                                                               paper: str) -> None:
    pdf = tmp_path / f"card-{paper}.pdf"
    text = " ".join(print_pdf(served + f"card-{paper}.html", pdf))
    assert _pages(pdf) == 1
    for words in ("Search, in this order", "test_posix: TestPosixSpawn fails on PPC64",
                  "Reply", "python-buildbots@python.org", "The live pages"):
        assert words in " ".join(text.split()), words
    assert "<https://" not in text  # no URL spelt out after its link on the card
    assert _qr_payloads(pdf) == LIVE
    if paper == "A4":
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(next(tmp_path.glob("card-A4*.png")), ARTIFACTS / "print-card.png")


SCREEN_HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="f" src="card.html" width="1200" height="900"></iframe>
<script>
document.getElementById("f").onload = function () {
  var d = this.contentDocument, codes = d.querySelectorAll(".bbwatch-qr");
  var shown = Array.prototype.map.call(codes, function (c) {
    return this.contentWindow.getComputedStyle(c).display; }, this);
  document.getElementById("result").textContent = "RESULT" + codes.length + ":" +
    shown.join(",") + "END";
};
</script></body></html>"""


def test_card_codes_are_not_shown_on_screen(served: str, tmp_path: Path) -> None:
    assert CHROMIUM is not None, "chromium is required in CI"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
         "--dump-dom", served + "screen-harness.html"],
        capture_output=True, text=True, timeout=120)
    assert "RESULT3:none,none,noneEND" in done.stdout, done.stdout[-1500:]
