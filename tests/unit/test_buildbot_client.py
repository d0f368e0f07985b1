"""The client against a scripted master: JSON -> models, the immutable cache, fetch_fleet's
request budget, raw logs (tail cap, header), build()/resolve() and open_client()."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bbwatch.errors import BuildbotError
from bbwatch.models import Log, Result
from bbwatch.source.logtext import tail_text as _tail_text
from bbwatch.source.open import open_client
from bbwatch.source.sync import BuildbotClient
from bbwatch.source.urls import parse_build_url
from hypothesis import given
from hypothesis import strategies as st

from tests.fakemaster import FakeMaster
from tests.httpfake import FakeServer, Reply


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with FakeServer() as server:
        yield FakeMaster(server)


def client_for(master: FakeMaster, cache: Path | None, **kw: object) -> BuildbotClient:
    kw.setdefault("backoff_factor", 0.0)
    return BuildbotClient(master.url, cache_dir=cache, **kw)  # type: ignore[arg-type]


def test_models_from_api_json(master: FakeMaster) -> None:
    with client_for(master, None) as c:
        builders = c.builders()
        assert [b.name for b in builders] == ["AMD64 Fake1 3.x", "AMD64 Fake2 3.x"]
        assert builders[0].tags == ("3.x", "stable", "tier-1") and builders[0].branch == "3.x"
        w1, w2 = c.workers()
        assert (w1.connected, w1.builderids, w1.admin) == (True, (1, 2), "Jane <jane@example.org>")
        assert (w2.connected, w2.builderids, w2.admin) == (False, (), None)
        builds = c.builds(1, limit=2)
        assert [b.number for b in builds] == [2, 1]  # newest first
        b = builds[0]
        assert b.result is Result.FAILURE and b.complete
        assert [s.name for s in b.steps] == ["git", "compile", "test"]
        assert b.steps[2].logs[0].slug == "stdio"
        assert b.changes[0].title == f"gh-{b.buildid}: Fix things (#{b.buildid + 1})"
        assert b.revision == f"{b.buildid:040x}"  # properties flattened from [value, source]
        assert c.session.headers["Accept"] == "application/json"
        assert all(r.headers.get("Accept") == "application/json" for r in master.server.requests)


def test_test_log_strips_raw_header(master: FakeMaster) -> None:
    with client_for(master, None) as c:
        build = c.build(1, 0)
        text = c.test_log(build)
        assert text == f"test output of build {build.buildid}\n== Tests result: FAILURE ==\n"


def test_log_tail_cap_keeps_whole_last_lines(master: FakeMaster) -> None:
    lines = [f"line {i:05d}" for i in range(20000)]
    master.raw[520] = "\n".join(lines) + "\n"  # test step of build 5
    master.server.route(
        "/api/v2/logs/520/raw", Reply(body=master.raw[520].encode(), chunks=37)
    )
    with client_for(master, None) as c:
        log = Log(logid=520, name="stdio", slug="stdio", stepid=52, num_lines=20000)
        text = c.log_text(log, cap_bytes=1000)
        assert len(text.encode()) <= 1000
        assert text.endswith("line 19999\n")
        assert text.splitlines()[0].startswith("line ") and len(text.splitlines()[0]) == 10
        assert c.log_text(log, cap_bytes=10**9).startswith("line 00000\n")


@pytest.mark.parametrize("chunk", [1, 7, 100, 4096])
def test_tail_text_any_chunking(chunk: int) -> None:
    data = ("Builder: x\nBuild number: 1\nWorker name: w\n" + "é-line\n" * 300).encode()
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    assert _tail_text(pieces, 10**6) == "é-line\n" * 300  # header gone, nothing lost
    tail = _tail_text(pieces, 50)
    assert tail and set(tail.splitlines()) == {"é-line"} and len(tail.encode()) <= 50


def test_second_fetch_is_three_requests_and_reads_the_cache(
    master: FakeMaster, tmp_path: Path
) -> None:
    with client_for(master, tmp_path) as c:
        first = c.fetch_fleet(history=10)
    assert first.errors == [] and sum(len(v) for v in first.builds.values()) == 6
    assert len(first.test_logs) == 6  # all failed
    master.server.reset_log()
    with client_for(master, tmp_path) as c:  # a new process would see the same
        second = c.fetch_fleet(history=10)
        assert c.requests_made == 3
    paths = sorted(r.path for r in master.server.requests)
    assert paths == ["/api/v2/builders", "/api/v2/builds", "/api/v2/workers"]
    assert second.builds == first.builds and second.test_logs == first.test_logs


def test_in_memory_cache_without_a_directory(master: FakeMaster) -> None:
    with client_for(master, None) as c:
        c.fetch_fleet()
        before = c.requests_made
        c.fetch_fleet()
        assert c.requests_made - before == 3


def test_new_and_running_builds_cost_a_few_requests_each(
    master: FakeMaster, tmp_path: Path
) -> None:
    with client_for(master, tmp_path) as c:
        c.fetch_fleet(history=3)
    running = master.add_build(1, complete=False)
    master.add_build(2, results=0)
    master.sync()
    with client_for(master, tmp_path) as c:
        data = c.fetch_fleet(history=3)
        # 3 + per new build: its steps, the test step's log list (green steps' logs are never
        # read, so never listed), its changes; no test log (the new complete build succeeded,
        # the running one has no result yet).
        per_build = 1 + 1 + 1
        assert c.requests_made == 3 + 2 * per_build
    assert [b.number for b in data.builds[1]] == [3, 2, 1]  # history trims the oldest
    assert data.builds[1][0].complete is False
    # The running build is asked for again until it completes, then cached for good.
    master.finish(running["buildid"], results=2)
    with client_for(master, tmp_path) as c:
        data = c.fetch_fleet(history=3)
        assert c.requests_made == 3 + per_build + 1  # + its (failed) test log
        assert data.builds[1][0].result is Result.FAILURE
    with client_for(master, tmp_path) as c:
        c.fetch_fleet(history=3)
        assert c.requests_made == 3


def test_more_history_than_cached_refetches_lists(master: FakeMaster, tmp_path: Path) -> None:
    with client_for(master, tmp_path) as c:
        c.fetch_fleet(history=1)
    with client_for(master, tmp_path) as c:
        data = c.fetch_fleet(history=3)
        assert [b.number for b in data.builds[2]] == [2, 1, 0]
        # lists per builder + details of the 4 builds not cached yet + their test logs
        assert c.requests_made > 3


def test_branches_filter(master: FakeMaster) -> None:
    master.builders[1]["tags"] = ["3.13", "stable"]
    master.sync()
    with client_for(master, None) as c:
        data = c.fetch_fleet(branches=["3.13"])
    assert list(data.builds) == [2]
    assert len(data.builders) == 2  # the page still knows every builder


def test_build_by_name_and_resolve(master: FakeMaster, tmp_path: Path) -> None:
    with client_for(master, tmp_path) as c:
        by_name = c.build("AMD64 Fake2 3.x", 1)
        assert (by_name.builderid, by_name.number) == (2, 1)
        ref = parse_build_url(f"{master.url}#/builders/2/builds/1/steps/test/logs/stdio")
        builder, build = c.resolve(ref)
        assert builder.name == "AMD64 Fake2 3.x" and build.buildid == by_name.buildid
        old = parse_build_url(f"{master.url}builders/AMD64%20Fake2%203.x/builds/1")
        assert c.resolve(old)[1].buildid == by_name.buildid
        before = c.requests_made
        c.build(2, 1)  # complete: from the cache
        assert c.requests_made == before
        with pytest.raises(BuildbotError, match="no such builder"):
            c.build("nope", 1)
        with pytest.raises(BuildbotError, match="builds/99"):
            c.build(2, 99)


def test_open_client(master: FakeMaster, tmp_path: Path) -> None:
    c = open_client(master.url.upper().replace("HTTP://", "http://"), timeout=3)
    assert isinstance(c, BuildbotClient) and c.base_url == master.url
    c.close()
    with pytest.raises(ValueError, match="unknown source"):
        open_client("ftp://x")
    with pytest.raises(BuildbotError, match="not a bbwatch snapshot"):
        open_client(f"snapshot:{tmp_path}")


def test_find_builds_passes_buildbot_filters(master: FakeMaster) -> None:
    with client_for(master, None) as c:
        found = c.find_builds(buildid__gt=3, order="-buildid", limit=2, fields=["results"])
        assert [b.buildid for b in found] == [6, 5]
        assert all(b.steps == () for b in found)  # cheap: no per-build requests
        assert c.requests_made == 1
        c.find_builds(complete=True, builderid__in=[1, 2], order=["-complete_at"], limit=None)
    query = master.server.requests[-1].query
    assert "complete=true" in query and query.count("builderid__in=") == 2
    assert "order=-complete_at" in query and "limit" not in query and "property=%2A" in query


@pytest.mark.parametrize(
    "kw", [{"timeout": 0}, {"timeout": -1}, {"retries": -1}, {"log_cap_bytes": 0}]
)
def test_bad_client_settings(kw: dict) -> None:
    with pytest.raises(ValueError, match="must be"):
        BuildbotClient("http://127.0.0.1:1/", **kw)


@given(
    st.lists(st.text(alphabet="ab é\u20ac", max_size=30), max_size=60),
    st.integers(min_value=1, max_value=400),
    st.integers(min_value=1, max_value=50),
)
def test_tail_text_is_the_longest_whole_line_suffix(lines: list[str], cap: int, chunk: int) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    tail = _tail_text((data[i : i + chunk] for i in range(0, len(data), chunk)), cap)
    if len(data) <= cap:
        assert tail == data.decode()
        return
    assert len(tail.encode()) <= cap
    assert data.decode().endswith(tail)
    kept = tail.count("\n")
    # The longest suffix of whole lines that fits: one more line would not.
    longer = "".join(line + "\n" for line in lines[len(lines) - kept - 1 :])
    assert len(longer.encode()) > cap


@pytest.mark.parametrize("builds_after", [1, 5])
def test_a_recreated_master_at_the_same_url_is_not_served_from_the_cache(
    tmp_path: Path, builds_after: int
) -> None:
    """A fresh master restarts buildids at 1: cached builds under those ids are someone else's."""
    with FakeServer() as server:
        FakeMaster(server, builders=2, builds=3)
        with BuildbotClient(server.url, cache_dir=tmp_path) as c:
            old = c.fetch_fleet()
        fresh = FakeMaster(server, builders=2, builds=0)
        for _ in range(builds_after):  # interleaved differently: same ids, other builds
            fresh.add_build(2, results=0)
            fresh.add_build(1, results=0)
        fresh.sync()
        with BuildbotClient(server.url, cache_dir=tmp_path) as c:
            new = c.fetch_fleet()
        assert new.builds != old.builds
        # The old master's entries are gone from disk, the new ones under the next epoch.
        with BuildbotClient(server.url, cache_dir=tmp_path) as c:
            cached = {k.split("/")[0] for k in c.cache.keys()}
        assert cached == {"epoch", "fleet-index", "e1"}
        assert {p.name.partition("-")[0] for p in tmp_path.iterdir()} == {"bbwatch.sqlite3"}
        for bid, builds in new.builds.items():
            assert [b.number for b in builds] == list(range(builds_after - 1, -1, -1))
            assert all(b.result is Result.SUCCESS for b in builds)
            assert all(b.builderid == bid for b in builds)
        with BuildbotClient(server.url, cache_dir=tmp_path) as c:
            assert c.fetch_fleet().builds == new.builds
            assert c.requests_made == 3
            assert c.build(1, 0).buildid == fresh.builds[1]["buildid"]  # from the new epoch
