"""History analysis over one builder's recent builds: streaks, blamelists, suspects, flakiness.

Pure functions over :mod:`bbwatch.models` dataclasses (builds newest first, as the client
returns them) and ``bbwatch.logs.parsed.BuildTests`` (what one build's test step says per test
file). No I/O.

Rules, with the reasons behind them:

- A build is *bad* when its result is FAILURE, EXCEPTION or RETRY, *good* when SUCCESS, and
  *neutral* otherwise (running, SKIPPED, CANCELLED, WARNINGS): a neutral build neither ends nor
  extends a builder's streak.
- WARNINGS is neutral, as on CPython's release status dashboard (python/buildmaster-config
  ``master/custom/release_dashboard.py``, ``Builder.problems``): the first failing build of a
  streak is the oldest FAILURE after the last SUCCESS, and a WARNINGS build in between (a test
  failed, then passed on re-run) does not end it. A builder whose latest verdict is WARNINGS has
  no failing streak. The blamelist therefore runs back to the last SUCCESS, like Buildbot's own.
- A test streak only looks at builds whose test step ran: a compile failure in the middle does
  not end (nor extend) a test's failing streak.
- Flip rate follows TestGrid's flip analyser: runs of >= 3 consecutive failures are breakage and
  are dropped before counting flips; a failed-then-passed (re-run) cell always counts as a flip.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bbwatch.logs.parsed import BuildTests
from bbwatch.models import Build, Change, Result

BREAKAGE_RUN = 3  # consecutive failures that count as breakage, not flakiness (TestGrid)
MIN_FLIPS = 2  # flips on one builder needed before calling a test flaky from flips alone


# result codes, so that a streak walk builds no Result enum per build
_BAD_CODES = frozenset(int(r) for r in Result if r.is_bad)
_GOOD_CODES = frozenset((int(Result.SUCCESS),))
_WARNINGS = int(Result.WARNINGS)


def is_bad(build: Build) -> bool:
    return build.complete and build.results in _BAD_CODES


def is_good(build: Build) -> bool:
    return build.complete and build.results in _GOOD_CODES


@dataclass(frozen=True)
class Streak:
    """The current run of bad builds (or bad test results) on one builder."""

    builds: tuple[Build, ...]  # the bad builds of the streak, newest first
    last_good: Build | None  # None: the streak goes back past the analysed history
    blamelist: tuple[Change, ...]  # changes after last_good up to first_failing, newest first

    @property
    def latest(self) -> Build:
        return self.builds[0]

    @property
    def first_failing(self) -> Build:
        return self.builds[-1]

    @property
    def length(self) -> int:
        return len(self.builds)

    @property
    def complete(self) -> bool:
        """True when the build before the streak is known (a real "last good build")."""
        return self.last_good is not None

    @property
    def since(self) -> int | None:
        """When the streak started (the first failing build's start), epoch seconds."""
        first = self.first_failing
        return first.started_at or first.complete_at

    @property
    def start_revision(self) -> str | None:
        return self.first_failing.revision


_RESULT_CODES = frozenset(int(r) for r in Result)


def _completed(builds: Sequence[Build]) -> list[Build]:
    # ``b.result is not None``, without building an enum per build: this runs per test file
    return [b for b in builds if b.complete and b.results in _RESULT_CODES]


def _blamelist(builds: Sequence[Build], first_failing: Build, last_good: Build | None) -> tuple:
    """Changes after ``last_good`` up to and including ``first_failing``, newest first.

    Neutral builds in between (cancelled, retried) carry changes too. A build's change list may
    run back further than ``last_good`` (a rebuild, a change listed twice), so changes already
    built by ``last_good`` or earlier are dropped: they were green there, they cannot have
    broken the streak.
    """
    ordered = list(builds)  # newest first
    start = ordered.index(first_failing)
    end = ordered.index(last_good) if last_good is not None else start + 1
    built_before = {c.changeid for b in ordered[end:] for c in b.changes}
    good_ids = [c.changeid for c in last_good.changes] if last_good is not None else []
    floor = max(good_ids) if good_ids else None
    seen: set[int] = set()
    changes: list[Change] = []
    for build in ordered[start:end]:
        for change in reversed(build.changes):
            if change.changeid in seen or change.changeid in built_before:
                continue
            if floor is not None and change.changeid <= floor:
                continue
            seen.add(change.changeid)
            changes.append(change)
    return tuple(changes)


def builder_streak(builds: Sequence[Build]) -> Streak | None:
    """The failing streak ending at the builder's latest verdict, or None if that is good.

    ``builds`` are one builder's builds, newest first (running builds are ignored). The latest
    verdict is the newest SUCCESS, WARNINGS or bad build: when it is WARNINGS there is no
    failing streak (the release dashboard shows a warning, not a failure); otherwise WARNINGS
    builds inside the streak are skipped, and the streak reaches back to the last SUCCESS.
    """
    bad: list[Build] = []
    last_good: Build | None = None
    for build in _completed(builds):
        if is_bad(build):
            bad.append(build)
        elif is_good(build):
            last_good = build
            break
        elif build.results == _WARNINGS and not bad:
            return None  # the latest verdict is a warning, not a failure
    if not bad:
        return None
    return Streak(tuple(bad), last_good, _blamelist(builds, bad[-1], last_good))


def streak_of_test(
    builds: Sequence[Build], tests: Mapping[int, BuildTests], test_file: str
) -> Streak | None:
    """The streak of builds in which ``test_file`` fails, ending at its latest verdict.

    ``tests`` maps buildid to what that build's test step said; builds missing from it or whose
    test step did not run are skipped. Returns None when the test's latest verdict is a pass.
    """
    bad: list[Build] = []
    last_good: Build | None = None
    for build in _completed(builds):
        status = tests.get(build.buildid, _NOT_RUN).status(test_file)
        if status is None:
            continue
        if status == "fail":
            bad.append(build)
        else:
            last_good = build
            break
    if not bad:
        return None
    return Streak(tuple(bad), last_good, _blamelist(builds, bad[-1], last_good))


_NOT_RUN = BuildTests(ran=False)


# --- suspects -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suspect:
    change: Change
    score: int  # 3 touches the test file, 2 the module under test, 1 test support, 0 other
    reason: str


def tested_module(test_file: str) -> str:
    """``test_os`` -> ``os``; ``test.test_json.test_dump`` -> ``json``."""
    name = test_file.removeprefix("test.").split(".", 1)[0]
    return name[5:] if name.startswith("test_") else name


def _touches_test(path: str, test_file: str) -> bool:
    top = test_file.removeprefix("test.").split(".", 1)[0]
    stem = posixpath.splitext(posixpath.basename(path))[0]
    parts = path.split("/")
    return stem == top or top in parts[:-1]


def _touches_module(path: str, module: str) -> bool:
    if not module:
        return False
    stem = posixpath.splitext(posixpath.basename(path))[0]
    parts = path.split("/")
    if "test" in parts[:-1] or stem.startswith("test_"):
        return False
    candidates = {module, f"_{module}", f"{module}module", f"_{module}module"}
    return stem in candidates or module in parts[:-1]


def suspects(changes: Iterable[Change], test_file: str | None) -> list[Suspect]:
    """Rank a blamelist: a change touching the failing test's file ranks first, then one
    touching the module it tests, then test-support changes, then the rest (newest first)."""
    ranked: list[tuple[int, int, Suspect]] = []
    module = tested_module(test_file) if test_file else ""
    for order, change in enumerate(changes):
        score, reason = 0, "in the blamelist"
        for path in change.files:
            if test_file and _touches_test(path, test_file):
                score, reason = 3, f"touches {path}, the failing test's file"
                break
            if test_file and _touches_module(path, module) and score < 2:
                score, reason = 2, f"touches {path}, the module {test_file} tests"
            elif "/test/support" in f"/{path}" and score < 1:
                score, reason = 1, f"touches test support ({path})"
        ranked.append((-score, order, Suspect(change, score, reason)))
    return [s for _, _, s in sorted(ranked, key=lambda t: (t[0], t[1]))]


# --- flakiness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlakeEvidence:
    kind: str  # "rerun" | "same-revision" | "flips"
    builderid: int
    build: Build
    detail: str


@dataclass(frozen=True)
class FlipStats:
    builderid: int
    runs: int  # verdicts considered (after dropping breakage runs)
    flips: int
    failures: int  # failed or failed-then-passed cells among the considered runs

    @property
    def rate(self) -> float:
        return self.flips / self.runs if self.runs else 0.0


def verdicts_of_test(
    builds: Sequence[Build], tests: Mapping[int, BuildTests], test_file: str
) -> list[tuple[Build, str]]:
    """The test's verdicts on one builder, oldest first: (build, "fail"|"flaky"|"pass")."""
    seq: list[tuple[Build, str]] = []
    for build in reversed(_completed(builds)):
        status = tests.get(build.buildid, _NOT_RUN).status(test_file)
        if status is not None:
            seq.append((build, status))
    return seq


def _drop_breakage(seq: list[tuple[Build, str]]) -> list[tuple[Build, str]]:
    kept: list[tuple[Build, str]] = []
    i = 0
    while i < len(seq):
        j = i
        while j < len(seq) and seq[j][1] == "fail":
            j += 1
        if j - i >= BREAKAGE_RUN:
            i = j  # a run of real breakage: neither flips nor runs
            continue
        if j > i:
            kept.extend(seq[i:j])
            i = j
        else:
            kept.append(seq[i])
            i += 1
    return kept


def flip_stats(
    builderid: int, builds: Sequence[Build], tests: Mapping[int, BuildTests], test_file: str
) -> FlipStats:
    """Flips to failing over the considered runs, ignoring runs of >= 3 failures."""
    return _flip_stats(builderid, verdicts_of_test(builds, tests, test_file))


def _flip_stats(builderid: int, verdicts: list[tuple[Build, str]]) -> FlipStats:
    seq = _drop_breakage(verdicts)
    flips = failures = 0
    previous = "pass"
    for _build, status in seq:
        if status == "flaky":
            flips += 1
            failures += 1
        elif status == "fail":
            failures += 1
            if previous != "fail":
                flips += 1
        previous = status
    return FlipStats(builderid, len(seq), flips, failures)


def flakiness(
    history: Mapping[int, Sequence[Build]], tests: Mapping[int, BuildTests], test_file: str
) -> tuple[list[FlakeEvidence], list[FlipStats]]:
    """Evidence that ``test_file`` is flaky across the fleet, plus per-builder flip statistics.

    ``history`` maps builderid to that builder's builds (newest first). Evidence kinds:

    - ``rerun``: failed then passed on re-run in the same build (a WARNINGS build on CPython);
    - ``same-revision``: failed and passed on the same revision, either rebuilt on the same
      builder, or on another builder when the failure is isolated on its own builder (passes
      right before and right after): a test failing on one platform only, from some change
      on, is a platform-specific breakage, not a flake;
    - ``flips``: at least two flips to failing on one builder outside breakage runs.
    """
    evidence: list[FlakeEvidence] = []
    stats: list[FlipStats] = []
    by_revision: dict[str, list[tuple[int, Build, str]]] = {}
    isolated: set[int] = set()  # failures with a pass right before and right after
    runs_it: set[int] = set()  # builders whose logs show this test running at all
    for builderid, builds in history.items():
        seq = verdicts_of_test(builds, tests, test_file)
        if not seq:
            continue
        if any(tests.get(b.buildid, _NOT_RUN).shows(test_file) for b, _ in seq):
            runs_it.add(builderid)
        for i in range(1, len(seq) - 1):
            if seq[i][1] == "fail" and seq[i - 1][1] != "fail" and seq[i + 1][1] != "fail":
                isolated.add(seq[i][0].buildid)
        for build, status in seq:
            if status == "flaky":
                evidence.append(
                    FlakeEvidence("rerun", builderid, build, "failed, then passed on re-run")
                )
            if build.revision:
                by_revision.setdefault(build.revision, []).append((builderid, build, status))
        flip = _flip_stats(builderid, seq)
        stats.append(flip)
        if flip.flips >= MIN_FLIPS:
            last = next(b for b, s in reversed(seq) if s != "pass")
            evidence.append(
                FlakeEvidence(
                    "flips", builderid, last, f"{flip.flips} flips in {flip.runs} runs"
                )
            )
    for revision, cells in by_revision.items():
        passes = [c for c in cells if c[2] != "fail"]
        for builderid, build, status in cells:
            if status != "fail":
                continue
            same = [c for c in passes if c[0] == builderid]
            # a green build has no log to read: count another builder's pass only if that
            # builder is known to run this test (many builders run different test sets)
            other = [c for c in passes if c[0] != builderid and c[0] in runs_it]
            if same:
                detail = f"failed and passed on {revision[:12]} on the same builder"
            elif other and build.buildid in isolated:
                detail = f"failed on {revision[:12]}, which passed on another builder"
            else:
                continue
            evidence.append(FlakeEvidence("same-revision", builderid, build, detail))
    return evidence, stats


class HistoryIndex:
    """The fleet's test history indexed once, so :meth:`flakiness` per test file is cheap.

    ``HistoryIndex(history, tests).flakiness(t)`` equals ``flakiness(history, tests, t)`` (same
    evidence in the same order, same stats): the straightforward function walks every build of
    every builder per test file; the index keeps, per builder, the builds that give a verdict
    (with their revision computed once), and per test file the builders where it failed or was
    flaky. A test file's flakiness then walks only those builders; on every other one it only
    passed (``runs`` passes, no flips), and whether such a builder's logs show the test running
    is asked only when an isolated failure's revision passed there.

    Build it from the same ``history`` and ``tests`` it answers for, and drop it with them:
    it holds no state derived from anything else.
    """

    def __init__(self, history: Mapping[int, Sequence[Build]], tests: Mapping[int, BuildTests]):
        # builderid -> (build, revision, its BuildTests) of builds giving a verdict, oldest first
        self._runs: dict[int, list[tuple[Build, str | None, BuildTests]]] = {}
        # builderid -> the non-empty ``seen`` sets of its runs (green builds have no log to read)
        self._seen: dict[int, list[BuildTests]] = {}
        self._pos: dict[int, int] = {}  # builderid -> its position among builders with runs
        self._passing: dict[int, FlipStats] = {}  # stats of a builder where the test only passed
        self._bad: dict[str, dict[int, None]] = {}  # test file -> builders where it failed/flaked
        # Every run with a revision is a cell of every test file, so the order in which the
        # reference's ``by_revision`` meets revisions is the same for all test files.
        self._rev_pos: dict[str, int] = {}
        self._rev_builders: dict[str, dict[int, None]] = {}  # revision -> builders that ran it
        for builderid, builds in history.items():
            runs: list[tuple[Build, str | None, BuildTests]] = []
            for build in reversed(_completed(builds)):
                bt = tests.get(build.buildid)
                if bt is None or not bt.ran:
                    continue
                revision = build.revision
                runs.append((build, revision, bt))
                for test_file in bt.failed:
                    self._bad.setdefault(test_file, {})[builderid] = None
                for test_file in bt.flaky:
                    self._bad.setdefault(test_file, {})[builderid] = None
                if revision:
                    self._rev_pos.setdefault(revision, len(self._rev_pos))
                    self._rev_builders.setdefault(revision, {})[builderid] = None
            if runs:
                self._pos[builderid] = len(self._pos)
                self._runs[builderid] = runs
                self._seen[builderid] = [bt for _b, _r, bt in runs if bt.seen]
                self._passing[builderid] = FlipStats(builderid, len(runs), 0, 0)

    def flakiness(self, test_file: str) -> tuple[list[FlakeEvidence], list[FlipStats]]:
        """:func:`flakiness` of ``test_file`` over the indexed history (same result)."""
        bad = self._bad.get(test_file, {})
        # builderid -> whether its logs show the test running; asked only of builders that
        # passed where an isolated failure failed (indexing every log's ``seen`` costs more)
        runs_it: dict[int, bool] = {}
        evidence: list[FlakeEvidence] = []
        stats = [self._passing[bid] if bid not in bad else None for bid in self._runs]
        # per builder where the test did not always pass: revisions with a non-failing verdict
        not_failing: dict[int, set[str]] = {}
        # failed cells that may be same-revision evidence: (sort key, builderid, build,
        # revision, isolated: a pass right before and right after on its builder)
        failed: list[tuple[tuple[int, int, int], int, Build, str, bool]] = []
        for builderid in bad:
            runs = self._runs[builderid]
            seq = [
                (build, "fail" if test_file in bt.failed
                 else "flaky" if test_file in bt.flaky else "pass")
                for build, _rev, bt in runs
            ]
            revs = not_failing[builderid] = set()
            last = len(seq) - 1
            for i, (build, status) in enumerate(seq):
                revision = runs[i][1]
                if status == "flaky":
                    evidence.append(
                        FlakeEvidence("rerun", builderid, build, "failed, then passed on re-run")
                    )
                if not revision:
                    continue
                if status != "fail":
                    revs.add(revision)
                    continue
                isolated = 0 < i < last and seq[i - 1][1] != "fail" and seq[i + 1][1] != "fail"
                key = (self._rev_pos[revision], self._pos[builderid], i)
                failed.append((key, builderid, build, revision, isolated))
            flip = _flip_stats(builderid, seq)
            stats[self._pos[builderid]] = flip
            if flip.flips >= MIN_FLIPS:
                last_bad = next(b for b, s in reversed(seq) if s != "pass")
                evidence.append(
                    FlakeEvidence(
                        "flips", builderid, last_bad, f"{flip.flips} flips in {flip.runs} runs"
                    )
                )
        failed.sort(key=lambda cell: cell[0])  # the reference's revision-then-cell order
        for _key, builderid, build, revision, isolated in failed:
            if revision in not_failing[builderid]:
                detail = f"failed and passed on {revision[:12]} on the same builder"
            elif isolated and self._passed_elsewhere(
                test_file, revision, builderid, runs_it, not_failing
            ):
                detail = f"failed on {revision[:12]}, which passed on another builder"
            else:
                continue
            evidence.append(FlakeEvidence("same-revision", builderid, build, detail))
        return evidence, [s for s in stats if s is not None]

    def _passed_elsewhere(
        self,
        test_file: str,
        revision: str,
        builderid: int,
        runs_it: dict[int, bool],
        not_failing: dict[int, set[str]],
    ) -> bool:
        """A builder other than ``builderid``, known to run the test, passed on ``revision``."""
        for other in self._rev_builders[revision]:
            if other == builderid:
                continue
            # a builder where the test never failed passed on every revision it ran
            if other in not_failing and revision not in not_failing[other]:
                continue
            if other not in runs_it:
                runs_it[other] = any(bt.shows(test_file) for bt in self._seen[other])
            if runs_it[other]:
                return True
        return False
