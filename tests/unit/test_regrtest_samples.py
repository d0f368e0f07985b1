"""bbwatch.logs.regrtest over whole logs: real `python -m test` runs (3.8-3.13), hand-written ones.

The real logs come from tests/unit/samples/suites/make_samples.py running the purpose-built
suite in samples/suites/bb; what each test file does there fixes what the parser must report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bbwatch.logs.regrtest import parse_file, parse_text
from bbwatch.logs.results import BAD_OUTCOMES, TestRun

SAMPLES = Path(__file__).parent / "samples" / "regrtest"

# What the suite's files do, whatever the version: the final outcome regrtest's run implies.
SUITE_OUTCOMES = {
    "test_bb_ok": "passed",
    "test_bb_fail": "failed",  # one FAIL, one ERROR, on both runs
    "test_bb_sub": "failed",  # subtests, a docstring, an unexpected success
    "test_bb_flaky": "passed_on_rerun",
    "test_bb_envchanged": "env_changed",
    "test_bb_skip": "skipped",
    "test_bb_timeout": "timed_out",  # faulthandler --timeout
    "test_bb_crash": "crashed",  # os.abort()
    "test_bb_uncaught": "failed",  # ZeroDivisionError at import
}
SUITE_FAILED = sorted(t for t, o in SUITE_OUTCOMES.items() if o in BAD_OUTCOMES)
SUITE_FIRST_FAILED = sorted([*SUITE_FAILED, "test_bb_flaky"])


@pytest.fixture(scope="module")
def runs() -> dict[str, TestRun]:
    return {p.stem: parse_file(p) for p in sorted(SAMPLES.glob("*.log"))}


@pytest.mark.parametrize("version", ["311", "312", "313"])
def test_full_run_311_plus(runs: dict[str, TestRun], version: str) -> None:
    run = runs[f"real-{version}-full"]
    assert run.outcomes == SUITE_OUTCOMES
    assert run.failed == SUITE_FAILED
    assert run.first_run_failed == SUITE_FIRST_FAILED
    # 3.11.7+ re-runs env-changed tests too, in subprocesses.
    assert run.rerun == SUITE_FIRST_FAILED
    assert run.rerun_passed == ["test_bb_flaky"]
    assert run.result == "FAILURE then FAILURE"
    assert run.truncated is False
    assert run.random_seed == 42


@pytest.mark.parametrize("version", ["39", "310"])
def test_full_run_39_310(runs: dict[str, TestRun], version: str) -> None:
    run = runs[f"real-{version}-full"]
    # Their in-process re-run "ran no tests" for the crashed files: the crash must stay visible.
    assert run.outcomes == SUITE_OUTCOMES
    assert run.failed == SUITE_FAILED
    assert run.rerun == sorted(set(SUITE_FIRST_FAILED) - {"test_bb_envchanged"})
    assert run.rerun_passed == ["test_bb_flaky"]
    assert run.result == "FAILURE then FAILURE"
    assert not run.truncated


def test_full_run_38_killed_by_in_process_rerun(runs: dict[str, TestRun]) -> None:
    run = runs["real-38-full"]
    # os.abort() in the in-process re-run killed regrtest: no final summary.
    assert run.truncated is True
    assert run.result == "FAILURE"
    assert run.outcomes == SUITE_OUTCOMES
    assert run.rerun == ["test_bb_crash", "test_bb_fail", "test_bb_flaky", "test_bb_sub",
                         "test_bb_uncaught"]
    assert run.rerun_passed == ["test_bb_flaky"]


@pytest.mark.parametrize("version", ["38", "39", "310", "311", "312", "313"])
def test_flaky_run(runs: dict[str, TestRun], version: str) -> None:
    run = runs[f"real-{version}-flaky"]
    assert run.outcomes == {"test_bb_ok": "passed", "test_bb_flaky": "passed_on_rerun"}
    assert run.failed == []
    assert run.first_run_failed == ["test_bb_flaky"]
    assert run.rerun == run.rerun_passed == ["test_bb_flaky"]
    assert run.result == "FAILURE then SUCCESS"
    assert not run.truncated
    [first] = [c for c in run.cases if not c.rerun]
    assert first.test_id == "test_bb_flaky.FlakyTests.test_flaky"
    assert first.exception == "AssertionError: first run fails"


@pytest.mark.parametrize("name", ["real-38-full", "real-39-full", "real-310-full",
                                  "real-311-full", "real-312-full", "real-313-full",
                                  "real-311-sequential"])
def test_cases_of_the_suite(runs: dict[str, TestRun], name: str) -> None:
    run = runs[name]
    first = {(c.test_id, c.subtest): c for c in run.cases if not c.rerun}
    fail = first[("test_bb_fail.FailTests.test_assert", None)]
    assert (fail.test_file, fail.status) == ("test_bb_fail", "FAIL")
    # Only the first line of a multi-line message; the traceback keeps the rest.
    assert fail.exception == "AssertionError: 1 != 2 : values differ"
    assert "second line of the message" in fail.traceback
    error = first[("test_bb_fail.FailTests.test_error", None)]
    assert error.status == "ERROR" and error.exception == "KeyError: 'missing'"
    assert 'in helper' in error.traceback and "Traceback" in error.traceback
    for i in (1, 2):
        sub = first[("test_bb_sub.SubTests.test_sub", f"(i={i})")]
        assert sub.exception == f"AssertionError: {i} not less than 1"
    doc = first[("test_bb_sub.SubTests.test_doc", None)]
    assert doc.description == "Docstring first line shown by unittest."
    # The trap: an assertion message quoting "test X crashed --" is not a crash of X.
    assert "test_bb_other" not in run.outcomes
    assert all(c.test_file != "test_bb_other" for c in run.crashes)


@pytest.mark.parametrize("version", ["311", "312", "313"])
def test_unexpected_success_311_plus(runs: dict[str, TestRun], version: str) -> None:
    run = runs[f"real-{version}-full"]
    [case] = [c for c in run.cases if c.status == "UNEXPECTED SUCCESS"]
    assert case.test_id == "test_bb_sub.SubTests.test_unexpected"
    assert case.exception is None


@pytest.mark.parametrize("version", ["38", "39", "310", "311", "312", "313"])
def test_crash_timeout_and_uncaught(runs: dict[str, TestRun], version: str) -> None:
    run = runs[f"real-{version}-full"]
    first_crashes = {c.test_file: c for c in run.crashes if not c.rerun}
    crash = first_crashes["test_bb_crash"]
    assert crash.message == "Fatal Python error: Aborted"
    assert crash.exit and crash.exit.startswith("Exit code -6")
    uncaught = first_crashes["test_bb_uncaught"]
    assert uncaught.kind == "uncaught_exception"
    assert uncaught.message == "ZeroDivisionError: division by zero"
    [timeout] = [t for t in run.timeouts if not t.rerun]
    assert (timeout.test_file, timeout.message) == ("test_bb_timeout", "Timeout (0:00:05)!")
    # The worker's "Exit code 1" was the timeout's consequence, not a second crash.
    assert "test_bb_timeout" not in first_crashes
    excerpt = run.excerpt("test_bb_timeout")
    assert excerpt.startswith("Timeout (0:00:05)!")
    assert "test_bb_timeout.py" in excerpt and "in test_hang" in excerpt
    assert "Fatal Python error: Aborted" in run.excerpt("test_bb_crash")
    assert "ZeroDivisionError" in run.excerpt("test_bb_uncaught")
    assert "os.environ was modified by test_bb_envchanged" in run.excerpt("test_bb_envchanged")


def test_sequential_mode(runs: dict[str, TestRun]) -> None:
    run = runs["real-311-sequential"]
    # "[2/4/1] test_bb_ok -- test_bb_fail failed": the result belongs to the previous test.
    assert run.outcomes == {"test_bb_fail": "failed", "test_bb_ok": "passed",
                            "test_bb_sub": "failed", "test_bb_timeout": "timed_out"}
    assert {c.test_file for c in run.cases} == {"test_bb_fail", "test_bb_sub"}
    assert run.truncated  # faulthandler killed the only process


def test_sequential_crash_names_the_running_test(runs: dict[str, TestRun]) -> None:
    run = runs["real-311-sequential-crash"]
    assert run.outcomes == {"test_bb_ok": "passed", "test_bb_crash": "crashed"}
    [crash] = run.crashes
    assert (crash.test_file, crash.message) == ("test_bb_crash", "Fatal Python error: Aborted")
    assert run.truncated and run.result is None


def test_refleak_run(runs: dict[str, TestRun]) -> None:
    run = runs["hand-refleak-3x"]
    assert run.python == "3.14.0a1+"
    assert run.random_seed == 2147483
    assert run.outcomes["test_os"] == "leaked"
    assert run.outcomes["test_socket"] == "passed_on_rerun"
    assert run.outcomes["test_threading"] == "passed_on_rerun"
    assert run.outcomes["test_ssl"] == "passed"  # "(this is fine)" is not a leak
    assert run.outcomes["test_zipfile"] == "resource_denied"
    assert run.outcomes["test_tix"] == "no_tests"
    assert run.outcomes["test_curses"] == "skipped"
    assert run.failed == ["test_os"]
    assert run.first_run_failed == ["test_os", "test_socket", "test_threading"]
    leaks = [(x.test_file, x.kind, x.counts, x.rerun) for x in run.leaks]
    assert leaks == [
        ("test_os", "references", [1, 1, 1], False),
        ("test_os", "memory blocks", [2, 2, 2], False),
        ("test_socket", "file descriptors", [1, 1, 1], False),  # glued to progress dots
        ("test_os", "references", [1, 1, 1], True),
    ]
    assert "test_os leaked [1, 1, 1] references, sum=3" in run.excerpt("test_os")


def test_windows_crlf(runs: dict[str, TestRun]) -> None:
    run = runs["hand-windows-crlf"]
    assert run.outcomes == {"test_winreg": "passed", "test_os": "failed",
                            "test_ctypes": "crashed", "test_subprocess": "timed_out"}
    [case] = run.cases
    assert case.test_id == "test.test_os.StatAttributeTests.test_stat"
    assert case.exception == "AssertionError: 0 != 3"
    assert "\r" not in case.traceback and "D:\\buildarea" in case.traceback
    [crash] = run.crashes
    assert crash.message == "Windows fatal exception: access violation"
    assert crash.exit == "Exit code 3221225477 (STATUS_ACCESS_VIOLATION)"
    [timeout] = run.timeouts
    assert (timeout.test_file, timeout.message, timeout.kind) == (
        "test_subprocess", "timed out (20 min)", "worker")
    assert run.result == "FAILURE" and not run.truncated


def test_markdown_paste(runs: dict[str, TestRun]) -> None:
    run = runs["hand-markdown"]
    assert run.outcomes == {"test_importlib": "passed_on_rerun"}
    assert run.rerun_passed == ["test_importlib"]
    [case] = run.cases
    assert case.test_id == "test.test_importlib.test_api.ReloadTests.test_load"
    assert case.exception == (
        "ModuleNotFoundError: spec not found for the module 'pkg.__init__' <frozen>")
    assert "importlib/__init__.py" in case.traceback and "(...)" not in case.traceback
    assert run.result == "FAILURE then SUCCESS" and not run.truncated


def test_ansi_colours_and_late_stderr(runs: dict[str, TestRun]) -> None:
    run = runs["hand-ansi-314"]
    assert run.outcomes == {"test_ok": "passed", "test_pathlib": "failed",
                            "test_tkinter": "skipped"}
    assert run.result == "FAILURE"
    [case] = run.cases
    assert case.test_file == "test_pathlib"
    assert all("\x1b" not in c.traceback for c in run.cases)
    # A one-liner after the final result does not invent a failure.
    assert "test_late" not in run.failed


def test_old_ids_and_result_words(runs: dict[str, TestRun]) -> None:
    run = runs["hand-old-ids"]
    assert run.python == "3.8.18" and run.random_seed == 1711018
    assert run.outcomes == {
        "test_grammar": "passed", "test_os": "failed", "test_zipfile": "failed",
        "test_py2": "failed", "test_signal": "crashed", "test_kill": "crashed",
        "test_slow": "timed_out", "test_ctrlc": "interrupted",
        # pasted inside test_py2's output, the block's id names another module: trust the id
        "test_asyncio.test_events": "failed",
    }
    ids = {(c.test_id, c.subtest, c.status) for c in run.cases}
    assert ("test_py2.FooTests.test_foo", None, "FAIL") in ids
    assert ("__main__.BarTests.test_bar", None, "ERROR") in ids
    assert ("test.test_asyncio.test_events.EPollEventLoopTests.test_params",
            "[check name] (proto='tcp', i=3)", "FAIL") in ids
    bar = next(c for c in run.cases if c.test_id == "__main__.BarTests.test_bar")
    assert bar.exception == "RuntimeError: worse"  # the last of a chain
    # "test test_os failed -- Traceback": a non-verbose failure still gives a case.
    os_case = next(c for c in run.cases if c.test_file == "test_os")
    assert os_case.exception.startswith("AssertionError: Lists differ")
    assert {c.message for c in run.crashes} == {"Exit code -9", "Exit code -9 (SIGKILL)"}


def test_excerpt_cut_mid_line_finds_test_from_frames(runs: dict[str, TestRun]) -> None:
    run = runs["hand-excerpt-timeout"]
    # No progress line: the thread dump's frames name the package's module (the same rule as
    # for unittest ids: Lib/test/test_asyncio/test_events.py -> test_asyncio.test_events).
    assert run.outcomes == {"test_asyncio.test_events": "timed_out"}
    [timeout] = run.timeouts
    assert timeout.message == "Timeout (0:15:00)!"
    assert run.truncated and run.result is None
    assert "test_events.py" in run.excerpt("test_asyncio.test_events")


@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.glob("*.log")))
def test_json_contract(runs: dict[str, TestRun], name: str) -> None:
    data = runs[name].to_json()
    keys = {"result", "outcomes", "failed", "first_run_failed", "rerun", "rerun_passed",
            "cases", "leaks", "timeouts", "crashes", "python", "random_seed", "truncated"}
    assert keys <= set(data)
    for case in data["cases"]:
        assert {"test_file", "test_id", "status", "subtest", "exception", "traceback",
                "rerun"} <= set(case)
        assert case["status"] in ("FAIL", "ERROR", "UNEXPECTED SUCCESS")
    for leak in data["leaks"]:
        assert set(leak) >= {"test_file", "kind", "counts"}
    for entry in data["timeouts"] + data["crashes"]:
        assert set(entry) >= {"test_file", "message"}
    assert set(data["failed"]) == {t for t, o in data["outcomes"].items() if o in BAD_OUTCOMES}
    assert set(data["rerun_passed"]) <= set(data["rerun"])


@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.glob("*.log")))
def test_excerpts_are_capped_and_never_the_env_dump(runs: dict[str, TestRun], name: str) -> None:
    run = runs[name]
    for test_file in run.failed:
        text = run.excerpt(test_file, max_lines=15)
        assert text.strip(), test_file
        assert len(text.splitlines()) <= 15
        assert "environ({" not in text and "== CPython" not in text


@pytest.mark.parametrize("version", ["38", "313"])
def test_slow_test_heartbeat(runs: dict[str, TestRun], version: str) -> None:
    run = runs[f"real-{version}-slow"]
    assert run.outcomes == {"test_bb_ok": "passed", "test_bb_fail": "failed",
                            "test_bb_slow": "passed"}
    assert run.still_running == [] and not run.truncated
    # The same log cut right after the heartbeat: the slow test is the one still running.
    text = (SAMPLES / f"real-{version}-slow.log").read_text()
    heartbeat = next(line for line in text.splitlines() if " running" in line)
    cut = parse_text(text[: text.index(heartbeat) + len(heartbeat)])
    assert cut.truncated and cut.still_running == ["test_bb_slow"]
