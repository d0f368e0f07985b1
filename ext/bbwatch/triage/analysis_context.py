"""Triage contexts from the fleet analysis (``bbwatch.triage.rows.Analysis``): one per
known-failures row for the site's per-failure pages, one per build for ``bbwatch triage``."""

from __future__ import annotations

import re

from bbwatch.logs.parsed import ParsedLog, parse_log
from bbwatch.models import Build
from bbwatch.source.urls import build_url, builder_url, log_url
from bbwatch.triage import history
from bbwatch.triage.context import (
    KNOWN_CONFIDENCE,
    BuildLink,
    Candidate,
    FailureContext,
    SuspectChange,
    TriageContext,
    matching_failure,
)
from bbwatch.triage.matching import rank
from bbwatch.triage.registry import Registry
from bbwatch.triage.rows import Analysis, Occurrence, Problem, branch_of
from bbwatch.triage.search import search_candidates
from bbwatch.triage.tracker import Tracker

_ERROR_LINE = re.compile(
    r"^\s*((?:[\w.]+(?:Error|Exception|Failure|Warning|Exit|Interrupt)\b.*)"
    r"|Fatal Python error:.*|Timeout \(.*|.*\btimed out\b.*|.*No space left on device.*)$"
)
_ISSUE_NUMBER = re.compile(r"/(?:issues|pull)/(\d+)(?:[/#?].*)?$")


def error_line(excerpt: str) -> str:
    """The most telling line of a log excerpt: the last exception line, else the last line."""
    lines = [ln for ln in (excerpt or "").splitlines() if ln.strip() and ln.strip() != "[...]"]
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def _candidates(problem: Problem) -> tuple[Candidate, ...]:
    out = []
    for link in getattr(problem, "issues", ()) or ():
        url = link.url or ""
        found = _ISSUE_NUMBER.search(url)
        state = "closed" if "closed" in (link.reason or "") else "open"
        number = int(found.group(1)) if found else None
        title = re.sub(rf"^#{number}:\s*", "", link.title) if number else link.title
        # The analysis links issues only for failures it calls known: confident by definition.
        out.append(Candidate(title, url, number, state, link.reason or "", KNOWN_CONFIDENCE,
                             link.source))
    return tuple(out)


def add_candidates(ctx: TriageContext, tracker: Tracker | None,
                   registry: Registry | None = None) -> None:
    """Fill each failure's candidates with every match the matcher finds, weak ones included
    (the analysis keeps only confident ones for the known-failures page; a watcher deciding
    between "comment" and "file" wants to see the rest). ``tracker`` is the network edge."""
    for f in ctx.failures:
        failure = matching_failure(ctx, f, f.test_ids[0] if f.test_ids else "")
        issues, note = search_candidates(tracker, failure) if tracker is not None else ([], None)
        if note and note not in ctx.notes:
            ctx.notes.append(note)
        known = {c.number for c in f.candidates if c.number}
        extra = [
            Candidate(m.issue.title, m.issue.url, m.issue.number, m.issue.state, m.reason,
                      m.confidence, m.source)
            for m in rank(failure, issues, registry)
            if m.issue.number not in known
        ]
        f.candidates = (*f.candidates, *extra)


def _suspects(problem: Problem) -> list[SuspectChange]:
    return [
        SuspectChange(s.change.title, s.change.revision or "", s.change.author,
                      s.change.revlink or "", s.reason, s.score)
        for s in getattr(problem, "suspects", ()) or ()
    ]


def _links(occ: Occurrence, base_url: str) -> tuple[BuildLink | None, BuildLink | None]:
    bid = occ.builder.builderid
    first = occ.first_failing
    first_link = BuildLink(first.number, build_url(base_url, bid, first.number))
    good = occ.streak.last_good if occ.streak else None
    good_link = BuildLink(good.number, build_url(base_url, bid, good.number)) if good else None
    return first_link, good_link


def _log_url(base_url: str, occ: Occurrence, step: str = "test") -> str:
    names = [s.name for s in occ.latest.steps]
    if step not in names:
        failed = [s for s in occ.latest.steps if s.result is not None and s.result.is_bad]
        if not failed:
            return occ.build_url
        step = failed[0].name
    return log_url(base_url, occ.builder.builderid, occ.latest.number, step)


