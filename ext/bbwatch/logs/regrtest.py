"""Parse a CPython regrtest (``python -m test``) log into a TestRun, in one streaming pass.

Reads every output shape of regrtest 3.8 to 3.14 (``shared/reference/cpython-ci.md`` §3): progress
lines, per-test result words, unittest FAIL/ERROR blocks, summary lists, re-runs, refleaks,
faulthandler timeouts and fatal errors; also excerpts cut anywhere and logs pasted from issue
trackers (markdown escapes, code fences). Memory is bounded: text is read in large chunks, lines
that cannot matter are skipped without being split (``str.find`` on a few markers), and what is
kept per test, case or crash is capped. Bad input never raises: it yields an empty,
``truncated`` TestRun.

Outcome words (``TestRun.outcomes``): ``passed``, ``failed``, ``env_changed``, ``leaked``,
``crashed``, ``timed_out``, ``worker_bug`` (the bad ones, see BAD_OUTCOMES), ``passed_on_rerun``,
``skipped``, ``resource_denied``, ``no_tests``, ``omitted``, ``interrupted``.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from bbwatch.logs.results import BAD_OUTCOMES, Crash, Leak, TestCase, TestRun, Timeout

CHUNK_SIZE = 1 << 20
MAX_LINE = 1 << 16  # longer "lines" (binary junk, giant reprs) are cut: nothing useful is there
MAX_CASES = 2000
MAX_ENTRIES = 1000  # crashes, timeouts, leaks, notes each
MAX_TESTS = 50000  # test files tracked (CPython has ~500): junk input cannot grow memory
MAX_TRACEBACK_LINES = 80
MAX_TRACEBACK_CHARS = 8000
MAX_WARNINGS = 5  # "Warning --" lines kept per test file
MAX_DUMP_LINES = 12  # thread-dump head kept for a crash/timeout excerpt
MAX_BLOCK_LINES = 20000  # give up a block (back to fast skipping) after this many lines


# --- line grammar -----------------------------------------------------------------------------

# Substrings of every line that can change the parser's state outside blocks (blocks read every
# line). Single characters are found with memchr, at memory speed, and together catch nearly
# every regrtest line: progress lines ("0:00:01 ... [1/9] test_x"), "FAIL:", "ERROR:",
# "Result:", list titles ("6 tests failed:"), "Fatal Python error:", "Timeout (0:20:00)!",
# leaks ("leaked [1, 1, 1]"). The few longer markers cover the lines with neither ":" nor "]".
# A regex alternation of the same would scan ~20x slower; a false hit costs one line's grammar.
_MARKERS = (
    ":", "]",
    "\x1b", "`", "\\",  # ANSI colours; code fences and escapes of pasted markdown
    "Re-running ", "Warning -- ",
    "\ntest test",  # "test test_x failed -- multiple errors occurred; ..." at column 0
    "\nRan 0 tests",  # an in-process re-run (≤3.10) that matched nothing did not pass
)


_WINDOW = 4096


def _binary(text: str) -> bool:
    """Mostly NULs or undecodable bytes (U+FFFD after decoding)."""
    return (text.count("\x00") + text.count("\ufffd")) * 4 > len(text)


def _interesting_starts(text: str) -> list[int]:
    """Offsets of the starts of lines of ``text`` that contain a marker, ascending."""
    starts: set[int] = set()
    add, find, rfind = starts.add, text.find, text.rfind
    if text.startswith("test test"):
        add(0)
    for marker in _MARKERS:
        i = find(marker)
        at_newline = marker[0] == "\n"
        while i >= 0:
            add(i + 1 if at_newline else rfind("\n", 0, i) + 1)
            eol = find("\n", i + 1)
            if eol < 0:
                break
            i = find(marker, eol)
    return sorted(starts)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_QUOTE = re.compile(r"^(?:> ?)+")
_STAMP = re.compile(r"^(?:\[ *\d+s\] |\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z )")
# C assertions that abort the process: glibc's and MSVC's wording
_C_ASSERT = re.compile(r"(?:^[\w./-]+: [\w./\\-]+\.[ch]:\d+: .*Assertion [`'\"]"
                       r"|^Assertion failed: .+, file .+, line \d+$)")
_LOOK_BACK = 8192  # characters searched back for the verbose line of a crash or a hang
_VERBOSE = re.compile(r"^(?P<method>\w+) \((?P<path>[\w.]+)\)[^.]*?\.\.\.(?: |$)")
_ORPHAN_DUMP = re.compile(r"^(?:Current thread|Thread) 0x[0-9a-fA-F]+ \(most recent call first\):")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>=|~])")
_MD_SIGNS = ("\\_\\_", "\\<", "\\>", "\\=", "\\*", "\\[", "\\#")
_PROGRESS = re.compile(
    r"^\.*(?:\d+:\d\d:\d\d )?(?:load avg: [\d.]+ )?\[ *\d+(?:/ *\d+)?(?:/\d+)?\] (?P<rest>.*)$"
)
_RESULT = re.compile(
    r"(?P<name>[\w.\-]+) (?P<word>passed|failed|crashed|skipped|timed out|run no tests"
    r"|ran no tests|interrupted|worker non-zero exit code|worker bug|process crashed)"
    r"(?: \((?P<detail>.*)\))?"
)
# A first-run progress line of a passing test, with nothing (ANSI, escapes) to clean first.
_PASSED = re.compile(
    r"(?:\d+:\d\d:\d\d )?(?:load avg: [\d.]+ )?\[[ \d/]+\] (test[\w.\-]*) passed(?: \(\d[^-]*$|$)"
)
_HEARTBEAT = re.compile(
    r"^(?:\d+:\d\d:\d\d )?(?:load avg: [\d.]+ )?running(?: \(\d+\))?: (?P<names>.*)$"
)
_RUNNING_NAME = re.compile(r"(test[\w.\-]*) \(")
_SEQ_START = re.compile(r"^(?P<name>test[\w.\-]*)$")
_FINAL_RESULT = re.compile(
    r"^(?:Tests result|Result): (?P<state>[A-Z][A-Z ,]*(?: then [A-Z ,]+)?)$"
)
_SECTION_RESULT = re.compile(r"^== Tests result: (?P<state>.+?) ==$")
_CASE_HEADER = re.compile(r"^(?P<status>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<rest>\S.*)$")
# A header without "(...)" must at least start with a dotted id ("ERROR: pip ..." is not a case).
_DOTTED_ID = re.compile(r"^[A-Za-z_]\w*(?:\.\w+)+(?: |$)")
_CASE_ID = re.compile(r"^(?P<method>\S+) \((?P<path>[^()\s]+)\)(?: (?P<sub>.+))?$")
_ONE_LINER = re.compile(
    r"^(?:.* \.\.\. )?test (?P<name>[\w.\-]+) (?P<word>failed|crashed)(?P<rest>(?: -- .*)?)$"
)
_TITLE = re.compile(r"^(?:All )?\d+ (?:(?P<rerun>re-run) tests?|tests? (?P<title>.+?))(?::|\.)$")
_TITLES = {
    "failed": "failed",
    "failed again": "failed_again",
    "altered the execution environment": "env_changed",
    "altered the execution environment (env changed)": "env_changed",
    "skipped": "skipped",
    "skipped (resource denied)": "resource_denied",
    "run no tests": "no_tests",
    "ran no tests": "no_tests",
    "omitted": "omitted",
    "interrupted": "interrupted",
}
_RERUN_ALL = re.compile(r"Re-running (?:\d+ )?failed tests in verbose mode")
# 2.7 and early 3.x quote the name: "Re-running test 'test_x' in verbose mode".
_RERUN_ONE = re.compile(r"Re-running (?:test ')?(?P<name>[\w.\-]+)'? in verbose mode")
_LEAK = re.compile(
    r"(?P<name>[\w.:]{1,200}) leaked \[(?P<counts>[-\d, ]{0,2000})\] "
    r"(?P<kind>references|memory blocks|file descriptors), sum=-?\d+(?P<tail>.*)$"
)
_TIMEOUT = re.compile(r"Timeout \((?P<t>\d+:\d\d:\d\d)\)!")
_FATAL = re.compile(r"(?:Fatal Python error|Windows fatal exception): .*$")
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+')
_TEST_PATH = re.compile(r"[\\/]test[\\/](?P<name>test_[\w]+)(?:[\\/]|\.py)")
_TEST_BASENAME = re.compile(r"(?:^|[\\/])(?P<name>test_\w+)\.py$")
_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::(?: .*)?)?$")
_HEADER_PY = re.compile(r"^== CPython (?P<v>\d+\.\d+\.\d+\S*)")
_MODIFIED_BY = re.compile(r" was modified by (?P<name>test[\w.\-]*)")
_ALTERED_BY = re.compile(
    r"Warning -- (?P<name>test[\w.\-]*) (?:leaked temporary files|left behind )"
)
_SEED = re.compile(r"Using random seed:? (?P<seed>\d+)")
# The builder's test command at the head of the log: "./python ... -m test ...", a shell trace
# "+ /path/python3.13 ... -m test ...", or Windows' "Tools\buildbot\test.bat ..." / rt.bat.
_COMMAND = re.compile(
    r"^(?:\+ )?(?:\S*python[\w.]*(?:\.exe)?\"?(?: \S+)*? -m test\b.*"
    r"|\S*(?:Tools[\\/]buildbot[\\/]test\.bat|PCbuild[\\/]rt\.bat)\b.*)$", re.M)
MAX_COMMAND = 2000
_NAME = re.compile(r"^[\w.\-]+$")
_SEPARATOR_EQ = re.compile(r"^={20,}$")
_SEPARATOR_DASH = re.compile(r"^-{20,}$")
# Lines that end a FAIL/ERROR block even without its closing dashes (excerpts, glued output).
_CASE_END = re.compile(
    r"^(?:Ran \d+ tests? in |test [\w.\-]+ failed$|== Tests result: |(?:Tests )?[Rr]esult: [A-Z])"
)
_NOT_EXCEPTIONS = ("Traceback", "During handling", "The above exception")


def _case_header(stripped: str) -> re.Match[str] | None:
    m = _CASE_HEADER.match(stripped)
    if m and (_CASE_ID.match(m.group("rest")) or _DOTTED_ID.match(m.group("rest"))):
        return m
    return None


def _progress_outcome(word: str, detail: str | None) -> str:
    detail = detail or ""
    if word == "passed":
        return "passed"
    if word == "failed":
        if "env changed" in detail:
            return "env_changed"
        if "reference leak" in detail:
            return "leaked"
        return "failed"
    if word in ("crashed", "worker non-zero exit code", "process crashed"):
        return "crashed"
    if word == "timed out":
        return "timed_out"
    if word == "skipped":
        return "resource_denied" if "resource denied" in detail else "skipped"
    if word in ("run no tests", "ran no tests"):
        return "no_tests"
    return word.replace(" ", "_")  # interrupted, worker_bug


def regrtest_name(name: str) -> str:
    """regrtest's name for a test with the ``test.`` package prefix dropped.

    3.12+ runs split packages as ``test.test_asyncio.test_subprocess``; older versions and
    watchers say ``test_asyncio``, ``test_os``: the prefix adds nothing a reader needs.
    """
    return name[5:] if name.startswith("test.test") else name


def _test_file_of_path(path: str) -> str | None:
    """``Lib/test/test_asyncio/test_tasks.py`` -> ``test_asyncio.test_tasks``; ``test_os.py``."""
    m = _TEST_PATH.search(path)
    if m:
        parts = [m.group("name")]
        for part in re.split(r"[\\/]", path[m.end("name"):])[1:]:
            stem = part[:-3] if part.endswith(".py") else part
            if not stem.startswith("test_") or not stem.isidentifier():
                break
            parts.append(stem)
            if part.endswith(".py"):
                break
        return ".".join(parts)
    m = _TEST_BASENAME.search(path)
    return m.group("name") if m else None


def file_of_id(test_id: str) -> str:
    """The test file of a unittest id: its leading ``test_*`` module components.

    ``test.test_os.FileTests.test_foo`` -> ``test_os``;
    ``test.test_asyncio.test_tasks.CTaskTests.test_x`` -> ``test_asyncio.test_tasks``;
    ``test_bb_fail.FailTests.test_assert`` (``--testdir``) -> ``test_bb_fail``. The last
    component is the method, never part of the module. "" when no component looks like one.
    """
    parts = test_id.split(".")
    if parts[0] == "test" and len(parts) > 1:
        parts = parts[1:]
    module: list[str] = []
    for part in parts[:-1] if len(parts) > 1 else parts:
        if not part.startswith("test") or not part.isidentifier() or part[4:5].isupper():
            break
        module.append(part)
    return ".".join(module)


def _verbose_id(prefix: str) -> str | None:
    """The test id of a verbose ``test_x (test.test_y.Cls.test_x) ... `` line (prefix)."""
    m = _VERBOSE.match(prefix)
    if not m:
        return None
    return _split_case_header(f"{m.group('method')} ({m.group('path')})")[0]


def _split_case_header(rest: str) -> tuple[str, str | None]:
    """Split a header: ``test_foo (test.test_os.FileTests) (i=1)`` -> id and ``(i=1)``.

    3.11+ prints the full id in the parentheses; older versions print the class only.
    """
    m = _CASE_ID.match(rest)
    if not m:
        return rest.strip(), None
    method, path = m.group("method"), m.group("path")
    test_id = path if path.rsplit(".", 1)[-1] == method else f"{path}.{method}"
    sub = m.group("sub")
    return test_id, (sub.strip() if sub else None)


@dataclass
class _Phase:
    """Outcomes seen in one run of the tests (the first run, or the re-run)."""

    outcomes: dict[str, str] = field(default_factory=dict)
    timed_out: set[str] = field(default_factory=set)  # faulthandler dumps attributed here
    leaked: set[str] = field(default_factory=set)
    progress: bool = False  # progress lines seen (else the re-run was in-process, ≤3.10)
    # Bad outcomes read from lines other than progress lines and summaries: FAIL/ERROR blocks,
    # leak lines, "Warning -- X was modified by test_x", thread dumps, "Re-running test_x".
    # They stand in where a pasted excerpt lacks the progress line or the summary.
    evidence: dict[str, str] = field(default_factory=dict)

    def add_evidence(self, name: str, outcome: str) -> None:
        old = self.evidence.get(name)
        if old is None and len(self.evidence) >= MAX_TESTS:
            return
        if old is None or _EVIDENCE_RANK[outcome] > _EVIDENCE_RANK[old]:
            self.evidence[name] = outcome


# When several lines accuse one test, the most specific outcome wins.
_EVIDENCE_RANK = {"env_changed": 0, "failed": 1, "leaked": 2, "crashed": 3, "timed_out": 4,
                  "worker_bug": 5}


@dataclass
class _Section:
    """One ``== Tests result: X ==`` summary and the lists printed under it."""

    rerun_phase: bool
    lists: dict[str, list[str]] = field(default_factory=dict)


class Parser:
    """Incremental parser: feed lines or text, then :meth:`finish` for the TestRun."""

    def __init__(self) -> None:
        self.run = TestRun()
        self._phases = [_Phase()]
        self._current: str | None = None  # the test file whose output follows
        self._sections: list[_Section] = []
        self._loose_lists: dict[str, list[str]] = {}  # lists with no section (excerpts)
        self._failed_again: list[str] | None = None
        self._rerun_names: list[str] = []
        self._rerun_seen: set[str] = set()
        self._inproc_rerun: str | None = None  # ≤3.10 in-process re-run: the test re-running
        self._inproc_failed = False
        self._inproc_ran_nothing = False
        self._final_seen = False
        self._sequential = False  # sequential mode: progress lines name the test starting
        self._head_left = 1 << 16  # characters of the log's head still to search for the seed
        self._running: list[str] = []  # from the last "-- running (N): ..." or heartbeat
        self._markdown = False
        self._lines = 0  # interesting lines read so far
        self._text, self._start = "", 0  # the text being fed and where the current line starts
        self._last_result: tuple[str, int] | None = None  # (test, line) of the last progress
        self._oneliners: dict[str, tuple[str, str, str]] = {}  # test -> (word, exc, traceback)
        # The block being read line by line (None: skipping uninteresting lines fast).
        self._block: str | None = None
        self._block_lines = 0
        self._case: TestCase | None = None
        self._case_tb: list[str] = []
        self._case_chars = 0
        self._case_started_tb = False
        self._case_prev_indented = False
        self._case_group_exc: str | None = None
        self._list_key: str | None = None
        self._list_bullets = False  # "- test_x" items (the master's reports), not regrtest's
        self._list_seen = False
        self._list_reasons: int | None = None
        self._dump: Timeout | Crash | None = None
        self._dump_lines: list[str] = []
        self._one: tuple[str, str, bool] | None = None  # (test, word, rerun) of a one-liner
        self._one_tb: list[str] = []
        self._one_exc: str | None = None
        self._one_prev_indented = False

    # --- feeding ------------------------------------------------------------------------------

    @property
    def _rerun(self) -> bool:
        return len(self._phases) > 1

    @property
    def _phase(self) -> _Phase:
        return self._phases[-1]

    def feed_text(self, text: str) -> None:
        """Feed text made of whole lines (a final partial line is treated as a line)."""
        pos, n = 0, len(text)
        if n > _WINDOW and _binary(text):
            # Binary stretches (core dumps, archives) hold no regrtest line and would make
            # every "line" a marker hit: drop their lines, keep the text lines around them.
            for line in text.split("\n"):
                if not line:
                    if self._block is not None:
                        self.feed_line(line)  # blank lines end lists and dumps
                elif not _binary(line):
                    self.feed_text(line)
            return
        if self._head_left > 0:
            if self.run.random_seed is None:
                # ≤3.10 prints "Using random seed 1711018" (no marker) once, near the top.
                m = _SEED.search(text, 0, self._head_left)
                if m:
                    self.run.random_seed = int(m.group("seed"))
            if self.run.command is None:
                m = _COMMAND.search(text, 0, self._head_left)
                if m:
                    self.run.command = m.group(0).strip()[:MAX_COMMAND]
            self._head_left -= n
        starts = _interesting_starts(text)
        k, count = 0, len(starts)
        find = text.find
        passed = _PASSED.match
        while pos < n:
            if self._block is None:  # skip to the next line with a marker
                while k < count and starts[k] < pos:
                    k += 1
                if k == count:
                    return
                start = starts[k]
            else:
                start = pos
            end = find("\n", start)
            if end < 0:
                end = n
            line = text[start:end]
            pos = end + 1
            if self._block is None and not self._phases[1:]:
                # Fast path for the commonest line of all: a first-run "test_x passed".
                m = passed(line)
                if m:
                    name = regrtest_name(m.group(1))
                    outcomes = self._phases[0].outcomes
                    if name in outcomes or len(outcomes) < MAX_TESTS:
                        outcomes[name] = "passed"
                    self._phases[0].progress = True
                    self._current = name
                    self._lines += 1
                    self._last_result = (name, self._lines)
                    continue
            self._text, self._start = text, start  # for a look back at the lines skipped
            self.feed_line(line)
        self._text = ""

    def feed_line(self, line: str) -> None:
        if len(line) > MAX_LINE:
            line = line[:MAX_LINE]
        line = self._clean(line)
        if self._block is not None:
            self._block_lines += 1
            if self._block_lines > MAX_BLOCK_LINES:
                self._end_block()
            elif self._continue_block(line):
                return
        self._line(line)

    def _clean(self, line: str) -> str:
        if line[:1] == ">" and (line[1:2] in (" ", "") or line[:3] == "> >"):
            line = _QUOTE.sub("", line)  # a pasted report quoted back ("> ") in an issue
        elif line[:1] == "[" and "s] " in line[:12] or line[:2] == "20" and "Z " in line[:34]:
            # a build service's "[ 1122s] " or GitHub Actions' "2024-01-05T10:00:00.1234567Z "
            line = _STAMP.sub("", line)
        if "\r" in line:
            line = line.rstrip("\r")
            if "\r" in line:  # a terminal redraw: the text after the last \r is what showed
                line = line.rsplit("\r", 1)[-1]
        if "\x00" in line:
            line = line.replace("\x00", "")
        if "\x1b" in line:
            line = _ANSI.sub("", line)
        if "\\" in line:
            if not self._markdown and any(s in line for s in _MD_SIGNS):
                self._markdown = True
            if self._markdown:
                line = _MD_ESCAPE.sub(r"\1", line)
        return line

    # --- one line outside any block -----------------------------------------------------------

    def _line(self, line: str) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith("```"):
            return
        self._lines += 1
        m = _PROGRESS.match(stripped)
        if m:
            self._progress(m.group("rest"))
            return
        m = _case_header(stripped)
        if m:
            self._start_case(m.group("status"), m.group("rest"))
            return
        m = _ONE_LINER.match(line.rstrip())  # column 0: stderr; indented: someone's output
        if m:
            self._one_liner(regrtest_name(m.group("name")), m.group("word"), m.group("rest"))
            return
        if self._sequential and self._current and regrtest_name(stripped).startswith(
                self._current + " "):
            m = _RESULT.match(stripped)  # the last sequential test's result, printed bare
            if m and regrtest_name(m.group("name")) == self._current and " -- " not in stripped:
                self._result(self._current, m.group("word"), m.group("detail"))
                return
        if "Re-running " in stripped:
            if _RERUN_ALL.search(stripped):
                self._start_rerun()
                return
            m = _RERUN_ONE.search(stripped)
            if m:
                self._rerun_one(regrtest_name(m.group("name")))
                return
        if self._inproc_rerun and stripped.startswith("Ran 0 tests"):
            self._inproc_ran_nothing = True
            return
        m = _HEARTBEAT.match(stripped)
        if m:
            self._running = [regrtest_name(n) for n in _RUNNING_NAME.findall(m.group("names"))]
            return
        m = _SECTION_RESULT.match(stripped)
        if m:
            if self._inproc_rerun:
                self._end_inproc_rerun()
            self.run.result = m.group("state").strip()
            self._running = []
            if len(self._sections) >= 3:  # only the first and the last ones matter
                del self._sections[1:-1]
            self._sections.append(_Section(self._rerun))
            return
        m = _FINAL_RESULT.match(stripped)
        if m:
            self.run.result = m.group("state").strip()
            self._final_seen = True
            return
        if stripped == "Failed tests:":
            self._start_list("failed", bullets=True)
            return
        m = _TITLE.match(stripped)
        if m:
            key = "rerun" if m.group("rerun") else _TITLES.get(m.group("title") or "")
            if key is not None and stripped.endswith(":"):
                self._start_list(key)
            return
        if " leaked " in stripped:
            m = _LEAK.search(stripped)
            if m:
                self._leak(m)
                return
        if stripped.startswith("command timed out: "):
            self._buildbot_timeout(stripped)
            return
        m = _TIMEOUT.search(stripped)
        if m:
            test_id = _verbose_id(stripped[:m.start()]) or self._recent_id()
            test = self._owner(file_of_id(test_id) or None if test_id else None)
            self._start_dump(Timeout(test, m.group(0), "faulthandler", self._rerun,
                                     test_id=test_id), stripped[m.start():])
            return
        m = _FATAL.search(stripped) or _C_ASSERT.search(stripped)
        if m:
            test_id = _verbose_id(stripped[:m.start()]) or self._recent_id()
            test = self._owner(file_of_id(test_id) or None if test_id else None)
            message = m.group(0).strip().lstrip(": ")[:300]
            self._start_dump(Crash(test, message, "fatal_error", rerun=self._rerun,
                                   test_id=test_id), message)
            return
        if _ORPHAN_DUMP.match(stripped):
            # The middle of a faulthandler dump, its "Timeout"/"Fatal Python error" header not
            # pasted: the frames name the test; whether it hung or crashed is unknown.
            self._start_dump(Crash(None, "faulthandler thread dump (its header is not in the "
                                   "log)", "thread_dump", rerun=self._rerun), stripped)
            return
        if "Warning -- " in stripped:
            self._warning(stripped)
            return
        m = _HEADER_PY.match(stripped)
        if m:
            self.run.python = self.run.python or m.group("v")
            return
        m = _SEED.search(stripped)
        if m and self.run.random_seed is None:
            self.run.random_seed = int(m.group("seed"))

    def _progress(self, rest: str) -> None:
        rest, _, running = rest.partition(" -- running")
        rest = rest.strip()
        self._running = [regrtest_name(n) for n in _RUNNING_NAME.findall(running)]
        self._phase.progress = True
        if self._inproc_rerun:
            self._end_inproc_rerun()
        head, sep, tail = rest.partition(" -- ")
        m = _RESULT.match(head)
        if m:  # "test_x failed (env changed) (1 min 3 sec) -- ..." (a pasted, elided suffix)
            name = regrtest_name(m.group("name"))
            self._result(name, m.group("word"), m.group("detail"))
            self._current = name
            self._last_result = (name, self._lines)
            return
        if sep:  # sequential: "[ 2/10] test_b -- test_a failed (1 failure)"
            m = _RESULT.match(tail)
            if m:
                self._result(regrtest_name(m.group("name")), m.group("word"), m.group("detail"))
            self._sequential_start(regrtest_name(head.strip()))
            return
        m = _SEQ_START.match(rest)
        if m:  # sequential mode: this test starts now, its result comes on the next line
            previous = self._current if self._sequential else None
            outcomes = self._phase.outcomes
            if previous and previous not in outcomes and len(outcomes) < MAX_TESTS:
                outcomes[previous] = "passed"  # regrtest is quiet about quick passes
            self._sequential_start(regrtest_name(m.group("name")))

    def _sequential_start(self, name: str) -> None:
        self._sequential = True
        self._current = name if _NAME.match(name) else None

    def _result(self, name: str, word: str, detail: str | None) -> None:
        outcome = _progress_outcome(word, detail)
        phase = self._phase
        if outcome == "crashed" and name in phase.timed_out:
            outcome = "timed_out"  # the dump came first; the exit code is its consequence
        if name in phase.outcomes or len(phase.outcomes) < MAX_TESTS:
            phase.outcomes[name] = outcome
        if self._rerun:
            self._add_rerun_name(name)
        if outcome == "crashed" and detail:
            exit_text = detail if detail.startswith("Exit code") else None
            self._add_crash(Crash(name, detail, "exit_code", exit_text, self._rerun))
        elif outcome == "timed_out" and word == "timed out":
            self._add_timeout(Timeout(name, f"timed out ({detail})" if detail else "timed out",
                                      "worker", self._rerun))

    def _add_rerun_name(self, name: str) -> None:
        if name not in self._rerun_seen and len(self._rerun_names) < MAX_TESTS:
            self._rerun_seen.add(name)
            self._rerun_names.append(name)

    def _start_rerun(self) -> None:
        if self._inproc_rerun:
            self._end_inproc_rerun()
        if not self._rerun:
            self._phases.append(_Phase())
        self._current = None

    def _rerun_one(self, name: str) -> None:
        self._phases[0].add_evidence(name, "failed")  # regrtest re-runs only failed tests
        if not self._rerun:
            self._phases.append(_Phase())
            first = self._phases[0]
            if self._last_result == (name, self._lines - 1) and name in first.outcomes:
                # 3.11.7+ prints a re-run's progress line, then "Re-running test_x in verbose
                # mode": an excerpt that starts there shows the re-run's result first.
                self._phase.outcomes[name] = first.outcomes.pop(name)
                self._phase.progress = True
        self._add_rerun_name(name)
        if not self._phase.progress:  # ≤3.10: in-process, no progress line gives the result
            if self._inproc_rerun:
                self._end_inproc_rerun()
            self._inproc_rerun = name
            self._inproc_failed = False
            self._inproc_ran_nothing = False
        self._current = name

    def _end_inproc_rerun(self) -> None:
        """The in-process re-run of one test ended: it passed unless a failure was printed."""
        name, self._inproc_rerun = self._inproc_rerun, None
        if name and self._inproc_ran_nothing and not self._inproc_failed:
            self._phase.outcomes.setdefault(name, "no_tests")
        elif name and not self._inproc_failed:
            self._phase.outcomes.setdefault(name, "passed")

    def _one_liner(self, name: str, word: str, rest: str) -> None:
        """``test test_x failed`` / ``test test_x crashed -- Traceback ...`` (stderr)."""
        if not self._final_seen:
            phase = self._phase
            if phase.outcomes.get(name) not in BAD_OUTCOMES:
                phase.outcomes[name] = "failed"
            if name == self._inproc_rerun:
                self._inproc_failed = True
        message = rest[4:].strip() if rest.startswith(" -- ") else ""
        if message:
            if name in self.run.notes or len(self.run.notes) < MAX_ENTRIES:
                self.run.notes.setdefault(name, f"test {name} {word} -- {message}"[:500])
        if message.startswith("Traceback"):
            self._block, self._block_lines = "oneliner", 0
            self._one = (name, word, self._rerun)
            self._one_tb = [message]
            self._one_exc = None
            self._one_prev_indented = False
        elif word == "crashed" and message:
            self._add_crash(Crash(name, message, "uncaught_exception", rerun=self._rerun))

    def _owner(self, module: str | None) -> str | None:
        """Which test file output naming ``module`` belongs to: the test whose output this is
        (the progress line's name wins, ``test_asyncio`` over ``test_asyncio.test_tasks``),
        unless ``module`` is another test: under -jN a test's output follows its progress
        line, so a block naming another module was pasted next to it or comes from a nested
        run."""
        current = self._current
        if not module or (current and (module == current or module.startswith(current + ".")
                                       or current.startswith(module + "."))):
            return current or module
        return module

    def _recent_id(self) -> str | None:
        """The test id of the last verbose ``test_x (test.test_y.Cls.test_x) ...`` line before
        the current line (since the last progress line), looked for only when a crash or a
        hang needs an owner: its process was running that module."""
        text, end = self._text, self._start
        if not text or end <= 0:
            return None
        window = text[max(0, end - _LOOK_BACK):end]
        for line in reversed(window.splitlines()):
            line = self._clean(line).strip()
            if _PROGRESS.match(line):
                return None
            test_id = _verbose_id(line)
            if test_id:
                return test_id
        return None

    def _running_now(self) -> list[str]:
        """The tests running at this point of the log, as far as it says."""
        running = list(self._running)
        if self._inproc_rerun:
            running.append(self._inproc_rerun)
        if self._sequential and self._current and self._current not in self._phase.outcomes:
            running.append(self._current)
        return sorted(set(running))

    def _buildbot_timeout(self, stripped: str) -> None:
        """Buildbot killed the step: "command timed out: 1200 seconds without output ..."."""
        message = stripped.split(" running ", 1)[0].split(", attempting", 1)[0][:200]
        running = self._running_now()
        test_file = running[0] if len(running) == 1 else None
        self._add_timeout(Timeout(test_file, message, "buildbot", self._rerun))
        if test_file and self._phase.outcomes.get(test_file) in (None, "crashed", "failed"):
            self._phase.outcomes[test_file] = "timed_out"

    def _warning(self, stripped: str) -> None:
        """Keep the first few ``Warning --`` lines per test: they explain "env changed"."""
        at = stripped.index("Warning -- ")
        text = stripped[at:]
        m = _MODIFIED_BY.search(text) or _ALTERED_BY.match(text)
        verbose = None if m else _verbose_id(stripped[:at])
        named = regrtest_name(m.group("name")) if m else (file_of_id(verbose) or None
                                                          if verbose else None)
        if named and not m:
            named = self._owner(named)
        name = named or self._current
        if not name or text.startswith("Warning --   "):  # Before:/After: dumps of 3.11+
            return
        if named:  # regrtest's warnings say the test altered the environment: env changed
            self._phase.add_evidence(name, "env_changed")
        kept = self.run.warnings.setdefault(name, []) if (
            name in self.run.warnings or len(self.run.warnings) < MAX_ENTRIES) else None
        if kept is not None and len(kept) < MAX_WARNINGS and text[:300] not in kept:
            kept.append(text[:300])

    def _leak(self, m: re.Match[str]) -> None:
        if "(this is fine)" in m.group("tail"):
            return  # 3.13+: a suspicious delta regrtest does not count as a leak
        name = regrtest_name(m.group("name").lstrip(".0123456789:"))
        if not name:
            return
        try:
            counts = [int(x) for x in m.group("counts").replace(" ", "").split(",") if x]
        except ValueError:
            return
        if len(self.run.leaks) < MAX_ENTRIES:
            self.run.leaks.append(Leak(name, m.group("kind"), counts, self._rerun))
        self._phase.leaked.add(name)
        self._phase.add_evidence(name, "leaked")

    # --- blocks: read line by line until they end ---------------------------------------------

    def _start_case(self, status: str, rest: str) -> None:
        test_id, sub = _split_case_header(rest)
        test_file = self._owner(file_of_id(test_id) or None) or ""
        self._case = TestCase(test_file, test_id, status, sub, None, "", self._rerun)
        self._case_tb, self._case_chars = [], 0
        self._case_started_tb = False
        self._case_prev_indented = False
        self._case_group_exc = None
        self._block, self._block_lines = "case", 0
        if self._inproc_rerun:
            self._inproc_failed = True

    def _start_list(self, key: str, bullets: bool = False) -> None:
        if key == "failed_again":
            self._failed_again = []
        elif self._sections:
            self._sections[-1].lists[key] = []
        else:
            self._loose_lists[key] = []
        self._list_key = key
        self._list_bullets = bullets
        self._list_seen = False
        self._list_reasons: int | None = None
        self._block, self._block_lines = "list", 0

    def _start_dump(self, entry: Timeout | Crash, first: str) -> None:
        # entry.test_file may be None: the dump's frames then name the test file.
        self._dump = entry
        self._dump_lines = [first]
        self._block, self._block_lines = "dump", 0

    def _continue_block(self, line: str) -> bool:
        """Handle ``line`` inside the current block; False when the block ended before it."""
        if self._block == "case":
            return self._case_line(line)
        if self._block == "list":
            return self._list_line(line)
        if self._block == "dump":
            return self._dump_line(line)
        if self._block == "oneliner":
            return self._oneliner_line(line)
        return False

    def _case_line(self, line: str) -> bool:
        stripped = line.strip()
        if stripped in ("(...)", "[...]", "..."):
            return True  # an elision in a pasted log
        if stripped.startswith("```"):  # the end of a pasted block
            self._end_block()
            return True
        if _SEPARATOR_EQ.match(stripped):
            self._end_block()
            return True
        if _SEPARATOR_DASH.match(stripped):
            if self._case_started_tb or self._case_tb:
                self._end_block()
            self._case_started_tb = True
            return True
        if (_case_header(stripped) or _PROGRESS.match(stripped)
                or _CASE_END.match(stripped)
                or (line[:1] not in (" ", "\t") and " leaked [" in line and _LEAK.match(line))):
            self._end_block()  # a leak line at column 0 is regrtest's, not the traceback's
            return False
        case = self._case
        assert case is not None
        if not self._case_started_tb and not self._case_tb:
            if stripped.startswith("Traceback"):
                self._case_started_tb = True
            elif stripped and case.description is None:
                case.description = stripped  # the docstring line between header and dashes
                return True
            else:
                return True
        indented = line[:1] in (" ", "\t")
        if (not indented and self._case_prev_indented and _EXC_LINE.match(stripped)
                and not stripped.startswith(_NOT_EXCEPTIONS)):
            case.exception = stripped
        elif indented and self._case_group_exc is None and stripped.startswith("| "):
            # 3.11+ exception groups draw the whole traceback indented behind "|".
            inner = stripped[2:].strip()
            if ":" in inner and _EXC_LINE.match(inner) and not inner.startswith(_NOT_EXCEPTIONS):
                self._case_group_exc = inner
        self._case_prev_indented = indented
        if len(self._case_tb) < MAX_TRACEBACK_LINES and self._case_chars < MAX_TRACEBACK_CHARS:
            self._case_tb.append(line.rstrip())
            self._case_chars += len(line)
        return True

    def _list_line(self, line: str) -> bool:
        stripped = line.strip()
        if not stripped:
            if self._list_bullets and not self._list_seen:
                return True  # "Failed tests:", a blank line, then the bullets
            self._end_block()
            return True
        indent = len(line) - len(line.lstrip())
        if self._list_reasons is not None and indent > self._list_reasons:
            return True  # 3.15: the reasons a test altered the environment, under its name
        names = stripped.split()
        if self._list_bullets and names[0] in ("-", "*") and len(names) == 2:
            names = names[1:]  # the master's "Failed tests:" list in its mails and comments
        elif len(names) == 1 and names[0].endswith(":") and indent:
            names = [names[0][:-1]]
            self._list_reasons = indent
        if not (line[:1] in (" ", "\t") or all(n.startswith("test") for n in names)) or not all(
            _NAME.match(n) for n in names
        ):
            self._end_block()
            return False
        self._list_seen = True
        key = self._list_key
        if key == "failed_again":
            target = self._failed_again
        elif self._sections:
            target = self._sections[-1].lists.setdefault(key or "", [])
        else:
            target = self._loose_lists.setdefault(key or "", [])
        if target is not None:
            if len(target) < MAX_TESTS:
                target.extend(regrtest_name(n) for n in names)
        return True

    def _dump_line(self, line: str) -> bool:
        stripped = line.strip()
        entry = self._dump
        assert entry is not None
        m = _FRAME.match(line)
        if m:
            in_test = _test_file_of_path(m.group("path"))
            if entry.test_file is None:
                entry.test_file = in_test
            if len(self._dump_lines) < MAX_DUMP_LINES:
                self._dump_lines.append(line.rstrip())
            elif in_test and len(self._dump_lines) < 2 * MAX_DUMP_LINES:
                # Past the head, keep the frames in test files: where the hang or crash is.
                self._dump_lines.append(line.rstrip())
            return True
        if not stripped or stripped.startswith(("Thread 0x", "Current thread", "Stack (most",
                                                "<no Python frame>", "Extension modules")):
            if stripped and len(self._dump_lines) < MAX_DUMP_LINES:
                self._dump_lines.append(stripped)
            return True
        if stripped.startswith(("Python runtime state", "File \"", "  ...")) or (
            stripped.startswith("...")
        ):
            return True
        self._end_block()
        return False

    def _oneliner_line(self, line: str) -> bool:
        stripped = line.strip()
        indented = line[:1] in (" ", "\t")
        if not stripped or (self._one_exc and not indented and not _EXC_LINE.match(stripped)):
            self._end_block()
            return not stripped
        if _PROGRESS.match(stripped) or _ONE_LINER.match(stripped):
            self._end_block()
            return False
        if not indented:
            if self._one_prev_indented and _EXC_LINE.match(stripped) and not stripped.startswith(
                _NOT_EXCEPTIONS
            ):
                self._one_exc = stripped
            elif self._one_exc or not stripped.startswith(_NOT_EXCEPTIONS):
                self._end_block()
                return False
        self._one_prev_indented = indented
        if len(self._one_tb) < MAX_TRACEBACK_LINES:
            self._one_tb.append(line.rstrip())
        return True

    def _end_block(self) -> None:
        block, self._block = self._block, None
        if block == "case" and self._case is not None:
            case = self._case
            case.traceback = "\n".join(self._case_tb).strip("\n")
            if case.exception is None:
                case.exception = self._case_group_exc
            if len(self.run.cases) < MAX_CASES:
                self.run.cases.append(case)
            if case.test_file:
                phase = self._phases[-1] if case.rerun else self._phases[0]
                phase.add_evidence(case.test_file, "failed")
            self._case = None
        elif block == "dump" and self._dump is not None:
            entry = self._dump
            entry.detail = "\n".join(self._dump_lines)
            if isinstance(entry, Timeout):
                self._add_timeout(entry)
                # The worker's exit code was only the consequence of the timeout.
                self.run.crashes = [
                    c for c in self.run.crashes
                    if not (c.test_file == entry.test_file and c.rerun == entry.rerun
                            and c.kind == "exit_code")
                ]
                if entry.test_file:
                    self._phase.timed_out.add(entry.test_file)
                    if self._phase.outcomes.get(entry.test_file) in (None, "crashed", "failed"):
                        self._phase.outcomes[entry.test_file] = "timed_out"
            else:
                self._add_crash(entry)
                if entry.test_file and self._phase.outcomes.get(entry.test_file) in (
                    None, "failed"
                ) and not self._final_seen:
                    self._phase.outcomes[entry.test_file] = "crashed"
            self._dump = None
        elif block == "oneliner" and self._one is not None:
            name, word, rerun = self._one
            exc = self._one_exc or ""
            tb = "\n".join(self._one_tb)
            if word == "crashed":
                self._add_crash(Crash(name, exc or "uncaught exception", "uncaught_exception",
                                      rerun=rerun, detail=tb))
            if name in self._oneliners or len(self._oneliners) < MAX_ENTRIES:
                self._oneliners[name] = (word, exc, tb)  # the re-run's, if any, wins
            self._one = None
        self._list_key = None

    def _add_crash(self, crash: Crash) -> None:
        # One crash per test and run: the progress line's exit code and the fatal error merge.
        for old in self.run.crashes:
            if old.test_file == crash.test_file and old.rerun == crash.rerun and (
                old.kind != "uncaught_exception" and crash.kind != "uncaught_exception"
            ):
                old.test_id = old.test_id or crash.test_id
                if crash.kind == "exit_code":
                    old.exit = old.exit or crash.exit
                elif old.kind == "exit_code":
                    old.message, old.kind, old.detail = crash.message, crash.kind, crash.detail
                return
        if len(self.run.crashes) < MAX_ENTRIES:
            self.run.crashes.append(crash)

    def _add_timeout(self, timeout: Timeout) -> None:
        if len(self.run.timeouts) < MAX_ENTRIES:
            self.run.timeouts.append(timeout)

    # --- the end --------------------------------------------------------------------------------

    def finish(self) -> TestRun:
        if self._block is not None:
            self._end_block()
        running = self._running_now()
        if self._inproc_rerun:
            # Cut during an in-process re-run: its result is unknown, keep the first run's.
            self._inproc_rerun = None
        run = self.run
        first = self._phases[0]
        rerun_phase = self._phases[1] if self._rerun else None
        outcomes: dict[str, str] = dict(first.outcomes)
        for name in first.leaked:
            if outcomes.get(name) == "failed":
                outcomes[name] = "leaked"
        for name, outcome in first.evidence.items():
            if name not in outcomes:  # a progress line, where there is one, says more
                outcomes[name] = outcome

        first_bad = {t for t, o in outcomes.items() if o in BAD_OUTCOMES}
        first_sections = [s for s in self._sections if not s.rerun_phase]
        if first_sections:
            lists = first_sections[0].lists
            first_bad |= set(lists.get("failed", ())) | set(lists.get("env_changed", ()))
        elif not self._sections and self._loose_lists and not self._rerun:
            first_bad |= set(self._loose_lists.get("failed", ()))
            first_bad |= set(self._loose_lists.get("env_changed", ()))

        if rerun_phase is not None:
            rerun_outcomes = dict(rerun_phase.outcomes)
            for name, outcome in rerun_phase.evidence.items():
                rerun_outcomes.setdefault(name, outcome)
            for name, outcome in rerun_outcomes.items():
                if outcome == "no_tests" and name in first_bad:
                    continue  # a re-run that ran nothing says nothing: keep the first run's
                if outcome == "passed":
                    outcome = "passed_on_rerun" if (name in first_bad or name not in outcomes) \
                        else "passed"
                elif outcome == "failed" and name in rerun_phase.leaked:
                    outcome = "leaked"
                elif outcome == "crashed" and name in rerun_phase.timed_out:
                    outcome = "timed_out"
                outcomes[name] = outcome

        # The last summary printed after the last run is regrtest's own verdict.
        final_lists: dict[str, list[str]] | None = None
        if self._sections and self._sections[-1].rerun_phase == self._rerun:
            final_lists = self._sections[-1].lists
        elif not self._sections and self._loose_lists:
            final_lists = self._loose_lists
        if final_lists is not None:
            for name in final_lists.get("rerun", ()):
                self._add_rerun_name(name)
        rerun_names = self._rerun_names
        if final_lists is not None:
            bad_final = set(final_lists.get("failed", ())) | set(self._failed_again or ())
            env_final = set(final_lists.get("env_changed", ()))
            for name in bad_final:
                if outcomes.get(name) not in BAD_OUTCOMES or outcomes.get(name) == "env_changed":
                    outcomes[name] = "failed"
            for name in env_final - bad_final:
                outcomes[name] = "env_changed"
            if self._rerun or final_lists.get("rerun"):
                for name in rerun_names:
                    if name not in bad_final | env_final and (
                        outcomes.get(name) in BAD_OUTCOMES or name not in outcomes
                    ):
                        outcomes[name] = "passed_on_rerun"
            for key in ("skipped", "resource_denied", "no_tests", "omitted", "interrupted"):
                for name in final_lists.get(key, ()):
                    if key == "no_tests" and name in first_bad and name in self._rerun_seen:
                        # 3.9/3.10 re-run a crashed test matching no test method: it "ran no
                        # tests", which hides the crash. Keep the first run's outcome.
                        outcomes[name] = first.outcomes.get(name, "failed")
                        continue
                    outcomes[name] = key
        elif self._failed_again is not None:
            for name in self._failed_again:
                if outcomes.get(name) not in BAD_OUTCOMES:
                    outcomes[name] = "failed"

        if final_lists is not None and self._final_seen:
            # regrtest's own summary lists every bad test: evidence it does not confirm was a
            # line out of context (a nested run's output, a warning regrtest forgave).
            confirmed = set(final_lists.get("failed", ())) | set(self._failed_again or ()) \
                | set(final_lists.get("env_changed", ()))
            for name, outcome in first.evidence.items():
                if outcomes.get(name) == outcome and name not in first.outcomes \
                        and name not in confirmed and name not in self._rerun_seen:
                    outcomes[name] = "passed"
        for name in rerun_names:
            outcomes.setdefault(name, "failed")  # re-run, result not in the excerpt

        # A test failing with only an uncaught exception or a one-line traceback still gets a case.
        with_cases = {c.test_file for c in run.cases}
        for name, (_word, exc, tb) in self._oneliners.items():
            if name not in with_cases and exc and len(run.cases) < MAX_CASES:
                status = "FAIL" if exc.startswith("AssertionError") else "ERROR"
                run.cases.append(TestCase(name, name, status, None, exc, tb, False))

        run.outcomes = outcomes
        run.failed = sorted(t for t, o in outcomes.items() if o in BAD_OUTCOMES)
        # A re-run test failed in the first run, whatever part of the log is missing.
        run.first_run_failed = sorted(first_bad | set(rerun_names))
        run.rerun = sorted(set(rerun_names))
        run.rerun_passed = sorted(t for t in run.rerun if outcomes.get(t) == "passed_on_rerun")
        run.truncated = not self._final_seen
        if run.truncated:
            run.still_running = running[:100]
        return run


# --- entry points -----------------------------------------------------------------------------


def parse_lines(lines: Iterable[str]) -> TestRun:
    parser = Parser()
    for line in lines:
        if isinstance(line, bytes):  # lines straight from a binary file: decode, never raise
            line = line.decode("utf-8", "replace")
        parser.feed_line(line.rstrip("\n"))
    return parser.finish()


def parse_text(text: str) -> TestRun:
    parser = Parser()
    pos, n = 0, len(text)
    while pos < n:  # in chunks, like a stream: the binary check is per stretch of text
        cut = text.find("\n", pos + CHUNK_SIZE)
        end = n if cut < 0 else cut + 1
        parser.feed_text(text[pos:end])
        pos = end
    return parser.finish()


def _chunks(fp: BinaryIO) -> Iterator[str]:
    """Decoded text in whole lines (invalid UTF-8 replaced), from large binary reads."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    carry = ""
    while True:
        data = fp.read(CHUNK_SIZE)
        if not data:
            break
        text = carry + decoder.decode(data)
        cut = text.rfind("\n")
        if cut < 0:
            if len(text) > 4 * MAX_LINE:  # no newline for a long while: cut it anyway
                yield text
                carry = ""
            else:
                carry = text
            continue
        yield text[: cut + 1]
        carry = text[cut + 1:]
    tail = carry + decoder.decode(b"", final=True)
    if tail:
        yield tail


def parse_stream(fp: BinaryIO) -> TestRun:
    parser = Parser()
    for text in _chunks(fp):
        parser.feed_text(text)
    return parser.finish()


def parse_file(path: str | os.PathLike[str]) -> TestRun:
    with open(path, "rb") as fp:
        return parse_stream(fp)
