"""Triage checklists in the handbook: the ``{triage-checklist}`` directive and the generated
per-failure pages (``triage/<builder-slug>/<build>/<test>.html``).

Checkboxes are a custom node whose HTML visitor writes fixed markup and escaped attribute
values only; step bodies are MyST, parsed into docutils nodes, and per-failure values are
substituted into those nodes afterwards (never into the markup), so every network-derived
string reaches the page escaped by the HTML translator.

Per-failure pages are many and alike: each step body is parsed once per process and copied
per page (``checklist_myst.parse_myst``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from bbwatch.errors import ChecklistError
from bbwatch.sphinxext import triage_print
from bbwatch.sphinxext.checklist_myst import parse_myst, prepare, substitute
from bbwatch.sphinxext.checklist_nodes import (
    checklist_checkbox,
    checklist_reset,
    plain_checkbox,
    skip,
    visit_checkbox_html,
    visit_checkbox_latex,
    visit_checkbox_text,
    visit_reset_html,
)
from bbwatch.sphinxext.config import WarningType
from bbwatch.triage.checklist import Checklist, Step, default_dir, load_checklists
from bbwatch.triage.context import (
    Candidate,
    SuspectChange,
    TriageContext,
)
from bbwatch.triage.fill import (
    FilledFailure,
    FilledStep,
    Triage,
    fill_steps,
)
from bbwatch.triage.mdescape import url_target, visible
from bbwatch.triage.qr import QRCache

logger = logging.getLogger(__name__)

# print.css, checklist.css, checklist.js: shipped in the package (live.py adds the same folder)
STATIC = Path(__file__).parent / "static"
EVENT = "bbwatch-triage-contexts"

# Checklists loaded at builder-inited, by source folder (read workers inherit it on fork).
_LOADED: dict[str, tuple[dict[str, Checklist], str | None]] = {}


# -- nodes -------------------------------------------------------------------------------------


# -- MyST bodies ---------------------------------------------------------------------------------


# -- building checklists -------------------------------------------------------------------------
def checklist_node(
    checklist: Checklist,
    bodies: Sequence[Sequence[nodes.Node]],
    titles: Sequence[str] | None = None,
    extras: Sequence[Sequence[nodes.Node]] | None = None,
    heading: str | None = None,
    key: str | None = None,
) -> nodes.container:
    """The checklist block: title, numbered steps each with a real checkbox, a reset button."""
    key = key or checklist.id
    box = nodes.container(classes=["bbwatch-checklist"], ids=[f"checklist-{key}"])
    box["bbwatch_checklist"] = checklist.id
    box += nodes.paragraph("", "", nodes.strong(heading or checklist.title,
                                                heading or checklist.title),
                           classes=["bbwatch-checklist-title"])
    steps = nodes.enumerated_list(enumtype="arabic", prefix="", suffix=".",
                                  classes=["bbwatch-checklist-steps"])
    for i, step in enumerate(checklist.steps):
        title = titles[i] if titles else step.title
        item = nodes.list_item(classes=["bbwatch-checklist-step"], ids=[f"{key}-{step.id}"])
        head = nodes.paragraph(classes=["bbwatch-step-title"])
        head += checklist_checkbox(step=step.id, label=title)
        head += nodes.strong(title, title)
        item += head
        item.extend(bodies[i])
        if extras and extras[i]:
            aside = nodes.container(classes=["bbwatch-step-found"])
            aside.extend(extras[i])
            item += aside
        steps += item
    box += steps
    box += checklist_reset()
    return box


def generic_body(step: Step) -> list[nodes.Node]:
    body = nodes.container()
    body.extend(parse_myst(step.body))
    substitute(body, None)
    return list(body.children)


def filled_body(step: FilledStep, values: Mapping[str, str]) -> list[nodes.Node]:
    body = nodes.container()
    body.extend(parse_myst(step.step.body))
    substitute(body, values)
    return list(body.children)


def _link(text: str, url: str) -> nodes.Node:
    target = url_target(url) if url else "#"
    if target == "#":
        return nodes.Text(text)
    return nodes.reference(text, text, refuri=target)


def _candidate_item(c: Candidate) -> nodes.list_item:
    para = nodes.paragraph()
    label = f"#{c.number} {c.title}" if c.number else c.title
    para += _link(label, c.url)
    tail = f" ({c.state}" + (f"; {c.reason}" if c.reason else "") + ")"
    para += nodes.Text(tail)
    return nodes.list_item("", para)


def _suspect_item(s: SuspectChange) -> nodes.list_item:
    para = nodes.paragraph()
    if s.revision:
        para += nodes.literal(s.revision[:12], s.revision[:12])
        para += nodes.Text(" ")
    para += _link(s.title or "(no message)", s.url)
    if s.author:
        para += nodes.Text(f" by {s.author}")
    if s.reason:
        para += nodes.Text(f" — {s.reason}")
    return nodes.list_item("", para)


def attachments(
    step: FilledStep, failure: FilledFailure | None, ctx: TriageContext
) -> list[nodes.Node]:
    """What the filler shows beside a step: the matches a search finds, candidates, suspects."""
    out: list[nodes.Node] = []

    def listing(intro: str, items: Iterable[nodes.list_item], kind: str = "bullet") -> None:
        out.append(nodes.paragraph(intro, intro, classes=["bbwatch-found-intro"]))
        lst = (nodes.enumerated_list(enumtype="arabic", prefix="", suffix=".")
               if kind == "enum" else nodes.bullet_list(bullet="-"))
        lst.extend(items)
        out.append(lst)

    for kind in step.attach:
        if kind.startswith("search-") and failure is not None:
            search = next((s for s in failure.searches if s.step == kind), None)
            if search is None:
                continue
            if search.matches:
                listing("Already found by this search:", map(_candidate_item, search.matches))
            else:
                out.append(nodes.paragraph("", "Already found by this search: nothing."))
        elif kind == "candidates" and failure is not None:
            if failure.failure.candidates:
                listing("Candidate issues, best first:",
                        map(_candidate_item, failure.failure.candidates))
            else:
                out.append(nodes.paragraph("", "No candidate issue: file a new one."))
        elif kind == "suspects":
            if ctx.suspects:
                listing("Suspect changes, most likely first:", map(_suspect_item, ctx.suspects),
                        "enum")
            else:
                out.append(nodes.paragraph("", "No suspect change known."))
    return out


def filled_checklist_node(
    checklist: Checklist,
    steps: Sequence[FilledStep],
    values: Mapping[str, str],
    failure: FilledFailure | None,
    ctx: TriageContext,
    heading: str | None = None,
) -> nodes.container:
    return checklist_node(
        checklist,
        [filled_body(s, values) for s in steps],
        [s.title for s in steps],
        [attachments(s, failure, ctx) for s in steps],
        heading=heading,
    )


def neutralise(root: nodes.Element) -> None:
    """Control and bidi characters from the network shown as symbols, never obeyed."""
    for block in list(root.findall(nodes.literal_block)):
        # the raw text: docutils' astext() drops NUL (its escape mark), rawsource keeps it
        text = "".join(str(t) for t in block.findall(nodes.Text))
        if visible(text) != text or visible(block.rawsource) != block.rawsource:
            new = nodes.literal_block(visible(text), visible(text), **block.attributes)
            block.replace_self(new)
    for text_node in list(root.findall(nodes.Text)):
        text = str(text_node)
        if text_node.parent is not None and visible(text) != text:
            text_node.parent.replace(text_node, nodes.Text(visible(text)))
    for node in root.findall(nodes.Element):
        for key in ("label", "step"):
            if isinstance(node.get(key), str):
                node[key] = visible(node[key])


def triage_tree(triage: Triage, checklists: Mapping[str, Checklist],
                qr: QRCache | None = None) -> nodes.container:
    """The body of a per-failure page (and of ``bbwatch triage --format html``); ``qr`` keeps
    the pages' QR codes across builds."""
    ctx = triage.context
    root = nodes.container(classes=["bbwatch-triage"])
    # For paper only (print.css): each sheet's header, the links that matter as QR codes.
    root += triage_print.header_node(triage)
    root += triage_print.links_node(triage, qr)
    summary = nodes.paragraph(classes=["bbwatch-triage-summary"])
    summary += _link(f"Build {ctx.build_number}", ctx.build_url)
    summary += nodes.Text(f" of {ctx.builder}")
    summary += nodes.Text(f" · branch {ctx.branch or 'unknown'} · revision ")
    summary += nodes.literal(ctx.revision or "unknown", ctx.revision or "unknown")
    summary += nodes.Text(f" · result {ctx.result.upper()}")
    root += summary
    if triage.green:
        root += nodes.paragraph("", "This build is green: nothing to triage.")
        return root
    if triage.failures:
        for failure in triage.failures:
            assert triage.checklist is not None
            what = failure.test_id or failure.failure.test_file
            root += filled_checklist_node(
                triage.checklist, failure.steps, failure.values, failure, ctx,
                heading=f"{triage.checklist.title}: {what}",
            )
        first = triage.failures[0]
        if "new-issue" in checklists:

            new_issue = checklists["new-issue"]
            root += filled_checklist_node(new_issue, fill_steps(new_issue, first.values),
                                          first.values, first, ctx)
    elif triage.checklist is not None:
        root += filled_checklist_node(triage.checklist, triage.steps, triage.values, None, ctx,
                                      heading=f"{triage.checklist.title}: {ctx.infra or ''}")
    if triage.analysis and "analysis" in checklists:
        failure = triage.failures[0] if triage.failures else None
        analysis = filled_checklist_node(checklists["analysis"], triage.analysis, triage.values,
                                         failure, ctx)
        root += analysis
        # Analysis is a separate, later job (the procedure says so): on paper it would double
        # the sheets, so it stays on screen.
        root += triage_print.screen_only(
            analysis, f"Analysis, a separate and later job: its checklist "
            f"({len(triage.analysis)} steps) is on this page on screen.")
    for note in ctx.notes:
        root += nodes.paragraph("", f"Note: {note}", classes=["bbwatch-note"])
    if triage.failures:
        step = triage.checklist.steps[1].title if triage.checklist and len(
            triage.checklist.steps) > 1 else "the first checklist"
        triage_print.body_on_screen(root, triage.failures[0].values.get("issue_body", ""))
        triage_print.print_once(root, triage.failures[0].values.get("excerpt", ""),
                                f'step 2, "{step}"')
    neutralise(root)
    return root


