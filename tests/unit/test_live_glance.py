"""The at-a-glance live blocks (issue 15): history strips, the known-failures overview and
matrix, the flaky figures and the now panel, rendered from a scripted fleet."""

from __future__ import annotations

import json
import re

import pytest
from bbwatch.sphinxext import live_flaky, live_fresh, live_now, live_overview, live_strips
from bbwatch.sphinxext import live_render as render
from bbwatch.triage import analysis, flaky_stats
from docutils import nodes

from tests.unit.test_analysis import COMPILE, FAIL, NOW, OK, WARN, FleetMaker


@pytest.fixture(scope="module")
def picture() -> analysis.Analysis:
    m = FleetMaker()
    m.builder(1, "AMD64 Debian 3.x", ["3.x", "stable", "tier-1"], [OK, OK, FAIL, FAIL, FAIL])
    m.builder(2, "ARM64 macOS 3.x", ["3.x", "stable", "tier-2"], [OK, WARN, OK, FAIL, FAIL])
    m.builder(3, "AMD64 Rawhide 3.x", ["3.x", "unstable"], [OK, OK, OK, OK, COMPILE])
    m.builder(5, "x86 Gentoo 3.14", ["3.14", "stable"], [OK, WARN, OK, WARN, WARN])
    m.builder(6, "AMD64 Alpine 3.x", ["3.x", "stable"], [OK, OK, OK, OK, OK])
    return analysis.analyse(m.fleet, now=NOW)


def _cells(tree: nodes.Node) -> list[live_strips.StripCell]:
    """Every square of every strip in ``tree``, in order."""
    return [c for strip in tree.findall(live_strips.history_strip) for c in strip.cells()]


def test_status_rows_get_a_strip_of_their_builds_newest_right(picture):
    sections = picture.status_rows()
    tables = render.status(sections, picture)
    live_strips.add_history_column(tables, sections, picture)
    for table, section in zip([t for t in tables if isinstance(t, nodes.table)], sections,
                              strict=True):
        group = next(iter(table.findall(nodes.tgroup)))
        assert group["cols"] == len([c for c in group.children if isinstance(c, nodes.colspec)])
        head = next(iter(table.findall(nodes.thead)))
        assert "Last 20 builds" in head.astext()
        body = next(iter(table.findall(nodes.tbody)))
        for tr, row in zip(body.children, section.rows, strict=True):
            assert len(tr.children) == group["cols"]
            cells = _cells(tr.children[2])
            builds = [b for b in picture.fleet.builds[row.builder.builderid] if b.complete]
            assert len(cells) == len(builds)
            # oldest first: the last square is the newest build, and links to it
            for cell, build in zip(cells, reversed(builds), strict=True):
                word = build.result.word
                assert cell.words == f"#{build.number} {word}"
                assert cell.css == word
                assert cell.url.endswith(
                    f"#/builders/{build.builderid}/builds/{build.number}")


def test_debian_strip_shows_its_failing_streak_as_a_run_of_red(picture):
    strip = live_strips.builder_strip(picture.fleet.builds[1], picture.fleet.base_url)
    words = [c.words.split()[1] for c in _cells(strip)]
    assert words == ["success", "success", "failure", "failure", "failure"]
    assert strip["caption"].startswith("Last 5 builds, oldest first")
    # what non-HTML writers show: the caption, then each square's words
    assert strip.astext() == strip["caption"] + " ".join(c.words for c in _cells(strip))


def test_overview_has_one_row_per_problem_linking_to_its_entry(picture):
    rows = picture.problem_rows()
    out = live_overview.overview(rows, picture)
    table = next(n for n in out if isinstance(n, nodes.table))
    body = next(iter(table.findall(nodes.tbody)))
    assert len(body.children) == len(rows)
    entries = render.problems(rows, picture, lambda doc: None)
    live_strips.anchor_entries(entries, rows)
    ids = {i for box in entries if isinstance(box, nodes.container) for i in box["ids"]}
    assert len(ids) == len([p for p in rows])
    for tr, problem in zip(body.children, rows, strict=True):
        link = next(iter(tr.findall(nodes.reference)))
        assert link["refid"] in ids and link.astext() == problem.title
        assert tr.children[0].astext() == problem.classification
        assert tr.children[2].astext() == str(len(problem.builders))
    # "failing for" is an age, with its absolute time for the page's script
    ages = [n for n in body.findall(nodes.inline) if "bbwatch-age" in n["classes"]]
    assert ages and all(any(c.startswith("bbwatch-t-") for c in a["classes"]) for a in ages)


