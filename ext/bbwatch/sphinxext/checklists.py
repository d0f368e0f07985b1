"""Triage checklists in the handbook: the ``{triage-checklist}`` directive and the generated
per-failure pages (``triage/<builder-slug>/<build>/<test>.html``).

Checkboxes are a custom node whose HTML visitor writes fixed markup and escaped attribute
values only; step bodies are MyST, parsed into docutils nodes, and per-failure values are
substituted into those nodes afterwards (never into the markup), so every network-derived
string reaches the page escaped by the HTML translator.

Per-failure pages are many and alike, so what they share is made once per build: each step
body is parsed once and copied per page, Pygments formatters are reused
(``shared_highlight``), and pages of the same depth share one navigation rendering
(``shared_toctree``). ``tests/unit/test_triage_pages_fast.py`` holds them byte-for-byte to
the straightforward rendering.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from bbwatch.checklist import (
    PLACEHOLDERS,
    Checklist,
    ChecklistError,
    Step,
    default_dir,
    load_checklists,
)
from bbwatch.mdescape import url_target, visible
from bbwatch.sphinxext.config import WarningType
from bbwatch.sphinxext.shared_highlight import SharedFormatters
from bbwatch.sphinxext.shared_toctree import SharedToctree
from bbwatch.triage import (
    Candidate,
    FilledFailure,
    FilledStep,
    SuspectChange,
    TrackerLinks,
    Triage,
    TriageContext,
    fill,
    missing_checklists,
    triage_docname,
)

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parents[3] / "docs" / "_static"
EVENT = "bbwatch-triage-contexts"
_NAME = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|%7B([A-Za-z_][A-Za-z0-9_]*)%7D")
# URL placeholders become this absolute URL before parsing, so MyST makes them external links
# (not cross-references to resolve); substitute() swaps in the real URL afterwards.
_SENTINEL = "https://bbwatch.invalid/placeholder/"
_LINK_TARGET = re.compile(r"\]\(<?\{([A-Za-z_][A-Za-z0-9_]*)\}>?\)")
_SENTINEL_URL = re.compile(re.escape(_SENTINEL) + r"([A-Za-z_][A-Za-z0-9_]*)$")

# Checklists loaded at builder-inited, by source folder (read workers inherit it on fork).
_LOADED: dict[str, tuple[dict[str, Checklist], str | None]] = {}


def prepare(body: str) -> str:
    """Checklist MyST with URL placeholders turned into parseable absolute links."""
    return _LINK_TARGET.sub(lambda m: f"]({_SENTINEL}{m.group(1)})", body)


# -- nodes -------------------------------------------------------------------------------------
class checklist_checkbox(nodes.General, nodes.Inline, nodes.Element):  # noqa: N801
    """A real ``<input type="checkbox">`` for one step (``step`` and ``label`` attributes)."""


class checklist_reset(nodes.General, nodes.Element):  # noqa: N801
    """The "reset" button of one checklist."""


def visit_checkbox_html(self: Any, node: checklist_checkbox) -> None:
    step, label = self.attval(node["step"]), self.attval(node.get("label", ""))
    self.body.append(
        f'<input type="checkbox" class="bbwatch-checklist-box" data-step="{step}"'
        f' aria-label="{label}">'
    )
    raise nodes.SkipNode


def visit_reset_html(self: Any, node: checklist_reset) -> None:
    self.body.append(
        '<button type="button" class="bbwatch-checklist-reset">Reset this checklist</button>'
    )
    raise nodes.SkipNode


def visit_checkbox_text(self: Any, node: checklist_checkbox) -> None:
    self.add_text("[ ] ")
    raise nodes.SkipNode


def visit_checkbox_latex(self: Any, node: checklist_checkbox) -> None:
    self.body.append(r"\framebox[1.6ex]{\rule{0pt}{1.2ex}}\ ")
    raise nodes.SkipNode


def skip(self: Any, node: nodes.Node) -> None:
    raise nodes.SkipNode


def _plain_checkbox(self: Any, node: nodes.Node) -> None:
    self.body.append("[ ] ")
    raise nodes.SkipNode


# -- MyST bodies ---------------------------------------------------------------------------------
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
def _docutils_settings() -> Any:
    """The settings ``publish_doctree`` would build for every body, built once: docutils'
    option parser cost more than the MyST parse itself."""
    from docutils import io
    from docutils.core import Publisher
    from myst_parser.parsers.docutils_ import Parser

    # the components and settings of docutils.core.publish_programmatically
    publisher = Publisher("standalone", Parser(), "null", source_class=io.StringInput,
                          destination_class=io.NullOutput)
    publisher.process_programmatic_settings(None, dict(_MYST_SETTINGS, traceback=True), None)
    return publisher.settings


@functools.lru_cache(maxsize=256)
def _parse_myst_cached(text: str) -> nodes.document:
    import copy

    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    # a copy per parse: publishing records dependencies and the source in the settings
    with _default_documents_from_cached_settings():
        return publish_doctree(text, parser=Parser(), settings=copy.copy(_docutils_settings()))


@functools.cache
def _default_settings(parser_cls: type) -> Any:
    from docutils.frontend import get_default_settings

    return get_default_settings(parser_cls)


@contextlib.contextmanager
def _default_documents_from_cached_settings() -> Iterator[None]:
    """MyST's renderer makes a default document even when handed one (``options.get(
    "document", make_document())``) and throws it away; making it builds a docutils option
    parser, ~40% of parsing a short body. While our bodies parse, that default document comes
    from default settings built once: an equal document, made cheaply."""
    import copy

    from docutils.utils import new_document
    from myst_parser.mdit_to_docutils import base

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
    # One walk; blocks first, then text outside the blocks replaced, then attributes.
    blocks: list[nodes.literal_block] = []
    texts: list[nodes.Text] = []
    elements: list[nodes.Element] = []
    for node in root.findall():
        if isinstance(node, nodes.Text):
            texts.append(node)
        else:
            elements.append(node)
            if isinstance(node, nodes.literal_block):
                blocks.append(node)
    replaced: set[int] = set()
    for block in blocks:
        text = block.astext()
        if visible(text) != text:
            new = nodes.literal_block(visible(text), visible(text), **block.attributes)
            block.replace_self(new)
            replaced.add(id(block))
            elements.append(new)
    for text_node in texts:
        parent = text_node.parent
        if parent is None or id(parent) in replaced:
            continue
        text = str(text_node)
        shown = visible(text)
        if shown != text:
            parent.replace(text_node, nodes.Text(shown))
    for node in elements:
        attributes = node.attributes
        for key in ("label", "step"):
            value = attributes.get(key)
            if isinstance(value, str) and id(node) not in replaced:
                attributes[key] = visible(value)


def triage_tree(triage: Triage, checklists: Mapping[str, Checklist]) -> nodes.container:
    """The body of a per-failure page (and of ``bbwatch triage --format html``)."""
    ctx = triage.context
    root = nodes.container(classes=["bbwatch-triage"])
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
            from bbwatch.triage import fill_steps

            new_issue = checklists["new-issue"]
            root += filled_checklist_node(new_issue, fill_steps(new_issue, first.values),
                                          first.values, first, ctx)
    elif triage.checklist is not None:
        root += filled_checklist_node(triage.checklist, triage.steps, triage.values, None, ctx,
                                      heading=f"{triage.checklist.title}: {ctx.infra or ''}")
    if triage.analysis and "analysis" in checklists:
        failure = triage.failures[0] if triage.failures else None
        root += filled_checklist_node(checklists["analysis"], triage.analysis, triage.values,
                                      failure, ctx)
    for note in ctx.notes:
        root += nodes.paragraph("", f"Note: {note}", classes=["bbwatch-note"])
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
            checklists_dir_for(Path(self.env.srcdir), Path(self.env.srcdir))
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
def checklists_dir_for(confdir: Path, srcdir: Path) -> Path:
    """``checklists/`` beside ``conf.py`` (or the sources), else the repository's own."""
    for base in (confdir, srcdir):
        if (base / "checklists").is_dir():
            return base / "checklists"
    return default_dir()


