"""bbwatch.logs.regrtest on small snippets: one row per output variant of regrtest 3.8-3.14."""

from __future__ import annotations

import io

import pytest
from bbwatch.logs import regrtest
from bbwatch.logs.regrtest import file_of_id, parse_lines, parse_stream, parse_text

# (snippet, expected outcomes) — progress line shapes and per-test result words.
PROGRESS = [
    ("0:00:01 load avg: 0.10 [123/456/1] test_os failed", {"test_os": "failed"}),
    ("0:00:01 load avg: 0.10 [160/406] test_os passed", {"test_os": "passed"}),
    ("0:00:01 [463/1] test_os failed (1 failure)", {"test_os": "failed"}),
    ("[  1/500] test_grammar passed", {"test_grammar": "passed"}),
    ("0:00:01 load avg: 0.10 [ 51/405/1] test_tcl passed (35.1 sec) -- running (2): "
     "test_a (30.0 sec), test_b (1 min 2 sec)", {"test_tcl": "passed"}),
    ("0:00:01 load avg: 0.10 [5/8/3] test_x passed -- running: test_y (35.0 sec)",
     {"test_x": "passed"}),
    ("0:00:01 [1/2] test_x failed (1 error, 2 failures)", {"test_x": "failed"}),
    ("0:00:01 [1/2] test_x failed (2 errors)", {"test_x": "failed"}),
    ("0:00:01 [1/2] test_x failed (env changed)", {"test_x": "env_changed"}),
    ("0:00:01 [1/2] test_x failed (reference leak)", {"test_x": "leaked"}),
    ("0:00:01 [1/2] test_x failed (uncaught exception)", {"test_x": "failed"}),
    ("0:00:01 [1/2] test_x crashed (Exit code -9)", {"test_x": "crashed"}),
    ("0:00:01 [1/2] test_x worker non-zero exit code (Exit code -9 (SIGKILL))",
     {"test_x": "crashed"}),
    ("0:00:01 [1/2] test_x timed out (20 min)", {"test_x": "timed_out"}),
    ("0:00:01 [1/2] test_x timed out", {"test_x": "timed_out"}),
    ("0:00:01 [1/2] test_x skipped", {"test_x": "skipped"}),
    ("0:00:01 [1/2] test_x skipped (resource denied)", {"test_x": "resource_denied"}),
    ("0:00:01 [1/2] test_x run no tests", {"test_x": "no_tests"}),
    ("0:00:01 [1/2] test_x ran no tests", {"test_x": "no_tests"}),
    ("0:00:01 [1/2] test_x interrupted", {"test_x": "interrupted"}),
    ("0:00:01 [1/2] test_x worker bug", {"test_x": "worker_bug"}),
    ("0:00:01 [1/2] test_asyncio.test_events failed", {"test_asyncio.test_events": "failed"}),
    # Sequential mode: the result is the previous test's; quick passes are not printed.
    ("[ 1/10] test_a\n[ 2/10] test_b -- test_a failed (1 failure)\n[ 3/10] test_c\n"
     "[ 4/10] test_d -- test_c failed in 35 sec",
     {"test_a": "failed", "test_b": "passed", "test_c": "failed"}),
    # Heartbeat lines name running tests, not results.
    ("0:00:31 load avg: 0.06 running (2): test_a (30.0 sec), test_b (31.9 sec)\n"
     "0:00:31 load avg: 0.06 running: test_a (30.0 sec)", {}),
]


@pytest.mark.parametrize(("text", "expected"), PROGRESS)
def test_progress_lines(text: str, expected: dict[str, str]) -> None:
    assert parse_text(text).outcomes == expected


def _block(header: str, *body: str) -> str:
    return "\n".join(["0:00:01 [1/1/1] test_os failed", "=" * 70, header, "-" * 70,
                      "Traceback (most recent call last):",
                      '  File "/b/Lib/test/test_os.py", line 10, in test_foo',
                      "    self.assertEqual(1, 2)", *body, "", "-" * 70,
                      "Ran 1 test in 0.001s", "", "FAILED (failures=1)"])


