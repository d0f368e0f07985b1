"""THE picture of a fleet, built once from FleetData: status rows, known-failure rows, flaky rows.

``analyse(fleet, registry=..., tracker=..., now=...)`` is the one computation behind the live
pages (``bbwatch.sphinxext.live``), the per-failure triage pages and the ``bbwatch triage`` CLI:
they only filter and render an :class:`Analysis`, never recompute. Pure apart from the optional
tracker (a network edge the caller hands in).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bbwatch import history, regrtest
from bbwatch.history import BuildTests, FlakeEvidence, FlipStats, Streak, Suspect
from bbwatch.models import Build, Builder, FleetData, Result, Worker

EXCERPT_LINES = 25  # lines of log shown per problem
EXCERPT_CHARS = 4000
MASS_MIN_BUILDERS = 3  # builders failing at one change before problems collapse ...
MASS_MIN_PROBLEMS = 3  # ... and how many distinct problems they must share
INFRA_STEPS = ("git", "checkout", "svn", "configure", "compile", "install", "chmod", "make")
# A failing configure, compile or install step is a *build failure*: usually a change broke the
# build on that platform, so it is reported like a test failure (an issue with the ``build``
# label, python/devguide triage/labels.rst), not handed to the worker owner. Only what the log
# shows to be the worker's fault (a full disk) stays infrastructure; the watcher's page
# (docs/watching/infrastructure.md, "Build failures") gives the rest of the rule.
BUILD_KINDS = frozenset(("configure", "compile", "install", "make"))


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


# --- URLs (the client owns them; this fallback keeps analysis usable without it) ------------


# pure functions of their arguments, asked for every row and occurrence of a large fleet
@functools.lru_cache(maxsize=8192)
def build_url(base: str, builderid: int, number: int) -> str:
    try:
        from bbwatch.buildbot import build_url as client_build_url
    except ImportError:
        return f"{base.rstrip('/')}/#/builders/{builderid}/builds/{number}"
    return client_build_url(base, builderid, number)


@functools.lru_cache(maxsize=4096)
def builder_url(base: str, builderid: int) -> str:
    try:
        from bbwatch.buildbot import builder_url as client_builder_url
    except ImportError:
        return f"{base.rstrip('/')}/#/builders/{builderid}"
    return client_builder_url(base, builderid)


def triage_docname(builder_name: str, number: int, test: str) -> str:
    from bbwatch.triage import triage_docname as docname

    return docname(builder_name, number, test)


# --- rows -----------------------------------------------------------------------------------


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
        times = [t for o in self.occurrences if (t := _when(o.first_failing))]
        return min(times) if times else None

    @property
    def last_seen(self) -> int | None:
        times = [t for o in self.occurrences if (t := _when(o.latest, end=True))]
        return max(times) if times else None

    @property
    def excerpt(self) -> str:
        if not self.occurrences:
            return ""
        latest = max(self.occurrences, key=lambda o: _when(o.latest, end=True) or 0)
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


def _when(build: Build, end: bool = False) -> int | None:
    if end:
        return build.complete_at or build.started_at
    return build.started_at or build.complete_at


# --- branches -------------------------------------------------------------------------------


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


# --- test logs ------------------------------------------------------------------------------


_SEED = re.compile(r"Using random seed:? (\d+)")


@dataclass(frozen=True)
class ParsedLog:
    """Everything bbwatch takes from one test log, so nothing downstream needs the raw text.

    Small (capped excerpts), JSON-able (``bbwatch.parsecache``) and, for a completed build,
    immutable: it is cached per build and kept in the last-fleet file instead of the log.
    """

    tests: BuildTests
    excerpts: dict[str, str]
    disk_full: bool
    tail: str
    digest: str = ""  # sha256 of the log text it was parsed from
    seed: str = ""  # regrtest's random seed, for the triage pages' reproduce command
    # test file -> (kind, first error message) and -> test ids, as matching reads the run
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    outcome_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)


def log_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _tail(text: str, lines: int = EXCERPT_LINES) -> str:
    return _cap("\n".join(text.rstrip().splitlines()[-lines:]))


def _cap(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > EXCERPT_LINES:
        lines = lines[:EXCERPT_LINES] + ["[...]"]
    out = "\n".join(lines)
    return out if len(out) <= EXCERPT_CHARS else out[:EXCERPT_CHARS] + "\n[...]"


def parse_log(text: str, ran: bool, digest: str | None = None) -> ParsedLog:
    """What a test step's log says, through ``bbwatch.regrtest``."""
    from bbwatch.triage_analysis import run_outcomes

    run = regrtest.parse_text(text)
    failed = set(run.failed)
    if not failed and run.truncated:  # regrtest died before its summary: name what it can
        failed = {x.test_file for x in [*run.crashes, *run.timeouts] if x.test_file}
    flaky = set(run.rerun_passed) - failed
    ids: dict[str, list[str]] = {}
    for case in run.cases:
        if case.test_file in failed | flaky and case.test_id:
            found = ids.setdefault(case.test_file, [])
            if case.test_id not in found:
                found.append(case.test_id)
    excerpts = {t: run.excerpt(t, EXCERPT_LINES) or "" for t in failed | flaky}
    return ParsedLog(
        BuildTests(ran, frozenset(failed), frozenset(flaky),
                   {k: tuple(v) for k, v in ids.items()},
                   frozenset(run.outcomes) | failed | flaky),
        {t: _cap(e) if e.strip() else _tail(text) for t, e in excerpts.items()},
        "No space left on device" in text,
        _tail(text),
        digest if digest is not None else log_digest(text),
        found.group(1) if (found := _SEED.search(text)) else "",
        *run_outcomes(run),
    )


