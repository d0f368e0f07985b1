"""The figures behind the flaky ranking, and the per-builder verdict strips the pages draw.

A flip rate alone ranks a test that flipped once in two runs (50%) above one that failed 30
times in 200 (15%), though the second is far better established. So tests are ranked by the
*lower bound* of the Wilson score interval of their failure rate (failures / runs): what the
rate is at least, at 95% confidence. 1 in 2 gives [0.09, 0.91]; 30 in 200 gives [0.11, 0.21]:
the second ranks first. (Wilson, "Probable inference, the law of succession, and statistical
inference", JASA 1927; the interval TestGrid-style flakiness ranking needs at small counts.)

Pure functions over :mod:`bbwatch.triage.rows` and :mod:`bbwatch.triage.history` data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bbwatch.logs.parsed import BuildTests
from bbwatch.models import Build
from bbwatch.triage.history import FlipStats, is_bad, is_good
from bbwatch.triage.rows import FlakyRow

Z95 = 1.959963984540054  # two-sided 95%


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) of ``successes / trials``; (0, 1) for no trials."""
    if trials <= 0:
        return 0.0, 1.0
    successes = min(max(successes, 0), trials)
    if successes == 0 or successes == trials:  # closed forms: no rounding below 0 / above 1
        bound = trials / (trials + z * z)
        return (0.0, 1 - bound) if successes == 0 else (bound, 1.0)
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class FlakyFigures:
    """What a flaky row's rank rests on: shown next to it on the page."""

    runs: int
    failures: int
    flips: int
    low: float  # Wilson 95% interval of the failure rate
    high: float

    @property
    def rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0


def figures(row: FlakyRow) -> FlakyFigures:
    low, high = wilson(row.failures, row.runs)
    return FlakyFigures(row.runs, row.failures, row.flips, low, high)


def stats_figures(stats: FlipStats) -> FlakyFigures:
    low, high = wilson(stats.failures, stats.runs)
    return FlakyFigures(stats.runs, stats.failures, stats.flips, low, high)


def rank_key(row: FlakyRow) -> tuple[float, int, int, str]:
    """Sort key, smallest first: the failure rate's Wilson lower bound (highest first), then
    failures, then builders hit, then the name (a stable order)."""
    low, _high = wilson(row.failures, row.runs)
    return (-round(low, 12), -row.failures, -len(row.builders), row.test_file)


def rank(rows: Sequence[FlakyRow]) -> list[FlakyRow]:
    return sorted(rows, key=rank_key)


# --- verdict strips -------------------------------------------------------------------------

# one verdict per build: what a square of a strip shows (word, and CSS class suffix)
PASS, FAIL, FLAKY, NOT_RUN = "pass", "fail", "flaky", "not run"


@dataclass(frozen=True)
class Cell:
    """One square of a history strip: a build and what it said."""

    build: Build
    verdict: str  # pass | fail | flaky | not run | a Result word (build strips)


def test_strip(
    builds: Sequence[Build], tests: Mapping[int, BuildTests], test_file: str | None,
    limit: int = 20,
) -> list[Cell]:
    """The last ``limit`` completed builds of one builder as verdicts of ``test_file``, oldest
    first (newest right). ``test_file`` None: the build's own verdict (bad -> fail, good ->
    pass, WARNINGS -> flaky, anything else -> not run), e.g. for a mass failure."""
    done = [b for b in builds if b.complete][:limit]
    cells = []
    for build in reversed(done):
        if test_file is None:
            verdict = (FAIL if is_bad(build) else PASS if is_good(build)
                       else FLAKY if build.results == 1 else NOT_RUN)
        else:
            bt = tests.get(build.buildid)
            status = bt.status(test_file) if bt is not None else None
            verdict = status if status is not None else NOT_RUN
        cells.append(Cell(build, verdict))
    return cells


def build_strip(builds: Sequence[Build], limit: int = 20) -> list[Cell]:
    """The last ``limit`` completed builds of one builder, oldest first, by result word."""
    done = [b for b in builds if b.complete][:limit]
    return [Cell(b, b.result.word if b.result is not None else "unknown") for b in reversed(done)]
