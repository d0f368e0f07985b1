"""Snapshots: save/load round trip, stable files, the offline source, `bbwatch snapshot save`."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from bbwatch.commands.main import main
from bbwatch.errors import BuildbotError
from bbwatch.models import FleetData, Log
from bbwatch.source.open import open_client
from bbwatch.source.snapshot import SnapshotSource, load_snapshot, save_snapshot
from bbwatch.source.store import open_store
from bbwatch.source.urls import parse_build_url

from tests.fakemaster import FakeMaster
from tests.httpfake import FakeServer


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    with FakeServer() as server:
        yield FakeMaster(server)


@pytest.fixture
def fleet(master: FakeMaster) -> FleetData:
    with open_client(master.url) as c:  # type: ignore[union-attr]
        return c.fetch_fleet(history=5)


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_round_trip(fleet: FleetData, tmp_path: Path) -> None:
    save_snapshot(fleet, tmp_path / "snap")
    loaded = load_snapshot(tmp_path / "snap")
    assert loaded.source == "snapshot"
    loaded.source = fleet.source
    # log identities name entries of one client's cache: a snapshot has its own files
    assert fleet.log_ids and loaded.log_ids == {}
    assert loaded == dataclasses.replace(fleet, log_ids={})


def test_files_are_stable_and_readable(fleet: FleetData, tmp_path: Path) -> None:
    save_snapshot(fleet, tmp_path / "a")
    save_snapshot(load_snapshot(tmp_path / "a"), tmp_path / "b")
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    names = set(files_of(tmp_path / "a"))
    assert "snapshot.json" in names and "builds/1.json" in names
    assert {n for n in names if n.startswith("test-logs/")} == {
        f"test-logs/{i}.txt" for i in fleet.test_logs
    }
    text = (tmp_path / "a" / "builds" / "1.json").read_text()
    assert text.count("\n") > 50  # indented, one key per line: diffs stay readable


def test_resave_drops_stale_files_only(fleet: FleetData, tmp_path: Path) -> None:
    root = tmp_path / "snap"
    save_snapshot(fleet, root)
    (root / "README.md").write_text("how this was recorded\n")
    smaller = load_snapshot(root)
    del smaller.builds[2]
    smaller.test_logs = {}
    save_snapshot(smaller, root)
    assert not (root / "builds" / "2.json").exists()
    assert not list((root / "test-logs").iterdir())
    assert (root / "README.md").exists()


def test_snapshot_source_answers_like_the_client(fleet: FleetData, tmp_path: Path) -> None:
    save_snapshot(fleet, tmp_path)
    src = open_client(f"snapshot:{tmp_path}")
    assert isinstance(src, SnapshotSource)
    assert src.base_url == fleet.base_url and src.requests_made == 0
    assert src.builders() == fleet.builders and src.workers() == fleet.workers
    assert [b.number for b in src.builds(1, limit=2)] == [2, 1]
    build = src.build("AMD64 Fake1 3.x", 1)
    assert build == src.build(1, 1)
    assert src.steps(build.buildid) == list(build.steps)
    assert src.changes(build.buildid) == list(build.changes)
    ref = parse_build_url(f"{fleet.base_url}#/builders/1/builds/1")
    builder, resolved = src.resolve(ref)
    assert builder.name == "AMD64 Fake1 3.x" and resolved == build
    assert src.test_log(build) == fleet.test_logs[build.buildid]
    stdio = build.step("test").logs[0]  # type: ignore[union-attr]
    assert src.log_text(stdio) == fleet.test_logs[build.buildid]
    assert src.log_text(stdio, cap_bytes=30).endswith("== Tests result: FAILURE ==\n")
    with pytest.raises(BuildbotError, match="log not in snapshot"):
        src.log_text(Log(logid=10**6, name="stdio", slug="stdio", stepid=1, num_lines=1))
    with pytest.raises(BuildbotError, match="build not in snapshot"):
        src.build(1, 99)
    with pytest.raises(BuildbotError, match="builder not in snapshot"):
        src.build("nope", 1)
    data = src.fetch_fleet(history=1)
    assert data.source == "snapshot" and all(len(v) == 1 for v in data.builds.values())
    assert set(data.test_logs) == {bl[0].buildid for bl in data.builds.values()}
    assert src.fetch_fleet(branches=["3.13"]).builds == {}


@pytest.mark.parametrize("content", [None, "{not json", '{"format": 99}', '{"format": 1}'])
def test_bad_snapshot_dirs(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "snapshot.json").write_text(content)
    with pytest.raises(BuildbotError) as exc:
        open_client(f"snapshot:{tmp_path}")
    assert "\n" not in str(exc.value) and str(tmp_path) in str(exc.value)


def test_cli_save(master: FakeMaster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "snap"
    rc = main(
        [
            "snapshot",
            "save",
            str(out),
            "--source",
            master.url,
            "--history",
            "2",
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "saved 2 builders, 2 workers, 4 builds, 4 test logs" in printed
    data = load_snapshot(out)
    assert all(len(v) == 2 for v in data.builds.values())


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--source", "ftp://x"], 2, "not a Buildbot URL"),
        (["--source", "snapshot:/x"], 2, "not a snapshot"),
        (["--history", "0"], 2, "--history must be at least 1"),
        (["--source", "http://127.0.0.1:9/", "--retries", "0"], 1, "cannot fetch"),
    ],
)
def test_cli_save_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    assert main(["snapshot", "save", str(tmp_path / "s"), "--no-cache", *argv]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_cache_dir_from_the_environment(
    master: FakeMaster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BBWATCH_CACHE_DIR", str(tmp_path / "envcache"))
    monkeypatch.setenv("BBWATCH_BUILDBOT_URL", master.url)
    assert main(["snapshot", "save", str(tmp_path / "snap")]) == 0
    assert [k for k in open_store(tmp_path / "envcache").keys("client/") if "/builds/" in k]
    assert load_snapshot(tmp_path / "snap").base_url == master.url


def test_cli_unwritable_directory_fails_before_fetching(
    master: FakeMaster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    rc = main(["snapshot", "save", str(tmp_path / "file" / "snap"), "--source", master.url])
    assert rc == 2 and master.server.count() == 0
    assert "cannot write snapshot to" in capsys.readouterr().err


def test_snapshot_find_builds_like_the_client(master: FakeMaster, tmp_path: Path) -> None:
    with open_client(master.url) as c:  # type: ignore[union-attr]
        save_snapshot(c.fetch_fleet(), tmp_path)
        live = c.find_builds(buildid__gt=2, builderid__in=[1, 2], order="-buildid", limit=3)
    src = SnapshotSource(tmp_path)
    offline = src.find_builds(buildid__gt=2, builderid__in=[1, 2], order="-buildid", limit=3)
    assert [b.buildid for b in offline] == [b.buildid for b in live] == [6, 5, 4]
    assert all(b.steps == () and b.changes == () for b in offline)
    assert [b.buildid for b in src.find_builds(complete=True, results=2, limit=None)] == [
        6,
        5,
        4,
        3,
        2,
        1,
    ]
    assert src.properties(1)["got_revision"] == f"{1:040x}"
    with pytest.raises(BuildbotError, match="unsupported filter"):
        src.find_builds(results__like=2)
