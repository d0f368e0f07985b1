"""Triage contexts shared by the triage unit tests and the ``test-checklist`` Sphinx root."""

from __future__ import annotations

from bbwatch.triage.context import (
    BuildLink,
    Candidate,
    FailureContext,
    SuspectChange,
    TriageContext,
)

BASE = "http://127.0.0.1:8010/"
# Everything a hostile or just unusual master/log could put in a value.
HOSTILE_BUILDER = 'AMD64 <script>alert("b")</script> **Ünïcode** [x](javascript:alert(1)) & co 3.x'
HOSTILE_TEST_ID = "test.test_evil.Quote`s_\"Test\".test_<b>bold</b>"
HOSTILE_EXCERPT = (
    "Traceback (most recent call last):\n"
    '  File "/tmp/x.py", line 1, in <module>\n'
    "```\n</pre><script>alert('x')</script>\n"
    "@someone #123 $x$ :smile: ünïcødé ✓\n"
    'AssertionError: "a" != \'b\' <img src=x onerror=alert(1)>'
)


def hostile_context() -> TriageContext:
    return TriageContext(
        build_url=f"{BASE}#/builders/7/builds/42",
        builder=HOSTILE_BUILDER,
        build_number=42,
        result="failure",
        branch="3.x",
        revision="0123456789abcdef0123456789abcdef01234567",
        worker="evil-<worker>",
        owner='Owner "O\'Brien" <owner@example.org>',
        builder_url=f"{BASE}#/builders/7",
        log_url=f"{BASE}api/v2/builders/7/builds/42/steps/test/logs/stdio/raw",
        failures=[
            FailureContext(
                test_file="test_evil",
                test_ids=(HOSTILE_TEST_ID, "test.test_evil.Other.test_two"),
                message="AssertionError: \"a\" != 'b' <img src=x onerror=alert(1)>",
                excerpt=HOSTILE_EXCERPT,
                candidates=(
                    Candidate(
                        'test_evil: Quote`s_"Test" fails <i>sometimes</i>',
                        "https://github.com/python/cpython/issues/4242",
                        4242,
                        reason="title contains `test_evil`; issue is open",
                        confidence=0.85,
                    ),
                ),
            )
        ],
        suspects=[
            SuspectChange("gh-1: touch <evil> & `code`", "feedface" * 5, "Dev <dev@x>",
                          "https://github.com/python/cpython/commit/" + "feedface" * 5,
                          "touches Lib/test/test_evil.py", 3),
        ],
        first_failing=BuildLink(40, f"{BASE}#/builders/7/builds/40"),
        last_good=BuildLink(39, f"{BASE}#/builders/7/builds/39"),
        seed="1234567",
    )


def infra_context() -> TriageContext:
    return TriageContext(
        build_url=f"{BASE}#/builders/9/builds/5",
        builder="ARM64 Compile-Broken 3.14",
        build_number=5,
        result="failure",
        branch="3.14",
        revision="abcdef",
        worker="arm-worker",
        builder_url=f"{BASE}#/builders/9",
        infra="compile",
        excerpt="gcc: error: Python/ceval.c: No such file or directory\nmake: *** [all] Error 1",
    )


CONTROL_EXCERPT = "\x1b[31mFAIL\x1b[0m: test_ctl\x00 \u202egnp.exe\u202c\x7f"


def control_context() -> TriageContext:
    """Terminal escapes, NUL, DEL and a bidi override in what the master and the log say."""
    return TriageContext(
        build_url=f"{BASE}#/builders/8/builds/3",
        builder="AMD64 \x1b]0;pwned\x07 \u202eRTL 3.x",
        build_number=3,
        result="failure",
        failures=[FailureContext("test_ctl", ("test_ctl.T.test_\x1bx",),
                                 message=CONTROL_EXCERPT, excerpt=CONTROL_EXCERPT)],
    )
