"""Where data comes from: ``open_client`` gives a live client for a master's URL or an offline
source for a recorded snapshot (``snapshot:DIR``); both answer the same calls."""

from __future__ import annotations

import os
import re
from typing import Any

from bbwatch.source.snapshot import SnapshotSource
from bbwatch.source.sync import BuildbotClient
from bbwatch.source.urls import show


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
        return SnapshotSource(source[len("snapshot:") :], log_cap_bytes=kwargs.get("log_cap_bytes"))
    if re.match(r"^https?://", source, re.IGNORECASE):
        return BuildbotClient(source, **kwargs)
    raise ValueError(f"unknown source {show(source)}: expected an http(s):// URL or snapshot:DIR")
