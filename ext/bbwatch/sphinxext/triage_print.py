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
from bbwatch.triage.qr import qr_svg

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


def links_node(triage: Triage) -> nodes.container:
    """Print-only block: a short label, the QR code and the host of each link that matters."""
    box = nodes.container(classes=["bbwatch-print-links"])
    for label, url in printed_links(triage):
        item = nodes.container(classes=["bbwatch-print-link"])
        # At its own size (2 CSS px, about 0.5 mm, a module): a longer URL makes a bigger code,
        # never smaller modules, so a phone reads every code from paper.
        svg = qr_svg(url, title=label)
        item += nodes.raw("", f'<span class="bbwatch-qr">{svg}</span>', format="html")
        para = nodes.paragraph()
        para += nodes.reference(label, label, refuri=url, classes=["bbwatch-qr-target"])
        host = urlsplit(url).netloc
        para += nodes.Text(f" ({host})" if host else "")
        item += para
        box += item
    return box
