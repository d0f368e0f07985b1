"""The snapshot recorded from the real local fleet (tests/fixtures/snapshot/, see its README):
it must hold what the live pages and the analysis rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from bbwatch.models import Result
from bbwatch.source.snapshot import SnapshotSource

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "snapshot"


@pytest.fixture(scope="module")
def recorded() -> SnapshotSource:
    if not (RECORDED / "snapshot.json").exists():
        pytest.fail(f"no recorded snapshot in {RECORDED}: see its README.md to record one")
    return SnapshotSource(RECORDED)


def test_recorded_fleet_looks_like_cpython(recorded: SnapshotSource) -> None:
    assert recorded.data.errors == []  # recorded with nothing missing
    builders = recorded.builders()
    assert 14 <= len(builders) <= 20
    assert {b.branch for b in builders} >= {"3.x", "PullRequest"}
    assert any(not w.connected for w in recorded.workers())
    data = recorded.fetch_fleet()
    results = {b.result for bl in data.builds.values() for b in bl}
    assert {Result.SUCCESS, Result.WARNINGS, Result.FAILURE} <= results
    steps = {s.name for bl in data.builds.values() for b in bl for s in b.steps}
    assert {"git", "configure", "compile", "test"} <= steps
    assert any(len(b.changes) > 1 for bl in data.builds.values() for b in bl)


def test_recorded_test_logs_hold_the_regrtest_summary(recorded: SnapshotSource) -> None:
    data = recorded.fetch_fleet()
    assert data.test_logs
    for buildid, text in data.test_logs.items():
        assert not text.startswith("Builder: "), buildid  # Buildbot's raw header is stripped
    assert any("Tests result:" in text for text in data.test_logs.values())


def test_recorded_matches_the_fleet_manifest(recorded: SnapshotSource) -> None:
    """Re-record (see the README) whenever bbwatch_fleet.scenarios changes."""
    from bbwatch_fleet import scenarios as sc

    data = recorded.fetch_fleet()
    by_name = {b.name: b for b in recorded.builders()}
    assert set(by_name) == {b.name for b in sc.BUILDERS}
    workers = {w.name: w.connected for w in recorded.workers()}
    assert workers == {w.name: w.started for w in sc.WORKERS}
    for spec in sc.BUILDERS:
        builds = data.builds[by_name[spec.name].builderid]
        got = [b.result.word if b.result is not None else None for b in reversed(builds)]
        assert got == list(spec.results), spec.name
    for s in sc.SCENARIOS:
        if s.step == "test" and s.log_lines:
            build = recorded.build(s.builder, s.build)
            text = recorded.test_log(build) or ""
            assert all(line in text for line in s.log_lines), s.kind
