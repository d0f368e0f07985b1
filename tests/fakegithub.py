"""A local GitHub-shaped HTTP server for tracker tests (127.0.0.1, random port).

It answers ``GET /search/issues?q=repo:O/R is:issue [in:title] [is:open|is:closed] WORDS`` from
an in-memory issue list (a word matches a whole ``\\w+`` token of the title, or of title and
body without ``in:title``), with GitHub's JSON shape and rate-limit headers. Faults are
scripted per request with ``fail_next``; every request is logged. Usage::

    with FakeGitHub([{"number": 1, "title": "test_os: ...", "state": "open"}]) as gh:
        tracker = GitHubTracker("python/cpython", base_url=gh.url, token=None)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_WORD = re.compile(r"\w+")


@dataclass
class Fault:
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes = '{"message": "Server Error"}'
    delay: float = 0.0  # seconds before answering (a client timeout shorter than this trips)


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class FakeGitHub:
    def __init__(self, issues: Iterable[dict[str, Any]] = (), repo: str = "python/cpython"):
        self.repo = repo
        self.issues: list[dict[str, Any]] = [dict(i) for i in issues]
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.rate_remaining = 30
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, status: int = 500, *, headers: dict[str, str] | None = None,
                  body: str | bytes = '{"message": "Server Error"}', delay: float = 0.0,
                  count: int = 1) -> None:
        """Answer the next ``count`` requests with this fault instead of the search."""
        with self._lock:
            self.faults.extend(Fault(status, dict(headers or {}), body, delay)
                               for _ in range(count))

    def add_issue(self, number: int, title: str, state: str = "open", body: str = "",
                  labels: Iterable[str] = ()) -> None:
        with self._lock:
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
        for issue in self.issues:
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
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                with fake._lock:
                    fake.requests.append(Request(parts.path, query, dict(self.headers)))
                    fault = fake.faults.pop(0) if fake.faults else None
                if fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    body = fault.body.encode() if isinstance(fault.body, str) else fault.body
                    self._send(fault.status, body, fault.headers)
                    return
                if parts.path != "/search/issues" or "q" not in query:
                    self._send(404, b'{"message": "Not Found"}')
                    return
                items = fake.search(query["q"])
                body = json.dumps(
                    {"total_count": len(items), "incomplete_results": False, "items": items}
                ).encode()
                self._send(200, body)

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None
                      ) -> None:
                try:
                    self._write(status, body, headers)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (timeout tests)

            def _write(self, status: int, body: bytes, headers: dict[str, str] | None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                sent = {k.lower() for k in (headers or {})}
                if "x-ratelimit-remaining" not in sent:
                    self.send_header("X-RateLimit-Limit", "30")
                    self.send_header("X-RateLimit-Remaining", str(fake.rate_remaining))
                    self.send_header("X-RateLimit-Reset", str(int(time.time()) + 60))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler
