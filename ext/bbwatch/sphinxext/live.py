"""Live pages: ``buildbot-status``, ``known-failures`` and ``flaky-tests``.

Plumbing, in Sphinx's own idioms (``sphinx.ext.todo``, ``sphinx.ext.intersphinx``):

- ``builder-inited``: start fetching the fleet ONCE per build, and analysing it once
  (``bbwatch.triage.analysis.analyse``), as a ``concurrent.futures.Future`` (a one-worker
  ``ThreadPoolExecutor``, as intersphinx fetches inventories), so network waits overlap
  Sphinx's reading; ``get_state`` takes its result where the data is first needed (before
  a parallel read forks, ``env-updated`` at the latest) and keeps the result on the app.
  Failure never raises (unless ``bbwatch_strict``): the last fetched fleet from the cache is
  shown instead.
- Directives only emit a placeholder node and record their document (``env-purge-doc`` /
  ``env-merge-info`` keep that record right under ``-j``).
- ``env-get-outdated``: every build that checks the master re-reads the documents holding
  live blocks, new data or not, so an incremental build (``make html`` again, the deployment
  recipe's next run) writes them with this build's check time and ages true at it; other
  documents are re-read only when Sphinx finds them changed. A build that checks nothing
  (offline, linkcheck) re-reads them only when the data's digest differs from the one stored
  in the env (they then say live data is disabled).
- ``doctree-resolved`` (main process, also under ``-j``): placeholders become docutils nodes
  (``live_blocks``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging as stdlib_logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from bbwatch.errors import BuildbotError, RegistryError, TrackerError
from bbwatch.logs.parsed import ParsedLog, log_digest
from bbwatch.models import FleetData
from bbwatch.source.codec import plain
from bbwatch.source.open import open_client
from bbwatch.source.parsecache import ParsedLogCache
from bbwatch.source.store import namespace_for, open_store
from bbwatch.sphinxext import live_fresh, live_store
from bbwatch.sphinxext.config import BBWatchConfig, WarningType, get_config, registry_path
from bbwatch.triage.analysis import analyse
from bbwatch.triage.registry import Registry, load_registry
from bbwatch.triage.rows import Analysis
from bbwatch.triage.tracker import FileTracker, GitHubTracker, tracker_from_config

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
NO_FETCH_BUILDERS = ("linkcheck", "dummy")


class live_block(nodes.General, nodes.Element):  # noqa: N801 (docutils node naming)
    """Placeholder for a live block, replaced at ``doctree-resolved``."""


def _skip(self: nodes.NodeVisitor, node: nodes.Element) -> None:
    raise nodes.SkipNode


@dataclass
class LiveState:
    """What this build knows about the fleet; lives on the app, never pickled."""

    analysis: Analysis | None
    reason: str | None = None  # why live data is unavailable; None when fresh
    offline: bool = False
    digest: str = ""
    warned: bool = False
    checked_at: float = 0.0  # when the master was last asked (answered or not)


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


class BbwatchNow(_LiveDirective):
    """The home page's "now" panel (``live_now``): red builders, counts, data age, links."""

    kind = "now"


# --- env bookkeeping (parallel safe, like sphinx.ext.todo) ---------------------------------


def _live_docs(env: BuildEnvironment) -> dict[str, int]:
    if not hasattr(env, "bbwatch_live_docs"):
        env.bbwatch_live_docs = {}
    return env.bbwatch_live_docs


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _live_docs(env).pop(docname, None)


def _merge(
    app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment
) -> None:
    mine = _live_docs(env)
    for docname, count in getattr(other, "bbwatch_live_docs", {}).items():
        if docname in docnames:
            mine[docname] = count


def _outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """The documents holding live blocks, when their HTML must be rendered again.

    A build that checks the master (its fetch started at builder-inited) re-reads all of
    them, whether or not the master has anything new: what they say about *when* (the check
    time, every age) is this build's, true without JavaScript. It need not wait for the fetch
    to know that, so the fetch runs on while Sphinx reads. The data's digest still decides
    for a build that checks nothing (offline, linkcheck): it re-reads them only when they
    showed other data (the env's digest, kept at ``env-updated``). Whether a *poll* with
    nothing new rebuilds at all is ``bbwatch serve``'s decision (its own fingerprint).
    """
    candidates = [d for d in _live_docs(env) if d not in removed and d not in changed]
    if not candidates:  # e.g. a fresh environment: every document is read anyway
        return []
    if getattr(app, "bbwatch_pending", None) is not None:  # this build checks the master
        return candidates
    state = get_state(app)  # nothing pending: settled already, or a build without a fetch
    if not state.offline or getattr(env, "bbwatch_live_digest", None) != state.digest:
        return candidates
    return []


