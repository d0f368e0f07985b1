"""History strips: a builder's (or a test's) last builds as small squares, newest right.

Each square is a link to its build, coloured by a CSS class (``bbwatch-cell-<verdict>``) AND
carrying its words: the text inside the square (``#12 failure``) is visually hidden on screen
but read by screen readers, printed on paper, and repeated in the link's title (a tooltip).
Made at build time, so the strips need no JavaScript, work offline and print. Builder and test
names never go in here; only numbers, result words and URLs built by ``bbwatch.source.urls``
from the master's base URL.

A strip is ONE docutils node (``history_strip``) holding its squares as data, not 21 nodes:
the status page alone has thousands of squares, and a node each (with its attribute dict and
lists) made the build create, walk, write and garbage-collect ~10^5 more objects. Its HTML
visitor writes each square with the translator's own escaping (``attval``/``encode``), so a
value still reaches HTML only through a node and the writer's escaping; other writers show
the node's text (the caption and the squares' words) as an inline.

Also: the anchor of a known-failures entry (``problem_anchor``), shared by the entries and
the overview rows that link to them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.writers.html5 import HTML5Translator

from bbwatch.models import Build
from bbwatch.source.urls import build_url
from bbwatch.sphinxext.live_render import NO_SEARCH, clean
from bbwatch.triage.flaky_stats import Cell, build_strip, test_strip
from bbwatch.triage.rows import Analysis, BranchStatus, Problem, describe_age

STRIP_LENGTH = 20  # builds per status-page strip
MATRIX_LENGTH = 8  # results per failure-matrix cell

# verdict -> CSS suffix (a result word or a test verdict; "not run" has a space)
_CSS = {"not run": "notrun"}


def css_of(verdict: str) -> str:
    return _CSS.get(verdict, verdict)


class history_strip(nodes.Inline, nodes.TextElement):  # noqa: N801 (docutils node naming)
    """A strip of squares. ``cells``: one ``(words, url or "", css suffix)`` per square, oldest
    first; ``caption``: the visually hidden words before them. Its text (for non-HTML writers
    and ``astext``) is the caption and the squares' words; search skips it (``no-search``)."""

    def cells(self) -> list[StripCell]:
        return [StripCell(*c) for c in self["cells"]]


class StripCell(NamedTuple):
    words: str  # "#12 failure": the square's text and its tooltip
    url: str  # the build's page; "" when the master's URL is not http(s)
    css: str  # bbwatch-cell-<css>


def cell(cell: Cell, base_url: str, what: str = "") -> StripCell:
    """One square: ``#N <verdict>`` (+ ``what``, e.g. the test), linked to build #N."""
    build = cell.build
    words = f"#{build.number} {cell.verdict}" + (f" ({what})" if what else "")
    url = clean(build_url(base_url, build.builderid, build.number))
    if not url.lower().startswith(("http://", "https://")):
        url = ""
    return StripCell(words, url, css_of(cell.verdict))


def strip(cells: Sequence[Cell], base_url: str, caption: str, *classes: str) -> history_strip:
    """A strip of squares, oldest first, introduced by a visually hidden ``caption``."""
    squares = [cell(c, base_url) for c in cells]
    text = caption + " ".join(s.words for s in squares)
    return history_strip(text, text, caption=caption, cells=[tuple(s) for s in squares],
                         classes=["bbwatch-strip", *classes, NO_SEARCH])


def visit_strip_html(self: HTML5Translator, node: history_strip) -> None:
    """``<span class="bbwatch-strip ..."><span class="bbwatch-sr">caption</span>`` then one
    ``<a class="bbwatch-cell bbwatch-cell-<css> ...">`` per square (a span when no link).
    Every value goes through the translator's ``encode`` (it escapes quotes too, so it serves
    attributes; ``clean`` already took control characters out of the URLs)."""
    encode = self.encode
    classes: dict[str, str] = {}  # a strip has a few verdicts: each class string made once
    out = [self.starttag(node, "span", ""),
           f'<span class="bbwatch-sr">{encode(node["caption"])}</span>']
    for words, url, css in node["cells"]:
        cls = classes.get(css)
        if cls is None:
            cls = classes[css] = encode(f"bbwatch-cell bbwatch-cell-{css}")
        text = encode(words)
        if url:
            out.append(f'<a class="{cls} reference external" href="{encode(url)}" '
                       f'title="{text}">{text}</a>')
        else:
            out.append(f'<span class="{cls}">{text}</span>')
    out.append("</span>")
    self.body.append("".join(out))
    raise nodes.SkipNode


def _visit_as_inline(self: nodes.NodeVisitor, node: history_strip) -> None:
    self.visit_inline(node)