# -- the directive -------------------------------------------------------------------------------
class TriageChecklistDirective(SphinxDirective):
    """``{triage-checklist} <name>``: a printable checklist with real checkboxes."""

    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {"no-description": directives.flag}

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        checklists, error = _LOADED.get(str(self.env.srcdir)) or _load_from(
            checklists_dir_for(self.config, Path(self.env.srcdir), Path(self.env.srcdir))
        )
        if error:
            return [self._problem(error)]
        checklist = checklists.get(name)
        if checklist is None:
            known = ", ".join(sorted(checklists)) or "none"
            return [self._problem(f"unknown checklist {name!r} (known: {known})")]
        bodies = [self._body(step) for step in checklist.steps]
        box = checklist_node(checklist, bodies)
        if checklist.description and "no-description" not in self.options:
            intro = self._parse(checklist.description)
            title = box.children[0]
            for offset, node in enumerate(intro, 1):
                box.insert(box.index(title) + offset, node)
        self.env.note_dependency(checklist.path)
        return [box]

    def _body(self, step: Step) -> list[nodes.Node]:
        container = nodes.container()
        container.extend(self._parse(step.body))
        substitute(container, None)
        return list(container.children)

    def _parse(self, text: str) -> list[nodes.Node]:
        # In a MyST document the state's nested parse reads MyST; elsewhere use MyST directly.
        if hasattr(self.state, "_renderer"):
            container = nodes.container()
            lines = StringList(prepare(text).splitlines())
            self.state.nested_parse(lines, self.content_offset, container)
            return list(container.children)
        return parse_myst(text)

    def _problem(self, message: str) -> nodes.Node:
        logger.warning(message, type="bbwatch", subtype=WarningType.DATA,
                       location=(self.env.docname, self.lineno))
        return nodes.warning("", nodes.paragraph("", f"Checklist not available: {message}"))


