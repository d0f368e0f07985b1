"""`bbwatch match SOURCE`: which issue covers each failing test of a regrtest log.

SOURCE is a log file, ``-`` for standard input, or a build URL. For every failing test it
prints the suggested issue title, the search terms and the ranked candidate issues (registry
first, then the tracker's), each with a confidence and the reason; ``--json`` prints
``{"failures": [{"test_file", "test_id", "search_terms", "suggested_title", "candidates":
[{"number", "title", "state", "confidence", "reason", ...}], ...}]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bbwatch.commands import fail
from bbwatch.commands import parse as parse_command
from bbwatch.domain import Failure
from bbwatch.errors import BBWatchError, BuildbotError, RegistryError, TrackerError
from bbwatch.logs import regrtest
from bbwatch.logs.failures import failures_from_run
from bbwatch.logs.results import TestRun
from bbwatch.source.open import open_client
from bbwatch.source.urls import build_url, parse_build_url
from bbwatch.triage.matching import classify, normalise_message, rank, search_terms, suggest_title
from bbwatch.triage.registry import Registry, default_registry_path, load_registry
from bbwatch.triage.search import search_candidates
from bbwatch.triage.tracker import FileTracker, GitHubTracker, Tracker, web_url_for_api

DEFAULT_REPO = "python/cpython"
TRACKERS = ("file", "github")
NEW_ISSUE_LABELS = ("tests", "type-bug")


class _Usage(BBWatchError):
    """A one-line problem with the command line, its input or the network: exit 2."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "match",
        help="match each failing test of a log to the issues that may cover it",
        description="Parse a regrtest log and rank, for every failing test, the known issues "
        "(reviewed registry, then the tracker) that may cover it, with the title to file.",
    )
    p.add_argument("source", metavar="SOURCE", help="log file, '-' for stdin, or a build URL")
    p.add_argument("--issues", metavar="FILE.json", default=None,
                   help='JSON list of issues [{"number", "title", "state", "url", "labels"}]')
    p.add_argument("--tracker", choices=TRACKERS, default=None,
                   help="where to search (default: file with --issues)")
    p.add_argument("--repo", default=DEFAULT_REPO,
                   help=f"GitHub repository OWNER/NAME (default {DEFAULT_REPO})")
    p.add_argument("--github-api", metavar="URL", default="https://api.github.com",
                   help="GitHub API root (GitHub Enterprise: https://HOST/api/v3)")
    p.add_argument("--registry", metavar="PATH", default=None,
                   help="known-issues registry (default: $BBWATCH_REGISTRY, else "
                   "docs/data/known-issues.toml if present)")
    p.add_argument("--no-registry", action="store_true",
                   help="ask only the tracker, without the registry")
    p.add_argument("--builder", default=None, help="builder name, for a log file")
    p.add_argument("--branch", default=None, help="branch (3.x, 3.14, ...), for a log file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per network request")
    p.add_argument("--cache-dir", default=None,
                   help="cache folder (default $BBWATCH_CACHE_DIR or ~/.cache/bbwatch)")
    p.set_defaults(func=run)


@dataclass
class _Source:
    run: TestRun
    builder: str | None = None
    branch: str | None = None
    build_url: str | None = None


def run(args: argparse.Namespace) -> int:
    try:
        GitHubTracker(args.repo, token=None)  # --repo must be OWNER/NAME for the issue links
        if not args.github_api.startswith(("http://", "https://")):
            raise _Usage(f"--github-api must be an http(s) URL, got {args.github_api!r}")
        tracker = _tracker(args)
        registry = _registry(args)
        source = _read(args)
    except (_Usage, TrackerError, RegistryError) as exc:
        return fail(_one_line(str(exc)))
    report = match_report(source.run, tracker, registry,
                          builder=args.builder or source.builder,
                          branch=args.branch or source.branch,
                          repo=args.repo, build_url=source.build_url,
                          web_url=web_url_for_api(args.github_api))
    report["source"] = args.source
    report["tracker"] = args.tracker or "file"
    report["registry"] = registry.path if registry is not None else None
    if args.json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_human(report)
    return 0


def match_report(run: TestRun, tracker: Tracker, registry: Registry | None, *,
                 builder: str | None = None,
                 branch: str | None = None, repo: str = DEFAULT_REPO,
                 build_url: str | None = None, web_url: str = "https://github.com"
                 ) -> dict[str, Any]:
    """The JSON-able report of `bbwatch match` for one parsed log (network only via tracker)."""
    links = GitHubTracker(repo, token=None, web_url=web_url)  # only builds URLs, never asks
    failures = []
    for failure in failures_from_run(run, builder, branch):
        # a file costs nothing to search; GitHub's quota does (stop at a good match)
        issues, note = search_candidates(tracker, failure,
                                         exhaustive=isinstance(tracker, FileTracker))
        matches = rank(failure, issues, registry)
        title = suggest_title(failure)
        terms = search_terms(failure)
        failures.append({
            "test_file": failure.test_file,
            "test_id": failure.test_id,
            "kind": failure.kind,
            "message": failure.message,
            "normalised_message": normalise_message(failure.message or "") or None,
            "builder": failure.builder,
            "branch": failure.branch,
            "passed_on_rerun": failure.passed_on_rerun,
            "search_terms": terms,
            "suggested_title": title,
            "classification": classify(failure, matches),
            "tracker_note": note,
            "candidates": [m.to_json() for m in matches],
            "search_url": links.search_url(f"in:title {terms[0]}"),
            "new_issue_url": links.new_issue_url(
                title, _issue_body(run, failure, build_url), NEW_ISSUE_LABELS),
        })
    counts = {word: sum(f["classification"] == word for f in failures)
              for word in ("known", "flaky", "new")}
    return {"failures": failures, "counts": counts, "build_url": build_url}


