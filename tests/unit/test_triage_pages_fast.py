"""The per-failure pages' fast paths (parse each checklist body once with shared settings, one
navigation rendering for pages of the same depth) give byte-for-byte the pages of the
straightforward rendering."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from bbwatch.sphinxext import checklist_myst, checklists, triage_pages
from bbwatch.sphinxext.shared_highlight import SharedFormatters
from bbwatch.sphinxext.shared_toctree import SharedToctree
from bbwatch.triage.checklist import load_checklists
from docutils import nodes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


# -- parsing: one settings object for every body ------------------------------------------------
def _straightforward_parse(text: str) -> nodes.document:
    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    return publish_doctree(text, parser=Parser(), settings_overrides=checklist_myst._MYST_SETTINGS)


EDGE_BODIES = [
    "",
    "Plain text with a {builder} and [a link]({build_url}).",
    "```\n{test_command}\n```\n\n:::{note}\nfenced {test_file}\n:::\n",
    "Term\n: definition with `{test_id}`\n\n- [ ] a task\n- [x] done\n",
    "# Heading\n\n[^1]: a footnote\n\nText[^1] and <https://example.org/x>.\n",
    "```{raw} html\n<b>no</b>\n```\n\n```{include} /etc/passwd\n```\n",
    "```{eval-rst}\n.. note:: reStructuredText for {builder}\n\n   *inside* `x <{build_url}>`_\n"
    "```\n",
    "Before\n\n```{eval-rst}\n.. _target:\n\nA paragraph.\n```\n\nAfter [link](#target).\n",
]


def _bodies() -> list[str]:
    found = [s.body for c in load_checklists().values() for s in c.steps]
    found += [c.description for c in load_checklists().values() if c.description]
    return sorted(set(found)) + EDGE_BODIES


@pytest.mark.parametrize("text", _bodies())
def test_shared_settings_parse_like_publish_doctree(text):
    prepared = checklists.prepare(text)
    fast = checklist_myst._parse_myst_cached.__wrapped__(prepared)
    assert fast.pformat() == _straightforward_parse(prepared).pformat()


def test_myst_default_document_is_restored_after_parsing():
    from myst_parser.mdit_to_docutils import base

    before = base.make_document
    checklist_myst._parse_myst_cached.__wrapped__("Some {builder} text.")
    assert base.make_document is before
    assert base.make_document().settings.report_level == 2  # MyST's own default, unchanged


def test_parse_myst_gives_fresh_copies():
    text = "Run `{test_command}` on {builder}."
    first, second = checklists.parse_myst(text), checklists.parse_myst(text)
    assert [n.pformat() for n in first] == [n.pformat() for n in second]
    assert all(a is not b for a, b in zip(first, second, strict=True))
    first[0].children[0].parent.remove(first[0].children[0])  # mutate one copy...
    assert checklists.parse_myst(text)[0].pformat() == second[0].pformat()  # ...not the cache


# -- shared navigation: when pages may share it --------------------------------------------------
class FakeBuilder:
    def __init__(self, docs: list[str], name: str = "html", suffix: str = ".html",
                 includes: dict[str, list[str]] | None = None) -> None:
        self.name = name
        self.suffix = suffix
        self.env = SimpleNamespace(all_docs=dict.fromkeys(docs),
                                   toctree_includes=includes or {"index": docs[1:]})
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_target_uri(self, docname: str) -> str:
        return docname + self.suffix

    def _get_local_toctree(self, docname: str, **kwargs: Any) -> str:
        self.calls.append((docname, kwargs))
        return f"<nav {docname} {sorted(kwargs.items())}>"


def test_pages_of_the_same_depth_share_one_rendering_per_arguments():
    builder = FakeBuilder(["index", "guide/index", "guide/first"])
    shared = SharedToctree(builder)
    one = shared.for_page("triage/a/1/test_os")
    two = shared.for_page("triage/b/2/test_sys")
    assert one is not None and two is not None
    assert one(collapse=False, maxdepth=-1) == two(maxdepth=-1, collapse=False)
    assert one(collapse=True) == two(collapse=True)
    assert builder.calls == [("triage/a/1/test_os", {"collapse": False, "maxdepth": -1}),
                             ("triage/a/1/test_os", {"collapse": True})]
    shallower = shared.for_page("triage/c/3")
    assert shallower is not None
    shallower(collapse=True)
    assert builder.calls[-1] == ("triage/c/3", {"collapse": True})  # a new depth renders anew


@pytest.mark.parametrize("docs, page, name", [
    (["index", "triage/intro"], "triage/a/1/test_os", "html"),  # a document in the same folder
    (["index", "triage"], "triage/a/1/test_os", "dirhtml"),  # dirhtml: triage/ is that page
    (["index", "triage/a/1/test_os"], "triage/a/1/test_os", "html"),  # the page is a document
    (["index"], "standalone", "html"),  # top level: its name could be a toctree entry
    (["index"], "triage/a/1/test_os", "latex"),  # other builders resolve URIs their own way
])
def test_pages_that_may_differ_keep_sphinx_own_toctree(docs, page, name):
    suffix = "/" if name == "dirhtml" else ".html"
    assert SharedToctree(FakeBuilder(docs, name, suffix)).for_page(page) is None


def test_a_document_only_named_in_a_toctree_counts_too():
    builder = FakeBuilder(["index"], includes={"index": ["triage/listed"]})
    assert SharedToctree(builder).for_page("triage/a/1/test_os") is None


def test_unhashable_arguments_render_every_time():
    builder = FakeBuilder(["index"])
    toctree = SharedToctree(builder).for_page("triage/a/1/test_os")
    assert toctree is not None
    toctree(extra=[1])
    toctree(extra=[1])
    assert len(builder.calls) == 2


# -- shared Pygments formatters ------------------------------------------------------------------
BLOCKS = [
    ("./python -m test -v test_os\n", "text", {}),
    ("FAIL: test_x <b>&amp;</b>\nTraceback (most recent call last):\n  boom\n", "text", {}),
    ("def f(x):\n    return x  # ok\n", "python", {}),
    ("$ make -j8\n", "console", {"linenos": True}),
    ("a\nb\nc\n", "text", {"hl_lines": [2]}),  # unhashable options
]


def _bridge() -> Any:
    from sphinx.highlighting import PygmentsBridge

    return PygmentsBridge("html", "sphinx")


def test_shared_formatters_highlight_like_fresh_ones():
    fresh = _bridge()
    expected = [fresh.highlight_block(src, lang, **kw) for src, lang, kw in BLOCKS] * 2
    builder = SimpleNamespace(highlighter=_bridge())
    shared = SharedFormatters(builder)
    with shared.active():
        got = [builder.highlighter.highlight_block(src, lang, **kw)
               for src, lang, kw in BLOCKS] * 2
        one, two = builder.highlighter.get_formatter(), builder.highlighter.get_formatter()
        assert one is two
        lines = builder.highlighter.get_formatter(hl_lines=[1])
        assert lines is not builder.highlighter.get_formatter(hl_lines=[1])
    assert got == expected


def test_shared_formatters_are_undone_after_the_block():
    from sphinx.highlighting import PygmentsBridge

    builder = SimpleNamespace(highlighter=_bridge())
    with SharedFormatters(builder).active():
        assert "get_formatter" in vars(builder.highlighter)
    assert "get_formatter" not in vars(builder.highlighter)
    assert builder.highlighter.get_formatter() is not builder.highlighter.get_formatter()
    assert type(builder.highlighter).get_formatter is PygmentsBridge.get_formatter
    with SharedFormatters(SimpleNamespace()).active():  # no highlighter: nothing to share
        pass


# -- whole pages: fast build == straightforward build, byte for byte ----------------------------
class _NoSharing(SharedToctree):
    def for_page(self, docname: str) -> None:
        return None


class _FreshFormatters(SharedFormatters):
    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        yield


def _build(rootdir: Path, out: Path) -> dict[str, str]:
    from sphinx.testing.util import SphinxTestApp

    app = SphinxTestApp("html", srcdir=rootdir / "test-checklist-furo", builddir=out,
                        freshenv=True, status=StringIO(), warning=StringIO())
    try:
        app.build()
        assert app.warning.getvalue().strip() == ""
    finally:
        app.cleanup()
    return {p.relative_to(app.outdir).as_posix(): p.read_text()
            for p in Path(app.outdir).rglob("*.html")}


@pytest.fixture(scope="module")
def both_builds(rootdir, tmp_path_factory):
    from sphinx.builders.html import StandaloneHTMLBuilder

    rendered: list[str] = []
    render = StandaloneHTMLBuilder._get_local_toctree

    def counting(self: Any, docname: str, **kwargs: Any) -> str:
        rendered.append(docname)
        return render(self, docname, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StandaloneHTMLBuilder, "_get_local_toctree", counting)
        fast = _build(rootdir, tmp_path_factory.mktemp("fast"))
    fast_rendered, rendered[:] = list(rendered), []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StandaloneHTMLBuilder, "_get_local_toctree", counting)
        patch.setattr(triage_pages, "SharedToctree", _NoSharing)
        patch.setattr(triage_pages, "SharedFormatters", _FreshFormatters)
        patch.setattr(checklist_myst, "_parse_myst_cached", _straightforward_parse)
        slow = _build(rootdir, tmp_path_factory.mktemp("slow"))
    return fast, slow, fast_rendered, list(rendered)


def test_fast_pages_are_byte_identical_to_straightforward_ones(both_builds):
    fast, slow, _, _ = both_builds
    triage = sorted(name for name in fast if name.startswith("triage/"))
    assert len(triage) == 4
    assert sorted(fast) == sorted(slow)
    for name in fast:
        assert fast[name] == slow[name], name


def test_triage_pages_carry_the_site_navigation(both_builds):
    fast, _, _, _ = both_builds
    page = fast["triage/x86-64-twin-3-x/7/test_evil.html"]
    start = page.index('class="sidebar-tree"')
    nav = page[start:page.index("</div>", start)]
    links = re.findall(r'class="reference internal" href="([^"]+)"', nav)
    assert {"../../../guide/index.html", "../../../guide/nested.html", "../../../about.html",
            "../../../guide/first.html"} <= set(links)
    assert "current" not in nav  # no entry is this page or one of its ancestors


def test_the_navigation_of_triage_pages_is_rendered_once(both_builds):
    _, _, fast_rendered, slow_rendered = both_builds
    fast = [d for d in fast_rendered if d.startswith("triage/")]
    slow = [d for d in slow_rendered if d.startswith("triage/")]
    assert len(slow) == 4 and len(fast) == 1  # furo asks once per page, with the same arguments
    assert [d for d in fast_rendered if not d.startswith("triage/")] == [
        d for d in slow_rendered if not d.startswith("triage/")]  # documents: untouched


# -- substitute / neutralise: one walk == the three-walk originals -------------------------------
def _reference_substitute(root: nodes.Element, values: dict[str, str] | None) -> None:
    """The straightforward version (three findall walks), kept verbatim as the oracle."""
    from bbwatch.triage.checklist import PLACEHOLDERS
    from bbwatch.triage.mdescape import url_target

    c = checklist_myst
    for ref in list(root.findall(nodes.reference)):
        found = c._SENTINEL_URL.match(ref.get("refuri", ""))
        if not found:
            continue
        if values is None:
            ref.replace_self(ref.children)
            continue
        ref["refuri"] = url_target(values.get(found.group(1), ""))
        if len(ref["refuri"]) > 300:
            ref["classes"].append("bbwatch-long-url")
    for block in list(root.findall(nodes.literal_block)):
        text = block.astext()
        new_text = c._NAME.sub(lambda m: c._value(values, m, block=True), text)
        if new_text != text:
            new = nodes.literal_block(new_text, new_text, **block.attributes)
            new["language"] = block.get("language") or "text"
            block.replace_self(new)
    for text_node in list(root.findall(nodes.Text)):
        parent = text_node.parent
        if parent is None or isinstance(parent, nodes.literal_block | nodes.raw):
            continue
        text = str(text_node)
        if not c._NAME.search(text):
            continue
        pieces: list[nodes.Node] = []
        last = 0
        for match in c._NAME.finditer(text):
            name = match[1] or match[2]
            if name not in PLACEHOLDERS:
                continue
            pieces.append(nodes.Text(text[last:match.start()]))
            if values is None and not isinstance(parent, nodes.literal):
                pieces.append(nodes.inline(name, c._label(name), classes=["bbwatch-blank"]))
            else:
                pieces.append(nodes.Text(c._value(values, match)))
            last = match.end()
        pieces.append(nodes.Text(text[last:]))
        index = parent.index(text_node)
        parent.remove(text_node)
        for offset, piece in enumerate(p for p in pieces if not isinstance(p, nodes.Text) or p):
            parent.insert(index + offset, piece)


def _reference_neutralise(root: nodes.Element) -> None:
    from bbwatch.triage.mdescape import visible

    for block in list(root.findall(nodes.literal_block)):
        text = block.astext()
        if visible(text) != text:
            new = nodes.literal_block(visible(text), visible(text), **block.attributes)
            block.replace_self(new)
    for text_node in list(root.findall(nodes.Text)):
        if text_node.parent is not None and visible(str(text_node)) != str(text_node):
            text_node.parent.replace(text_node, nodes.Text(visible(str(text_node))))
    for node in root.findall(nodes.Element):
        for key in ("label", "step"):
            if isinstance(node.get(key), str):
                node[key] = visible(node[key])


def _both(text: str, values: dict[str, str] | None) -> tuple[str, str]:
    out = []
    for sub, neu in ((_reference_substitute, _reference_neutralise),
                     (checklists.substitute, checklists.neutralise)):
        box = nodes.container()
        box.extend(checklists.parse_myst(text))
        box += checklists.checklist_checkbox(step="s\x1b1", label="L\u202e{builder}")
        sub(box, values)
        neu(box)
        out.append(box.pformat())
    return out[0], out[1]


def _sample_values() -> list[dict[str, str]]:
    from bbwatch.triage.context import TrackerLinks
    from bbwatch.triage.fill import fill

    from tests.triage_samples import control_context, hostile_context, infra_context

    found = []
    for ctx in (hostile_context(), control_context(), infra_context()):
        triage = fill(ctx, load_checklists(), TrackerLinks())
        found += [f.values for f in triage.failures] or [triage.values]
    return found


@pytest.mark.parametrize("values", [None, *_sample_values()], ids=lambda v: "generic"
                         if v is None else v.get("builder", "?")[:20])
def test_one_walk_substitute_and_neutralise_match_the_originals(values):
    for text in _bodies():
        reference, fast = _both(text, values)
        assert fast == reference, text


PIECES = ["{builder}", "{test_id}", "{build_url}", "%7Bbuilder%7D", "{nope}", "\x1b[31m", "\x00",
          "\u202e", "\u2066", "`", "*", "[", "](", "<", ">", "&", "\n", "\n\n", "```\n", "- ", "x",
          " ", "{", "}", "https://e.org/{test_file}?q=1", ":::{note}\n", "[t]({log_url})"]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(st.sampled_from(PIECES), max_size=14).map("".join),
       value=st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
       generic=st.booleans())
def test_one_walk_matches_on_generated_bodies_and_values(body, value, generic):
    from bbwatch.triage.checklist import PLACEHOLDERS

    values = None if generic else {name: f"{name}:{value}" for name in PLACEHOLDERS}
    reference, fast = _both(body, values)
    assert fast == reference