def _test_step(build: Build):
    return build.step("test")


# a test step that ended in one of these ran to a verdict (codes: no Result enum per step)
_VERDICT_CODES = frozenset(int(r) for r in (Result.SUCCESS, Result.WARNINGS, Result.FAILURE))


def build_tests(
    fleet: FleetData, cache=None, preparsed: dict[int, ParsedLog] | None = None
) -> tuple[dict[int, BuildTests], dict[int, ParsedLog]]:
    """BuildTests for every build of the fleet, parsing each available test log once.

    ``cache`` (a ``bbwatch.parsecache.ParsedLogCache``, the disk edge) holds completed builds'
    parsed logs, so a warm build parses only new ones. ``preparsed`` stands in for logs the
    fleet does not carry (the last-fleet file keeps parsed logs, not the raw text).
    """
    tests: dict[int, BuildTests] = {}
    parsed: dict[int, ParsedLog] = {}
    for builds in fleet.builds.values():
        for build in builds:
            step = _test_step(build)
            ran = bool(step is not None and step.complete and step.results in _VERDICT_CODES)
            text = fleet.test_logs.get(build.buildid)
            found = None
            if text:
                found = _parse_cached(build, text, ran, cache)
            elif preparsed:
                found = preparsed.get(build.buildid)
            if found is not None:
                if found.tests.ran != ran:
                    found = dataclasses.replace(
                        found, tests=dataclasses.replace(found.tests, ran=ran))
                parsed[build.buildid] = found
                tests[build.buildid] = found.tests
            else:
                tests[build.buildid] = BuildTests(ran=ran)
    return tests, parsed


def _parse_cached(build: Build, text: str, ran: bool, cache) -> ParsedLog:
    """A completed build's log never changes: its parse comes from the cache when it can."""
    digest = log_digest(text)
    use_cache = cache is not None and build.complete
    if use_cache:
        hit = cache.get(build.buildid, digest)
        if hit is not None:
            return hit
    found = parse_log(text, ran, digest)
    if use_cache:
        cache.put(build.buildid, found)
    return found


# --- status ---------------------------------------------------------------------------------


def _severity(builder: Builder, last: Build | None, worker: Worker | None) -> Severity:
    if last is not None and history.is_bad(last):
        if builder.stable and builder.tier in (1, 2):
            return Severity.RELEASE_BLOCKING
        return Severity.STABLE_FAILURE if builder.stable else Severity.UNSTABLE_FAILURE
    if worker is not None and not worker.connected:
        return Severity.DISCONNECTED
    if last is None:
        return Severity.NO_BUILDS
    if last.result == Result.WARNINGS:
        return Severity.WARNINGS
    return Severity.SUCCESS


