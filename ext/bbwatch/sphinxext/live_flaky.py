"""The flaky-tests block: per test, the figures behind its rank and its history per builder.

Rows come ranked by ``bbwatch.triage.flaky_stats.rank`` (the Wilson lower bound of the failure
rate), and show what that rank rests on: runs, failures, flips and the 95% interval, so a
reader sees why 30 failures in 200 runs stand above 1 in 2. Under each test, one history
strip per builder where it flaked (pass / fail / flaky / not run over the analysed window,
newest right, each square a link to its build) with that builder's own figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from docutils import nodes

from bbwatch.source.urls import build_url
from bbwatch.sphinxext.live_render import NO_SEARCH, fmt_time, link
from bbwatch.sphinxext.live_strips import verdict_strip
from bbwatch.triage.flaky_stats import FlakyFigures, figures, stats_figures
from bbwatch.triage.rows import Analysis, FlakyRow


def _p(*children: nodes.Node | str, classes: Sequence[str] = ()) -> nodes.paragraph:
    node = nodes.paragraph(classes=list(classes))
    for child in children:
        node += nodes.Text(child) if isinstance(child, str) else child
    return node


def _pct(value: float) -> str:
    return f"{value:.0%}"


def describe(f: FlakyFigures) -> str:
    """``30 failures in 200 runs (15%, 95% interval 11%–21%), 30 flips``."""
    return (f"{f.failures} failure{'s' if f.failures != 1 else ''} in {f.runs} "
            f"run{'s' if f.runs != 1 else ''} ({_pct(f.rate)}, 95% interval "
            f"{_pct(f.low)}–{_pct(f.high)}), {f.flips} flip{'s' if f.flips != 1 else ''}")


def _window(analysis: Analysis) -> int:
    return max((len(builds) for builds in analysis.fleet.builds.values()), default=0)


def _builders(row: FlakyRow, analysis: Analysis) -> nodes.bullet_list:
    stats = {s.builderid: s for s in row.stats}
    out = nodes.bullet_list(classes=["bbwatch-flaky-builders", NO_SEARCH])
    window = _window(analysis)
    for builder in row.builders:
        item = nodes.list_item()
        head = _p(nodes.strong(builder.name, builder.name), classes=["bbwatch-builder"])
        if builder.builderid in stats:
            head += nodes.Text(": " + describe(stats_figures(stats[builder.builderid])))
        item += head
        item += _p(verdict_strip(analysis, builder.builderid, row.test_file, window))
        out += item
    return out


def _test(row: FlakyRow) -> nodes.container:
    box = nodes.container(classes=["bbwatch-test"])
    box += _p(nodes.literal(row.test_file, row.test_file), classes=["bbwatch-test-file"])
    shown = [t for t in row.test_ids if t != row.test_file][:5]
    if shown:
        ids = nodes.bullet_list(classes=["bbwatch-test-ids"])
        for test_id in shown:
            item = nodes.list_item()
            item += _p(test_id)
            ids += item
        box += ids
    return box


def _row(rank: int, row: FlakyRow, analysis: Analysis) -> list[nodes.Node]:
    f = figures(row)
    last = row.last_flake
    builder = analysis.fleet.builder(last.builderid)
    name = builder.name if builder else str(last.builderid)
    return [
        _p(str(rank)),
        _test(row),
        _p(nodes.strong(_pct(f.low), _pct(f.low)), f" (at least; {_pct(f.rate)} seen)",
           classes=["bbwatch-rank-figure"]),
        _p(describe(f), classes=["bbwatch-figures"]),
        _builders(row, analysis),
        _p(link(f"{name} #{last.number}",
                build_url(analysis.fleet.base_url, last.builderid, last.number)),
           f" ({fmt_time(last.complete_at or last.started_at)})"),
        _p(link(row.issue.title, row.issue.url)) if row.issue else _p("none"),
    ]


def flaky(rows: Sequence[FlakyRow], analysis: Analysis) -> list[nodes.Node]:
    if not rows:
        return [_p("No flaky test in the analysed history.", classes=["bbwatch-empty"])]
    table = nodes.table(classes=["bbwatch-table", "bbwatch-wide", "bbwatch-flaky"])
    heads = ["#", "Test", "Failure rate", "Runs, failures, flips", "History per builder",
             "Last flake", "Issue"]
    group = nodes.tgroup(cols=len(heads))
    table += group
    for width in (3, 18, 10, 17, 30, 14, 8):
        group += nodes.colspec(colwidth=width)
    head_row = nodes.row()
    for title in heads:
        entry = nodes.entry()
        entry += _p(title)
        head_row += entry
    group += nodes.thead("", head_row)
    body = nodes.tbody()
    for rank, row in enumerate(rows, 1):
        tr = nodes.row()
        for cell in _row(rank, row, analysis):
            entry = nodes.entry()
            entry += cell
            tr += entry
        body += tr
    group += body
    note = _p("Ranked by the failure rate it has at least (the lower bound of its 95% Wilson "
              "interval), so a test seen failing often in many runs ranks above one seen "
              "once in a few.", classes=["bbwatch-meta"])
    return [note, table]
