"""The ``bbwatch`` command line: one sub-command per module in ``bbwatch.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

from bbwatch import __version__
from bbwatch.commands import fail
from bbwatch.errors import BBWatchError

# Each module has ``register(subparsers)`` that adds its parser and sets ``func`` (args -> int).
COMMANDS = ("parse", "match", "triage", "digest", "fleet", "snapshot", "serve")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every sub-command, or with ``only`` that one (its module alone is
    imported: ``bbwatch parse`` does not load Sphinx for ``triage --format html``)."""
    parser = argparse.ArgumentParser(
        prog="bbwatch",
        description="Watch a Buildbot fleet: parse logs, match known issues, triage.",
    )
    parser.add_argument("--version", action="version", version=f"bbwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"bbwatch.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    chosen = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(chosen if chosen in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BBWatchError as exc:  # what a command did not turn into its own message
        return fail(str(exc))
    except KeyboardInterrupt:
        print("bbwatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
