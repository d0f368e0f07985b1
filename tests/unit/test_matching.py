"""Matching: test ids, search terms, message normalisation, titles, ranking, and the cases table."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from bbwatch.domain import Failure, Issue, canonical_test_id, split_test_id
from bbwatch.logs.failures import failures_from_run
from bbwatch.triage.matching import (
    MAX_MESSAGE,
    Match,
    classify,
    normalise_message,
    rank,
    search_terms,
    suggest_title,
)
from bbwatch.triage.registry import parse_registry
from bbwatch.triage.tracker import FileTracker
from hypothesis import given, settings
from hypothesis import strategies as st

HERE = Path(__file__).parent
CASES = tomllib.loads((HERE / "matching_cases.toml").read_text())["case"]
SAMPLES = HERE / "samples" / "regrtest"


# -- test ids ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("test_id", "test_file", "expected"),
    [
        ("test.test_os.FileTests.test_foo", "test_os", ("FileTests", "test_foo")),
        ("test_foo (test.test_os.FileTests)", "test_os", ("FileTests", "test_foo")),
        ("test_foo (test.test_os.FileTests.test_foo)", "test_os", ("FileTests", "test_foo")),
        ("test_bb_sub.SubTests.test_sub (i=1)", "test_bb_sub", ("SubTests", "test_sub")),
        ("test.test_asyncio.test_events.EventLoopTests.test_run", "test_asyncio",
         ("EventLoopTests", "test_run")),
        ("test.test_os.FileTests", "test_os", ("FileTests", None)),  # setUpClass-style
        ("test_bb_uncaught", "test_bb_uncaught", (None, None)),  # import error
        ("unittest.loader._FailedTest.test_x", "test_x", (None, None)),  # import failed
        ("test.test_socket.BasicTCPTest.testRecv", "test_socket", ("BasicTCPTest", "testRecv")),
        (None, "test_os", (None, None)),
    ],
)
def test_split_test_id(test_id, test_file, expected):
    assert split_test_id(test_id, test_file) == expected


def test_canonical_test_id():
    old_style = "test_foo (test.test_os.FileTests)"
    assert canonical_test_id(old_style) == "test.test_os.FileTests.test_foo"
    assert canonical_test_id("test_x.T.test_a (i=1)") == "test_x.T.test_a"
    assert canonical_test_id("") is None


# -- search terms --------------------------------------------------------------------------
def test_search_terms_follow_the_procedure():
    f = Failure("test_os", "test.test_os.FileTests.test_foo",
                message="AssertionError: 12 != 13\n  more lines")
    assert search_terms(f) == ["test_foo", "FileTests.test_foo", "FileTests", "test_os",
                               "AssertionError: <N> != <N>"]


def test_search_terms_without_a_test_id_or_message():
    assert search_terms(Failure("test_bbw_crash", None, message="Fatal Python error: Aborted")) \
        == ["test_bbw_crash", "Fatal Python error: Aborted"]
    assert search_terms(Failure("test_x")) == ["test_x"]
    assert search_terms(Failure("test_os", "test.test_os.FileTests")) == ["FileTests", "test_os"]


# -- normalisation -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("AssertionError: 1 != 2", "AssertionError: <N> != <N>"),
        ("AssertionError: 3.25 != -1e-05", "AssertionError: <N> != <N>"),
        ("<Foo object at 0x7f3a1c2b5740> is not None", "<Foo object at <ADDR>> is not None"),
        ("ValueError: bad flags 0xDEADBEEF", "ValueError: bad flags <HEX>"),
        ("FileNotFoundError: [Errno 2] No such file: '/tmp/test_python_123/tmpk3j_x/@test_9_tmp'",
         "FileNotFoundError: [Errno <N>] No such file: '<TMP>'"),
        (r"PermissionError: C:\Users\buildbot\AppData\Local\Temp\tmpab12\x.txt",
         "PermissionError: <TMP>"),
        ("FileNotFoundError: [Errno 2] No such file or directory: "
         "'/home/buildbot/buildarea/3.x.cstratak-fedora/build/Lib/data_3.txt'",
         "FileNotFoundError: [Errno <N>] No such file or directory: '<PATH>/data_3.txt'"),
        (r"OSError: C:\buildbot\3.x.kloth-win64\build\Lib\x.py is locked",
         "OSError: <PATH>/x.py is locked"),
        ("see Lib/test/test_os.py and a/b", "see Lib/test/test_os.py and a/b"),  # relative
        ("Warning -- reap_children() reaped child process 26487",
         "Warning -- reap_children() reaped child process <PID>"),
        ("Kill <WorkerThread #1 running test=test_x pid=123 time=25.0 min> process group",
         "Kill <WorkerThread #<N> running test=test_x pid=<PID> time=<N> min> process group"),
        ("git revision 3f2a9c1d0e is bad", "git revision <HEX> is bad"),
        ("test_pep3118 and test_ssl keep digits", "test_pep3118 and test_ssl keep digits"),
        ("\x1b[31mAssertionError\x1b[0m: 5", "AssertionError: <N>"),
        ("\n\n   first   line  \nsecond", "first line"),
        ("FAIL: test_x (m.T.test_x)\nTraceback (most recent call last):\nValueError: 7",
         "ValueError: <N>"),
        ("", ""),
    ],
)
def test_normalise_message(message, expected):
    assert normalise_message(message) == expected


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("FAIL: test_assert (test_bb_fail.FailTests.test_assert)\nTraceback (most recent call "
         "last):\n  File \"/x/test_bb_fail.py\", line 5, in test_assert\n    self.assertEqual"
         "(1, 2)\nAssertionError: 1 != 2", "AssertionError: 1 != 2"),
        ("Traceback (most recent call last):\n  File \"x\", line 1\nKeyError: 'a'\n\nDuring "
         "handling of the above exception, another exception occurred:\nTraceback (most recent "
         "call last):\nRuntimeError: wrapped", "RuntimeError: wrapped"),
        ("Fatal Python error: Aborted\n\nCurrent thread 0x00007f (most recent call first):\n"
         "  File \"/x.py\", line 3 in f", "Fatal Python error: Aborted"),
        ("Timeout (0:00:20)!\nThread 0x00007f (most recent call first):\n  File \"/x\", line 1 "
         "in wait", "Timeout (0:00:20)!"),
        ("test_bbw_cache leaked [1, 1, 1] references, sum=3",
         "test_bbw_cache leaked [1, 1, 1] references, sum=3"),
    ],
)
def test_message_line_finds_the_error_in_an_excerpt(text, line):
    from bbwatch.triage.matching import message_line

    assert message_line(text) == line


def test_normalised_messages_of_the_same_failure_are_equal():
    a = "OSError: [Errno 98] Address already in use: ('127.0.0.1', 40213) pid 4711"
    b = "OSError: [Errno 98] Address already in use: ('127.0.0.1', 51877) pid 812"
    assert normalise_message(a) == normalise_message(b)


def test_long_messages_are_cut_at_a_word():
    message = "AssertionError: " + " ".join(f"word{i}x" for i in range(60))
    out = normalise_message(message)
    assert len(out) <= MAX_MESSAGE and out.startswith("AssertionError: word0x word1x")
    assert out.split()[-1].startswith("word") and message.startswith(out)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_normalise_is_bounded_single_line_and_stable(text):
    out = normalise_message(text)
    assert len(out) <= MAX_MESSAGE
    assert "\n" not in out
    assert normalise_message(out) == out


# -- titles --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("failure", "title"),
    [
        (Failure("test_posix", "test.test_posix.TestPosixSpawn.test_setsid", "PPC64 Fedora 3.x"),
         "test_posix: TestPosixSpawn.test_setsid fails on PPC64 Fedora 3.x"),
        (Failure("test_posix", "test_setsid (test.test_posix.TestPosixSpawn)"),
         "test_posix: TestPosixSpawn.test_setsid fails"),
        (Failure("test_bbw_flaky", "test_bbw_flaky.FlakyTests.test_flaky", "AMD64 Ubuntu 3.x",
                 passed_on_rerun=True),
         "test_bbw_flaky: FlakyTests.test_flaky fails on AMD64 Ubuntu 3.x"),
        (Failure("test_bbw_crash", None, "AMD64 Ubuntu LTO 3.x", message="Fatal Python error: "
                 "Aborted\n\nCurrent thread 0x7f (most recent call first):", kind="crashed"),
         "test_bbw_crash: Fatal Python error: Aborted on AMD64 Ubuntu LTO 3.x"),
        (Failure("test_bbw_envchanged", None, "x86 Gentoo 3.14", kind="env_changed",
                 message="test_bbw_envchanged altered the execution environment (env changed)"),
         "test_bbw_envchanged: altered the execution environment (env changed) on x86 Gentoo 3.14"),
        (Failure("test_x", None, "B", kind="timed_out"), "test_x: times out on B"),
        (Failure("test_os", "test.test_os.FileTests", "B"), "test_os: FileTests fails on B"),
    ],
)
def test_suggest_title(failure, title):
    assert suggest_title(failure) == title


def test_long_crash_messages_are_shortened_in_titles():
    f = Failure("test_x", None, "B", message="RuntimeError: " + "very long words " * 20)
    title = suggest_title(f)
    assert title.startswith("test_x: RuntimeError: very long words") and title.endswith("… on B")
    assert len(title) < 100


# -- ranking -------------------------------------------------------------------------------
def _issue(number: int, title: str, state: str = "open", body: str = "") -> Issue:
    return Issue(number, title, state, f"https://github.com/python/cpython/issues/{number}",
                 (), body)


def test_rank_gives_reasons_confidences_and_order():
    f = Failure("test_os", "test.test_os.FileTests.test_foo", message="AssertionError: 1 != 2")
    issues = [
        _issue(1, "test_os is slow"),
        _issue(2, "test_os: FileTests.test_foo fails on X", "closed"),
        _issue(3, "test_os: FileTests.test_foo fails on Y"),
        _issue(4, "unrelated"),
        _issue(5, "test_foo fails"),
        _issue(6, "FileTests leaks"),
    ]
    matches = rank(f, issues)
    assert [m.issue.number for m in matches] == [3, 2, 5, 6, 1]
    confidences = [m.confidence for m in matches]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert matches[0].reason == "title contains `FileTests.test_foo`; issue is open"
    assert matches[1].reason == (
        "title contains `FileTests.test_foo`; issue is closed — maybe reopen"
    )
    assert matches[-1].reason == "title contains `test_os`; issue is open"
    assert {m.source for m in matches} == {"tracker"}


def test_rank_puts_registry_first_and_uses_the_tracker_state():
    registry = parse_registry(
        '[[issue]]\nnumber = 7\ntitle = "reviewed"\nkind = "failing"\ntests = ["test_os"]\n'
        "added = 2026-11-20\n", "r.toml")
    f = Failure("test_os", "test.test_os.FileTests.test_foo")
    closed = _issue(7, "test_os: something else", "closed")
    matches = rank(f, [_issue(8, "test.test_os.FileTests.test_foo fails"), closed], registry)
    assert [m.issue.number for m in matches] == [7, 8]
    assert matches[0].source == "registry" and matches[0].issue is closed
    assert matches[0].reason == (
        "reviewed registry entry (failing) covers `test.test_os.FileTests.test_foo`; "
        "issue is closed — maybe reopen"
    )
    # without the tracker's copy the registry entry stands in as an open issue
    alone = rank(f, [], registry)
    assert [(m.issue.number, m.issue.state, m.issue.title) for m in alone] == \
        [(7, "open", "reviewed")]


def test_classify():
    f = Failure("test_x", "test_x.T.test_a")
    strong = Match(_issue(1, "t"), 0.85, "r", "tracker")
    weak = Match(_issue(2, "t"), 0.45, "r", "tracker")
    closed = Match(_issue(3, "t", "closed"), 0.86, "r", "tracker")
    assert classify(f, [strong]) == "known"
    assert classify(f, [weak, closed]) == "new"
    assert classify(f, []) == "new"
    flaky = Failure("test_x", "test_x.T.test_a", passed_on_rerun=True)
    assert classify(flaky, [strong]) == "flaky"


# -- from parsed logs ----------------------------------------------------------------------
def test_failures_from_a_real_312_log():
    from bbwatch.logs.regrtest import parse_file

    run = parse_file(SAMPLES / "real-312-full.log")
    failures = failures_from_run(run, "AMD64 Debian 3.x", "3.x")
    by_id = {(f.test_file, f.test_id): f for f in failures}
    assert len(by_id) == len(failures)  # one per test case: re-runs and subtests merged
    assert by_id[("test_bb_fail", "test_bb_fail.FailTests.test_assert")].message == \
        "AssertionError: 1 != 2 : values differ"
    flaky = by_id[("test_bb_flaky", "test_bb_flaky.FlakyTests.test_flaky")]
    assert flaky.passed_on_rerun and flaky.builder == "AMD64 Debian 3.x" and flaky.branch == "3.x"
    kinds = {f.test_file: (f.kind, f.test_id) for f in failures if f.kind != "failed"}
    # crash and timeout: the full id of the verbose line the crash or hang interrupted
    # (without one, the method of the thread dump's frame in the test file)
    assert kinds == {"test_bb_crash": ("crashed", "test_bb_crash.CrashTests.test_abort"),
                     "test_bb_timeout": ("timed_out", "test_bb_timeout.TimeoutTests.test_hang"),
                     "test_bb_envchanged": ("env_changed", None)}
    crash = next(f for f in failures if f.test_file == "test_bb_crash")
    assert crash.message == "Fatal Python error: Aborted"
    assert suggest_title(crash) == \
        "test_bb_crash: CrashTests.test_abort crashes on AMD64 Debian 3.x"
    assert by_id[("test_bb_sub", "test_bb_sub.SubTests.test_unexpected")].message == \
        "UNEXPECTED SUCCESS"


def test_first_run_traceback_without_a_header_gives_the_method():
    """-j first runs print "test test_x failed -- Traceback": the frames name the method."""
    from bbwatch.logs.regrtest import parse_text

    log = (
        "0:00:00 load avg: 3.39 [5/5/1] test_bbw_events failed (1 failure)\n"
        "test test_bbw_events failed -- Traceback (most recent call last):\n"
        '  File "/w/build/Lib/test/test_bbw_events.py", line 26, in test_wakeup_race\n'
        '    self.fail("first run fails: lost a race with the event loop")\n'
        "AssertionError: first run fails: lost a race with the event loop\n"
    )
    failures = failures_from_run(parse_text(log), "AMD64 CentOS9 NoGIL 3.14")
    assert [f.test_id for f in failures] == ["test_bbw_events.test_wakeup_race"]
    assert suggest_title(failures[0]) == (
        "test_bbw_events: test_wakeup_race fails on AMD64 CentOS9 NoGIL 3.14")
    registry = parse_registry(
        '[[issue]]\nnumber = 5\ntitle = "t"\nkind = "flaky"\n'
        'tests = ["test_bbw_events.EventTests.test_wakeup_race"]\nadded = 2026-11-20\n', "r")
    assert [k.number for k in registry.match(failures[0])] == [5]  # class-less id still covered


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ('Traceback (most recent call last):\n  File "/x/Lib/test/test_os.py", line 3, in '
         'test_a\n  File "/x/Lib/test/test_os.py", line 9, in test_helper_b\n  File '
         '"/x/Lib/os.py", line 1, in stat\nOSError', "test_helper_b"),
        ('Fatal Python error: Aborted\nCurrent thread 0x1 (most recent call first):\n  File '
         '"/b/Lib/bbw.py", line 2 in parse\n  File "/b/Lib/test/test_p.py", line 16 in test_deep'
         '\n  File "/b/Lib/test/test_p.py", line 30 in test_outer', "test_deep"),
        (r'  File "C:\b\Lib\test\test_p\test_sub.py", line 4, in test_win', "test_win"),
        ('  File "/x/Lib/test/test_pp.py", line 4, in test_other', None),  # another file
        ('  File "/x/Lib/test/test_p.py", line 5, in <module>', None),
    ],
)
def test_method_from_frames(text, method):
    from bbwatch.logs.failures import method_from_frames

    assert method_from_frames("test_p" if "test_os" not in text else "test_os", text) == method


def test_failures_from_a_flaky_only_log():
    from bbwatch.logs.regrtest import parse_file

    failures = failures_from_run(parse_file(SAMPLES / "real-313-flaky.log"))
    assert [(f.test_id, f.passed_on_rerun) for f in failures] == \
        [("test_bb_flaky.FlakyTests.test_flaky", True)]


def test_failures_from_an_empty_run():
    from bbwatch.logs.regrtest import parse_text

    assert failures_from_run(parse_text("")) == []


# -- the growing cases table ---------------------------------------------------------------
def _first_failure(case: dict) -> Failure:
    builder, branch = case.get("builder"), case.get("branch")
    if "log" in case:
        from bbwatch.logs.regrtest import parse_text

        failures = failures_from_run(parse_text(case["log"]), builder, branch)
        assert failures, "the log excerpt gave no failure"
        return failures[0]
    return Failure(builder=builder, branch=branch, **case["failure"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matching_cases(case):
    failure = _first_failure(case)
    if "test_id" in case:
        assert failure.test_id == case["test_id"]
    issues = [Issue(i["number"], i["title"], i.get("state", "open"),
                    f"https://github.com/python/cpython/issues/{i['number']}", (),
                    i.get("body", "")) for i in case["issues"]]
    registry = parse_registry(case["registry"], "case.toml") if "registry" in case else None
    matches = rank(failure, issues, registry)
    best = matches[0].issue.number if matches else 0
    table = [(m.issue.number, round(m.confidence, 2), m.reason) for m in matches]
    assert best == case["expected"], table
    if "classification" in case:
        assert classify(failure, matches) == case["classification"], table


# -- properties ----------------------------------------------------------------------------
_names = st.from_regex(r"[a-z][a-z0-9]{0,6}(_[a-z0-9]{1,6}){0,2}", fullmatch=True)
_failures = st.builds(
    Failure,
    test_file=_names.map(lambda n: f"test_{n}"),
    test_id=st.one_of(
        st.none(),
        st.tuples(_names, st.from_regex(r"[A-Z][A-Za-z0-9]{0,10}", fullmatch=True), _names)
        .map(lambda t: f"test.test_{t[0]}.{t[1]}.test_{t[2]}"),
    ),
    builder=st.one_of(st.none(), st.sampled_from(
        ["AMD64 Debian root 3.x", "ARM64 macOS 3.14", "AMD64 Windows PGO NoGIL PR"])),
    message=st.one_of(st.none(), st.text(max_size=200)),
    kind=st.sampled_from(["failed", "crashed", "timed_out", "env_changed", "leaked"]),
    passed_on_rerun=st.booleans(),
)


@settings(max_examples=120, deadline=None)
@given(_failures)
def test_property_first_term_finds_the_suggested_title(failure):
    """The round trip, for any failure: file the suggested title, search the first term."""
    if failure.test_id:
        # the test id's module must be the test file for the title to be about it
        failure = Failure(failure.test_file, "test." + failure.test_file + "." +
                          failure.test_id.split(".", 2)[2], failure.builder, failure.branch,
                          failure.message, failure.kind, failure.passed_on_rerun)
    title = suggest_title(failure)
    tracker = FileTracker.from_issues([Issue(1, "test_other: unrelated", "open", ""),
                                       Issue(2, title, "open", "")])
    assert 2 in [i.number for i in tracker.search(search_terms(failure)[0])]
    best = rank(failure, tracker.issues)
    assert best and best[0].issue.number == 2


_issues = st.lists(
    st.builds(Issue, number=st.integers(1, 10_000),
              title=st.lists(st.sampled_from(
                  ["test_os", "FileTests", "test_foo", "test_bar", ":", ".", "fails", "on",
                   "test_os:", "FileTests.test_foo", "crashed", "x"]), max_size=8).map(" ".join),
              state=st.sampled_from(["open", "closed"]), url=st.just(""),
              body=st.text(max_size=80)),
    max_size=12, unique_by=lambda i: i.number,
)


@settings(max_examples=120, deadline=None)
@given(_failures, _issues)
def test_property_rank_is_ordered_bounded_and_explained(failure, issues):
    matches = rank(failure, issues)
    confidences = [m.confidence for m in matches]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert len({m.issue.number for m in matches}) == len(matches)
    for m in matches:
        assert m.reason.endswith("issue is open" if m.issue.is_open
                                 else "issue is closed — maybe reopen")
    for a, b in zip(matches, matches[1:], strict=False):
        if a.rule == b.rule and a.issue.is_open != b.issue.is_open:
            assert a.issue.is_open  # open above closed for the same rule
