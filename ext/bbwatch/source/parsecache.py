"""Parsed test logs (``bbwatch.logs.parsed.ParsedLog``) as JSON, and an on-disk cache of them
per build.

A completed build's test log never changes, so neither does its parse: a warm site build reads
it from here instead of running ``bbwatch.logs.regrtest`` over the log again. Each entry is one
file ``<root>/<version>/<buildid>.json`` holding the sha256 of the log it came from, so a log
that differs (another master reusing buildids, another log cap) is parsed again, never served
stale. An entry may also carry the log's identity (``BuildbotClient.log_identity``): then
``lookup`` finds it without the log's text, so a warm build need not even read the log; and
``save_pack`` keeps the window's identified parses in one more file, ``pack.raw``, so that a
warm build reads one file, not one per build (hundreds of small reads in a thread that shares
the GIL with Sphinx cost 25x their own time).
``VERSION`` hashes the source of the code that produces a ParsedLog: editing the parser
invalidates every entry. Writes are atomic (temp file + ``os.replace``); an unreadable entry is
deleted and counted in ``dropped``, and the caller parses the log again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import orjson

from bbwatch import domain
from bbwatch.logs import failures, regrtest, results
from bbwatch.logs import parsed as parsed_logs
from bbwatch.logs.parsed import BuildTests, ParsedLog
from bbwatch.source import atomic
from bbwatch.source.cache import DiskCache

FORMAT = 1  # bump when the JSON form below changes
PACK = "pack"  # DiskCache raw key: <root>/<version>/pack.raw


def _version() -> str:
    """Changes whenever the code behind a ParsedLog (or its JSON form) changes."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    for module in (regrtest, results, failures, parsed_logs, domain):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


VERSION = _version()


# --- JSON form ------------------------------------------------------------------------------


def to_json(parsed: ParsedLog) -> dict[str, Any]:
    """A compact, JSON-able dict (sets sorted, so equal logs give equal files)."""
    tests = parsed.tests
    return {
        "ran": tests.ran,
        "failed": sorted(tests.failed),
        "flaky": sorted(tests.flaky),
        "test_ids": {k: list(v) for k, v in sorted(tests.test_ids.items())},
        "seen": sorted(tests.seen),
        "excerpts": dict(sorted(parsed.excerpts.items())),
        "disk_full": parsed.disk_full,
        "tail": parsed.tail,
        "digest": parsed.digest,
        "seed": parsed.seed,
        "outcomes": {k: list(v) for k, v in sorted(parsed.outcomes.items())},
        "outcome_ids": {k: list(v) for k, v in sorted(parsed.outcome_ids.items())},
    }


def _strs(value: Any) -> list[str]:
    # set(map(type, ...)): a warm build checks ~10^5 test names, a generator is 5x slower
    if not isinstance(value, list) or (value and set(map(type, value)) != {str}):
        raise ValueError("expected a list of strings")
    return value


def _str_map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value


def from_json(d: Any) -> ParsedLog:
    """The ParsedLog back; ValueError (or KeyError/TypeError) on anything malformed."""
    d = _str_map(d)
    if not isinstance(d["ran"], bool) or not isinstance(d["disk_full"], bool):
        raise ValueError("ran and disk_full must be booleans")
    for key in ("tail", "digest", "seed"):
        if not isinstance(d[key], str):
            raise ValueError(f"{key} must be a string")
    outcomes = {}
    for k, v in _str_map(d["outcomes"]).items():
        kind, message = _strs(v)
        outcomes[k] = (kind, message)
    excerpts = _str_map(d["excerpts"])
    _strs(list(excerpts.values()))
    return ParsedLog(
        tests=BuildTests(
            ran=d["ran"],
            failed=frozenset(_strs(d["failed"])),
            flaky=frozenset(_strs(d["flaky"])),
            test_ids={k: tuple(_strs(v)) for k, v in _str_map(d["test_ids"]).items()},
            seen=frozenset(_strs(d["seen"])),
        ),
        excerpts=dict(excerpts),
        disk_full=d["disk_full"],
        tail=d["tail"],
        digest=d["digest"],
        seed=d["seed"],
        outcomes=outcomes,
        outcome_ids={k: tuple(_strs(v)) for k, v in _str_map(d["outcome_ids"]).items()},
    )


# --- the cache ------------------------------------------------------------------------------


