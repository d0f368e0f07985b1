"""A warm live build is cheap: it parses no completed build's log again, the last good fetch
(kept in the store) and the data digest carry no raw logs, and an unreachable master costs one
warning only.

Real Sphinx builds of ``tests/roots/test-live`` against the scale fixture served in-process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from bbwatch.logs import regrtest
from bbwatch.source.codec import pack, unpack
from bbwatch.source.store import open_store, store_path
from bbwatch.sphinxext import live, live_store
from bbwatch.triage.rows import Analysis

from tests.fleetdata import Fleet
from tests.scalefleet import serve
from tests.test_live_sphinx import (  # noqa: F401 (an autouse fixture)
    _no_env_overrides,
    build,
    closed_port_url,
)


@pytest.fixture(scope="module")
def master() -> Iterator[Any]:
    server = serve(Fleet(builders=8, builds=8, seed=7, log_kb=4), latency=0)
    yield server
    server.stop()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every log handed to the regrtest parser."""
    calls: list[str] = []
    real = regrtest.parse_text

    def counting(text: str) -> regrtest.TestRun:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(regrtest, "parse_text", counting)
    return calls


def shown(a: Analysis) -> tuple:
    """What the live and triage pages take from the analysis, comparable across builds."""
    return (
        a.tests,
        a.parsed,
        [(p.key, p.classification, p.title, [(o.builder.name, o.latest.number, o.excerpt)
                                              for o in p.occurrences]) for p in a.problems],
        [(r.test_file, r.runs, r.flips, r.failures) for r in a.flaky],
    )


def analysis_of(app: Any) -> Analysis:
    found = live.get_analysis(app)
    assert found is not None
    return found


def test_warm_build_parses_no_completed_build_again(master, tmp_path, parses):
    app, html, warnings = build(tmp_path, master.url)
    assert warnings == ""
    cold = analysis_of(app)
    complete = {b.buildid for bl in cold.fleet.builds.values() for b in bl if b.complete}
    logged = set(cold.fleet.test_logs) & complete
    assert logged and len(parses) >= len(logged)
    parses.clear()
    app, warm_html, warnings = build(tmp_path, master.url)  # fresh env, same cache
    assert warnings == ""
    warm = analysis_of(app)
    running = [t for bid, t in warm.fleet.test_logs.items() if bid not in complete]
    assert sorted(parses) == sorted(running)  # only builds still running are parsed
    # ... and completed builds' logs are not even read: their parses stand in for them
    assert not set(warm.fleet.test_logs) & complete
    assert logged <= set(warm.fleet.log_ids) and logged <= set(warm.parsed)
    assert shown(warm) == shown(cold)
    assert warm_html["failures"].count('class="bbwatch-problem') == html["failures"].count(
        'class="bbwatch-problem')


def test_last_fleet_file_has_no_raw_logs_and_the_fallback_shows_the_same(tmp_path):
    server = serve(Fleet(builders=8, builds=8, seed=7, log_kb=4), latency=0)
    url = server.url
    try:
        app, html, _ = build(tmp_path, url)
    finally:
        server.stop()  # the same master is now down
    fresh = analysis_of(app)
    assert fresh.fleet.test_logs and fresh.problems
    store = open_store(tmp_path / "cache")
    [key] = [k for k in store.keys("live/") if k.endswith("/fleet")]
    last = store.get(key, live_store.LastFleet)
    assert last is not None and last.fleet.test_logs == {}
    # completed builds' parses are referenced in the parsed-log cache, not copied
    refs = last.parsed_refs
    assert set(refs) == set(fresh.parsed) and not last.parsed
    # no line of a log is copied in unless its parse (excerpt, tail) kept it
    saved = store._run(lambda db: db.execute(
        "SELECT value FROM entries WHERE key = ?", (key,)).fetchone()[0], b"", write=False)
    kept = b"".join(pack(p) for p in fresh.parsed.values())
    dropped = {ln.encode() for log in fresh.fleet.test_logs.values() for ln in log.splitlines()
               if len(ln) > 20 and ln.encode() not in kept}
    assert dropped and not [ln for ln in dropped if ln in saved]
    app, down_html, warnings = build(tmp_path, url)
    assert warnings.count("WARNING") == 1
    fallback = analysis_of(app)
    assert fallback.fleet.source == "cache" and fallback.fleet.test_logs == {}
    assert shown(fallback) == shown(fresh)
    assert "showing data from" in down_html["failures"]
    # a referenced parse gone from the cache: that build shows no log, the rest still shows
    lost = next(iter(refs))
    [entry] = [k for k in store.keys("parsed/") if k.endswith(f"/{lost}")]
    store.delete(entry)
    app, _html, warnings = build(tmp_path, url)
    assert warnings.count("WARNING") == 1
    partial = analysis_of(app)
    assert set(partial.parsed) == set(fresh.parsed) - {int(lost)}
    assert html["failures"].count('class="bbwatch-problem') == down_html["failures"].count(
        'class="bbwatch-problem')


