"""Every per-failure triage page the local fleet produces (the recorded snapshot) prints on at
most two sheets of A4 and of US Letter, with the log excerpt printed once; the same holds for
what `bbwatch triage --format html` prints. Headless Chromium, pdfinfo and pdftotext.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from bbwatch.triage.context import triage_docname

from tests.browser.test_print import flat, print_pdf, pytestmark  # noqa: F401 (the markers)
from tests.conftest import REPO

MAX_SHEETS = 2
PAPERS = ("A4", "letter")
SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def served(demo_site: Path) -> Iterator[tuple[str, list[str]]]:
    pages = sorted(str(p.relative_to(demo_site)) for p in (demo_site / "triage").rglob("*.html"))
    assert len(pages) >= 10, pages  # the fleet's failures, crashes, leaks, a sick worker
    for page in pages:
        source = demo_site / page
        for paper in PAPERS:
            forced = source.read_text().replace(
                "</head>", f"<style>@page {{ size: {paper}; }}</style></head>")
            source.with_name(f"{source.stem}.{paper}.html").write_text(forced)
    handler = functools.partial(_Quiet, directory=str(demo_site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", pages
    httpd.shutdown()
    httpd.server_close()


def _sheets(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


@pytest.mark.parametrize("paper", PAPERS)
def test_every_per_failure_page_prints_on_two_sheets(served: tuple[str, list[str]],
                                                     tmp_path: Path, paper: str) -> None:
    base, pages = served
    too_long = {}
    for n, page in enumerate(pages):
        pdf = tmp_path / f"{n}.pdf"
        text = flat(" ".join(print_pdf(base + page.replace(".html", f".{paper}.html"), pdf)))
        if _sheets(pdf) > MAX_SHEETS:
            too_long[page] = _sheets(pdf)
        if "Read the test log" in text:
            # the excerpt stands once; where the comment and the issue body repeat it, a
            # reference does, and the analysis checklist stays on screen
            assert len(re.findall(r"\b(?:FAIL|ERROR): test", text)) <= 1, page
            assert 'the log excerpt: see step 2' in text, page
            assert "its checklist" in text and "is on this page on screen" in text, page
            assert "Keep the new issue" in text, page  # the end was printed, not cut off
    assert too_long == {}


def test_the_cli_page_prints_like_the_site(tmp_path: Path, served: tuple[str, list[str]]
                                           ) -> None:
    base, pages = served
    data = json.loads((SNAPSHOT / "snapshot.json").read_text())
    master = data.get("base_url", "http://127.0.0.1:8010/")
    builder = next(b for b in data["builders"] if b["name"] == "AMD64 Debian root 3.x")
    page = triage_docname(builder["name"], 6, "test_bbw_os") + ".html"
    assert page in pages
    site_text = flat(" ".join(print_pdf(base + page.replace(".html", ".A4.html"),
                                        tmp_path / "site.pdf")))
    url = f"{master}#/builders/{builder['builderid']}/builds/6"
    done = subprocess.run([sys.executable, "-m", "bbwatch", "triage", url, "--source",
                           f"snapshot:{SNAPSHOT}", "--tracker", "none", "--format", "html"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    cli = tmp_path / "cli.html"
    cli.write_text(done.stdout.replace("</head>", "<style>@page { size: A4; }</style></head>"))
    pdf = tmp_path / "cli.pdf"
    cli_text = flat(" ".join(print_pdf(cli.as_uri(), pdf)))
    assert _sheets(pdf) <= MAX_SHEETS
    for words in ("the log excerpt: see step 2", "is on this page on screen",
                  "Read the test log", "test_bbw_os"):
        assert words in cli_text and words in site_text, words
