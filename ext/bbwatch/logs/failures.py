"""What failed in a parsed log, as the ``Failure`` records matching reads.

``failures_from_run`` turns a ``TestRun`` into one ``bbwatch.domain.Failure`` per failing test
case, plus one per bad test file without cases (crash, timeout, env changed, leak), with the
test id recovered from tracebacks and thread dumps when the log gives no verbose line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bbwatch.domain import Failure, canonical_test_id, split_test_id
from bbwatch.logs.results import Crash, TestCase, TestRun, Timeout

_OUTCOME_WORDS = {
    "env_changed": "altered the execution environment (env changed)",
    "crashed": "crashed",
    "timed_out": "timed out",
    "leaked": "leaked references",
}


def _outcome_kind(outcome: str) -> str:
    outcome = (outcome or "").lower().replace("_", " ")
    if "env changed" in outcome:
        return "env_changed"
    if "timed out" in outcome or "timeout" in outcome:
        return "timed_out"
    if "leak" in outcome:
        return "leaked"
    if "crash" in outcome or "exit code" in outcome or "uncaught" in outcome:
        return "crashed"
    return "failed"


def failures_from_run(run: TestRun, builder: str | None = None, branch: str | None = None
                      ) -> list[Failure]:
    """One Failure per failing test case, plus one per bad test file without cases.

    Cases of the first run and of the re-run are merged (a test that failed, then passed on
    re-run, is kept with ``passed_on_rerun``).
    Bad files without FAIL/ERROR blocks (crash, timeout, env changed, leak) get the message
    from the log: the timeout/crash line, the leak summary or the outcome.
    """
    rerun_passed = set(run.rerun_passed)
    outcomes: dict[str, str] = dict(run.outcomes)
    failures: list[Failure] = []
    seen: set[tuple[str, str]] = set()
    with_cases: set[str] = set()
    for case in run.cases:
        test_file = case.test_file or ""
        test_id = canonical_test_id(case.test_id)
        if not test_file or not test_id:
            continue
        with_cases.add(test_file)
        if split_test_id(test_id, test_file) == (None, None):
            # "test test_x failed -- Traceback" (-j first runs): the frames name the method
            method = method_from_frames(test_file, case.traceback or "")
            test_id = f"{test_id}.{method}" if method else test_id
        if (test_file, test_id) in seen:
            continue
        seen.add((test_file, test_id))
        failures.append(Failure(
            test_file, test_id, builder, branch, _case_message(case), "failed",
            test_file in rerun_passed,
        ))

    messages: dict[str, tuple[str, str]] = {}
    ids: dict[str, str] = {}  # the verbose line's test id, else the thread dump's method
    entries: list[tuple[str, Timeout | Crash]] = [
        *(("timed_out", t) for t in run.timeouts), *(("crashed", c) for c in run.crashes)]
    for kind, entry in entries:
        test_file = entry.test_file
        text = entry.message or ""
        if test_file and test_file not in messages:
            messages[test_file] = (kind, str(text))
        if not test_file:
            continue
        test_id = canonical_test_id(entry.test_id)
        method = method_from_frames(test_file, entry.detail or "")
        if test_id:
            ids.setdefault(test_file, test_id)
        elif method:
            ids.setdefault(test_file, f"{test_file}.{method}")
    for leak in run.leaks:
        test_file = leak.test_file
        counts = list(leak.counts or [])
        text = f"{test_file} leaked {counts} {leak.kind}, sum={sum(counts)}"
        if test_file and test_file not in messages:
            messages[test_file] = ("leaked", text)

    bad = list(run.failed)
    bad += [t for t, o in outcomes.items() if _outcome_kind(o) == "env_changed" and t not in bad]
    bad += [t for t in messages if t not in bad]
    bad += [t for t in rerun_passed if t not in bad]
    for test_file in _unique(bad):
        if test_file in with_cases:
            continue
        kind, text = messages.get(test_file, (_outcome_kind(outcomes.get(test_file, "")), ""))
        notes = run.notes
        if not text:
            text = notes.get(test_file) or ""
        if not text and test_file in outcomes:
            text = f"{test_file} {_OUTCOME_WORDS.get(kind, outcomes[test_file])}"
        test_id = ids.get(test_file)
        failures.append(Failure(test_file, test_id, builder, branch, text or None, kind,
                                test_file in rerun_passed))
    return failures


def method_from_frames(test_file: str, text: str) -> str | None:
    """The test method a traceback or faulthandler dump was in, from its frames in ``test_file``.

    Only functions named ``test*`` count; the class is not in the frames, so callers get a
    ``test_x.test_method`` id without it.
    """
    if not test_file or not text:
        return None
    path = r"[/\\]".join(re.escape(part) for part in test_file.split("."))  # package modules
    frame = re.compile(r'File "[^"\n]*?(?:^|[/\\])' + path
                       + r'(?:[/\\][^"\n]*)?\.py", line \d+,? in (test\w*)')
    found = frame.findall(text)
    if not found:
        return None
    # tracebacks list the innermost frame last, faulthandler dumps first
    return found[0] if "most recent call first" in text else found[-1]


def _case_message(case: TestCase) -> str | None:
    status = case.status or ""
    message = case.exception or None
    if status not in ("FAIL", "ERROR", ""):
        return f"{status}: {message}" if message else status  # "UNEXPECTED SUCCESS"
    return message


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