def _load_from(folder: Path) -> tuple[dict[str, Checklist], str | None]:
    try:
        return load_checklists(folder), None
    except ChecklistError as exc:
        return {}, str(exc)


def _checklists(app: Sphinx) -> tuple[dict[str, Checklist], str | None]:
    key = str(app.srcdir)
    if key not in _LOADED:
        _LOADED[key] = _load_from(checklists_dir_for(Path(app.confdir), Path(app.srcdir)))
    return _LOADED[key]


def _load(app: Sphinx) -> None:
    _LOADED.pop(str(app.srcdir), None)
    _checklists_, error = _checklists(app)
    if error:
        logger.warning(error, type="bbwatch", subtype=WarningType.DATA)


# -- per-failure pages ---------------------------------------------------------------------------
def tracker_links(app: Sphinx) -> TrackerLinks:
    tracker = dict(getattr(app.config, "bbwatch_tracker", {}) or {})
    labels = tracker.get("labels")
    return TrackerLinks(
        # Same key as the live pages' tracker: {"github": "owner/repo"} (else CPython's).
        repo=str(tracker.get("github") or tracker.get("repo") or TrackerLinks.repo),
        web_url=str(tracker.get("web_url") or TrackerLinks.web_url),
        labels=tuple(labels) if isinstance(labels, list | tuple) else TrackerLinks.labels,
    )


