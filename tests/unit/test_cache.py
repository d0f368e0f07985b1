"""The on-disk cache: round trip, atomic writes, corruption detected and dropped, two processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from bbwatch.source.cache import DiskCache, MemoryCache, namespace_for, open_cache
from bbwatch.source.sync import BuildbotClient

from tests.fakemaster import FakeMaster
from tests.httpfake import FakeServer

REPO = Path(__file__).resolve().parents[2]


def test_round_trip_and_miss(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    assert cache.get("builds/1") is None
    value = {"buildid": 1, "steps": [{"name": "tést", "logs": []}], "n": None}
    cache.put("builds/1", value)
    assert cache.get("builds/1") == value
    cache.put("builds/1", {"buildid": 1, "v": 2})  # replace
    assert cache.get("builds/1") == {"buildid": 1, "v": 2}
    cache.delete("builds/1")
    assert cache.get("builds/1") is None
    assert not list(tmp_path.rglob(".tmp-*"))


def test_memory_cache_returns_copies() -> None:
    cache = MemoryCache()
    value = {"a": [1]}
    cache.put("k", value)
    value["a"].append(2)
    got = cache.get("k")
    assert got == {"a": [1]}
    got["a"].append(3)
    assert cache.get("k") == {"a": [1]}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[: len(raw) // 2],  # torn write
        lambda raw: b"",
        lambda raw: b"\x00\xff garbage",
        lambda raw: raw.replace(b"42", b"43"),  # payload changed, checksum not
        lambda raw: json.dumps(["not", "an", "entry"]).encode(),
        lambda raw: raw.replace(b'"format": 1', b'"format": 99'),
    ],
)
def test_corrupt_entry_is_dropped(tmp_path: Path, mangle) -> None:  # type: ignore[no-untyped-def]
    cache = DiskCache(tmp_path)
    cache.put("builds/7", {"answer": 42})
    path = cache.path_for("builds/7")
    path.write_bytes(mangle(path.read_bytes()))
    assert cache.get("builds/7") is None
    assert not path.exists() and cache.dropped == 1
    cache.put("builds/7", {"answer": 42})
    assert cache.get("builds/7") == {"answer": 42}


def test_entry_copied_under_another_key_is_rejected(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("builds/1", {"buildid": 1})
    cache.path_for("builds/2").write_bytes(cache.path_for("builds/1").read_bytes())
    assert cache.get("builds/2") is None


def test_keys_stay_inside_the_root(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "root")
    for key in ("../../etc/passwd", "/abs/x", "a/../../b", "logs/1-8388608"):
        assert cache.path_for(key).resolve().is_relative_to((tmp_path / "root").resolve())
    with pytest.raises(ValueError):
        cache.path_for("../..")


def test_failed_write_keeps_the_old_entry(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cache = DiskCache(tmp_path)
    cache.put("k", {"v": 1})

    def boom(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("bbwatch.source.atomic.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        cache.put("k", {"v": 2})
    monkeypatch.undo()
    assert cache.get("k") == {"v": 1}
    assert not list(tmp_path.rglob("*.tmp"))


def test_namespaces_per_master(tmp_path: Path) -> None:
    a = open_cache(tmp_path, "http://127.0.0.1:8010/")
    b = open_cache(tmp_path, "https://buildbot.python.org/all/")
    assert isinstance(a, DiskCache) and isinstance(b, DiskCache) and a.root != b.root
    assert namespace_for("http://127.0.0.1:8010/").startswith("127.0.0.1_8010")
    assert isinstance(open_cache(None, "http://x/"), MemoryCache)


WORKER = textwrap.dedent(
    """
    import sys
    from bbwatch.source.cache import DiskCache
    cache = DiskCache(sys.argv[1])
    me = int(sys.argv[2])
    bad = 0
    for i in range(300):
        cache.put("shared", {"writer": me, "blob": [me] * 2000, "i": i})
        got = cache.get("shared")
        if got is None or got["blob"] != [got["writer"]] * 2000:
            bad += 1
    print(bad, cache.dropped)
    """
)


def test_two_processes_share_a_cache(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), str(n)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for n in (1, 2)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs == [["0", "0"], ["0", "0"]]  # never a half-written or mixed entry
    assert DiskCache(tmp_path).get("shared")["writer"] in (1, 2)
    assert not list(tmp_path.rglob(".tmp-*"))


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with FakeServer() as server:
        yield FakeMaster(server)


def test_client_refetches_a_corrupt_build_only(master: FakeMaster, tmp_path: Path) -> None:
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        first = c.fetch_fleet()
    entries = sorted(tmp_path.rglob("builds/3.json"))
    assert len(entries) == 1
    entries[0].write_text(entries[0].read_text()[:100])
    packs = sorted(tmp_path.rglob("packs/*.raw"))
    assert len(packs) == 1
    packs[0].write_text(packs[0].read_text()[:100])  # else the pack would serve build 3
    master.server.reset_log()
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        second = c.fetch_fleet()
        # 3 for what is new + build 3 again: itself, its steps, its test step's log list
        # (green steps' logs are never listed), its changes; its test log is still cached.
        assert c.requests_made == 3 + 4
    assert "/api/v2/builds/3" in {r.path for r in master.server.requests}
    assert second.builds == first.builds


def test_warm_fetch_reads_the_pack_not_a_file_per_build(
    master: FakeMaster, tmp_path: Path
) -> None:
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        first = c.fetch_fleet()
    for entry in tmp_path.rglob("builds/*.json"):
        entry.unlink()  # the pack alone must serve the window
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        second = c.fetch_fleet()
        assert c.requests_made == 3
    assert second.builds == first.builds


def test_a_corrupt_pack_falls_back_to_the_build_files(
    master: FakeMaster, tmp_path: Path
) -> None:
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        first = c.fetch_fleet()
    (pack,) = tmp_path.rglob("packs/*.raw")
    pack.write_bytes(pack.read_bytes()[:-50])
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:
        second = c.fetch_fleet()
        assert c.requests_made == 3  # nothing refetched: the per-build entries are intact
        assert c.cache.dropped == 1
    assert second.builds == first.builds
    with BuildbotClient(master.url, cache_dir=tmp_path) as c:  # and the pack is rewritten
        key = str(pack.relative_to(c.cache.root))[: -len(".raw")]
        assert len(json.loads(c.cache.get_raw(key) or b"[]")) == 6


def test_unwritable_cache_still_serves(master: FakeMaster, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    with BuildbotClient(master.url, cache_dir=blocker) as c:
        data = c.fetch_fleet()
    assert data.errors == [] and sum(len(v) for v in data.builds.values()) == 6
    assert c.cache_errors and all("cannot write cache entry" in e for e in c.cache_errors)


@pytest.mark.parametrize("make", [DiskCache, lambda root: MemoryCache()])
def test_clear_a_prefix(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    cache = make(tmp_path)
    for key in ("builds/1", "builds/2", "buildsx/3", "e1/builds/1", "epoch"):
        cache.put(key, key)
    cache.clear("builds")
    keys = ("builds/1", "builds/2", "buildsx/3", "e1/builds/1", "epoch")
    assert [cache.get(k) for k in keys] == [None, None, "buildsx/3", "e1/builds/1", "epoch"]
