"""The per-failure pages' building blocks: checklist bodies parsed by MyST (once per body, no
raw markup, no file read, no DeprecationWarning), values substituted into the parsed tree as
text (never parsed as markup), control and bidi characters shown, and whole pages under furo
carrying the site's navigation."""

from __future__ import annotations

import re
import warnings
from io import StringIO
from pathlib import Path

import pytest
from bbwatch.sphinxext import checklist_myst, checklists
from bbwatch.triage.checklist import PLACEHOLDERS, load_checklists
from bbwatch.triage.mdescape import url_target
from docutils import nodes
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

EDGE_BODIES = [
    "",
    "Plain text with a {builder} and [a link]({build_url}).",
    "```\n{reproduce_command}\n```\n\n:::{note}\nfenced {test_file}\n:::\n",
    "Term\n: definition with `{test_id}`\n\n- [ ] a task\n- [x] done\n",
    "# Heading\n\n[^1]: a footnote\n\nText[^1] and <https://example.org/x>.\n",
    "```{raw} html\n<b>no</b>\n```\n\n```{include} /etc/passwd\n```\n",
    "Inline <b>html</b> and\n\n<div>a block</div>\n",
    "```{eval-rst}\n.. note:: reStructuredText for {builder}\n\n   *inside* `x <{build_url}>`_\n"
    "```\n",
    "Before\n\n```{eval-rst}\n.. _target:\n\nA paragraph.\n```\n\nAfter [link](#target).\n",
]


def _bodies() -> list[str]:
    found = [s.body for c in load_checklists().values() for s in c.steps]
    found += [c.description for c in load_checklists().values() if c.description]
    return sorted(set(found)) + EDGE_BODIES


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


# -- parsing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", _bodies())
def test_bodies_parse_without_raw_markup_files_or_deprecation_warnings(text):
    checklist_myst._parse_myst_cached.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MyST called the supported way: nothing deprecated
        parsed = checklists.parse_myst(text)
    box = nodes.container("", *parsed)
    assert not list(box.findall(nodes.raw))
    assert "root:" not in box.astext()  # /etc/passwd was not included
    for ref in box.findall(nodes.reference):  # placeholder links wait for their value
        if "{" in text and ref.get("refuri", "").startswith(checklist_myst._SENTINEL):
            assert ref["refuri"][len(checklist_myst._SENTINEL):] in PLACEHOLDERS


def test_markdown_structure_survives_parsing():
    box = nodes.container("", *checklists.parse_myst(
        "Run `{reproduce_command}` on **{builder}**; see [the build]({build_url}).\n\n"
        "```\n{reproduce_command}\n```\n"))
    assert box.next_node(nodes.literal).astext() == "{reproduce_command}"
    assert box.next_node(nodes.strong).astext() == "{builder}"
    assert box.next_node(nodes.reference)["refuri"] == checklist_myst._SENTINEL + "build_url"
    assert box.next_node(nodes.literal_block).astext() == "{reproduce_command}\n"
    eval_rst = nodes.container("", *checklists.parse_myst(EDGE_BODIES[-2]))
    assert eval_rst.next_node(nodes.note) is not None
    assert eval_rst.next_node(nodes.emphasis).astext() == "inside"


def test_each_body_is_parsed_once():
    checklist_myst._parse_myst_cached.cache_clear()
    for _ in range(3):
        checklists.parse_myst("Once, for {builder}.")
    info = checklist_myst._parse_myst_cached.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_parse_myst_gives_fresh_copies():
    text = "Run `{reproduce_command}` on {builder}."
    first, second = checklists.parse_myst(text), checklists.parse_myst(text)
    assert [n.pformat() for n in first] == [n.pformat() for n in second]
    assert all(a is not b for a, b in zip(first, second, strict=True))
    first[0].children[0].parent.remove(first[0].children[0])  # mutate one copy...
    assert checklists.parse_myst(text)[0].pformat() == second[0].pformat()  # ...not the cache


# -- substitution --------------------------------------------------------------------------------
def _filled(text: str, values: dict[str, str] | None) -> nodes.container:
    box = nodes.container()
    box.extend(checklists.parse_myst(text))
    box += checklists.checklist_checkbox(step="s\x1b1", label="L\u202e{builder}")
    checklists.substitute(box, values)
    checklists.neutralise(box)
    return box


def test_values_become_text_links_and_blocks():
    values = {"builder": "*AMD64* <b>x</b>", "build_url": "https://e.org/a b?q=<1>",
              "reproduce_command": "./python -m test {test_file}", "test_id": "t\x1b[1m"}
    box = _filled("On {builder}: [open]({build_url}), `{test_id}`, {nope}.\n\n"
                  "```\n{reproduce_command}\n```\n", values)
    paragraph = box.next_node(nodes.paragraph)
    assert paragraph.astext() == "On *AMD64* <b>x</b>: open, t\u241b[1m, {nope}."
    assert not list(box.findall(nodes.emphasis))  # a value is never parsed as markup
    assert box.next_node(nodes.reference)["refuri"] == url_target(values["build_url"])
    block = box.next_node(nodes.literal_block)
    assert block.astext() == "./python -m test {test_file}\n" and block["language"] == "text"
    checkbox = box.next_node(checklists.checklist_checkbox)
    assert checkbox["step"] == "s\u241b1" and checkbox["label"] == "L<U+202E>{builder}"


