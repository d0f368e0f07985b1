"""Live blocks made real: at ``doctree-resolved`` each ``live_block`` placeholder (``live``)
becomes docutils nodes from the build's one Analysis.

Every block: the banners (data unavailable, notes), the data's time and the last check of the
master (``live_fresh``), then its own content: status tables with history strips
(``live_render``, ``live_strips``), the known-failures overview, matrix and entries
(``live_overview``, ``live_render``), the flaky table (``live_flaky``) or the home page's now
panel (``live_now``). Every text is cleaned (``live_render.clean_tree``) before it is placed.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from bbwatch.sphinxext import live_flaky, live_fresh, live_now, live_overview, live_strips
from bbwatch.sphinxext import live_render as render
from bbwatch.sphinxext.config import WarningType
from bbwatch.sphinxext.live import get_state, live_block

logger = logging.getLogger(__name__)


def _render(app: Sphinx, node: live_block, fromdocname: str) -> list[nodes.Node]:
    state = get_state(app)
    if state.offline:
        if node["kind"] == "now":  # still a panel: it says so, and links the live pages
            return _wrap([render.disabled(), *live_now.panel(
                app, None, fromdocname, lambda doc: _doc_link(app, fromdocname, doc))], "now")
        return [render.disabled()]
    out: list[nodes.Node] = []
    analysis = state.analysis
    if state.reason is not None:
        if not state.warned:
            state.warned = True
            logger.warning("Live data unavailable: %s", state.reason, type="bbwatch",
                           subtype=WarningType.LIVE.value, location=node)
        out.append(render.unavailable(state.reason, analysis.fetched_at if analysis else None))
    if node["kind"] == "now" and analysis is None:
        out.extend(live_now.panel(app, None, fromdocname, lambda d: _doc_link(app, fromdocname, d)))
    if analysis is None:
        return _wrap(out, node["kind"])
    out.append(render.fetched_line(analysis))
    out.append(live_fresh.checked_line(state.checked_at or analysis.fetched_at,
                                       analysis.fetched_at, state.reason is None,
                                       live_fresh.short_version(state.digest)))
    out.extend(render.notes_box([*analysis.fleet.errors[:5], *analysis.notes]))
    options = node["options"]
    branches, tags = options.get("branch", ()), options.get("tag", ())
    if node["kind"] == "now":
        out.extend(live_now.panel(app, analysis, fromdocname,
                                  lambda doc: _doc_link(app, fromdocname, doc)))
    elif node["kind"] == "status":
        sections = analysis.status_rows(branches, tags, options.get("result", ()))
        tables = render.status(sections, analysis)
        live_strips.add_history_column(tables, sections, analysis)
        out.extend(tables)
    elif node["kind"] == "failures":
        rows = analysis.problem_rows(branches, tags)
        wanted = set(options.get("classification", ()))
        if wanted:
            rows = [p for p in rows if p.classification in wanted]
        rows = rows[: options.get("limit")]
        out.extend(live_overview.overview(rows, analysis))
        out.extend(live_overview.matrix(rows, analysis))
        entries = render.problems(rows, analysis, lambda doc: _doc_link(app, fromdocname, doc))
        live_strips.anchor_entries(entries, rows)
        out.extend(entries)
    else:
        rows = analysis.flaky_rows(branches, tags)[: options.get("limit")]
        out.extend(live_flaky.flaky(rows, analysis))
    return _wrap(out, node["kind"])


def _wrap(out: list[nodes.Node], kind: str) -> list[nodes.Node]:
    render.clean_tree(out)
    return [nodes.container("", *out, classes=["bbwatch-live", f"bbwatch-{kind}"])]


def _doc_link(app: Sphinx, fromdocname: str, docname: str) -> str | None:
    """Relative URI of a generated triage page, or None when no such page is built."""
    pages = getattr(app.env, "bbwatch_triage_pages", None)
    if pages is not None and docname not in pages:
        return None
    try:
        return app.builder.get_relative_uri(fromdocname, docname)
    except Exception:  # builders without pages (linkcheck, dummy) cannot link
        return None


def _resolve(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    for node in list(doctree.findall(live_block)):
        node.replace_self(_render(app, node, fromdocname))


def setup_blocks(app: Sphinx) -> None:
    app.connect("doctree-resolved", _resolve)