def _before_read(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    """Parallel reading forks: no fetch thread may be running (or hold a lock) then."""
    if app.parallel > 1:
        get_state(app)


def _env_updated(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """Reading is done: the fetch must be too, and the env (pickled next) keeps its digest
    (what the live documents now show, for the next build's ``_outdated``)."""
    env.bbwatch_live_digest = get_state(app).digest
    return []


# --- fetching -------------------------------------------------------------------------------


def get_state(app: Sphinx) -> LiveState:
    """This build's live data; waits for the fetch started at builder-inited to finish."""
    pending: Future[tuple[LiveState, float]] | None = getattr(app, "bbwatch_pending", None)
    if pending is not None:
        app.bbwatch_pending = None
        _settle(app, *pending.result())  # re-raises here what the fetch raised
    state = getattr(app, "bbwatch_live", None)
    if state is None:  # e.g. a builder-inited handler ran before ours
        state = app.bbwatch_live = LiveState(None, offline=True, digest="none")
    return state


def get_analysis(app: Sphinx) -> Analysis | None:
    """The build's one Analysis (None when offline or nothing could be fetched)."""
    return get_state(app).analysis


def fleet_digest(
    fleet: FleetData | None, reason: str | None, parsed: dict[int, ParsedLog] | None = None
) -> str:
    """Changes when what the pages show changes (not when only the fetch time does).

    Hashes identities, not bulk: a completed build is immutable, so its ids and result stand
    for it (a new build brings a new id; a master recreated at the same URL changes number or
    start time); a running build goes in whole. Logs count by their sha256 (``parsed`` already
    knows it), never by their text.
    """
    if fleet is None:
        return f"none:{reason}"

    builds = []
    for builderid in sorted(fleet.builds):
        for b in fleet.builds[builderid]:
            builds.append(
                [b.buildid, b.builderid, b.number, b.results, b.started_at, b.complete_at,
                 b.state_string] if b.complete else plain(b)
            )
    known = {bid: p.digest for bid, p in (parsed or {}).items() if p.digest}
    logs = {bid: known.get(bid) or log_digest(text) for bid, text in fleet.test_logs.items()}
    logs.update((bid, d) for bid, d in known.items() if bid not in logs)
    data: dict[str, object] = {
        "base_url": fleet.base_url,
        "source": fleet.source,
        "builders": plain(fleet.builders),
        "workers": plain(fleet.workers),
        "errors": fleet.errors,
        "builds": builds,
        "logs": sorted(logs.items()),
    }
    if reason is not None:  # degraded: the banner shows the reason and the attempt time
        data["reason"] = reason
        data["attempt"] = int(time.time())
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


@contextlib.contextmanager
def _quiet_retries() -> Iterator[None]:
    """urllib3 logs every retry ("Retrying (Retry(total=...)) after connection broken ...")
    as a warning, and furo's a11y_pygments calls ``logging.basicConfig`` on import, so they
    would print amid the build output: the one ``type="bbwatch"`` warning says it all."""
    pool_logger = stdlib_logging.getLogger("urllib3.connectionpool")
    level = pool_logger.level
    pool_logger.setLevel(stdlib_logging.ERROR)
    try:
        yield
    finally:
        pool_logger.setLevel(level)


def _source(app: Sphinx, cfg: BBWatchConfig) -> str:
    if cfg.snapshot:
        path = cfg.snapshot.removeprefix("snapshot:")
        return "snapshot:" + str(Path(app.confdir, path))
    return cfg.buildbot_url


def _fetch(
    app: Sphinx, cfg: BBWatchConfig, parsed_cache: ParsedLogCache
) -> tuple[FleetData | None, str | None, dict[int, ParsedLog]]:
    """(fleet, why it is not live or None, parsed logs standing in for the fleet's raw ones).

    A completed build's test log whose parse is cached is not even read: the parse stands in.
    """
    cache_dir = cfg.resolved_cache_dir(app)
    source = _source(app, cfg)
    known: dict[int, ParsedLog] = {}

    def known_log(buildid: int, ident: str) -> bool:
        hit = parsed_cache.lookup(buildid, ident)
        if hit is not None:
            known[buildid] = hit
        return hit is not None

    try:
        if source.startswith("snapshot:"):
            client = open_client(source)
        else:
            client = open_client(source, cache_dir=cache_dir, timeout=cfg.timeout, retries=1)
        try:
            with _quiet_retries():
                fleet = client.fetch_fleet(history=cfg.history, branches=cfg.branches,
                                           known_log=known_log)
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()
    except (BuildbotError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        last, parsed = live_store.load_last(parsed_cache, source)
        return last, reason, parsed
    return fleet, None, known


def _parsed_cache(app: Sphinx, cfg: BBWatchConfig) -> ParsedLogCache:
    """Completed builds' parsed test logs, per source, in the cache directory's store."""
    return ParsedLogCache(open_store(cfg.resolved_cache_dir(app)),
                          namespace_for(_source(app, cfg)))


def _registry(app: Sphinx) -> Registry | None:
    """The registry ``bbwatch_registry`` chose (default: the production one), or None."""
    path = registry_path(app.config, app.srcdir)
    if not path.is_file():
        return None
    try:
        return load_registry(path)
    except RegistryError as exc:
        logger.warning("bbwatch: %s", exc, type="bbwatch", subtype=WarningType.DATA.value)
        return None


def _tracker(
    app: Sphinx, cfg: BBWatchConfig
) -> tuple[FileTracker | GitHubTracker | None, str | None]:
    """``bbwatch_tracker`` (environment applied): ``{"file": PATH}`` or ``{"github": "o/r",
    "api_url"?, "web_url"?}``; None when it names no search source."""
    try:
        return tracker_from_config(cfg.tracker, confdir=Path(app.confdir),
                                   cache_dir=cfg.resolved_cache_dir(app),
                                   timeout=cfg.timeout), None
    except TrackerError as exc:
        return None, f"issue tracker not checked: {exc}"


def _builder_inited(app: Sphinx) -> None:
    cfg = get_config(app)
    if cfg.gc_freeze:
        # What the previous build in this process froze (see _settle) is collectable again.
        # Not undone at build-finished: Python's exit would then walk the whole heap once more.
        gc.unfreeze()
    if app.builder.format == "html":
        app.config.html_static_path.append(str(STATIC))
        app.add_css_file("bbwatch.css")
    # linkcheck/dummy only check the sources: live data would be a pointless network call
    if cfg.offline or app.builder.name in NO_FETCH_BUILDERS:
        app.bbwatch_live = LiveState(None, offline=True, digest="offline")
        app.bbwatch_analysis = None
        return
    # Network and disk, then pure analysis: nothing the reading phase needs (directives only
    # place placeholders), so it runs while Sphinx reads; get_state() waits for it. What
    # may log a warning (the registry) stays in the main thread.
    registry = _registry(app)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bbwatch-live-fetch")
    app.bbwatch_pending = executor.submit(_gather, app, cfg, registry)
    executor.shutdown(wait=False)  # no other task: the worker ends with this one


def _gather(
    app: Sphinx, cfg: BBWatchConfig, registry: Registry | None
) -> tuple[LiveState, float]:
    """Fetch, analyse and cache the fleet: (the state, seconds it took)."""
    started = time.monotonic()
    parsed_cache = _parsed_cache(app, cfg)
    fleet, reason, preparsed = _fetch(app, cfg, parsed_cache)
    if reason is None and fleet is not None and fleet.source == "cache":
        reason = "; ".join(fleet.errors[:1]) or "the master could not be reached"
    analysis = None
    if fleet is not None:
        tracker, note = _tracker(app, cfg)
        parsed_cache.idents = dict(fleet.log_ids)  # new parses are stored under them
        with _quiet_retries():  # the tracker is a network edge too
            analysis = analyse(fleet, registry=registry, tracker=tracker,
                               parsed_cache=parsed_cache, preparsed=preparsed)
        if fleet.source == "live" and not fleet.errors:  # a whole fleet: the rest is history
            parsed_cache.prune(set(analysis.parsed))
        if note:
            analysis.notes.append(note)
    checked_at = time.time()
    digest = fleet_digest(fleet, reason, analysis.parsed if analysis else None)
    if fleet is not None and analysis is not None and fleet.source == "live":
        source = _source(app, cfg)
        live_store.save_last(parsed_cache, source, fleet, analysis.parsed, digest)
    return (LiveState(analysis, reason, digest=digest, checked_at=checked_at),
            time.monotonic() - started)


def _settle(app: Sphinx, state: LiveState, seconds: float) -> None:
    app.bbwatch_live = state
    app.bbwatch_analysis = state.analysis
    if get_config(app).gc_freeze:
        # Opt-in (``bbwatch_gc_freeze``), for a process that only runs this build: the fleet
        # and its analysis (10^5-10^6 objects) live as long as the build, so they can stay
        # out of the collector's full passes while Sphinx writes. It changes the whole
        # interpreter, so it is never done unasked. The next build in this process unfreezes.
        gc.freeze()
    logger.info("bbwatch: live data %s in %.1fs",
                "unavailable" if state.reason else "fetched", seconds)


def _finished(app: Sphinx, exc: Exception | None) -> None:
    """The version file (``live_fresh``) says what this build checked; ``bbwatch_strict``:
    degraded live data fails the build (the pages are still written)."""
    if exc is not None:  # the build failed already; a running fetch ends on its timeouts
        return
    state = get_state(app)
    if app.builder.format == "html" and not state.offline:
        data_at = state.analysis.fetched_at if state.analysis else None
        live_fresh.write_version(Path(app.outdir), live_fresh.version_payload(
            live_fresh.short_version(state.digest), data_at, state.checked_at or time.time(),
            state.reason is None, state.reason))
    if state.reason is None or not get_config(app).strict:
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
    app.add_directive("bbwatch-now", BbwatchNow)
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _before_read)
    app.connect("env-updated", _env_updated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("build-finished", _finished)
