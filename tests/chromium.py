"""Headless Chromium, the way the bench and the browser tests drive it: dump the DOM of a URL.

Flags keep it off the network (no component updates, sync, QUIC or first-run pings) and in a
fresh profile, so every run starts equal. Pages must be served from 127.0.0.1.
"""

from __future__ import annotations

import http.server
import shutil
import subprocess
import tempfile
import threading
from functools import partial
from pathlib import Path

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900",
)


def find() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str, *, budget_ms: int | None = None, timeout: float = 60) -> str:
    """The DOM after load (and after ``budget_ms`` of virtual time, if given), as HTML."""
    exe = find()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="bbwatch-chromium-") as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", "--dump-dom"]
        if budget_ms is not None:
            cmd.append(f"--virtual-time-budget={budget_ms}")
        done = subprocess.run([*cmd, url], capture_output=True, timeout=timeout, text=True,
                              errors="replace")
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return done.stdout


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class StaticServer:
    """Serve a directory on 127.0.0.1 in a thread (``with StaticServer(dir) as url: ...``)."""

    def __init__(self, root: Path) -> None:
        handler = partial(_Quiet, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
