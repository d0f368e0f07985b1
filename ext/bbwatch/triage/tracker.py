"""Issue trackers: search issue titles (or full text) for a term.

Two implementations behind one ``Tracker`` protocol: ``FileTracker`` reads a JSON file (offline,
tests, the CLI) and ``GitHubTracker`` uses GitHub's REST search API with a disk cache, the
search rate limit honoured and every failure turned into ``TrackerError``. Callers that must not
crash use ``bbwatch.triage.search.search_candidates``, which degrades to "not checked: <reason>".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import requests

from bbwatch.domain import Issue
from bbwatch.errors import TrackerError
from bbwatch.source.store import Store, open_store

STATES = ("open", "closed")
# GitHub rejects URLs much beyond 8 kB (issues/new?title=&body=): keep a margin.
MAX_NEW_ISSUE_URL = 8000
_MASK = re.compile(r"<[A-Z]+>")  # placeholders left by matching.normalise_message
_WORD = re.compile(r"\w+")


class Tracker(Protocol):
    def search(self, term: str, *, in_title: bool = True) -> list[Issue]: ...


def query_words(term: str) -> list[str]:
    """The words of a search term, lower-cased, without normalisation placeholders."""
    return _WORD.findall(_MASK.sub(" ", term).lower())


def stem(word: str) -> str:
    """A word without its plural "s": "overflows" finds "overflow", as GitHub's search does."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _matches(words: Sequence[str], text: str) -> bool:
    tokens = {stem(t) for t in _WORD.findall(text.lower())}
    return bool(words) and all(stem(word) in tokens for word in words)


def issue_from_dict(data: Any, where: str) -> Issue:
    """Validate one issue record (file tracker entry or cache entry)."""
    if not isinstance(data, dict):
        raise TrackerError(f"{where}: expected an object, got {type(data).__name__}")
    number, title = data.get("number"), data.get("title")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise TrackerError(f"{where}: 'number' must be a positive integer, got {number!r}")
    if not isinstance(title, str):
        raise TrackerError(f"{where}: issue {number}: 'title' must be a string")
    state = data.get("state", "open")
    if state not in STATES:
        raise TrackerError(f"{where}: issue {number}: 'state' must be open or closed: {state!r}")
    labels = data.get("labels", [])
    if not isinstance(labels, list):
        raise TrackerError(f"{where}: issue {number}: 'labels' must be a list")
    names = tuple(str(x.get("name", "")) if isinstance(x, dict) else str(x) for x in labels)
    body = data.get("body") or ""
    url = data.get("html_url") or data.get("url") or ""  # GitHub's "url" is the API one
    if not isinstance(body, str) or not isinstance(url, str):
        raise TrackerError(f"{where}: issue {number}: 'url' and 'body' must be strings")
    if url and not url.lower().startswith(("https://", "http://")):
        url = ""  # it would become a link on pages (javascript:, data:): keep the issue, not it
    return Issue(number, title, state, url, names, body)


