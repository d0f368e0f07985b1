"""`bbwatch serve` against the scale fixture: idle polls stay within 3 requests and rebuild
nothing, a new build is on the served page after one poll, readers never get half a page, a
master that goes away leaves the last pages up with the banner, SIGINT stops it cleanly."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fleetdata import Fleet
from tests.scalefleet import serve

ROOT = REPO / "tests" / "roots" / "test-live"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.read().decode()


def _post(url: str) -> object:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10) as r:
        return json.load(r)


def _wait(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path: Path):
    fleet = serve(Fleet(builders=4, builds=6, seed=1, log_kb=2), latency=0)
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bbwatch", "serve", "--interval", "1", "--port", "0",
             "--buildbot-url", fleet.url, "--dir", str(tmp_path / "site"),
             "--source-dir", str(ROOT), "--conf-dir", str(ROOT)],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: "serving http" in log.read_text() or proc.poll() is not None, 120,
              "bbwatch serve to start")
        found = re.search(r"serving (http://127\.0\.0\.1:\d+/)", log.read_text())
        assert found, log.read_text()
        yield fleet, found.group(1), tmp_path / "site", proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fleet.stop()


def test_serve_polls_cheaply_rebuilds_on_new_builds_and_swaps_atomically(served):
    fleet, site_url, site, proc, log = served
    current = site / "current"
    assert current.is_symlink() and current.resolve().name == "1"
    page = _get(site_url + "status.html")
    assert "bbwatch-cell" in page and "Master last checked" in page
    version = json.loads(_get(site_url + "bbwatch-version.json"))

    # idle: a poll a second, each within 3 requests; nothing rebuilt, the check time moves
    _post(fleet.url + "admin/reset")
    time.sleep(3.5)
    stats = json.loads(_get(fleet.url + "admin/stats"))
    assert 0 < stats["total"] <= 3 * 4, stats
    assert set(stats["routes"]) <= {"builders", "workers", "builds"}, stats
    assert current.resolve().name == "1" and "rebuilding" not in log.read_text()
    later = json.loads(_get(site_url + "bbwatch-version.json"))
    assert later["version"] == version["version"] and later["checked_at"] > version["checked_at"]

    # a reader hammering the page during the rebuild always gets a whole page
    pages: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            pages.append(_get(site_url + "status.html"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        added = _post(fleet.url + "admin/add-builds?n=1")["added"]
        build = json.loads(_get(f"{fleet.url}api/v2/builds/{added[0]}"))["builds"][0]
        link = f"#/builders/{build['builderid']}/builds/{build['number']}\""
        _wait(lambda: link in _get(site_url + "status.html"), 60, "the new build on the page")
    finally:
        stop.set()
        reader.join()
    assert current.resolve().name == "2"
    assert len(pages) > 5
    assert all(p.rstrip().endswith("</html>") and "bbwatch-cell" in p for p in pages)
    newer = json.loads(_get(site_url + "bbwatch-version.json"))
    assert newer["version"] != version["version"]
    assert f"bbwatch-version-{newer['version']}" in _get(site_url + "status.html")

    # the master goes away: one rebuild puts the banner over the last good data
    fleet.stop()
    _wait(lambda: "Live data unavailable" in _get(site_url + "status.html"), 60, "the banner")
    page = _get(site_url + "status.html")
    assert link in page  # the last good data is still shown
    assert json.loads(_get(site_url + "bbwatch-version.json"))["reachable"] is False

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert log.read_text().rstrip().endswith("stopped")
