"""The one fake HTTP server of the tests and the bench: 127.0.0.1, routes, counts and faults.

The fake Buildbot master (``tests/fakemaster.py``), the fake GitHub (``tests/fakegithub.py``)
and the scale fixture (``tests/scalefleet.py``) are all built on it::

    with FakeServer() as srv:
        srv.route("/api/v2/builders", Reply.json({"builders": []}))
        srv.route("/flaky", Reply(status=500), Reply(body=b"ok"))   # 500 first, then 200
        srv.route("/slow", Reply(body=b"x", delay=2.0))
        srv.route("/cut", Reply(body=b'{"a": 1}', truncate=4))      # closes mid-body
        srv.route("/gone", Reply(drop=True))                         # closes, no answer
        srv.route("/dyn", lambda req: Reply(body=req.query))         # a handler: Request -> Reply
        srv.mount("/api/v2/", handler)                               # every path under a prefix
        srv.fail_next(Reply(status=502), count=2)                    # the next 2 requests, any path
        ...
        srv.count("/flaky")  ->  number of requests seen for that path
        srv.requests         ->  [Request(method, path, query, headers, body), ...]

Replies for a path are used in order; the last one repeats. Routes match the path without the
query string, unless the route itself contains ``?`` (then path and query must match exactly);
then the longest mounted prefix; unrouted paths get ``srv.not_found`` (a Buildbot-style JSON
404). ``srv.stop()`` (or leaving the ``with``) closes the listening socket, so later
connections are refused: "the master went down"; ``srv.kill()`` also cuts the open keep-alive
connections, like a killed process.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    """One scripted response.

    ``truncate=N`` sends the headers for the whole body (Content-Length of it all) but only its
    first N bytes, then closes the connection. ``drop`` closes the connection without a reply.
    ``chunks`` streams the body in that many pieces (with ``stream_delay`` seconds between
    pieces). ``body`` may be a callable taking the Request, for dynamic replies, or an iterable
    of byte blocks streamed as they come (then ``length`` is the Content-Length).
    """

    status: int = 200
    body: bytes | str | Callable[[Request], bytes] | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: int | None = None
    drop: bool = False
    chunks: int = 1
    stream_delay: float = 0.0
    length: int | None = None

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
    body: bytes = b""
    at: float = 0.0  # time.monotonic() when it arrived

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def params(self) -> dict[str, str]:
        """The query string's parameters, the last value of each."""
        return {k: v[-1] for k, v in parse_qs(self.query).items()}


Handler = Callable[[Request], Reply]
Answer = Reply | Handler


def _buildbot_404(req: Request) -> Reply:
    return Reply.json({"error": "Invalid path: " + req.path}, status=404)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up (timeouts, killed connections) are what fault tests provoke.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeServer:
    """A threaded ``http.server`` on a 127.0.0.1 port (ephemeral by default) with routes."""

    def __init__(self, port: int = 0, *, log: bool = True) -> None:
        self._routes: dict[str, list[Answer]] = {}
        self._mounts: dict[str, Handler] = {}
        self._faults: list[Reply] = []
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._stopped = False
        self._log = log
        self.requests: list[Request] = []
        self.not_found: Handler = _buildbot_404
        self._server = _QuietServer(("127.0.0.1", port), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    # -- scripting --------------------------------------------------------------------------

    def route(self, path: str, *replies: Answer) -> None:
        """Answer ``path`` with ``replies`` in turn (the last repeats); a reply may be a
        handler ``Request -> Reply``."""
        if not replies:
            raise ValueError("route() needs at least one Reply")
        with self._lock:
            self._routes[path] = list(replies)

    def route_json(self, path: str, value: Any) -> None:
        self.route(path, Reply.json(value))

    def mount(self, prefix: str, handler: Handler) -> None:
        """Answer every path starting with ``prefix`` (and not routed exactly) with ``handler``."""
        with self._lock:
            self._mounts[prefix] = handler

    def fail_next(self, *replies: Reply, count: int = 1) -> None:
        """Fault injection: the next requests, whatever their path, get ``replies`` (each
        ``count`` times) instead of their route's answer."""
        with self._lock:
            self._faults.extend(r for r in replies for _ in range(count))

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

    def serve_forever(self) -> None:
        """Block until interrupted (for a fixture run as its own process)."""
        self._thread.join()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------------------

    def _answer_for(self, req: Request) -> Reply:
        with self._lock:
            if self._log:
                self.requests.append(req)
            if self._faults:
                return self._faults.pop(0)
            answers = self._routes.get(req.target) or self._routes.get(req.path)
            if answers:
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
            else:
                prefix = max((p for p in self._mounts if req.path.startswith(p)), key=len,
                             default=None)
                answer = self.not_found if prefix is None else self._mounts[prefix]
        return answer if isinstance(answer, Reply) else answer(req)

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

            def finish(self) -> None:
                super().finish()
                with fake._lock:
                    if self.connection in fake._conns:
                        fake._conns.remove(self.connection)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return None

            def do_GET(self) -> None:  # noqa: N802
                self._answer()

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length) if length else b"")

            def _answer(self, body: bytes = b"") -> None:
                parts = urlsplit(self.path)
                req = Request(self.command, parts.path, parts.query, dict(self.headers.items()),
                              body, time.monotonic())
                reply = fake._answer_for(req)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                try:
                    self._send(req, reply)
                except OSError:  # the client hung up first (timeouts, cut connections)
                    self.close_connection = True

            def _send(self, req: Request, reply: Reply) -> None:
                body = reply.body(req) if callable(reply.body) else reply.body
                if isinstance(body, str):
                    body = body.encode()
                blocks = None if isinstance(body, bytes | bytearray) else body
                data = b"" if blocks is not None else bytes(body)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if not any(k.lower() == "content-type" for k in reply.headers):
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                length = reply.length if blocks is not None else len(data)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if blocks is not None:
                    for block in blocks:
                        self.wfile.write(block)
                    return
                if reply.truncate is not None:
                    self.wfile.write(data[: reply.truncate])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                n = max(1, reply.chunks)
                step = max(1, -(-len(data) // n))
                for start in range(0, len(data), step):
                    self.wfile.write(data[start : start + step])
                    if n > 1:
                        self.wfile.flush()
                    if reply.stream_delay:
                        time.sleep(reply.stream_delay)

        return Handler
