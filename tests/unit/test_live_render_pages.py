"""What the live blocks contain, for every block ``live._render`` makes: every builder with its
result word, every problem with its places, links, excerpt and issue, every flaky test; links
only to http(s) or to our own triage pages; text from the master shown, never obeyed (no
terminal escapes, controls or bidi overrides; HTML escaped by the writer); well-formed trees.

Two analyses: the recorded snapshot of the local fleet (the demo registry's scenarios) and a
synthetic one with what the snapshot lacks (a mass failure, a running build, hostile names,
notes, an issue with a script URL).
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from bbwatch.models import Result
from bbwatch.source.snapshot import load_snapshot
from bbwatch.sphinxext import live_render as render
from bbwatch.triage import analysis, rows
from bbwatch.triage.registry import load_registry
from bbwatch_fleet import DEMO_REGISTRY
from docutils import nodes
from docutils.core import publish_from_doctree
from docutils.frontend import get_default_settings
from docutils.utils import new_document
from docutils.writers.html5_polyglot import Writer
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import REPO
from tests.unit.test_analysis import COMPILE, FAIL, NOW, OK, WARN, FleetMaker

SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"
HOSTILE_HTML = "<script>alert('x')</script>&amp;"


def snapshot_analysis() -> analysis.Analysis:
    fleet = load_snapshot(SNAPSHOT)
    registry = load_registry(DEMO_REGISTRY)  # the demo fleet's, for its scenarios
    return analysis.analyse(fleet, registry=registry, now=fleet.fetched_at)


def synthetic_analysis() -> analysis.Analysis:
    """What the snapshot lacks: a mass failure, a running build, hostile names and notes."""
    m = FleetMaker()
    for bid in range(1, 5):
        m.builder(bid, f"Builder{bid} 3.x", ["3.x", "stable"], [OK, OK, FAIL])
    m.builder(5, "Flaky\x1b[1m 3.14\x07", ["3.14", "stable", "tier-1"], [OK, WARN, OK, WARN])
    m.builder(6, f"Compile \u202eevil {HOSTILE_HTML} 3.x", ["3.x"], [OK, COMPILE],
              connected=False, worker="w\x00rker")
    m.builder(7, "Running 3.x", ["3.x", "unstable"], [OK, OK, (None, None, None)])
    m.fleet.errors.append("builder 9: \x1b]8;;http://x\x07link\x1b]8;;\x07 failed\r\n")
    picture = analysis.analyse(m.fleet, now=NOW + 3600)
    picture.notes.append("tracker \u2066note\u2069 \x7f")
    # a flaky problem with an issue (rendered from any Problem: built here, not by analyse)
    row = picture.flaky[0]
    row.issue = rows.IssueLink("https://github.com/python/cpython/issues/1", "gh-1 flaky",
                               "registry")
    evidence = [*row.evidence, dataclasses.replace(row.evidence[0], kind="same-revision")]
    row.evidence = evidence
    mass = next(p for p in picture.problems if p.group == "mass")
    picture.problems.append(dataclasses.replace(
        mass.children[0], key="flaky-one", classification="flaky", evidence=evidence,
        suspects=mass.suspects, issues=[rows.IssueLink(
            "javascript:alert(1)", "evil\x1b[1m", "tracker", "matched \u202etitle")]))
    return picture


CASES = {"snapshot": snapshot_analysis, "synthetic": synthetic_analysis}


@pytest.fixture(scope="module", params=sorted(CASES))
def picture(request: pytest.FixtureRequest) -> analysis.Analysis:
    return CASES[request.param]()


def _doc_link(docname: str) -> str | None:
    # every other triage page "exists", so both branches of the triage links are rendered
    return None if sum(map(ord, docname)) % 2 else f"../{docname}.html"


def _blocks(picture: analysis.Analysis) -> dict[str, list[nodes.Node]]:
    """Every block ``live._render`` can make from this Analysis, cleaned as it cleans them."""
    branches = sorted({s.branch for s in picture.status})
    out = {
        "banners": [render.fetched_line(picture), render.disabled(),
                    render.unavailable("master \x1b[31mdown\x1b[0m", picture.fetched_at),
                    render.unavailable("no cache", None),
                    *render.notes_box([*picture.fleet.errors[:5], *picture.notes])],
        "status": render.status(picture.status_rows(), picture),
        "status result=failure": render.status(picture.status_rows((), (), ["failure"]),
                                               picture),
        "status result=nothing": render.status(picture.status_rows((), (), ["nothing"]),
                                               picture),
        f"status branch={branches[0]}": render.status(picture.status_rows(branches[:1]),
                                                      picture),
        "failures": render.problems(picture.problem_rows(), picture, _doc_link),
        "failures limit=1": render.problems(picture.problem_rows()[:1], picture, _doc_link),
        "failures none": render.problems([], picture, _doc_link),
        "flaky": render.flaky(picture.flaky_rows(), picture),
        "flaky none": render.flaky([], picture),
    }
    for classification in ("new", "known", "infra"):
        chosen = [p for p in picture.problem_rows() if p.classification == classification]
        out[f"failures classification={classification}"] = render.problems(
            chosen, picture, _doc_link)
    for block in out.values():
        render.clean_tree(block)
    return out


def _tree(block: list[nodes.Node]) -> nodes.container:
    return nodes.container("", *block)


def _classes(node: nodes.Element) -> set[str]:
    return set(node.get("classes", ()))


def _find(tree: nodes.Node, cls: str) -> list[nodes.Element]:
    return [n for n in tree.findall(nodes.Element) if cls in _classes(n)]


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


# --- every block --------------------------------------------------------------------------------


def test_every_block_is_a_well_formed_fresh_tree(picture):
    for label, block in _blocks(picture).items():
        for top in block:
            assert top.parent is None, label
            for node in top.findall():
                assert node.document is None and node.source is None and node.line is None
                for child in getattr(node, "children", ()):
                    assert child.parent is node, (label, node, child)
            assert not list(top.findall(nodes.raw)), label  # no markup from anywhere


def test_network_text_is_shown_never_obeyed(picture):
    for label, block in _blocks(picture).items():
        tree = _tree(block)
        for text in tree.findall(nodes.Text):
            assert not _UNSAFE.search(str(text)), (label, str(text))
        for node in tree.findall(nodes.Element):
            assert not _UNSAFE.search(node.get("refuri", "")), label
        for block in tree.findall(nodes.literal_block):  # highlighted from its rawsource
            assert not _UNSAFE.search(block.rawsource), label


def test_links_go_to_http_urls_or_our_triage_pages(picture):
    for label, block in _blocks(picture).items():
        for ref in _tree(block).findall(nodes.reference):
            uri = ref["refuri"]
            if ref.get("internal"):
                assert uri.startswith("../triage/") and uri.endswith(".html"), label
            else:
                assert uri.startswith(("http://", "https://")), (label, uri)
            assert ref.astext(), label  # a link always has words


def test_html_of_every_block_escapes_what_the_master_sent(picture):
    document = new_document("<live>", settings=get_default_settings(Writer))
    for label, block in _blocks(picture).items():
        document += nodes.section("", nodes.title(label, label), *block, ids=[f"b{id(block)}"])
    html = publish_from_doctree(document, writer=Writer()).decode()
    assert "<script" not in html and "\x1b" not in html and "\u202e" not in html
    if "Compile" in html:  # the synthetic fleet's hostile builder name
        assert "&lt;script&gt;alert('x')&lt;/script&gt;&amp;amp;" in html
        assert "Compile &lt;U+202E&gt;evil" in html
        assert "w\u2400rker" in html and "javascript:" not in html


# --- banners -----------------------------------------------------------------------------------


def test_banners_say_where_the_data_comes_from_and_what_is_missing(picture):
    banners = _tree(_blocks(picture)["banners"])
    text = banners.astext()
    assert f"Data fetched {render.fmt_time(picture.fleet.fetched_at)} from" in text
    assert picture.fleet.base_url in [r["refuri"] for r in banners.findall(nodes.reference)]
    assert "Live data is disabled for this build (bbwatch_offline)" in text
    assert ("Live data unavailable: master down; showing data from "
            f"{render.fmt_time(picture.fetched_at)}.") in text
    assert "Live data unavailable: no cache; no earlier data to show." in text
    notes = [*picture.fleet.errors[:5], *picture.notes]
    shown = _find(banners, "bbwatch-notes")
    assert len(shown) == (1 if notes else 0)
    if notes:
        assert [p.astext() for p in shown[0].findall(nodes.paragraph)] == [
            render.clean(n) for n in notes]


# --- status ------------------------------------------------------------------------------------


def _status_rows(tree: nodes.Node) -> list[nodes.row]:
    return [row for table in _find(tree, "bbwatch-status")
            for row in table.findall(nodes.row) if row.parent.tagname == "tbody"]


def test_status_shows_every_builder_once_with_its_result_word(picture):
    blocks = _blocks(picture)
    tree = _tree(blocks["status"])
    sections = picture.status_rows()
    expected = [row for section in sections for row in section.rows]
    shown = _status_rows(tree)
    assert len(shown) == len(expected) == len(picture.fleet.builders)
    for row, want in zip(shown, expected, strict=True):
        cells = [entry for entry in row.children]
        assert cells[0].astext().startswith(render.clean(want.builder.name))
        badge = _find(cells[1], "bbwatch-result")[0]
        word = want.result.word if want.result is not None else "no builds"
        assert badge.astext() == word and want.severity.label in cells[1].astext()
        uris = [r["refuri"] for r in cells[4].findall(nodes.reference)]
        assert uris[0] == want.builder_url
        if want.build_url and want.last_build is not None:
            assert uris[1] == want.build_url
            assert f"build #{want.last_build.number}" in cells[4].astext()
        if want.running is not None:
            assert f"build #{want.running.number} running" in cells[2].astext()
        worker = cells[3].astext()
        if want.worker is None:
            assert worker == "unknown worker"
        else:
            state = "connected" if want.worker.connected else "disconnected"
            expected = f"{render.clean(want.worker.name)} {state}"
            if want.worker.name in picture.sick_workers:  # its owner, to mail
                expected += f" sick worker owner: {render.clean(want.worker.admin)}"
            assert worker == expected
    rubrics = [r.astext() for r in tree.findall(nodes.rubric)]
    assert rubrics == [render.clean(s.branch) for s in sections]
    summary = _find(tree, "bbwatch-summary")
    assert (len(summary) == 1) == (len(sections) > 1)


def test_status_filters_by_result_and_branch(picture):
    blocks = _blocks(picture)
    failing = _tree(blocks["status result=failure"])
    words = [b.astext() for b in _find(failing, "bbwatch-result")]
    assert words and set(words) == {Result.FAILURE.word}
    nothing = blocks["status result=nothing"]
    assert [n.astext() for n in nothing] == ["No builder matches this selection."]
    label = next(k for k in blocks if k.startswith("status branch="))
    one = _tree(blocks[label])
    assert [r.astext() for r in one.findall(nodes.rubric)] == [label.split("=", 1)[1]]
    assert not _find(one, "bbwatch-summary")  # one section: no summary list above it


# --- known failures ----------------------------------------------------------------------------


def _fields(box: nodes.Element) -> dict[str, nodes.field_body]:
    return {f[0].astext(): f[1] for f in box.findall(nodes.field)}


def test_known_failures_show_each_problem_with_its_places_and_issue(picture):
    blocks = _blocks(picture)
    problems = picture.problem_rows()
    tree = _tree(blocks["failures"])
    tests = [p for p in problems if p.group in ("test", "mass")]
    builds = [p for p in problems if p.group == "build"]
    infra = [p for p in problems if p.group == "infra"]
    summary = _find(tree, "bbwatch-summary")[0].astext()
    assert summary.startswith(f"{len(tests)} test problem")
    assert f"{len(infra)} infrastructure problem" in summary
    assert (f"{len(builds)} build failure" in summary) == bool(builds)
    boxes = _find(tree, "bbwatch-problem")
    order = tests + builds + infra
    assert len(boxes) == len(order)
    for box, problem in zip(boxes, order, strict=True):
        assert {f"bbwatch-{problem.classification}", f"bbwatch-group-{problem.group}"} <= \
            _classes(box)
        head = _find(box, "bbwatch-problem-title")[0]
        assert head.astext() == f"{problem.classification} {render.clean(problem.title)}"
        fields = _fields(box)
        assert fields["First seen"].astext() == render.fmt_time(problem.first_seen)
        assert fields["Last seen"].astext() == render.fmt_time(problem.last_seen)
        places = fields["Fails now on" if problem.kind != "disconnected" else "Builders"]
        uris = {r["refuri"] for r in places.findall(nodes.reference)}
        for occ in problem.occurrences:
            assert {occ.builder_url, occ.build_url} <= uris
            assert f"build #{occ.latest.number}" in places.astext()
        if problem.test_ids:
            shown = [n.astext() for n in fields["Test ids"].findall(nodes.literal)]
            assert shown == [render.clean(t) for t in problem.test_ids[:10]]
        if problem.issues:
            issue_text = fields["Issue"].astext()
            for issue in problem.issues:
                assert render.clean(issue.title or "issue") in issue_text
                links = [r["refuri"] for r in fields["Issue"].findall(nodes.reference)]
                assert (issue.url in links) == (render.safe_url(issue.url) is not None)
        elif problem.group != "infra":
            assert fields["Issue"].astext().startswith("none found: report it")
        if problem.suspects:
            items = list(fields["Suspect changes"].findall(nodes.list_item))
            assert len(items) == len(problem.suspects[:5])
            for item, suspect in zip(items, problem.suspects, strict=False):
                assert render.clean(suspect.reason) in item.astext()
        excerpts = [n for n in box.findall(nodes.literal_block)]
        if problem.excerpt and problem.kind != "disconnected":
            assert [e.astext() for e in excerpts] == [render.clean(problem.excerpt)]
            assert excerpts[0]["language"] == "text"  # a log, never a guessed lexer
        else:
            assert not excerpts
        triage = [r for r in box.findall(nodes.reference) if r.get("internal")]
        wanted = [occ.triage_docname for occ in problem.occurrences[:5]
                  if _doc_link(occ.triage_docname)]
        assert [r["refuri"] for r in triage] == [f"../{d}.html" for d in wanted]
        assert ("Triage" in fields) == bool(wanted)


def test_known_failures_filters_and_empty_states(picture):
    blocks = _blocks(picture)
    assert len(_find(_tree(blocks["failures limit=1"]), "bbwatch-problem")) == min(
        1, len(picture.problem_rows()))
    none = _tree(blocks["failures none"]).astext()
    assert "No failing test right now." in none
    assert "No infrastructure problem right now." in none
    for classification in ("new", "known", "infra"):
        boxes = _find(_tree(blocks[f"failures classification={classification}"]),
                      "bbwatch-problem")
        assert all(f"bbwatch-{classification}" in _classes(b) for b in boxes)
        assert len(boxes) == sum(1 for p in picture.problem_rows()
                                 if p.classification == classification)


# --- flaky -------------------------------------------------------------------------------------


def test_flaky_table_has_one_row_per_flaky_test(picture):
    blocks = _blocks(picture)
    flaky = picture.flaky_rows()
    assert [n.astext() for n in blocks["flaky none"]] == [
        "No flaky test in the analysed history."]
    if not flaky:
        return
    table = _find(_tree(blocks["flaky"]), "bbwatch-flaky")[0]
    body = [row for row in table.findall(nodes.row) if row.parent.tagname == "tbody"]
    assert len(body) == len(flaky)
    for row, want in zip(body, flaky, strict=True):
        cells = [entry.astext() for entry in row.children]
        assert cells[0].startswith(render.clean(want.test_file))
        assert cells[1] == f"{want.rate:.0%} ({want.flips} flips)"
        assert cells[2] == str(want.runs)
        assert f"#{want.last_flake.number}" in cells[3]
        assert all(render.clean(b.name) in cells[4] for b in want.builders)
        assert cells[6] == (render.clean(want.issue.title) if want.issue else "none")


# --- the analyses exercise what matters ---------------------------------------------------------


def test_the_two_analyses_cover_the_interesting_parts():
    snapshot = _blocks(snapshot_analysis())
    synthetic = _blocks(synthetic_analysis())
    text = {name: "".join(_tree(b).astext() for b in blocks.values())
            for name, blocks in (("snapshot", snapshot), ("synthetic", synthetic))}
    assert len(_find(_tree(snapshot["status"]), "bbwatch-result")) >= 15
    assert "Suspect changes" in text["snapshot"]
    assert any(_tree(b).next_node(nodes.literal_block) for b in snapshot.values())
    assert "mass failure" in text["synthetic"] and "running" in text["synthetic"]
    assert "Flaky evidence" in text["synthetic"] and "same revision" in text["synthetic"]
    assert "\u2400" in text["synthetic"] and "<U+202E>" in text["synthetic"]
    assert HOSTILE_HTML in text["synthetic"]


# --- cleaning ----------------------------------------------------------------------------------

_HOSTILE = st.text(max_size=8) | st.lists(st.sampled_from(
    ["a", "Z", " ", "é", "\u00a0", "\u200b", "\t", "\n", "\r", "\x00", "\x07", "\x1b", "\x7f",
     "\u202e", "\u2066", "[", "m", "]", "\\", "\x1b[31m", "\x1b]8;;http://x\x07", "\r\n"]),
    max_size=12).map("".join)


@given(_HOSTILE)
def test_clean_leaves_printable_text_and_makes_the_rest_visible(text: str) -> None:
    cleaned = render.clean(text)
    if text.isprintable():
        assert cleaned == text
    assert not _UNSAFE.search(cleaned) and "\x1b" not in cleaned and "\r\n" not in cleaned
    assert render.clean(cleaned) == cleaned  # idempotent


@given(st.lists(_HOSTILE, min_size=1, max_size=4))
def test_clean_tree_cleans_texts_link_targets_and_literal_sources(texts: list[str]) -> None:
    block = nodes.literal_block(texts[0], texts[0])
    ref = nodes.reference(texts[-1], texts[-1], refuri=f"https://x/{texts[-1]}")
    tree = [render.para(*texts, ref), block]
    render.clean_tree(tree)
    for top in tree:
        for node in top.findall(nodes.Text):
            assert str(node) == render.clean(str(node))
    assert ref["refuri"] == render.clean(f"https://x/{texts[-1]}")
    assert block.rawsource == render.clean(texts[0])
