"""The parsed-test-log cache: a warm analysis parses nothing, bad entries are parsed again.

Fleets come from ``test_analysis.FleetMaker`` with real regrtest logs, so the parser path is
the production one; parse calls are counted through ``bbwatch.logs.regrtest.parse_text``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bbwatch.logs import parsed as parsed_logs
from bbwatch.logs import regrtest
from bbwatch.source import parsecache
from bbwatch.source.parsecache import ParsedLogCache, from_json, to_json
from bbwatch.triage import analysis

from tests.unit.test_analysis import FAIL, FLAKY, FULL, NOW, OK, WARN, FleetMaker


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every call to the regrtest parser, as the length of the text it was given."""
    calls: list[int] = []
    real = regrtest.parse_text

    def counting(text: str) -> regrtest.TestRun:
        calls.append(len(text))
        return real(text)

    monkeypatch.setattr(regrtest, "parse_text", counting)
    return calls


def make_fleet():
    m = FleetMaker()
    m.builder(1, "AMD64 Debian 3.x", ["3.x", "stable", "tier-1"], [OK, WARN, FAIL, FAIL])
    m.builder(2, "x86 Gentoo 3.14", ["3.14", "stable"], [OK, WARN, OK, WARN])
    return m.fleet


def picture(a: analysis.Analysis) -> tuple:
    """What the pages show, in comparable form."""
    return (
        a.tests,
        a.parsed,
        [(p.key, p.classification, [o.excerpt for o in p.occurrences]) for p in a.problems],
        [(r.test_file, r.runs, r.flips) for r in a.flaky],
    )


def test_round_trip_of_a_real_parse_is_equal() -> None:
    parsed = parsed_logs.parse_log(FULL, True)
    assert parsed.tests.failed and parsed.excerpts and parsed.outcomes and parsed.seed
    again = from_json(json.loads(json.dumps(to_json(parsed))))
    assert again == parsed


def test_warm_analysis_parses_no_completed_build(tmp_path: Path, parses: list[int]) -> None:
    fleet = make_fleet()
    logs = len(fleet.test_logs)
    cold_cache = ParsedLogCache(tmp_path)
    cold = analysis.analyse(fleet, now=NOW, parsed_cache=cold_cache)
    assert len(parses) == logs and cold_cache.misses == logs and cold_cache.hits == 0
    parses.clear()
    warm_cache = ParsedLogCache(tmp_path)  # a new build: a new process would start like this
    warm = analysis.analyse(make_fleet(), now=NOW, parsed_cache=warm_cache)
    assert parses == []
    assert warm_cache.hits == logs and warm_cache.misses == 0
    assert picture(warm) == picture(cold)
    assert picture(warm) == picture(analysis.analyse(make_fleet(), now=NOW))  # no cache at all


