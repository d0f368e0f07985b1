"""What a regrtest log says, as plain dataclasses: ``TestRun`` and its ``TestCase``, ``Leak``,
``Timeout`` and ``Crash`` records. ``bbwatch.logs.regrtest`` fills them; ``TestRun.to_json()``
is the ``bbwatch parse --json`` object.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Outcomes that make a test file count as failed at the end of the run.
BAD_OUTCOMES = frozenset({"failed", "env_changed", "crashed", "timed_out", "leaked", "worker_bug"})

@dataclass
class TestCase:
    """One unittest failure block (``FAIL:``, ``ERROR:``, ``UNEXPECTED SUCCESS:``)."""

    __test__ = False  # not a pytest class

    test_file: str
    test_id: str
    status: str  # "FAIL" | "ERROR" | "UNEXPECTED SUCCESS"
    subtest: str | None = None
    exception: str | None = None  # first line of the final exception, e.g. "KeyError: 'x'"
    traceback: str = ""  # capped
    rerun: bool = False  # seen while regrtest re-ran failed tests
    description: str | None = None  # the docstring line unittest prints under the header


@dataclass
class Leak:
    test_file: str
    kind: str  # "references" | "memory blocks" | "file descriptors"
    counts: list[int]
    rerun: bool = False


@dataclass
class Timeout:
    test_file: str | None  # None when neither a progress line nor the dump names it
    message: str  # "Timeout (0:20:00)!" or "timed out (20 min)"
    # "faulthandler" (dump in the log) | "worker" (killed by regrtest) | "buildbot" (step killed)
    kind: str = "faulthandler"
    rerun: bool = False
    detail: str = ""  # head of the thread dump
    test_id: str | None = None  # the verbose "test_x (test.test_y.Cls.test_x) ..." line's


@dataclass
class Crash:
    test_file: str | None
    # "Fatal Python error: Aborted", "Exit code -9 (SIGKILL)", "ZeroDivisionError: ..."
    message: str
    kind: str = "fatal_error"  # "fatal_error" | "exit_code" | "uncaught_exception"
    exit: str | None = None  # "Exit code -6 (SIGABRT)" when the progress line gave it
    rerun: bool = False
    detail: str = ""  # head of the thread dump / traceback
    test_id: str | None = None  # the verbose "test_x (test.test_y.Cls.test_x) ..." line's


@dataclass
class TestRun:
    """What one test-step log says; ``to_json()`` is the ``bbwatch parse --json`` object."""

    __test__ = False

    result: str | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    first_run_failed: list[str] = field(default_factory=list)
    rerun: list[str] = field(default_factory=list)
    rerun_passed: list[str] = field(default_factory=list)
    cases: list[TestCase] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)
    timeouts: list[Timeout] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    python: str | None = None
    random_seed: int | None = None
    truncated: bool = True
    notes: dict[str, str] = field(default_factory=dict)  # test file -> one-liner detail
    warnings: dict[str, list[str]] = field(default_factory=dict)  # test file -> "Warning --"
    # When the log stops with no summary: the tests regrtest last said were running (the
    # "-- running (2): ..." suffix, a heartbeat line, or the sequential test that started).
    still_running: list[str] = field(default_factory=list)
    # The builder's regrtest command line from the log's head (its -u, --timeout, -j, -R),
    # e.g. "./python -m test -j2 -uall --timeout=1200": reproduce commands copy from it.
    command: str | None = None

    @property
    def empty(self) -> bool:
        """No regrtest output was recognised at all."""
        return not (self.outcomes or self.cases or self.crashes or self.timeouts or self.leaks
                    or self.result)

    def to_json(self) -> dict:
        """The ``bbwatch parse --json`` object (keys named by issue 4; extra keys allowed)."""
        return {
            "result": self.result,
            "outcomes": dict(self.outcomes),
            "failed": list(self.failed),
            "first_run_failed": list(self.first_run_failed),
            "rerun": list(self.rerun),
            "rerun_passed": list(self.rerun_passed),
            "cases": [asdict(c) for c in self.cases],
            "leaks": [asdict(x) for x in self.leaks],
            "timeouts": [asdict(x) for x in self.timeouts],
            "crashes": [asdict(x) for x in self.crashes],
            "python": self.python,
            "random_seed": self.random_seed,
            "truncated": self.truncated,
            "still_running": list(self.still_running),
            "command": self.command,
        }

    def excerpt(self, test_file: str, max_lines: int = 40) -> str:
        """The part of the log that explains ``test_file``'s failure, at most ``max_lines`` lines.

        Its FAIL/ERROR blocks (the last run's first, so a re-run's verbose failure wins), else
        its crash or timeout with the head of the thread dump, else its leak lines. Never the
        Buildbot header or the environment dump: only what the parser kept.
        """
        out: list[str] = []
        cases = [c for c in self.cases if c.test_file == test_file]
        if any(c.rerun for c in cases):
            cases = [c for c in cases if c.rerun]
        for case in cases:
            header = f"{case.status}: {case.test_id}"
            if case.subtest:
                header += f" {case.subtest}"
            out.append(header)
            if case.traceback:
                out.extend(case.traceback.splitlines())
            elif case.exception:
                out.append(case.exception)
            out.append("")
        for entry in [*self.timeouts, *self.crashes]:
            if entry.test_file != test_file:
                continue
            if isinstance(entry, Crash) and entry.kind == "uncaught_exception" and cases:
                continue  # its synthesized case already shows the traceback
            out.append(entry.message if not entry.detail.startswith(entry.message)
                       else entry.detail.splitlines()[0])
            rest = entry.detail.splitlines()[1:] if entry.detail.startswith(entry.message) \
                else entry.detail.splitlines()
            out.extend(rest)
            out.append("")
        for leak in self.leaks:
            if leak.test_file == test_file:
                out.append(f"{test_file} leaked {leak.counts} {leak.kind}, "
                           f"sum={sum(leak.counts)}")
        if not out and test_file in self.notes:
            out.append(self.notes[test_file])
        if not out or self.outcomes.get(test_file) == "env_changed":
            out.extend(self.warnings.get(test_file, ()))
        while out and not out[-1].strip():
            out.pop()
        if len(out) > max_lines:
            out = out[: max(max_lines - 1, 0)] + ["[...]"]
        return "\n".join(out)


