"""A GitHub-shaped search API on ``tests.httpfake.FakeServer``, for tracker tests.

It answers ``GET /search/issues?q=repo:O/R is:issue [in:title] [is:open|is:closed] WORDS`` from
an in-memory issue list (a word matches a whole ``\\w+`` token of the title, or of title and
body without ``in:title``), with GitHub's JSON shape and rate-limit headers. Faults are
scripted per request with ``fail_next``; every request is logged in ``requests`` (the
server's log: ``r.params["q"]`` is the search). Usage::

    with FakeGitHub([{"number": 1, "title": "test_os: ...", "state": "open"}]) as gh:
        tracker = GitHubTracker("python/cpython", base_url=gh.url, token=None)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from typing import Any

from tests.httpfake import FakeServer, Reply, Request

_WORD = re.compile(r"\w+")
JSON = "application/json; charset=utf-8"


class FakeGitHub:
    def __init__(self, issues: Iterable[dict[str, Any]] = (), repo: str = "python/cpython"):
        self.repo = repo
        self.issues: list[dict[str, Any]] = [dict(i) for i in issues]
        self.rate_remaining = 30
        self.server: FakeServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "FakeGitHub not started"
        return self.server.url.rstrip("/")

    @property
    def requests(self) -> list[Request]:
        assert self.server is not None, "FakeGitHub not started"
        return self.server.requests

    def start(self) -> FakeGitHub:
        self.server = FakeServer()
        self.server.not_found = lambda req: self._reply(404, b'{"message": "Not Found"}')
        self.server.route("/search/issues", self._search)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int = 500, *, headers: dict[str, str] | None = None,
                  body: str | bytes = '{"message": "Server Error"}', delay: float = 0.0,
                  count: int = 1) -> None:
        """Answer the next ``count`` requests with this fault instead of the search."""
        assert self.server is not None, "FakeGitHub not started"
        data = body.encode() if isinstance(body, str) else body
        self.server.fail_next(self._reply(status, data, headers, delay), count=count)

    def add_issue(self, number: int, title: str, state: str = "open", body: str = "",
                  labels: Iterable[str] = ()) -> None:
        self.issues.append({"number": number, "title": title, "state": state,
                            "body": body, "labels": list(labels)})

    # -- search semantics ------------------------------------------------------------------
    def search(self, q: str) -> list[dict[str, Any]]:
        words, in_title, state, repo = [], False, None, None
        for token in q.split():
            if token.startswith("repo:"):
                repo = token[5:]
            elif token == "in:title":
                in_title = True
            elif token in ("is:open", "is:closed"):
                state = token[3:]
            elif token in ("is:issue", "type:issue"):
                pass
            else:
                words.extend(_WORD.findall(token.lower()))
        if repo != self.repo or not words:
            return []
        found = []
        for issue in list(self.issues):
            text = issue["title"] if in_title else f"{issue['title']}\n{issue.get('body', '')}"
            tokens = set(_WORD.findall(text.lower()))
            if all(w in tokens for w in words) and state in (None, issue.get("state", "open")):
                found.append(self._item(issue))
        return found

    def _item(self, issue: dict[str, Any]) -> dict[str, Any]:
        number = issue["number"]
        return {
            "url": f"{self.url}/repos/{self.repo}/issues/{number}",
            "html_url": f"https://github.com/{self.repo}/issues/{number}",
            "number": number,
            "title": issue["title"],
            "state": issue.get("state", "open"),
            "labels": [{"name": name} for name in issue.get("labels", [])],
            "body": issue.get("body", ""),
            "user": {"login": "watcher"},
            "comments": 0,
        }

    # -- HTTP ------------------------------------------------------------------------------
    def _search(self, req: Request) -> Reply:
        if "q" not in req.params:
            return self._reply(404, b'{"message": "Not Found"}')
        items = self.search(req.params["q"])
        body = {"total_count": len(items), "incomplete_results": False, "items": items}
        return self._reply(200, json.dumps(body).encode())

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None,
               delay: float = 0.0) -> Reply:
        """GitHub's rate-limit headers on every answer, unless the fault sets its own."""
        sent = dict(headers or {})
        if "x-ratelimit-remaining" not in {k.lower() for k in sent}:
            sent = {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": str(self.rate_remaining),
                    "X-RateLimit-Reset": str(int(time.time()) + 60), **sent}
        return Reply(status=status, body=body, headers={"Content-Type": JSON, **sent},
                     delay=delay)
