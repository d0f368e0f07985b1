"""`bbwatch fleet` (not implemented yet: owned by its issue)."""

from __future__ import annotations

import argparse

from bbwatch.commands import fail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fleet", help="(not implemented yet)")
    p.set_defaults(func=lambda args: fail("'fleet' is not implemented yet"))
