"""What a per-failure page adds for paper (issue 17): the links that matter as a short label and
a QR code, and a header on every printed sheet naming the test, the builder, the build and the
date printed. Shared by the site's pages and ``bbwatch triage --format html`` (both print
``checklists.triage_tree``), shown only in print (``print.css``): on screen nothing changes.

The QR codes are drawn at build time (``bbwatch.triage.qr``: modules only, no text from any
source). The header is a ``@page`` margin box written as a CSS string at build time with the
build's date; ``checklist.js`` puts the date of printing in at ``beforeprint``. Every string in
the CSS is written with CSS hex escapes for anything but letters, digits and a few marks, so a
hostile builder name can neither end the string nor the ``<style>`` element.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from docutils import nodes

from bbwatch.triage.fill import Triage
from bbwatch.triage.mdescape import visible
from bbwatch.triage.qr import QRCache, qr_svg

_CSS_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:#_-")
# A prefilled new-issue form carries the whole issue body (kilobytes): too much for a QR code
# a phone reads from paper. Its code holds the form with the title and labels; the body is on
# the page on screen.
_QR_MAX = 600


def css_string(text: str) -> str:
    """``text`` as a double-quoted CSS string, every unusual character hex-escaped."""
    return '"' + "".join(c if c in _CSS_SAFE else f"\\{ord(c):06x}" for c in text) + '"'


def header_text(triage: Triage) -> str:
    ctx = triage.context
    subject = ctx.failures[0].test_file if ctx.failures else (ctx.infra or "build")
    return visible(f"{subject} · {ctx.builder} · build #{ctx.build_number}")


def header_node(triage: Triage, today: dt.date | None = None) -> nodes.raw:
    """``<style>`` with the printed sheets' header; ``data-header`` (escaped attribute) lets
    ``checklist.js`` rewrite it with the date of printing."""
    head = header_text(triage)
    date = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    rule = ("@media print { @page { @top-left { content: "
            f"{css_string(f'{head} · printed {date}')}; font-size: 8pt; }} }} }}")
    html = (f'<style class="bbwatch-print-header" data-header="{escape(head, quote=True)}">'
            f"{rule}</style>")
    return nodes.raw("", html, format="html")


def printed_links(triage: Triage) -> list[tuple[str, str]]:
    """(label, URL) of the links that matter on paper, in print order, http(s) only."""
    ctx = triage.context
    found: list[tuple[str, str]] = [("Build", ctx.build_url), ("Test log", ctx.log_url)]
    if triage.failures:
        first = triage.failures[0]
        found.append(("New issue form", qr_url(first.values.get("new_issue_url", ""))))
        if first.failure.candidates:
            best = first.failure.candidates[0]
            label = f"Best candidate #{best.number}" if best.number else "Best candidate"
            found.append((label, best.url))
    return [(label, url) for label, url in found
            if url and urlsplit(url).scheme in ("http", "https")]


def qr_url(url: str) -> str:
    """``url`` as the QR code holds it: a long prefilled form loses its ``body``."""
    if len(url) <= _QR_MAX:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "body"]
    short = urlunsplit(parts._replace(query=urlencode(query)))
    return short if len(short) <= _QR_MAX else ""


def links_node(triage: Triage, qr: QRCache | None = None) -> nodes.container:
    """Print-only block: a short label, the QR code and the host of each link that matters."""
    box = nodes.container(classes=["bbwatch-print-links"])
    for label, url in printed_links(triage):
        item = nodes.container(classes=["bbwatch-print-link"])
        # At its own size (2 CSS px, about 0.5 mm, a module): a longer URL makes a bigger code,
        # never smaller modules, so a phone reads every code from paper.
        svg = qr.svg(url, label) if qr is not None else qr_svg(url, title=label)
        item += nodes.raw("", f'<span class="bbwatch-qr">{svg}</span>', format="html")
        para = nodes.paragraph()
        para += nodes.reference(label, label, refuri=url, classes=["bbwatch-qr-target"])
        host = urlsplit(url).netloc
        para += nodes.Text(f" ({host})" if host else "")
        item += para
        box += item
    return box


# -- at most two sheets: the excerpt printed once, cut to what matters ---------------------------
PRINT_EXCERPT_LINES = 14  # longer excerpts print their head and their last lines
_HEAD_LINES = 3  # "FAIL: test_x (...)", the dashes, "Traceback (most recent call last):"


def cut_for_print(excerpt: str, max_lines: int = PRINT_EXCERPT_LINES) -> str:
    """The lines of a long excerpt that matter on paper: its first lines (the failing test and
    the first error line) and its last ones (the last frames and the assertion), with a note
    that the full text is online. A short excerpt is returned as it is."""
    lines = excerpt.splitlines()
    if len(lines) <= max_lines:
        return excerpt
    tail = max_lines - _HEAD_LINES - 1
    skipped = len(lines) - _HEAD_LINES - tail
    note = f"[... {skipped} lines: the full excerpt is on the page online ...]"
    return "\n".join([*lines[:_HEAD_LINES], note, *lines[-tail:]])


def _twin(block: nodes.literal_block, text: str) -> nodes.literal_block:
    """A print-only copy of ``block`` with ``text``; the original becomes screen-only."""
    twin = nodes.literal_block(text, text, classes=["bbwatch-print-only"])
    twin["language"] = block.get("language", "text")
    block["classes"].append("bbwatch-screen-only")
    return twin


def print_once(root: nodes.Element, excerpt: str, where: str) -> None:
    """On paper, the log excerpt stands once, in full or cut (``cut_for_print``); every later
    block that repeats it (the comment to post, the new issue's body) prints a reference to
    ``where`` instead. Screen-only and print-only twins: on screen nothing changes."""
    excerpt = excerpt.strip("\n")
    if not excerpt or excerpt == "(no log excerpt)":
        return
    seen = False
    for block in list(root.findall(nodes.literal_block)):
        text = block.astext()
        if excerpt not in text or "bbwatch-screen-only" in block["classes"]:
            continue
        if not seen:
            seen = True
            cut = cut_for_print(excerpt)
            if cut != excerpt:
                block.parent.insert(block.parent.index(block) + 1,
                                    _twin(block, text.replace(excerpt, cut)))
            continue
        pointer = f"[the log excerpt: see {where}]"
        block.parent.insert(block.parent.index(block) + 1,
                            _twin(block, text.replace(excerpt, pointer)))


def screen_only(node: nodes.Element, note: str) -> nodes.paragraph:
    """Mark ``node`` screen-only; the print-only paragraph that stands in its place."""
    node["classes"].append("bbwatch-screen-only")
    return nodes.paragraph("", note, classes=["bbwatch-print-only", "bbwatch-note"])


def body_on_screen(root: nodes.Element, body: str) -> None:
    """The prefilled issue body, a summary of the steps before it, stays on screen: on paper
    the "New issue form" QR code opens the form with its title and labels."""
    body = body.strip("\n")
    for block in list(root.findall(nodes.literal_block)):
        if body and block.astext().strip("\n") == body:
            block.parent.insert(block.parent.index(block) + 1, screen_only(
                block, "On paper: the body is what the steps above gathered; the "
                       "\u201cNew issue form\u201d code opens the form with its title and labels."))