class FileTracker:
    """Issues from a JSON file ``[{"number", "title", "state", "url", "labels", "body"?}]``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TrackerError(f"issues file not found: {self.path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TrackerError(f"cannot read issues file {self.path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise TrackerError(f"{self.path}: invalid JSON: {exc}") from None
        if not isinstance(data, list):
            raise TrackerError(f"{self.path}: expected a JSON list of issues")
        self.issues = [issue_from_dict(item, f"{self.path}[{i}]") for i, item in enumerate(data)]

    @classmethod
    def from_issues(cls, issues: Sequence[Issue], path: str = "<memory>") -> FileTracker:
        """A tracker over issues already in memory (tests, pages that hold a list)."""
        tracker = cls.__new__(cls)
        tracker.path = Path(path)
        tracker.issues = list(issues)
        return tracker

    def search(self, term: str, *, in_title: bool = True) -> list[Issue]:
        """Issues whose title (or title and body) contains every word of ``term``."""
        words = query_words(term)
        return [
            issue
            for issue in self.issues
            if _matches(words, issue.title if in_title else f"{issue.title}\n{issue.body}")
        ]


_FROM_ENV = object()


class GitHubTracker:
    """GitHub's issue search (``GET /search/issues``), rate limit honoured, each answer kept
    ``ttl`` seconds in the store of ``cache_dir`` (``bbwatch.source.store``).

    The token (``GITHUB_TOKEN`` by default) only ever goes into the Authorization header: it is
    not part of cache keys, cached values, URLs, errors or reprs.
    """

    def __init__(
        self,
        repo: str,
        *,
        base_url: str = "https://api.github.com",
        web_url: str = "https://github.com",
        token: Any = _FROM_ENV,
        cache_dir: str | os.PathLike[str] | None = None,
        ttl: float = 600,
        timeout: float = 10,
        session: requests.Session | None = None,
        max_wait: float = 10.0,
        retries: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo or ""):
            raise TrackerError(f"repository must look like OWNER/NAME, got {repo!r}")
        self.repo = repo
        self.base_url = base_url.rstrip("/")
        self.web_url = web_url.rstrip("/")
        self._token: str | None = os.environ.get("GITHUB_TOKEN") if token is _FROM_ENV else token
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._store: Store | None = None  # opened at the first search that needs it
        self.ttl = ttl
        self.timeout = timeout
        self.session = session or requests.Session()
        self.max_wait = max_wait
        self.retries = retries
        self._sleep = sleep
        self._blocked_until = 0.0  # from X-RateLimit-Remaining: 0 + X-RateLimit-Reset
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"GitHubTracker({self.repo!r}, base_url={self.base_url!r})"

    # -- human URLs ------------------------------------------------------------------------
    def search_url(self, term: str) -> str:
        """The search as a person would run it in the browser."""
        return f"{self.web_url}/{self.repo}/issues?" + urlencode({"q": f"is:issue {term}"})

    def new_issue_url(self, title: str, body: str, labels: Sequence[str] = ()) -> str:
        """A prefilled "new issue" URL; the body is cut so the URL stays under GitHub's limit."""
        base = f"{self.web_url}/{self.repo}/issues/new?"

        def url(text: str) -> str:
            query = {"title": title, "body": text}
            if labels:
                query["labels"] = ",".join(labels)
            return base + urlencode(query)

        if len(url(body)) <= MAX_NEW_ISSUE_URL:
            return url(body)
        marker = "\n\n(log excerpt cut to fit GitHub's URL limit: see the build log)"
        lo, hi = 0, len(body)
        while lo < hi:  # longest prefix of the body that fits, found by bisection
            mid = (lo + hi + 1) // 2
            if len(url(body[:mid] + marker)) <= MAX_NEW_ISSUE_URL:
                lo = mid
            else:
                hi = mid - 1
        return url(body[:lo] + marker)

    # -- search ----------------------------------------------------------------------------
    def query(self, term: str, *, in_title: bool = True) -> str:
        words = " ".join(query_words(term))
        scope = "in:title " if in_title else ""
        return f"repo:{self.repo} is:issue {scope}{words}".strip()

    def search(self, term: str, *, in_title: bool = True) -> list[Issue]:
        if not query_words(term):
            return []
        q = self.query(term, in_title=in_title)
        cached = self._cache_get(q)
        if cached is not None:
            return cached
        # advanced_search: GitHub deprecated the legacy issue search (removal announced for
        # 2025-09-04); servers that predate the parameter ignore it
        data = self._get("/search/issues", {"q": q, "per_page": "50", "advanced_search": "true"})
        issues = self._parse(data)
        self._cache_put(q, issues)
        return issues

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = self.base_url + path
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        for attempt in range(self.retries + 1):
            wait = self._blocked_until - time.time()
            if wait > 0:
                self._wait_or_fail(wait)
            self.requests_made += 1
            try:
                resp = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
            except requests.Timeout:
                raise TrackerError(
                    f"GitHub did not answer within {self.timeout:g} s ({self.base_url})"
                ) from None
            except requests.RequestException as exc:
                reason = type(exc).__name__
                raise TrackerError(f"cannot reach GitHub at {self.base_url} ({reason})") from None
            self._note_rate_limit(resp)
            if resp.status_code == 200:
                try:
                    return resp.json()
                except ValueError:
                    raise TrackerError("GitHub answered with malformed JSON") from None
            last = attempt == self.retries
            if resp.status_code in (403, 429):
                wait = self._rate_limit_wait(resp)
                if wait is None:
                    raise TrackerError(f"GitHub refused the search ({resp.status_code})")
                if wait > self.max_wait:  # don't ask again before the limit resets
                    self._blocked_until = max(self._blocked_until, time.time() + wait)
                if last:
                    raise TrackerError(f"GitHub search rate limit reached ({resp.status_code})")
                self._wait_or_fail(wait)
                continue
            if resp.status_code >= 500 and not last:
                self._sleep(min(0.5 * 2**attempt, self.max_wait))
                continue
            if resp.status_code == 401:
                raise TrackerError("GitHub rejected the token (401): check GITHUB_TOKEN")
            if resp.status_code == 422:
                raise TrackerError("GitHub rejected the search query (422)")
            raise TrackerError(f"GitHub answered {resp.status_code} for the issue search")
        raise TrackerError("GitHub search failed")  # pragma: no cover - loop always returns

    def _wait_or_fail(self, wait: float) -> None:
        if wait > self.max_wait:
            raise TrackerError(
                f"GitHub search rate limit reached: retry in {int(wait + 0.999)} s"
            )
        self._sleep(max(wait, 0.0))

    def _note_rate_limit(self, resp: requests.Response) -> None:
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            reset = _number(resp.headers.get("X-RateLimit-Reset"))
            if reset is not None:
                self._blocked_until = reset

    def _rate_limit_wait(self, resp: requests.Response) -> float | None:
        """Seconds to wait for a 403/429 that is a rate limit, None for a plain refusal."""
        retry_after = _number(resp.headers.get("Retry-After"))
        if retry_after is not None:
            return retry_after
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            reset = _number(resp.headers.get("X-RateLimit-Reset"))
            return max(reset - time.time(), 0.0) if reset is not None else 60.0
        # a secondary rate limit may come with neither header, only its message: GitHub
        # asks for at least a minute; any other 403 is a permission problem (no retry)
        if resp.status_code == 429 or "rate limit" in resp.text[:2000].lower():
            return 60.0
        return None

    def _parse(self, data: Any) -> list[Issue]:
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise TrackerError("GitHub answered with malformed JSON (no 'items' list)")
        issues = []
        for i, item in enumerate(data["items"]):
            if isinstance(item, dict) and "pull_request" in item:
                continue  # the search also finds PRs when is:issue is ignored
            try:
                issues.append(issue_from_dict(item, f"GitHub search item {i}"))
            except TrackerError as exc:
                raise TrackerError(f"GitHub answered with malformed JSON: {exc}") from None
        return issues

    # -- cache (token never involved) -------------------------------------------------------
    def _cache_key(self, q: str) -> str | None:
        if self.cache_dir is None:
            return None
        if self._store is None:
            self._store = open_store(self.cache_dir)
        return "tracker/" + hashlib.sha256(f"{self.base_url}\n{q}".encode()).hexdigest()[:32]

    def _cache_get(self, q: str) -> list[Issue] | None:
        key = self._cache_key(q)
        if key is None or self._store is None:
            return None
        found = self._store.get(key, Search)  # a damaged entry is dropped: a miss
        if found is None or found.query != q or time.time() - found.fetched_at > self.ttl:
            return None  # missing or stale: ask again
        return list(found.issues)

    def _cache_put(self, q: str, issues: list[Issue]) -> None:
        key = self._cache_key(q)
        if key is None or self._store is None:
            return
        try:
            self._store.put(key, Search(q, self.base_url, time.time(), tuple(issues)))
        except OSError:
            pass  # a cache that cannot be written only costs a request next time


