"""What bbwatch keeps from one build's test log: ``BuildTests`` (the verdict per test file) and
``ParsedLog`` (that verdict plus capped excerpts, the seed and the outcomes matching reads), so
nothing downstream needs the raw text.

``parse_log`` runs the regrtest parser over one log; ``build_tests`` does it for every build of
a fleet, once per log, through an optional store of completed builds' parses (``ParseStore``,
e.g. ``bbwatch.source.parsecache.ParsedLogCache``). ``PARSER_VERSION`` names what ``parse_log``
gives: stored parses of another version are never read.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from bbwatch.logs import regrtest
from bbwatch.logs.failures import failures_from_run
from bbwatch.logs.results import TestRun
from bbwatch.models import Build, FleetData, Result

# Bump when parse_log gives another ParsedLog for some log (a parser fix, a new field, other
# excerpts): every stored parse is then made again. tests/unit/test_parse_golden.py fails
# until you do (and regenerate its golden files: BBWATCH_UPDATE_GOLDEN=1).
PARSER_VERSION = 2  # 2: ParsedLog.command (the builder's regrtest command line)
EXCERPT_LINES = 25  # lines of log shown per problem
EXCERPT_CHARS = 4000


class BuildTests(msgspec.Struct, frozen=True, gc=False):
    """What one build's test step tells about test files.

    ``ran`` is False when the test step did not run to a verdict (compile failure, exception,
    build still running): such builds are neutral for test streaks and flakiness.

    One per build of the window, alive for a whole site build: a ``msgspec.Struct`` out of the
    garbage collector's passes (``gc=False``; see ``bbwatch.models``).
    """

    ran: bool
    failed: frozenset[str] = frozenset()  # test files that failed (after any re-run)
    flaky: frozenset[str] = frozenset()  # test files that failed, then passed on re-run
    test_ids: Mapping[str, tuple[str, ...]] = msgspec.field(default_factory=dict)
    # Test files the log shows running (any outcome), sorted: ask with ``shows``. A tuple, not
    # a frozenset: ~420 names in each of ~500 parsed logs, and a set is visited name by name in
    # every pass of the garbage collector (~17 ms a full pass), a tuple of str not at all.
    seen: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if type(self.seen) is not tuple:  # a set handed to the constructor
            msgspec.structs.force_setattr(self, "seen", tuple(sorted(self.seen)))

    def shows(self, test_file: str) -> bool:
        """Whether the log shows ``test_file`` running."""
        at = bisect.bisect_left(self.seen, test_file)
        return at < len(self.seen) and self.seen[at] == test_file

    def status(self, test_file: str) -> str | None:
        """``"fail"``, ``"flaky"``, ``"pass"``, or None when the test step did not run."""
        if not self.ran:
            return None
        if test_file in self.failed:
            return "fail"
        if test_file in self.flaky:
            return "flaky"
        return "pass"


_SEED = re.compile(r"Using random seed:? (\d+)")


@dataclass(frozen=True)
class ParsedLog:
    """Everything bbwatch takes from one test log, so nothing downstream needs the raw text.

    Small (capped excerpts), encoded by msgspec (``bbwatch.source.codec``) and, for a completed
    build, immutable: it is cached per build and kept with the last good fetch instead of the
    log.
    """

    tests: BuildTests
    excerpts: dict[str, str]
    disk_full: bool
    tail: str
    digest: str = ""  # sha256 of the log text it was parsed from
    seed: str = ""  # regrtest's random seed, for the triage pages' reproduce command
    # test file -> (kind, first error message) and -> test ids, as matching reads the run
    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    outcome_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the builder's regrtest command line from the log's head (TestRun.command), for the
    # reproduce command's -u, --timeout and -j once the raw log is gone
    command: str = ""


def log_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _tail(text: str, lines: int = EXCERPT_LINES) -> str:
    return cap("\n".join(text.rstrip().splitlines()[-lines:]))


def cap(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > EXCERPT_LINES:
        lines = lines[:EXCERPT_LINES] + ["[...]"]
    out = "\n".join(lines)
    return out if len(out) <= EXCERPT_CHARS else out[:EXCERPT_CHARS] + "\n[...]"


def parse_log(text: str, ran: bool, digest: str | None = None) -> ParsedLog:
    """What a test step's log says, through ``bbwatch.logs.regrtest``."""
    run = regrtest.parse_text(text)
    failed = set(run.failed)
    if not failed and run.truncated:  # regrtest died before its summary: name what it can
        failed = {x.test_file for x in [*run.crashes, *run.timeouts] if x.test_file}
    flaky = set(run.rerun_passed) - failed
    ids: dict[str, list[str]] = {}
    for case in run.cases:
        if case.test_file in failed | flaky and case.test_id:
            found = ids.setdefault(case.test_file, [])
            if case.test_id not in found:
                found.append(case.test_id)
    excerpts = {t: run.excerpt(t, EXCERPT_LINES) or "" for t in failed | flaky}
    return ParsedLog(
        BuildTests(ran, frozenset(failed), frozenset(flaky),
                   {k: tuple(v) for k, v in ids.items()},
                   tuple(sorted(frozenset(run.outcomes) | failed | flaky))),
        {t: cap(e) if e.strip() else _tail(text) for t, e in excerpts.items()},
        "No space left on device" in text,
        _tail(text),
        digest if digest is not None else log_digest(text),
        found.group(1) if (found := _SEED.search(text)) else "",
        *run_outcomes(run),
        command=run.command or "",
    )


