"""The rows of the fleet picture (``bbwatch.triage.analysis.analyse``): what the live pages,
the per-failure pages and ``bbwatch triage`` read. Plain dataclasses, their filters, and the
words and order they are shown in; no computation over the fleet happens here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bbwatch.logs.parsed import BuildTests, ParsedLog
from bbwatch.models import Build, Builder, FleetData, Result, Worker
from bbwatch.source.urls import build_url, builder_url
from bbwatch.triage.backports import BackportFamily
from bbwatch.triage.context import triage_docname
from bbwatch.triage.history import FlakeEvidence, FlipStats, Streak, Suspect
from bbwatch.triage.workers import SickWorker


class Severity(enum.IntEnum):
    """Status-page order inside a branch (CPython's release dashboard, extended)."""

    RELEASE_BLOCKING = 0  # stable tier-1/tier-2 builder, latest build bad
    STABLE_FAILURE = 1
    UNSTABLE_FAILURE = 2
    DISCONNECTED = 3
    WARNINGS = 4
    SUCCESS = 5
    NO_BUILDS = 6

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]


_SEVERITY_LABELS = {
    Severity.RELEASE_BLOCKING: "release-blocking failure",
    Severity.STABLE_FAILURE: "stable failure",
    Severity.UNSTABLE_FAILURE: "unstable failure",
    Severity.DISCONNECTED: "disconnected",
    Severity.WARNINGS: "warning",
    Severity.SUCCESS: "green",
    Severity.NO_BUILDS: "no builds",
}


@dataclass
class BuilderRow:
    builder: Builder
    branch: str
    severity: Severity
    last_build: Build | None  # latest completed build
    running: Build | None  # a build in progress, if any
    streak: Streak | None
    worker: Worker | None
    build_url: str | None
    builder_url: str

    @property
    def result(self) -> Result | None:
        return self.last_build.result if self.last_build else None

    @property
    def connected(self) -> bool | None:
        return None if self.worker is None else self.worker.connected


@dataclass
class BranchStatus:
    branch: str
    rows: list[BuilderRow]

    def count(self, severity: Severity) -> int:
        return sum(1 for row in self.rows if row.severity == severity)

    @property
    def summary(self) -> str:
        """``"3.x: 2 release-blocking failures, 1 warning, 14 green"``."""
        parts = []
        for severity in Severity:
            n = self.count(severity)
            if n:
                label = severity.label
                if n != 1 and severity not in (Severity.SUCCESS, Severity.DISCONNECTED,
                                               Severity.NO_BUILDS):
                    label += "s"
                parts.append(f"{n} {label}")
        return f"{self.branch}: " + (", ".join(parts) or "no builders")


@dataclass(frozen=True)
class IssueLink:
    url: str | None
    title: str
    source: str  # "registry" | "tracker"
    reason: str = ""
    kind: str | None = None  # the registry's flaky|failing|infra


@dataclass
class Occurrence:
    """One builder where a problem shows now."""

    builder: Builder
    branch: str
    latest: Build  # the latest failing build
    streak: Streak | None
    test_ids: tuple[str, ...]
    excerpt: str
    build_url: str
    builder_url: str
    worker: Worker | None
    triage_docname: str

    @property
    def first_failing(self) -> Build:
        return self.streak.first_failing if self.streak else self.latest


@dataclass
class Problem:
    key: str
    group: str  # "test" | "build" | "infra" | "mass"
    kind: str  # "test", the failing build step (compile, configure, ...), the infra kind
    #            (exception, disconnected, disk-full, ...) or "mass"
    title: str
    test_file: str | None
    occurrences: list[Occurrence]
    classification: str = "new"  # new | known | flaky | infra
    issues: list[IssueLink] = field(default_factory=list)
    evidence: list[FlakeEvidence] = field(default_factory=list)
    suspects: list[Suspect] = field(default_factory=list)
    children: list[Problem] = field(default_factory=list)  # collapsed into a mass failure
    # suspects that are one change and its backports (bbwatch.triage.backports), on a
    # problem failing on several branches
    backports: list[BackportFamily] = field(default_factory=list)
    # builders concerned that have no build to point at (e.g. a worker never connected)
    idle: list[tuple[Builder, Worker | None]] = field(default_factory=list)

    @property
    def test_ids(self) -> tuple[str, ...]:
        ids: dict[str, None] = {}
        for occ in self.occurrences:
            ids.update(dict.fromkeys(occ.test_ids))
        return tuple(ids)

    @property
    def builders(self) -> list[Builder]:
        found = {o.builder.builderid: o.builder for o in self.occurrences}
        found.update((b.builderid, b) for b, _ in self.idle)
        return list(found.values())

    @property
    def branches(self) -> list[str]:
        return sorted({branch_of(b) for b in self.builders}, key=branch_key)

    @property
    def workers(self) -> list[Worker]:
        found = {o.worker.workerid: o.worker for o in self.occurrences if o.worker}
        found.update((w.workerid, w) for _, w in self.idle if w)
        return list(found.values())

    @property
    def first_seen(self) -> int | None:
        times = [t for o in self.occurrences if (t := when(o.first_failing))]
        return min(times) if times else None

    @property
    def last_seen(self) -> int | None:
        times = [t for o in self.occurrences if (t := when(o.latest, end=True))]
        return max(times) if times else None

    @property
    def excerpt(self) -> str:
        if not self.occurrences:
            return ""
        latest = max(self.occurrences, key=lambda o: when(o.latest, end=True) or 0)
        return latest.excerpt


