"""`bbwatch digest [--buildbot URL] [--since DATE|--since-last]`: the off-duty handoff.

Fetches the fleet the way the site does, analyses it with the registry, reads the
acknowledgements, and prints in Markdown (for Discourse, Discord or mail) what the next
watcher needs (``bbwatch.triage.digest``): new problems since DATE (default: a day ago),
problems still open and who acknowledged them, problems resolved, workers down, and known
issues whose tests have been green on every builder for 14 days. ``--since-last`` starts
where the previous ``--since-last`` digest of the same master ended (remembered in the cache
directory, ``digest-last.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bbwatch.commands import fail
from bbwatch.errors import BBWatchError, BuildbotError
from bbwatch.source import atomic
from bbwatch.source.open import default_cache_dir, open_client
from bbwatch.triage import acks as ack_files
from bbwatch.triage import digest as digests
from bbwatch.triage.analysis import analyse
from bbwatch.triage.registry import default_registry_path, load_registry
from bbwatch.triage.tracker import FileTracker

DEFAULT_SOURCE = "https://buildbot.python.org/all/"
CLOSE_AFTER_ENV = "BBWATCH_CLOSE_AFTER_DAYS"
LAST_FILE = "digest-last.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "digest",
        help="print the off-duty handoff (Markdown): new, open, resolved, workers down",
        description="Print what a watcher going off duty posts for the next one: problems "
        "new since DATE, problems still open and who acknowledged them, problems resolved, "
        "workers down, and known issues whose tests have been green for 14 days.",
    )
    p.add_argument("--buildbot", metavar="URL", default=None,
                   help="the master, or snapshot:DIR (default: $BBWATCH_BUILDBOT_URL, else "
                   f"{DEFAULT_SOURCE})")
    since = p.add_mutually_exclusive_group()
    since.add_argument("--since", metavar="DATE", default=None,
                       help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC); default: a day ago")
    since.add_argument("--since-last", action="store_true",
                       help="since the previous --since-last digest of this master")
    p.add_argument("--registry", default=None,
                   help="known-issues registry (default: $BBWATCH_REGISTRY, else "
                   "docs/data/known-issues.toml if present)")
    p.add_argument("--acks", default=None,
                   help="acknowledgements (default: $BBWATCH_ACKS, else docs/data/acks.toml "
                   "if present)")
    p.add_argument("--issues", metavar="FILE.json", default=None,
                   help="issues to match and to tell closed ones from (a file tracker)")
    p.add_argument("--close-after", metavar="DAYS", type=float, default=None,
                   help=f"green days before a known issue is a close candidate (default: "
                   f"${CLOSE_AFTER_ENV}, else {digests.CLOSE_AFTER_DAYS:g})")
    p.add_argument("--history", type=int, default=20,
                   help="builds per builder to look back through (default 20)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    p.add_argument("--cache-dir", default=None,
                   help="cache (default: $BBWATCH_CACHE_DIR, else ~/.cache/bbwatch)")
    p.set_defaults(func=run)


def parse_since(text: str) -> float:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` (UTC unless it says otherwise)."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def close_after(value: float | None, environ: Any = os.environ) -> float:
    if value is None:
        text = environ.get(CLOSE_AFTER_ENV, "").strip()
        try:
            value = float(text) if text else digests.CLOSE_AFTER_DAYS
        except ValueError:
            raise ValueError(f"{CLOSE_AFTER_ENV} must be a number of days, got {text!r}") \
                from None
    if value < 0:
        raise ValueError(f"the close-after delay must be 0 or more days, got {value:g}")
    return value


def _last_path(cache_dir: str) -> Path:
    return Path(cache_dir, LAST_FILE)


def read_last(cache_dir: str, source: str) -> float | None:
    try:
        data = json.loads(_last_path(cache_dir).read_text(encoding="utf-8"))
        value = data.get(source) if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None
    return float(value) if isinstance(value, int | float) else None


def write_last(cache_dir: str, source: str, when: float) -> None:
    path = _last_path(cache_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[source] = when
    atomic.write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def run(args: argparse.Namespace) -> int:
    source = args.buildbot or os.environ.get("BBWATCH_BUILDBOT_URL") or DEFAULT_SOURCE
    cache_dir = args.cache_dir or default_cache_dir()
    try:
        days = close_after(args.close_after)
        explicit = parse_since(args.since) if args.since else None
        registry_path = Path(args.registry) if args.registry else default_registry_path()
        registry = load_registry(registry_path) if registry_path else None
        acks_path = Path(args.acks) if args.acks else ack_files.default_acks_path()
        acks = ack_files.load_acks(acks_path) if acks_path else None
        tracker = FileTracker(args.issues) if args.issues else None
    except (ValueError, BBWatchError) as exc:
        return fail(str(exc))
    try:
        # a snapshot source ignores the network settings (open_client)
        client = open_client(source, timeout=args.timeout, cache_dir=cache_dir)
    except (ValueError, BuildbotError, OSError) as exc:
        return fail(str(exc))
    try:
        fleet = client.fetch_fleet(history=args.history)
    except BuildbotError as exc:
        return fail(str(exc))
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()
    now = fleet.fetched_at if source.startswith("snapshot:") else time.time()
    analysis = analyse(fleet, registry=registry, tracker=tracker, now=now)
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    report = ack_files.evaluate(acks, analysis, today, ack_files.issue_states(tracker))
    since = explicit
    note = ""
    if args.since_last:
        since = read_last(cache_dir, source)
        if since is None:
            note = "No previous digest of this master: since a day ago."
    if since is None:
        since = now - digests.DAY
    found = digests.digest(analysis, since, report, registry, days)
    text = digests.to_markdown(found)
    if note:
        text = text.replace("\n\n", f"\n\n{note}\n\n", 1)
    for state in report.gone:
        text += (f"\nAcknowledgement of {state.ack.target} ({state.ack.text}) names no current "
                 "problem: remove it from the acknowledgements file.\n")
    sys.stdout.write(text)
    if args.since_last:
        try:
            write_last(cache_dir, source, now)
        except OSError as exc:
            print(f"bbwatch: warning: cannot remember this digest's time: {exc}",
                  file=sys.stderr)
    return 0