def _depart_as_inline(self: nodes.NodeVisitor, node: history_strip) -> None:
    self.depart_inline(node)


def builder_strip(builds: Sequence[Build], base_url: str,
                  limit: int = STRIP_LENGTH) -> nodes.Inline:
    """The status page's strip: the builder's last ``limit`` completed builds by result."""
    cells = build_strip(builds, limit)
    if not cells:
        return nodes.inline("no completed build", "no completed build",
                            classes=["bbwatch-strip", "bbwatch-strip-empty"])
    caption = f"Last {len(cells)} builds, oldest first: "
    return strip(cells, base_url, caption, "bbwatch-strip-builds")


def verdict_strip(analysis: Analysis, builderid: int, test_file: str | None,
                  limit: int = MATRIX_LENGTH) -> nodes.Inline:
    """A test's last ``limit`` verdicts on one builder (pass/fail/flaky/not run)."""
    cells = test_strip(analysis.fleet.builds.get(builderid, ()), analysis.tests, test_file,
                       limit)
    if not cells:
        return nodes.inline("no build", "no build", classes=["bbwatch-strip",
                                                             "bbwatch-strip-empty"])
    caption = f"last {len(cells)} results, oldest first: "
    return strip(cells, analysis.fleet.base_url, caption, "bbwatch-strip-tests")


def problem_anchor(problem: Problem) -> str:
    """The HTML id of a known-failures entry: readable, unique per problem key."""
    digest = hashlib.sha1(problem.key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    readable = nodes.make_id(problem.test_file or problem.kind or "problem")[:40].strip("-")
    return f"problem-{readable}-{digest}" if readable else f"problem-{digest}"


def age(epoch: float | None, now: float, suffix: str = " ago") -> nodes.inline:
    """``3 hours ago``, true at ``now`` (the last check of the master), and re-computed by
    the page's script from the absolute time in its class when the page is open later."""
    if not epoch:
        return nodes.inline("unknown", "unknown", classes=["bbwatch-age"])
    text = describe_age(now - epoch) + suffix
    kind = {" ago": ["bbwatch-age-ago"], " old": ["bbwatch-age-old"]}.get(suffix, [])
    return nodes.inline(text, text, classes=["bbwatch-age", f"bbwatch-t-{int(epoch)}", *kind])


def add_history_column(tree: Sequence[nodes.Node], sections: Sequence[BranchStatus],
                       analysis: Analysis, after: int = 2) -> None:
    """Give each status table (one per branch section, in order) a history column: the
    builder's last builds as a strip, after the ``after``-th column."""
    tables = [n for n in tree if isinstance(n, nodes.table) and "bbwatch-status" in n["classes"]]
    base = analysis.fleet.base_url
    for table, section in zip(tables, sections, strict=False):
        group = next(iter(table.findall(nodes.tgroup)))
        group["cols"] = group.get("cols", 0) + 1
        specs = [c for c in group.children if isinstance(c, nodes.colspec)]
        if len(specs) >= after:
            group.insert(group.index(specs[after - 1]) + 1, nodes.colspec(colwidth=22))
        head = next(iter(group.findall(nodes.thead)))
        title = f"Last {STRIP_LENGTH} builds (newest right)"
        head_entry = nodes.entry()
        head_entry += nodes.paragraph(title, title)
        head[0].insert(after, head_entry)
        body = next(iter(group.findall(nodes.tbody)))
        for tr, row in zip(body.children, section.rows, strict=False):
            entry = nodes.entry()
            para = nodes.paragraph()
            para += builder_strip(analysis.fleet.builds.get(row.builder.builderid, ()), base)
            entry += para
            tr.insert(after, entry)


def anchor_entries(tree: Sequence[nodes.Node], problems: Sequence[Problem]) -> None:
    """Give each known-failures entry (``bbwatch-problem`` boxes, in the order the entries are
    rendered: test and mass problems, build failures, infrastructure) its anchor."""
    order = ([p for p in problems if p.group in ("test", "mass")]
             + [p for p in problems if p.group == "build"]
             + [p for p in problems if p.group == "infra"])
    boxes = [n for n in tree if isinstance(n, nodes.container)
             and "bbwatch-problem" in n["classes"]]
    for box, problem in zip(boxes, order, strict=False):
        anchor = problem_anchor(problem)
        if anchor not in box["ids"]:
            box["ids"].append(anchor)


def setup_strips(app: Sphinx) -> None:
    inline = (_visit_as_inline, _depart_as_inline)
    app.add_node(history_strip, html=(visit_strip_html, None), latex=inline, text=inline,
                 man=inline, texinfo=inline)
