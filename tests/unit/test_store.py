"""The store (one SQLite file, values by msgspec): round trip, damage detected and dropped, a
damaged or older file rebuilt, two processes at once, and the client's guarantees on it."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from bbwatch.models import Build, Step
from bbwatch.source import store as store_module
from bbwatch.source.codec import pack
from bbwatch.source.store import (
    CACHE_FORMAT,
    STORE_FILE,
    Store,
    namespace_for,
    open_store,
    store_path,
)
from bbwatch.source.sync import BuildbotClient

from tests.fakemaster import FakeMaster
from tests.httpfake import FakeServer

REPO = Path(__file__).resolve().parents[2]


def write_row(cache_dir: Path, key: str, value: bytes, crc: int | None = None) -> None:
    """Put bytes under ``key`` behind the store's back (``crc`` None: a correct checksum)."""
    if crc is None:
        crc = zlib.crc32(value, zlib.crc32(key.encode()))
    db = sqlite3.connect(store_path(cache_dir))
    with db:
        db.execute("INSERT OR REPLACE INTO entries (key, value, crc) VALUES (?, ?, ?)",
                   (key, value, crc))
    db.close()


def read_row(cache_dir: Path, key: str) -> tuple[bytes, int]:
    db = sqlite3.connect(store_path(cache_dir))
    row = db.execute("SELECT value, crc FROM entries WHERE key = ?", (key,)).fetchone()
    db.close()
    return row


def selects(store: Store) -> list[str]:
    """The SQL statements the store sends from now on (``sqlite3``'s trace callback)."""
    seen: list[str] = []
    assert store._db is not None
    store._db.set_trace_callback(seen.append)
    return seen


BUILD = Build(7, 2, 3, 0, True, started_at=10, properties={"nested": {"a": [1, None]}},
              steps=[Step(70, 7, 1, "test", 0)])


@pytest.mark.parametrize("where", ["disk", "memory"])
def test_round_trip_and_miss(tmp_path: Path, where: str) -> None:
    store = open_store(tmp_path if where == "disk" else None)
    assert store.get("builds/7", Build) is None
    store.put("builds/7", BUILD)
    assert store.get("builds/7", Build) == BUILD
    store.put_many({"builds/7": 1, "epoch": 2, "text": "tést"})  # replace, typed
    assert store.get("builds/7", int) == 1 and store.get("text", str) == "tést"
    assert store.get("builds/7", Build) is None and store.dropped == 1  # not a Build: dropped
    store.delete("epoch")
    assert store.get("epoch", int) is None
    assert store.get_many(["text", "nope", "text"], str) == {"text": "tést"}
    if where == "disk":
        assert [p.name for p in tmp_path.iterdir() if p.name == STORE_FILE] == [STORE_FILE]


