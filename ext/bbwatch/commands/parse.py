"""`bbwatch parse SOURCE [--json]`: what a regrtest log says (SOURCE: file, ``-`` or build URL)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO
from urllib.parse import urlsplit

from bbwatch.commands import fail
from bbwatch.errors import BBWatchError, BuildbotError
from bbwatch.logs.regrtest import parse_file, parse_stream, parse_text
from bbwatch.logs.results import BAD_OUTCOMES, TestCase, TestRun
from bbwatch.source.open import default_cache_dir
from bbwatch.source.sync import BuildbotClient
from bbwatch.source.urls import parse_build_url, parse_url


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parse",
        help="parse a regrtest (python -m test) log: failures, re-runs, crashes, leaks",
        description="Parse a CPython regrtest log from a file, stdin (-), a Buildbot build "
        "URL (its 'test' step) or a raw log URL (.../api/v2/logs/ID/raw) and print which "
        "tests failed, how, and whether they passed when re-run.",
    )
    p.add_argument("source", metavar="SOURCE",
                   help="log file, '-' for stdin, a build URL or a raw log URL")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="HTTP timeout in seconds for a build URL (default 20)")
    p.set_defaults(func=run)


class SourceError(BBWatchError):
    """A source that cannot be read; the message is one line."""


def run(args: argparse.Namespace) -> int:
    # Log text can hold anything: never let the terminal's encoding turn it into a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        test_run = load_run(args.source, args.timeout)
    except SourceError as exc:
        return fail(str(exc))
    if test_run.empty:
        print(f"bbwatch: note: no regrtest output found in {_label(args.source)}",
              file=sys.stderr)
    if args.json:
        json.dump(test_run.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render(test_run, sys.stdout)
    return 0


def _label(source: str) -> str:
    return "stdin" if source == "-" else _safe(source)


def _safe(source: str) -> str:
    """A URL fit for messages: no credentials, query or fragment tokens (paths kept as given)."""
    if not source.lower().startswith(("http://", "https://")):
        return source
    parts = urlsplit(source)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    fragment = parts.fragment.split("?", 1)[0]
    fragment = f"#{fragment}" if fragment.startswith("/") else ""
    return f"{parts.scheme}://{host}{parts.path}{fragment}"


def load_run(source: str, timeout: float) -> TestRun:
    """The parsed log of SOURCE (file, ``-`` or URL); SourceError (one line) if unreadable."""
    if source == "-":
        return parse_stream(sys.stdin.buffer)
    if source.lower().startswith(("http://", "https://")):
        return parse_text(_fetch_test_log(source, timeout))
    try:
        return parse_file(source)
    except FileNotFoundError:
        raise SourceError(f"no such file: {source}") from None
    except IsADirectoryError:
        raise SourceError(f"is a directory, not a log file: {source}") from None
    except OSError as exc:
        raise SourceError(f"cannot read {source}: {exc.strerror or exc}") from None


def _fetch_test_log(url: str, timeout: float) -> str:
    """The raw stdio of the ``test`` step of the build ``url`` names, through the client."""
    cache_dir = default_cache_dir()
    logid = _logid(url)  # a raw-log URL by id (.../api/v2/logs/ID/raw): that log itself
    try:
        ref = None if logid is not None else parse_build_url(url)
    except ValueError as exc:
        raise SourceError(str(exc)) from None
    try:
        with BuildbotClient(ref.base_url if ref else url, cache_dir=cache_dir, timeout=timeout,
                            retries=1) as client:
            if ref is None:
                text = client.log_text(client.log(logid or 0))
            else:
                _builder, build = client.resolve(ref)
                text = client.test_log(build)
    except BuildbotError as exc:
        raise SourceError(str(exc)) from None
    except OSError as exc:  # cache directory problems and the like
        raise SourceError(f"cannot fetch {_safe(url)}: {exc}") from None
    except Exception as exc:  # a master answering garbage mid-restart: still one line
        detail = " ".join(str(exc).split())[:200]
        raise SourceError(f"cannot fetch {_safe(url)}: {type(exc).__name__}: {detail}") \
            from None
    if text is None:
        raise SourceError(f"build has no 'test' step log: {_safe(url)}")
    return text


def _logid(url: str) -> int | None:
    try:
        return parse_url(url).logid
    except ValueError:
        return None


# --- human output ---------------------------------------------------------------------------


def _case_line(case: TestCase) -> str:
    head = f"{case.status}: {case.test_id}"
    return f"{head} {case.subtest}" if case.subtest else head


def _cases_by_file(test_run: TestRun) -> dict[str, list[TestCase]]:
    """Each file's cases, from its last run only (a re-run repeats the first run's blocks)."""
    by_file: dict[str, list[TestCase]] = {}
    for case in test_run.cases:
        by_file.setdefault(case.test_file, []).append(case)
    for name, cases in by_file.items():
        if any(c.rerun for c in cases) and test_run.outcomes.get(name) != "passed_on_rerun":
            by_file[name] = [c for c in cases if c.rerun]
    return by_file


def render(test_run: TestRun, out: TextIO) -> None:
    """A concise summary a watcher reads in ten seconds."""
    w = out.write
    result = test_run.result or "unknown"
    w(f"Result: {result}")
    if test_run.truncated:
        w("  (no final summary: log truncated or only an excerpt)")
    w("\n")
    if test_run.still_running:
        w(f"Log ends while running: {' '.join(test_run.still_running)}\n")
    meta = []
    if test_run.python:
        meta.append(f"Python {test_run.python}")
    if test_run.random_seed is not None:
        meta.append(f"random seed {test_run.random_seed}")
    if meta:
        w(", ".join(meta) + "\n")

    cases = _cases_by_file(test_run)
    messages: dict[str, str] = {}
    for entry in [*test_run.timeouts, *test_run.crashes]:
        if entry.test_file and entry.test_file not in messages:
            exit_text = getattr(entry, "exit", None)
            extra = f" ({exit_text})" if exit_text and exit_text != entry.message else ""
            messages[entry.test_file] = entry.message + extra
    bad = test_run.failed
    w(f"\nFailed test files ({len(bad)}):" if bad else "\nNo failed test files.")
    w("\n")
    width = max((len(t) for t in bad), default=0)
    for name in bad:
        outcome = test_run.outcomes.get(name, "failed").replace("_", " ")
        line = f"  {name:<{width}}  {outcome}"
        if name in messages and not cases.get(name):
            line += f": {messages[name]}"
        w(line + "\n")
        for case in cases.get(name, ())[:20]:
            w(f"      {_case_line(case)}\n")
            if case.exception:
                w(f"        {case.exception}\n")
        if len(cases.get(name, ())) > 20:
            w(f"      ... and {len(cases[name]) - 20} more\n")

    if test_run.rerun:
        w(f"\nRe-run ({len(test_run.rerun)}): {' '.join(test_run.rerun)}\n")
        if test_run.rerun_passed:
            w(f"Passed on re-run (flaky) ({len(test_run.rerun_passed)}): "
              f"{' '.join(test_run.rerun_passed)}\n")
            for name in test_run.rerun_passed:
                for case in cases.get(name, ())[:5]:
                    w(f"      {_case_line(case)}\n")
                    if case.exception:
                        w(f"        {case.exception}\n")
    elif test_run.first_run_failed and test_run.first_run_failed != test_run.failed:
        w(f"\nFailed in the first run: {' '.join(test_run.first_run_failed)}\n")

    if test_run.leaks:
        w("\nLeaks:\n")
        for leak in test_run.leaks:
            w(f"  {leak.test_file} leaked {leak.counts} {leak.kind}, sum={sum(leak.counts)}\n")
    if test_run.timeouts:
        w("\nTimeouts:\n")
        for t in test_run.timeouts:
            where = " (re-run)" if t.rerun else ""
            w(f"  {t.test_file or '(unknown test)'}: {t.message}{where}\n")
    if test_run.crashes:
        w("\nCrashes:\n")
        for c in test_run.crashes:
            where = " (re-run)" if c.rerun else ""
            extra = f" [{c.exit}]" if c.exit and c.exit != c.message else ""
            w(f"  {c.test_file or '(unknown test)'}: {c.message}{extra}{where}\n")
    other = sorted(t for t, o in test_run.outcomes.items()
                   if o not in BAD_OUTCOMES and o not in ("passed", "passed_on_rerun"))
    if other:
        w("\nNot run or skipped: " + ", ".join(
            f"{t} ({test_run.outcomes[t].replace('_', ' ')})" for t in other) + "\n")
