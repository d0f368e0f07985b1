"""A small on-disk JSON cache for immutable Buildbot data (complete builds, their logs).

Each entry is one file written atomically (temp file in the same directory + ``os.replace``),
so readers in other processes see the old entry or the new one, never half of one. Every
entry carries its key and a SHA-256 of its payload: a torn, truncated or hand-mangled file is
detected on read, deleted, and reported as a miss so the caller refetches it.

"Raw" entries (``get_raw``/``put_raw``) hold bytes the caller encodes itself, after a one-line
JSON header with the same key and checksum: for big values (the client's fleet pack) that
skips a JSON string wrapped in JSON and a decode into dicts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import orjson

from bbwatch.source import atomic

FORMAT = 1
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def namespace_for(base_url: str) -> str:
    """A readable, collision-safe directory name for one master (``host_port_path-hash``)."""
    slug = _SAFE.sub("_", base_url.split("://", 1)[-1]).strip("_")[:60]
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


class MemoryCache:
    """The same interface kept in a dict: used when no cache directory is configured."""

    def __init__(self) -> None:
        self._data: dict[str, str | bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            raw = self._data.get(key)
        return None if raw is None else json.loads(raw)

    def put(self, key: str, value: Any) -> None:
        raw = json.dumps(value, sort_keys=True)  # a copy, so callers cannot mutate the entry
        with self._lock:
            self._data[key] = raw

    def get_raw(self, key: str) -> bytes | None:
        with self._lock:
            raw = self._data.get("raw:" + key)
        return raw if isinstance(raw, bytes) else None

    def put_raw(self, key: str, payload: bytes) -> None:
        with self._lock:
            self._data["raw:" + key] = bytes(payload)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)
            self._data.pop("raw:" + key, None)

    def clear(self, prefix: str) -> None:
        """Drop every entry under ``prefix/``."""
        with self._lock:
            for key in [k for k in self._data if k.startswith(prefix.rstrip("/") + "/")]:
                del self._data[key]


class DiskCache:
    """JSON values under ``root``; keys are ``/``-separated names such as ``builds/123``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.dropped = 0  # corrupt entries found and deleted (tests and the CLI report it)

    def path_for(self, key: str, suffix: str = ".json") -> Path:
        parts = [_SAFE.sub("_", p) for p in key.split("/") if p not in ("", ".", "..")]
        if not parts:
            raise ValueError(f"bad cache key: {key!r}")
        return self.root.joinpath(*parts[:-1], parts[-1] + suffix)

    def get(self, key: str) -> Any | None:
        path = self.path_for(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError:
            return None
        try:
            entry = orjson.loads(raw)  # ~5x json's speed: a warm fleet reads thousands
            payload = entry["data"]
            ok = (
                entry.get("format") == FORMAT
                and entry.get("key") == key
                and entry.get("sha256") == _digest(payload)
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            self._drop(path)
            return None
        return orjson.loads(payload)

    def put(self, key: str, value: Any) -> None:
        path = self.path_for(key)
        payload = json.dumps(value, sort_keys=True, separators=(",", ":"))
        entry = {"format": FORMAT, "key": key, "sha256": _digest(payload), "data": payload}
        atomic.write_text(path, json.dumps(entry))

    def get_raw(self, key: str) -> bytes | None:
        """The payload of a raw entry, or None (a torn or mangled one is deleted)."""
        path = self.path_for(key, ".raw")
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        header, sep, payload = raw.partition(b"\n")
        try:
            entry = orjson.loads(header)
            ok = (
                bool(sep)
                and entry.get("format") == FORMAT
                and entry.get("key") == key
                and entry.get("sha256") == hashlib.sha256(payload).hexdigest()
            )
        except (ValueError, TypeError, AttributeError):
            ok = False
        if not ok:
            self._drop(path)
            return None
        return payload

    def put_raw(self, key: str, payload: bytes) -> None:
        header = json.dumps(
            {"format": FORMAT, "key": key, "sha256": hashlib.sha256(payload).hexdigest()}
        )
        atomic.write_bytes(self.path_for(key, ".raw"), header.encode() + b"\n" + payload)

    def delete(self, key: str) -> None:
        for suffix in (".json", ".raw"):
            try:
                self.path_for(key, suffix).unlink()
            except FileNotFoundError:
                pass

    def clear(self, prefix: str) -> None:
        """Drop every entry under ``prefix/`` (readers elsewhere just see misses)."""
        folder = self.path_for(prefix.rstrip("/") + "/x").parent
        if folder != self.root and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)

    def _drop(self, path: Path) -> None:
        self.dropped += 1
        try:
            path.unlink()
        except OSError:
            pass  # another process already replaced or removed it


def _digest(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


Cache = MemoryCache | DiskCache


def open_cache(cache_dir: str | os.PathLike[str] | None, base_url: str) -> Cache:
    """The cache for one master: a directory per master under ``cache_dir``, else in memory."""
    if cache_dir is None:
        return MemoryCache()
    return DiskCache(Path(cache_dir) / f"v{FORMAT}" / namespace_for(base_url))