@dataclass
class FlakyRow:
    test_file: str
    runs: int
    flips: int
    failures: int
    builders: list[Builder]
    evidence: list[FlakeEvidence]
    stats: list[FlipStats]
    last_flake: Build
    issue: IssueLink | None = None
    test_ids: tuple[str, ...] = ()  # the test methods seen failing before passing

    @property
    def rate(self) -> float:
        return self.flips / self.runs if self.runs else 0.0

    @property
    def impact(self) -> tuple[int, int, float]:
        """Sort key, bigger first: builders hit, flaky failures, then rate."""
        return (len(self.builders), self.failures + len(self.evidence), self.rate)


@dataclass
class Analysis:
    fleet: FleetData
    now: float
    status: list[BranchStatus]
    problems: list[Problem]
    flaky: list[FlakyRow]
    tests: dict[int, BuildTests]  # buildid -> what its test step said
    notes: list[str] = field(default_factory=list)  # e.g. "tracker not checked: <reason>"
    # buildid -> its parsed test log: everything the pages and triage take from raw logs
    parsed: dict[int, ParsedLog] = field(default_factory=dict)
    # worker name -> the failures attributed to that worker (bbwatch.triage.workers)
    sick_workers: dict[str, SickWorker] = field(default_factory=dict)

    @property
    def fetched_at(self) -> float:
        return self.fleet.fetched_at

    @property
    def test_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.group in ("test", "mass")]

    @property
    def build_problems(self) -> list[Problem]:
        """configure/compile failures: reported like test failures (``build`` label)."""
        return [p for p in self.problems if p.group == "build"]

    @property
    def infra_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.group == "infra"]

    def status_rows(
        self,
        branches: Iterable[str] = (),
        tags: Iterable[str] = (),
        results: Iterable[str] = (),
    ) -> list[BranchStatus]:
        """Status filtered by branch names, builder tags (all must match) and result words."""
        want_branches, want_tags = set(branches), set(tags)
        want_results = {r.lower() for r in results}
        out = []
        for section in self.status:
            if want_branches and section.branch not in want_branches:
                continue
            rows = [
                row
                for row in section.rows
                if want_tags <= set(row.builder.tags)
                and (not want_results or _result_word(row) in want_results)
            ]
            if rows:
                out.append(BranchStatus(section.branch, rows))
        return out

    def problem_rows(
        self, branches: Iterable[str] = (), tags: Iterable[str] = ()
    ) -> list[Problem]:
        want_branches, want_tags = set(branches), set(tags)
        return [
            p
            for p in self.problems
            if any(
                (not want_branches or branch_of(b) in want_branches) and want_tags <= set(b.tags)
                for b in p.builders
            )
        ]

    def flaky_rows(self, branches: Iterable[str] = (), tags: Iterable[str] = ()) -> list[FlakyRow]:
        want_branches, want_tags = set(branches), set(tags)
        return [
            row
            for row in self.flaky
            if any(
                (not want_branches or branch_of(b) in want_branches) and want_tags <= set(b.tags)
                for b in row.builders
            )
        ]

    def find(self, builder_name: str, number: int, test: str | None = None) -> tuple[
        Problem, Occurrence
    ] | None:
        """The problem and occurrence shown for one failing build (and test), for triage."""
        for problem in self.problems:
            for p in [problem, *problem.children]:
                if test is not None and p.test_file not in (test, None) and p.kind != test:
                    continue
                for occ in p.occurrences:
                    if occ.builder.name == builder_name and occ.latest.number == number:
                        return p, occ
        return None


def _result_word(row: BuilderRow) -> str:
    if row.worker is not None and not row.worker.connected and row.result is None:
        return "disconnected"
    return row.result.word if row.result is not None else "none"


def when(build: Build, end: bool = False) -> int | None:
    if end:
        return build.complete_at or build.started_at
    return build.started_at or build.complete_at


def branch_of(builder: Builder) -> str:
    return builder.branch or "other"


def branch_key(branch: str) -> tuple[int, tuple[int, ...], str]:
    """3.x first, then versions newest first, then PullRequest, then anything else."""
    if branch == "3.x":
        return (0, (), branch)
    if re.fullmatch(r"\d+\.\d+", branch):
        return (1, tuple(-int(p) for p in branch.split(".")), branch)
    if branch == "PullRequest":
        return (2, (), branch)
    return (3, (), branch)


def describe_streak(streak: Streak | None, now: float) -> str:
    """``"failing since build #12 (3 builds, 2 days)"``; empty when not failing."""
    if streak is None:
        return ""
    builds = f"{streak.length} build{'s' if streak.length != 1 else ''}"
    since = streak.since
    span = f", {describe_age(now - since)}" if since else ""
    more = "" if streak.complete else " or more"
    return f"failing since build #{streak.first_failing.number} ({builds}{more}{span})"


def describe_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "less than a minute"


def occurrence(
    fleet: FleetData,
    builder: Builder,
    latest: Build,
    streak: Streak | None,
    test: str,
    test_ids: tuple[str, ...],
    excerpt: str,
) -> Occurrence:
    return Occurrence(
        builder=builder,
        branch=branch_of(builder),
        latest=latest,
        streak=streak,
        test_ids=test_ids,
        excerpt=excerpt,
        build_url=build_url(fleet.base_url, builder.builderid, latest.number),
        builder_url=builder_url(fleet.base_url, builder.builderid),
        worker=fleet.worker_for(builder.builderid),
        triage_docname=triage_docname(builder.name, latest.number, test),
    )
