"""Checklist bodies as docutils nodes: MyST parsed once per distinct body (``parse_myst``), with
``{placeholders}`` substituted into the parsed tree afterwards (``substitute``), never into the
markup, so a value from a master, a log or a tracker is never parsed as markup.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import re
from collections.abc import Iterator, Mapping

from docutils import io, nodes
from docutils.core import Publisher, publish_doctree
from docutils.frontend import Values, get_default_settings
from docutils.utils import new_document

from bbwatch.triage.checklist import PLACEHOLDERS
from bbwatch.triage.mdescape import url_target

_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|%7B([A-Za-z_][A-Za-z0-9_]*)%7D")


# URL placeholders become this absolute URL before parsing, so MyST makes them external links
# (not cross-references to resolve); substitute() swaps in the real URL afterwards.
_SENTINEL = "https://bbwatch.invalid/placeholder/"
_LINK_TARGET = re.compile(r"\]\(<?\{([A-Za-z_][A-Za-z0-9_]*)\}>?\)")
_SENTINEL_URL = re.compile(re.escape(_SENTINEL) + r"([A-Za-z_][A-Za-z0-9_]*)$")


def prepare(body: str) -> str:
    """Checklist MyST with URL placeholders turned into parseable absolute links."""
    return _LINK_TARGET.sub(lambda m: f"]({_SENTINEL}{m.group(1)})", body)


_MYST_SETTINGS = {
    "myst_enable_extensions": ["colon_fence", "deflist", "tasklist"],
    "report_level": 4,
    "halt_level": 5,
    "warning_stream": False,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "doctitle_xform": False,
}


@functools.cache
def _docutils_settings() -> Values:
    """The settings ``publish_doctree`` would build for every body, built once: docutils'
    option parser cost more than the MyST parse itself."""
    from myst_parser.parsers.docutils_ import Parser  # heavy (~0.2 s): only when bodies parse

    # the components and settings of docutils.core.publish_programmatically
    publisher = Publisher("standalone", Parser(), "null", source_class=io.StringInput,
                          destination_class=io.NullOutput)
    publisher.process_programmatic_settings(None, dict(_MYST_SETTINGS, traceback=True), None)
    return publisher.settings


@functools.lru_cache(maxsize=256)
def _parse_myst_cached(text: str) -> nodes.document:
    from myst_parser.parsers.docutils_ import Parser  # heavy (~0.2 s): only when bodies parse

    # a copy per parse: publishing records dependencies and the source in the settings
    with _default_documents_from_cached_settings():
        return publish_doctree(text, parser=Parser(), settings=copy.copy(_docutils_settings()))


@functools.cache
def _default_settings(parser_cls: type) -> Values:
    return get_default_settings(parser_cls)


@contextlib.contextmanager
def _default_documents_from_cached_settings() -> Iterator[None]:
    """MyST's renderer makes a default document even when handed one (``options.get(
    "document", make_document())``) and throws it away; making it builds a docutils option
    parser, ~40% of parsing a short body. While our bodies parse, that default document comes
    from default settings built once: an equal document, made cheaply."""
    from myst_parser.mdit_to_docutils import base  # heavy (~0.2 s): only when bodies parse

    original = getattr(base, "make_document", None)
    if original is None or original.__defaults__ is None:  # not the function we know: leave it
        yield
        return
    default_path, default_parser = original.__defaults__

    def make_document(source_path: str = default_path,
                      parser_cls: type = default_parser) -> nodes.document:
        return new_document(source_path, settings=copy.copy(_default_settings(parser_cls)))

    base.make_document = make_document
    try:
        yield
    finally:
        base.make_document = original


def parse_myst(text: str) -> list[nodes.Node]:
    """MyST text -> docutils nodes, outside any Sphinx document (for generated pages)."""
    # docutils' own deepcopy: copy.deepcopy also copied the whole parsing document behind
    # every node, ~50x slower, which the per-failure pages paid on every step
    return [child.deepcopy() for child in _parse_myst_cached(prepare(text)).children]


def substitute(root: nodes.Element, values: Mapping[str, str] | None) -> None:
    """Put values in place of ``{placeholders}`` in a parsed tree, as text nodes and encoded
    link targets; with ``values=None`` draw blanks to fill in by hand (the generic checklist)."""
    # One walk, then links, blocks and text in turn (each step only touches its own nodes).
    refs, blocks, texts = _split(root)
    for ref in refs:
        found = _SENTINEL_URL.match(ref.get("refuri", ""))
        if not found:
            continue
        if values is None:
            ref.replace_self(ref.children)  # keep the words, a link to nowhere would mislead
            continue
        ref["refuri"] = url_target(values.get(found.group(1), ""))
        if len(ref["refuri"]) > 300:
            ref["classes"].append("bbwatch-long-url")  # print a note, not 8 kB of URL
    for block in blocks:
        text = block.astext()
        if not _NAME.search(text):
            continue
        new_text = _NAME.sub(lambda m: _value(values, m, block=True), text)
        if new_text != text:
            new = nodes.literal_block(new_text, new_text, **block.attributes)
            new["language"] = block.get("language") or "text"  # never guess a lexer for logs
            block.replace_self(new)
    for text_node in texts:
        parent = text_node.parent
        if parent is None or isinstance(parent, nodes.literal_block | nodes.raw):
            continue
        text = str(text_node)
        if not _NAME.search(text):
            continue
        pieces: list[nodes.Node] = []
        last = 0
        for match in _NAME.finditer(text):
            name = match[1] or match[2]
            if name not in PLACEHOLDERS:
                continue
            pieces.append(nodes.Text(text[last:match.start()]))
            if values is None and not isinstance(parent, nodes.literal):
                pieces.append(nodes.inline(name, _label(name), classes=["bbwatch-blank"]))
            else:
                pieces.append(nodes.Text(_value(values, match)))
            last = match.end()
        pieces.append(nodes.Text(text[last:]))
        index = parent.index(text_node)
        parent.remove(text_node)
        for offset, piece in enumerate(p for p in pieces if not isinstance(p, nodes.Text) or p):
            parent.insert(index + offset, piece)


def _split(
    root: nodes.Element,
) -> tuple[list[nodes.reference], list[nodes.literal_block], list[nodes.Text]]:
    """References, literal blocks and text nodes of a tree, in document order, in one walk."""
    refs: list[nodes.reference] = []
    blocks: list[nodes.literal_block] = []
    texts: list[nodes.Text] = []
    for node in root.findall():
        if isinstance(node, nodes.Text):
            texts.append(node)
        elif isinstance(node, nodes.reference):
            refs.append(node)
        elif isinstance(node, nodes.literal_block):
            blocks.append(node)
    return refs, blocks, texts


def _label(name: str) -> str:
    return name.replace("_", " ")


def _value(values: Mapping[str, str] | None, match: re.Match[str], block: bool = False) -> str:
    name = match[1] or match[2]
    if name not in PLACEHOLDERS:
        return match.group(0)
    if values is None:
        return f"<{_label(name)}>" if block else f"____ ({_label(name)})"
    return values.get(name, "")
