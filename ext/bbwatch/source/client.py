"""The Buildbot REST API v2 client: requests with retries and bounded concurrency, one resource
at a time (builders, workers, builds, steps, logs, changes), and one build in full, cached.

Network lives here and in ``bbwatch.source.sync`` (the whole fleet, incremental) and nowhere
below: callers get the plain dataclasses of ``bbwatch.models``. A *complete* build never
changes, so it is cached (with its steps, logs, changes and capped test log) forever, under
the master's current *epoch*: a master recreated at the same URL restarts its buildids, and
``sync`` then moves the epoch on so the old entries are never read.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Self, TypeVar

import requests
from requests.adapters import HTTPAdapter

from bbwatch import __version__
from bbwatch.errors import BuildbotError
from bbwatch.models import Build, Builder, Change, Log, Step, Worker
from bbwatch.source.convert import (
    build_from_api,
    builder_from_api,
    change_from_api,
    flatten_properties,
    log_from_api,
    replace_logs,
    step_from_api,
    worker_from_api,
)
from bbwatch.source.http import (
    CountingRetry,
    RequestCounter,
    describe_error,
    error_detail,
)
from bbwatch.source.logtext import DEFAULT_LOG_CAP, stdio_of, tail_text, wants_logs
from bbwatch.source.query import BuildQuery, FindBuilds
from bbwatch.source.store import Space, namespace_for, open_store
from bbwatch.source.urls import BuildRef, build_url, builder_url, master_urls

T = TypeVar("T")
U = TypeVar("U")
POOL_PREFIX = "bbwatch-client"


class ApiClient(FindBuilds):
    """A Buildbot master's REST API v2 with retries, bounded concurrency and an immutable cache.

    ``base_url`` is any URL of the master; ``master_urls`` gives ``base_url`` (the web root of
    the links we print) and ``api_url`` (where requests go), ``api_root`` overriding the latter.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_root: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        max_workers: int = 8,
        log_cap_bytes: int = DEFAULT_LOG_CAP,
        session: requests.Session | None = None,
        backoff_factor: float = 0.5,
        max_retry_after: float = 30.0,
    ) -> None:
        # Web root for the links we print, API root for requests: one rule (``master_urls``);
        # ``api_root`` (else $BBWATCH_API_ROOT) overrides the API root.
        urls = master_urls(base_url, api_root)
        self.base_url = urls.web
        self.api_url = urls.api
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if retries < 0 or log_cap_bytes < 1 or backoff_factor < 0 or max_retry_after < 0:
            raise ValueError("retries, backoff_factor and max_retry_after must be >= 0 and "
                             "log_cap_bytes >= 1")
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.max_workers = max(1, int(max_workers))
        self.log_cap_bytes = int(log_cap_bytes)
        # One store per cache directory (in memory without one); this master's entries are
        # keyed by the API the data comes from: every URL form of one master shares them.
        self.store = open_store(cache_dir)
        self.cache: Space = self.store.space("client/" + namespace_for(self.api_url))
        self.cache_errors: list[str] = []  # failed cache writes (the data was still served)
        self._counter = RequestCounter()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Set when the master refuses connections during fetch_fleet: the remaining requests
        # fail at once instead of each retrying against a dead master.
        self._down: str | None = None
        self._in_fleet = False
        self._builders: list[Builder] | None = None
        self._epoch: int | None = None
        retry = CountingRetry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            other=0,
            backoff_factor=backoff_factor,
            backoff_max=10.0,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.counter = self._counter
        retry.max_retry_after = max_retry_after
        self.session = session or requests.Session()
        adapter = HTTPAdapter(
            pool_connections=2, pool_maxsize=self.max_workers, max_retries=retry
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {"Accept": "application/json", "User-Agent": f"bbwatch/{__version__}"}
        )

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def requests_made(self) -> int:
        """HTTP requests actually sent, retries included."""
        return self._counter.value

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.session.close()
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map(self, fn: Callable[[U], T], items: Iterable[U]) -> list[T]:
        """``fn`` over ``items`` in the bounded pool, results in order; first error re-raised.

        Every call has finished when this returns or raises: nothing outlives the caller's
        context (e.g. a request still retrying, and logging, after the fetch gave up)."""
        items = list(items)
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(x) for x in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix=POOL_PREFIX)
            pool = self._pool
        futures = [pool.submit(fn, x) for x in items]
        wait(futures)
        return [f.result() for f in futures]

    def _get(self, path: str, params: Any = None, *, stream: bool = False) -> requests.Response:
        url = self.api_url + path.lstrip("/")
        if self._in_fleet and self._down:
            raise BuildbotError("cannot fetch", url, self._down)
        self._counter.add()
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout, stream=stream)
        except requests.RequestException as exc:
            cause = describe_error(exc, self.timeout)
            if cause.startswith("connection refused"):
                self._down = cause
            raise BuildbotError("cannot fetch", url, cause) from None
        if resp.status_code >= 400:
            cause = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
            detail = error_detail(resp)
            if detail:
                cause += f" ({detail})"
            if resp.status_code in (429, 500, 502, 503, 504) and self.retries:
                cause += f" after {self.retries} retries"
            resp.close()
            raise BuildbotError("cannot fetch", resp.url or url, cause, status=resp.status_code)
        return resp

    def _get_json(self, path: str, key: str, params: Any = None) -> list[dict[str, Any]]:
        """GET an API path and return its ``key`` list (the v2 envelope), checked."""
        resp = self._get(path, params)
        try:
            body = resp.content
        except requests.RequestException as exc:
            cause = describe_error(exc, self.timeout)
            raise BuildbotError("cannot fetch", resp.url, cause) from None
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BuildbotError(
                "malformed JSON", resp.url, f"{exc.msg} at byte {exc.pos} of {len(body)}"
                if isinstance(exc, json.JSONDecodeError) else str(exc)
            ) from None
        items = data.get(key) if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise BuildbotError("unexpected response", resp.url, f"no {key!r} list in the JSON")
        return items

    def _convert(self, fn: Callable[[dict[str, Any]], T], item: dict[str, Any], what: str) -> T:
        try:
            return fn(item)
        except (KeyError, TypeError, ValueError) as exc:
            raise BuildbotError(
                f"unexpected {what} data", self.api_url, f"{type(exc).__name__}: {exc}"
            ) from None

    # -- resources --------------------------------------------------------------------------

    def builders(self) -> list[Builder]:
        items = self._get_json("builders", "builders")
        builders = sorted(
            (self._convert(builder_from_api, i, "builder") for i in items),
            key=lambda b: b.builderid,
        )
        self._builders = builders
        return builders

    def workers(self) -> list[Worker]:
        items = self._get_json("workers", "workers")
        return sorted(
            (self._convert(worker_from_api, i, "worker") for i in items), key=lambda w: w.workerid
        )

    def builds(self, builderid: int, limit: int = 20) -> list[Build]:
        """The builder's newest builds (newest first) with steps and changes filled."""
        items = self._builds_of(int(builderid), limit)
        return self._map(self._complete, items)

    def _find(self, query: BuildQuery) -> list[Build]:
        """``find_builds`` (``FindBuilds``): the master filters."""
        items = self._get_json("builds", "builds", query.params())
        return [self._convert(build_from_api, i, "build") for i in items]

    def _builds_of(self, builderid: int, limit: int) -> list[dict[str, Any]]:
        params = {"order": "-number", "limit": str(max(1, int(limit))), "property": "*"}
        return self._get_json(f"builders/{builderid}/builds", "builds", params)

    def build(self, builderid: int | str, number: int) -> Build:
        """One build by builder (id or name) and number, with steps and changes filled."""
        bid = self._builderid(builderid)
        known = self.cache.get(f"{self._epoch_prefix()}numbers/{bid}/{int(number)}", int)
        if known is not None:
            cached = self._cached_build(known)
            if cached is not None:
                return cached
        try:
            items = self._get_json(
                f"builders/{bid}/builds/{int(number)}", "builds", {"property": "*"}
            )
        except BuildbotError as exc:
            if exc.status != 404:
                raise
            items = []
        if not items:
            raise BuildbotError(
                "no such build", build_url(self.base_url, bid, int(number)), "not on the master"
            )
        return self._complete(items[0])

    def resolve(self, ref: BuildRef) -> tuple[Builder, Build]:
        """The builder and build a parsed URL names (by builder id or name)."""
        key: int | str = ref.builderid if ref.builderid is not None else (ref.builder_name or "")
        build = self.build(key, ref.number)
        builder = self._builder_by_id(build.builderid)
        return builder, build

    def steps(self, buildid: int) -> list[Step]:
        """The build's steps; ``logs`` is listed for the test step and steps that went wrong
        (see ``_wants_logs``), empty for green steps (link those with ``log_url``)."""
        cached = self._cached_build(int(buildid))
        if cached is not None:
            return list(cached.steps)
        return self._fetch_steps(int(buildid))

    def changes(self, buildid: int) -> list[Change]:
        cached = self._cached_build(int(buildid))
        if cached is not None:
            return list(cached.changes)
        return self._fetch_changes(int(buildid))

    def properties(self, buildid: int) -> dict[str, object]:
        items = self._get_json(f"builds/{int(buildid)}/properties", "properties")
        return flatten_properties(items[0] if items else {})

    def log_text(self, log: Log, cap_bytes: int | None = None) -> str:
        """A log's raw text, streamed; over the cap only the tail is kept (whole lines)."""
        cap = self.log_cap_bytes if cap_bytes is None else int(cap_bytes)
        key = f"{self._epoch_prefix()}logs/{log.logid}-{cap}"
        if log.complete:
            hit = self.cache.get(key, str)
            if hit is not None:
                return hit
        resp = self._get(f"logs/{log.logid}/raw", stream=True)
        try:
            text = tail_text(resp.iter_content(64 * 1024), cap)
        except requests.RequestException as exc:
            raise BuildbotError(
                "cannot read log", resp.url, describe_error(exc, self.timeout)
            ) from None
        finally:
            resp.close()
        if log.complete:
            self._remember({key: text})
        return text

    def log(self, logid: int) -> Log:
        """One log by its id (``api/v2/logs/ID``): what a pasted raw-log URL names."""
        items = self._get_json(f"logs/{int(logid)}", "logs")
        if not items:
            raise BuildbotError("no such log", f"{self.api_url}logs/{int(logid)}",
                                "not on the master")
        return self._convert(log_from_api, items[0], "log")

    def test_log(self, build: Build) -> str | None:
        """The stdio of the build's ``test`` step, or None if it has none."""
        log = stdio_of(build.step("test"))
        return None if log is None else self.log_text(log)

    # -- one build in full ------------------------------------------------------------------

    def _builderid(self, builder: int | str) -> int:
        if isinstance(builder, int):
            return builder
        if builder.isdigit():
            return int(builder)
        for b in self._builders or self.builders():
            if b.name == builder:
                return b.builderid
        # The list may be stale: ask once more before giving up.
        for b in self.builders():
            if b.name == builder:
                return b.builderid
        raise BuildbotError("no such builder", self.api_url + "builders", repr(builder))

    def _builder_by_id(self, builderid: int) -> Builder:
        for b in self._builders or self.builders():
            if b.builderid == builderid:
                return b
        for b in self.builders():
            if b.builderid == builderid:
                return b
        raise BuildbotError("no such builder", builder_url(self.base_url, builderid), "")

    def _epoch_prefix(self) -> str:
        """Cache keys of builds and logs live under the master's current epoch.

        A master recreated at the same URL restarts its buildids at 1; once fetch_fleet
        notices (see ``_same_master``), the epoch moves on and the old entries are never read.
        """
        if self._epoch is None:
            value = self.cache.get("epoch", int)
            self._epoch = value if value is not None and value >= 0 else 0
        return f"e{self._epoch}/" if self._epoch else ""

    def _new_epoch(self) -> None:
        old = self._epoch_prefix()
        self._epoch = (self._epoch or 0) + 1
        self._remember({"epoch": self._epoch})
        for kind in ("builds/", "numbers/", "logs/"):  # the old master's: never read
            try:
                self.cache.clear(old + kind)
            except OSError as exc:
                self.cache_errors.append(f"cannot clear cache entries {old}{kind}: {exc}")

    def _remember(self, values: dict[str, object]) -> None:
        """Cache values (in one transaction); a full or read-only disk only costs refetching
        them next time."""
        try:
            self.cache.put_many(values)
        except OSError as exc:
            key = next(iter(values))
            self.cache_errors.append(f"cannot write cache entry {key}: {exc.strerror or exc}")

    def _cached_build(self, buildid: int) -> Build | None:
        """A complete build from the store (a damaged entry is dropped there: a miss)."""
        return self.cache.get(f"{self._epoch_prefix()}builds/{buildid}", Build)

    def _complete(self, item: dict[str, Any]) -> Build:
        """A build from its API dict, with steps (and their logs) and changes filled.

        Complete builds come from the cache when present and go into it when fetched.
        """
        build = self._convert(build_from_api, item, "build")
        if build.complete:
            cached = self._cached_build(build.buildid)
            if cached is not None:
                return cached
        build.steps = tuple(self._fetch_steps(build.buildid))
        build.changes = tuple(self._fetch_changes(build.buildid))
        if build.complete and all(s.complete for s in build.steps):
            prefix = self._epoch_prefix()
            self._remember({f"{prefix}builds/{build.buildid}": build,
                            f"{prefix}numbers/{build.builderid}/{build.number}": build.buildid})
        return build

    def _fetch_steps(self, buildid: int) -> list[Step]:
        items = self._get_json(f"builds/{buildid}/steps", "steps")
        steps = sorted(
            (self._convert(step_from_api, i, "step") for i in items), key=lambda s: s.number
        )

        def with_logs(step: Step) -> Step:
            if not wants_logs(step):
                return step
            logs = self._get_json(f"steps/{step.stepid}/logs", "logs")
            return replace_logs(step, tuple(self._convert(log_from_api, lg, "log") for lg in logs))

        # Inside the pool (fetch_fleet) go sequentially: waiting on the same pool could deadlock.
        if threading.current_thread().name.startswith(POOL_PREFIX):
            return [with_logs(step) for step in steps]
        return self._map(with_logs, steps)

    def _fetch_changes(self, buildid: int) -> list[Change]:
        items = self._get_json(f"builds/{buildid}/changes", "changes")
        return sorted(
            (self._convert(change_from_api, i, "change") for i in items), key=lambda c: c.changeid
        )
