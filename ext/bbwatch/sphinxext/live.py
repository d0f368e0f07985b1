"""Live pages: ``buildbot-status``, ``known-failures`` and ``flaky-tests``.

Plumbing, in Sphinx's own idioms (``sphinx.ext.todo``, ``sphinx.ext.intersphinx``):

- ``builder-inited``: fetch the fleet ONCE per build (read workers forked by ``-j`` inherit it),
  analyse it once (``bbwatch.analysis.analyse``) and keep the result on the app. Failure never
  raises (unless ``bbwatch_strict``): the last fetched fleet from the cache is shown instead.
- Directives only emit a placeholder node and record their document (``env-purge-doc`` /
  ``env-merge-info`` keep that record right under ``-j``).
- ``env-get-outdated``: when the data's digest differs from the one stored in the env, the
  documents holding live blocks are re-read, so incremental builds refresh them and nothing
  else.
- ``doctree-resolved`` (main process, also under ``-j``): placeholders become docutils nodes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from bbwatch.analysis import Analysis, analyse
from bbwatch.models import FleetData
from bbwatch.sphinxext import live_render as render
from bbwatch.sphinxext.config import BBWatchConfig, WarningType, get_config

logger = logging.getLogger(__name__)

LAST_FLEET = "live-last-fleet-{}.json"  # per source: the last good fetch, shown when it is down
STATIC = Path(__file__).parent / "static"
NO_FETCH_BUILDERS = ("linkcheck", "dummy")


class live_block(nodes.General, nodes.Element):  # noqa: N801 (docutils node naming)
    """Placeholder for a live block, replaced at ``doctree-resolved``."""


def _skip(self: Any, node: nodes.Element) -> None:
    raise nodes.SkipNode


@dataclass
class LiveState:
    """What this build knows about the fleet; lives on the app, never pickled."""

    analysis: Analysis | None
    reason: str | None = None  # why live data is unavailable; None when fresh
    offline: bool = False
    digest: str = ""
    warned: bool = False


# --- directives -----------------------------------------------------------------------------


def _words(argument: str | None) -> list[str]:
    return [w for w in (argument or "").replace(",", " ").split() if w]


class _LiveDirective(SphinxDirective):
    kind = ""
    has_content = False
    option_spec = {"branch": _words, "tag": _words}

    def run(self) -> list[nodes.Node]:
        node = live_block(kind=self.kind, options=dict(self.options))
        self.set_source_info(node)
        docs = _live_docs(self.env)
        docs[self.env.docname] = docs.get(self.env.docname, 0) + 1
        return [node]


class BuildbotStatus(_LiveDirective):
    """Every builder grouped by branch, then severity. ``:result:`` filters by result word."""

    kind = "status"
    option_spec = {**_LiveDirective.option_spec, "result": _words}


class KnownFailures(_LiveDirective):
    """Failing tests grouped across builders, then infrastructure problems."""

    kind = "failures"
    option_spec = {
        **_LiveDirective.option_spec,
        "classification": _words,
        "limit": directives.positive_int,
    }


class FlakyTests(_LiveDirective):
    """Tests with flakiness evidence, most impact first."""

    kind = "flaky"
    option_spec = {**_LiveDirective.option_spec, "limit": directives.positive_int}


# --- env bookkeeping (parallel safe, like sphinx.ext.todo) ---------------------------------


def _live_docs(env: BuildEnvironment) -> dict[str, int]:
    if not hasattr(env, "bbwatch_live_docs"):
        env.bbwatch_live_docs = {}
    return env.bbwatch_live_docs


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _live_docs(env).pop(docname, None)


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: Any) -> None:
    mine = _live_docs(env)
    for docname, count in getattr(other, "bbwatch_live_docs", {}).items():
        if docname in docnames:
            mine[docname] = count


def _outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    state = get_state(app)
    previous = getattr(env, "bbwatch_live_digest", None)
    env.bbwatch_live_digest = state.digest
    if previous == state.digest:
        return []
    return [d for d in _live_docs(env) if d not in removed and d not in changed]


# --- fetching -------------------------------------------------------------------------------


def get_state(app: Sphinx) -> LiveState:
    state = getattr(app, "bbwatch_live", None)
    if state is None:  # e.g. a builder-inited handler ran before ours
        state = app.bbwatch_live = LiveState(None, offline=True, digest="none")
    return state


def get_analysis(app: Sphinx) -> Analysis | None:
    """The build's one Analysis (None when offline or nothing could be fetched)."""
    return get_state(app).analysis


