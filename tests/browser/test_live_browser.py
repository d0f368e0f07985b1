"""The live pages of the real site in headless Chromium: they render, log no console error,
and a builder named ``<script>alert(1)</script>`` is shown as text, never run.

The site (docs/, the real conf.py and theme) is built against a fake master on 127.0.0.1 and
served by http.server on 127.0.0.1; Chromium gets a fresh profile and no background traffic.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import build_site
from tests.fakemaster import FakeMaster
from tests.httpfake import FakeServer

EVIL = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = ("live/status.html", "live/known-failures.html", "live/flaky-tests.html")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed (CI installs it: .ci/run)"),
]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("browser-site")
    with FakeServer() as srv:
        master = FakeMaster(srv, builders=3, builds=3)
        master.builders[0]["name"] = EVIL
        master.sync()
        build = build_site(out, BBWATCH_BUILDBOT_URL=srv.url)
    assert build.status == 0, build.warnings
    handler = functools.partial(_Quiet, directory=str(out / "html"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def chromium(url: str, tmp_path: Path) -> tuple[str, str]:
    """(DOM after scripts ran, Chromium's log) for ``url``."""
    assert CHROMIUM is not None, "chromium is required in CI"
    profile = tmp_path / f"profile-{abs(hash(url))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=3000", "--dump-dom", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    return done.stdout, done.stderr


@pytest.mark.parametrize("page", PAGES)
def test_live_page_renders_without_console_errors(served_site, tmp_path, page):
    dom, log = chromium(served_site + page, tmp_path)
    assert "bbwatch-live" in dom, log[-2000:]
    assert "Data fetched" in dom
    # Chromium prints every console message (errors, uncaught exceptions) as a CONSOLE line;
    # the pages log nothing at all when healthy.
    console = [line for line in log.splitlines() if re.search(r":CONSOLE[:(]", line)]
    assert console == [], "\n".join(console)
    assert "Failed to load resource" not in log


def test_script_builder_name_is_text(served_site, tmp_path):
    dom, _log = chromium(served_site + "live/status.html", tmp_path)
    # --dump-dom serialises the live DOM: a real <script> element would print as-is
    assert EVIL not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert dom.count('class="bbwatch-builder"') == 3