def _issue_body(run: TestRun, failure: Failure, build_url: str | None) -> str:
    where = failure.builder or "a buildbot"
    again = " then passed on re-run" if failure.passed_on_rerun else ""
    lines = [f"`{failure.test_id or failure.test_file}` failed{again} on {where}"
             + (f": {build_url}" if build_url else "."), ""]
    excerpt = run.excerpt(failure.test_file) if hasattr(run, "excerpt") else ""
    if excerpt:
        # a fence longer than any backtick run inside, so a pasted log cannot close it
        longest = max((len(run) for run in re.findall(r"`+", excerpt)), default=0)
        fence = "`" * max(3, longest + 1)
        lines += [fence, excerpt, fence]
    return "\n".join(lines)


# -- inputs --------------------------------------------------------------------------------
def _cache_dir(args: argparse.Namespace) -> Path:
    return Path(args.cache_dir or os.environ.get("BBWATCH_CACHE_DIR")
                or Path.home() / ".cache" / "bbwatch")


def _tracker(args: argparse.Namespace) -> FileTracker | GitHubTracker:
    kind = args.tracker or "file"
    if kind == "github":
        return GitHubTracker(args.repo, base_url=args.github_api,
                             cache_dir=_cache_dir(args) / "github", timeout=args.timeout)
    if not args.issues:
        raise _Usage("match needs --issues FILE.json (or --tracker github)")
    return FileTracker(args.issues)


def _registry(args: argparse.Namespace) -> Registry | None:
    if args.no_registry:
        return None
    path = Path(args.registry) if args.registry else default_registry_path()
    return load_registry(path) if path is not None else None


def _read(args: argparse.Namespace) -> _Source:
    """The parsed log of SOURCE. Files and stdin are read exactly as `bbwatch parse` reads them;
    a build URL also gives the builder and branch, which `parse` does not need."""
    if args.source.lower().startswith(("http://", "https://")):
        return _read_build(args.source, args)
    try:
        return _Source(parse_command.load_run(args.source, args.timeout))
    except parse_command.SourceError as exc:
        raise _Usage(str(exc)) from None


def _read_build(url: str, args: argparse.Namespace) -> _Source:
    try:
        ref = parse_build_url(url)
    except ValueError as exc:
        raise _Usage(str(exc)) from None
    try:
        client = open_client(ref.base_url, cache_dir=_cache_dir(args) / "buildbot",
                             timeout=args.timeout)
    except (BuildbotError, OSError) as exc:
        raise _Usage(f"cannot open the Buildbot client for {ref.base_url}: {exc}") from None
    try:
        builder, build = client.resolve(ref)
        text = client.test_log(build)
    except BuildbotError as exc:
        raise _Usage(str(exc)) from None
    finally:
        client.close()
    if text is None:
        bad = next((step.name for step in build.steps if step.result and step.result.is_bad),
                   None)
        why = f": it failed at step {bad!r}, before any test ran" if bad else ""
        raise _Usage(f"build {build.number} of {builder.name!r} has no test step log{why}")
    return _Source(regrtest.parse_text(text), builder.name, builder.branch,
                   build_url(ref.base_url, build.builderid, build.number))


# -- output --------------------------------------------------------------------------------
def _clean(text: object) -> str:
    """Tracker and log text for a terminal: control characters (escape codes) made visible."""
    return "".join(ch if ch in "\t" or unicodedata.category(ch) != "Cc" else "\ufffd"
                   for ch in str(text))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _print_human(report: dict[str, Any]) -> None:
    out = sys.stdout
    failures = report["failures"]
    if not failures:
        print(f"No failing test in {_clean(report['source'])}.", file=out)
        return
    for f in failures:
        name = f["test_id"] or f["test_file"]
        print(f"{_clean(name)}  [{f['kind']}, {f['classification']}]", file=out)
        if f["message"]:
            print(f"  error: {_clean(f['message'].splitlines()[0])}", file=out)
        print(f"  suggested title: {_clean(f['suggested_title'])}", file=out)
        print(f"  search terms: {' | '.join(_clean(t) for t in f['search_terms'])}", file=out)
        if f["tracker_note"]:
            print(f"  tracker: {_clean(f['tracker_note'])}", file=out)
        if not f["candidates"]:
            print("  no candidate issue: file one with the suggested title", file=out)
        if f["classification"] == "new":
            print(f"  search it yourself: {f['search_url']}", file=out)
        elif f["candidates"] and f["candidates"][0].get("comment_url"):
            # the procedure: say on the issue that it happened again, with the build link
            print(f"  comment on it: {_clean(f['candidates'][0]['comment_url'])}", file=out)
        for c in f["candidates"]:
            print(f"  #{c['number']:<7} {c['confidence']:.2f}  {c['state']:<6}  "
                  f"{_clean(c['title'])}", file=out)
            print(f"  {'':<7}  {'':4}  {'':6}  {_clean(c['reason'])}", file=out)
        print(file=out)
    counts = report["counts"]
    print(f"{len(failures)} failing test(s): {counts['known']} known, {counts['flaky']} flaky, "
          f"{counts['new']} new.", file=out)