CASE_HEADERS = [
    ("FAIL: test_foo (test.test_os.FileTests.test_foo)",
     ("test.test_os.FileTests.test_foo", None, "FAIL")),
    ("FAIL: test_foo (test.test_os.FileTests)", ("test.test_os.FileTests.test_foo", None, "FAIL")),
    ("ERROR: test_foo (test_os.FileTests)", ("test_os.FileTests.test_foo", None, "ERROR")),
    ("ERROR: test_foo (__main__.FileTests)", ("__main__.FileTests.test_foo", None, "ERROR")),
    ("FAIL: test_foo (test.test_os.FileTests.test_foo) (i=1)",
     ("test.test_os.FileTests.test_foo", "(i=1)", "FAIL")),
    ("FAIL: test_foo (test.test_os.FileTests) [msg] (i=1, j='x')",
     ("test.test_os.FileTests.test_foo", "[msg] (i=1, j='x')", "FAIL")),
    ("FAIL: test_foo (test.test_os.FileTests.test_foo) [<subtest>]",
     ("test.test_os.FileTests.test_foo", "[<subtest>]", "FAIL")),
    ("ERROR: setUpClass (test.test_os.FileTests)",
     ("test.test_os.FileTests.setUpClass", None, "ERROR")),
]


@pytest.mark.parametrize(("header", "expected"), CASE_HEADERS)
def test_case_headers(header: str, expected: tuple[str, str | None, str]) -> None:
    [case] = parse_text(_block(header, "AssertionError: 1 != 2")).cases
    assert (case.test_id, case.subtest, case.status) == expected
    assert case.test_file == "test_os"
    assert case.exception == "AssertionError: 1 != 2"


def test_case_test_file_from_id_when_no_progress_line() -> None:
    text = "\n".join(_block("FAIL: test_x (test.test_asyncio.test_events.T.test_x)",
                            "AssertionError").splitlines()[1:])
    run = parse_text(text)
    [case] = run.cases
    # The documented rule: a package's sub-module stays in the test file (what regrtest 3.12+
    # runs and names), and a FAIL block alone makes its test file failed.
    assert case.test_file == "test_asyncio.test_events"
    assert run.failed == ["test_asyncio.test_events"]
    assert run.truncated


@pytest.mark.parametrize(("test_id", "expected"), [
    ("test.test_os.TestScandir.test_attributes", "test_os"),
    ("test.test_asyncio.test_tasks.CTaskTests.test_x", "test_asyncio.test_tasks"),
    ("test.test_concurrent_futures.test_wait.ProcessPoolForkWaitTest.test_first_completed",
     "test_concurrent_futures.test_wait"),
    ("test_bb_fail.FailTests.test_assert", "test_bb_fail"),
    ("test.test_x.test_func", "test_x"),
    ("unittest.loader._FailedTest.test_x", ""),
    ("test_os", "test_os"),
])
def test_test_file_of_id(test_id: str, expected: str) -> None:
    assert file_of_id(test_id) == expected


def test_case_caret_lines_and_chained_exceptions() -> None:
    text = _block(
        "ERROR: test_foo (test.test_os.FileTests.test_foo)",
        "    ~~~~~~~~~~~~~~~~^^^^^^",
        "ValueError: first",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "/b/Lib/test/support/__init__.py", line 5, in helper',
        "    raise OSError(2, 'x')",
        "    ^^^^^^^^^^^^^^^^^^^^^",
        "FileNotFoundError: [Errno 2] x",
    )
    [case] = parse_text(text).cases
    assert case.exception == "FileNotFoundError: [Errno 2] x"
    assert "~~~~" in case.traceback and "support/__init__.py" in case.traceback
    # The traceback's frames do not change the test file (the trap: helpers live elsewhere).
    assert case.test_file == "test_os"


def test_case_without_message() -> None:
    [case] = parse_text(_block("FAIL: test_foo (test.test_os.T.test_foo)",
                               "AssertionError")).cases
    assert case.exception == "AssertionError"


def test_case_traceback_is_capped() -> None:
    frames = [f'  File "/b/x.py", line {i}, in f\n    f()' for i in range(5000)]
    text = _block("ERROR: test_foo (test.test_os.T.test_foo)", *frames,
                  "RecursionError: maximum recursion depth exceeded")
    [case] = parse_text(text).cases
    assert case.exception == "RecursionError: maximum recursion depth exceeded"
    assert len(case.traceback) <= regrtest.MAX_TRACEBACK_CHARS + 200
    assert len(case.traceback.splitlines()) <= regrtest.MAX_TRACEBACK_LINES


