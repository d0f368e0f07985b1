"""`bbwatch snapshot save DIR [--source URL] [--history N]`: record a master for offline use.

The snapshot holds exactly what ``fetch_fleet`` gathers for the live pages (see
``bbwatch.source.snapshot``); ``--source snapshot:DIR`` then serves it without a network.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bbwatch.commands import fail
from bbwatch.errors import BuildbotError
from bbwatch.source.open import default_cache_dir
from bbwatch.source.snapshot import save_snapshot
from bbwatch.source.sync import BuildbotClient

DEFAULT_SOURCE = "https://buildbot.python.org/all/"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "snapshot",
        help="record a Buildbot master's recent history for offline use",
        description="Record what the live pages need from a master into a directory of JSON "
        "files, so the site and the CLI can run offline with --source snapshot:DIR.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    save = actions.add_parser("save", help="fetch from a master and write DIR")
    save.add_argument("directory", metavar="DIR", help="where to write the snapshot")
    save.add_argument(
        "--source",
        default=None,
        help="master URL (default: $BBWATCH_BUILDBOT_URL, else " + DEFAULT_SOURCE + ")",
    )
    save.add_argument(
        "--history", type=int, default=20, help="builds per builder to keep (default 20)"
    )
    save.add_argument(
        "--branch",
        action="append",
        default=[],
        help="only builders of this branch tag (repeatable, e.g. 3.x)",
    )
    save.add_argument(
        "--cache-dir",
        default=None,
        help="HTTP cache (default: $BBWATCH_CACHE_DIR, else ~/.cache/bbwatch)",
    )
    save.add_argument("--no-cache", action="store_true", help="do not use the on-disk cache")
    save.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    save.add_argument(
        "--retries", type=int, default=3, help="retries per request on 5xx/429/errors (default 3)"
    )
    save.set_defaults(func=run_save)
    p.set_defaults(func=lambda args: fail("usage: bbwatch snapshot save DIR [--source URL]"))


def run_save(args: argparse.Namespace) -> int:
    source = args.source or os.environ.get("BBWATCH_BUILDBOT_URL") or DEFAULT_SOURCE
    if args.history < 1:
        return fail(f"--history must be at least 1, got {args.history}")
    if args.retries < 0:
        return fail(f"--retries must be 0 or more, got {args.retries}")
    if args.timeout <= 0:
        return fail(f"--timeout must be positive, got {args.timeout}")
    if source.startswith("snapshot:"):
        return fail("--source must be a master URL (http:// or https://), not a snapshot")
    try:  # fail before a long fetch, not after it
        Path(args.directory).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(f"cannot write snapshot to {args.directory}: {exc.strerror or exc}")
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir())
    try:
        client = BuildbotClient(
            source, cache_dir=cache_dir, timeout=args.timeout, retries=args.retries
        )
    except ValueError as exc:
        return fail(str(exc))
    try:
        data = client.fetch_fleet(history=args.history, branches=tuple(args.branch))
        path = save_snapshot(data, args.directory, history=args.history)
    except BuildbotError as exc:
        return fail(str(exc), 1)
    except OSError as exc:
        return fail(f"cannot write snapshot to {args.directory}: {exc.strerror or exc}", 1)
    finally:
        client.close()
    nbuilds = sum(len(v) for v in data.builds.values())
    print(
        f"saved {len(data.builders)} builders, {len(data.workers)} workers, {nbuilds} builds, "
        f"{len(data.test_logs)} test logs from {data.base_url} to {path} "
        f"({client.requests_made} requests)"
    )
    for error in data.errors:
        print(f"bbwatch: warning: {error}", file=sys.stderr)
    return 1 if data.errors else 0
