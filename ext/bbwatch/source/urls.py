"""Buildbot URLs: the one rule from any URL of a master to its web root and REST API root
(``master_urls``), what a pasted URL names (``parse_url``, ``parse_build_url``) and the human
URLs we print (``build_url``, ``builder_url``, ``log_url``). Pure functions, no network.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit

_MAX_URL = 8192
_MAX_INT = 2**63 - 1

# Every URL this package prints or requests is derived through ``master_urls``.

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
        raise ValueError(f"not a Buildbot URL: {show(url)}")
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
        raise ValueError(f"not a Buildbot URL: {show(url)}")
    return _roots(url)[0]


def _split_http(url: str, what: str) -> SplitResult:
    text = url.strip()
    if not text or len(text) > _MAX_URL or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f"{what}: {show(url)}")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{what}: {show(url)}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what}: {show(url)} (expected an http(s):// URL)")
    return parts


def _netloc(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def show(value: object) -> str:
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
        return f"{self.api_root}builders/{self._builder_segment()}{self._below_builder()}"

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
        return f"{self.web_root}#/builders/{self.builderid}{self._below_builder()}"

    def _below_builder(self) -> str:
        """``/builds/N[/steps/S[/logs/L]]``: the same path under a builder in API and UI."""
        url = f"/builds/{self.number}" if self.number is not None else ""
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
        raise ValueError(f"not a Buildbot URL: {show(url)}")
    parts = _split_http(url, "not a Buildbot URL")
    roots = master_urls(url)
    _root, rest = _cut_root(parts.path)
    route, query, ui = rest, "", False
    if parts.fragment.strip("/"):
        route, _, query = parts.fragment.partition("?")
        route, ui = route[1:] if route.startswith("/") else route, True
        if rest:  # a UI route after an API or old-UI path: not a page anyone links
            raise ValueError(f"not a Buildbot URL: {show(url)}")
    elif rest.startswith("api/v2"):
        route = rest[len("api/v2") :].lstrip("/")
    found = _route(route, query, ui)
    if found is None:
        raise ValueError(f"not a Buildbot URL: {show(url)}")
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
        raise ValueError(f"not a build URL: {show(url)}") from None
    if found.number is None:
        what = _NOT_A_BUILD.get(found.kind, found.kind)
        raise ValueError(f"not a build URL: {show(url)} is {what}: open a build and paste its "
                         "address")
    return BuildRef(
        base_url=found.web_root,
        builderid=found.builderid,
        builder_name=found.builder_name,
        number=found.number,
        step=found.step,
        log=found.log,
    )


# pure functions of their arguments, asked for every row and occurrence of a large fleet
@functools.lru_cache(maxsize=8192)
def build_url(base_url: str, builderid: int, number: int) -> str:
    """The web UI page of a build, the way watchers link it (``master_urls(base_url).web``):
    ``https://buildbot.python.org/#/builders/N/builds/M``."""
    return f"{normalise_base_url(base_url)}#/builders/{int(builderid)}/builds/{int(number)}"


@functools.lru_cache(maxsize=4096)
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
