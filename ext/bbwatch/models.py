"""Plain records for the Buildbot domain, shared by the client, the analysis and the pages.

They mirror Buildbot's REST API v2 resources (see ``shared/reference/cpython-ci.md`` §4) but keep
only what bbwatch uses. Everything below the client works on these, never on raw JSON. This
module imports nothing from bbwatch.

The resources are ``msgspec.Struct`` records with ``gc=False``: a live build holds ~30,000 of
them (150 builders x 20 builds x their steps, logs and changes) for its whole length, and as
plain dataclasses each was one more object for every full pass of Python's garbage collector
while Sphinx writes (~0.1 s a build). They hold only data, never a reference cycle, which is
what ``gc=False`` asks. ``FleetData``, one per fetch, stays a dataclass.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

import msgspec


class Result(enum.IntEnum):
    """Buildbot's result codes (``buildbot.process.results``)."""

    SUCCESS = 0
    WARNINGS = 1
    FAILURE = 2
    SKIPPED = 3
    EXCEPTION = 4
    RETRY = 5
    CANCELLED = 6

    @property
    def word(self) -> str:
        return self.name.lower()

    @property
    def colour(self) -> str:
        return _COLOURS[self]

    @property
    def is_bad(self) -> bool:
        return self in (Result.FAILURE, Result.EXCEPTION, Result.RETRY)

    @property
    def is_infra(self) -> bool:
        """EXCEPTION and RETRY are Buildbot/worker problems, not test failures."""
        return self in (Result.EXCEPTION, Result.RETRY)


_COLOURS = {
    Result.SUCCESS: "green",
    Result.WARNINGS: "orange",
    Result.FAILURE: "red",
    Result.SKIPPED: "white",
    Result.EXCEPTION: "purple",
    Result.RETRY: "purple",
    Result.CANCELLED: "pink",
}


def result_of(code: int | None) -> Result | None:
    """Map an API ``results`` value (None while running) to a Result."""
    if code is None:
        return None
    try:
        return Result(code)
    except ValueError:
        return None


_BRANCH_TAG = re.compile(r"^(3\.x|\d+\.\d+|PullRequest)$")


class Builder(msgspec.Struct, frozen=True, gc=False):
    builderid: int
    name: str
    tags: tuple[str, ...] = ()
    description: str | None = None

    @property
    def branch(self) -> str | None:
        """The branch tag (``3.x``, ``3.14``, ``PullRequest``), else the name's last word."""
        for tag in self.tags:
            if _BRANCH_TAG.match(tag):
                return tag
        last = self.name.rsplit(" ", 1)[-1] if self.name else ""
        if last == "PR":
            return "PullRequest"
        return last if _BRANCH_TAG.match(last) else None

    @property
    def stable(self) -> bool:
        return "stable" in self.tags

    @property
    def tier(self) -> int | None:
        for tag in self.tags:
            if tag.startswith("tier-") and tag[5:].isdigit():
                return int(tag[5:])
        return None


class Worker(msgspec.Struct, frozen=True, gc=False):
    workerid: int
    name: str
    connected: bool
    builderids: tuple[int, ...] = ()
    paused: bool = False
    admin: str | None = None  # owner contact, from worker info when the worker reports it


class Change(msgspec.Struct, frozen=True, gc=False):
    changeid: int
    revision: str | None
    author: str
    comments: str
    files: tuple[str, ...] = ()
    when_timestamp: int | None = None
    branch: str | None = None
    revlink: str | None = None
    repository: str | None = None

    @property
    def title(self) -> str:
        return self.comments.splitlines()[0] if self.comments else ""


class Log(msgspec.Struct, frozen=True, gc=False):
    logid: int
    name: str
    slug: str
    stepid: int
    num_lines: int
    type: str = "s"
    complete: bool = True


class Step(msgspec.Struct, frozen=True, gc=False):
    stepid: int
    buildid: int
    number: int
    name: str
    results: int | None
    state_string: str = ""
    complete: bool = True
    started_at: int | None = None
    complete_at: int | None = None
    logs: tuple[Log, ...] = ()
    hidden: bool = False

    @property
    def result(self) -> Result | None:
        return result_of(self.results)


class Build(msgspec.Struct, gc=False):
    buildid: int
    builderid: int
    number: int
    results: int | None
    complete: bool
    started_at: int | None = None
    complete_at: int | None = None
    state_string: str = ""
    workerid: int | None = None
    properties: dict[str, object] = msgspec.field(default_factory=dict)
    # Tuples, not lists: a tuple of untracked records is itself left out of the collector's
    # passes, so the window's ~21,000 steps and changes are never visited by them.
    steps: tuple[Step, ...] = ()
    changes: tuple[Change, ...] = ()

    def __post_init__(self) -> None:
        if type(self.steps) is not tuple:  # a list handed to the constructor becomes one
            self.steps = tuple(self.steps)
        if type(self.changes) is not tuple:
            self.changes = tuple(self.changes)

    @property
    def result(self) -> Result | None:
        return result_of(self.results)

    @property
    def revision(self) -> str | None:
        value = self.properties.get("got_revision") or self.properties.get("revision")
        if isinstance(value, str) and value:
            return value
        for change in reversed(self.changes):
            if change.revision:
                return change.revision
        return None

    def step(self, name: str) -> Step | None:
        for step in self.steps:
            if step.name == name:
                return step
        return None


@dataclass
class FleetData:
    """Everything the live pages need from a master, fetched once per site build.

    ``builds`` maps builderid to that builder's most recent builds, newest first, with
    ``steps`` and ``changes`` filled. ``test_logs`` maps buildid to the (tail-capped) raw stdio
    of the ``test`` step, for builds whose test step did not succeed or whose result is
    WARNINGS/FAILURE. ``errors`` lists what could not be fetched (one line each), so pages can
    say what is missing instead of failing.
    """

    base_url: str
    fetched_at: float
    builders: list[Builder] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    builds: dict[int, list[Build]] = field(default_factory=dict)
    test_logs: dict[int, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    source: str = "live"  # "live", "cache" (master unreachable, older data) or "snapshot"
    # buildid -> identity of a complete build's test log (``BuildbotClient.log_identity``):
    # also for logs skipped because the caller already held their parse
    log_ids: dict[int, str] = field(default_factory=dict)

    def builder(self, builderid: int) -> Builder | None:
        for builder in self.builders:
            if builder.builderid == builderid:
                return builder
        return None

    def worker_for(self, builderid: int) -> Worker | None:
        for worker in self.workers:
            if builderid in worker.builderids:
                return worker
        return None
