"""Client for Buildbot's REST API v2, build-URL parsing, and the human URLs of the web UI.

Network lives here and nowhere below: callers get the plain dataclasses of ``bbwatch.models``.
A *complete* build never changes, so it is cached (with its steps, logs, changes and capped
test log) forever; ``fetch_fleet`` only asks the master what is new since last time:
``/builders``, ``/workers`` and one ``/builds?buildid__gt=<watermark>`` on a warm cache.
That query starts at a build already cached (the anchor), so a master recreated at the same
URL (buildids restart at 1) is noticed and its predecessor's cache entries are dropped.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

import msgspec
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from bbwatch import __version__
from bbwatch.cache import Cache, open_cache
from bbwatch.models import Build, Builder, Change, FleetData, Log, Result, Step, Worker
from bbwatch.serialize import build_from_dict, to_dict

if TYPE_CHECKING:
    from bbwatch.snapshot import SnapshotSource

__all__ = [
    "API_ROOT_ENV",
    "KNOWN_MASTERS",
    "BuildRef",
    "BuildbotClient",
    "BuildbotError",
    "BuildbotURL",
    "MasterURLs",
    "build_url",
    "builder_url",
    "default_cache_dir",
    "log_url",
    "master_urls",
    "normalise_base_url",
    "open_client",
    "parse_build_url",
    "parse_url",
    "tail_lines",
]

T = TypeVar("T")
DEFAULT_LOG_CAP = 8 * 1024 * 1024
# Buildbot >= 4.0 starts every raw stdio log with these lines; they are not the build's output.
_RAW_HEADERS = ("Builder: ", "Build number: ", "Worker name: ")
_MAX_URL = 8192
_MAX_INT = 2**63 - 1
_POOL_PREFIX = "bbwatch-client"


class BuildbotError(Exception):
    """Anything the client cannot recover from; ``str(e)`` is one line: what, URL, cause."""

    def __init__(
        self, what: str, url: str = "", cause: str = "", status: int | None = None
    ) -> None:
        parts = [p for p in (what, url, cause) if p]
        message = ": ".join(parts)
        message = " ".join(message.split())  # one line, whatever the server sent
        if len(message) > 400:
            message = message[:397] + "..."
        super().__init__(message)
        self.url = url
        self.cause = cause
        self.status = status  # the HTTP status when the master answered with an error


# --------------------------------------------------------------------------- URLs
#
# The one rule from a pasted URL to a master's web root and REST API root (``master_urls``).
# Every URL this package prints or requests is derived through it.

API_ROOT_ENV = "BBWATCH_API_ROOT"


@dataclass(frozen=True)
class KnownMaster:
    """A master whose REST API is not at ``<web root>api/v2/``."""

    web: str  # the root of the links watchers paste and we print
    api: str  # the REST API root, ending in api/v2/
    paths: tuple[str, ...]  # the root paths (rule step 1) that name this master


# Host (lower case; no port or the scheme's default) -> master. buildbot.python.org serves its
# UI at both / and the legacy /all/, and its API only under /all/api/v2/; http:// is the same.
KNOWN_MASTERS: dict[str, KnownMaster] = {
    "buildbot.python.org": KnownMaster(
        web="https://buildbot.python.org/",
        api="https://buildbot.python.org/all/api/v2/",
        paths=("/", "/all/"),
    ),
}


@dataclass(frozen=True)
class MasterURLs:
    web: str  # e.g. https://buildbot.python.org/ (build pages are <web>#/builders/N/builds/M)
    api: str  # e.g. https://buildbot.python.org/all/api/v2/


def master_urls(
    url: str, api_root: str | None = None, *, environ: Mapping[str, str] | None = None
) -> MasterURLs:
    """The web root and the REST API root of the master any of its URLs belongs to.

    The rule, for a URL of any form (UI page, API URL, old UI, with or without credentials,
    query or fragment):

    1. The *root* is the URL's scheme, host and port and its path up to the first ``api/v2``
       or ``builders`` segment (``#...`` and ``?...`` dropped), ending in ``/``.
    2. A host in ``KNOWN_MASTERS`` whose root path is one of its ``paths`` gets that entry's
       web and API roots: every form of buildbot.python.org (``http`` or ``https``, with or
       without ``/all/``) is web ``https://buildbot.python.org/`` and API
       ``https://buildbot.python.org/all/api/v2/``.
    3. Any other master: web = root, API = root + ``api/v2/`` (``http://127.0.0.1:8010/``
       -> ``http://127.0.0.1:8010/api/v2/``).
    4. Override, for the API root only: ``api_root`` if given, else the ``BBWATCH_API_ROOT``
       environment variable (from ``environ``, default ``os.environ``; pass ``{}`` to ignore
       it). A value not ending in ``api/v2/`` gets it appended.

    Raises ``ValueError("not a Buildbot URL: ...")`` for anything but an http(s) URL.
    """
    if not isinstance(url, str):
        raise ValueError(f"not a Buildbot URL: {_show(url)}")
    web, default_api = _roots(url)
    if api_root is None:
        api_root = (os.environ if environ is None else environ).get(API_ROOT_ENV, "").strip()
    return MasterURLs(web, _api_override(api_root) if api_root else default_api)


@functools.lru_cache(maxsize=256)
def _roots(url: str) -> tuple[str, str]:
    """(web root, API root by steps 1-3 of ``master_urls``): pure, hence cached."""
    parts = _split_http(url, "not a Buildbot URL")
    root_path, _rest = _cut_root(parts.path)
    known = KNOWN_MASTERS.get((parts.hostname or "").lower())
    if known is not None and parts.port in (None, 80, 443) and root_path in known.paths:
        return known.web, known.api
    root = f"{parts.scheme.lower()}://{_netloc(parts)}{root_path}"
    return root, root + "api/v2/"


def _api_override(value: str) -> str:
    parts = _split_http(value, f"{API_ROOT_ENV} / api_root is not an http(s) URL")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    if not path.endswith("/api/v2/"):
        path += "api/v2/"
    return f"{parts.scheme.lower()}://{_netloc(parts)}{path}"


def _cut_root(path: str) -> tuple[str, str]:
    """(the master's root path ending in /, the rest: ``api/v2/...``, ``builders/...`` or '')."""
    path = path or "/"
    m = re.search(r"/(?=(?:api/v2|builders)(?:/|$))", path)
    if m:
        return path[: m.end()], path[m.end() :]
    return (path if path.endswith("/") else path + "/"), ""


def normalise_base_url(url: str) -> str:
    """The master's web root (``master_urls(url).web``), from any URL of the master.

    ``http://h:p`` -> ``http://h:p/``; ``https://buildbot.python.org/all/api/v2`` ->
    ``https://buildbot.python.org/``. Query, fragment and credentials are dropped (tokens come
    from the environment only).
    """
    if not isinstance(url, str):
        raise ValueError(f"not a Buildbot URL: {_show(url)}")
    return _roots(url)[0]


def _split_http(url: str, what: str) -> SplitResult:
    text = url.strip()
    if not text or len(text) > _MAX_URL or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f"{what}: {_show(url)}")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{what}: {_show(url)}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what}: {_show(url)} (expected an http(s):// URL)")
    return parts


def _netloc(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


@dataclass(frozen=True)
class BuildbotURL:
    """What a pasted Buildbot URL names (``parse_url``), with its master's roots.

    ``kind`` is one of ``master`` (the front page or the API root), ``page`` (a dashboard:
    ``release_status``, ``grid``, ``console``, ``waterfall``, ...), ``builders`` (the list,
    ``tags`` as the UI writes them, e.g. ``("+3.x", "+stable")``), ``builder``, ``build``,
    ``step`` or ``log`` (by build and step, or by ``logid`` for ``api/v2/logs/ID/...``).
    """

    web_root: str
    api_root: str
    kind: str
    builderid: int | None = None
    builder_name: str | None = None  # old UI and API URLs may name the builder
    number: int | None = None
    step: str | None = None  # a step number (UI) or name (API)
    log: str | None = None  # the log's slug, e.g. stdio
    logid: int | None = None
    page: str | None = None
    tags: tuple[str, ...] = ()
    query: str = ""  # the page's or list's query string, as pasted

    @property
    def api_url(self) -> str:
        """The API resource it names (JSON; add ``/raw`` to a log's for its text)."""
        if self.logid is not None:
            return f"{self.api_root}logs/{self.logid}"
        if self.kind in ("master", "page"):
            return self.api_root
        if self.kind == "builders":
            return f"{self.api_root}builders"
        url = f"{self.api_root}builders/{self._builder_segment()}"
        if self.number is not None:
            url += f"/builds/{self.number}"
        if self.step is not None:
            url += f"/steps/{quote(self.step, safe='')}"
        if self.log is not None:
            url += f"/logs/{quote(self.log, safe='')}"
        return url

    @property
    def web_url(self) -> str | None:
        """The UI page it names, in the form watchers use; None for a log known only by id
        or a builder known only by name (the UI routes by id: ask the master)."""
        query = f"?{self.query}" if self.query else ""
        if self.kind == "master":
            return self.web_root
        if self.kind == "page":
            return f"{self.web_root}#/{self.page}{query}"
        if self.kind == "builders":
            return f"{self.web_root}#/builders{query}"
        if self.builderid is None:
            return None
        url = f"{self.web_root}#/builders/{self.builderid}"
        if self.number is not None:
            url += f"/builds/{self.number}"
        if self.step is not None:
            url += f"/steps/{quote(self.step, safe='')}"
        if self.log is not None:
            url += f"/logs/{quote(self.log, safe='')}"
        return url

    def _builder_segment(self) -> str:
        if self.builderid is not None:
            return str(self.builderid)
        return quote(self.builder_name or "", safe="")


_NUM = r"([0-9]{1,18})"
_SEG = r"([^/?#]+)"
_TAIL = rf"(?:/steps/{_SEG}(?:/logs/{_SEG}(?:/(?:raw|raw_inline|contents))?)?)?/?"
# Routes after the root, the same in the UI's fragment (#/builders/N/builds/M, or #builders/...
# in the very old 1.x UI), the API (api/v2/builders/<id or name>/builds/M/steps/S/logs/L/raw)
# and the 0.8 UI (builders/<url-encoded name>/builds/M/steps/S/logs/L).
_R_BUILD = re.compile(rf"^builders/{_SEG}/builds/{_NUM}{_TAIL}$")
_R_BUILDER = re.compile(rf"^builders/{_SEG}/?$")
_R_BUILDERS = re.compile(r"^builders/?$")
_R_LOG = re.compile(rf"^logs/{_NUM}(?:/(?:raw|raw_inline|contents))?/?$")  # API only
_R_PAGE = re.compile(r"^([a-z][a-z_]{0,40})/?$")  # UI only: release_status, grid, console...


def parse_url(url: str) -> BuildbotURL:
    """Parse any Buildbot URL a watcher pastes: what it names, and the master's roots.

    Roots by the rule of ``master_urls`` (``BBWATCH_API_ROOT`` applies). Raises
    ``ValueError("not a Buildbot URL: ...")`` for what no Buildbot serves (a negative or
    20-digit number, a builder name in the new UI's fragment, a control character...).
    """
    if not isinstance(url, str):
        raise ValueError(f"not a Buildbot URL: {_show(url)}")
    parts = _split_http(url, "not a Buildbot URL")
    roots = master_urls(url)
    _root, rest = _cut_root(parts.path)
    route, query, ui = rest, "", False
    if parts.fragment.strip("/"):
        route, _, query = parts.fragment.partition("?")
        route, ui = route[1:] if route.startswith("/") else route, True
        if rest:  # a UI route after an API or old-UI path: not a page anyone links
            raise ValueError(f"not a Buildbot URL: {_show(url)}")
    elif rest.startswith("api/v2"):
        route = rest[len("api/v2") :].lstrip("/")
    found = _route(route, query, ui)
    if found is None:
        raise ValueError(f"not a Buildbot URL: {_show(url)}")
    return dataclasses.replace(found, web_root=roots.web, api_root=roots.api)


def _route(route: str, query: str, ui: bool) -> BuildbotURL | None:
    if not route:
        return BuildbotURL("", "", "master")
    m = _R_BUILD.match(route)
    if m:
        return _build_ref(m.group(1), m.group(2), m.group(3), m.group(4), ui)
    m = _R_BUILDER.match(route)
    if m:
        return _build_ref(m.group(1), None, None, None, ui)
    if _R_BUILDERS.match(route):
        tags = tuple(v for k, v in parse_qsl(query) if k == "tags") if ui else ()
        return BuildbotURL("", "", "builders", tags=tags, query=query if ui else "")
    m = _R_LOG.match(route)
    if m and not ui:
        return BuildbotURL("", "", "log", logid=int(m.group(1)))
    m = _R_PAGE.match(route)
    if m and ui:
        return BuildbotURL("", "", "page", page=m.group(1), query=query)
    return None


def _build_ref(
    builder: str, number: str | None, step: str | None, log: str | None, ui: bool
) -> BuildbotURL | None:
    name = unquote(builder)
    if re.fullmatch(r"[0-9]{1,18}", name):
        builderid, builder_name = int(name), None
    elif ui or not name.strip() or any(ord(c) < 32 for c in name):
        return None  # the new UI routes by id only
    else:
        builderid, builder_name = None, name
    num = None if number is None else int(number)
    if (num or 0) > _MAX_INT or (builderid or 0) > _MAX_INT:
        return None
    kind = "log" if log else "step" if step else "build" if num is not None else "builder"
    return BuildbotURL(
        "", "", kind, builderid=builderid, builder_name=builder_name, number=num,
        step=unquote(step) if step else None, log=unquote(log) if log else None,
    )


@dataclass(frozen=True)
class BuildRef:
    """One build as named by a URL: by builder id (new UI, API) or name (old UI).

    ``base_url`` is the master's web root (``master_urls``); ``api_root`` its API root.
    """

    base_url: str
    builderid: int | None
    builder_name: str | None
    number: int
    step: str | None = None
    log: str | None = None

    @property
    def api_root(self) -> str:
        return master_urls(self.base_url).api


_NOT_A_BUILD = {
    "master": "a master's front page",
    "page": "a dashboard",
    "builders": "a list of builders",
    "builder": "a builder's page",
    "log": "a log known only by its id",
}


def parse_build_url(url: str) -> BuildRef:
    """Parse any build URL users paste (web UI, old UI, API, step or log URL) into a BuildRef.

    Every form ``parse_url`` reads, as long as it names a build. Raises
    ``ValueError("not a build URL: ...")`` for anything else.
    """
    try:
        found = parse_url(url)
    except ValueError:
        raise ValueError(f"not a build URL: {_show(url)}") from None
    if found.number is None:
        what = _NOT_A_BUILD.get(found.kind, found.kind)
        raise ValueError(f"not a build URL: {_show(url)} is {what}: open a build and paste its "
                         "address")
    return BuildRef(
        base_url=found.web_root,
        builderid=found.builderid,
        builder_name=found.builder_name,
        number=found.number,
        step=found.step,
        log=found.log,
    )


def build_url(base_url: str, builderid: int, number: int) -> str:
    """The web UI page of a build, the way watchers link it (``master_urls(base_url).web``):
    ``https://buildbot.python.org/#/builders/N/builds/M``."""
    return f"{normalise_base_url(base_url)}#/builders/{int(builderid)}/builds/{int(number)}"


def builder_url(base_url: str, builderid: int) -> str:
    return f"{normalise_base_url(base_url)}#/builders/{int(builderid)}"


def log_url(base_url: str, builderid: int, number: int, step: str, slug: str = "stdio") -> str:
    """The raw text of one step's log, for humans (a link) and curl, under the master's API
    root (``master_urls(base_url).api``)."""
    root = master_urls(base_url).api
    return (
        f"{root}builders/{int(builderid)}/builds/{int(number)}"
        f"/steps/{quote(step, safe='')}/logs/{quote(slug, safe='')}/raw"
    )


# --------------------------------------------------------------------------- HTTP


class _Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


class _Retry(Retry):
    """urllib3 Retry that counts the extra requests it sends and caps ``Retry-After``."""

    counter: _Counter | None = None
    max_retry_after: float = 30.0

    def new(self, **kw: Any) -> _Retry:
        retry = super().new(**kw)
        retry.counter = self.counter
        retry.max_retry_after = self.max_retry_after
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> _Retry:
        retry = super().increment(*args, **kwargs)  # raises when exhausted: nothing more sent
        if self.counter is not None:
            self.counter.add()
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        # A hostile or confused server must not park us for an hour.
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after)


def _describe(exc: BaseException, timeout: float) -> str:
    """A short cause for a requests/urllib3 exception, without its nested repr soup."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first.
        if isinstance(current, NewConnectionError):
            if "refused" in str(current).lower():
                return "connection refused (is the master running?)"
            return "cannot connect: " + str(current).rsplit(": ", 1)[-1]
        if isinstance(current, (ConnectTimeoutError, requests.ConnectTimeout)):
            return f"connection timed out after {timeout:g}s"
        if isinstance(current, (ReadTimeoutError, requests.ReadTimeout)):
            return f"no response within {timeout:g}s"
        if isinstance(current, ResponseError):
            return f"gave up after retries ({current})"
        if isinstance(current, (ProtocolError, requests.exceptions.ChunkedEncodingError)):
            return "connection closed mid-response (master went away?)"
        if isinstance(current, MaxRetryError) and current.reason is not None:
            todo.append(current.reason)
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


# --------------------------------------------------------------------------- the client


class BuildbotClient:
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
        # Keyed by the API the data comes from: every URL form of one master shares a cache.
        self.cache: Cache = open_cache(cache_dir, self.api_url)
        self.cache_errors: list[str] = []  # failed cache writes (the data was still served)
        self._counter = _Counter()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Set when the master refuses connections during fetch_fleet: the remaining requests
        # fail at once instead of each retrying against a dead master.
        self._down: str | None = None
        self._in_fleet = False
        self._builders: list[Builder] | None = None
        self._epoch: int | None = None
        retry = _Retry(
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

    def __enter__(self) -> BuildbotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
        """``fn`` over ``items`` in the bounded pool, results in order; first error re-raised.

        Every call has finished when this returns or raises: nothing outlives the caller's
        context (e.g. a request still retrying, and logging, after the fetch gave up)."""
        items = list(items)
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(x) for x in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix=_POOL_PREFIX)
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
            cause = _describe(exc, self.timeout)
            if cause.startswith("connection refused"):
                self._down = cause
            raise BuildbotError("cannot fetch", url, cause) from None
        if resp.status_code >= 400:
            cause = f"HTTP {resp.status_code} {resp.reason or ''}".strip()
            detail = _error_detail(resp)
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
            raise BuildbotError("cannot fetch", resp.url, _describe(exc, self.timeout)) from None
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
            (self._convert(_builder, i, "builder") for i in items), key=lambda b: b.builderid
        )
        self._builders = builders
        return builders

    def workers(self) -> list[Worker]:
        items = self._get_json("workers", "workers")
        return sorted(
            (self._convert(_worker, i, "worker") for i in items), key=lambda w: w.workerid
        )

    def builds(self, builderid: int, limit: int = 20) -> list[Build]:
        """The builder's newest builds (newest first) with steps and changes filled."""
        items = self._builds_of(int(builderid), limit)
        return self._map(self._complete, items)

    def find_builds(
        self,
        *,
        order: str | Sequence[str] = "-buildid",
        limit: int | None = 100,
        fields: Sequence[str] = (),
        **filters: object,
    ) -> list[Build]:
        """Builds across builders, filtered by the master (steps and changes NOT filled).

        ``filters`` are Buildbot's query filters: ``builderid=3``, ``complete=True``,
        ``results__ne=0``, ``buildid__gt=123``, ``builderid__in=[1, 2]`` (a list repeats the
        parameter). E.g. recent failures: ``find_builds(complete=True, results=2,
        order="-complete_at", limit=100)``. ``fields`` narrows the JSON (keep the ids).
        """
        params: list[tuple[str, str]] = []
        for name, value in filters.items():
            for item in value if isinstance(value, (list, tuple, set, frozenset)) else [value]:
                params.append((name, _query_value(item)))
        for o in [order] if isinstance(order, str) else order:
            params.append(("order", o))
        if limit is not None:
            params.append(("limit", str(max(1, int(limit)))))
        wanted = list(fields)
        if wanted:
            for must in ("buildid", "builderid", "number", "complete"):
                if must not in wanted:
                    wanted.append(must)
            params.extend(("field", f) for f in wanted)
        else:
            params.append(("property", "*"))
        items = self._get_json("builds", "builds", params)
        return [self._convert(_build, i, "build") for i in items]

    def _builds_of(self, builderid: int, limit: int) -> list[dict[str, Any]]:
        params = {"order": "-number", "limit": str(max(1, int(limit))), "property": "*"}
        return self._get_json(f"builders/{builderid}/builds", "builds", params)

    def build(self, builderid: int | str, number: int) -> Build:
        """One build by builder (id or name) and number, with steps and changes filled."""
        bid = self._builderid(builderid)
        known = self.cache.get(f"{self._epoch_prefix()}numbers/{bid}/{int(number)}")
        if isinstance(known, int):
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
        return _flatten_properties(items[0] if items else {})

    def log_text(self, log: Log, cap_bytes: int | None = None) -> str:
        """A log's raw text, streamed; over the cap only the tail is kept (whole lines)."""
        cap = self.log_cap_bytes if cap_bytes is None else int(cap_bytes)
        key = f"{self._epoch_prefix()}logs/{log.logid}-{cap}"
        if log.complete:
            hit = self.cache.get(key)
            if isinstance(hit, str):
                return hit
        resp = self._get(f"logs/{log.logid}/raw", stream=True)
        try:
            text = _tail_text(resp.iter_content(64 * 1024), cap)
        except requests.RequestException as exc:
            raise BuildbotError(
                "cannot read log", resp.url, _describe(exc, self.timeout)
            ) from None
        finally:
            resp.close()
        if log.complete:
            self._remember(key, text)
        return text

    def log(self, logid: int) -> Log:
        """One log by its id (``api/v2/logs/ID``): what a pasted raw-log URL names."""
        items = self._get_json(f"logs/{int(logid)}", "logs")
        if not items:
            raise BuildbotError("no such log", f"{self.api_url}logs/{int(logid)}",
                                "not on the master")
        return self._convert(_log, items[0], "log")

    def test_log(self, build: Build) -> str | None:
        """The stdio of the build's ``test`` step, or None if it has none."""
        log = _stdio_of(build.step("test"))
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
            value = self.cache.get("epoch")
            self._epoch = value if isinstance(value, int) and value >= 0 else 0
        return f"e{self._epoch}/" if self._epoch else ""

    def _new_epoch(self) -> None:
        old = self._epoch_prefix()
        self._epoch = (self._epoch or 0) + 1
        self._remember("epoch", self._epoch)
        for kind in ("builds", "numbers", "logs", "packs"):  # the old master's: never read
            self.cache.clear(old + kind)

    def _remember(self, key: str, value: Any) -> None:
        """Cache a value; a full or read-only disk only costs refetching it next time."""
        try:
            self.cache.put(key, value)
        except OSError as exc:
            self.cache_errors.append(f"cannot write cache entry {key}: {exc.strerror or exc}")

    def _cached_build(self, buildid: int) -> Build | None:
        key = f"{self._epoch_prefix()}builds/{buildid}"
        data = self.cache.get(key)
        if not isinstance(data, dict):
            return None
        try:
            return build_from_dict(data)
        except (KeyError, TypeError, ValueError):
            self.cache.delete(key)
            return None

    def _complete(self, item: dict[str, Any]) -> Build:
        """A build from its API dict, with steps (and their logs) and changes filled.

        Complete builds come from the cache when present and go into it when fetched.
        """
        build = self._convert(_build, item, "build")
        if build.complete:
            cached = self._cached_build(build.buildid)
            if cached is not None:
                return cached
        build.steps = self._fetch_steps(build.buildid)
        build.changes = self._fetch_changes(build.buildid)
        if build.complete and all(s.complete for s in build.steps):
            prefix = self._epoch_prefix()
            self._remember(f"{prefix}builds/{build.buildid}", to_dict(build))
            self._remember(f"{prefix}numbers/{build.builderid}/{build.number}", build.buildid)
        return build

    def _fetch_steps(self, buildid: int) -> list[Step]:
        items = self._get_json(f"builds/{buildid}/steps", "steps")
        steps = sorted((self._convert(_step, i, "step") for i in items), key=lambda s: s.number)

        def with_logs(step: Step) -> Step:
            if not _wants_logs(step):
                return step
            logs = self._get_json(f"steps/{step.stepid}/logs", "logs")
            return _replace_logs(step, tuple(self._convert(_log, lg, "log") for lg in logs))

        # Inside the pool (fetch_fleet) go sequentially: waiting on the same pool could deadlock.
        if threading.current_thread().name.startswith(_POOL_PREFIX):
            return [with_logs(step) for step in steps]
        return self._map(with_logs, steps)

    def _fetch_changes(self, buildid: int) -> list[Change]:
        items = self._get_json(f"builds/{buildid}/changes", "changes")
        return sorted(
            (self._convert(_change, i, "change") for i in items), key=lambda c: c.changeid
        )

    # -- the whole fleet --------------------------------------------------------------------

    def fetch_fleet(
        self,
        history: int = 20,
        branches: Sequence[str] = (),
        *,
        known_log: Callable[[int, str], bool] | None = None,
    ) -> FleetData:
        """Everything the live pages need, in one call.

        Cold cache: builders, workers, the current newest buildid, then each builder's recent
        builds. Warm cache: builders, workers and ONE ``/builds?buildid__gt=<watermark>``;
        complete builds already seen are read from the cache (one "pack" file for the whole
        window, not a file per build) and never asked for again.

        ``known_log(buildid, identity)``: return True when you already hold what you need
        from that complete build's test log (e.g. its parse, stored under the identity from
        ``FleetData.log_ids``); its text is then neither fetched nor read from the cache.

        Per-item failures land in ``FleetData.errors``; a master that is down, or
        goes away during the fetch, raises BuildbotError.
        """
        self._down = None
        self._in_fleet = True
        try:
            data = self._fetch_fleet(history, branches, known_log)
        finally:
            self._in_fleet = False
        if self._down:
            # Per-item errors would hide the real story: the master went away mid-fetch.
            raise BuildbotError("master went away during the fetch", self.base_url, self._down)
        return data

    def _fetch_fleet(
        self, history: int, branches: Sequence[str], known_log: Callable[[int, str], bool] | None
    ) -> FleetData:
        history = max(1, int(history))
        started = time.time()
        index_key = "fleet-index/" + hashlib.sha256(
            json.dumps(sorted(branches)).encode()
        ).hexdigest()[:12]
        index = _load_index(self.cache.get(index_key), history)
        watermark = index["watermark"]
        anchor = index["anchor"]
        # Ask from a build we already hold (the anchor), so its answer proves this is still
        # the master we cached: a recreated one reuses buildids for other builds.
        since = None
        if index["lists"] and watermark is not None:
            since = min(watermark, anchor["buildid"] - 1) if anchor else watermark
        pack_key = self._pack_key(index_key)
        # The warm fetch's three questions do not depend on each other: one round trip, not 3;
        # the cached window is decoded meanwhile.
        calls: list[Callable[[], Any]] = [
            self.builders, self.workers, functools.partial(self._load_pack, pack_key)
        ]
        if since is not None:
            calls.append(functools.partial(self._builds_since, since))
        builders, workers, pack, *since_items = self._map(lambda call: call(), calls)
        wanted = [b for b in builders if not branches or b.branch in branches]
        wanted_ids = {b.builderid for b in wanted}
        errors: list[str] = []

        lists: dict[int, list[int]] = {
            bid: ids for bid, ids in index["lists"].items() if bid in wanted_ids
        }
        new_items: list[dict[str, Any]] = []
        cold = [b.builderid for b in wanted if b.builderid not in lists]
        if lists and watermark is not None:
            new_items = since_items[0]
            if anchor and not _same_master(anchor, new_items):
                self._new_epoch()
                pack_key = self._pack_key(index_key)
                lists, new_items, pack = {}, [], {}
                cold = [b.builderid for b in wanted]
                watermark = None
        if lists and watermark is not None:
            seen_max = max([watermark] + [int(i["buildid"]) for i in new_items])
        else:
            seen_max = self._newest_buildid()
        if cold:
            fetched = self._map(self._try_builds_of(history), cold)
            for bid, result in zip(cold, fetched, strict=True):
                if isinstance(result, BuildbotError):
                    errors.append(str(result))
                    continue
                lists[bid] = []
                new_items.extend(result)

        # Newest first per builder: cached complete ids plus whatever the master just told us.
        by_builder: dict[int, dict[int, dict[str, Any] | None]] = {bid: {} for bid in lists}
        for bid, ids in lists.items():
            for buildid in ids:
                by_builder[bid][buildid] = None  # None: read from the cache
        for item in new_items:
            try:
                bid, buildid = int(item["builderid"]), int(item["buildid"])
            except (KeyError, TypeError, ValueError):
                errors.append(f"unexpected build data: {self.api_url}builds: {_show(item)[:80]}")
                continue
            if bid in by_builder:
                by_builder[bid][buildid] = item

        jobs: list[tuple[int, int, dict[str, Any] | None]] = []
        for bid, entries in by_builder.items():
            newest = sorted(entries, reverse=True)[:history]  # buildid order == number order
            jobs.extend((bid, buildid, entries[buildid]) for buildid in newest)

        def packed(item: dict[str, Any] | None, buildid: int) -> Build | None:
            # a complete build is the same whether the master re-lists it or not
            if item is None or item.get("complete"):
                return pack.get(buildid)
            return None

        def load(job: tuple[int, int, dict[str, Any] | None]) -> Build | BuildbotError:
            bid, buildid, item = job
            try:
                if item is None:
                    cached = self._cached_build(buildid)
                    if cached is not None:
                        return cached
                    found = self._get_json(f"builds/{buildid}", "builds", {"property": "*"})
                    if not found:
                        raise BuildbotError("build vanished", f"{self.api_url}builds/{buildid}")
                    item = found[0]
                return self._complete(item)
            except BuildbotError as exc:
                return exc

        # Packed builds are taken here; only the rest go to the pool (threads for thousands
        # of dict look-ups cost more than the look-ups).
        results: list[Build | BuildbotError | None] = [packed(j[2], j[1]) for j in jobs]
        rest = [i for i, r in enumerate(results) if r is None]
        for i, result in zip(rest, self._map(load, [jobs[i] for i in rest]), strict=True):
            results[i] = result

        builds: dict[int, list[Build]] = {bid: [] for bid in by_builder}
        keep: dict[int, list[int]] = {bid: [] for bid in by_builder}
        watermark_out = seen_max
        for (bid, buildid, item), result in zip(jobs, results, strict=True):
            assert result is not None
            if isinstance(result, BuildbotError):
                errors.append(str(result))
                complete = item is None or bool(item.get("complete"))
            else:
                builds[bid].append(result)
                complete = result.complete
            if complete:
                # Remembered even when its details failed: the next fetch reads the cache or
                # refetches just this build.
                keep[bid].append(buildid)
            else:
                # Running builds change: keep them above the watermark so they are asked again.
                watermark_out = min(watermark_out, buildid - 1)
        for bid in builds:
            builds[bid].sort(key=lambda b: b.number, reverse=True)

        self._save_pack(pack_key, pack, builds)
        test_logs, log_ids = self._fleet_test_logs(builds, errors, known_log)
        # The newest complete build at or below the watermark: the next fetch's proof.
        anchors = [
            b for bl in builds.values() for b in bl if b.complete and b.buildid <= watermark_out
        ]
        newest = max(anchors, key=lambda b: b.buildid, default=None)
        self._remember(
            index_key,
            {
                "history": history,
                "watermark": watermark_out,
                "lists": {str(bid): ids for bid, ids in keep.items()},
                "anchor": _anchor_of(newest) if newest else None,
            },
        )
        return FleetData(
            base_url=self.base_url,
            fetched_at=started,
            builders=builders,
            workers=workers,
            builds={b.builderid: builds.get(b.builderid, []) for b in wanted},
            test_logs=test_logs,
            errors=errors,
            source="live",
            log_ids=log_ids,
        )

    def _try_builds_of(
        self, history: int
    ) -> Callable[[int], list[dict[str, Any]] | BuildbotError]:
        def fetch(bid: int) -> list[dict[str, Any]] | BuildbotError:
            try:
                return self._builds_of(bid, history)
            except BuildbotError as exc:
                return exc

        return fetch

    def _builds_since(self, watermark: int, page: int = 500) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {
                "buildid__gt": str(watermark),
                "order": "-buildid",
                "limit": str(page),
                "property": "*",
            }
            if offset:
                params["offset"] = str(offset)
            batch = self._get_json("builds", "builds", params)
            items.extend(batch)
            if len(batch) < page:
                return items
            offset += page

    def _newest_buildid(self) -> int:
        items = self._get_json(
            "builds", "builds", {"order": "-buildid", "limit": "1", "field": "buildid"}
        )
        return int(items[0]["buildid"]) if items else 0

    def _pack_key(self, index_key: str) -> str:
        """One pack per fleet index (branch selection), under the master's current epoch."""
        return f"{self._epoch_prefix()}packs/{index_key.rsplit('/', 1)[-1]}"

    def _load_pack(self, key: str) -> dict[int, Build]:
        """The complete builds of the last fetch's window, from one cache entry.

        msgspec decodes the JSON straight into the dataclasses, type-checked: a 150-builder
        window is ~3000 builds, and building them field by field was most of a warm fetch."""
        raw = self.cache.get_raw(key)
        if raw is None:
            return {}
        try:
            return {b.buildid: b for b in _PACK_DECODER.decode(raw)}
        except msgspec.MsgspecError:
            self.cache.delete(key)
            return {}

    def _save_pack(self, key: str, pack: dict[int, Build], builds: dict[int, list[Build]]) -> None:
        """Rewrite the pack when the window's complete builds changed (new ones, old ones
        scrolled out). Only builds the per-build cache would keep go in: complete, steps too."""
        window = {
            b.buildid: b for bl in builds.values() for b in bl
            if b.complete and all(s.complete for s in b.steps)
        }
        if window.keys() == pack.keys():
            return
        try:
            self.cache.put_raw(key, msgspec.json.encode([window[i] for i in sorted(window)]))
        except OSError as exc:
            self.cache_errors.append(f"cannot write cache entry {key}: {exc.strerror or exc}")

    def log_identity(self, build: Build) -> str | None:
        """A name for a complete build's test log that no other log ever gets: its cache key
        (master epoch, log id, cap) and the build's start time, which a master recreated at
        the same URL (reusing ids) does not repeat. None while the build runs."""
        if not build.complete:
            return None
        log = _stdio_of(build.step("test"))
        if log is None:
            return None
        return f"{self._epoch_prefix()}logs/{log.logid}-{self.log_cap_bytes}@{build.started_at}"

    def _fleet_test_logs(
        self,
        builds: dict[int, list[Build]],
        errors: list[str],
        known_log: Callable[[int, str], bool] | None = None,
    ) -> tuple[dict[int, str], dict[int, str]]:
        """(buildid -> test log text, buildid -> log identity) for the builds that need one;
        texts the caller says it knows (``known_log``) are skipped."""
        wanted: list[Build] = []
        idents: dict[int, str] = {}
        for build in (b for bl in builds.values() for b in bl if needs_test_log(b)):
            ident = self.log_identity(build)
            if ident is not None:
                idents[build.buildid] = ident
                if known_log is not None and known_log(build.buildid, ident):
                    continue
            wanted.append(build)

        def fetch(build: Build) -> str | BuildbotError | None:
            try:
                return self.test_log(build)
            except BuildbotError as exc:
                return exc

        logs: dict[int, str] = {}
        for build, result in zip(wanted, self._map(fetch, wanted), strict=True):
            if isinstance(result, BuildbotError):
                errors.append(str(result))
            elif result is not None:
                logs[build.buildid] = result
        return logs, idents


_PACK_DECODER = msgspec.json.Decoder(list[Build])


def _stdio_of(step: Step | None) -> Log | None:
    if step is None:
        return None
    return next((lg for lg in step.logs if lg.slug == "stdio"), None)


def _wants_logs(step: Step) -> bool:
    """Whether anyone reads this step's logs: the test step, and a step that went wrong.

    Listing the logs of every green git/configure/compile/clean step cost one request each
    per new build (6 where 1 or 2 are used); a complete build is cached as fetched, so this
    rule decides once and for all what a cached build holds.
    """
    if step.name == "test":
        return True
    return step.results not in (None, Result.SUCCESS, Result.SKIPPED)


def needs_test_log(build: Build) -> bool:
    """Whether the pages want this build's test log: its test step or the build went wrong."""
    step = build.step("test")
    if step is None:
        return False
    if step.results is not None and step.results != Result.SUCCESS:
        return True
    return build.results in (Result.WARNINGS, Result.FAILURE)


def _anchor_of(build: Build) -> dict[str, Any]:
    return {
        "buildid": build.buildid,
        "builderid": build.builderid,
        "number": build.number,
        "started_at": build.started_at,
    }


def _same_master(anchor: dict[str, Any], items: list[dict[str, Any]]) -> bool:
    """Whether the master still has the anchor build as we cached it."""
    for item in items:
        if item.get("buildid") == anchor["buildid"]:
            return all(item.get(k) == anchor[k] for k in ("builderid", "number", "started_at"))
    return False


def _load_index(data: Any, history: int) -> dict[str, Any]:
    """The fleet index from the cache, or an empty one when absent, corrupt or too short."""
    empty: dict[str, Any] = {"history": history, "watermark": None, "lists": {}, "anchor": None}
    if not isinstance(data, dict) or not isinstance(data.get("lists"), dict):
        return empty
    if not isinstance(data.get("history"), int) or data["history"] < history:
        return empty  # more history wanted than the index remembers: start over
    if not isinstance(data.get("watermark"), int):
        return empty
    try:
        lists = {int(k): [int(i) for i in v] for k, v in data["lists"].items()}
    except (TypeError, ValueError):
        return empty
    anchor = data.get("anchor")
    if not (isinstance(anchor, dict) and isinstance(anchor.get("buildid"), int)):
        anchor = None
    return {
        "history": data["history"],
        "watermark": data["watermark"],
        "lists": lists,
        "anchor": anchor,
    }


# --------------------------------------------------------------------------- API JSON -> models


def _builder(d: dict[str, Any]) -> Builder:
    return Builder(
        builderid=int(d["builderid"]),
        name=str(d["name"]),
        tags=tuple(str(t) for t in d.get("tags") or ()),
        description=d.get("description"),
    )


def _worker(d: dict[str, Any]) -> Worker:
    info = d.get("workerinfo") or {}
    admin = info.get("admin") if isinstance(info, dict) else None
    return Worker(
        workerid=int(d["workerid"]),
        name=str(d["name"]),
        connected=bool(d.get("connected_to")),
        builderids=tuple(
            sorted({int(c["builderid"]) for c in d.get("configured_on") or ()})
        ),
        paused=bool(d.get("paused", False)),
        admin=str(admin).strip() if admin else None,
    )


def _flatten_properties(props: Any) -> dict[str, object]:
    """API properties are ``{name: [value, source]}``; pages want ``{name: value}``."""
    if not isinstance(props, dict):
        return {}
    out: dict[str, object] = {}
    for name, pair in props.items():
        if isinstance(pair, list) and len(pair) == 2:
            out[str(name)] = pair[0]
    return out


def _build(d: dict[str, Any]) -> Build:
    return Build(
        buildid=int(d["buildid"]),
        builderid=int(d["builderid"]),
        number=int(d["number"]),
        results=None if d.get("results") is None else int(d["results"]),
        complete=bool(d.get("complete")),
        started_at=d.get("started_at"),
        complete_at=d.get("complete_at"),
        state_string=str(d.get("state_string") or ""),
        workerid=d.get("workerid"),
        properties=_flatten_properties(d.get("properties")),
    )


def _step(d: dict[str, Any]) -> Step:
    return Step(
        stepid=int(d["stepid"]),
        buildid=int(d["buildid"]),
        number=int(d["number"]),
        name=str(d["name"]),
        results=None if d.get("results") is None else int(d["results"]),
        state_string=str(d.get("state_string") or ""),
        complete=bool(d.get("complete")),
        started_at=d.get("started_at"),
        complete_at=d.get("complete_at"),
        hidden=bool(d.get("hidden", False)),
    )


def _replace_logs(step: Step, logs: tuple[Log, ...]) -> Step:
    return dataclasses.replace(step, logs=logs)


def _log(d: dict[str, Any]) -> Log:
    return Log(
        logid=int(d["logid"]),
        name=str(d["name"]),
        slug=str(d["slug"]),
        stepid=int(d["stepid"]),
        num_lines=int(d.get("num_lines") or 0),
        type=str(d.get("type") or "s"),
        complete=bool(d.get("complete")),
    )


def _change(d: dict[str, Any]) -> Change:
    return Change(
        changeid=int(d["changeid"]),
        revision=d.get("revision") or (d.get("sourcestamp") or {}).get("revision"),
        author=str(d.get("author") or ""),
        comments=str(d.get("comments") or ""),
        files=tuple(str(f) for f in d.get("files") or ()),
        when_timestamp=d.get("when_timestamp"),
        branch=d.get("branch"),
        revlink=d.get("revlink") or None,
        repository=d.get("repository") or None,
    )


def _query_value(value: object) -> str:
    """Buildbot's query syntax: booleans as true/false, everything else as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_detail(resp: requests.Response) -> str:
    """Buildbot's ``{"error": "..."}`` message, if the body is small and says one."""
    try:
        # At most one small chunk: a hostile error page must not be read whole.
        head = next(resp.iter_content(4097), b"")
        if len(head) > 4096:
            return ""
        data = json.loads(head)
    except (ValueError, requests.RequestException):
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    if not error:
        return ""
    text = " ".join(str(error).split())
    return text if len(text) <= 120 else text[:117] + "..."


def tail_lines(chunks: Iterable[bytes], cap: int) -> tuple[str, bool]:
    """The last ``cap`` bytes of a byte stream as whole lines of text, and whether it was cut.

    Memory stays about ``cap`` plus one chunk. One byte more than the cap is kept, so a cut
    that falls exactly on a line start keeps that line; otherwise the partial first line goes.
    """
    keep = cap + 1
    kept: collections.deque[bytes] = collections.deque()
    size = 0
    for chunk in chunks:
        if not chunk:
            continue
        kept.append(chunk)
        size += len(chunk)
        while kept and size - len(kept[0]) >= keep:
            size -= len(kept.popleft())
    data = b"".join(kept)
    if len(data) <= cap:
        return data.decode("utf-8", errors="replace"), False
    data = data[len(data) - keep :]
    newline = data.find(b"\n")
    # Bytes after a newline start on a character boundary, so decoding is clean.
    text = data[newline + 1 :].decode("utf-8", errors="replace") if newline >= 0 else ""
    return text, True


def _tail_text(chunks: Iterable[bytes], cap: int) -> str:
    """A raw log's text within ``cap``; Buildbot's header goes when the start was kept."""
    text, cut = tail_lines(chunks, cap)
    return text if cut else _strip_raw_header(text)


def _strip_raw_header(text: str) -> str:
    lines = text.split("\n", len(_RAW_HEADERS))
    strip = 0
    for prefix, line in zip(_RAW_HEADERS, lines, strict=False):
        if not line.startswith(prefix):
            break
        strip += 1
    if strip == 0:
        return text
    return "\n".join(lines[strip:]) if strip < len(lines) else ""


# --------------------------------------------------------------------------- sources


def default_cache_dir() -> str:
    """The CLI's cache: ``$BBWATCH_CACHE_DIR``, else ``~/.cache/bbwatch``."""
    return os.environ.get("BBWATCH_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "bbwatch"
    )


def open_client(source: str, **kwargs: Any) -> BuildbotClient | SnapshotSource:
    """A client for ``http(s)://...`` (any URL of the master, see ``master_urls``) or a
    snapshot source for ``snapshot:DIR``."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError("no source given: expected an http(s):// URL or snapshot:DIR")
    source = source.strip()
    if source.startswith("snapshot:"):
        from bbwatch.snapshot import SnapshotSource

        return SnapshotSource(source[len("snapshot:") :], log_cap_bytes=kwargs.get("log_cap_bytes"))
    if re.match(r"^https?://", source, re.IGNORECASE):
        return BuildbotClient(source, **kwargs)
    raise ValueError(f"unknown source {_show(source)}: expected an http(s):// URL or snapshot:DIR")
