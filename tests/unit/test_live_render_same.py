"""The live renderer gives the same nodes as before its speed-ups, to the byte.

``tests/fixtures/live_render/*.txt`` were written by the renderer as it was before it was made
fast (``python -m tests.unit.test_live_render_same`` rewrites them; only do that for an intended
change of the pages). Each holds every live block rendered as ``live._render`` does (all
directive options that change the rows), cleaned, as the docutils pseudo-XML plus every
element's rawsource (the HTML writer highlights a literal block from its rawsource) and the
exact value of any text the pseudo-XML shows inexactly: the same doctree gives the same HTML
and the same search index.
"""

from __future__ import annotations

import dataclasses
import sys

import pytest
from bbwatch.models import Result
from bbwatch.source.snapshot import load_snapshot
from bbwatch.sphinxext import live_render as render
from bbwatch.triage import analysis, rows
from bbwatch.triage.registry import load_registry
from bbwatch_fleet import DEMO_REGISTRY
from docutils import nodes
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from tests.unit.test_analysis import COMPILE, FAIL, NOW, OK, WARN, FleetMaker

GOLDEN = REPO / "tests" / "fixtures" / "live_render"
SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"


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
    m.builder(6, "Compile \u202eevil 3.x", ["3.x"], [OK, COMPILE], connected=False,
              worker="w\x00rker")
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


def _doc_link(docname: str) -> str | None:
    # every other triage page "exists", so both branches of the triage links are rendered
    return None if sum(map(ord, docname)) % 2 else f"../{docname}.html"


def _blocks(picture: analysis.Analysis) -> list[tuple[str, list[nodes.Node]]]:
    """Every block ``live._render`` can make from this Analysis, under each kind of option."""
    branches = sorted({s.branch for s in picture.status})
    out: list[tuple[str, list[nodes.Node]]] = [
        ("banners", [render.fetched_line(picture), render.disabled(),
                     render.unavailable("master \x1b[31mdown\x1b[0m", picture.fetched_at),
                     render.unavailable("no cache", None),
                     *render.notes_box([*picture.fleet.errors[:5], *picture.notes])]),
        ("status", render.status(picture.status_rows(), picture)),
        ("status result=failure", render.status(picture.status_rows((), (), ["failure"]),
                                                picture)),
        ("status result=nothing", render.status(picture.status_rows((), (), ["nothing"]),
                                                picture)),
        ("failures", render.problems(picture.problem_rows(), picture, _doc_link)),
        ("failures limit=1", render.problems(picture.problem_rows()[:1], picture, _doc_link)),
        ("failures none", render.problems([], picture, _doc_link)),
        ("flaky", render.flaky(picture.flaky_rows(), picture)),
        ("flaky none", render.flaky([], picture)),
    ]
    # one branch: a single section, so no summary list above it
    out.append((f"status branch={branches[0]}", render.status(picture.status_rows(branches[:1]),
                                                               picture)))
    for classification in ("new", "known", "infra"):
        rows = [p for p in picture.problem_rows() if p.classification == classification]
        out.append((f"failures classification={classification}",
                    render.problems(rows, picture, _doc_link)))
    return out


def _check_links(top: nodes.Node) -> None:
    """What pseudo-XML does not show: each node's parent is the node holding it, and no node
    has a document, source or line yet (as ``parent += child`` on fresh nodes leaves them)."""
    assert top.parent is None
    for node in top.findall():
        assert node.document is None and node.source is None and node.line is None
        for child in getattr(node, "children", ()):
            assert child.parent is node, (node, child)


def dump(picture: analysis.Analysis) -> str:
    """Pseudo-XML and rawsources of every block, cleaned as ``live._render`` cleans them."""
    parts = []
    for label, block in _blocks(picture):
        render.clean_tree(block)
        for top in block:
            _check_links(top)
        tree = nodes.container("", *block)
        raws = [f"{node.tagname}: {node.rawsource!r}" for node in tree.findall(nodes.Element)
                if node.rawsource]
        # pformat shows a text by its astext() lines: list the texts that does not show exactly
        lossy = [repr(str(t)) for t in tree.findall(nodes.Text)
                 if "\n".join(t.astext().splitlines()) != str(t)]
        parts.append(f"=== {label}\n{tree.pformat(' ')}--- rawsource\n" + "\n".join(raws)
                     + "\n--- texts not shown exactly above\n" + "\n".join(lossy) + "\n")
    return "".join(parts)


