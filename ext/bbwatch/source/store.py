"""The on-disk cache: ONE SQLite file per cache directory, ``<cache_dir>/bbwatch.sqlite3``.

Schema (its version, ``CACHE_FORMAT``, is SQLite's ``PRAGMA user_version``)::

    CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL)
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)

``value`` is a record (or a str, int, list of them) packed by ``bbwatch.source.codec``;
``crc`` is the CRC-32 of key and value, so a value damaged on disk or copied under another key
is dropped (counted in ``dropped``), never misread. Keys are ``/``-separated names in spaces
(``Space``): ``client/<master>/...`` (``bbwatch.source.client``), ``parsed/v<PARSER_VERSION>/
<source>/<buildid>`` (``bbwatch.source.parsecache``), ``live/<source>/...`` (the live build's
last good fetch), ``tracker/<query>`` (GitHub searches).

Transactions, not hand-made atomic renames: readers see a whole value or none. WAL and a busy
timeout let two processes (two site builds, a build and the CLI) share the file. A file that is
not a database or is damaged is deleted and rebuilt empty, with a one-line warning; a file of
another ``CACHE_FORMAT`` is rebuilt empty (its data is only a cache). A store that cannot be
opened at all (a read-only or missing directory) answers every read with a miss and every
write with ``OSError``: the callers already treat the cache as optional.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from bbwatch.source.codec import CodecError, pack, unpack

T = TypeVar("T")
R = TypeVar("R")

CACHE_FORMAT = 2  # bump when the schema, the key layout or a stored type changes
# 2: BuildTests.seen is a sorted tuple (read by bisection); it was a set, stored in any order
STORE_FILE = "bbwatch.sqlite3"
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another process's transaction
_CHUNK = 500  # keys per SELECT ... IN (...)

logger = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, crc INTEGER NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# What the file-per-entry caches before the store left in a cache directory
_OLD_LAYOUT = ("v1", "parsed", "tracker")
_OLD_FILES = ("live-last-fleet-*.json", "live-last-fleet-*.stamp")


def _crc(key: str, value: bytes) -> int:
    return zlib.crc32(value, zlib.crc32(key.encode()))


# Many rows as ONE row: SQLite's module releases the GIL for every row it steps to, and a
# thread that gives the GIL up must wait for it again while another thread computes (the live
# build's fetch thread beside Sphinx's reading): 3,000 rows read one by one took 0.75 s there,
# 0.06 s alone. Aggregated in SQL, a read is one step. Hex keeps the separators unambiguous.
_AGGREGATE = "SELECT group_concat(hex(key) || '.' || hex(value) || '.' || crc, ',') FROM entries"


def _rows(db: sqlite3.Connection, where: str, params: Iterable[object]) -> list[
        tuple[str, bytes, int]]:
    """(key, value, crc) of the entries ``where`` selects, read as one aggregated row."""
    (joined,) = db.execute(f"{_AGGREGATE} WHERE {where}", tuple(params)).fetchone()
    rows: list[tuple[str, bytes, int]] = []
    for entry in joined.split(",") if joined else ():
        key, value, crc = entry.split(".")
        rows.append((bytes.fromhex(key).decode("utf-8", "surrogatepass"),
                     bytes.fromhex(value), int(crc)))
    return rows


def _keys(db: sqlite3.Connection, where: str, params: Iterable[object]) -> list[str]:
    """The keys ``where`` selects, read as one aggregated row (see ``_AGGREGATE``)."""
    (joined,) = db.execute(f"SELECT group_concat(hex(key), ',') FROM entries WHERE {where}",
                           tuple(params)).fetchone()
    return [bytes.fromhex(k).decode("utf-8", "surrogatepass")
            for k in (joined.split(",") if joined else ())]


def _damaged(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name == "SQLITE_NOTADB" or name.startswith("SQLITE_CORRUPT")


def _upper(prefix: str) -> str:
    """A string above every string that starts with ``prefix`` (SQLite compares UTF-8 bytes,
    in code point order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"


class Store:
    """Typed values by key in one SQLite file (``path``), or in memory when ``path`` is None."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = None if path is None else Path(path)
        self.dropped = 0  # damaged values found and deleted
        self.rebuilt: str | None = None  # why the file was rebuilt, if it was
        self.error: str | None = None  # why the store could not be opened, if it could not
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._open()

    # -- opening, rebuilding ---------------------------------------------------------------

    def _open(self) -> None:
        try:
            self._db = self._connect_patiently()
        except sqlite3.Error as exc:
            if not _damaged(exc):
                self.error = f"cannot open the cache store {self.path}: {exc}"
                return
            self._rebuild(exc)
        except OSError as exc:
            self.error = f"cannot open the cache store {self.path}: {exc.strerror or exc}"

    def _connect_patiently(self) -> sqlite3.Connection:
        """``_connect``, waiting while another process creates the file: switching a new file
        to WAL takes a lock that SQLite's busy timeout does not wait for."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        pause = 0.01
        while True:
            try:
                return self._connect()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, check_same_thread=False,
                                 isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != CACHE_FORMAT:
                self._create(db)
        except BaseException:
            db.close()
            raise
        return db

    def _create(self, db: sqlite3.Connection) -> None:
        """(Re)create the tables, unless another process did while we waited for the lock."""
        db.execute("BEGIN IMMEDIATE")
        try:
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found == CACHE_FORMAT:
                db.execute("COMMIT")
                return
            if found:
                logger.info("bbwatch: cache store %s has format %s, not %s: rebuilt",
                            self.path, found, CACHE_FORMAT)
            for table in ("entries", "meta"):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {CACHE_FORMAT}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if not found and self.path is not None:
            _forget_old_layout(self.path.parent)

    def _rebuild(self, exc: sqlite3.Error) -> None:
        """A damaged file: warn once, delete it, start empty."""
        self.rebuilt = str(exc)
        logger.warning("bbwatch: the cache store %s was damaged (%s): rebuilt empty",
                       self.path, exc)
        if self._db is not None:
            self._db.close()
            self._db = None
        if self.path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        try:
            self._db = self._connect_patiently()
        except (sqlite3.Error, OSError) as again:
            self.error = f"cannot rebuild the cache store {self.path}: {again}"

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self, fn: Callable[[sqlite3.Connection], R], miss: R, *, write: bool) -> R:
        """``fn(db)`` under the lock. A damaged file is rebuilt and ``fn`` tried once more;
        other failures (locked past the timeout, disk full) are a miss for reads and
        ``OSError`` for writes."""
        with self._lock:
            for attempt in (1, 2):
                if self._db is None:
                    if write:
                        raise OSError(self.error or "the cache store is closed")
                    return miss
                try:
                    return fn(self._db)
                except sqlite3.Error as exc:
                    if _damaged(exc) and attempt == 1:
                        self._rebuild(exc)
                        continue
                    if write:
                        raise OSError(f"cache store {self.path}: {exc}") from None
                    return miss
            return miss  # pragma: no cover - the loop returns

    # -- values ----------------------------------------------------------------------------

    def _decode(self, rows: Iterable[tuple[str, bytes, int]], type_: type[T]) -> dict[str, T]:
        out: dict[str, T] = {}
        bad: list[str] = []
        for key, value, crc in rows:
            try:
                if _crc(key, value) != crc:
                    raise CodecError("checksum mismatch")
                out[key] = unpack(value, type_)
            except CodecError:
                bad.append(key)
        if bad:
            self.dropped += len(bad)
            self.delete(*bad)
        return out

    def get(self, key: str, type_: type[T]) -> T | None:
        """The value under ``key`` as a ``type_``; None when absent or damaged (then deleted)."""
        rows = self._run(lambda db: db.execute(
            "SELECT key, value, crc FROM entries WHERE key = ?", (key,)).fetchall(),
            [], write=False)
        return self._decode(rows, type_).get(key)

    def get_many(self, keys: Iterable[str], type_: type[T]) -> dict[str, T]:
        """The values of those of ``keys`` that are present, in one read per 500 keys."""
        wanted = list(dict.fromkeys(keys))

        def read(db: sqlite3.Connection) -> list[tuple[str, bytes, int]]:
            rows: list[tuple[str, bytes, int]] = []
            for i in range(0, len(wanted), _CHUNK):
                part = wanted[i:i + _CHUNK]
                rows += _rows(db, f"key IN ({','.join('?' * len(part))})", part)
            return rows

        return self._decode(self._run(read, [], write=False), type_)

    def scan(self, prefix: str, type_: type[T]) -> dict[str, T]:
        """Every value whose key starts with ``prefix``, in one read."""
        rows = self._run(lambda db: _rows(db, "key >= ? AND key < ?", (prefix, _upper(prefix))),
                         [], write=False)
        return self._decode(rows, type_)

    def intact(self, key: str) -> bool:
        """Whether ``key`` holds a value that passes its checksum (without decoding it)."""
        rows = self._run(lambda db: db.execute(
            "SELECT key, value, crc FROM entries WHERE key = ?", (key,)).fetchall(),
            [], write=False)
        return bool(rows) and _crc(*rows[0][:2]) == rows[0][2]

    def keys(self, prefix: str) -> list[str]:
        return sorted(self._run(lambda db: _keys(db, "key >= ? AND key < ?",
                                                 (prefix, _upper(prefix))), [], write=False))

    def put(self, key: str, value: object) -> None:
        self.put_many({key: value})

    def put_many(self, values: Mapping[str, object]) -> None:
        """Store every value in one transaction: all of them or, on OSError, none."""
        rows = []
        for key, value in values.items():
            raw = pack(value)
            rows.append((key, raw, _crc(key, raw)))

        def write(db: sqlite3.Connection) -> None:
            with db:  # a transaction (BEGIN ... COMMIT, ROLLBACK on error)
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT OR REPLACE INTO entries (key, value, crc) VALUES (?, ?, ?)", rows)

        if rows:
            self._run(write, None, write=True)

    def delete(self, *keys: str) -> None:
        """Remove entries; a failure is ignored (they are dropped again next time)."""
        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k in keys])

        try:
            self._run(write, None, write=True)
        except OSError:
            pass

    def clear(self, prefix: str, keep: Callable[[str], bool] | None = None) -> int:
        """Remove the entries under ``prefix`` (all, or those ``keep`` refuses); how many."""
        def write(db: sqlite3.Connection) -> int:
            with db:
                db.execute("BEGIN IMMEDIATE")
                bounds = (prefix, _upper(prefix))
                if keep is None:
                    return db.execute(
                        "DELETE FROM entries WHERE key >= ? AND key < ?", bounds).rowcount
                gone = [(k,) for k in _keys(db, "key >= ? AND key < ?", bounds) if not keep(k)]
                db.executemany("DELETE FROM entries WHERE key = ?", gone)
                return len(gone)

        return self._run(write, 0, write=True)

    def meta(self, name: str) -> str | None:
        rows = self._run(lambda db: db.execute(
            "SELECT value FROM meta WHERE name = ?", (name,)).fetchall(), [], write=False)
        return rows[0][0] if rows else None

    def set_meta(self, name: str, value: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                           (name, value))

        self._run(write, None, write=True)

    def space(self, prefix: str) -> Space:
        return Space(self, prefix)


