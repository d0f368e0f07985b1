"""The handoff digest: what a watcher going off duty tells the next one.

``digest(analysis, since=...)`` reads one analysis (``bbwatch.triage.analysis.analyse``) and
the acknowledgements (``bbwatch.triage.acks``) and says: the problems new since ``since``,
the problems still open and who acknowledged them, the test files that failed at ``since`` and
pass now (resolved), the workers down, and the registry's issues whose tests have been green on
every builder for ``close_after_days`` (candidates to close). ``to_markdown`` is what ``bbwatch
digest`` prints; the known-failures page shows the same ``Digest`` (``since`` a day ago) as
docutils nodes (``bbwatch.sphinxext.live_acks``). Pure, no I/O.

Times come from the builds: a problem is new when its first failing build started after
``since``; a test file is resolved when it failed in a builder's last verdict before
``since`` and fails nowhere now.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bbwatch.models import Build, Worker
from bbwatch.triage.acks import Ack, AckReport, AckState, Signature, all_problems, signature
from bbwatch.triage.mdescape import code_span, md_escape, url_target
from bbwatch.triage.registry import KnownIssue, Registry
from bbwatch.triage.rows import Analysis, Problem, branch_of, describe_age, when

CLOSE_AFTER_DAYS = 14.0  # a known issue's tests green on every builder this long: close it?
DAY = 86400


@dataclass(frozen=True)
class OpenProblem:
    problem: Problem
    signature: Signature
    acks: tuple[Ack, ...]  # still holding
    expired: tuple[AckState, ...]  # no longer holding, with why


@dataclass(frozen=True)
class Resolved:
    test_file: str
    builders: tuple[str, ...]  # where it failed at `since` and passes now
    last_failure: Build


@dataclass(frozen=True)
class CloseCandidate:
    issue: KnownIssue
    green_since: float  # every builder it applies to has passed its tests since then
    builders: int  # builders whose builds show the tests green


@dataclass
class Digest:
    since: float
    now: float
    new: list[OpenProblem] = field(default_factory=list)
    still_open: list[OpenProblem] = field(default_factory=list)
    resolved: list[Resolved] = field(default_factory=list)
    workers_down: list[Worker] = field(default_factory=list)
    close_candidates: list[CloseCandidate] = field(default_factory=list)
    base_url: str = ""


def reported_problems(problems: Sequence[Problem], acks: AckReport) -> list[Problem]:
    """The problems an issue covers: linked by the registry or tracker, or acknowledged as
    ``reported as #N`` (and still holding)."""
    return [p for p in problems if p.issues or acks.reported(p.key)]


def digest(analysis: Analysis, since: float, acks: AckReport | None = None,
           registry: Registry | None = None,
           close_after_days: float = CLOSE_AFTER_DAYS) -> Digest:
    acks = acks or AckReport()
    out = Digest(since=since, now=analysis.now, base_url=analysis.fleet.base_url)
    for problem in all_problems(analysis):
        if problem.group == "mass":
            continue
        item = OpenProblem(problem, signature(problem, analysis),
                           tuple(acks.active(problem.key)),
                           tuple(s for s in acks.for_problem(problem.key)
                                 if s.status == "expired"))
        first = problem.first_seen
        (out.new if first is not None and first >= since else out.still_open).append(item)
    out.resolved = resolved_since(analysis, since)
    out.workers_down = [w for w in analysis.fleet.workers if not w.connected]
    out.close_candidates = close_candidates(analysis, registry, close_after_days)
    return out


def _verdicts(analysis: Analysis, builderid: int) -> list[Build]:
    """The builder's completed builds whose test step ran to a verdict, newest first."""
    return [b for b in analysis.fleet.builds.get(builderid, [])
            if b.complete and (t := analysis.tests.get(b.buildid)) is not None and t.ran]


def resolved_since(analysis: Analysis, since: float) -> list[Resolved]:
    failing_now = {p.test_file for p in all_problems(analysis) if p.test_file}
    found: dict[str, tuple[list[str], Build]] = {}
    for builder in analysis.fleet.builders:
        before = [b for b in _verdicts(analysis, builder.builderid)
                  if (when(b, end=True) or 0) < since]
        if not before:
            continue
        tests = analysis.tests[before[0].buildid]
        for test_file in sorted(tests.failed):
            if test_file in failing_now:
                continue
            names, last = found.setdefault(test_file, ([], before[0]))
            names.append(builder.name)
            if (when(before[0], True) or 0) > (when(last, True) or 0):
                found[test_file] = (names, before[0])
    return [Resolved(t, tuple(n), b) for t, (n, b) in sorted(found.items())]


def _applies(issue: KnownIssue, name: str, branch: str) -> bool:
    if issue.builders and not _search(issue.builders, name):
        return False
    return not (issue.branches and branch not in issue.branches)


