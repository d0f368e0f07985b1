"""The top of the known-failures page: an overview table, then a failure matrix.

Overview: one row per problem (class badge, test, builders, failing since as an age, top
suspect, issue), the test linking to its detailed entry further down (``problem_anchor``).
Matrix (TestGrid's grid, folded): current problems x the builders where they occur, each cell
the last results of that test on that builder (pass / fail / flaky / not run), each square a
link to its build. A mass failure is one row, as in the entries below it.

Every network string (test, builder, change title, issue title) is a ``nodes.Text``.
"""

from __future__ import annotations

from collections.abc import Sequence

from docutils import nodes

from bbwatch.models import Builder
from bbwatch.sphinxext.live_render import NO_SEARCH, badge, link
from bbwatch.sphinxext.live_strips import age, problem_anchor, verdict_strip
from bbwatch.triage.rows import Analysis, Problem

CLASS_COLOURS = {"new": "danger", "known": "info", "flaky": "warning", "infra": "dark"}
MATRIX_BUILDERS = 40  # columns at most; the entries below list every builder


def _p(*children: nodes.Node | str, classes: Sequence[str] = ()) -> nodes.paragraph:
    node = nodes.paragraph(classes=list(classes))
    for child in children:
        node += nodes.Text(child) if isinstance(child, str) else child
    return node


def _table(headers: Sequence[str | nodes.Node], rows: Sequence[Sequence[nodes.Node]],
           classes: Sequence[str]) -> nodes.table:
    table = nodes.table(classes=["bbwatch-table", "bbwatch-wide", *classes])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for _ in headers:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    row = nodes.row()
    for title in headers:
        entry = nodes.entry()
        entry += _p(title) if isinstance(title, str) else title
        row += entry
    head += row
    group += head
    body = nodes.tbody()
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell
            row += entry
        body += row
    group += body
    return table


def class_badge(problem: Problem) -> nodes.inline:
    return badge(problem.classification, CLASS_COLOURS.get(problem.classification, "dark"),
                 "bbwatch-classification")


def entry_link(problem: Problem) -> nodes.reference:
    """The problem's title, linking to its entry on the same page."""
    title = problem.title
    return nodes.reference(title, title, refid=problem_anchor(problem), internal=True,
                           classes=["bbwatch-entry-link"])


def _suspect(problem: Problem) -> nodes.paragraph:
    if not problem.suspects:
        return _p("none")
    change = problem.suspects[0].change
    rev = (change.revision or "")[:10] or f"change {change.changeid}"
    return _p(link(rev, change.revlink), " ", change.title)


def _issue(problem: Problem) -> nodes.paragraph:
    if not problem.issues:
        return _p("none" if problem.group == "infra" else "none: report it")
    issue = problem.issues[0]
    return _p(link(issue.title or "issue", issue.url))


def overview(rows: Sequence[Problem], analysis: Analysis) -> list[nodes.Node]:
    """The overview table (empty list when nothing fails)."""
    if not rows:
        return []
    body = []
    for problem in rows:
        builders = len(problem.builders)
        body.append([
            _p(class_badge(problem)),
            _p(entry_link(problem), classes=["bbwatch-test"]),
            _p(str(builders)),
            _p(age(problem.first_seen, analysis.now, "")),
            _suspect(problem),
            _issue(problem),
        ])
    title = nodes.rubric("Overview", "Overview", classes=["bbwatch-overview-title"])
    return [title, _table(["Class", "Problem", "Builders", "Failing for", "Top suspect",
                           "Issue"], body, ["bbwatch-overview"])]


def _columns(problems: Sequence[Problem]) -> list[Builder]:
    """Builders where the problems occur, the most affected first."""
    count: dict[int, int] = {}
    found: dict[int, Builder] = {}
    for problem in problems:
        for occ in problem.occurrences:
            count[occ.builder.builderid] = count.get(occ.builder.builderid, 0) + 1
            found[occ.builder.builderid] = occ.builder
    return sorted(found.values(), key=lambda b: (-count[b.builderid], b.name))


def matrix(rows: Sequence[Problem], analysis: Analysis) -> list[nodes.Node]:
    """Problems (tests, mass failures, build failures) x builders; [] when there are none."""
    problems = [p for p in rows if p.group in ("test", "mass", "build") and p.occurrences]
    if not problems:
        return []
    builders = _columns(problems)
    shown = builders[:MATRIX_BUILDERS]
    heads: list[str | nodes.Node] = ["Problem"]
    for builder in shown:
        heads.append(_p(builder.name, classes=["bbwatch-matrix-builder"]))
    body = []
    for problem in problems:
        where = {occ.builder.builderid for occ in problem.occurrences}
        test = problem.test_file if problem.group == "test" else None
        cells: list[nodes.Node] = [_p(class_badge(problem), " ", entry_link(problem),
                                      classes=["bbwatch-test"])]
        for builder in shown:
            if builder.builderid in where:
                cells.append(_p(verdict_strip(analysis, builder.builderid, test)))
            else:
                cells.append(_p(nodes.inline("not failing here", "not failing here",
                                             classes=["bbwatch-sr"]),
                                classes=["bbwatch-matrix-empty"]))
        body.append(cells)
    out: list[nodes.Node] = [
        nodes.rubric("Failure matrix", "Failure matrix", classes=["bbwatch-matrix-title"]),
        _p("Each cell: the last results of that test on that builder, oldest first "
           "(pass, fail, flaky: failed then passed on re-run, not run); a mass failure "
           "shows its builds' results.", classes=["bbwatch-meta"]),
        _table(heads, body, ["bbwatch-matrix", NO_SEARCH]),
    ]
    if len(builders) > len(shown):
        out.append(_p(f"{len(builders) - len(shown)} more builders: see the entries below.",
                      classes=["bbwatch-meta"]))
    return out