@dataclass(frozen=True)
class Search:
    """One search's answer as the tracker keeps it."""

    query: str
    base_url: str
    fetched_at: float
    issues: tuple[Issue, ...]


def web_url_for_api(api_url: str) -> str:
    """The web root that goes with an API root: api.github.com → github.com, and GitHub
    Enterprise's ``https://HOST/api/v3`` → ``https://HOST``."""
    api_url = api_url.rstrip("/")
    if re.fullmatch(r"https?://api\.github\.com", api_url):
        return "https://github.com"
    return re.sub(r"/api/v3$", "", api_url)


DEFAULT_API_URL = "https://api.github.com"
# bbwatch_tracker's keys: one source ("github" or "file"), the GitHub endpoints, and what the
# per-failure pages' links use ("repo", "labels", "web_url", also without a search source)
TRACKER_KEYS = ("github", "file", "api_url", "web_url", "repo", "labels")
_REPO = re.compile(r"[\w.-]+/[\w.-]+")


def check_tracker_settings(settings: Mapping[str, object]) -> None:
    """Raise TrackerError (one line, naming the key) unless ``settings`` is a valid
    ``bbwatch_tracker``; ``{}`` (no tracker) is valid."""
    unknown = sorted(set(settings) - set(TRACKER_KEYS))
    if unknown:
        raise TrackerError(f"unknown key {unknown[0]!r} (known: {', '.join(TRACKER_KEYS)})")
    if "github" in settings and "file" in settings:
        raise TrackerError("set 'github' or 'file', not both")
    for key in ("github", "repo"):
        if key in settings:
            value = settings[key]
            if not isinstance(value, str) or not _REPO.fullmatch(value):
                raise TrackerError(f"{key!r} must look like OWNER/NAME, got {value!r}")
    if "file" in settings:
        value = settings["file"]
        if not isinstance(value, str | os.PathLike) or not str(value):
            raise TrackerError(f"'file' must be a path to a JSON list of issues, got {value!r}")
    for key in ("api_url", "web_url"):
        if key in settings:
            value = settings[key]
            if not isinstance(value, str) or not re.match(r"https?://[^/\s]+", value):
                raise TrackerError(f"{key!r} must be an http(s) URL, got {value!r}")
    if "api_url" in settings and "github" not in settings:
        raise TrackerError("'api_url' needs a GitHub tracker ('github': 'OWNER/NAME')")
    labels = settings.get("labels", [])
    if not isinstance(labels, list | tuple) or not all(isinstance(x, str) for x in labels):
        raise TrackerError(f"'labels' must be a list of strings, got {labels!r}")


def tracker_from_config(
    settings: Mapping[str, object], *, confdir: Path, cache_dir: Path, timeout: float = 10.0
) -> FileTracker | GitHubTracker | None:
    """The tracker ``bbwatch_tracker`` describes, or None when it names no search source.

    ``{"file": PATH}`` (relative to ``confdir``) or ``{"github": "OWNER/NAME", "api_url"?,
    "web_url"?}``: the API root defaults to api.github.com and the web root to the one that goes
    with the API root (GitHub Enterprise: ``https://HOST/api/v3`` → ``https://HOST``). GitHub
    searches are cached in the store of ``cache_dir``; the token comes from ``GITHUB_TOKEN`` only.
    Bad settings, or an unreadable issues file, raise TrackerError.
    """
    check_tracker_settings(settings)
    if "file" in settings:
        return FileTracker(Path(confdir, str(settings["file"])))
    if "github" not in settings:
        return None
    api_url = str(settings.get("api_url") or DEFAULT_API_URL)
    web_url = str(settings.get("web_url") or web_url_for_api(api_url))
    return GitHubTracker(str(settings["github"]), base_url=api_url, web_url=web_url,
                         cache_dir=cache_dir, timeout=timeout)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