def _base_context(occ: Occurrence, base_url: str) -> TriageContext:
    first, good = _links(occ, base_url)
    result = occ.latest.result.word if occ.latest.result is not None else "unknown"
    worker = occ.worker
    return TriageContext(
        build_url=occ.build_url,
        builder=occ.builder.name,
        build_number=occ.latest.number,
        result=result,
        branch=occ.branch or "",
        revision=occ.latest.revision or "",
        worker=worker.name if worker else "",
        owner=(worker.admin or "") if worker else "",
        builder_url=occ.builder_url,
        log_url=_log_url(base_url, occ),
        first_failing=first,
        last_good=good,
    )


def _parsed(analysis: Analysis, buildid: int) -> ParsedLog | None:
    """The build's ParsedLog: from the analysis, else parsed here from the fleet's raw log."""
    found = (getattr(analysis, "parsed", None) or {}).get(buildid)
    if found is None:
        log = analysis.fleet.test_logs.get(buildid)
        if log:
            found = parse_log(log, True)
    return found


def _outcomes(analysis: Analysis, buildid: int) -> dict[str, tuple[str, str]]:
    """test file -> (kind, first error message) from the build's test log."""
    parsed = _parsed(analysis, buildid)
    return parsed.outcomes if parsed is not None else {}


def _run_ids(analysis: Analysis, buildid: int, test_file: str) -> tuple[str, ...]:
    parsed = _parsed(analysis, buildid)
    return parsed.outcome_ids.get(test_file, ()) if parsed is not None else ()


def _failure(problem: Problem, occ: Occurrence, analysis: Analysis) -> FailureContext:
    tests = analysis.tests.get(occ.latest.buildid)
    status = tests.status(problem.test_file) if tests is not None else None
    kind, message = _outcomes(analysis, occ.latest.buildid).get(problem.test_file, ("", ""))
    if status == "flaky":
        kind = "flaky"
    return FailureContext(
        test_file=problem.test_file,
        test_ids=tuple(occ.test_ids),
        kind=kind or "failed",
        message=message or error_line(occ.excerpt),
        excerpt=occ.excerpt,
        candidates=_candidates(problem),
        passed_on_rerun=kind == "flaky",
    )


def _seed(analysis: Analysis, buildid: int) -> str:
    parsed = _parsed(analysis, buildid)
    return parsed.seed if parsed is not None else ""


def _command(analysis: Analysis, buildid: int) -> str:
    """The builder's regrtest command line, as the parsed log kept it (the raw log may be
    gone: a cached parse or the last fetch stands in for it)."""
    parsed = _parsed(analysis, buildid)
    return parsed.command if parsed is not None else ""


def context_from_occurrence(problem: Problem, occ: Occurrence, analysis: Analysis) -> TriageContext:
    """One known-failures row (a problem on one builder) as a triage context."""
    ctx = _base_context(occ, analysis.fleet.base_url)
    ctx.seed = _seed(analysis, occ.latest.buildid)
    ctx.test_command = _command(analysis, occ.latest.buildid)
    ctx.suspects = _suspects(problem)
    ctx.notes = list(getattr(analysis, "notes", ()) or ())
    if problem.group in ("build", "infra"):  # a non-test failure: its own checklist
        ctx.infra = problem.kind
        ctx.excerpt = occ.excerpt
    elif problem.test_file:
        ctx.failures = [_failure(problem, occ, analysis)]
    return ctx


def contexts_from_analysis(analysis: Analysis) -> list[tuple[str, TriageContext]]:
    """(docname, context) for every known-failures row: the site's per-failure pages."""
    out: list[tuple[str, TriageContext]] = []
    seen: set[str] = set()
    for problem in analysis.problems:
        for p in [problem, *getattr(problem, "children", ())]:
            if p.group == "mass":
                continue
            for occ in p.occurrences:
                if occ.triage_docname in seen:
                    continue
                seen.add(occ.triage_docname)
                out.append((occ.triage_docname, context_from_occurrence(p, occ, analysis)))
    return out