def test_long_urls_are_marked_for_print():
    long = "https://e.org/?q=" + "x" * 400
    box = _filled("[search]({search_text_url})", {"search_text_url": long})
    assert "bbwatch-long-url" in box.next_node(nodes.reference)["classes"]
    short = _filled("[search]({search_text_url})", {"search_text_url": "https://e.org/?q=x"})
    assert "bbwatch-long-url" not in short.next_node(nodes.reference)["classes"]


def test_the_generic_checklist_draws_blanks():
    box = _filled("On {builder} see [the build]({build_url}), run `{test_id}`.\n\n"
                  "```\n{reproduce_command}\n```\n", None)
    blanks = [n for n in box.findall(nodes.inline) if "bbwatch-blank" in n["classes"]]
    assert [b.astext() for b in blanks] == ["builder"]
    assert not list(box.findall(nodes.reference))  # a link to nowhere would mislead
    assert "the build" in box.astext()
    assert box.next_node(nodes.literal).astext() == "____ (test id)"
    assert box.next_node(nodes.literal_block).astext() == "<reproduce command>\n"


def _shape(tree: nodes.Node) -> list[str]:
    return [n.tagname for n in tree.findall(nodes.Element)]


PIECES = ["{builder}", "{test_id}", "{build_url}", "%7Bbuilder%7D", "{nope}", "\x1b[31m", "\x00",
          "\u202e", "\u2066", "`", "*", "[", "](", "<", ">", "&", "\n", "\n\n", "```\n", "- ", "x",
          " ", "{", "}", "https://e.org/{test_file}?q=1", ":::{note}\n", "[t]({log_url})"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(st.sampled_from(PIECES), max_size=14).map("".join),
       value=st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
       generic=st.booleans())
@example(body="```\n{builder}", value="\x00", generic=False)  # NUL, docutils' escape mark
def test_substitution_never_adds_markup_and_leaves_nothing_unsafe(body, value, generic):
    values = None if generic else {name: f"{name}:{value}" for name in PLACEHOLDERS}
    try:
        parsed = nodes.container("", *checklists.parse_myst(body))
    except IndexError:  # mdit-py-plugins' myst_blocks reads past the end of e.g. ">%7Bx%7D\n>"
        assume(False)  # (a crash of the markdown parser itself, on markup no checklist uses)
    box = _filled(body, values)
    for text in box.findall(nodes.Text):
        assert not _UNSAFE.search(str(text))
    for block in box.findall(nodes.literal_block):
        assert not _UNSAFE.search(block.rawsource)
    assert not list(box.findall(nodes.raw))
    if generic:
        return
    # The tree keeps the body's shape: values only ever add text, never elements.
    assert _shape(box) == _shape(parsed) + ["checklist_checkbox"]
    for ref in box.findall(nodes.reference):
        assert not ref["refuri"].startswith(checklist_myst._SENTINEL)
    for text in box.findall(nodes.Text):  # no known placeholder left outside a value
        for name in re.findall(r"\{([A-Za-z_]\w*)\}", str(text)):
            assert name not in PLACEHOLDERS or f"{name}:" in value or name in value


# -- whole pages ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def furo_pages(rootdir, tmp_path_factory) -> dict[str, str]:
    from sphinx.testing.util import SphinxTestApp

    app = SphinxTestApp("html", srcdir=rootdir / "test-checklist-furo",
                        builddir=tmp_path_factory.mktemp("furo"), freshenv=True,
                        status=StringIO(), warning=StringIO())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            app.build()
        assert app.warning.getvalue().strip() == ""
    finally:
        app.cleanup()
    return {p.relative_to(app.outdir).as_posix(): p.read_text()
            for p in Path(app.outdir).rglob("*.html")}


def test_a_triage_page_per_context(furo_pages):
    triage = sorted(name for name in furo_pages if name.startswith("triage/"))
    assert len(triage) == 4
    assert "triage/x86-64-twin-3-x/7/test_evil.html" in triage


@pytest.mark.parametrize("name", ["triage/x86-64-twin-3-x/7/test_evil.html",
                                  "triage/amd64-0-pwned-rtl-3-x/3/test_ctl.html"])
def test_triage_pages_carry_the_site_navigation(furo_pages, name):
    pages = {n: p for n, p in furo_pages.items() if n.startswith("triage/")}
    page = pages.get(name) or next(iter(pages.values()))
    start = page.index('class="sidebar-tree"')
    nav = page[start:page.index("</div>", start)]
    links = re.findall(r'class="reference internal" href="([^"]+)"', nav)
    assert {"../../../guide/index.html", "../../../guide/nested.html", "../../../about.html",
            "../../../guide/first.html"} <= set(links)
    assert "current" not in nav  # no entry is this page or one of its ancestors


def test_documents_keep_their_own_navigation(furo_pages):
    page = furo_pages["guide/first.html"]
    start = page.index('class="sidebar-tree"')
    nav = page[start:page.index("</div>", start)]
    assert 'class="current reference internal" href="#"' in nav