SUMMARY = """\
== Tests result: FAILURE ==

10 slowest tests:
- test_a: 1 min 2 sec

12 tests failed:
    test_a test_b test_c test_d test_e test_f test_g test_h test_i
    test_j test_k test_l

1 test altered the execution environment (env changed):
    test_env

1 test omitted:
    test_omit

100 tests OK.

Total duration: 1 min
Result: FAILURE
"""


def test_wrapped_summary_lists() -> None:
    run = parse_text(SUMMARY)
    assert run.failed == sorted([f"test_{c}" for c in "abcdefghijkl"] + ["test_env"])
    assert run.outcomes["test_env"] == "env_changed"
    assert run.outcomes["test_omit"] == "omitted"
    assert run.result == "FAILURE" and not run.truncated


def test_rerun_passed_line_before_its_verbose_output() -> None:
    text = """\
0:00:01 [1/2/1] test_a failed (1 failure)
0:00:02 [2/2/1] test_b passed
0:00:03 Re-running 1 failed tests in verbose mode in subprocesses
0:00:03 Run 1 test in parallel using 1 worker process
0:00:04 [1/1] test_a passed
Re-running test_a in verbose mode (matching: test_x, test_y)
test_x (test.test_a.T.test_x) ... ok
"""
    run = parse_text(text)
    assert run.outcomes == {"test_a": "passed_on_rerun", "test_b": "passed"}
    assert run.first_run_failed == ["test_a"]
    assert run.rerun == run.rerun_passed == ["test_a"]
    assert run.truncated


def test_one_liners_out_of_order_and_the_crash_trap() -> None:
    text = """\
0:00:01 [1/2] test_a passed
test test_b failed -- multiple errors occurred; run in verbose mode for details
0:00:02 [2/2/1] test_b failed
AssertionError: test test_c crashed -- quoted in a message
    test test_d crashed -- indented, inside some output
Result: FAILURE
test test_e failed
"""
    run = parse_text(text)
    assert run.outcomes == {"test_a": "passed", "test_b": "failed"}
    assert run.crashes == []


def test_uncaught_exception_one_liner() -> None:
    text = """\
0:00:01 [1/1/1] test_x failed (uncaught exception)
test test_x crashed -- Traceback (most recent call last):
  File "/b/Lib/test/libregrtest/single.py", line 128, in _load_run_test
    test_mod = importlib.import_module(module_name)
  File "/b/Lib/test/test_x.py", line 3, in <module>
    import _missing
ModuleNotFoundError: No module named '_missing'
0:00:02 load avg: 0.1
"""
    run = parse_text(text)
    [crash] = run.crashes
    assert (crash.test_file, crash.kind) == ("test_x", "uncaught_exception")
    assert crash.message == "ModuleNotFoundError: No module named '_missing'"
    [case] = run.cases
    assert (case.test_id, case.status) == ("test_x", "ERROR")


def test_fatal_error_mid_line_and_dump_frames() -> None:
    text = (
        "test_a (test.test_z.T.test_a) ... Fatal Python error: Segmentation fault\n"
        "\n"
        "Current thread 0x00007f (most recent call first):\n"
        '  File "/b/Lib/test/support/__init__.py", line 5 in helper\n'
        '  File "/b/Lib/test/test_z.py", line 9 in test_a\n'
    )
    [crash] = parse_text(text).crashes
    assert (crash.test_file, crash.message) == ("test_z", "Fatal Python error: Segmentation fault")
    assert "test_z.py" in crash.detail


def test_timeout_without_any_test_name() -> None:
    run = parse_text("Timeout (0:20:00)!\nThread 0x1 (most recent call first):\n"
                     '  File "/usr/lib/python3/threading.py", line 1 in wait\n')
    [timeout] = run.timeouts
    assert timeout.test_file is None and timeout.message == "Timeout (0:20:00)!"
    assert run.failed == []


def test_header_seed_and_version_forms() -> None:
    assert parse_text("Using random seed 1711018").random_seed == 1711018
    assert parse_text("Using random seed: 599866846").random_seed == 599866846
    run = parse_text("== CPython 3.12.1 (main, Dec 8 2023) [GCC 12.2.0]")
    assert run.python == "3.12.1"


def test_final_result_forms() -> None:
    assert parse_text("Tests result: FAILURE then SUCCESS").result == "FAILURE then SUCCESS"
    assert parse_text("Result: ENV CHANGED, NO TESTS RAN").result == "ENV CHANGED, NO TESTS RAN"
    run = parse_text("== Tests result: INTERRUPTED ==")
    assert run.result == "INTERRUPTED" and run.truncated


