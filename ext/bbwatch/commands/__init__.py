"""Sub-commands of the ``bbwatch`` CLI, one module each (see ``bbwatch.cli``)."""

import sys


def fail(message: str, code: int = 2) -> int:
    """Print a one-line error the way every sub-command does and return its exit code."""
    print(f"bbwatch: error: {message}", file=sys.stderr)
    return code
