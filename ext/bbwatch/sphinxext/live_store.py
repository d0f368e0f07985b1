"""The last-fleet file: the last good fetch of each source, kept next to the client's cache and
shown by the live pages when the master cannot be reached. The fleet is stored without its raw
test logs (the pages only need their parses); parses already in the parsed-log cache are
referenced by digest, not copied. A stamp beside it lets an unchanged fleet skip the rewrite.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import orjson
from sphinx.util import logging

from bbwatch.logs.parsed import ParsedLog
from bbwatch.models import FleetData
from bbwatch.source import atomic
from bbwatch.source.parsecache import ParsedLogCache, from_json, to_json
from bbwatch.source.serialize import fleet_from_dict

logger = logging.getLogger(__name__)

LAST_FLEET = "live-last-fleet-{}.json"  # per source: the last good fetch, shown when it is down


# 3: the fleet without raw test logs; each log's ParsedLog inline, or (completed builds) its
# digest, to read from the parsed-log cache next to it (2: all inline)
LAST_FORMAT = 3


def last_path(cache_dir: Path, source: str) -> Path:
    return cache_dir / LAST_FLEET.format(hashlib.sha256(source.encode()).hexdigest()[:16])


def _stamp_path(path: Path) -> Path:
    """Digest and fetch time of the last good fetch: lets an unchanged fleet skip the rewrite."""
    return path.with_suffix(".stamp")


def _write_atomic(path: Path, data: object) -> None:
    """Write JSON atomically (readers never see half a file).

    orjson turns the dataclasses into what ``serialize.to_dict`` + json would give (int keys
    become strings), ~15x faster: a 150-builder fleet is ~8 MB, rewritten whenever it changed.
    """
    blob = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    atomic.write_bytes(path, blob)


def _file_id(path: Path) -> list[int] | None:
    """Size and mtime: what tells, without reading 6-8 MB, that the file is the one written
    (every write is atomic, so a file that differs was torn or replaced since)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _read_stamp(path: Path) -> dict[str, object]:
    try:
        stamp = json.loads(_stamp_path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def save_last(
    path: Path, fleet: FleetData, parsed: dict[int, ParsedLog], digest: str,
    parsed_cache: ParsedLogCache | None = None,
) -> None:
    """Keep this fetch for when the master is down: the fleet without its raw test logs (the
    pages only need their parses), rewritten only when the digest says the data changed.
    Parses already in ``parsed_cache`` are referenced by digest, not copied."""
    try:
        stamp = _read_stamp(path)
        # unchanged data in an intact file (a torn or truncated one is rewritten)
        if stamp.get("digest") != digest or stamp.get("file") != _file_id(path):
            data = dataclasses.replace(fleet, test_logs={})
            cached = {bid for bid in parsed
                      if parsed_cache is not None and parsed_cache.path_for(bid).is_file()}
            _write_atomic(path, {
                "format": LAST_FORMAT,
                "digest": digest,
                "fleet": data,
                "parsed": {str(bid): to_json(p) for bid, p in parsed.items()
                           if bid not in cached},
                "parsed_refs": {str(bid): parsed[bid].digest for bid in cached},
            })
        _write_atomic(_stamp_path(path), {"digest": digest, "file": _file_id(path),
                                          "fetched_at": fleet.fetched_at})
    except OSError as exc:
        logger.info("bbwatch: could not cache the fleet in %s: %s", path, exc)


def load_last(
    path: Path, parsed_cache: ParsedLogCache | None = None
) -> tuple[FleetData | None, dict[int, ParsedLog]]:
    """The last good fetch and its parsed logs; (None, {}) when absent or unreadable.

    A referenced parse missing from ``parsed_cache`` leaves that build without its log, as a
    log that could not be fetched would."""
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") in (2, LAST_FORMAT):
            fleet = fleet_from_dict(data["fleet"])
            parsed = {int(k): from_json(v) for k, v in data["parsed"].items()}
            for key, log_sha in (data.get("parsed_refs") or {}).items():
                found = parsed_cache.get(int(key), str(log_sha)) if parsed_cache else None
                if found is not None:
                    parsed[int(key)] = found
            stamp = _read_stamp(path)
            if stamp.get("digest") == data.get("digest"):  # the same data, confirmed later
                fleet.fetched_at = float(stamp.get("fetched_at") or fleet.fetched_at)
        else:  # a file from before LAST_FORMAT: the fleet itself, raw logs included
            fleet, parsed = fleet_from_dict(data), {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, {}
    fleet.source = "cache"
    return fleet, parsed
