"""A scriptable HTTP server on 127.0.0.1 for fault tests (reusable by any client's tests).

    with FakeServer() as srv:
        srv.route("/api/v2/builders", Reply.json({"builders": []}))
        srv.route("/flaky", Reply(status=500), Reply(body=b"ok"))   # 500 first, then 200
        srv.route("/slow", Reply(body=b"x", delay=2.0))
        srv.route("/cut", Reply(body=b'{"a": 1}', truncate=4))      # closes mid-body
        srv.route("/gone", Reply(drop=True))                         # closes, no answer
        ...
        srv.count("/flaky")  ->  number of requests seen for that path
        srv.requests         ->  [Request(method, path, query, headers), ...]

Replies for a path are used in order; the last one repeats. Routes match the path without the
query string, unless the route itself contains ``?`` (then path and query must match exactly).
Unrouted paths get a Buildbot-style JSON 404. ``srv.stop()`` (or leaving the ``with``) closes
the listening socket, so later connections are refused: "the master went down"; ``srv.kill()``
also cuts the open keep-alive connections, like a killed process.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One scripted response.

    ``truncate=N`` sends the headers for the whole body (Content-Length of it all) but only its
    first N bytes, then closes the connection. ``drop`` closes the connection without a reply.
    ``chunks`` streams the body in that many pieces (with ``delay`` seconds between pieces when
    ``stream_delay`` is set). ``body`` may be a callable taking the Request, for dynamic replies.
    """

    status: int = 200
    body: bytes | str | Callable[[Request], bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: int | None = None
    drop: bool = False
    chunks: int = 1
    stream_delay: float = 0.0

    @classmethod
    def json(cls, value: Any, status: int = 200, **kw: Any) -> Reply:
        headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
        return cls(status=status, body=json.dumps(value).encode(), headers=headers, **kw)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up (timeouts, killed connections) are what fault tests provoke.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeServer:
    """A threaded ``http.server`` on an ephemeral 127.0.0.1 port with scripted routes."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._stopped = False
        self.requests: list[Request] = []
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    # -- scripting --------------------------------------------------------------------------

    def route(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with ``replies`` in turn (the last repeats)."""
        if not replies:
            raise ValueError("route() needs at least one Reply")
        with self._lock:
            self._routes[path] = list(replies)

    def route_json(self, path: str, value: Any) -> None:
        self.route(path, Reply.json(value))

    def count(self, path: str | None = None) -> int:
        """Requests seen for ``path`` (without query), or in total."""
        with self._lock:
            if path is None:
                return len(self.requests)
            return sum(1 for r in self.requests if r.path == path)

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()

    def kill(self) -> None:
        """Die like a killed process: stop listening and cut every open connection."""
        self.stop()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def kill_soon(self) -> None:
        """``kill()`` from another thread (safe to call inside a reply callable)."""
        threading.Thread(target=self.kill, daemon=True).start()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------------------

    def _next_reply(self, req: Request) -> Reply | None:
        with self._lock:
            self.requests.append(req)
            replies = self._routes.get(req.target) or self._routes.get(req.path)
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real master

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as separate writes: without this, Nagle + delayed
                # ACK add ~40 ms to every request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with fake._lock:
                    fake._conns.append(self.connection)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return None

            def do_GET(self) -> None:  # noqa: N802
                self._answer()

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self._answer()

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                req = Request(self.command, parts.path, parts.query, dict(self.headers.items()))
                reply = fake._next_reply(req)
                if reply is None:
                    reply = Reply.json({"error": "Invalid path: " + parts.path}, status=404)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = reply.body(req) if callable(reply.body) else reply.body
                data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if "Content-Type" not in reply.headers:
                        self.send_header("Content-Type", "text/plain; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    if reply.truncate is not None:
                        self.wfile.write(data[: reply.truncate])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    n = max(1, reply.chunks)
                    step = max(1, -(-len(data) // n))
                    for start in range(0, len(data), step):
                        self.wfile.write(data[start : start + step])
                        self.wfile.flush()
                        if reply.stream_delay:
                            time.sleep(reply.stream_delay)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

        return Handler