CASES = {"snapshot": snapshot_analysis, "synthetic": synthetic_analysis}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendering_is_unchanged(name: str) -> None:
    expected = (GOLDEN / f"{name}.txt").read_text("utf-8")
    got = dump(CASES[name]())
    assert got == expected


def test_golden_files_cover_the_interesting_parts() -> None:
    """The expectations are not vacuous: rows, links, hostile text made visible."""
    snapshot = (GOLDEN / "snapshot.txt").read_text("utf-8")
    synthetic = (GOLDEN / "synthetic.txt").read_text("utf-8")
    assert snapshot.count("bbwatch-result-") >= 15 and "refuri=" in snapshot
    assert "Suspect changes" in snapshot and "literal_block" in snapshot
    assert "mass failure" in synthetic and "running" in synthetic
    assert "Flaky evidence" in synthetic and "same revision" in synthetic
    assert "\u2400" in synthetic and "<U+202E>" in synthetic and "\x1b" not in synthetic
    assert Result.FAILURE.word in synthetic


# --- cleaning: the fast paths against the straightforward code they replaced ---------------

# printable text, the characters clean() rewrites, and whole escape sequences
_HOSTILE = st.text(max_size=8) | st.lists(st.sampled_from(
    ["a", "Z", " ", "é", "\u00a0", "\u200b", "\t", "\n", "\r", "\x00", "\x07", "\x1b", "\x7f",
     "\u202e", "\u2066", "[", "m", "]", "\\", "\x1b[31m", "\x1b]8;;http://x\x07", "\r\n"]),
    max_size=12).map("".join)


def _clean_slowly(text: str) -> str:
    return render._ANSI.sub("", text).replace("\r\n", "\n").translate(render._VISIBLE)


def _clean_tree_slowly(tree: list[nodes.Node]) -> None:
    """clean_tree as it was: three findall passes."""
    for top in tree:
        for text in list(top.findall(nodes.Text)):
            cleaned = render.clean(str(text))
            if cleaned != str(text):
                text.parent.replace(text, nodes.Text(cleaned))
        for ref in top.findall(nodes.reference):
            if "refuri" in ref:
                ref["refuri"] = render.clean(ref["refuri"])
        for block in top.findall(nodes.literal_block):
            block.rawsource = render.clean(block.rawsource)


@given(_HOSTILE)
def test_clean_printable_shortcut_changes_nothing(text: str) -> None:
    assert render.clean(text) == _clean_slowly(text)


def _leaf() -> st.SearchStrategy[nodes.Node]:
    return st.one_of(
        _HOSTILE.filter(bool).map(nodes.Text),
        _HOSTILE.map(lambda t: nodes.literal_block(t, t)),
        st.tuples(_HOSTILE, _HOSTILE).map(lambda p: nodes.reference(p[0], p[0], refuri=p[1])),
    )


def _element(children: list[nodes.Node], kind: int) -> nodes.Element:
    cls = (nodes.paragraph, nodes.inline, nodes.reference, nodes.container)[kind]
    node = cls()
    if cls is nodes.reference and kind % 2 == 0:
        node["refuri"] = "https://x/\x1b[0m"
    for child in children:
        node += child
    return node


_TREES = st.lists(st.recursive(
    _leaf(),
    lambda inner: st.builds(_element, st.lists(inner, max_size=4), st.integers(0, 3)),
    max_leaves=20,
).filter(lambda n: isinstance(n, nodes.Element)), max_size=3)


def _state(tree: list[nodes.Node]) -> str:
    holder = nodes.container()
    holder.children = tree  # no re-parenting: the trees are compared as they are
    return holder.pformat() + repr([(n.rawsource, n.get("refuri")) for n in
                                    holder.findall(nodes.Element)])


@settings(max_examples=100, deadline=None)
@given(_TREES)
def test_one_walk_clean_tree_matches_three_passes(tree: list[nodes.Node]) -> None:
    expected = [node.deepcopy() for node in tree]
    _clean_tree_slowly(expected)
    render.clean_tree(tree)
    assert _state(tree) == _state(expected)
    for top in tree:
        _check_links(top)


def main(argv: list[str]) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, make in CASES.items():
        (GOLDEN / f"{name}.txt").write_text(dump(make()), "utf-8")
        print(f"wrote {GOLDEN / f'{name}.txt'}")


if __name__ == "__main__":
    main(sys.argv[1:])