def test_values_are_copies() -> None:
    store = open_store(None)
    value = Build(1, 2, 3, 0, True, properties={"a": [1]})
    store.put("k", value)
    value.properties["a"].append(2)
    got = store.get("k", Build)
    assert got is not None and got.properties == {"a": [1]}
    got.properties["a"].append(3)
    assert store.get("k", Build) == Build(1, 2, 3, 0, True, properties={"a": [1]})


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw, crc: (raw[: len(raw) // 2], crc),  # torn
        lambda raw, crc: (b"", crc),
        lambda raw, crc: (b"\x00\xff garbage", crc),
        lambda raw, crc: (raw.replace(b"\x2a", b"\x2b"), crc),  # payload changed, checksum not
        lambda raw, crc: (pack(["not", "a", "build"]), None),  # right checksum, wrong type
        lambda raw, crc: (raw, crc ^ 1),
    ],
)
def test_a_damaged_value_is_dropped_never_misread(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    store = open_store(tmp_path)
    build = Build(42, 42, 42, 0, True)
    store.put("builds/42", build)
    # the reads of many values (one aggregated row) check every value the same way
    for read in (lambda s: s.scan("builds/", Build), lambda s: s.get_many(["builds/42"], Build)):
        write_row(tmp_path, "builds/42", *damage(*read_row(tmp_path, "builds/42")))
        reader = open_store(tmp_path)
        assert read(reader) == {} and reader.dropped == 1
        store.put("builds/42", build)
    write_row(tmp_path, "builds/42", *damage(*read_row(tmp_path, "builds/42")))
    fresh = open_store(tmp_path)
    assert fresh.get("builds/42", Build) is None
    assert fresh.dropped == 1 and fresh.keys("builds/") == []
    fresh.put("builds/42", build)
    assert fresh.get("builds/42", Build) == build


def test_a_value_copied_under_another_key_is_rejected(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.put("builds/1", Build(1, 1, 1, 0, True))
    write_row(tmp_path, "builds/2", *read_row(tmp_path, "builds/1"))
    assert store.get("builds/2", Build) is None and store.dropped == 1


def test_any_key_is_just_a_key(tmp_path: Path) -> None:
    store = open_store(tmp_path / "root")
    for key in ("../../etc/passwd", "/abs/x", "a/../../b", "logs/1-8388608", "ü/\x00/z"):
        store.put(key, key)
        assert store.get(key, str) == key
    assert [p.name for p in tmp_path.iterdir()] == ["root"]


def test_many_values_come_back_in_one_read_each(tmp_path: Path) -> None:
    """get_many and scan ask SQLite for ONE aggregated row per read (500 keys at most), not a
    row per value: a thread reading the store then gives the GIL up once per read. Whatever
    the keys and values hold comes back unchanged."""
    store = open_store(tmp_path)
    odd = {"k/,.": "comma, dot.", "k/ü\x00é": "", "k/' OR 1=1 --": "x" * 70_000,
           "k/\U0001F600": "😀"}
    values = {**odd, **{f"k/{i:04d}": f"v{i}" for i in range(1200)}}
    store.put_many(values)
    sql = selects(store)
    assert store.scan("k/", str) == values
    assert store.get_many(list(values) + ["k/missing"], str) == values
    reads = [s for s in sql if s.startswith("SELECT")]
    assert len(reads) == 1 + 3  # the scan, then 1,205 keys in three reads of 500
    assert all(r.startswith("SELECT group_concat") for r in reads)
    assert store.scan("nothing/", str) == {} and store.get_many([], str) == {}
    # keys() and clear() with a filter read the keys the same way
    sql.clear()
    assert store.keys("k/") == sorted(values)
    assert store.clear("k/0", keep=lambda k: k.endswith("7")) == 1000 - 100
    assert store.keys("k/0") == [f"k/0{i:03d}" for i in range(1000) if i % 10 == 7]
    assert store.get("k/,.", str) == "comma, dot."  # outside the prefix: kept
    selects_ = [s for s in sql if s.startswith("SELECT")]
    assert len(selects_) == 4 and all("group_concat" in s for s in selects_[:3])


def test_a_failed_write_keeps_the_old_values(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.05)
    store = open_store(tmp_path)
    store.put_many({"a": 1, "b": 1})
    other = sqlite3.connect(store_path(tmp_path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the timeout
    with pytest.raises(OSError, match="locked"):
        store.put_many({"a": 2, "b": 2})
    other.execute("ROLLBACK")
    other.close()
    assert store.get_many(["a", "b"], int) == {"a": 1, "b": 1}  # neither written: one transaction


def test_namespaces_per_master_in_one_file(tmp_path: Path) -> None:
    a = BuildbotClient("http://127.0.0.1:8010/", cache_dir=tmp_path)
    b = BuildbotClient("https://buildbot.python.org/all/", cache_dir=tmp_path)
    a.cache.put("epoch", 1)
    assert b.cache.get("epoch", int) is None and a.cache.prefix != b.cache.prefix
    assert namespace_for("http://127.0.0.1:8010/").startswith("127.0.0.1_8010")
    assert {p.name for p in tmp_path.iterdir()} <= {STORE_FILE, f"{STORE_FILE}-wal",
                                                  f"{STORE_FILE}-shm"}
    a.close()
    b.close()


def test_a_damaged_file_is_rebuilt_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store_path(tmp_path).write_bytes(b"not a database at all " * 100)
    with caplog.at_level(logging.WARNING, logger="bbwatch.source.store"):
        store = open_store(tmp_path)
    assert [r.getMessage().count("\n") for r in caplog.records] == [0]
    assert "was damaged" in caplog.records[0].getMessage() and store.rebuilt
    assert store.get("k", int) is None
    store.put("k", 1)
    assert open_store(tmp_path).get("k", int) == 1


def test_damage_inside_the_file_is_never_misread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(tmp_path)
    values = {f"builds/{i}": Build(i, i % 7, i, 0, True, state_string="x" * 300)
              for i in range(400)}
    store.put_many(values)
    store.close()
    path = store_path(tmp_path)
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 9000] = b"\xa5" * 9000  # a few pages of garbage
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="bbwatch.source.store"):
        found = open_store(tmp_path).get_many(values, Build)
    assert all(values[k] == v for k, v in found.items())  # whatever is read is right
    assert len(caplog.records) <= 1  # at most the one line saying it was rebuilt
    again = open_store(tmp_path)
    again.put("after", 1)
    assert again.get("after", int) == 1


def test_a_store_of_another_format_is_rebuilt_not_read(tmp_path: Path) -> None:
    open_store(tmp_path).put("builds/1", Build(1, 1, 1, 0, True))
    db = sqlite3.connect(store_path(tmp_path))
    db.execute(f"PRAGMA user_version = {CACHE_FORMAT + 1}")
    db.close()
    store = open_store(tmp_path)
    assert store.keys("") == [] and store.get("builds/1", Build) is None
    db = sqlite3.connect(store_path(tmp_path))
    assert db.execute("PRAGMA user_version").fetchone()[0] == CACHE_FORMAT
    db.close()


def test_a_new_store_removes_the_file_caches_it_replaces(tmp_path: Path) -> None:
    for old in ("v1/host-abc/builds/1.json", "parsed/x/0123/1.json", "tracker/github-search-a.json",
                "live-last-fleet-ab.json", "live-last-fleet-ab.stamp"):
        (tmp_path / old).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / old).write_text("{}")
    (tmp_path / "notes.txt").write_text("not ours")
    open_store(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(STORE_FILE)) == [
        "notes.txt"]


@pytest.mark.parametrize("where", ["disk", "memory"])
def test_clear_a_prefix(tmp_path: Path, where: str) -> None:
    store = open_store(tmp_path if where == "disk" else None)
    keys = ("builds/1", "builds/2", "buildsx/3", "e1/builds/1", "epoch")
    store.put_many({k: k for k in keys})
    assert store.clear("builds/") == 2
    assert [store.get(k, str) for k in keys] == [None, None, "buildsx/3", "e1/builds/1", "epoch"]
    assert store.clear("", keep=lambda k: k.startswith("e")) == 1
    assert store.keys("") == ["e1/builds/1", "epoch"]


WORKER = textwrap.dedent(
    """
    import sys
    from bbwatch.models import Build
    from bbwatch.source.store import open_store
    store = open_store(sys.argv[1])
    me = int(sys.argv[2])
    bad = 0
    for i in range(300):
        blob = Build(me, me, i, 0, True, properties={"blob": [me] * 2000})
        store.put_many({"shared": blob, "mine/%d" % me: i})
        got = store.get("shared", Build)
        if got is None or got.properties["blob"] != [got.buildid] * 2000:
            bad += 1
    print(bad, store.dropped, store.get("mine/%d" % me, int))
    """
)


def test_two_processes_share_the_store(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(n)],
                         stdout=subprocess.PIPE, text=True, cwd=REPO)
        for n in (1, 2)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs == [["0", "0", "299"], ["0", "0", "299"]]  # never a half or mixed value
    shared = open_store(tmp_path).get("shared", Build)
    assert shared is not None and shared.buildid in (1, 2)


