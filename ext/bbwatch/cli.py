"""The ``bbwatch`` command line: one sub-command per module in ``bbwatch.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

from bbwatch import __version__

# Each module has ``register(subparsers)`` that adds its parser and sets ``func`` (args -> int).
COMMANDS = ("parse", "match", "triage", "fleet", "snapshot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bbwatch",
        description="Watch a Buildbot fleet: parse logs, match known issues, triage.",
    )
    parser.add_argument("--version", action="version", version=f"bbwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"bbwatch.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("bbwatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
