"""Fleets and builds for every test, like Buildbot's ``fakedb`` rows: small functions with
sensible defaults that compose (``change`` -> ``build`` -> ``add_builder`` -> a ``FleetData``).

    fleet = make_fleet()
    add_builder(fleet, 1, "AMD64 Debian 3.x", [OK, OK, FAIL])          # oldest first
    add_builder(fleet, 2, "ARM64 macOS 3.x", [OK, WARN], connected=False)
    build(7, builderid=2, number=3, result=Result.FAILURE, revision="abc")  # one Build
    builds([S, F, None], builderid=3)                                  # newest first, no steps

A history slot is ``(result, test_log, failing_step)``: ``OK``, ``FAIL`` (the real 3.13 log
with five failing test files), ``WARN`` (a test that failed then passed on re-run) and
``COMPILE`` (the compile step failed, no test log); a result of None is a running build. Test
logs are real regrtest output (``tests/unit/samples/regrtest``), so the parser path is the
production one. Build k of a builder carries revision ``rev<k>`` and one change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bbwatch.models import Build, Builder, Change, FleetData, Result, Step, Worker

SAMPLES = Path(__file__).parent / "unit" / "samples" / "regrtest"
FULL = (SAMPLES / "real-313-full.log").read_text()  # 5 failing test files, 2 flaky ones
FLAKY = (SAMPLES / "real-313-flaky.log").read_text()  # test_bb_flaky failed then passed
NOW = 1_800_000_000
DAY = 86400
BASE_URL = "http://127.0.0.1:9/"  # nothing listens there: a test never reaches a master
AUTHOR = "Dev <dev@example.org>"
STEPS = ("git", "configure", "compile", "test")
TAGS = ("3.x", "stable", "tier-1")

Slot = tuple[Result | None, str | None, str | None]
OK: Slot = (Result.SUCCESS, None, None)
FAIL: Slot = (Result.FAILURE, FULL, "test")
WARN: Slot = (Result.WARNINGS, FLAKY, None)
COMPILE: Slot = (Result.FAILURE, None, "compile")


def change(changeid: int, revision: str | None = None, *, author: str = AUTHOR,
           comments: str | None = None, files: Iterable[str] = ("Doc/readme.rst",)) -> Change:
    return Change(changeid, revision, author, comments if comments is not None else
                  f"change {changeid}", files=tuple(files))


def steps(buildid: int, result: Result | None, failing_step: str | None = None,
          names: Sequence[str] = STEPS) -> list[Step]:
    """The build's steps, numbered from 1, up to and including the failing one; a WARNINGS
    build's test step has WARNINGS."""
    found = []
    for number, name in enumerate(names, start=1):
        res = Result.SUCCESS
        if name == failing_step:
            res = Result.FAILURE
        elif name == "test" and result == Result.WARNINGS:
            res = Result.WARNINGS
        found.append(Step(buildid * 10 + number, buildid, number, name, int(res)))
        if name == failing_step:
            break
    return found


def build(buildid: int, builderid: int = 1, number: int = 1,
          result: Result | int | None = Result.SUCCESS, *, complete: bool | None = None,
          started_at: int | None = None, duration: int = 600, revision: str | None = None,
          changes: list[Change] | None = None, steps: list[Step] | None = None,
          properties: dict | None = None) -> Build:
    """One build; ``result=None`` is a running build. ``revision`` goes to ``got_revision``."""
    if properties is None:
        properties = {"got_revision": revision} if revision is not None else {}
    return Build(
        buildid=buildid, builderid=builderid, number=number,
        results=None if result is None else int(result),
        complete=result is not None if complete is None else complete,
        started_at=started_at, complete_at=None if started_at is None else started_at + duration,
        properties=properties, changes=list(changes or []), steps=list(steps or []),
    )


def builds(results: Sequence[Result | None], builderid: int = 1, *,
           first_buildid: int | None = None,
           start: int = 1_700_000_000, interval: int = 3600, author: str = "dev <dev@example.org>",
           files: dict[int, Iterable[str]] | None = None,
           default_files: Iterable[str] = ("Lib/unrelated.py",)) -> list[Build]:
    """Builds numbered 1.. from ``results`` (oldest first), returned newest first like the
    client; build n has buildid and changeid ``first_buildid + n - 1`` (default builderid*1000
    + n), revision ``rev<n>`` and one change touching ``files[n]`` (or ``default_files``)."""
    first = builderid * 1000 + 1 if first_buildid is None else first_buildid
    made = []
    for n, result in enumerate(results, start=1):
        buildid = first + n - 1
        made.append(build(
            buildid, builderid, n, result, started_at=start + n * interval,
            revision=f"rev{n}",
            changes=[change(buildid, f"rev{n}", author=author, comments=f"change {n}",
                            files=(files or {}).get(n, default_files))],
        ))
    return made[::-1]


def make_fleet(base_url: str = BASE_URL, now: int = NOW) -> FleetData:
    return FleetData(base_url=base_url, fetched_at=now)


def add_builder(fleet: FleetData, builderid: int, name: str, history: Sequence[Slot], *,
                tags: Iterable[str] = TAGS, connected: bool = True, worker: str | None = None,
                admin: str = "owner@example.org",
                buildid: Callable[[int], int] | None = None,
                started_at: Callable[[int], int] | None = None,
                comments: str = "change {k}",
                files: dict[int, tuple[str, ...]] | tuple[str, ...] = ("Doc/readme.rst",),
                ) -> list[Build]:
    """A builder with its worker and its builds from ``history`` (oldest first), the test logs
    into ``fleet.test_logs``. Build k (from 1): buildid ``buildid(k)`` (default builderid*100
    + k), started ``started_at(k)`` (default: one a day, the last one a day before NOW),
    revision ``rev<k>``, change ``builderid*100 + k`` with ``comments`` (``{k}`` filled in)
    touching ``files`` (one tuple for all, or per k, default ``Doc/readme.rst``)."""
    fleet.builders.append(Builder(builderid, name, tuple(tags)))
    fleet.workers.append(Worker(builderid, worker or f"worker-{builderid}", connected,
                                (builderid,), admin=admin))
    made = []
    for k, (result, log, failing_step) in enumerate(history, start=1):
        bid = buildid(k) if buildid else builderid * 100 + k
        start = started_at(k) if started_at else NOW - (len(history) - k + 1) * DAY
        touched = files.get(k, ("Doc/readme.rst",)) if isinstance(files, dict) else files
        made.append(build(
            bid, builderid, k, result, started_at=start, revision=f"rev{k}",
            changes=[change(builderid * 100 + k, f"rev{k}", comments=comments.format(k=k),
                            files=touched)],
            steps=steps(bid, result, failing_step),
        ))
        if log:
            fleet.test_logs[bid] = log
    fleet.builds[builderid] = made[::-1]
    return made


class FleetMaker:
    """``add_builder`` on one fleet with buildids numbered 1, 2, ... across builders."""

    def __init__(self, base_url: str = BASE_URL, now: int = NOW) -> None:
        self.fleet = make_fleet(base_url, now)
        self.next_buildid = 1
        self.files: dict[int, tuple[str, ...]] = {}

    def builder(self, builderid: int, name: str, tags: Iterable[str], history: Sequence[Slot],
                connected: bool = True, worker: str | None = None) -> list[Build]:
        first = self.next_buildid
        self.next_buildid += len(history)
        return add_builder(self.fleet, builderid, name, history, tags=tags, connected=connected,
                           worker=worker, buildid=lambda k: first + k - 1, files=self.files)