def fleet_digest(fleet: FleetData | None, reason: str | None) -> str:
    """Changes when what the pages show changes (not when only the fetch time does)."""
    if fleet is None:
        return f"none:{reason}"
    from bbwatch.serialize import to_dict

    data = to_dict(fleet)
    data.pop("fetched_at", None)
    if reason is not None:  # degraded: the banner shows the reason and the attempt time
        data["reason"] = reason
        data["attempt"] = int(time.time())
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _last_path(cache_dir: Path, source: str) -> Path:
    return cache_dir / LAST_FLEET.format(hashlib.sha256(source.encode()).hexdigest()[:16])


def _save_last(path: Path, fleet: FleetData) -> None:
    from bbwatch.serialize import to_dict

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".live-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(to_dict(fleet), fh)
        os.replace(tmp, path)  # atomic: readers never see half a file
    except OSError as exc:
        logger.info("bbwatch: could not cache the fleet in %s: %s", path, exc)


def _load_last(path: Path) -> FleetData | None:
    from bbwatch.serialize import fleet_from_dict

    try:
        fleet = fleet_from_dict(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    fleet.source = "cache"
    return fleet


def _source(app: Sphinx, cfg: BBWatchConfig) -> str:
    if cfg.snapshot:
        path = cfg.snapshot.removeprefix("snapshot:")
        return "snapshot:" + str(Path(app.confdir, path))
    return cfg.buildbot_url


def _fetch(app: Sphinx, cfg: BBWatchConfig) -> tuple[FleetData | None, str | None]:
    from bbwatch.buildbot import BuildbotError, open_client

    cache_dir = cfg.resolved_cache_dir(app)
    source = _source(app, cfg)
    try:
        if source.startswith("snapshot:"):
            client = open_client(source)
        else:
            client = open_client(source, cache_dir=cache_dir, timeout=cfg.timeout, retries=1)
        try:
            fleet = client.fetch_fleet(history=cfg.history, branches=cfg.branches)
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()
    except (BuildbotError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return _load_last(_last_path(cache_dir, source)), reason
    if fleet.source == "live":
        _save_last(_last_path(cache_dir, source), fleet)
    return fleet, None


def _registry(app: Sphinx):
    path = Path(app.srcdir, "data", "known-issues.toml")
    if not path.is_file():
        return None
    from bbwatch.registry import RegistryError, load_registry

    try:
        return load_registry(path)
    except RegistryError as exc:
        logger.warning("bbwatch: %s", exc, type="bbwatch", subtype=WarningType.DATA.value)
        return None


def _tracker(app: Sphinx, cfg: BBWatchConfig) -> tuple[Any, str | None]:
    """``bbwatch_tracker = {"file": "issues.json"}`` or ``{"github": "owner/repo"}``."""
    if not cfg.tracker:
        return None, None
    from bbwatch.tracker import FileTracker, GitHubTracker, TrackerError

    try:
        if "file" in cfg.tracker:
            return FileTracker(Path(app.confdir, str(cfg.tracker["file"]))), None
        if "github" in cfg.tracker:
            cache = cfg.resolved_cache_dir(app) / "tracker"
            return GitHubTracker(str(cfg.tracker["github"]), cache_dir=cache), None
    except TrackerError as exc:
        return None, f"issue tracker not checked: {exc}"
    return None, "bbwatch_tracker needs a 'file' or 'github' key; tracker not checked"


def _builder_inited(app: Sphinx) -> None:
    cfg = get_config(app)
    if app.builder.format == "html":
        app.config.html_static_path.append(str(STATIC))
        app.add_css_file("bbwatch.css")
    # linkcheck/dummy only check the sources: live data would be a pointless network call
    if cfg.offline or app.builder.name in NO_FETCH_BUILDERS:
        app.bbwatch_live = LiveState(None, offline=True, digest="offline")
        app.bbwatch_analysis = None
        return
    started = time.monotonic()
    fleet, reason = _fetch(app, cfg)
    if reason is None and fleet is not None and fleet.source == "cache":
        reason = "; ".join(fleet.errors[:1]) or "the master could not be reached"
    analysis = None
    if fleet is not None:
        tracker, note = _tracker(app, cfg)
        analysis = analyse(fleet, registry=_registry(app), tracker=tracker)
        if note:
            analysis.notes.append(note)
    app.bbwatch_live = LiveState(analysis, reason, digest=fleet_digest(fleet, reason))
    app.bbwatch_analysis = analysis
    logger.info("bbwatch: live data %s in %.1fs", "unavailable" if reason else "fetched",
                time.monotonic() - started)


# --- rendering ------------------------------------------------------------------------------


def _render(app: Sphinx, node: live_block, fromdocname: str) -> list[nodes.Node]:
    state = get_state(app)
    if state.offline:
        return [render.disabled()]
    out: list[nodes.Node] = []
    analysis = state.analysis
    if state.reason is not None:
        if not state.warned:
            state.warned = True
            logger.warning("Live data unavailable: %s", state.reason, type="bbwatch",
                           subtype=WarningType.LIVE.value, location=node)
        out.append(render.unavailable(state.reason, analysis.fetched_at if analysis else None))
    if analysis is None:
        return out
    out.append(render.fetched_line(analysis))
    out.extend(render.notes_box([*analysis.fleet.errors[:5], *analysis.notes]))
    options = node["options"]
    branches, tags = options.get("branch", ()), options.get("tag", ())
    if node["kind"] == "status":
        sections = analysis.status_rows(branches, tags, options.get("result", ()))
        out.extend(render.status(sections, analysis))
    elif node["kind"] == "failures":
        rows = analysis.problem_rows(branches, tags)
        wanted = set(options.get("classification", ()))
        if wanted:
            rows = [p for p in rows if p.classification in wanted]
        out.extend(render.problems(rows[: options.get("limit")], analysis,
                                   lambda doc: _doc_link(app, fromdocname, doc)))
    else:
        rows = analysis.flaky_rows(branches, tags)[: options.get("limit")]
        out.extend(render.flaky(rows, analysis))
    render.clean_tree(out)
    return [nodes.container("", *out, classes=["bbwatch-live", f"bbwatch-{node['kind']}"])]


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


def _finished(app: Sphinx, exc: Exception | None) -> None:
    """``bbwatch_strict``: degraded live data fails the build (the pages are still written)."""
    state = get_state(app)
    if exc is not None or state.reason is None or not get_config(app).strict:
        return
    if not state.warned:
        state.warned = True
        logger.warning("Live data unavailable: %s", state.reason, type="bbwatch",
                       subtype=WarningType.LIVE.value)
    logger.info("bbwatch_strict is on and live data is unavailable: the build fails")
    app.statuscode = 1


def setup_live(app: Sphinx) -> None:
    visitors = (_skip, None)
    app.add_node(live_block, html=visitors, latex=visitors, text=visitors, man=visitors,
                 texinfo=visitors)
    app.add_directive("buildbot-status", BuildbotStatus)
    app.add_directive("known-failures", KnownFailures)
    app.add_directive("flaky-tests", FlakyTests)
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("doctree-resolved", _resolve)
    app.connect("build-finished", _finished)
