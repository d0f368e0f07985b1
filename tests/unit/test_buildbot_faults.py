"""Faults: every misbehaviour of a master gives a retry or one clear BuildbotError line,
never a hang or a traceback (5xx, 429 + Retry-After, slow, truncated, malformed, 404, down)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from bbwatch.errors import BuildbotError
from bbwatch.models import Log
from bbwatch.source.sync import BuildbotClient

from tests.fakemaster import FakeMaster
from tests.httpfake import FakeServer, Reply, Request

BUILDERS = "/api/v2/builders"
OK = Reply.json({"builders": [{"builderid": 1, "name": "b", "tags": []}], "meta": {}})


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every ``time.sleep`` the client asks for (backoff, Retry-After), counted, not timed:
    these tests assert how long it chose to wait, never the wall clock."""
    asked: list[float] = []
    real = time.sleep
    me = threading.current_thread()  # the client's thread, not the fake server's

    def recording(seconds: float) -> None:
        if threading.current_thread() is me:
            asked.append(seconds)
        real(seconds)

    monkeypatch.setattr(time, "sleep", recording)
    return asked


def client(srv: FakeServer, **kw: object) -> BuildbotClient:
    kw.setdefault("backoff_factor", 0.0)
    kw.setdefault("timeout", 2.0)
    return BuildbotClient(srv.url, **kw)  # type: ignore[arg-type]


def one_line_error(exc: pytest.ExceptionInfo[BuildbotError], url: str) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    assert url in text
    return text


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_transient_errors_are_retried(server: FakeServer, status: int) -> None:
    server.route(BUILDERS, Reply(status=status), Reply(status=status), OK)
    with client(server, retries=3) as c:
        assert [b.name for b in c.builders()] == ["b"]
        assert c.requests_made == 3 == server.count(BUILDERS)


def test_retry_after_is_honoured(server: FakeServer) -> None:
    server.route(BUILDERS, Reply(status=429, headers={"Retry-After": "1"}), OK)
    with client(server) as c:
        start = time.monotonic()
        c.builders()
        assert time.monotonic() - start >= 0.9
        assert server.count(BUILDERS) == 2


def test_a_huge_retry_after_is_capped(server: FakeServer, sleeps: list[float]) -> None:
    server.route(BUILDERS, Reply(status=503, headers={"Retry-After": "3600"}), OK)
    with client(server, max_retry_after=0.1) as c:
        c.builders()
    assert server.count(BUILDERS) == 2
    assert sleeps and max(sleeps) <= 0.1  # the 3600 s asked for became the cap


def test_persistent_500_gives_up_with_one_line(server: FakeServer) -> None:
    server.route(BUILDERS, Reply.json({"error": "internal\nboom"}, status=500))
    with client(server, retries=2) as c, pytest.raises(BuildbotError) as exc:
        c.builders()
    text = one_line_error(exc, f"{server.url}api/v2/builders")
    assert "HTTP 500" in text and "internal boom" in text and "after 2 retries" in text
    assert server.count(BUILDERS) == 3


def test_404_is_not_retried(server: FakeServer) -> None:
    with client(server) as c, pytest.raises(BuildbotError) as exc:
        c.builders()  # unrouted: the fake answers like Buildbot, 404 {"error": ...}
    assert "HTTP 404" in one_line_error(exc, server.url)
    assert server.count(BUILDERS) == 1


def test_slow_response_times_out(server: FakeServer) -> None:
    server.route(BUILDERS, Reply(delay=1.5, body=b"{}"))
    with client(server, timeout=0.3, retries=1) as c, pytest.raises(BuildbotError) as exc:
        c.builders()
    assert "no response within 0.3s" in one_line_error(exc, server.url)
    assert server.count(BUILDERS) == 2  # read timeouts on GET are retried


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(body=b'{"builders": [{"builderid": 1, "na'), "malformed JSON"),
        (Reply(body=b"<html>Bad gateway</html>"), "malformed JSON"),
        (Reply.json({"error": "nope"}), "no 'builders' list"),
        (Reply.json({"builders": [{"name": "no id"}]}), "unexpected builder data"),
        (Reply.json({"builders": "x"}), "no 'builders' list"),
    ],
)
def test_bad_bodies(server: FakeServer, reply: Reply, message: str) -> None:
    server.route(BUILDERS, reply)
    with client(server) as c, pytest.raises(BuildbotError, match=message) as exc:
        c.builders()
    one_line_error(exc, server.url)


def test_connection_closed_mid_body(server: FakeServer) -> None:
    server.route(BUILDERS, Reply(body=b'{"builders": []}' + b" " * 5000, truncate=20))
    with client(server) as c, pytest.raises(BuildbotError) as exc:
        c.builders()
    assert "connection closed mid-response" in one_line_error(exc, server.url)


