"""The ``bbwatch`` command line, on top of every stage: one module per sub-command (``parse``,
``match``, ``triage``, ``digest``, ``fleet``, ``snapshot``, ``serve``), each with
``register(subparsers)``; ``main`` dispatches to them.

May import any stage (``bbwatch.source``, ``bbwatch.logs``, ``bbwatch.triage``), the
docutils rendering of ``bbwatch.sphinxext.checklists`` (``triage --format html``) and the
version file of ``bbwatch.sphinxext.live_fresh`` (``serve``, which runs Sphinx itself in a
child process and serves the site it builds); nothing
imports this package. The demo fleet (``bbwatch_fleet``) is a separate, optional package that
only ``fleet`` loads, when it runs.
"""

import sys


def fail(message: str, code: int = 2) -> int:
    """Print a one-line error the way every sub-command does and return its exit code."""
    print(f"bbwatch: error: {message}", file=sys.stderr)
    return code