def triage_contexts(app: Sphinx) -> list[tuple[str, TriageContext]]:
    """(docname, context) of every per-failure page: from the fleet analysis, plus any handed
    in by ``bbwatch-triage-contexts`` handlers (tests, other extensions)."""
    found: dict[str, TriageContext] = {}
    analysis = _analysis(app)
    if analysis is not None:
        from bbwatch.triage_analysis import contexts_from_analysis

        for docname, ctx in contexts_from_analysis(analysis):
            found.setdefault(docname, ctx)
    for result in app.emit(EVENT):
        for item in result or ():
            docname, ctx = item if isinstance(item, tuple) else (None, item)
            if docname is None:
                test = ctx.failures[0].test_file if ctx.failures else (ctx.infra or "build")
                docname = triage_docname(ctx.builder, ctx.build_number, test)
            found.setdefault(docname, ctx)
    return sorted(found.items())


def _analysis(app: Sphinx) -> Any:
    analysis = getattr(app, "bbwatch_analysis", None)
    if analysis is not None:
        return analysis
    try:
        from bbwatch.sphinxext import live
    except ImportError:  # pragma: no cover
        return None
    getter = getattr(live, "get_analysis", None)
    if getter is None:
        return None
    try:
        return getter(app)
    except Exception as exc:  # noqa: BLE001 - a live-data failure must not stop the site
        logger.warning(f"per-failure checklists skipped: {exc}", type="bbwatch",
                       subtype=WarningType.LIVE)
        return None


def collect_pages(app: Sphinx) -> Iterator[tuple[str, dict[str, Any], str]]:
    if app.builder.format != "html" or getattr(app.builder, "embedded", False):
        return
    contexts = triage_contexts(app)
    if not contexts:
        return
    checklists, error = _checklists(app)
    missing = missing_checklists(checklists)
    if error or missing:  # a data error was reported at builder-inited
        if missing and not error:
            logger.warning(f"per-failure checklists skipped: no {', '.join(missing)} checklist",
                           type="bbwatch", subtype=WarningType.DATA)
        return
    tracker = tracker_links(app)
    navigation = SharedToctree(app.builder)
    formatters = SharedFormatters(app.builder)
    for docname, ctx in logging_iter(contexts):
        triage = fill(ctx, checklists, tracker)
        subject = ctx.failures[0].test_file if ctx.failures else (ctx.infra or "build")
        title = visible(f"Triage: {subject} on {ctx.builder} #{ctx.build_number}")
        section = nodes.section(ids=["triage"])
        section += nodes.title(title, title)
        section += triage_tree(triage, checklists)
        # What write_doc() sets per page: generated pages have no section or figure numbers.
        # (On a rebuild where no document is written these attributes do not exist yet.)
        app.builder.secnumbers = {}
        app.builder.fignumbers = {}
        with formatters.active():
            body = app.builder.render_partial(section)["fragment"]
        context = {
            "title": _escape(title),
            "body": body,
            "parents": [],
            "display_toc": False,
            "toc": "",
        }
        toctree = navigation.for_page(docname)
        if toctree is not None:
            context["toctree"] = toctree  # same depth, same navigation: render it once
        yield docname, context, "page.html"


def logging_iter(items: Sequence[Any]) -> Iterable[Any]:
    from sphinx.util.display import status_iterator

    return status_iterator(items, "writing triage checklists... ", "darkgreen", len(items),
                           stringify_func=lambda item: item[0])


def _escape(text: str) -> str:
    from html import escape

    return escape(text, quote=True)


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
        man=(_plain_checkbox, None),
        texinfo=(_plain_checkbox, None),
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
    app.connect("html-collect-pages", collect_pages)
