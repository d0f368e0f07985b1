"""The package's errors: one base, ``BBWatchError``, so a caller (the CLI) catches one thing.

Every error bbwatch raises derives from it; ``str(e)`` is always one line fit to print. The
classes live here, at the bottom, so any stage can raise or catch another's error without
importing that stage. This module imports nothing from bbwatch.
"""

from __future__ import annotations

from pathlib import Path


class BBWatchError(Exception):
    """Anything bbwatch cannot do, said in one line."""


class BuildbotError(BBWatchError):
    """Anything the Buildbot client cannot recover from; ``str(e)`` is one line: what, URL,
    cause."""

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


class TrackerError(BBWatchError):
    """A search could not be answered; ``str(e)`` is one line and never holds the token."""


class RegistryError(BBWatchError):
    """A registry that cannot be used; ``str(e)`` is ``path:line: entry N (#number): what``."""


class ChecklistError(BBWatchError, ValueError):
    """A checklist file is not valid; ``str()`` is ``path:line: message``."""

    def __init__(self, path: str | Path, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")