def _search(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None  # the registry validated the pattern


def _fails(issue: KnownIssue, analysis: Analysis, build: Build) -> bool:
    """Did one of the entry's tests fail (or flake) in this build? Read widely (a failure of
    the entry's test file counts, whatever method the log named): a close candidate must be
    green beyond doubt."""
    tests = analysis.tests[build.buildid]
    files = {t.removeprefix("test.").split(".")[0] for t in issue.tests}
    for test_file in tests.failed | tests.flaky:
        ids = tests.test_ids.get(test_file, ()) or (None,)
        if test_file.split(".")[0] in files or any(
                issue.covers_test(test_file, test_id) for test_id in ids):
            return True
    return False


def close_candidates(analysis: Analysis, registry: Registry | None,
                     days: float = CLOSE_AFTER_DAYS) -> list[CloseCandidate]:
    """Registry issues whose tests passed in every analysed build since their last failure,
    on every builder they apply to, for at least ``days``. A builder's green span starts at
    its first verdict after the entry's last failure there (or at its oldest verdict)."""
    if registry is None:
        return []
    out = []
    for issue in registry.issues:
        starts: list[float] = []
        green = True
        for builder in analysis.fleet.builders:
            if not _applies(issue, builder.name, branch_of(builder)):
                continue
            verdicts = _verdicts(analysis, builder.builderid)
            if not verdicts:
                continue
            failing = [i for i, b in enumerate(verdicts) if _fails(issue, analysis, b)]
            if failing and failing[0] == 0:
                green = False
                break
            first_green = verdicts[failing[0] - 1] if failing else verdicts[-1]
            starts.append(float(when(first_green) or analysis.now))
        if green and starts and analysis.now - max(starts) >= days * DAY:
            out.append(CloseCandidate(issue, max(starts), len(starts)))
    return out


# --- Markdown ---------------------------------------------------------------------------------


def stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def problem_line(item: OpenProblem, now: float) -> str:
    p = item.problem
    builders = [b.name for b in p.builders]
    where = ", ".join(builders[:3]) + (f" and {len(builders) - 3} more" if len(builders) > 3
                                       else "")
    first = p.first_seen
    since = f", failing for {describe_age(now - first)}" if first else ""
    issue = ""
    if p.issues:
        link = p.issues[0]
        issue = f" · {_link(link.title, link.url)}" if link.url else f" · {md_escape(link.title)}"
    line = (f"- **{md_escape(p.title, False)}** ({md_escape(p.classification, False)}) on "
            f"{md_escape(where, False)}{since}{issue}")
    if item.signature.error:
        line += f"\n  signature: {code_span(item.signature.describe())}"
    for ack in item.acks:
        line += f"\n  acknowledged: {md_escape(ack.describe(), False)}"
    for state in item.expired:
        line += (f"\n  expired: {md_escape(state.ack.describe(), False)} — "
                 f"{md_escape(state.why, False)}")
    if not item.acks and p.classification == "new":
        line += "\n  nobody has acknowledged it yet"
    return line


def _link(text: str, url: str | None) -> str:
    return f"[{md_escape(text, False)}]({url_target(url)})" if url else md_escape(text, False)


def to_markdown(d: Digest) -> str:
    out = [f"# Buildbot watch handoff, {stamp(d.now)}", "",
           f"Since {stamp(d.since)}" + (f" · master <{url_target(d.base_url)}>"
                                        if d.base_url else ""), ""]
    out += [f"## New since then ({len(d.new)})", ""]
    out += [problem_line(i, d.now) for i in d.new] or ["Nothing new."]
    out += ["", f"## Still open ({len(d.still_open)})", ""]
    out += [problem_line(i, d.now) for i in d.still_open] or ["Nothing else is failing."]
    out += ["", f"## Resolved ({len(d.resolved)})", ""]
    out += [f"- {code_span(r.test_file)} passes again on "
            f"{md_escape(', '.join(r.builders), False)} (last failure: build "
            f"#{r.last_failure.number}, {stamp(float(when(r.last_failure, True) or 0))})"
            for r in d.resolved] or ["Nothing resolved."]
    out += ["", f"## Workers down ({len(d.workers_down)})", ""]
    out += [f"- {code_span(w.name)}, owner {md_escape(w.admin or 'unknown', False)}"
            for w in d.workers_down] or ["Every worker is connected."]
    out += ["", f"## Known issues to close? ({len(d.close_candidates)})", ""]
    out += [f"- {_link(f'#{c.issue.number}: {c.issue.title}', c.issue.url)}: its tests have "
            f"passed on every builder ({c.builders}) since {stamp(c.green_since)} "
            f"({describe_age(d.now - c.green_since)})"
            for c in d.close_candidates] or ["None."]
    return "\n".join(out).rstrip() + "\n"
