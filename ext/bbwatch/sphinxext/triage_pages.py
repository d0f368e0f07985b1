"""The per-failure triage pages (``triage/<builder-slug>/<build>/<test>.html``): one page per
known-failures row of the live analysis (and per context other extensions hand in through the
``bbwatch-triage-contexts`` event), generated at ``html-collect-pages`` from the checklists'
docutils tree (``bbwatch.sphinxext.checklists.triage_tree``).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from html import escape
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.display import status_iterator

from bbwatch.source.store import open_store
from bbwatch.sphinxext.checklists import EVENT, loaded_checklists, triage_tree
from bbwatch.sphinxext.config import WarningType, get_config
from bbwatch.sphinxext.live import get_analysis
from bbwatch.sphinxext.triage_cache import PREFIX as PAGES_PREFIX
from bbwatch.sphinxext.triage_cache import BodyCache, page_key, renderer_digest
from bbwatch.triage.analysis_context import contexts_from_analysis
from bbwatch.triage.checklist import Checklist
from bbwatch.triage.context import TrackerLinks, TriageContext, triage_docname
from bbwatch.triage.fill import Triage, fill, missing_checklists
from bbwatch.triage.mdescape import visible
from bbwatch.triage.qr import QRCache
from bbwatch.triage.rows import Analysis

logger = logging.getLogger(__name__)


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


def _analysis(app: Sphinx) -> Analysis | None:
    analysis = getattr(app, "bbwatch_analysis", None)
    if analysis is not None:
        return analysis
    try:
        return get_analysis(app)
    except Exception as exc:  # noqa: BLE001 - a live-data failure must not stop the site
        logger.warning(f"per-failure checklists skipped: {exc}", type="bbwatch",
                       subtype=WarningType.LIVE)
        return None


QR_PREFIX = "qr/"


def collect_pages(app: Sphinx) -> Iterator[tuple[str, dict[str, Any], str]]:
    if app.builder.format != "html" or getattr(app.builder, "embedded", False):
        return
    contexts = triage_contexts(app)
    if not contexts:
        return
    checklists, error = loaded_checklists(app)
    missing = missing_checklists(checklists)
    if error or missing:  # a data error was reported at builder-inited
        if missing and not error:
            logger.warning(f"per-failure checklists skipped: no {', '.join(missing)} checklist",
                           type="bbwatch", subtype=WarningType.DATA)
        return
    tracker = tracker_links(app)
    store = open_store(get_config(app).resolved_cache_dir(app))
    # Bodies rendered by an earlier build from the same inputs (triage_cache): a warm build
    # renders only the pages whose data changed.
    renderer, today = renderer_digest(app), dt.datetime.now(dt.UTC).date()
    keys = {docname: page_key(renderer, docname, ctx, checklists, tracker, today)
            for docname, ctx in contexts}
    bodies = BodyCache(store.space(PAGES_PREFIX), list(keys.values()))
    # The pages' QR codes, drawn once and kept in the cache's store (a completed build's
    # links never change): a warm build draws none.
    qr_space = store.space(QR_PREFIX)
    qr: QRCache | None = None
    for docname, ctx in logging_iter(contexts):
        subject = ctx.failures[0].test_file if ctx.failures else (ctx.infra or "build")
        title = visible(f"Triage: {subject} on {ctx.builder} #{ctx.build_number}")
        body = bodies.get(keys[docname])
        if body is None:
            if qr is None:
                qr = QRCache(qr_space.scan("", str))
            body = _render_body(app, title, fill(ctx, checklists, tracker), checklists, qr)
            bodies.put(keys[docname], body)
        context = {
            "title": _escape(title),
            "body": body,
            "parents": [],
            "display_toc": False,
            "toc": "",
        }
        yield docname, context, "page.html"
    bodies.save()
    if qr is not None and qr.new:
        try:
            qr_space.put_many(qr.new)
        except OSError:
            pass  # no writable cache: the next build draws them again


def _render_body(app: Sphinx, title: str, triage: Triage, checklists: Mapping[str, Checklist],
                 qr: QRCache) -> str:
    section = nodes.section(ids=["triage"])
    section += nodes.title(title, title)
    section += triage_tree(triage, checklists, qr)
    # What write_doc() sets per page: generated pages have no section or figure numbers.
    # (On a rebuild where no document is written these attributes do not exist yet.)
    app.builder.secnumbers = {}
    app.builder.fignumbers = {}
    return app.builder.render_partial(section)["fragment"]


def logging_iter(
    items: Sequence[tuple[str, TriageContext]],
) -> Iterable[tuple[str, TriageContext]]:
    return status_iterator(items, "writing triage checklists... ", "darkgreen", len(items),
                           stringify_func=lambda item: item[0])


def _escape(text: str) -> str:
    return escape(text, quote=True)


# The site navigation of the triage pages: they all sit three folders deep and are in no
# toctree, so the theme's navigation (Sphinx's ``toctree`` page function, called by furo for
# every page) is the same HTML for each of them. Computed once per build and depth.
_NAVIGATION: weakref.WeakKeyDictionary[object, dict[tuple, str]] = weakref.WeakKeyDictionary()


def share_navigation(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                     doctree: nodes.document | None) -> None:
    """Before the theme's handler: the triage pages' ``toctree`` function answers from a
    per-build memo (keyed by depth and arguments), through the context Sphinx hands us."""
    toctree = context.get("toctree")
    if not pagename.startswith("triage/") or doctree is not None or not callable(toctree):
        return
    memo = _NAVIGATION.setdefault(app.builder, {})
    depth = pagename.count("/")

    def shared(**kwargs: Any) -> str:
        key = (depth, tuple(sorted(kwargs.items())))
        if key not in memo:
            memo[key] = toctree(**kwargs)
        return memo[key]

    context["toctree"] = shared


def setup_triage_pages(app: Sphinx) -> None:
    app.connect("html-collect-pages", collect_pages)
    app.connect("html-page-context", share_navigation, priority=400)  # before the theme's
