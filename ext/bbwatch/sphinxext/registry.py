"""``known-issues-registry``: the reviewed registry of known issues as a handbook table.

Usage (MyST)::

    ```{known-issues-registry}
    ```

    ```{known-issues-registry} /data/known-issues.toml
    :kind: flaky, failing
    ```

The argument is a path like ``include``'s (relative to the document, or to the source folder
with a leading ``/``); the default is ``/data/known-issues.toml``. Every string from the file
reaches the page through docutils text nodes, so it is escaped. A broken registry is a
``bbwatch.data`` warning naming the file and line, and the page says what is wrong.
"""

from __future__ import annotations

from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from bbwatch.registry import KINDS, KnownIssue, Registry, RegistryError, load_registry
from bbwatch.sphinxext.config import WarningType

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/data/known-issues.toml"
COLUMNS = ("Issue", "Title", "Kind", "Tests", "Builders / branches", "Added", "Notes")
WIDTHS = (8, 22, 7, 22, 14, 9, 18)
# sphinx-design's badge classes (loaded by the site); harmless where sphinx-design is absent
KIND_CLASSES = {
    "flaky": ["sd-badge", "sd-bg-warning", "sd-bg-text-warning"],
    "failing": ["sd-badge", "sd-bg-danger", "sd-bg-text-danger"],
    "infra": ["sd-badge", "sd-bg-secondary", "sd-bg-text-secondary"],
}


def _kinds(argument: str | None) -> list[str]:
    kinds = [k.strip() for k in (argument or "").replace(",", " ").split()]
    bad = [k for k in kinds if k not in KINDS]
    if not kinds or bad:
        raise ValueError(f"expected kinds among {', '.join(KINDS)}, got {argument!r}")
    return kinds


class KnownIssuesRegistry(SphinxDirective):
    optional_arguments = 1
    final_argument_whitespace = False
    option_spec: ClassVar[dict[str, object]] = {
        "kind": _kinds,
        "class": directives.class_option,
    }

    def run(self) -> list[nodes.Node]:
        rel, path = self.env.relfn2path(self.arguments[0] if self.arguments else DEFAULT_PATH,
                                        self.env.docname)
        self.env.note_dependency(rel)
        try:
            registry = load_registry(path)
        except RegistryError as exc:
            logger.warning("known issues registry: %s", exc, type="bbwatch",
                           subtype=WarningType.DATA, location=(self.env.docname, self.lineno))
            error = nodes.error()
            error += nodes.paragraph("", f"The known issues registry cannot be shown: {exc}")
            return [error]
        kinds = self.options.get("kind", list(KINDS))
        entries = [k for k in registry.issues if k.kind in kinds]
        table = registry_table(entries)
        table["classes"] += self.options.get("class", [])
        return [summary(registry, entries), table]


def summary(registry: Registry, entries: list[KnownIssue]) -> nodes.paragraph:
    counts = [f"{sum(k.kind == kind for k in entries)} {kind}" for kind in KINDS]
    para = nodes.paragraph(classes=["bbwatch-registry-summary"])
    para += nodes.Text(f"{len(entries)} reviewed entries ({', '.join(counts)}) in ")
    para += nodes.literal("", registry.path.rsplit("/", 1)[-1] if registry.path else "")
    para += nodes.Text(f", for {registry.repo}.")
    return para


def registry_table(entries: list[KnownIssue]) -> nodes.table:
    table = nodes.table(classes=["bbwatch-registry", "longtable"])
    # titles and ids are shown exactly as filed (people copy them into searches): no smartquotes
    table["support_smartquotes"] = False
    group = nodes.tgroup(cols=len(COLUMNS))
    table += group
    for width in WIDTHS:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    head += _row([nodes.paragraph("", title) for title in COLUMNS])
    body = nodes.tbody()
    group += body
    if not entries:
        row = nodes.row()
        row += nodes.entry("", nodes.paragraph("", "No entries."), morecols=len(COLUMNS) - 1)
        body += row
    for known in entries:
        row = _row([
            _issue_cell(known),
            nodes.paragraph("", known.title),
            _kind_cell(known.kind),
            _tests_cell(known),
            _where_cell(known),
            nodes.paragraph("", known.added.isoformat() if known.added else ""),
            nodes.paragraph("", known.notes),
        ])
        row["ids"].append(f"known-issue-{known.number}")
        body += row
    return table


def _row(cells: list[nodes.Element]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        row += nodes.entry("", cell)
    return row


def _issue_cell(known: KnownIssue) -> nodes.paragraph:
    para = nodes.paragraph()
    para += nodes.reference("", f"#{known.number}", refuri=known.url, internal=False)
    return para


def _kind_cell(kind: str) -> nodes.paragraph:
    para = nodes.paragraph()
    para += nodes.inline("", kind, classes=["bbwatch-kind", f"bbwatch-kind-{kind}",
                                            *KIND_CLASSES.get(kind, [])])
    return para


def _tests_cell(known: KnownIssue) -> nodes.paragraph:
    para = nodes.paragraph()
    for i, test in enumerate(known.tests):
        if i:
            para += nodes.Text(", ")
        para += nodes.literal("", test)
    if known.message:
        para += nodes.Text("; message matches ")
        para += nodes.literal("", known.message)
    return para


def _where_cell(known: KnownIssue) -> nodes.paragraph:
    para = nodes.paragraph()
    if known.builders:
        para += nodes.Text("builders matching ")
        para += nodes.literal("", known.builders)
    else:
        para += nodes.Text("all builders")
    para += nodes.Text("; ")
    para += nodes.Text(f"branches {', '.join(known.branches)}" if known.branches
                       else "all branches")
    return para


def setup_registry(app: Sphinx) -> None:
    app.add_directive("known-issues-registry", KnownIssuesRegistry)
