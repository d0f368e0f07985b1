"""Checklist bodies as docutils nodes: MyST parsed once per distinct body (``parse_myst``), with
``{placeholders}`` substituted into the parsed tree afterwards (``substitute``), never into the
markup, so a value from a master, a log or a tracker is never parsed as markup.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from docutils import nodes
from docutils.core import publish_doctree

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


# What MyST's docutils parser gets for a checklist body: our own data, yet no file or raw
# markup. ``raw_enabled`` stays at its default: MyST's parser would then walk the tree with
# ``document.traverse`` (deprecated since docutils 0.18, one DeprecationWarning per body);
# ``_drop_raw`` removes the raw nodes instead, as that walk does.
_MYST_SETTINGS = {
    "myst_enable_extensions": ["colon_fence", "deflist", "tasklist"],
    "report_level": 4,
    "halt_level": 5,
    "warning_stream": False,
    "file_insertion_enabled": False,
    "doctitle_xform": False,
}


@functools.lru_cache(maxsize=256)
def _parse_myst_cached(text: str) -> nodes.document:
    """One parse per distinct body (the bodies are the checklists' own, a few dozen): every
    per-failure page copies the same tree and substitutes its values into the copy."""
    from myst_parser.parsers.docutils_ import Parser  # heavy (~0.2 s): only when bodies parse

    document = publish_doctree(text, parser=Parser(), settings_overrides=_MYST_SETTINGS)
    _drop_raw(document)
    return document


def _drop_raw(document: nodes.document) -> None:
    """Raw HTML or LaTeX never reaches a page from a checklist body (MyST makes raw nodes of
    inline HTML and of the ``{raw}`` directive)."""
    for node in list(document.findall(nodes.raw)):
        node.parent.remove(node)


def parse_myst(text: str) -> list[nodes.Node]:
    """MyST text -> docutils nodes, outside any Sphinx document (for generated pages)."""
    # docutils' own deepcopy of each child: copy.deepcopy would also copy the whole parsing
    # document behind every node
    return [child.deepcopy() for child in _parse_myst_cached(prepare(text)).children]


def substitute(root: nodes.Element, values: Mapping[str, str] | None) -> None:
    """Put values in place of ``{placeholders}`` in a parsed tree, as text nodes and encoded
    link targets; with ``values=None`` draw blanks to fill in by hand (the generic checklist)."""
    for ref in list(root.findall(nodes.reference)):
        found = _SENTINEL_URL.match(ref.get("refuri", ""))
        if not found:
            continue
        if values is None:
            ref.replace_self(ref.children)  # keep the words, a link to nowhere would mislead
            continue
        ref["refuri"] = url_target(values.get(found.group(1), ""))
        if len(ref["refuri"]) > 300:
            ref["classes"].append("bbwatch-long-url")  # print a note, not 8 kB of URL
    for block in list(root.findall(nodes.literal_block)):
        text = block.astext()
        new_text = _NAME.sub(lambda m: _value(values, m, block=True), text)
        if new_text != text:
            new = nodes.literal_block(new_text, new_text, **block.attributes)
            new["language"] = block.get("language") or "text"  # never guess a lexer for logs
            block.replace_self(new)
    for text_node in list(root.findall(nodes.Text)):
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


def _label(name: str) -> str:
    return name.replace("_", " ")


def _value(values: Mapping[str, str] | None, match: re.Match[str], block: bool = False) -> str:
    name = match[1] or match[2]
    if name not in PLACEHOLDERS:
        return match.group(0)
    if values is None:
        return f"<{_label(name)}>" if block else f"____ ({_label(name)})"
    return values.get(name, "")