def test_connection_dropped_without_reply_is_retried_then_fails(server: FakeServer) -> None:
    server.route(BUILDERS, Reply(drop=True))
    with client(server, retries=2) as c, pytest.raises(BuildbotError) as exc:
        c.builders()
    one_line_error(exc, server.url)
    assert server.count(BUILDERS) == 3


def test_master_down(sleeps: list[float]) -> None:
    srv = FakeServer()
    url = srv.url
    srv.stop()
    with BuildbotClient(url, timeout=1, retries=1, backoff_factor=0) as c:
        with pytest.raises(BuildbotError) as exc:
            c.fetch_fleet()
    assert sum(sleeps) == 0  # refused at once: no backoff wait, no timeout wait
    assert "connection refused" in one_line_error(exc, url)


def test_log_404_and_slow_log_stream(server: FakeServer) -> None:
    log = Log(logid=7, name="stdio", slug="stdio", stepid=1, num_lines=1)
    with client(server) as c, pytest.raises(BuildbotError) as exc:
        c.log_text(log)
    assert "HTTP 404" in one_line_error(exc, "/api/v2/logs/7/raw")
    server.route("/api/v2/logs/7/raw", Reply(body=b"x\n" * 1000, chunks=4, stream_delay=1.0))
    with client(server, timeout=0.3, retries=0) as c, pytest.raises(BuildbotError) as exc:
        c.log_text(log)
    one_line_error(exc, "/api/v2/logs/7/raw")


def test_per_item_failures_go_to_errors(server: FakeServer) -> None:
    master = FakeMaster(server)
    # Build 2's steps: the master dies mid-body; build 4's test log is gone (404).
    server.route("/api/v2/builds/2/steps", Reply(body=b'{"steps": [' + b" " * 900, truncate=30))
    server.route("/api/v2/logs/420/raw", Reply.json({"error": "not found"}, status=404))
    with client(server, retries=0) as c:
        data = c.fetch_fleet()
    assert len(data.errors) == 2
    assert any("builds/2/steps" in e and "closed mid-response" in e for e in data.errors)
    assert any("logs/420/raw" in e and "HTTP 404" in e for e in data.errors)
    assert all("\n" not in e for e in data.errors)
    ids = {b.buildid for bl in data.builds.values() for b in bl}
    assert ids == {1, 3, 4, 5, 6}  # build 2 is missing, everything else is there
    assert 4 not in data.test_logs and 5 in data.test_logs
    # Once the master recovers, the next fetch fills in exactly what was missing.
    master.sync()
    with client(server) as c:
        again = c.fetch_fleet()
    assert again.errors == [] and 2 in {b.buildid for b in again.builds[1]}


def test_master_killed_between_requests(server: FakeServer) -> None:
    FakeMaster(server)
    server.route("/api/v2/workers", Reply(drop=True))
    with client(server, retries=1) as c, pytest.raises(BuildbotError) as exc:
        c.fetch_fleet()
    one_line_error(exc, "/api/v2/workers")


def test_master_killed_mid_fetch(server: FakeServer, sleeps: list[float]) -> None:
    master = FakeMaster(server, builders=4, builds=5)
    calls = {"n": 0}
    dead = threading.Event()

    def kill() -> None:
        server.kill()
        dead.set()

    def die_on_third(req: Request) -> bytes:
        calls["n"] += 1
        n = calls["n"]
        if n >= 3:  # from the third on, no answer gets out: the master dies first
            if n == 3:
                threading.Thread(target=kill, daemon=True).start()
            dead.wait(10)
        return f'{{"steps": [], "meta": {{}}, "n": {n}}}'.encode()

    for build in master.builds:
        server.route(f"/api/v2/builds/{build['buildid']}/steps", Reply(body=die_on_third))
    with client(server, retries=3, backoff_factor=0.2) as c, pytest.raises(BuildbotError) as exc:
        c.fetch_fleet()
    assert sum(sleeps) < 5  # a few backoffs, not a wait per remaining build
    text = str(exc.value)
    assert "\n" not in text and "master went away during the fetch" in text
    assert "connection refused" in text


def test_huge_error_page_is_not_read_whole(server: FakeServer) -> None:
    server.route("/api/v2/logs/7/raw", Reply(status=404, body=b"<p>gone</p>" * 200_000))
    log = Log(logid=7, name="stdio", slug="stdio", stepid=1, num_lines=1)
    with client(server) as c, pytest.raises(BuildbotError) as exc:
        c.log_text(log)
    text = one_line_error(exc, "/api/v2/logs/7/raw")
    assert "HTTP 404" in text and "gone" not in text and len(text) < 200
