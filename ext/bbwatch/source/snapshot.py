"""Offline snapshots: a FleetData saved as readable JSON files, and a source that serves it.

Layout of a snapshot directory (sorted keys, one file per builder, so diffs are readable)::

    snapshot.json            format, base_url, fetched_at, history, builders, workers, errors
    builds/<builderid>.json  that builder's recent builds, newest first, steps/logs/changes
    test-logs/<buildid>.txt  the (tail-capped) stdio of the build's ``test`` step

``SnapshotSource`` answers the same calls as ``BuildbotClient`` (builders, workers, builds,
build, resolve, steps, changes, log_text, test_log, fetch_fleet), so ``--source snapshot:DIR``
runs the site and CLI offline. Files are read and written by the one codec
(``bbwatch.source.codec``: JSON straight to the model dataclasses, type-checked).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bbwatch.errors import BuildbotError
from bbwatch.models import Build, Builder, Change, FleetData, Log, Step, Worker
from bbwatch.source import atomic
from bbwatch.source.codec import dump_json, load_json
from bbwatch.source.logtext import tail_lines
from bbwatch.source.query import BuildQuery, FindBuilds
from bbwatch.source.urls import BuildRef, build_url, master_urls

FORMAT = 1
META = "snapshot.json"


@dataclass
class Meta:
    """``snapshot.json``."""

    format: int
    base_url: str
    fetched_at: float
    history: int = 0
    builders: list[Builder] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _write(path: Path, text: str) -> None:
    """Atomic write: a reader never sees half a file."""
    atomic.write_text(path, text)


def save_snapshot(data: FleetData, directory: str | os.PathLike[str], history: int = 0) -> Path:
    """Write ``data`` under ``directory``; files of an older snapshot there are replaced."""
    root = Path(directory)
    meta = Meta(
        format=FORMAT,
        base_url=data.base_url,
        fetched_at=data.fetched_at,
        history=history or max((len(v) for v in data.builds.values()), default=0),
        builders=sorted(data.builders, key=lambda b: b.builderid),
        workers=sorted(data.workers, key=lambda w: w.workerid),
        errors=list(data.errors),
    )
    wanted_builds = {f"{bid}.json" for bid in data.builds}
    wanted_logs = {f"{bid}.txt" for bid in data.test_logs}
    for bid, builds in data.builds.items():
        _write(root / "builds" / f"{bid}.json", dump_json(builds))
    for buildid, text in data.test_logs.items():
        _write(root / "test-logs" / f"{buildid}.txt", text)
    # Drop what an older recording left behind, and only files of our own layout.
    for sub, keep, pattern in (
        ("builds", wanted_builds, r"[0-9]+\.json"),
        ("test-logs", wanted_logs, r"[0-9]+\.txt"),
    ):
        folder = root / sub
        if folder.is_dir():
            for path in folder.iterdir():
                if re.fullmatch(pattern, path.name) and path.name not in keep:
                    path.unlink()
    _write(root / META, dump_json(meta))  # last: its presence marks a complete snapshot
    return root


def load_snapshot(directory: str | os.PathLike[str]) -> FleetData:
    """The FleetData saved in ``directory``; BuildbotError (one line) if it is not one."""
    root = Path(directory)
    meta_path = root / META
    try:
        meta = load_json(meta_path.read_bytes(), Meta)
        if meta.format != FORMAT:
            raise ValueError(f"unknown snapshot format in {META}")
        builds: dict[int, list[Build]] = {}
        test_logs: dict[int, str] = {}
        builds_dir = root / "builds"
        if builds_dir.is_dir():
            for path in sorted(builds_dir.glob("*.json")):
                if path.stem.isdigit():
                    builds[int(path.stem)] = load_json(path.read_bytes(), list[Build])
        logs_dir = root / "test-logs"
        if logs_dir.is_dir():
            for path in sorted(logs_dir.glob("*.txt")):
                if path.stem.isdigit():
                    test_logs[int(path.stem)] = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildbotError(
            "not a bbwatch snapshot", str(root), f"{META} is missing (record one with "
            "`bbwatch snapshot save DIR --source URL`)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BuildbotError(
            "cannot read snapshot", str(root), f"{type(exc).__name__}: {exc}"
        ) from None
    return FleetData(
        base_url=meta.base_url,
        fetched_at=meta.fetched_at,
        builders=meta.builders,
        workers=meta.workers,
        builds=builds,
        test_logs=test_logs,
        errors=meta.errors,
        source="snapshot",
    )


class SnapshotSource(FindBuilds):
    """Serves a saved snapshot through the client's read interface; never touches the network."""

    requests_made = 0

    def __init__(
        self, directory: str | os.PathLike[str], *, log_cap_bytes: int | None = None
    ) -> None:
        self.directory = Path(directory)
        self.data = load_snapshot(self.directory)
        self.base_url = self.data.base_url
        self.log_cap_bytes = log_cap_bytes
        self._by_id = {b.buildid: b for bl in self.data.builds.values() for b in bl}

    def close(self) -> None:
        return None

    def __enter__(self) -> SnapshotSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def builders(self) -> list[Builder]:
        return list(self.data.builders)

    def workers(self) -> list[Worker]:
        return list(self.data.workers)

    def builds(self, builderid: int, limit: int = 20) -> list[Build]:
        return copy.deepcopy(self.data.builds.get(int(builderid), [])[: max(0, int(limit))])

    def build(self, builderid: int | str, number: int) -> Build:
        bid = self._builderid(builderid)
        for build in self.data.builds.get(bid, []):
            if build.number == int(number):
                return copy.deepcopy(build)
        raise BuildbotError(
            "build not in snapshot", build_url(self.base_url, bid, int(number)), str(self.directory)
        )

    def resolve(self, ref: BuildRef) -> tuple[Builder, Build]:
        key: int | str = ref.builderid if ref.builderid is not None else (ref.builder_name or "")
        build = self.build(key, ref.number)
        builder = self.data.builder(build.builderid)
        assert builder is not None  # _builderid checked it exists
        return builder, build

    def steps(self, buildid: int) -> list[Step]:
        return list(self._build_by_id(buildid).steps)

    def changes(self, buildid: int) -> list[Change]:
        return list(self._build_by_id(buildid).changes)

    def properties(self, buildid: int) -> dict[str, object]:
        return dict(self._build_by_id(buildid).properties)

    def _find(self, query: BuildQuery) -> list[Build]:
        """``find_builds`` (``FindBuilds``) over the recorded builds: the same query."""
        return query.apply(self._by_id.values())

    def log_text(self, log: Log, cap_bytes: int | None = None) -> str:
        """Only test-step stdio logs are recorded; other logs raise BuildbotError."""
        for build in self._by_id.values():
            test = build.step("test")
            if test and any(lg.logid == log.logid for lg in test.logs):
                text = self.data.test_logs.get(build.buildid)
                if text is not None:
                    return _cap(text, cap_bytes if cap_bytes is not None else self.log_cap_bytes)
        raise BuildbotError(
            "log not in snapshot", f"{master_urls(self.base_url).api}logs/{log.logid}/raw",
            str(self.directory)
        )

    def test_log(self, build: Build) -> str | None:
        text = self.data.test_logs.get(build.buildid)
        if text is None:
            return None
        return _cap(text, self.log_cap_bytes)

    def fetch_fleet(
        self,
        history: int = 20,
        branches: Sequence[str] = (),
        *,
        known_log: Callable[[int, str], bool] | None = None,
    ) -> FleetData:
        """The recorded fleet cut to ``history``; ``known_log`` is accepted for the client's
        signature and unused (a snapshot's logs are already on disk)."""
        wanted = {
            b.builderid for b in self.data.builders if not branches or b.branch in branches
        }
        builds = {
            bid: copy.deepcopy(bl[: max(1, int(history))])
            for bid, bl in self.data.builds.items()
            if bid in wanted
        }
        kept = {b.buildid for bl in builds.values() for b in bl}
        return FleetData(
            base_url=self.data.base_url,
            fetched_at=self.data.fetched_at,
            builders=list(self.data.builders),
            workers=list(self.data.workers),
            builds=builds,
            test_logs={k: v for k, v in self.data.test_logs.items() if k in kept},
            errors=list(self.data.errors),
            source="snapshot",
        )

    def _builderid(self, builder: int | str) -> int:
        for b in self.data.builders:
            if b.builderid == builder or b.name == builder or str(b.builderid) == builder:
                return b.builderid
        raise BuildbotError("builder not in snapshot", str(self.directory), repr(builder))

    def _build_by_id(self, buildid: int) -> Build:
        try:
            return self._by_id[int(buildid)]
        except KeyError:
            raise BuildbotError(
                "build not in snapshot", f"{master_urls(self.base_url).api}builds/{buildid}",
                str(self.directory)
            ) from None


def _cap(text: str, cap: int | None) -> str:
    """The tail of ``text`` within ``cap`` bytes, in whole lines (as the client cuts logs)."""
    if cap is None:
        return text
    return tail_lines([text.encode("utf-8")], cap)[0]