# -- the client on the store -----------------------------------------------------------------


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with FakeServer() as server:
        yield FakeMaster(server)


def test_client_refetches_a_damaged_build_only(master: FakeMaster, tmp_path: Path) -> None:
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        first = c.fetch_fleet()
        (key,) = [c.cache.prefix + k for k in c.cache.keys("builds/3")]
    value, crc = read_row(tmp_path, key)
    write_row(tmp_path, key, value[:100], crc)
    master.server.reset_log()
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        second = c.fetch_fleet()
        # 3 for what is new + build 3 again: itself, its steps, its test step's log list
        # (green steps' logs are never listed), its changes; its test log is still cached.
        assert c.requests_made == 3 + 4 and c.store.dropped == 1
    assert "/api/v2/builds/3" in {r.path for r in master.server.requests}
    assert second.builds == first.builds


def test_warm_fetch_reads_the_window_in_one_query(master: FakeMaster, tmp_path: Path) -> None:
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        first = c.fetch_fleet()
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        sql = selects(c.store)
        second = c.fetch_fleet()
        assert c.requests_made == 3
    reads = [s for s in sql if s.startswith("SELECT") and "/builds/" in s]
    assert len(reads) == 1 and reads[0].count("/builds/") == 6  # six builds, one query
    assert second.builds == first.builds


def test_unwritable_cache_still_serves(master: FakeMaster, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    with BuildbotClient(master.url, cache_dir=blocker) as c:
        data = c.fetch_fleet()
    assert data.errors == [] and sum(len(v) for v in data.builds.values()) == 6
    assert c.cache_errors and all("cannot write cache entry" in e for e in c.cache_errors)
