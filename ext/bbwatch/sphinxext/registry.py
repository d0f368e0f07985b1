"""``known-issues-registry``: the reviewed registry of known issues as a handbook table.

Usage (MyST)::

    ```{known-issues-registry}
    ```

    ```{known-issues-registry} /data/known-issues.toml
    :kind: flaky, failing
    ```

The argument is a path like ``include``'s (relative to the document, or to the source folder
with a leading ``/``); without one, the directive shows the registry the build uses, the same
file the live pages match failures with: ``bbwatch_registry`` (or ``BBWATCH_REGISTRY``; the
demo fleet's registry for ``make demo``), else the production ``/data/known-issues.toml``.
Every string from the file reaches the page through docutils text nodes, so it is escaped. A
broken registry is a ``bbwatch.data`` warning naming the file and line, and the page says what
is wrong.
"""

from __future__ import annotations

from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from bbwatch.errors import RegistryError
from bbwatch.sphinxext.config import WarningType, registry_path
from bbwatch.triage.registry import KINDS, KnownIssue, Registry, load_registry

logger = logging.getLogger(__name__)

# Three columns so the table fits furo's content width: who (issue, kind, date), what (title,
# notes) and where (tests, message, builders, branches).
COLUMNS = ("Issue", "Title and notes", "Covers")
WIDTHS = (16, 44, 40)
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
        if self.arguments:
            rel, path = self.env.relfn2path(self.arguments[0], self.env.docname)
        else:
            path = str(registry_path(self.config, self.env.srcdir))
            rel = path
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
        row = _row([_issue_cell(known), _title_cell(known), _covers_cell(known)])
        row["ids"].append(f"known-issue-{known.number}")
        body += row
    return table


def _row(cells: list[nodes.Element]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        row += nodes.entry("", cell)
    return row


def _issue_cell(known: KnownIssue) -> nodes.Element:
    cell = nodes.container()
    para = nodes.paragraph()
    para += nodes.reference("", f"#{known.number}", refuri=known.url, internal=False)
    cell += para
    kind = nodes.paragraph()
    kind += nodes.inline("", known.kind, classes=["bbwatch-kind", f"bbwatch-kind-{known.kind}",
                                                  *KIND_CLASSES.get(known.kind, [])])
    cell += kind
    if known.added:
        cell += nodes.paragraph("", known.added.isoformat(), classes=["bbwatch-added"])
    if known.evidence:
        evidence = nodes.paragraph(classes=["bbwatch-evidence"])
        evidence += nodes.reference("", "evidence", refuri=known.evidence, internal=False)
        cell += evidence
    return cell


def _title_cell(known: KnownIssue) -> nodes.Element:
    cell = nodes.container()
    title = nodes.paragraph(classes=["bbwatch-issue-title"])
    title += nodes.strong("", known.title)
    cell += title
    if known.notes:
        cell += nodes.paragraph("", known.notes, classes=["bbwatch-notes"])
    return cell


def _covers_cell(known: KnownIssue) -> nodes.Element:
    cell = nodes.container()
    tests = nodes.bullet_list(classes=["simple"])
    for test in known.tests:
        item = nodes.list_item()
        para = nodes.paragraph()
        para += nodes.literal("", test)
        item += para
        tests += item
    cell += tests
    if known.message:
        para = nodes.paragraph()
        para += nodes.Text("message matches ")
        para += nodes.literal("", known.message)
        cell += para
    where = nodes.paragraph()
    if known.builders:
        where += nodes.Text("builders matching ")
        where += nodes.literal("", known.builders)
    else:
        where += nodes.Text("all builders")
    where += nodes.Text("; ")
    where += nodes.Text(f"branches {', '.join(known.branches)}" if known.branches
                        else "all branches")
    cell += where
    return cell


def setup_registry(app: Sphinx) -> None:
    app.add_directive("known-issues-registry", KnownIssuesRegistry)