def test_running_builds_are_parsed_every_time(tmp_path: Path, parses: list[int]) -> None:
    fleet = make_fleet()
    running = fleet.builds[1][0]
    running.complete, running.results = False, None
    analysis.analyse(fleet, now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    parses.clear()
    analysis.analyse(fleet, now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    assert parses == [len(fleet.test_logs[running.buildid])]
    assert not ParsedLogCache(tmp_path).path_for(running.buildid).exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong-type", "other-build"])
def test_a_corrupt_entry_is_dropped_and_parsed_again(
    tmp_path: Path, parses: list[int], damage: str
) -> None:
    fleet = make_fleet()
    analysis.analyse(fleet, now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    buildid = next(iter(fleet.test_logs))
    path = ParsedLogCache(tmp_path).path_for(buildid)
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff not json")
    elif damage == "wrong-type":
        entry = json.loads(good)
        entry["parsed"]["failed"] = "test_os"  # a string where a list belongs
        path.write_text(json.dumps(entry))
    else:
        entry = json.loads(good)
        entry["buildid"] = buildid + 1000
        path.write_text(json.dumps(entry))
    parses.clear()
    cache = ParsedLogCache(tmp_path)
    result = analysis.analyse(make_fleet(), now=NOW, parsed_cache=cache)
    assert parses == [len(fleet.test_logs[buildid])]  # only the damaged one
    assert cache.dropped == 1 and cache.misses == 1
    assert json.loads(path.read_bytes()) == json.loads(good)  # rewritten whole
    assert picture(result) == picture(analysis.analyse(make_fleet(), now=NOW))


def test_another_log_under_the_same_buildid_is_parsed_not_served(
    tmp_path: Path, parses: list[int]
) -> None:
    """E.g. a master recreated at the same URL reuses buildids for other builds."""
    fleet = make_fleet()
    analysis.analyse(fleet, now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    other = make_fleet()
    buildid = next(b for b, text in other.test_logs.items() if text == FULL)
    other.test_logs[buildid] = FLAKY
    parses.clear()
    cache = ParsedLogCache(tmp_path)
    result = analysis.analyse(other, now=NOW, parsed_cache=cache)
    assert parses == [len(FLAKY)]
    assert result.parsed[buildid] == parsed_logs.parse_log(FLAKY, True)


def test_a_parser_change_invalidates_every_entry(
    tmp_path: Path, parses: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    edited = tmp_path / "regrtest.py"
    edited.write_text(Path(regrtest.__file__).read_text() + "\n# a parser fix\n")
    monkeypatch.setattr(regrtest, "__file__", str(edited))
    monkeypatch.setattr(parsecache, "VERSION", parsecache._version())
    parses.clear()
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    assert len(parses) == len(make_fleet().test_logs)


def test_an_unwritable_cache_still_gives_the_analysis(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = ParsedLogCache(blocker)
    result = analysis.analyse(make_fleet(), now=NOW, parsed_cache=cache)
    assert cache.errors and result.parsed
    assert result.tests[4].failed  # builder 1's latest build failed its tests


def test_prune_keeps_only_the_builds_still_analysed(tmp_path: Path, parses: list[int]) -> None:
    fleet = make_fleet()
    cache = ParsedLogCache(tmp_path)
    analysis.analyse(fleet, now=NOW, parsed_cache=cache)
    keep = set(list(fleet.test_logs)[:2])
    assert cache.prune(keep) == len(fleet.test_logs) - 2
    assert {int(p.stem) for p in cache.root.glob("*.json")} == keep
    parses.clear()
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    assert len(parses) == len(fleet.test_logs) - 2  # the pruned ones, parsed again


def test_a_new_parser_version_drops_the_old_versions_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    old = ParsedLogCache(tmp_path).root
    assert any(old.iterdir())
    monkeypatch.setattr(parsecache, "VERSION", "0" * 16)
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    assert not old.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["0" * 16]


def test_lookup_by_identity_needs_no_text_and_never_crosses_identities(tmp_path: Path) -> None:
    parsed = parsed_logs.parse_log(FULL, True)
    cache = ParsedLogCache(tmp_path)
    cache.idents = {7: "logs/70-8388608@1000"}
    cache.put(7, parsed)
    assert cache.lookup(7, "logs/70-8388608@1000") == parsed
    # a recreated master (other start time), another cap, another build: not ours
    assert cache.lookup(7, "logs/70-8388608@2000") is None
    assert cache.lookup(7, "logs/70-1024@1000") is None
    assert cache.lookup(8, "logs/70-8388608@1000") is None
    # an entry stored without identity is found by digest, and then upgraded for lookup
    plain = ParsedLogCache(tmp_path / "plain")
    plain.put(7, parsed)
    assert plain.lookup(7, "logs/70-8388608@1000") is None
    plain.idents = {7: "logs/70-8388608@1000"}
    assert plain.get(7, parsed.digest) == parsed
    assert ParsedLogCache(tmp_path / "plain").lookup(7, "logs/70-8388608@1000") == parsed


def test_an_identity_of_the_wrong_type_drops_the_entry(tmp_path: Path) -> None:
    cache = ParsedLogCache(tmp_path)
    cache.put(7, parsed_logs.parse_log(FULL, True))
    path = cache.path_for(7)
    entry = json.loads(path.read_text())
    entry["ident"] = ["not", "a", "string"]
    path.write_text(json.dumps(entry))
    assert cache.lookup(7, "x") is None and cache.dropped == 1 and not path.exists()


def test_the_pack_serves_lookups_in_one_read_and_only_for_the_same_identity(
    tmp_path: Path,
) -> None:
    parsed = parsed_logs.parse_log(FULL, True)
    cache = ParsedLogCache(tmp_path)
    cache.idents = {7: "logs/70-8@1", 8: "logs/80-8@2"}
    for bid in (7, 8, 9):  # 9 has no identity (a running build): never packed
        cache.put(bid, parsed)
    cache.save_pack({7: parsed, 8: parsed, 9: parsed})
    pack = cache.root / "pack.raw"
    assert pack.is_file()
    for bid in (7, 8, 9):
        cache.path_for(bid).unlink()  # the pack alone must answer
    fresh = ParsedLogCache(tmp_path)
    assert fresh.lookup(7, "logs/70-8@1") == parsed and fresh.lookup(8, "logs/80-8@2") == parsed
    assert fresh.lookup(7, "logs/70-8@999") is None and fresh.lookup(9, "anything") is None
    # the same window again: not rewritten
    stamp = pack.stat().st_mtime_ns
    fresh.idents = dict(cache.idents)
    fresh.save_pack({7: parsed, 8: parsed})
    assert pack.stat().st_mtime_ns == stamp
    fresh.idents = {7: "logs/70-8@1"}  # build 8 left the window: rewritten without it
    fresh.save_pack({7: parsed})
    assert ParsedLogCache(tmp_path).lookup(8, "logs/80-8@2") is None


def test_a_torn_pack_is_dropped_and_the_files_still_answer(tmp_path: Path) -> None:
    parsed = parsed_logs.parse_log(FULL, True)
    cache = ParsedLogCache(tmp_path)
    cache.idents = {7: "logs/70-8@1"}
    cache.put(7, parsed)
    cache.save_pack({7: parsed})
    pack = cache.root / "pack.raw"
    pack.write_bytes(pack.read_bytes()[:-40])
    fresh = ParsedLogCache(tmp_path)
    assert fresh.lookup(7, "logs/70-8@1") == parsed  # from 7.json
    assert fresh.dropped == 1 and not pack.exists()