def _status(fleet: FleetData) -> list[BranchStatus]:
    sections: dict[str, list[BuilderRow]] = {}
    for builder in fleet.builders:
        builds = fleet.builds.get(builder.builderid, [])
        last = next((b for b in builds if b.complete and b.result is not None), None)
        running = next((b for b in builds if not b.complete), None)
        worker = fleet.worker_for(builder.builderid)
        row = BuilderRow(
            builder=builder,
            branch=branch_of(builder),
            severity=_severity(builder, last, worker),
            last_build=last,
            running=running,
            streak=history.builder_streak(builds),
            worker=worker,
            build_url=build_url(fleet.base_url, builder.builderid, last.number) if last else None,
            builder_url=builder_url(fleet.base_url, builder.builderid),
        )
        sections.setdefault(row.branch, []).append(row)
    return [
        BranchStatus(branch, sorted(rows, key=lambda r: (r.severity, r.builder.name.lower())))
        for branch, rows in sorted(sections.items(), key=lambda kv: branch_key(kv[0]))
    ]


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


# --- problems -------------------------------------------------------------------------------


def _failed_step(build: Build):
    steps = [s for s in build.steps if s.result is not None and s.result.is_bad]
    return min(steps, key=lambda s: s.number) if steps else None


def _infra_kind(build: Build, parsed: ParsedLog | None) -> str | None:
    """Why a bad build is an infrastructure problem, or None when it is a test failure."""
    if parsed is not None and parsed.disk_full:
        return "disk-full"
    if build.result == Result.EXCEPTION:
        return "exception"
    if build.result == Result.RETRY:
        return "retry"
    step = _failed_step(build)
    if step is None:
        return None if _test_step(build) is not None else "unknown"
    name = step.name.lower()
    if name == "test" or name.startswith("test"):
        return None
    if any(name.startswith(s) for s in INFRA_STEPS):
        return name.split()[0]
    return name