def context_for_build(analysis: Analysis, builderid: int, number: int) -> TriageContext | None:
    """Every problem of one build merged into one context (the CLI's view of a build), or None
    when the analysis does not hold that build."""
    builds = analysis.fleet.builds.get(builderid, [])
    build = next((b for b in builds if b.number == number), None)
    if build is None:
        return None
    occurrences = [
        (p, occ)
        for problem in analysis.problems
        for p in [problem, *getattr(problem, "children", ())]
        if p.group != "mass"
        for occ in p.occurrences
        if occ.builder.builderid == builderid and occ.latest.number == number
    ]
    tests = [(p, o) for p, o in occurrences if p.group == "test" and p.test_file]
    infra = [(p, o) for p, o in occurrences if p.group in ("build", "infra")]
    if occurrences:
        ctx = _base_context(occurrences[0][1], analysis.fleet.base_url)
    else:
        ctx = _bare_context(analysis, builderid, build)
    ctx.notes = list(getattr(analysis, "notes", ()) or ())
    ctx.seed = _seed(analysis, build.buildid)
    ctx.test_command = _command(analysis, build.buildid)
    suspects: dict[str, SuspectChange] = {}
    for p, occ in tests:
        ctx.failures.append(_failure(p, occ, analysis))
        for s in _suspects(p):
            suspects.setdefault(s.revision or s.title, s)
    if infra and not tests:
        p, occ = infra[0]
        ctx.infra = p.kind
        ctx.excerpt = occ.excerpt
        for s in _blamelist_suspects(analysis, occ, p.kind):
            suspects.setdefault(s.revision or s.title, s)
    _add_flaky(ctx, analysis, build)
    ctx.suspects = sorted(suspects.values(), key=lambda s: -s.score)
    return ctx


_NOT_A_CHANGE = ("disconnected", "exception", "retry", "disk-full", "unknown")


def _blamelist_suspects(analysis: Analysis, occ: Occurrence, kind: str) -> list[SuspectChange]:
    """A build that stopped compiling: the changes of the first build failing at the same
    step (the streak of that step, not of any failure), through history's ranking."""
    if kind in _NOT_A_CHANGE:
        return []  # the worker or the master, not a change
    builds = [b for b in analysis.fleet.builds.get(occ.builder.builderid, [])
              if b.complete and b.number <= occ.latest.number]  # newest first
    first = None
    for build in builds:
        failed = [s for s in build.steps if s.result is not None and s.result.is_bad]
        if not failed or not failed[0].name.lower().startswith(kind):
            break
        first = build
    if first is None:
        return []
    return [SuspectChange(s.change.title, s.change.revision or "", s.change.author,
                          s.change.revlink or "", s.reason, s.score)
            for s in history.suspects(list(reversed(first.changes)), None)]


def _bare_context(analysis: Analysis, builderid: int, build: Build) -> TriageContext:
    fleet = analysis.fleet
    builder = fleet.builder(builderid)
    worker = fleet.worker_for(builderid)
    name = builder.name if builder else str(builderid)
    return TriageContext(
        build_url=build_url(fleet.base_url, builderid, build.number),
        builder=name,
        build_number=build.number,
        result=build.result.word if build.result is not None else "running",
        branch=branch_of(builder) if builder else "",
        revision=build.revision or "",
        worker=worker.name if worker else "",
        owner=(worker.admin or "") if worker else "",
        builder_url=builder_url(fleet.base_url, builderid),
    )


def _add_flaky(ctx: TriageContext, analysis: Analysis, build: Build) -> None:
    """Tests that failed then passed on re-run make a build orange, not red: triage them too."""
    tests = analysis.tests.get(build.buildid)
    if tests is None:
        return
    have = {f.test_file for f in ctx.failures}
    parsed = _parsed(analysis, build.buildid)
    outcomes = _outcomes(analysis, build.buildid)
    for test_file in sorted(tests.flaky - have):
        excerpt = (parsed.excerpts.get(test_file) or parsed.tail) if parsed is not None else ""
        ctx.failures.append(FailureContext(
            test_file=test_file,
            test_ids=tuple(tests.test_ids.get(test_file, ()))
            or _run_ids(analysis, build.buildid, test_file),
            kind="flaky",
            message=outcomes.get(test_file, ("", ""))[1] or error_line(excerpt),
            excerpt=excerpt,
            passed_on_rerun=True,
        ))
