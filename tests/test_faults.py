"""Fault suite: real site builds (``sphinx-build`` processes) against a misbehaving master.

The master is ``tests/scalefleet.py`` in its own process with ``--fault`` switches; the site is
``tests/roots/test-faults`` (every live directive). For each fault: the build finishes, the
pages say what is missing, every cache file still parses, and no traceback is printed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from bbwatch.source.codec import unpack
from bbwatch.source.store import store_path

from tests.conftest import REPO

ROOT = REPO / "tests" / "roots" / "test-faults"
SERVER = ("-m", "tests.scalefleet")  # run from the repo root
FLEET = ("--builders", "4", "--builds", "6", "--latency-ms", "0", "--log-kb", "8", "--seed", "5")
GOOD_BUILDER = "AMD64 Debian root 3.x"  # builder 1 of the generated fleet
LIVE_RETRIES = 1  # the live pages' client: open_client(..., retries=1) in sphinxext/live.py
# Runs sphinx in-process and reports its peak memory, so the 500 MB log case can bound it.
RUN_SPHINX = (
    "import resource, sys\n"
    "from sphinx.cmd.build import main\n"
    "rc = main(sys.argv[1:])\n"
    "kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(f'MAXRSS_KB={kb}', file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


class Master:
    """The scale fixture as a child process; ``kill()`` it to play a crashed master."""

    def __init__(self, *faults: str) -> None:
        args = [arg for fault in faults for arg in ("--fault", fault)]
        self.proc = subprocess.Popen([sys.executable, *SERVER, *FLEET, "--port", "0", *args],
                                     stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), "the fixture server did not start"

    def stats(self) -> dict:
        return requests.get(self.url + "admin/stats", timeout=10).json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


@pytest.fixture
def master(request: pytest.FixtureRequest) -> Iterator[Master]:
    """A fixture master; ``@faults("spec", ...)`` on a test makes it misbehave."""
    server = Master(*getattr(request, "param", ()))
    yield server
    server.stop()


def faults(*specs: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("master", [specs], indirect=True, ids=[specs[0].split(",")[0]])


@dataclass
class Build:
    returncode: int
    output: str
    outdir: Path
    cache: Path
    seconds: float
    maxrss_kb: int

    def page(self, name: str) -> str:
        return (self.outdir / f"{name}.html").read_text(encoding="utf-8")

    @property
    def pages(self) -> str:
        return "".join(self.page(n) for n in ("status", "failures", "flaky"))


def start_build(url: str, tmp: Path, name: str = "html",
                cache: Path | None = None) -> tuple[subprocess.Popen, Path, Path]:
    outdir, cache = tmp / name, cache or tmp / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BBWATCH_")}
    env.pop("GITHUB_TOKEN", None)
    env["BBWATCH_BUILDBOT_URL"] = url
    cmd = [sys.executable, "-c", RUN_SPHINX, "-b", "html", "-q", "--keep-going", "-E",
           "-D", f"bbwatch_cache_dir={cache}", str(ROOT), str(outdir)]
    proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return proc, outdir, cache


def finish(proc: subprocess.Popen, outdir: Path, cache: Path, started: float) -> Build:
    out, _ = proc.communicate(timeout=120)
    found = re.search(r"MAXRSS_KB=(\d+)", out)
    return Build(proc.returncode, out, outdir, cache, time.monotonic() - started,
                 int(found.group(1)) if found else 0)


def build(url: str, tmp: Path, **kw: object) -> Build:
    started = time.monotonic()
    return finish(*start_build(url, tmp, **kw), started)  # type: ignore[arg-type]


def assert_sane(result: Build) -> None:
    """What every fault case must leave behind: a finished build, no traceback, a clean cache."""
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output
    for name in ("status", "failures", "flaky"):
        assert (result.outdir / f"{name}.html").is_file()
    assert_cache_parses(result.cache)


def assert_cache_parses(cache: Path) -> None:
    """No temp file left; the store is a sound database whose every value passes its checksum
    and decodes."""
    files = [p for p in cache.rglob("*") if p.is_file()]
    for path in files:
        assert not path.name.endswith(".tmp"), f"leftover temp file {path}"
    if not store_path(cache).is_file():
        return
    db = sqlite3.connect(store_path(cache))
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for key, value, crc in db.execute("SELECT key, value, crc FROM entries"):
            assert zlib.crc32(value, zlib.crc32(key.encode())) == crc, key
            unpack(value, Any)  # raises if a value is not MessagePack
    finally:
        db.close()


def store_rows(cache: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(store_path(cache))
    with db:
        rows = db.execute(sql, args).fetchall()
    db.close()
    return rows


def unavailable(result: Build) -> str:
    """The "Live data unavailable: <reason>" sentence of the status page (HTML-unescaped)."""
    found = re.search(r"Live data unavailable: (.*?)</p>", result.page("status"), re.S)
    assert found, "the status page does not say live data is unavailable"
    return found.group(1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------- the cases


def test_healthy_master_gives_full_pages(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert GOOD_BUILDER in result.page("status")
    assert "Live data unavailable" not in result.pages
    assert store_rows(tmp_path / "cache", "SELECT key FROM entries WHERE key LIKE 'client/%'")


def test_master_stopped(tmp_path: Path) -> None:
    result = build(f"http://127.0.0.1:{closed_port()}/", tmp_path)
    assert_sane(result)
    reason = unavailable(result)
    assert "127.0.0.1" in reason and "no earlier data" in reason
    assert "WARNING" in result.output and "Live data unavailable" in result.output


def test_master_stopped_after_a_good_build_shows_the_last_data(tmp_path: Path) -> None:
    server = Master()
    try:
        assert_sane(build(server.url, tmp_path, name="first"))
    finally:
        server.stop()
    result = build(server.url, tmp_path, name="second")  # same port, nobody listening now
    assert_sane(result)
    assert "showing data from" in unavailable(result)
    assert GOOD_BUILDER in result.page("status")


@faults("kill,path=/steps/,value=8")
def test_master_killed_in_the_middle_of_a_fetch(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert master.proc.wait(timeout=5) == -signal.SIGKILL  # it really died mid-fetch
    assert_sane(result)
    # Builders and workers came through before the crash, the rest did not: say so.
    pages = result.pages
    assert "Live data unavailable" in pages or "cannot fetch" in pages


@faults("slow,value=4")
def test_slow_master_times_out(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert "no response within 1.5s" in unavailable(result)  # bbwatch_timeout in the root
    # Each try was cut off at the timeout (not the 4 s the master takes), retried once, then
    # given up on: builders asked 1 + retries times, nothing else asked but workers (fetched
    # alongside it), and nothing more than that.
    asked = master.stats()["paths"]
    assert asked.get("/api/v2/builders") == 1 + LIVE_RETRIES, asked
    assert set(asked) <= {"/api/v2/builders", "/api/v2/workers"}, asked
    assert all(n <= 1 + LIVE_RETRIES for n in asked.values()), asked


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_on_every_request(status: int, tmp_path: Path) -> None:
    server = Master(f"status,value={status}")
    try:
        result = build(server.url, tmp_path)
    finally:
        server.stop()
    assert_sane(result)
    assert f"HTTP {status}" in unavailable(result)


@faults("status,path=/changes,value=503")
def test_server_errors_on_some_requests_are_listed(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert GOOD_BUILDER in result.page("status")  # what could be fetched is shown...
    assert "HTTP 503" in result.page("status")  # ...and what could not is named


@faults("429,path=/api/v2/builders$,value=1,times=1")
def test_429_retry_after_is_honoured(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert "Live data unavailable" not in result.pages
    assert GOOD_BUILDER in result.page("status")
    assert master.stats()["paths"]["/api/v2/builders"] == 2  # refused once, then served
    assert result.seconds >= 1  # waited Retry-After: 1


@faults("drop,path=/changes$")
def test_connection_dropped_without_an_answer(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert GOOD_BUILDER in result.page("status")
    assert "/changes" in result.page("status")  # the builds whose changes are missing are named


@faults("truncated,path=/api/v2/workers")
def test_truncated_json(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert "malformed JSON" in unavailable(result)


@faults("invalid-json,path=/steps$")
def test_invalid_json_on_some_builds(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert "malformed JSON" in result.page("status")
    assert GOOD_BUILDER in result.page("status")


@faults(r"status,path=/logs/\d+/raw,value=404")
def test_log_that_404s(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert "HTTP 404" in result.page("status")
    assert master.stats()["routes"].get("raw", 0) >= 1


@faults(r"huge-log,path=/logs/\d+/raw,value=500,times=1")
def test_500_mb_log_keeps_memory_bounded(master: Master, tmp_path: Path) -> None:
    result = build(master.url, tmp_path)
    assert_sane(result)
    assert "Live data unavailable" not in result.pages
    # ~70 MB for this site normally, ~125 MB with the 8 MB tail of a 500 MB log
    assert 0 < result.maxrss_kb < 200_000, f"sphinx-build peaked at {result.maxrss_kb} kB"
    [(biggest,)] = store_rows(result.cache, "SELECT max(length(value)) FROM entries")
    assert biggest < 20_000_000  # the tail cap, not 500 MB, went into the cache


def test_cache_file_truncated_on_disk(master: Master, tmp_path: Path) -> None:
    assert_sane(build(master.url, tmp_path, name="first"))
    # What a site build reads: builds, the fleet index, parsed logs, the last good fleet. (The
    # client also keeps numbers/<builder>/<n> for `bbwatch parse URL` and the logs whose parse
    # is cached: a warm site build reads neither.)
    cache = tmp_path / "cache"
    rows = store_rows(cache, "SELECT key, value FROM entries WHERE key NOT LIKE '%/numbers/%'"
                      " AND key NOT LIKE '%/logs/%' ORDER BY key")
    assert len(rows) > 5
    for key, value in rows[::2]:  # cut in half, as by a bit flip or a hand edit: crc unchanged
        store_rows(cache, "UPDATE entries SET value = ? WHERE key = ?", value[: len(value) // 2],
                   key)
    before = master.stats()["total"]
    result = build(master.url, tmp_path, name="second")
    assert_sane(result)  # corrupt entries were dropped and refetched, not trusted
    assert "Live data unavailable" not in result.pages
    assert GOOD_BUILDER in result.page("status")
    assert master.stats()["total"] > before + 3  # it had to refetch what was lost


def test_two_builds_at_once_on_one_cache(master: Master, tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    started = time.monotonic()
    procs = [start_build(master.url, tmp_path, name=f"html{i}", cache=cache) for i in (1, 2)]
    results = [finish(*p, started) for p in procs]
    for result in results:
        assert_sane(result)
        assert GOOD_BUILDER in result.page("status")
        assert "Live data unavailable" not in result.pages
    # and a third build on that cache is a warm one: it trusts what the two wrote
    before = master.stats()["total"]
    assert_sane(build(master.url, tmp_path, name="html3", cache=cache))
    assert master.stats()["total"] - before <= 3


# ---------------------------------------------------------------------- the same through the CLI


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("status,value=500", "HTTP 500"), ("invalid-json,path=/builds", "malformed JSON"),
     ("slow,value=4", "no response within 1"), ("kill,value=1", "cannot"),
     (r"status,path=/logs/\d+/raw,value=404", "HTTP 404")],
    ids=["500", "invalid-json", "slow", "killed", "log-404"])
def test_cli_says_what_failed_in_one_line(fault: str, expected: str, tmp_path: Path) -> None:
    """`bbwatch match <build URL>` against a faulty master: one clear line, no traceback, and
    whatever it cached still parses."""
    (tmp_path / "issues.json").write_text("[]")
    server = Master(fault)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bbwatch", "match", f"{server.url}#/builders/1/builds/5",
             "--issues", "issues.json", "--timeout", "1", "--cache-dir", str(tmp_path / "cache")],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith(("BBWATCH_", "GITHUB"))})
    finally:
        server.stop()
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and expected in errors[0], done.stderr
    assert_cache_parses(tmp_path / "cache")