@pytest.mark.parametrize("text", ["", "\n\n", "hello world\n" * 50, "\x00" * 100])
def test_no_regrtest_output(text: str) -> None:
    run = parse_text(text)
    assert run.empty and run.truncated
    assert run.failed == run.cases == run.crashes == [] and run.outcomes == {}


def test_invalid_utf8_and_nul_bytes() -> None:
    data = (b"0:00:01 [1/2/1] test_\xff\xfeos failed\n"
            b"0:00:02 [2/2/2] test_s\x00ys failed (1 failure)\n\xc3\x28\n")
    run = parse_stream(io.BytesIO(data))
    assert run.outcomes["test_sys"] == "failed"
    assert run.failed == sorted(run.outcomes)


def test_stream_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny reads cut lines and UTF-8 sequences anywhere: same result as one string."""
    text = _block("FAIL: test_é (test.test_os.T.test_é)", "AssertionError: é != è") + "\n" \
        + SUMMARY
    expected = parse_text(text).to_json()
    monkeypatch.setattr(regrtest, "CHUNK_SIZE", 7)
    assert parse_stream(io.BytesIO(text.encode())).to_json() == expected
    assert parse_lines(text.splitlines(keepends=True)).to_json() == expected


def test_a_line_without_end_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regrtest, "CHUNK_SIZE", 1024)
    data = b"x" * 100_000 + b"\n0:00:01 [1/1/1] test_os failed\n"
    assert parse_stream(io.BytesIO(data)).outcomes == {"test_os": "failed"}


def test_summary_only_excerpt_after_rerun() -> None:
    text = """\
== Tests result: FAILURE then FAILURE ==

3 re-run tests:
    test_a test_b
    test_c

1 test failed:
    test_b

Total duration: 1 min
Result: FAILURE then FAILURE
"""
    run = parse_text(text)
    assert run.outcomes == {"test_a": "passed_on_rerun", "test_b": "failed",
                            "test_c": "passed_on_rerun"}
    assert run.first_run_failed == ["test_a", "test_b", "test_c"]
    assert run.rerun_passed == ["test_a", "test_c"]


def test_in_process_rerun_with_quoted_names() -> None:
    """2.7 / 3.8 re-run in the main process: no progress line gives the re-run's result."""
    text = """\
0:00:01 [1/2/1] test_a failed
0:00:01 [2/2/2] test_b failed
Re-running failed tests in verbose mode
Re-running test 'test_a' in verbose mode
test_x (test_a.T) ... ok
Re-running test 'test_b' in verbose mode
test_y (test_b.T) ... FAIL
test test_b failed
1 test failed again:
    test_b
"""
    run = parse_text(text)
    assert run.outcomes == {"test_a": "passed_on_rerun", "test_b": "failed"}
    assert run.rerun == ["test_a", "test_b"]


def test_progress_glued_to_refleak_dots() -> None:
    run = parse_text("....0:01:00 load avg: 1.00 [ 5/480/1] test_os failed (reference leak)")
    assert run.outcomes == {"test_os": "leaked"}


def test_junk_cannot_grow_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regrtest, "MAX_TESTS", 10)
    text = "\n".join(f"[{i}/100] test_{i} passed\n[{i}/100/1] test_f{i} failed"
                     for i in range(100))
    run = parse_text(text)
    assert len(run.outcomes) <= 20


def test_binary_stretch_is_skipped_not_fatal() -> None:
    """A core dump or archive in the middle of a log: the regrtest lines around it still count."""
    import random

    blob = random.Random(4).randbytes(3 * regrtest.CHUNK_SIZE)
    data = (b"0:00:01 [1/2/1] test_a failed\n" + b"x\n" * 1000 + blob
            + b"\n0:00:09 [2/2/2] test_b crashed (Exit code -9)\n"
            + b"== Tests result: FAILURE ==\n\nResult: FAILURE\n")
    run = parse_stream(io.BytesIO(data))
    assert run.outcomes == {"test_a": "failed", "test_b": "crashed"}
    assert run.result == "FAILURE" and not run.truncated


