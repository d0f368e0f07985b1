"""The live renderer's nodes: words next to colours, safe links, mass failures, clean text."""

from __future__ import annotations

from bbwatch.models import Result
from bbwatch.sphinxext import live_render as render
from bbwatch.triage import analysis
from docutils import nodes

from tests.factories import FAIL, NOW, OK, FleetMaker


def test_result_badge_has_word_and_colour():
    badge = render.result_badge(Result.FAILURE)
    assert badge.astext() == "failure"
    assert {"sd-badge", "sd-bg-danger", "bbwatch-result-failure"} <= set(badge["classes"])
    assert render.result_badge(None).astext() == "no builds"


def test_links_only_to_http_urls():
    assert isinstance(render.link("x", "https://example.org/"), nodes.reference)
    for bad in ("javascript:alert(1)", " javascript:alert(1)", "data:text/html,x", None, ""):
        node = render.link("x", bad)
        assert not isinstance(node, nodes.reference) and node.astext() == "x"


def test_clean_drops_escapes_and_shows_controls_and_bidi():
    assert render.clean("\x1b[1;31mFAIL\x1b[0m") == "FAIL"
    assert render.clean("a\x00b\x07c\x7f") == "a\u2400b\u2407c\u2421"
    assert render.clean("x\u202ey") == "x<U+202E>y"
    assert render.clean("tab\tand\r\nnewline") == "tab\tand\nnewline"


def test_mass_failure_renders_one_entry_listing_its_parts():
    m = FleetMaker()
    for bid in range(1, 5):
        m.builder(bid, f"Builder{bid} 3.x", ["3.x", "stable"], [OK, OK, FAIL])
    picture = analysis.analyse(m.fleet, now=NOW)
    out = render.problems(picture.problems, picture, lambda docname: f"../{docname}.html")
    tree = nodes.container("", *out)
    text = tree.astext()
    titles = [n for n in tree.findall(nodes.strong) if "mass failure" in n.astext()]
    assert len(titles) == 1 and "4 builders" in titles[0].astext()
    assert "Includes" in text and "test_bb_fail" in text
    refs = [r["refuri"] for r in tree.findall(nodes.reference) if r.get("internal")]
    assert refs and all(r.startswith("../triage/") for r in refs)
