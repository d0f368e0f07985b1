"""Property tests: whatever bytes or mangled real logs come in, the parser never raises.

And what it returns is coherent: ``failed`` is exactly the bad outcomes, re-run-passed tests
were re-run, the JSON round-trips, and streaming equals parsing the whole string.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from bbwatch.logs import regrtest
from bbwatch.logs.regrtest import parse_lines, parse_stream, parse_text
from bbwatch.logs.results import BAD_OUTCOMES, TestRun
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SAMPLES = Path(__file__).parent / "samples" / "regrtest"
REAL_LINES = {p.stem: p.read_bytes().splitlines(keepends=True) for p in SAMPLES.glob("*.log")}
NAMES = sorted(REAL_LINES)
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _coherent(run: TestRun) -> None:
    assert run.failed == sorted(t for t, o in run.outcomes.items() if o in BAD_OUTCOMES)
    assert set(run.rerun_passed) <= set(run.rerun)
    assert all(run.outcomes.get(t) == "passed_on_rerun" for t in run.rerun_passed)
    data = run.to_json()
    assert json.loads(json.dumps(data)) == data
    for name in run.outcomes:
        assert isinstance(run.excerpt(name, 10), str)
        assert len(run.excerpt(name, 10).splitlines()) <= 10


@FAST
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(data: bytes) -> None:
    _coherent(parse_stream(io.BytesIO(data)))


@FAST
@given(st.lists(st.sampled_from([
    "0:00:01 [1/3/1] test_a failed (1 failure)", "[ 2/10] test_b -- test_a crashed (Exit code 1)",
    "FAIL: test_x (test.test_a.T.test_x) (i=1)", "=" * 70, "-" * 70, "Traceback (most recent "
    "call last):", '  File "/b/test_a.py", line 1 in f', "AssertionError: 1 != 2", "",
    "== Tests result: FAILURE ==", "3 tests failed:", "    test_a test_b", "Result: FAILURE",
    "Re-running failed tests in verbose mode", "Re-running test_a in verbose mode",
    "test test_a failed -- Traceback (most recent call last):", "Timeout (0:00:05)!",
    "Fatal Python error: Aborted", "test_a leaked [1, 1, 1] references, sum=3", "```",
    "\\_\\_init\\_\\_", "\x1b[31mtest test_b failed\x1b[0m", "1 re-run test:", "All 3 tests OK.",
    "Thread 0x1 (most recent call first):", "Warning -- x was modified by test_a",
]), max_size=60))
def test_shuffled_regrtest_lines_never_raise(lines: list[str]) -> None:
    _coherent(parse_lines(lines))
    _coherent(parse_text("\n".join(lines)))


@FAST
@given(st.sampled_from(NAMES), st.randoms(use_true_random=False))
def test_shuffled_real_logs_never_raise(name: str, rnd) -> None:
    lines = list(REAL_LINES[name])
    rnd.shuffle(lines)
    _coherent(parse_stream(io.BytesIO(b"".join(lines))))


@FAST
@given(st.sampled_from(NAMES), st.data())
def test_truncated_real_logs_never_raise(name: str, data: st.DataObject) -> None:
    raw = b"".join(REAL_LINES[name])
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, len(raw)))
    excerpt = raw[start:end]  # cut mid-line, mid-UTF-8 sequence, anywhere
    run = parse_stream(io.BytesIO(excerpt))
    _coherent(run)
    if b"Result: " not in excerpt and b"Tests result: " not in excerpt.replace(b"== Tests", b""):
        assert run.truncated


@FAST
@given(st.sampled_from(NAMES), st.integers(1, 64))
def test_streaming_equals_whole_text(name: str, chunk: int) -> None:
    raw = b"".join(REAL_LINES[name])
    expected = parse_text(raw.decode("utf-8", "replace")).to_json()
    original = regrtest.CHUNK_SIZE
    regrtest.CHUNK_SIZE = chunk
    try:
        assert parse_stream(io.BytesIO(raw)).to_json() == expected
    finally:
        regrtest.CHUNK_SIZE = original
