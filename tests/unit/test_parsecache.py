"""The parsed-test-log cache: a warm analysis parses nothing, bad entries are parsed again.

Fleets come from ``test_analysis.FleetMaker`` with real regrtest logs, so the parser path is
the production one; parse calls are counted through ``bbwatch.logs.regrtest.parse_text``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bbwatch.logs import parsed as parsed_logs
from bbwatch.logs import regrtest
from bbwatch.source import parsecache
from bbwatch.source.codec import pack, unpack
from bbwatch.source.parsecache import Entry
from bbwatch.source.store import open_store
from bbwatch.triage import analysis

from tests.unit.test_analysis import FAIL, FLAKY, FULL, NOW, OK, WARN, FleetMaker
from tests.unit.test_store import read_row, selects, write_row


def ParsedLogCache(cache_dir: Path) -> parsecache.ParsedLogCache:  # noqa: N802
    """The parsed logs of one source in the store of ``cache_dir``, as a new process opens it."""
    return parsecache.ParsedLogCache(open_store(cache_dir), "src")


def key_of(cache: parsecache.ParsedLogCache, buildid: int) -> str:
    return f"{cache.space.prefix}{buildid}"


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
    assert unpack(pack(parsed), parsed_logs.ParsedLog) == parsed


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
    assert running.buildid not in ParsedLogCache(tmp_path).stored()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong-type", "other-build"])
def test_a_corrupt_entry_is_dropped_and_parsed_again(
    tmp_path: Path, parses: list[int], damage: str
) -> None:
    fleet = make_fleet()
    analysis.analyse(fleet, now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    buildid = next(iter(fleet.test_logs))
    key = key_of(ParsedLogCache(tmp_path), buildid)
    good, crc = read_row(tmp_path, key)
    if damage == "truncate":
        write_row(tmp_path, key, good[: len(good) // 2], crc)
    elif damage == "garbage":
        write_row(tmp_path, key, b"\x00\xff not msgpack", crc)
    elif damage == "wrong-type":  # a string where a set belongs, with a right checksum
        entry = unpack(good, dict)
        entry["parsed"]["tests"]["failed"] = "test_os"
        write_row(tmp_path, key, pack(entry))
    else:  # another build's entry under this one's key
        other = next(b for b in fleet.test_logs if b != buildid)
        write_row(tmp_path, key, *read_row(tmp_path, key_of(ParsedLogCache(tmp_path), other)))
    parses.clear()
    cache = ParsedLogCache(tmp_path)
    result = analysis.analyse(make_fleet(), now=NOW, parsed_cache=cache)
    assert parses == [len(fleet.test_logs[buildid])]  # only the damaged one
    assert cache.dropped == 1 and cache.misses == 1
    assert unpack(read_row(tmp_path, key)[0], Entry) == unpack(good, Entry)  # rewritten whole
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
    monkeypatch.setattr(parsecache, "PARSER_VERSION", parsecache.PARSER_VERSION + 1)
    parses.clear()
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    assert len(parses) == len(make_fleet().test_logs)


def test_a_comment_in_the_parser_keeps_every_entry(tmp_path: Path, parses: list[int]) -> None:
    """The version is a number the developer bumps (the golden test says when), not a hash
    of the parser's source: editing a comment no longer empties the cache."""
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    parses.clear()
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    assert parses == [] and not hasattr(parsecache, "_version")


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
    assert ParsedLogCache(tmp_path).stored() == keep
    parses.clear()
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    assert len(parses) == len(fleet.test_logs) - 2  # the pruned ones, parsed again


def test_a_new_parser_version_drops_the_old_versions_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    old = open_store(tmp_path).keys("parsed/")
    version = parsecache.PARSER_VERSION
    assert old and all(k.startswith(f"parsed/v{version}/src/") for k in old)
    monkeypatch.setattr(parsecache, "PARSER_VERSION", version + 1)
    analysis.analyse(make_fleet(), now=NOW, parsed_cache=ParsedLogCache(tmp_path))
    new = open_store(tmp_path).keys("parsed/")
    assert len(new) == len(old) and all(k.startswith(f"parsed/v{version + 1}/src/")
                                        for k in new)


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
    parsed = parsed_logs.parse_log(FULL, True)
    cache.put(7, parsed)
    bad = {"digest": parsed.digest, "parsed": unpack(pack(parsed), dict), "ident": ["a", "b"]}
    write_row(tmp_path, key_of(cache, 7), pack(bad))
    fresh = ParsedLogCache(tmp_path)
    assert fresh.lookup(7, "x") is None and fresh.dropped == 1 and 7 not in fresh.stored()


def test_the_window_is_read_in_one_query_and_only_for_the_same_identity(
    tmp_path: Path,
) -> None:
    parsed = parsed_logs.parse_log(FULL, True)
    cache = ParsedLogCache(tmp_path)
    cache.idents = {7: "logs/70-8@1", 8: "logs/80-8@2"}
    for bid in (7, 8, 9):  # 9 has no identity (a running build's parse, kept by digest only)
        cache.put(bid, parsed)
    fresh = ParsedLogCache(tmp_path)
    sql = selects(fresh.store)
    assert fresh.lookup(7, "logs/70-8@1") == parsed and fresh.lookup(8, "logs/80-8@2") == parsed
    assert fresh.lookup(7, "logs/70-8@999") is None and fresh.lookup(9, "anything") is None
    assert fresh.get(9, parsed.digest) == parsed
    assert len([s for s in sql if s.startswith("SELECT group_concat")]) == 1
    assert fresh.hits == 3 and fresh.misses == 2