# -- checklists of this build --------------------------------------------------------------------
def checklists_dir_for(config: Config, confdir: Path, srcdir: Path) -> Path:
    """``bbwatch_checklists`` (made absolute at config-inited), else ``checklists/`` beside
    ``conf.py`` (or the sources), else the checklists shipped with the package."""
    if config.bbwatch_checklists:
        return Path(config.bbwatch_checklists)
    for base in (confdir, srcdir):
        if (base / "checklists").is_dir():
            return base / "checklists"
    return default_dir()


def _load_from(folder: Path) -> tuple[dict[str, Checklist], str | None]:
    try:
        return load_checklists(folder), None
    except ChecklistError as exc:
        return {}, str(exc)


def loaded_checklists(app: Sphinx) -> tuple[dict[str, Checklist], str | None]:
    key = str(app.srcdir)
    if key not in _LOADED:
        folder = checklists_dir_for(app.config, Path(app.confdir), Path(app.srcdir))
        _LOADED[key] = _load_from(folder)
    return _LOADED[key]


def _load(app: Sphinx) -> None:
    _LOADED.pop(str(app.srcdir), None)
    _checklists_, error = loaded_checklists(app)
    if error:
        logger.warning(error, type="bbwatch", subtype=WarningType.DATA)


# -- per-failure pages ---------------------------------------------------------------------------


def _add_static(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    static = str(STATIC)
    if STATIC.is_dir() and static not in [str(Path(app.confdir, p)) for p in
                                          app.config.html_static_path]:
        app.config.html_static_path.append(static)
    css = [c if isinstance(c, str) else c[0] for c in app.config.html_css_files]
    if "print.css" not in css:
        app.add_css_file("print.css")
    app.add_css_file("checklist.css")
    app.add_js_file("checklist.js")


def setup_checklists(app: Sphinx) -> None:
    app.add_node(
        checklist_checkbox,
        html=(visit_checkbox_html, None),
        latex=(visit_checkbox_latex, None),
        text=(visit_checkbox_text, None),
        man=(plain_checkbox, None),
        texinfo=(plain_checkbox, None),
    )
    app.add_node(
        checklist_reset,
        html=(visit_reset_html, None),
        latex=(skip, None),
        text=(skip, None),
        man=(skip, None),
        texinfo=(skip, None),
    )
    app.add_directive("triage-checklist", TriageChecklistDirective)
    app.add_event(EVENT)
    app.connect("builder-inited", _load)
    app.connect("builder-inited", _add_static)
