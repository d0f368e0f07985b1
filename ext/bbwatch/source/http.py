"""HTTP plumbing of the Buildbot client: a urllib3 ``Retry`` that counts what it sends, and
short one-line causes for what requests/urllib3 raise or a master answers."""

from __future__ import annotations

import json
import threading
from typing import Any

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry


class RequestCounter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.value += n


class CountingRetry(Retry):
    """urllib3 Retry that counts the extra requests it sends and caps ``Retry-After``."""

    counter: RequestCounter | None = None
    max_retry_after: float = 30.0

    def new(self, **kw: Any) -> CountingRetry:
        retry = super().new(**kw)
        retry.counter = self.counter
        retry.max_retry_after = self.max_retry_after
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> CountingRetry:
        retry = super().increment(*args, **kwargs)  # raises when exhausted: nothing more sent
        if self.counter is not None:
            self.counter.add()
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        # A hostile or confused server must not park us for an hour.
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.max_retry_after)


def describe_error(exc: BaseException, timeout: float) -> str:
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


def error_detail(resp: requests.Response) -> str:
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