def test_unchanged_data_does_not_rewrite_the_last_fleet(master, tmp_path):
    build(tmp_path, master.url)
    store = open_store(tmp_path / "cache")
    [fleet_key] = [k for k in store.keys("live/") if k.endswith("/fleet")]
    stamp_key = fleet_key.replace("/fleet", "/stamp")
    stamp = store.get(stamp_key, live_store.Stamp)
    db = sqlite3.connect(store_path(tmp_path / "cache"))
    with db:  # count what the next builds write, from another connection
        db.execute("CREATE TABLE writes (key TEXT)")
        db.execute("CREATE TRIGGER counted AFTER INSERT ON entries "
                   "BEGIN INSERT INTO writes VALUES (NEW.key); END")

    def writes() -> list[str]:
        return [k for (k,) in db.execute("SELECT key FROM writes") if k.startswith("live/")]

    build(tmp_path, master.url)
    assert writes() == [stamp_key]  # the stamp only
    again = store.get(stamp_key, live_store.Stamp)
    assert again.digest == stamp.digest and again.fetched_at > stamp.fetched_at
    value = db.execute("SELECT value FROM entries WHERE key = ?", (fleet_key,)).fetchone()[0]
    with db:  # damaged: the next build writes it whole again
        db.execute("UPDATE entries SET value = ? WHERE key = ?", (value[:100], fleet_key))
    build(tmp_path, master.url)
    assert writes().count(fleet_key) == 1
    assert store.get(fleet_key, live_store.LastFleet).digest == stamp.digest
    db.close()


def test_unreachable_master_prints_no_urllib3_retry_warnings(tmp_path, capfd, caplog):
    """Sphinx's furo theme pulls in a11y_pygments, whose import calls logging.basicConfig:
    without care, urllib3's retry warnings would print in the middle of the build output."""
    _app, _html, warnings = build(tmp_path, closed_port_url())
    out, err = capfd.readouterr()
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert warnings.count("WARNING") == 1 and "[bbwatch.live]" in warnings
    for stream in (warnings, out, err):
        assert "Retrying (Retry(" not in stream
        assert "urllib3" not in stream


def test_digest_follows_builds_and_logs_not_the_fetch_time(master, tmp_path):
    app, _html, _ = build(tmp_path, master.url)
    a = analysis_of(app)
    fleet = a.fleet
    digest = live.fleet_digest(fleet, None, a.parsed)
    assert live.fleet_digest(fleet, None) == digest  # from the raw logs: the same sha256s
    later = type(fleet)(**{**vars(fleet), "fetched_at": fleet.fetched_at + 60})
    assert live.fleet_digest(later, None, a.parsed) == digest
    buildid, log = next(iter(fleet.test_logs.items()))
    edited = type(fleet)(**{**vars(fleet), "test_logs": {**fleet.test_logs,
                                                         buildid: log + "x"}})
    assert live.fleet_digest(edited, None) != digest
    no_logs = type(fleet)(**{**vars(fleet), "test_logs": {}})
    assert live.fleet_digest(no_logs, None, a.parsed) == digest  # the fallback's view
    builds = {k: list(v) for k, v in fleet.builds.items()}
    first = next(iter(builds))
    builds[first] = builds[first][1:]  # one build fewer (e.g. one more came and pushed it out)
    fewer = type(fleet)(**{**vars(fleet), "builds": builds})
    assert live.fleet_digest(fewer, None, a.parsed) != digest
    assert live.fleet_digest(fleet, "master down", a.parsed) != digest


def test_source_build_keeps_no_test_logs_in_the_parsed_cache(master, tmp_path):
    build(tmp_path, master.url)
    store = open_store(tmp_path / "cache")
    parsed = store.keys("parsed/")
    assert parsed
    db = sqlite3.connect(store_path(tmp_path / "cache"))
    value = db.execute("SELECT value FROM entries WHERE key = ?", (parsed[0],)).fetchone()[0]
    db.close()
    assert set(unpack(value, dict)) == {"digest", "parsed", "ident"}
    assert len(value) < 64_000