def test_matrix_cells_are_that_tests_results_on_that_builder(picture):
    rows = picture.problem_rows()
    out = live_overview.matrix(rows, picture)
    table = next(n for n in out if isinstance(n, nodes.table))
    head = [e.astext() for e in next(iter(table.findall(nodes.thead))).findall(nodes.entry)]
    body = next(iter(table.findall(nodes.tbody)))
    shown = [p for p in rows if p.group in ("test", "mass", "build")]
    assert len(body.children) == len(shown)
    for tr, problem in zip(body.children, shown, strict=True):
        where = {o.builder.name for o in problem.occurrences}
        for name, entry in zip(head[1:], tr.children[1:], strict=True):
            cells = _cells(entry)
            if name not in where:
                assert not cells and entry.astext() == "not failing here"
                continue
            builder = next(o.builder for o in problem.occurrences if o.builder.name == name)
            want = flaky_stats.test_strip(picture.fleet.builds[builder.builderid],
                                          picture.tests,
                                          problem.test_file if problem.group == "test" else None,
                                          live_strips.MATRIX_LENGTH)
            assert [c.words for c in cells] == [f"#{w.build.number} {w.verdict}"
                                                for w in want]
            assert cells[-1].url.endswith(
                f"#/builders/{builder.builderid}/builds/{want[-1].build.number}")
            assert cells[-1].words.endswith("fail")


def test_flaky_table_shows_the_figures_behind_the_rank(picture):
    rows = picture.flaky_rows()
    assert rows == flaky_stats.rank(rows)
    out = live_flaky.flaky(rows, picture)
    text = nodes.container("", *out).astext()
    for row in rows:
        f = flaky_stats.figures(row)
        assert live_flaky.describe(f) in text
    assert re.search(r"\d+ failures? in \d+ runs? \(\d+%, 95% interval \d+%–\d+%\)", text)
    gentoo = [c for c in _cells(nodes.container("", *out)) if "/builders/5/" in c.url]
    assert [c.words.split()[1] for c in gentoo] == ["pass", "flaky", "pass", "flaky",
                                                       "flaky"]


def test_now_panel_lists_red_builders_release_blocking_first(picture):
    red = live_now.red_rows(picture)
    assert [r.builder.name for r in red] == ["AMD64 Debian 3.x", "ARM64 macOS 3.x",
                                             "AMD64 Rawhide 3.x"]
    out = live_now.panel(object(), picture, "index", lambda doc: f"{doc}.html")
    text = nodes.container("", *out).astext()
    assert "3 red builders" in text and "release-blocking failure" in text
    c = live_now.counts(picture)
    assert f"{c['new']} new, {c['known']} known, {c['flaky']} flaky" in text
    refs = [r["refuri"] for r in nodes.container("", *out).findall(nodes.reference)]
    assert {"live/status.html", "live/known-failures.html", "live/flaky-tests.html"} <= set(refs)


def test_now_panel_takes_sections_from_other_modules(picture):
    class App:
        pass

    app = App()
    live_now.register_section(app, "Watch health", lambda a, an, doc: [nodes.paragraph(
        "", "2 sick workers")])
    text = nodes.container("", *live_now.panel(app, picture, "index",
                                               lambda doc: None)).astext()
    assert "Watch health" in text and "2 sick workers" in text


def test_checked_line_and_version_file(tmp_path):
    line = live_fresh.checked_line(NOW, NOW - 7200, True, "abc123")
    assert "bbwatch-version-abc123" in line["classes"]
    assert "2 hours old" in line.astext() and "(it answered)" in line.astext()
    live_fresh.write_version(tmp_path, live_fresh.version_payload("abc123", NOW - 7200, NOW,
                                                                  True))
    live_fresh.touch_checked(tmp_path, NOW + 60, reachable=False, error="down")
    data = json.loads((tmp_path / live_fresh.VERSION_FILE).read_text())
    assert data == {"version": "abc123", "data_at": NOW - 7200, "checked_at": NOW + 60,
                    "reachable": False, "error": "down"}
    assert [p.name for p in tmp_path.iterdir()] == [live_fresh.VERSION_FILE]


def test_strip_html_escapes_every_value_and_keeps_the_cell_markup():
    """The strip's HTML visitor writes its squares itself: through the translator's escaping,
    in the markup the stylesheet and the browser tests expect."""
    from docutils.frontend import get_default_settings
    from docutils.utils import new_document
    from docutils.writers import html5_polyglot

    document = new_document("<strip>", get_default_settings(html5_polyglot.Writer))
    strip = live_strips.history_strip(
        "x", "x", caption='Last 2 <builds> & "more": ',
        cells=[("#1 <b>fail</b>", 'https://m.example/#/b?a="1"&c=<2>', 'fail" onclick="x'),
               ("#2 success", "", "success")],
        classes=["bbwatch-strip", "no-search"])
    translator = html5_polyglot.HTMLTranslator(document)
    with pytest.raises(nodes.SkipNode):
        live_strips.visit_strip_html(translator, strip)
    html = "".join(translator.body)
    assert html.startswith('<span class="bbwatch-strip no-search">'
                           '<span class="bbwatch-sr">Last 2 &lt;builds&gt; &amp; '
                           '&quot;more&quot;: </span>')
    assert ('<a class="bbwatch-cell bbwatch-cell-fail&quot; onclick=&quot;x reference '
            'external" href="https://m.example/#/b?a=&quot;1&quot;&amp;c=&lt;2&gt;" '
            'title="#1 &lt;b&gt;fail&lt;/b&gt;">#1 &lt;b&gt;fail&lt;/b&gt;</a>') in html
    # no http(s) URL: a square without a link, still with its words
    assert html.endswith('<span class="bbwatch-cell bbwatch-cell-success">#2 success</span>'
                         "</span>")
    assert "<b>" not in html and 'onclick="' not in html