def _occurrence(
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


def _latest_test_verdict(builds: Sequence[Build], tests: dict[int, BuildTests]) -> Build | None:
    for build in builds:
        if build.complete and tests.get(build.buildid, BuildTests(False)).ran:
            return build
    return None


def _problems(
    fleet: FleetData, tests: dict[int, BuildTests], parsed: dict[int, ParsedLog]
) -> list[Problem]:
    by_test: dict[str, Problem] = {}
    infra: dict[tuple[str, str], Problem] = {}
    build_failures: dict[tuple[str, str], Problem] = {}
    for builder in fleet.builders:
        builds = fleet.builds.get(builder.builderid, [])
        latest = next((b for b in builds if b.complete and b.result is not None), None)
        # Test failures: the latest build whose test step ran tells what fails now, even when a
        # later build broke earlier (compile) — that is reported as infra below.
        verdict = _latest_test_verdict(builds, tests)
        if verdict is not None:
            info = tests[verdict.buildid]
            log = parsed.get(verdict.buildid)
            failed = sorted(info.failed)
            if not failed and verdict.result == Result.FAILURE and _infra_kind(
                verdict, log
            ) is None and _failed_step(verdict) is not None:
                failed = ["(test step)"]  # regrtest died without naming a test
            for test_file in failed:
                streak = history.streak_of_test(builds, tests, test_file)
                excerpt = (log.excerpts.get(test_file) or log.tail) if log else ""
                occ = _occurrence(fleet, builder, verdict, streak, test_file,
                                  tuple(info.test_ids.get(test_file, ())), excerpt)
                problem = by_test.setdefault(
                    test_file,
                    Problem(key=f"test:{test_file}", group="test", kind="test",
                            title=test_file, test_file=test_file, occurrences=[]),
                )
                problem.occurrences.append(occ)
        # Infrastructure: the latest build is bad for a reason other than tests.
        if latest is not None and history.is_bad(latest):
            kind = _infra_kind(latest, parsed.get(latest.buildid))
            if kind is not None:
                worker = fleet.worker_for(builder.builderid)
                streak = history.builder_streak(builds)
                log = parsed.get(latest.buildid)
                step = _failed_step(latest)
                excerpt = log.tail if log else (step.state_string if step else latest.state_string)
                if kind in BUILD_KINDS:
                    _add_build(build_failures, fleet, builder, latest, streak, kind,
                               excerpt or "")
                else:
                    _add_infra(infra, fleet, builder, latest, streak, kind, worker,
                               excerpt or "")
    for worker in fleet.workers:
        if not worker.connected:
            for bid in worker.builderids:
                builder = fleet.builder(bid)
                builds = fleet.builds.get(bid, [])
                last = next((b for b in builds if b.complete), None)
                if builder is None:
                    continue
                _add_infra(infra, fleet, builder, last, None, "disconnected", worker,
                           f"worker {worker.name} is not connected to the master")
    return [*by_test.values(), *build_failures.values(), *infra.values()]


def _add_build(
    found: dict[tuple[str, str], Problem],
    fleet: FleetData,
    builder: Builder,
    latest: Build,
    streak: Streak | None,
    kind: str,
    excerpt: str,
) -> None:
    """A configure/compile failure: one problem per step and first failing revision, so one
    breaking change on several builders is one report."""
    start = streak.start_revision if streak is not None else None
    where = start or builder.name
    title = (f"{kind} fails since {start[:12]}" if start else f"{kind} fails on {builder.name}")
    problem = found.setdefault(
        (kind, where),
        Problem(key=f"build:{kind}:{where}", group="build", kind=kind, title=title,
                test_file=None, occurrences=[]),
    )
    problem.occurrences.append(
        _occurrence(fleet, builder, latest, streak, kind, (), _cap(excerpt))
    )


def _add_infra(
    infra: dict[tuple[str, str], Problem],
    fleet: FleetData,
    builder: Builder,
    latest: Build | None,
    streak: Streak | None,
    kind: str,
    worker: Worker | None,
    excerpt: str,
) -> None:
    who = worker.name if worker else builder.name
    title = {
        "disconnected": f"worker {who} disconnected",
        "exception": f"Buildbot exception on {who}",
        "retry": f"build retried on {who} (lost worker)",
        "disk-full": f"disk full on {who}",
    }.get(kind, f"{kind} failure on {who}")
    problem = infra.setdefault(
        (kind, who),
        Problem(key=f"infra:{kind}:{who}", group="infra", kind=kind, title=title,
                test_file=None, occurrences=[], classification="infra"),
    )
    if latest is None:  # nothing built yet: name the builder, there is no build to link
        problem.idle.append((builder, worker))
        return
    problem.occurrences.append(
        _occurrence(fleet, builder, latest, streak, kind, (), _cap(excerpt))
    )


def _collapse_mass(problems: list[Problem]) -> list[Problem]:
    """Problems that all started at one change on >= 3 builders become one "mass failure" row."""
    by_change: dict[str, list[Problem]] = {}
    for problem in problems:
        starts = {o.first_failing.revision for o in problem.occurrences if o.streak}
        if problem.kind != "disconnected" and len(starts) == 1 and None not in starts:
            by_change.setdefault(starts.pop(), []).append(problem)
    absorbed: set[str] = set()
    masses: list[Problem] = []
    for revision, group in by_change.items():
        builders = {o.builder.builderid for p in group for o in p.occurrences}
        if len(group) < MASS_MIN_PROBLEMS or len(builders) < MASS_MIN_BUILDERS:
            continue
        occurrences = {o.builder.builderid: o for p in group for o in p.occurrences}
        tests = [p.test_file for p in group if p.test_file]
        kinds = sorted({p.kind for p in group if p.group in ("build", "infra")})
        what = ", ".join([*(f"{len(tests)} tests" for _ in [0] if tests), *kinds])
        mass = Problem(
            key=f"mass:{revision}",
            group="mass",
            kind="mass",
            title=f"mass failure: {len(builders)} builders since {revision[:12]} ({what})",
            test_file=None,
            occurrences=list(occurrences.values()),
            children=group,
        )
        masses.append(mass)
        absorbed.update(p.key for p in group)
    return masses + [p for p in problems if p.key not in absorbed]


# --- classification -------------------------------------------------------------------------


def _failure(problem: Problem, occ: Occurrence, rerun: bool = False):
    from bbwatch.matching import Failure

    return Failure(
        test_file=problem.test_file or problem.kind,
        test_id=occ.test_ids[0] if occ.test_ids else None,
        builder=occ.builder.name,
        branch=occ.branch,
        message=occ.excerpt or None,
        kind="failed" if problem.group == "test" else problem.kind,
        passed_on_rerun=rerun,
    )


def _match(problem: Problem, occ: Occurrence, registry, tracker, rerun: bool = False
           ) -> tuple[str, list[IssueLink], str | None]:
    """(matching's classification, issue links, tracker note) for one problem.

    Registry first, then the tracker (a network edge the caller chose to hand in); a tracker
    failure never raises, its note ends up on the page.
    """
    from bbwatch import matching
    from bbwatch.tracker import search_candidates

    failure = _failure(problem, occ, rerun)
    issues, note = ([], None)
    if tracker is not None and problem.group not in ("build", "infra"):
        issues, note = search_candidates(tracker, failure)
    matches = matching.rank(failure, issues, registry)
    verdict = matching.classify(failure, matches)
    links = [
        IssueLink(
            url=m.issue.url or None,
            title=f"#{m.issue.number}: {m.issue.title}" if m.issue.number else m.issue.title,
            source=m.source,
            reason=m.reason,
            kind=m.known_issue.kind if m.known_issue is not None else None,
        )
        for m in matches
        if verdict != "new"
    ]
    return verdict, links[:3], note


def _classify(
    problems: list[Problem], fleet: FleetData, tests: dict[int, BuildTests], registry, tracker,
    notes: list[str],
    flakiness: Callable[[str], tuple[list[FlakeEvidence], list[FlipStats]]] | None = None,
) -> None:
    flakiness = flakiness or _flakiness_memo(fleet, tests)
    for problem in problems:
        for p in [problem, *problem.children]:
            verdict = "new"
            if not p.occurrences:
                p.classification = "infra" if p.group == "infra" else verdict
                continue
            occ = p.occurrences[0]
            if registry is not None or tracker is not None:
                verdict, p.issues, note = _match(p, occ, registry, tracker)
                if note and note not in notes:
                    notes.append(note)
            if p.group == "infra":
                p.classification = "infra"
                continue
            if p.group == "build":
                blame = [c for o in p.occurrences if o.streak for c in o.streak.blamelist]
                p.suspects = history.suspects(list({c.changeid: c for c in blame}.values()), None)
                p.classification = verdict  # new until the registry covers it
                continue
            if p.test_file and p.group == "test":
                p.evidence, _ = flakiness(p.test_file)
                blame = [c for o in p.occurrences if o.streak for c in o.streak.blamelist]
                unique = list({c.changeid: c for c in blame}.values())
                p.suspects = history.suspects(unique, p.test_file)
            # Evidence from the fleet's own history beats any label; a registry entry of kind
            # "flaky" still says flaky when this history is too short to show it.
            # A streak of >= 3 failures on some builder is breakage there, whatever the
            # evidence elsewhere: it stays new/known so nobody shrugs it off as a flake.
            broken = any(o.streak and o.streak.length >= history.BREAKAGE_RUN
                         for o in p.occurrences)
            p.classification = "flaky" if p.evidence and not broken else verdict
        if problem.group == "mass":
            blame = [c for o in problem.occurrences if o.streak for c in o.streak.blamelist]
            unique = list({c.changeid: c for c in blame}.values())
            problem.suspects = history.suspects(unique, None)
            known = all(c.classification in ("known", "infra") and c.issues
                        for c in problem.children)
            problem.classification = "known" if known else "new"


def _sort_problems(problems: list[Problem]) -> list[Problem]:
    order = {"mass": 0, "test": 1, "build": 2, "infra": 3}
    cls = {"new": 0, "known": 1, "flaky": 2, "infra": 3}
    return sorted(
        problems,
        key=lambda p: (order[p.group], cls.get(p.classification, 9), -len(p.occurrences),
                       -(p.last_seen or 0), p.title),
    )


# --- flaky ----------------------------------------------------------------------------------


def _flakiness_memo(fleet: FleetData, tests: dict[int, BuildTests]) -> Callable[
    [str], tuple[list[FlakeEvidence], list[FlipStats]]
]:
    """``history.flakiness`` once per test file, shared by problems and flaky rows, answered by
    a ``history.HistoryIndex`` of this fleet and these tests (built on first use, same result)."""
    memo: dict[str, tuple[list[FlakeEvidence], list[FlipStats]]] = {}
    index: list[history.HistoryIndex] = []

    def flakiness(test_file: str) -> tuple[list[FlakeEvidence], list[FlipStats]]:
        if test_file not in memo:
            if not index:
                index.append(history.HistoryIndex(fleet.builds, tests))
            memo[test_file] = index[0].flakiness(test_file)
        return memo[test_file]

    return flakiness


def _flaky(fleet: FleetData, tests: dict[int, BuildTests], registry, tracker,
           flakiness: Callable[[str], tuple[list[FlakeEvidence], list[FlipStats]]] | None = None,
           ) -> list[FlakyRow]:
    flakiness = flakiness or _flakiness_memo(fleet, tests)
    candidates = sorted({t for bt in tests.values() for t in (*bt.failed, *bt.flaky)})
    rows = []
    for test_file in candidates:
        evidence, stats = flakiness(test_file)
        if not evidence:
            continue
        builders = [
            b for bid in dict.fromkeys(e.builderid for e in evidence)
            if (b := fleet.builder(bid)) is not None
        ]
        shown = {b.builderid for b in builders}
        considered = [s for s in stats if s.builderid in shown]
        last = max((e.build for e in evidence), key=lambda b: (_when(b, end=True) or 0))
        ids: dict[str, None] = {}
        for e in evidence:
            ids.update(dict.fromkeys(tests[e.build.buildid].test_ids.get(test_file, ())))
        row = FlakyRow(
            test_file=test_file,
            runs=sum(s.runs for s in considered),
            flips=sum(s.flips for s in considered),
            failures=sum(s.failures for s in considered),
            builders=builders,
            evidence=evidence,
            stats=considered,
            last_flake=last,
            test_ids=tuple(ids),
        )
        if (registry is not None or tracker is not None) and builders:
            probe = Problem(key=f"flaky:{test_file}", group="test", kind="test",
                            title=test_file, test_file=test_file, occurrences=[])
            occ = _occurrence(fleet, builders[0], last, None, test_file, row.test_ids, "")
            _verdict, links, _note = _match(probe, occ, registry, tracker, rerun=True)
            row.issue = links[0] if links else None
        rows.append(row)
    return sorted(rows, key=lambda r: r.impact, reverse=True)


# --- entry point ----------------------------------------------------------------------------


def analyse(
    fleet: FleetData,
    *,
    registry=None,
    tracker=None,
    now: float | None = None,
    parsed_cache=None,
    preparsed: dict[int, ParsedLog] | None = None,
) -> Analysis:
    """Status, problems and flaky tests of ``fleet``, computed once for every consumer.

    ``parsed_cache`` and ``preparsed``: see :func:`build_tests`.
    """
    tests, parsed = build_tests(fleet, parsed_cache, preparsed)
    problems = _collapse_mass(_problems(fleet, tests, parsed))
    notes: list[str] = []
    flakiness = _flakiness_memo(fleet, tests)
    _classify(problems, fleet, tests, registry, tracker, notes, flakiness)
    return Analysis(
        fleet=fleet,
        now=time.time() if now is None else now,
        status=_status(fleet),
        problems=_sort_problems(problems),
        flaky=_flaky(fleet, tests, registry, tracker, flakiness),
        tests=tests,
        notes=notes,
        parsed=parsed,
    )
