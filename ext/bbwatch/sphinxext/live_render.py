"""Docutils nodes for the live blocks, from an :class:`~bbwatch.analysis.Analysis`.

Every string that came from the network goes into a ``nodes.Text`` (or a literal block), so the
HTML writer escapes it; no ``nodes.raw`` anywhere. Links only ever point at http(s) URLs.
Nothing here computes: filtering and ordering come from the Analysis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence

from docutils import nodes

from bbwatch.analysis import (
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
from bbwatch.models import Build, Result

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


# Terminal colour/hyperlink sequences (regrtest 3.14 colours its output): dropped.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Other C0 controls and DEL become their visible "control picture" (NUL -> U+2400), bidi
# overrides a visible <U+202E>: a master's text can neither hide nor reorder the page's text.
_VISIBLE = {c: chr(0x2400 + c) for c in range(32) if chr(c) not in "\t\n"}
_VISIBLE |= {0x7F: "\u2421", **{ord(c): f"<U+{ord(c):04X}>" for c in _BIDI}}


def clean(text: str) -> str:
    """A network string made safe to show: no terminal escapes, controls or bidi overrides."""
    return _ANSI.sub("", text).replace("\r\n", "\n").translate(_VISIBLE)


def clean_tree(tree: Sequence[nodes.Node]) -> None:
    """Apply :func:`clean` to every text (and link target) of rendered nodes, in place."""
    for top in tree:
        for text in list(top.findall(nodes.Text)):
            cleaned = clean(str(text))
            if cleaned != str(text):
                text.parent.replace(text, nodes.Text(cleaned))
        for ref in top.findall(nodes.reference):
            if "refuri" in ref:
                ref["refuri"] = clean(ref["refuri"])
        for block in top.findall(nodes.literal_block):
            block.rawsource = clean(block.rawsource)


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
    return nodes.inline(text, text, classes=["sd-sphinx-override", "sd-badge", *style, *extra])


def result_badge(result: Result | None, connected: bool | None = None) -> nodes.inline:
    if result is None:  # the worker state has its own column
        return badge("no builds", "secondary", "bbwatch-result", "bbwatch-result-none")
    return badge(result.word, _RESULT_COLOURS[result], "bbwatch-result",
                 f"bbwatch-result-{result.word}")


def link(text: str, url: str | None, *classes: str) -> nodes.Node:
    url = safe_url(url)
    if url is None:
        return nodes.inline(text, text, classes=list(classes))
    return nodes.reference(text, text, refuri=url, classes=list(classes))


def para(*children: nodes.Node | str, classes: Sequence[str] = ()) -> nodes.paragraph:
    p = nodes.paragraph(classes=list(classes))
    for child in children:
        p += nodes.Text(child) if isinstance(child, str) else child
    return p


def _table(headers: Sequence[str], rows: Iterable[Sequence[nodes.Node]], classes: Sequence[str],
           widths: Sequence[int]) -> nodes.table:
    table = nodes.table(classes=["bbwatch-table", *classes])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for title in headers:
        row += nodes.entry("", para(title))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell
            row += entry
        body += row
    return table


# --- banners --------------------------------------------------------------------------------


def fetched_line(analysis: Analysis) -> nodes.paragraph:
    fleet = analysis.fleet
    how = {"live": "live", "cache": "cached copy", "snapshot": "recorded snapshot"}.get(
        fleet.source, fleet.source
    )
    return para(
        "Data fetched ",
        nodes.inline(fmt_time(fleet.fetched_at), fmt_time(fleet.fetched_at),
                     classes=["bbwatch-fetched-at"]),
        " from ",
        link(fleet.base_url, fleet.base_url),
        f" ({how}).",
        classes=["bbwatch-meta"],
    )


def unavailable(reason: str, data_time: float | None) -> nodes.admonition:
    shown = (f"showing data from {fmt_time(data_time)}" if data_time
             else "no earlier data to show")
    box = nodes.admonition(classes=["warning", "bbwatch-unavailable"])
    box += nodes.title("Live data unavailable", "Live data unavailable")
    box += para(f"Live data unavailable: {reason}; {shown}.")
    return box


def disabled() -> nodes.note:
    box = nodes.note(classes=["bbwatch-offline"])
    box += para("Live data is disabled for this build (bbwatch_offline): the pages are built "
                "without contacting the Buildbot master.")
    return box


def notes_box(notes: Sequence[str]) -> list[nodes.Node]:
    if not notes:
        return []
    box = nodes.note(classes=["bbwatch-notes"])
    for note in notes:
        box += para(note)
    return [box]


# --- status ---------------------------------------------------------------------------------


def status(sections: Sequence[BranchStatus], analysis: Analysis) -> list[nodes.Node]:
    if not sections:
        return [para("No builder matches this selection.", classes=["bbwatch-empty"])]
    out: list[nodes.Node] = []
    if len(sections) > 1:
        summary = nodes.bullet_list(classes=["bbwatch-summary"])
        for section in sections:
            summary += nodes.list_item("", para(section.summary))
        out.append(summary)
    for section in sections:
        out.append(nodes.rubric(section.branch, section.branch, classes=["bbwatch-branch"]))
        out.append(para(nodes.strong(section.summary, section.summary),
                        classes=["bbwatch-branch-summary"]))
        out.append(_table(
            ["Builder", "Result", "Since", "Worker", "Links"],
            (_status_row(row, analysis) for row in section.rows),
            ["bbwatch-status"], [30, 12, 25, 15, 18],
        ))
    return out


def _status_row(row: BuilderRow, analysis: Analysis) -> list[nodes.Node]:
    name = para(nodes.strong(row.builder.name, row.builder.name), classes=["bbwatch-builder"])
    tags = para(classes=["bbwatch-tags"])
    for tag in row.builder.tags:
        tags += badge(tag, "secondary", "bbwatch-tag", outline=True)
        tags += nodes.Text(" ")
    result = para(result_badge(row.result, row.connected))
    result += nodes.Text(" ")
    result += nodes.emphasis(row.severity.label, row.severity.label)
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
    links = para(link("builder", row.builder_url))
    if row.build_url and row.last_build is not None:
        links += nodes.Text(" · ")
        links += link(f"build #{row.last_build.number}", row.build_url)
    return [nodes.container("", name, tags), result, para(since), worker_cell, links]


# --- known failures -------------------------------------------------------------------------


def problems(rows: Sequence[Problem], analysis: Analysis, doc_link: DocLink) -> list[nodes.Node]:
    tests = [p for p in rows if p.group in ("test", "mass")]
    infra = [p for p in rows if p.group == "infra"]
    out: list[nodes.Node] = []
    counts = {c: sum(1 for p in tests if p.classification == c) for c in ("new", "known", "flaky")}
    summary = (f"{len(tests)} test problem{'s' if len(tests) != 1 else ''} "
               f"({counts['new']} new, {counts['known']} known, {counts['flaky']} flaky), "
               f"{len(infra)} infrastructure problem{'s' if len(infra) != 1 else ''}.")
    out.append(para(summary, classes=["bbwatch-summary"]))
    if not tests:
        out.append(para("No failing test right now.", classes=["bbwatch-empty"]))
    for problem in tests:
        out.append(_problem(problem, analysis, doc_link))
    out.append(nodes.rubric("Infrastructure", "Infrastructure", classes=["bbwatch-infra"]))
    if not infra:
        out.append(para("No infrastructure problem right now.", classes=["bbwatch-empty"]))
    for problem in infra:
        out.append(_problem(problem, analysis, doc_link))
    return out


def _field(name: str, *body: nodes.Node) -> nodes.field:
    field = nodes.field()
    field += nodes.field_name(name, name)
    content = nodes.field_body()
    for node in body:
        content += node
    field += content
    return field


def _occurrence_item(occ: Occurrence, analysis: Analysis) -> nodes.list_item:
    p = para(link(occ.builder.name, occ.builder_url, "bbwatch-builder"), f" ({occ.branch}): ",
             link(f"build #{occ.latest.number}", occ.build_url))
    streak = describe_streak(occ.streak, analysis.now)
    if streak:
        p += nodes.Text(f", {streak}")
    if occ.streak is not None and occ.streak.last_good is not None:
        p += nodes.Text(f", last good build #{occ.streak.last_good.number}")
    return nodes.list_item("", p)


def _issue_item(issue: IssueLink) -> nodes.list_item:
    p = para(link(issue.title or "issue", issue.url), f" ({issue.source})")
    if issue.reason:
        p += nodes.Text(f": {issue.reason}")
    return nodes.list_item("", p)


def _problem(problem: Problem, analysis: Analysis, doc_link: DocLink) -> nodes.container:
    box = nodes.container(classes=["bbwatch-problem", f"bbwatch-{problem.classification}",
                                   f"bbwatch-group-{problem.group}"])
    head = para(badge(problem.classification, _CLASS_COLOURS.get(problem.classification, "dark"),
                      "bbwatch-classification"), " ",
                nodes.strong(problem.title, problem.title), classes=["bbwatch-problem-title"])
    box += head
    fields = nodes.field_list(classes=["bbwatch-fields"])
    if problem.test_ids:
        ids = nodes.bullet_list()
        for test_id in problem.test_ids[:10]:
            ids += nodes.list_item("", para(nodes.literal(test_id, test_id)))
        fields += _field("Test ids", ids)
    if problem.children:
        parts = nodes.bullet_list()
        for child in problem.children:
            parts += nodes.list_item("", para(child.title))
        fields += _field("Includes", parts)
    where = nodes.bullet_list(classes=["bbwatch-where"])
    for occ in problem.occurrences:
        where += _occurrence_item(occ, analysis)
    for builder, _worker in problem.idle:
        where += nodes.list_item("", para(nodes.strong(builder.name, builder.name),
                                          f" ({builder.branch or 'other'}): no build yet"))
    fields += _field("Fails now on" if problem.kind != "disconnected" else "Builders", where)
    fields += _field("First seen", para(fmt_time(problem.first_seen)))
    fields += _field("Last seen", para(fmt_time(problem.last_seen)))
    if problem.group == "infra" and problem.workers:
        contacts = nodes.bullet_list()
        for worker in problem.workers:
            who = f"worker {worker.name}"
            who += f" (owner: {worker.admin})" if worker.admin else " (owner unknown)"
            contacts += nodes.list_item("", para(who))
        fields += _field("Contact", contacts)
    if problem.suspects:
        ranked = nodes.enumerated_list(classes=["bbwatch-suspects"])
        for suspect in problem.suspects[:5]:
            change = suspect.change
            rev = (change.revision or "")[:12]
            ranked += nodes.list_item("", para(
                link(rev or f"change {change.changeid}", change.revlink),
                f" {change.title} — {change.author}: {suspect.reason}"))
        fields += _field("Suspect changes", ranked)
    if problem.issues:
        issues = nodes.bullet_list(classes=["bbwatch-issues"])
        for issue in problem.issues:
            issues += _issue_item(issue)
        fields += _field("Issue", issues)
    elif problem.group != "infra":
        fields += _field("Issue", para("none found: report it (see the triage checklist)"))
    if problem.evidence:
        evidence = nodes.bullet_list(classes=["bbwatch-evidence"])
        for item in problem.evidence[:5]:
            builder = analysis.fleet.builder(item.builderid)
            name = builder.name if builder else str(item.builderid)
            evidence += nodes.list_item("", para(f"{name} build #{item.build.number}: "
                                                 f"{item.detail}"))
        fields += _field("Flaky evidence", evidence)
    triage = _triage_links(problem, doc_link)
    if triage is not None:
        fields += _field("Triage", triage)
    box += fields
    excerpt = problem.excerpt
    if problem.kind == "disconnected":
        excerpt = ""  # the worker's name and owner above say it all
    if excerpt:
        box += nodes.literal_block(excerpt, excerpt, classes=["bbwatch-excerpt"])
    return box


def _triage_links(problem: Problem, doc_link: DocLink) -> nodes.paragraph | None:
    p = para(classes=["bbwatch-triage"])
    found = False
    for occ in problem.occurrences[:5]:
        uri = doc_link(occ.triage_docname)
        if uri is None:
            continue
        if found:
            p += nodes.Text(" · ")
        label = "Triage" if len(problem.occurrences) == 1 else f"Triage ({occ.builder.name})"
        p += nodes.reference(label, label, refuri=uri, internal=True)
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
    builder = analysis.fleet.builder(build.builderid)
    from bbwatch.analysis import build_url

    name = builder.name if builder else str(build.builderid)
    return para(link(f"{name} #{build.number}",
                     build_url(analysis.fleet.base_url, build.builderid, build.number)),
                f" ({fmt_time(build.complete_at or build.started_at)})")


def _flaky_row(row: FlakyRow, analysis: Analysis) -> list[nodes.Node]:
    builders = nodes.bullet_list()
    for builder in row.builders:
        builders += nodes.list_item("", para(builder.name))
    evidence = nodes.bullet_list()
    reruns = sum(1 for e in row.evidence if e.kind == "rerun")
    if reruns:
        evidence += nodes.list_item("", para(
            f"failed, then passed on re-run in {reruns} build{'s' if reruns != 1 else ''}"))
    same = sum(1 for e in row.evidence if e.kind == "same-revision")
    if same:
        evidence += nodes.list_item("", para(
            f"failed and passed on the same revision {same} time{'s' if same != 1 else ''}"))
    for item in row.evidence:
        if item.kind == "flips":
            builder = analysis.fleet.builder(item.builderid)
            where = builder.name if builder else str(item.builderid)
            evidence += nodes.list_item("", para(f"{where}: {item.detail} (breakage excluded)"))
    issue = para(link(row.issue.title, row.issue.url)) if row.issue else para("none")
    test = nodes.container("", para(nodes.literal(row.test_file, row.test_file)))
    shown = [t for t in row.test_ids if t != row.test_file]
    if shown:
        ids = nodes.bullet_list(classes=["bbwatch-test-ids"])
        for test_id in shown[:5]:
            ids += nodes.list_item("", para(test_id))
        test += ids
    return [
        test,
        para(f"{row.rate:.0%}", f" ({row.flips} flips)"),
        para(str(row.runs)),
        _build_ref(row.last_flake, analysis),
        builders,
        evidence,
        issue,
    ]
