"""THE picture of a fleet, built once from FleetData: status rows, known-failure rows, flaky rows.

``analyse(fleet, registry=..., tracker=..., now=...)`` is the one computation behind the live
pages (``bbwatch.sphinxext.live``), the per-failure triage pages and the ``bbwatch triage`` CLI:
they only filter and render an :class:`Analysis`, never recompute. Pure apart from the optional
tracker (a network edge the caller hands in).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bbwatch.logs.parsed import BuildTests, ParsedLog, ParseStore, build_tests, cap
from bbwatch.models import Build, Builder, FleetData, Result, Step, Worker
from bbwatch.source.urls import build_url, builder_url
from bbwatch.triage import history
from bbwatch.triage.backports import backport_families
from bbwatch.triage.classify import classify_problems, find_flaky, flakiness_memo, sort_problems
from bbwatch.triage.history import Streak
from bbwatch.triage.registry import Registry
from bbwatch.triage.rows import (
    Analysis,
    BranchStatus,
    BuilderRow,
    Problem,
    Severity,
    branch_key,
    branch_of,
    occurrence,
)
from bbwatch.triage.tracker import Tracker
from bbwatch.triage.worker_problems import sick_worker_problems
from bbwatch.triage.workers import find_sick_workers, without_worker_failures

MASS_MIN_BUILDERS = 3  # builders failing at one change before problems collapse ...
MASS_MIN_PROBLEMS = 3  # ... and how many distinct problems they must share
INFRA_STEPS = ("git", "checkout", "svn", "configure", "compile", "install", "chmod", "make")
# A failing configure, compile or install step is a *build failure*: usually a change broke the
# build on that platform, so it is reported like a test failure (an issue with the ``build``
# label, python/devguide triage/labels.rst), not handed to the worker owner. Only what the log
# shows to be the worker's fault (a full disk) stays infrastructure; the watcher's page
# (docs/watching/infrastructure.md, "Build failures") gives the rest of the rule.
BUILD_KINDS = frozenset(("configure", "compile", "install", "make"))


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


# --- problems -------------------------------------------------------------------------------


def _failed_step(build: Build) -> Step | None:
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
        return None if build.step("test") is not None else "unknown"
    name = step.name.lower()
    if name == "test" or name.startswith("test"):
        return None
    if any(name.startswith(s) for s in INFRA_STEPS):
        return name.split()[0]
    return name


def _latest_test_verdict(builds: Sequence[Build], tests: dict[int, BuildTests]) -> Build | None:
    for build in builds:
        if build.complete and tests.get(build.buildid, BuildTests(False)).ran:
            return build
    return None


def _problems(
    fleet: FleetData, tests: dict[int, BuildTests], parsed: dict[int, ParsedLog],
    workers_fault: frozenset[int] = frozenset(),
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
            if not failed and verdict.buildid not in workers_fault and (
                verdict.result == Result.FAILURE) and _infra_kind(
                verdict, log
            ) is None and _failed_step(verdict) is not None:
                failed = ["(test step)"]  # regrtest died without naming a test
            for test_file in failed:
                streak = history.streak_of_test(builds, tests, test_file)
                excerpt = (log.excerpts.get(test_file) or log.tail) if log else ""
                occ = occurrence(fleet, builder, verdict, streak, test_file,
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
        occurrence(fleet, builder, latest, streak, kind, (), cap(excerpt))
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
        occurrence(fleet, builder, latest, streak, kind, (), cap(excerpt))
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


# --- entry point ----------------------------------------------------------------------------


def analyse(
    fleet: FleetData,
    *,
    registry: Registry | None = None,
    tracker: Tracker | None = None,
    now: float | None = None,
    parsed_cache: ParseStore | None = None,
    preparsed: dict[int, ParsedLog] | None = None,
) -> Analysis:
    """Status, problems and flaky tests of ``fleet``, computed once for every consumer.

    ``parsed_cache`` and ``preparsed``: see :func:`build_tests`.
    """
    tests, parsed = build_tests(fleet, parsed_cache, preparsed)
    # A sick worker's failures are the worker's: neither test problems nor flakiness evidence
    sick = find_sick_workers(fleet, tests, parsed)
    tests = without_worker_failures(tests, sick)
    fault = frozenset(b for w in sick.values() for b, _ in w.attributed)
    problems = _collapse_mass(sick_worker_problems(fleet, sick,
                                                   _problems(fleet, tests, parsed, fault)))
    notes: list[str] = []
    flakiness = flakiness_memo(fleet, tests)
    classify_problems(problems, fleet, tests, registry, tracker, notes, flakiness)
    for problem in problems:  # one failure on several branches: a change and its backports?
        if problem.suspects and len(problem.branches) > 1:
            top = [s.change for s in problem.suspects if s.score == problem.suspects[0].score]
            problem.backports = backport_families(top)
    return Analysis(
        fleet=fleet,
        now=time.time() if now is None else now,
        status=_status(fleet),
        problems=sort_problems(problems),
        flaky=find_flaky(fleet, tests, registry, tracker, flakiness),
        tests=tests,
        notes=notes,
        parsed=parsed,
        sick_workers=sick,
    )
