"""The checklist's own docutils nodes: a checkbox and a reset button, with their visitors. The
HTML visitors write fixed markup and escaped attribute values only; other writers show a plain
box or nothing. Used by the Sphinx extension and by ``bbwatch triage --format html``.
"""

from __future__ import annotations

from docutils import nodes


class checklist_checkbox(nodes.General, nodes.Inline, nodes.Element):  # noqa: N801
    """A real ``<input type="checkbox">`` for one step (``step`` and ``label`` attributes)."""


class checklist_reset(nodes.General, nodes.Element):  # noqa: N801
    """The "reset" button of one checklist."""


def visit_checkbox_html(self: nodes.NodeVisitor, node: checklist_checkbox) -> None:
    step, label = self.attval(node["step"]), self.attval(node.get("label", ""))
    self.body.append(
        f'<input type="checkbox" class="bbwatch-checklist-box" data-step="{step}"'
        f' aria-label="{label}">'
    )
    raise nodes.SkipNode


def visit_reset_html(self: nodes.NodeVisitor, node: checklist_reset) -> None:
    self.body.append(
        '<button type="button" class="bbwatch-checklist-reset">Reset this checklist</button>'
    )
    raise nodes.SkipNode


def visit_checkbox_text(self: nodes.NodeVisitor, node: checklist_checkbox) -> None:
    self.add_text("[ ] ")
    raise nodes.SkipNode


def visit_checkbox_latex(self: nodes.NodeVisitor, node: checklist_checkbox) -> None:
    self.body.append(r"\framebox[1.6ex]{\rule{0pt}{1.2ex}}\ ")
    raise nodes.SkipNode


def skip(self: nodes.NodeVisitor, node: nodes.Node) -> None:
    raise nodes.SkipNode


def plain_checkbox(self: nodes.NodeVisitor, node: nodes.Node) -> None:
    self.body.append("[ ] ")
    raise nodes.SkipNode
