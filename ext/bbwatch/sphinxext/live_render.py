"""Docutils nodes for the live blocks, from an :class:`~bbwatch.triage.rows.Analysis`.

Every string that came from the network goes into a ``nodes.Text`` (or a literal block), so the
HTML writer escapes it; no ``nodes.raw`` anywhere. Links only ever point at http(s) URLs.
Nothing here computes: filtering and ordering come from the Analysis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from docutils import nodes

from bbwatch.models import Build, Result
from bbwatch.source.urls import build_url
from bbwatch.triage.history import Suspect
from bbwatch.triage.rows import (
    Analysis,
    BranchStatus,
    BuilderRow,
    FlakyRow,
    IssueLink,
    Occurrence,
    Problem,
    describe_age,
    describe_streak,
)

# sphinx-design colour names for each result; the word is always printed next to the colour.
_RESULT_COLOURS = {
    Result.SUCCESS: "success",
    Result.WARNINGS: "warning",
    Result.FAILURE: "danger",
    Result.SKIPPED: "secondary",
    Result.EXCEPTION: "dark",
    Result.RETRY: "dark",
    Result.CANCELLED: "secondary",
}
_CLASS_COLOURS = {"new": "danger", "known": "info", "flaky": "warning", "infra": "dark"}

DocLink = Callable[[str], str | None]  # docname -> relative URI, or None if no such page

# Sphinx's search index skips a node with this class. Given to the bulk that changes with every
# build and that a page's own find does better: the status tables (builder, worker and tag
# names), the failure matrix, the flaky tests' per-builder lists. Problems, tests and issues
# stay searchable.
NO_SEARCH = "no-search"


# Terminal colour/hyperlink sequences (regrtest 3.14 colours its output): dropped.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Other C0 controls and DEL become their visible "control picture" (NUL -> U+2400), bidi
# overrides a visible <U+202E>: a master's text can neither hide nor reorder the page's text.
_VISIBLE = {c: chr(0x2400 + c) for c in range(32) if chr(c) not in "\t\n"}
_VISIBLE |= {0x7F: "\u2421", **{ord(c): f"<U+{ord(c):04X}>" for c in _BIDI}}


def clean(text: str) -> str:
    """A network string made safe to show: no terminal escapes, controls or bidi overrides."""
    # Everything below rewrites only non-printable characters (ESC, CR, C0, DEL, bidi format
    # characters), so a printable string, nearly every one, is already clean.
    if text.isprintable():
        return text
    return _ANSI.sub("", text).replace("\r\n", "\n").translate(_VISIBLE)


def clean_tree(tree: Sequence[nodes.Node]) -> None:
    """Apply :func:`clean` to every text (and link target) of rendered nodes, in place."""
    for top in tree:
        for text in list(top.findall(nodes.Text)):
            cleaned = clean(str(text))  # not astext(): that drops NULs
            if cleaned != str(text):
                text.parent.replace(text, nodes.Text(cleaned))
        for ref in top.findall(nodes.reference):
            if "refuri" in ref:
                ref["refuri"] = clean(ref["refuri"])
        for block in top.findall(nodes.literal_block):
            block.rawsource = clean(block.rawsource)


# --- building nodes -------------------------------------------------------------------------

E = TypeVar("E", bound=nodes.Element)
T = TypeVar("T", bound=nodes.TextElement)


def _add(parent: E, *children: nodes.Node) -> E:
    """``parent`` holding ``children`` after what it holds (for building trees in one
    expression)."""
    parent.extend(children)
    return parent


def _text(cls: type[T], text: str, classes: Sequence[str] = (), **attributes: Any) -> T:
    """``cls(text, text, classes=[...])``, the usual text element."""
    return cls(text, text, classes=list(classes), **attributes)


def fmt_time(epoch: float | None) -> str:
    if not epoch:
        return "unknown time"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def safe_url(url: str | None) -> str | None:
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


def badge(text: str, colour: str, *extra: str, outline: bool = False) -> nodes.inline:
    """A sphinx-design badge (its own CSS classes) holding ``text`` as escaped text."""
    style = [f"sd-outline-{colour}", f"sd-text-{colour}"] if outline else [
        f"sd-bg-{colour}", f"sd-bg-text-{colour}"]
    return _text(nodes.inline, text, ["sd-sphinx-override", "sd-badge", *style, *extra])


def result_badge(result: Result | None, connected: bool | None = None) -> nodes.inline:
    if result is None:  # the worker state has its own column
        return badge("no builds", "secondary", "bbwatch-result", "bbwatch-result-none")
    return badge(result.word, _RESULT_COLOURS[result], "bbwatch-result",
                 f"bbwatch-result-{result.word}")


def link(text: str, url: str | None, *classes: str) -> nodes.Node:
    url = safe_url(url)
    if url is None:
        return _text(nodes.inline, text, classes)
    return _text(nodes.reference, text, classes, refuri=url)


def para(*children: nodes.Node | str, classes: Sequence[str] = ()) -> nodes.paragraph:
    return _add(nodes.paragraph(classes=list(classes)),
                  *(nodes.Text(c) if isinstance(c, str) else c for c in children))


def _table(headers: Sequence[str], rows: Iterable[Sequence[nodes.Node]], classes: Sequence[str],
           widths: Sequence[int]) -> nodes.table:
    head = _add(nodes.thead(), _add(nodes.row(), *(_add(nodes.entry(), para(title))
                                                        for title in headers)))
    body = _add(nodes.tbody(), *(_add(nodes.row(), *(_add(nodes.entry(), cell)
                                                          for cell in cells))
                                   for cells in rows))
    group = _add(nodes.tgroup(cols=len(headers)),
                   *(nodes.colspec(colwidth=width) for width in widths), head, body)
    return _add(nodes.table(classes=["bbwatch-table", *classes]), group)


def _item(*children: nodes.Node | str) -> nodes.list_item:
    """A list item holding one paragraph."""
    return _add(nodes.list_item(), para(*children))


def _list(cls: type[E], items: Iterable[nodes.Node], classes: Sequence[str] = ()) -> E:
    return _add(cls(classes=list(classes)), *items)


# --- banners --------------------------------------------------------------------------------


def fetched_line(analysis: Analysis) -> nodes.paragraph:
    fleet = analysis.fleet
    how = {"live": "live", "cache": "cached copy", "snapshot": "recorded snapshot"}.get(
        fleet.source, fleet.source
    )
    return para(
        "Data fetched ",
        _text(nodes.inline, fmt_time(fleet.fetched_at), ["bbwatch-fetched-at"]),
        " from ",
        link(fleet.base_url, fleet.base_url),
        f" ({how}).",
        classes=["bbwatch-meta"],
    )


def unavailable(reason: str, data_time: float | None) -> nodes.admonition:
    shown = (f"showing data from {fmt_time(data_time)}" if data_time
             else "no earlier data to show")
    return _add(nodes.admonition(classes=["warning", "bbwatch-unavailable"]),
                  _text(nodes.title, "Live data unavailable"),
                  para(f"Live data unavailable: {reason}; {shown}."))


def disabled() -> nodes.note:
    return _add(nodes.note(classes=["bbwatch-offline"]), para(
        "Live data is disabled for this build (bbwatch_offline): the pages are built "
        "without contacting the Buildbot master."))


def notes_box(notes: Sequence[str]) -> list[nodes.Node]:
    if not notes:
        return []
    return [_list(nodes.note, (para(note) for note in notes), ["bbwatch-notes"])]


# --- status ---------------------------------------------------------------------------------


def status(sections: Sequence[BranchStatus], analysis: Analysis) -> list[nodes.Node]:
    if not sections:
        return [para("No builder matches this selection.", classes=["bbwatch-empty"])]
    out: list[nodes.Node] = []
    summaries = [section.summary for section in sections]  # a property that counts its rows
    if len(sections) > 1:
        out.append(_list(nodes.bullet_list, (_item(summary) for summary in summaries),
                         ["bbwatch-summary"]))
    for section, summary in zip(sections, summaries, strict=True):
        out.append(_text(nodes.rubric, section.branch, ["bbwatch-branch"]))
        out.append(para(_text(nodes.strong, summary), classes=["bbwatch-branch-summary"]))
        out.append(_table(
            ["Builder", "Result", "Since", "Worker", "Links"],
            (_status_row(row, analysis) for row in section.rows),
            ["bbwatch-status", NO_SEARCH], [30, 12, 25, 15, 18],
        ))
    return out


def _status_row(row: BuilderRow, analysis: Analysis) -> list[nodes.Node]:
    name = para(_text(nodes.strong, row.builder.name), classes=["bbwatch-builder"])
    tags = para(classes=["bbwatch-tags"])
    for tag in row.builder.tags:
        _add(tags, badge(tag, "secondary", "bbwatch-tag", outline=True), nodes.Text(" "))
    label = row.severity.label
    result = para(result_badge(row.result, row.connected), " ", _text(nodes.emphasis, label))
    since = describe_streak(row.streak, analysis.now)
    if not since and row.last_build is not None:
        finished = row.last_build.complete_at
        since = f"build #{row.last_build.number}" + (
            f", {describe_age(analysis.now - finished)} ago" if finished else "")
    if row.running is not None:
        since += f"; build #{row.running.number} running"
    worker = row.worker
    if worker is None:
        worker_cell = para("unknown worker")
    else:
        state = "connected" if worker.connected else "disconnected"
        worker_cell = para(worker.name, " ",
                           badge(state, "success" if worker.connected else "danger",
                                 "bbwatch-worker-state", outline=True))
        if worker.name in analysis.sick_workers:  # its failures are the machine's, not tests'
            _add(worker_cell, nodes.Text(" "),
                 badge("sick worker", "danger", "bbwatch-sick-worker"),
                 nodes.Text(f" owner: {worker.admin}" if worker.admin else " owner unknown"))
    links = para(link("builder", row.builder_url))
    if row.build_url and row.last_build is not None:
        _add(links, nodes.Text(" · "),
               link(f"build #{row.last_build.number}", row.build_url))
    return [_add(nodes.container(), name, tags), result, para(since), worker_cell, links]


# --- known failures -------------------------------------------------------------------------


def problems(rows: Sequence[Problem], analysis: Analysis, doc_link: DocLink) -> list[nodes.Node]:
    tests = [p for p in rows if p.group in ("test", "mass")]
    builds = [p for p in rows if p.group == "build"]
    infra = [p for p in rows if p.group == "infra"]
    out: list[nodes.Node] = []
    counts = {c: sum(1 for p in tests if p.classification == c) for c in ("new", "known", "flaky")}
    summary = (f"{len(tests)} test problem{'s' if len(tests) != 1 else ''} "
               f"({counts['new']} new, {counts['known']} known, {counts['flaky']} flaky), "
               + (f"{len(builds)} build failure{'s' if len(builds) != 1 else ''}, "
                  if builds else "")
               + f"{len(infra)} infrastructure problem{'s' if len(infra) != 1 else ''}.")
    out.append(para(summary, classes=["bbwatch-summary"]))
    if not tests:
        out.append(para("No failing test right now.", classes=["bbwatch-empty"]))
    for problem in tests:
        out.append(_problem(problem, analysis, doc_link))
    if builds:
        # configure/compile failures are reported like test failures (the build label)
        out.append(_text(nodes.rubric, "Build failures", ["bbwatch-build"]))
        for problem in builds:
            out.append(_problem(problem, analysis, doc_link))
    out.append(_text(nodes.rubric, "Infrastructure", ["bbwatch-infra"]))
    if not infra:
        out.append(para("No infrastructure problem right now.", classes=["bbwatch-empty"]))
    for problem in infra:
        out.append(_problem(problem, analysis, doc_link))
    return out


def _field(name: str, *body: nodes.Node) -> nodes.field:
    return _add(nodes.field(), _text(nodes.field_name, name),
                  _add(nodes.field_body(), *body))


def _occurrence_item(occ: Occurrence, analysis: Analysis) -> nodes.list_item:
    p = para(link(occ.builder.name, occ.builder_url, "bbwatch-builder"), f" ({occ.branch}): ",
             link(f"build #{occ.latest.number}", occ.build_url))
    streak = describe_streak(occ.streak, analysis.now)
    if streak:
        _add(p, nodes.Text(f", {streak}"))
    if occ.streak is not None and occ.streak.last_good is not None:
        _add(p, nodes.Text(f", last good build #{occ.streak.last_good.number}"))
    return _add(nodes.list_item(), p)


def _issue_item(issue: IssueLink) -> nodes.list_item:
    p = para(link(issue.title or "issue", issue.url), f" ({issue.source})")
    if issue.reason:
        _add(p, nodes.Text(f": {issue.reason}"))
    return _add(nodes.list_item(), p)


def _problem(problem: Problem, analysis: Analysis, doc_link: DocLink) -> nodes.container:
    box = nodes.container(classes=["bbwatch-problem", f"bbwatch-{problem.classification}",
                                   f"bbwatch-group-{problem.group}"])
    head = para(badge(problem.classification, _CLASS_COLOURS.get(problem.classification, "dark"),
                      "bbwatch-classification"), " ",
                _text(nodes.strong, problem.title), classes=["bbwatch-problem-title"])
    _add(box, head)
    fields: list[nodes.field] = []
    test_ids = problem.test_ids  # a property that merges the occurrences' ids
    if test_ids:
        fields.append(_field("Test ids", _list(
            nodes.bullet_list, (_item(_text(nodes.literal, t)) for t in test_ids[:10]))))
    if problem.children:
        fields.append(_field("Includes", _list(
            nodes.bullet_list, (_item(child.title) for child in problem.children))))
    where = _list(nodes.bullet_list, (_occurrence_item(occ, analysis)
                                      for occ in problem.occurrences), ["bbwatch-where"])
    for builder, _worker in problem.idle:
        _add(where, _item(_text(nodes.strong, builder.name),
                            f" ({builder.branch or 'other'}): no build yet"))
    fields.append(_field("Fails now on" if problem.kind != "disconnected" else "Builders", where))
    fields.append(_field("First seen", para(fmt_time(problem.first_seen))))
    fields.append(_field("Last seen", para(fmt_time(problem.last_seen))))
    workers = problem.workers if problem.group == "infra" else []
    if workers:
        fields.append(_field("Contact", _list(nodes.bullet_list, (
            _item(f"worker {worker.name}" + (f" (owner: {worker.admin})" if worker.admin
                                             else " (owner unknown)"))
            for worker in workers))))
    if problem.suspects:
        fields.append(_field("Suspect changes", _list(nodes.enumerated_list, (
            _suspect_item(suspect) for suspect in problem.suspects[:5]), ["bbwatch-suspects"])))
    if problem.backports:  # the suspects are one change and its backports
        fields.append(_field("Change and backports", _list(nodes.bullet_list, (
            _item(family.describe()) for family in problem.backports), ["bbwatch-backports"])))
    if problem.issues:
        fields.append(_field("Issue", _list(
            nodes.bullet_list, (_issue_item(issue) for issue in problem.issues),
            ["bbwatch-issues"])))
    elif problem.group != "infra":
        fields.append(_field("Issue", para("none found: report it (see the triage checklist)")))
    if problem.evidence:
        fields.append(_field("Flaky evidence", _list(nodes.bullet_list, (
            _item(f"{_builder_name(analysis, item.builderid)} build #{item.build.number}: "
                  f"{item.detail}")
            for item in problem.evidence[:5]), ["bbwatch-evidence"])))
    triage = _triage_links(problem, doc_link)
    if triage is not None:
        fields.append(_field("Triage", triage))
    _add(box, _list(nodes.field_list, fields, ["bbwatch-fields"]))
    excerpt = problem.excerpt
    if problem.kind == "disconnected":
        excerpt = ""  # the worker's name and owner above say it all
    if excerpt:
        # log output, not Python: plain text (the Python lexer only coloured it at random)
        _add(box, nodes.literal_block(excerpt, excerpt, classes=["bbwatch-excerpt"],
                                        language="text"))
    return box


def _suspect_item(suspect: Suspect) -> nodes.list_item:
    change = suspect.change
    rev = (change.revision or "")[:12]
    return _item(link(rev or f"change {change.changeid}", change.revlink),
                 f" {change.title} — {change.author}: {suspect.reason}")


def _builder_name(analysis: Analysis, builderid: int) -> str:
    builder = analysis.fleet.builder(builderid)
    return builder.name if builder else str(builderid)


def _triage_links(problem: Problem, doc_link: DocLink) -> nodes.paragraph | None:
    p = para(classes=["bbwatch-triage"])
    found = False
    for occ in problem.occurrences[:5]:
        uri = doc_link(occ.triage_docname)
        if uri is None:
            continue
        if found:
            _add(p, nodes.Text(" · "))
        label = "Triage" if len(problem.occurrences) == 1 else f"Triage ({occ.builder.name})"
        _add(p, _text(nodes.reference, label, refuri=uri, internal=True))
        found = True
    return p if found else None


# --- flaky ----------------------------------------------------------------------------------


def flaky(rows: Sequence[FlakyRow], analysis: Analysis) -> list[nodes.Node]:
    if not rows:
        return [para("No flaky test in the analysed history.", classes=["bbwatch-empty"])]
    return [_table(
        ["Test", "Flip rate", "Runs", "Last flake", "Builders", "Evidence", "Issue"],
        (_flaky_row(row, analysis) for row in rows),
        ["bbwatch-flaky"], [20, 10, 7, 17, 17, 20, 9],
    )]


def _build_ref(build: Build, analysis: Analysis) -> nodes.paragraph:
    name = _builder_name(analysis, build.builderid)
    return para(link(f"{name} #{build.number}",
                     build_url(analysis.fleet.base_url, build.builderid, build.number)),
                f" ({fmt_time(build.complete_at or build.started_at)})")


def _flaky_row(row: FlakyRow, analysis: Analysis) -> list[nodes.Node]:
    builders = _list(nodes.bullet_list, (_item(builder.name) for builder in row.builders))
    evidence = nodes.bullet_list()
    reruns = sum(1 for e in row.evidence if e.kind == "rerun")
    if reruns:
        _add(evidence, _item(
            f"failed, then passed on re-run in {reruns} build{'s' if reruns != 1 else ''}"))
    same = sum(1 for e in row.evidence if e.kind == "same-revision")
    if same:
        _add(evidence, _item(
            f"failed and passed on the same revision {same} time{'s' if same != 1 else ''}"))
    for item in row.evidence:
        if item.kind == "flips":
            where = _builder_name(analysis, item.builderid)
            _add(evidence, _item(f"{where}: {item.detail} (breakage excluded)"))
    issue = para(link(row.issue.title, row.issue.url)) if row.issue else para("none")
    test = _add(nodes.container(), para(_text(nodes.literal, row.test_file)))
    shown = [t for t in row.test_ids if t != row.test_file]
    if shown:
        _add(test, _list(nodes.bullet_list, (_item(test_id) for test_id in shown[:5]),
                           ["bbwatch-test-ids"]))
    return [
        test,
        para(f"{row.rate:.0%}", f" ({row.flips} flips)"),
        para(str(row.runs)),
        _build_ref(row.last_flake, analysis),
        builders,
        evidence,
        issue,
    ]
