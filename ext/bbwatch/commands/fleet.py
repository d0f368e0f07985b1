"""`bbwatch fleet up|down`: the real local Buildbot fleet (see ``bbwatch_fleet``).

The fleet is a separate package, the demo extra: loaded here only when the command runs, so
the runtime package never imports it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import ModuleType

from bbwatch.commands import fail
from bbwatch.errors import BBWatchError

DEFAULT_DIR = ".fleet"
DEFAULT_PORT = 8010


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fleet", help="start or stop the local Buildbot fleet (CPython-like)")
    actions = p.add_subparsers(dest="fleet_action", metavar="ACTION")
    up = actions.add_parser(
        "up", help="create and start the fleet, feed its history, print the API base URL")
    up.add_argument("--dir", type=Path, default=Path(DEFAULT_DIR),
                    help=f"fleet directory (default: {DEFAULT_DIR})")
    up.add_argument("--port", type=int, default=DEFAULT_PORT,
                    help=f"www/REST port on 127.0.0.1 (default: {DEFAULT_PORT})")
    up.add_argument("--quiet", action="store_true",
                    help="print only the URL on stdout (progress goes to stderr)")
    up.set_defaults(func=run_up)
    down = actions.add_parser("down", help="stop the processes `fleet up` started")
    down.add_argument("--dir", type=Path, default=Path(DEFAULT_DIR),
                      help=f"fleet directory (default: {DEFAULT_DIR})")
    down.set_defaults(func=run_down)
    p.set_defaults(func=lambda args: fail("fleet: choose an action: up or down"))


def _control() -> ModuleType | None:
    """``bbwatch_fleet.control``, or None (after saying how to get it) when it is missing."""
    try:
        from bbwatch_fleet import control  # the demo extra: optional, never imported by bbwatch
    except ImportError as exc:
        fail(f"fleet: the demo fleet is not installed ({exc}): install the demo extra, "
             "pip install -e '.[demo]' in a bbwatch checkout (make demo does it)")
        return None
    return control


def run_up(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        return fail(f"fleet: --port must be between 1 and 65535, not {args.port}")
    stream = sys.stderr if args.quiet else sys.stdout

    def log(message: str) -> None:
        print(f"fleet: {message}", file=stream, flush=True)

    control = _control()
    if control is None:
        return 2
    started = time.monotonic()
    try:
        fleet = control.up(args.dir, args.port, log)
    except BBWatchError as exc:  # FleetError, RepoError: what the user can act on
        return fail(f"fleet: {exc}")
    log(f"history complete in {time.monotonic() - started:.0f} s; "
        f"stop with: bbwatch fleet down --dir {args.dir}")
    print(fleet.url, flush=True)
    return 0


def run_down(args: argparse.Namespace) -> int:
    control = _control()
    if control is None:
        return 2
    directory = args.dir.resolve()
    if not (directory / "fleet.json").exists():
        return fail(f"fleet: no fleet in {directory}")
    try:
        pids = control.stop(directory, lambda m: print(f"fleet: {m}", flush=True))
    except OSError as exc:
        return fail(f"fleet: could not stop the fleet in {directory}: {exc}")
    print(f"fleet: stopped {len(pids)} process(es)" if pids else "fleet: nothing was running")
    return 0
