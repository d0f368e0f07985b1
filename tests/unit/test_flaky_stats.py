"""Flaky ranking figures: the Wilson interval, the rank it gives, and verdict strips."""

from __future__ import annotations

import math

import pytest
from bbwatch.logs.parsed import BuildTests
from bbwatch.models import Build, Builder
from bbwatch.triage import flaky_stats
from bbwatch.triage.rows import FlakyRow


def _row(name: str, failures: int, runs: int, flips: int, builders: int = 1) -> FlakyRow:
    build = Build(buildid=1, builderid=1, number=1, results=1, complete=True,
                  started_at=0, complete_at=1)
    return FlakyRow(test_file=name, runs=runs, flips=flips, failures=failures,
                    builders=[Builder(builderid=i, name=f"b{i}", tags=[]) for i in
                              range(builders)],
                    evidence=[], stats=[], last_flake=build)


def test_wilson_matches_known_values():
    low, high = flaky_stats.wilson(1, 2)
    assert low == pytest.approx(0.0945, abs=1e-3) and high == pytest.approx(0.9055, abs=1e-3)
    low, high = flaky_stats.wilson(30, 200)
    assert low == pytest.approx(0.1073, abs=1e-3) and high == pytest.approx(0.2067, abs=1e-3)
    assert flaky_stats.wilson(0, 0) == (0.0, 1.0)
    low, high = flaky_stats.wilson(0, 50)
    assert low == 0.0 and 0 < high < 0.1
    low, high = flaky_stats.wilson(50, 50)
    assert high == 1.0 and 0.9 < low < 1.0


@pytest.mark.parametrize("k,n", [(0, 1), (1, 3), (7, 20), (199, 200), (3, 1000)])
def test_wilson_contains_the_rate_and_narrows_with_more_runs(k, n):
    low, high = flaky_stats.wilson(k, n)
    assert low <= k / n <= high
    low10, high10 = flaky_stats.wilson(k * 10, n * 10)
    assert high10 - low10 < high - low or math.isclose(high10 - low10, high - low)


def test_one_flip_in_two_runs_does_not_outrank_thirty_in_two_hundred():
    small = _row("test_small", failures=1, runs=2, flips=1)
    big = _row("test_big", failures=30, runs=200, flips=30)
    assert small.rate > big.rate  # the naive rate gets it the wrong way round
    assert [r.test_file for r in flaky_stats.rank([small, big])] == ["test_big", "test_small"]
    figures = flaky_stats.figures(big)
    assert (figures.runs, figures.failures, figures.flips) == (200, 30, 30)
    assert figures.low < figures.rate < figures.high


def _build(buildid: int, results: int | None, complete: bool = True) -> Build:
    return Build(buildid=buildid, builderid=1, number=buildid, results=results,
                 complete=complete, started_at=buildid, complete_at=buildid + 1)


def test_test_strip_is_oldest_first_and_says_not_run():
    builds = [_build(5, None, complete=False), _build(4, 2), _build(3, 1), _build(2, 0),
              _build(1, 2)]  # newest first, as the client returns them
    tests = {4: BuildTests(ran=True, failed=frozenset({"test_x"})),
             3: BuildTests(ran=True, flaky=frozenset({"test_x"})),
             2: BuildTests(ran=True),
             1: BuildTests(ran=False)}
    strip = flaky_stats.test_strip(builds, tests, "test_x", limit=20)
    assert [(c.build.buildid, c.verdict) for c in strip] == [
        (1, "not run"), (2, "pass"), (3, "flaky"), (4, "fail")]
    assert [c.build.buildid for c in flaky_stats.test_strip(builds, tests, "test_x", 2)] == [3, 4]
    whole = flaky_stats.test_strip(builds, tests, None)
    assert [c.verdict for c in whole] == ["fail", "pass", "flaky", "fail"]
    assert [c.verdict for c in flaky_stats.build_strip(builds)] == [
        "failure", "success", "warnings", "failure"]
