"""``bbwatch-qr-links``: links to pages of this site, each with a QR code on paper.

A printed page cannot be clicked. The directive lists pages of the site by docname with a
label; on screen each is an ordinary link, in print it also shows the QR code of the page's
absolute URL (``html_baseurl``, else ``DEFAULT_SITE_URL``, the address ``make serve`` uses).
The codes are drawn at ``doctree-resolved``, when the builder knows each page's URL; the labels
are resolved like ``{doc}`` references, so a missing page is the usual warning::

    ```{bbwatch-qr-links}
    :caption: The live pages

    live/known-failures What fails now
    ```
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from bbwatch.triage.qr import qr_svg

DEFAULT_SITE_URL = "http://127.0.0.1:8000/"  # `make serve`


class qr_code(nodes.General, nodes.Inline, nodes.Element):
    """Placeholder for the QR code of page ``docname``; drawn at doctree-resolved."""


class QRLinks(SphinxDirective):
    has_content = True
    option_spec = {"caption": directives.unchanged, "class": directives.class_option}

    def run(self) -> list[nodes.Node]:
        container = nodes.container(classes=["bbwatch-qr-links", *self.options.get("class", [])])
        if "caption" in self.options:
            container += nodes.rubric(text=self.options["caption"])
        items = nodes.bullet_list(classes=["bbwatch-qr-list"])
        for number, line in enumerate(self.content, self.content_offset + 1):
            docname, _, label = line.strip().partition(" ")
            if not docname:
                continue
            docname = docname.strip("/")
            if not label.strip():
                raise self.error(f"line {number}: 'DOCNAME LABEL' expected, got {line!r}")
            ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget="/" + docname,
                                        refexplicit=True, refdoc=self.env.docname)
            ref += nodes.inline(text=label.strip())
            item = nodes.list_item()
            item += nodes.paragraph("", "", ref)
            item += qr_code(docname=docname, label=label.strip())
            items += item
        container += items
        self.set_source_info(container)
        return [container]


def draw_qr_codes(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Replace each placeholder by its SVG (HTML builders) or by nothing (others)."""
    html = app.builder.format == "html"
    base = app.config.html_baseurl or DEFAULT_SITE_URL
    for node in list(doctree.findall(qr_code)):
        if not html:
            node.parent.remove(node)
            continue
        url = urljoin(base if base.endswith("/") else base + "/",
                      app.builder.get_target_uri(node["docname"]))
        # The SVG holds only drawn modules (bbwatch.triage.qr): no text from any source.
        svg = qr_svg(url, title=f"QR code: {node['label']}")
        node.replace_self(nodes.raw("", f'<span class="bbwatch-qr">{svg}</span>',
                                    format="html"))


def setup_qr(app: Sphinx) -> dict[str, Any]:
    app.add_node(qr_code)
    app.add_directive("bbwatch-qr-links", QRLinks)
    app.connect("doctree-resolved", draw_qr_codes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