class ParsedLogCache:
    """Completed builds' parsed test logs under ``root`` (one directory per parser version)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.base = Path(root)
        self.root = self.base / VERSION
        self.hits = 0
        self.misses = 0
        self.dropped = 0  # corrupt entries deleted
        self.errors: list[str] = []  # failed writes (the parse was still used)
        # buildid -> log identity, recorded with entries written (or found) for those builds
        self.idents: dict[int, str] = {}
        self._packed: dict[int, tuple[str, ParsedLog]] | None = None

    def _pack(self) -> dict[int, tuple[str, ParsedLog]]:
        """buildid -> (identity, parse) from ``pack.raw``, read once; {} if absent or bad."""
        if self._packed is None:
            self._packed = {}
            store = DiskCache(self.root)
            raw = store.get_raw(PACK)  # checksummed: a torn file is deleted, a miss
            self.dropped += store.dropped
            if raw is not None:
                try:
                    for entry in orjson.loads(raw):
                        ident = entry["ident"]
                        if not isinstance(ident, str):
                            raise ValueError("ident must be a string")
                        self._packed[int(entry["buildid"])] = (ident, from_json(entry["parsed"]))
                except (ValueError, KeyError, TypeError, AttributeError):
                    self._packed = {}
                    self.dropped += 1
                    store.delete(PACK)
        return self._packed

    def save_pack(self, parsed: dict[int, ParsedLog]) -> None:
        """Keep the parses of builds with an identity (``idents``) in ``pack.raw``; rewritten
        only when that set changed. Builds without one (still running) stay out."""
        entries = {bid: (self.idents[bid], p) for bid, p in parsed.items() if bid in self.idents}
        if {b: e[0] for b, e in entries.items()} == {b: e[0] for b, e in self._pack().items()}:
            return
        payload = orjson.dumps([{"buildid": bid, "ident": ident, "parsed": to_json(p)}
                                for bid, (ident, p) in sorted(entries.items())])
        try:
            if not self.root.is_dir():
                self._drop_old_versions()
            DiskCache(self.root).put_raw(PACK, payload)
            self._packed = entries
        except OSError as exc:
            self.errors.append(f"cannot write parsed logs pack: {exc.strerror or exc}")

    def path_for(self, buildid: int) -> Path:
        return self.root / f"{int(buildid)}.json"

    def _read(self, buildid: int) -> tuple[ParsedLog, str | None] | None:
        """The entry's parse and identity; None when absent, or corrupt (then deleted)."""
        path = self.path_for(buildid)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        try:
            entry = orjson.loads(raw)
            parsed = from_json(entry["parsed"])
            ident = entry.get("ident")
            ok = (entry["buildid"] == buildid and parsed.digest == entry["digest"]
                  and (ident is None or isinstance(ident, str)))
        except (ValueError, KeyError, TypeError, AttributeError):
            ok = False
        if not ok:
            self.dropped += 1
            try:
                path.unlink()
            except OSError:
                pass  # another build already replaced or removed it
            return None
        return parsed, ident

    def get(self, buildid: int, digest: str) -> ParsedLog | None:
        """The cached parse of this build's log, if it was parsed from the same text."""
        found = self._read(buildid)
        if found is None or found[0].digest != digest:  # other text: not ours to serve
            self.misses += 1
            return None
        parsed, ident = found
        known = self.idents.get(int(buildid))
        if known is not None and ident != known:  # an older entry: let lookup() find it
            self.put(buildid, parsed)
        self.hits += 1
        return parsed

    def lookup(self, buildid: int, ident: str) -> ParsedLog | None:
        """The cached parse of the log named ``ident``, without its text."""
        packed = self._pack().get(int(buildid))
        if packed is not None and packed[0] == ident:
            self.hits += 1
            return packed[1]
        found = self._read(buildid)
        if found is None or found[1] != ident:
            self.misses += 1
            return None
        self.hits += 1
        return found[0]

    def put(self, buildid: int, parsed: ParsedLog) -> None:
        """Store atomically; a full or read-only disk only costs parsing again next time."""
        entry = {"buildid": int(buildid), "digest": parsed.digest, "parsed": to_json(parsed),
                 "ident": self.idents.get(int(buildid))}
        try:
            if not self.root.is_dir():
                self._drop_old_versions()
            atomic.write_text(self.path_for(buildid), json.dumps(entry, separators=(",", ":")))
        except OSError as exc:
            self.errors.append(f"cannot write parsed log {buildid}: {exc.strerror or exc}")

    def prune(self, keep: set[int]) -> int:
        """Delete the entries of builds not in ``keep`` (fallen out of the analysed history);
        return how many. Completed builds are otherwise cached forever."""
        removed = 0
        try:
            names = os.listdir(self.root)
        except OSError:
            return 0
        for name in names:
            stem, _, ext = name.partition(".")
            if ext == "json" and stem.isdigit() and int(stem) not in keep:
                with contextlib.suppress(OSError):
                    os.unlink(self.root / name)
                    removed += 1
        return removed

    def _drop_old_versions(self) -> None:
        """A new parser version starts afresh: older versions' entries are never read again."""
        try:
            old = [p for p in self.base.iterdir() if p.is_dir() and p.name != VERSION]
        except OSError:
            return
        for path in old:
            shutil.rmtree(path, ignore_errors=True)