class ParseStore(Protocol):
    """Completed builds' parses by buildid and log digest (the disk edge, owned by the caller)."""

    def get(self, buildid: int, digest: str) -> ParsedLog | None: ...

    def put(self, buildid: int, parsed: ParsedLog) -> None: ...


# a test step that ended in one of these ran to a verdict (codes: no Result enum per step)
_VERDICT_CODES = frozenset(int(r) for r in (Result.SUCCESS, Result.WARNINGS, Result.FAILURE))


def build_tests(
    fleet: FleetData, cache: ParseStore | None = None,
    preparsed: dict[int, ParsedLog] | None = None,
) -> tuple[dict[int, BuildTests], dict[int, ParsedLog]]:
    """BuildTests for every build of the fleet, parsing each available test log once.

    ``cache`` (e.g. a ``bbwatch.source.parsecache.ParsedLogCache``, the disk edge) holds
    completed builds' parsed logs, so a warm build parses only new ones. ``preparsed`` stands in
    for logs the fleet does not carry (the last-fleet file keeps parsed logs, not the raw text).
    """
    tests: dict[int, BuildTests] = {}
    parsed: dict[int, ParsedLog] = {}
    for builds in fleet.builds.values():
        for build in builds:
            step = build.step("test")
            ran = bool(step is not None and step.complete and step.results in _VERDICT_CODES)
            text = fleet.test_logs.get(build.buildid)
            found = None
            if text:
                found = _parse_cached(build, text, ran, cache)
            elif preparsed:
                found = preparsed.get(build.buildid)
            if found is not None:
                if found.tests.ran != ran:
                    found = dataclasses.replace(
                        found, tests=msgspec.structs.replace(found.tests, ran=ran))
                parsed[build.buildid] = found
                tests[build.buildid] = found.tests
            else:
                tests[build.buildid] = BuildTests(ran=ran)
    return tests, parsed


def _parse_cached(build: Build, text: str, ran: bool, cache: ParseStore | None) -> ParsedLog:
    """A completed build's log never changes: its parse comes from the cache when it can."""
    digest = log_digest(text)
    use_cache = cache is not None and build.complete
    if use_cache:
        hit = cache.get(build.buildid, digest)
        if hit is not None:
            return hit
    found = parse_log(text, ran, digest)
    if use_cache:
        cache.put(build.buildid, found)
    return found


def run_outcomes(run: TestRun) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, ...]]]:
    """test file -> (kind, first error message), and -> test ids, from a parsed TestRun.

    Computed once per log by ``parse_log`` (and cached with it), never per page.
    """
    found: dict[str, tuple[str, str]] = {}
    ids: dict[str, tuple[str, ...]] = {}
    for f in failures_from_run(run):
        if f.test_id and f.test_id not in ids.get(f.test_file, ()):
            ids[f.test_file] = (*ids.get(f.test_file, ()), f.test_id)
        kind = "flaky" if f.passed_on_rerun else f.kind
        prev = found.get(f.test_file)
        # The strongest outcome wins: a crash or timeout says more than one failed case.
        if prev is None or (prev[0] in ("failed", "flaky") and kind not in ("failed", "flaky")):
            found[f.test_file] = (kind, f.message or (prev[1] if prev else ""))
    return found, ids
