"""The triage filler: one failure in, one filled checklist out.

Pure functions over plain dataclasses; the CLI (``bbwatch triage``) and the site's per-failure
pages both call these, so the two never disagree.
"""

from __future__ import annotations

import re

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_TEST_JUNK = re.compile(r"[^A-Za-z0-9_.-]+")


def builder_slug(name: str) -> str:
    """``"AMD64 Debian 3.x"`` -> ``"amd64-debian-3-x"`` (stable, URL- and file-safe)."""
    return _SLUG_JUNK.sub("-", name.lower()).strip("-") or "builder"


def triage_docname(builder_name: str, number: int, test: str) -> str:
    """Docname of the per-failure checklist page, e.g. ``triage/amd64-debian-3-x/12/test_os``.

    The known-failures page links its rows here; the page itself is generated at
    ``html-collect-pages`` by ``bbwatch.sphinxext.checklists``.
    """
    test_part = _TEST_JUNK.sub("-", test).strip(".-") or "build"
    return f"triage/{builder_slug(builder_name)}/{int(number)}/{test_part}"