class Space:
    """A store's entries under one key prefix (``client/<master>/``): the same calls, with
    keys relative to the prefix."""

    def __init__(self, store: Store, prefix: str) -> None:
        self.store = store
        self.prefix = prefix.rstrip("/") + "/"

    @property
    def dropped(self) -> int:
        return self.store.dropped

    def get(self, key: str, type_: type[T]) -> T | None:
        return self.store.get(self.prefix + key, type_)

    def get_many(self, keys: Iterable[str], type_: type[T]) -> dict[str, T]:
        n = len(self.prefix)
        found = self.store.get_many((self.prefix + k for k in keys), type_)
        return {k[n:]: v for k, v in found.items()}

    def scan(self, prefix: str, type_: type[T]) -> dict[str, T]:
        n = len(self.prefix)
        return {k[n:]: v for k, v in self.store.scan(self.prefix + prefix, type_).items()}

    def keys(self, prefix: str = "") -> list[str]:
        n = len(self.prefix)
        return [k[n:] for k in self.store.keys(self.prefix + prefix)]

    def put(self, key: str, value: object) -> None:
        self.store.put(self.prefix + key, value)

    def put_many(self, values: Mapping[str, object]) -> None:
        self.store.put_many({self.prefix + k: v for k, v in values.items()})

    def delete(self, *keys: str) -> None:
        self.store.delete(*(self.prefix + k for k in keys))

    def clear(self, prefix: str = "", keep: Callable[[str], bool] | None = None) -> int:
        n = len(self.prefix)
        test = None if keep is None else (lambda k: keep(k[n:]))
        return self.store.clear(self.prefix + prefix, test)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def namespace_for(base_url: str) -> str:
    """A readable, collision-safe name for one master or source (``host_port_path-hash``)."""
    slug = _SAFE.sub("_", base_url.split("://", 1)[-1]).strip("_")[:60]
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


def store_path(cache_dir: str | os.PathLike[str]) -> Path:
    return Path(cache_dir) / STORE_FILE


def open_store(cache_dir: str | os.PathLike[str] | None) -> Store:
    """The store of ``cache_dir`` (``bbwatch.sqlite3`` in it), or one in memory for None."""
    return Store(None if cache_dir is None else store_path(cache_dir))


def _forget_old_layout(cache_dir: Path) -> None:
    """A new store replaces the file-per-entry caches of older versions: remove their files
    (only names those versions wrote), which nothing reads any more."""
    for name in _OLD_LAYOUT:
        shutil.rmtree(cache_dir / name, ignore_errors=True)
    for pattern in _OLD_FILES:
        for path in cache_dir.glob(pattern):
            path.unlink(missing_ok=True)