def test_still_running_when_the_log_stops() -> None:
    text = """\
0:00:01 load avg: 1.00 [  1/480] test_a passed
0:00:40 load avg: 1.00 [  2/480] test_b passed (35.0 sec) -- running (2): test_c (39.0 sec), \
test_d (31.0 sec)
0:20:00 load avg: 1.00 running (2): test_c (20 min), test_e (30.0 sec)
"""
    run = parse_text(text)
    assert run.truncated and run.still_running == ["test_c", "test_e"]
    assert parse_text(text + "Result: SUCCESS\n").still_running == []


def test_still_running_sequential() -> None:
    run = parse_text("[1/3] test_a\n[2/3] test_b -- test_a failed\n")
    assert run.still_running == ["test_b"]


def test_buildbot_step_timeout_names_the_running_test() -> None:
    text = """\
0:00:40 load avg: 1.00 [479/480] test_b passed (35.0 sec) -- running (1): test_zz (40.0 sec)
command timed out: 1200 seconds without output running [b'make', b'buildbottest'], attempting \
to kill
process killed by signal 9
program finished with exit code -1
"""
    run = parse_text(text)
    [timeout] = run.timeouts
    assert (timeout.test_file, timeout.kind) == ("test_zz", "buildbot")
    assert timeout.message == "command timed out: 1200 seconds without output"
    assert run.outcomes["test_zz"] == "timed_out" and run.failed == ["test_zz"]
    assert run.truncated and run.still_running == ["test_zz"]


def test_exception_group() -> None:
    text = _block(
        "ERROR: test_foo (test.test_os.T.test_foo)",
        "  + Exception Group Traceback (most recent call last):",
        '  |   File "/b/Lib/test/test_os.py", line 3, in test_foo',
        '  |     raise ExceptionGroup("eg", [ValueError(1)])',
        "  | ExceptionGroup: eg (1 sub-exception)",
        "  +-+---------------- 1 ----------------",
        "    | ValueError: 1",
        "    +------------------------------------",
    )
    text = text.replace("Traceback (most recent call last):\n", "", 1)
    [case] = parse_text(text).cases
    assert case.exception == "ExceptionGroup: eg (1 sub-exception)"


def test_windows_thread_dump_names_the_test() -> None:
    text = ("Timeout (0:20:00)!\r\n"
            "Thread 0x00001e34 (most recent call first):\r\n"
            '  File "D:\\b\\3.x\\build\\Lib\\threading.py", line 320 in wait\r\n'
            '  File "D:\\b\\3.x\\build\\Lib\\test\\test_concurrent_futures\\test_wait.py", '
            "line 9 in test_timeout\r\n")
    [timeout] = parse_text(text).timeouts
    assert timeout.test_file == "test_concurrent_futures.test_wait"  # the package's module


@pytest.mark.parametrize("line", ["ERROR: Could not find a version that satisfies pip",
                                  "FAIL: see above", "ERROR: "])
def test_error_lines_that_are_not_unittest_blocks(line: str) -> None:
    assert parse_text(f"0:00:01 [1/1] test_venv passed\n{line}\n").cases == []


def test_dotted_id_header_without_parentheses() -> None:
    [case] = parse_text(_block("FAIL: test.test_os.T.test_foo", "AssertionError")).cases
    assert case.test_id == "test.test_os.T.test_foo"


@pytest.mark.parametrize("rerun", [
    # ≤3.10: in-process, the re-run matched no test method ("Ran 0 tests"), then the log stops.
    "Re-running failed tests in verbose mode\nRe-running test_crash in verbose mode\n\n"
    + "-" * 70 + "\nRan 0 tests in 0.000s\n\nOK\nRe-running test_ok2 in verbose mode\n",
    # 3.11+: in a subprocess, "ran no tests".
    "Re-running 1 failed tests in verbose mode in subprocesses\n"
    "0:00:02 [1/1] test_crash ran no tests\n",
])
def test_rerun_that_ran_nothing_keeps_the_crash(rerun: str) -> None:
    text = "0:00:01 [1/1/1] test_crash crashed (Exit code -9)\n" + rerun
    run = parse_text(text)
    assert run.outcomes["test_crash"] == "crashed"
    assert "test_crash" in run.failed and run.rerun_passed == []


