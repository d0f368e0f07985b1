"""Classification of the fleet picture's problems: which issue covers each (registry first,
then the tracker the caller hands in), which are flaky by the fleet's own history, and the
flaky-tests rows. Called once per analysis by ``bbwatch.triage.analysis.analyse``.
"""

from __future__ import annotations

from collections.abc import Callable

from bbwatch.domain import Failure
from bbwatch.logs.parsed import BuildTests
from bbwatch.models import FleetData
from bbwatch.triage import flaky_stats, history, matching
from bbwatch.triage.history import FlakeEvidence, FlipStats
from bbwatch.triage.registry import Registry
from bbwatch.triage.rows import FlakyRow, IssueLink, Occurrence, Problem, occurrence, when
from bbwatch.triage.search import search_candidates
from bbwatch.triage.tracker import Tracker

Flakiness = Callable[[str], tuple[list[FlakeEvidence], list[FlipStats]]]


def failure_of(problem: Problem, occ: Occurrence, rerun: bool = False) -> Failure:
    """The Failure matching reads for one problem on one builder."""
    return Failure(
        test_file=problem.test_file or problem.kind,
        test_id=occ.test_ids[0] if occ.test_ids else None,
        builder=occ.builder.name,
        branch=occ.branch,
        message=occ.excerpt or None,
        kind="failed" if problem.group == "test" else problem.kind,
        passed_on_rerun=rerun,
    )


def match_problem(problem: Problem, occ: Occurrence, registry: Registry | None,
                  tracker: Tracker | None, rerun: bool = False
                  ) -> tuple[str, list[IssueLink], str | None]:
    """(matching's classification, issue links, tracker note) for one problem.

    Registry first, then the tracker (a network edge the caller chose to hand in); a tracker
    failure never raises, its note ends up on the page.
    """
    failure = failure_of(problem, occ, rerun)
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


def classify_problems(
    problems: list[Problem], fleet: FleetData, tests: dict[int, BuildTests],
    registry: Registry | None, tracker: Tracker | None, notes: list[str],
    flakiness: Flakiness | None = None,
) -> None:
    """Set each problem's classification, issues, flakiness evidence and suspects."""
    flakiness = flakiness or flakiness_memo(fleet, tests)
    for problem in problems:
        for p in [problem, *problem.children]:
            verdict = "new"
            if not p.occurrences:
                p.classification = "infra" if p.group == "infra" else verdict
                continue
            occ = p.occurrences[0]
            if registry is not None or tracker is not None:
                verdict, p.issues, note = match_problem(p, occ, registry, tracker)
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


def sort_problems(problems: list[Problem]) -> list[Problem]:
    order = {"mass": 0, "test": 1, "build": 2, "infra": 3}
    cls = {"new": 0, "known": 1, "flaky": 2, "infra": 3}
    return sorted(
        problems,
        key=lambda p: (order[p.group], cls.get(p.classification, 9), -len(p.occurrences),
                       -(p.last_seen or 0), p.title),
    )


def flakiness_memo(fleet: FleetData, tests: dict[int, BuildTests]) -> Flakiness:
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


def find_flaky(fleet: FleetData, tests: dict[int, BuildTests], registry: Registry | None,
               tracker: Tracker | None, flakiness: Flakiness | None = None) -> list[FlakyRow]:
    """The flaky-tests rows: test files with flakiness evidence, ranked by
    ``flaky_stats.rank`` (the Wilson lower bound of the failure rate first)."""
    flakiness = flakiness or flakiness_memo(fleet, tests)
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
        last = max((e.build for e in evidence), key=lambda b: (when(b, end=True) or 0))
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
            occ = occurrence(fleet, builders[0], last, None, test_file, row.test_ids, "")
            _verdict, links, _note = match_problem(probe, occ, registry, tracker, rerun=True)
            row.issue = links[0] if links else None
        rows.append(row)
    return flaky_stats.rank(rows)