# --- partial excerpts: every piece of evidence counts (issue 12) -----------------------------
@pytest.mark.parametrize(("text", "outcomes"), [
    # a reporter's " -- ..." elision after the duration
    ("0:12:40 load avg: 2.10 [301/478/2] test_socket failed (env changed) (1 min 3 sec) -- ...",
     {"test_socket": "env_changed"}),
    ("1:02:11 load avg: 0.50 [470/1] test.test_asyncio.test_subprocess process crashed "
     "(Exit code 1)", {"test_asyncio.test_subprocess": "crashed"}),
    ("test_sys leaked [12, 12, 12] references, sum=36", {"test_sys": "leaked"}),
    ("test_os leaked [1, 1, 1] file descriptors, sum=3", {"test_os": "leaked"}),
    ("Warning -- files was modified by test.test_concurrent_futures.test_wait",
     {"test_concurrent_futures.test_wait": "env_changed"}),
    ("Warning -- test_tempfile leaked temporary files (1): tmpabc",
     {"test_tempfile": "env_changed"}),
    ("Re-running test.test_asyncio.test_tasks in verbose mode",
     {"test_asyncio.test_tasks": "failed"}),
    ("FAIL: test_attributes (test.test_os.TestScandir.test_attributes)\n---\nAssertionError",
     {"test_os": "failed"}),
    ("test_hang (test.test_math.MathTests.test_hang) ... Timeout (0:20:00)!",
     {"test_math": "timed_out"}),
    ("test_x (test.test_importlib.test_locks.LockTests) ... Warning -- threading_cleanup() failed",
     {"test_importlib.test_locks": "env_changed"}),
    ("Current thread 0x00007f (most recent call first):\n"
     '  File "/b/Lib/test/test_signal.py", line 9 in test_stress', {"test_signal": "crashed"}),
    # the master's report, quoted back in an issue
    ("> Failed tests:\n> \n> - test_asyncio\n> - test_ssl\n", {"test_asyncio": "failed",
                                                             "test_ssl": "failed"}),
])
def test_partial_excerpt_evidence(text: str, outcomes: dict[str, str]) -> None:
    run = parse_text(text + "\n")
    assert run.outcomes == outcomes
    assert run.failed == sorted(outcomes)
    assert run.truncated


@pytest.mark.parametrize("text", [
    "0:00:31 load avg: 0.06 running (2): test_socket (30.0 sec), test_ssl (31.9 sec)",
    "0:00:31 load avg: 0.06 [12/400] test_os passed -- running (1): test_ssl (1 min)",
    "0:00:31 load avg: 0.06 [12/400] test_os passed (31.0 sec) -- ...",
    "0:00:02 load avg: 0.10 [  3/400] test_zipfile skipped (resource denied)",
    "Warning -- Dangling threads: {<Thread(x, started 1)>}",  # no test named: nobody accused
])
def test_lines_that_mention_a_test_do_not_fail_it(text: str) -> None:
    assert parse_text(text + "\n").failed == []


def test_a_final_summary_outranks_evidence_from_partial_lines() -> None:
    text = """\
Warning -- files was modified by test_os
FAIL: test_x (test_shutil.T.test_x)
----
AssertionError
----
Ran 1 test in 0.1s

== Tests result: FAILURE ==

1 test failed:
    test_shutil

Total duration: 1 min
Result: FAILURE
"""
    run = parse_text(text)
    assert run.failed == ["test_shutil"]  # test_os's warning was forgiven by regrtest
    assert run.outcomes["test_os"] == "passed"
    assert not run.truncated


def test_rerun_progress_line_before_its_header_means_passed_on_rerun() -> None:
    # 3.11.7+ prints the re-run's progress line, then "Re-running test_x in verbose mode".
    text = """\
FAIL: test_map_timeout (test.test_concurrent_futures.test_process_pool.T.test_map_timeout)
----------------------------------------------------------------------
AssertionError: Lists differ
----------------------------------------------------------------------
Ran 57 tests in 120.147s
0:22:41 load avg: 0.82 [1/1] test.test_concurrent_futures.test_process_pool passed
Re-running test.test_concurrent_futures.test_process_pool in verbose mode (matching: x)
"""
    run = parse_text(text)
    assert run.failed == []
    assert run.rerun_passed == ["test_concurrent_futures.test_process_pool"]


def test_env_changed_reasons_under_each_name() -> None:
    text = """\
2 tests altered the execution environment (env changed):
    test_example:
        os.environ was modified
        sys.path was modified
    test_other:
        1 uncollectable object(s)

Result: ENV CHANGED
"""
    run = parse_text(text)
    assert run.outcomes == {"test_example": "env_changed", "test_other": "env_changed"}
