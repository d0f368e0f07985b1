"""The per-failure pages' rendered bodies, kept across builds in the cache's store.

A page's body (the filled checklists as HTML, ``render_partial`` of ``triage_tree``) is a pure
function of what goes into it, so a warm rebuild (the deployment recipe every 15 minutes, or
``bbwatch serve`` after a build on another builder) takes it from the store instead of
filling, parsing and writing the checklists again. The key is a sha256 over everything that
shapes the HTML:

- the page: its docname, its ``TriageContext`` (the build, failures, matches, suspects...),
  the checklists' content, the tracker's links, and today's date (the printed header);
- the renderer: this package's own source (every module, so no hand-kept version can forget a
  change), the versions of Sphinx, docutils, MyST-Parser and Pygments, and the project's
  configuration values that Sphinx rebuilds HTML or the environment for.

Unlike the parse cache (costly to refill, so versioned by hand and checked by a golden test),
a missed body costs one page render, so any source edit invalidating all of them is the safe
trade. Bodies no page of this build used are dropped at the end of the build.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from sphinx.application import Sphinx

import bbwatch
from bbwatch.source.codec import pack, plain
from bbwatch.source.store import Space
from bbwatch.triage.checklist import Checklist
from bbwatch.triage.context import TrackerLinks, TriageContext

PREFIX = "pages/"
_DISTRIBUTIONS = ("sphinx", "docutils", "myst-parser", "pygments", "markdown-it-py")


@functools.cache
def code_digest() -> str:
    """sha256 of this package's Python source."""
    return source_digest(Path(bbwatch.__file__).resolve().parent)


def source_digest(root: Path) -> str:
    """sha256 of the ``*.py`` files under ``root``: their paths and bytes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def renderer_digest(app: Sphinx) -> str:
    """What shapes every page's HTML besides the page's own data."""
    options = sorted(
        (opt.name, opt.value) for opt in app.config if opt.rebuild in ("html", "env")
    )
    # A value that is not JSON (a function, a class) stands in by its type's name: stable
    # across builds, where a repr with a memory address would miss every time.
    blob = json.dumps(
        {
            "code": code_digest(),
            "versions": [_version(n) for n in _DISTRIBUTIONS],
            "builder": app.builder.name,
            "config": options,
        },
        sort_keys=True,
        default=lambda value: f"<{type(value).__qualname__}>",
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def page_key(
    renderer: str,
    docname: str,
    ctx: TriageContext,
    checklists: Mapping[str, Checklist],
    tracker: TrackerLinks,
    today: dt.date,
) -> str:
    """The store key of one page's body: changes when anything that shapes it changes."""
    blob = pack([renderer, docname, plain(ctx), plain(dict(checklists)), plain(tracker),
                 today.isoformat()])
    return hashlib.sha256(blob).hexdigest()


class BodyCache:
    """This build's view of the stored bodies: ``get`` the ones asked for up front, ``put``
    what was rendered, ``save`` writes the new ones and drops every body no page used."""

    def __init__(self, space: Space, keys: list[str]) -> None:
        self.space = space
        self.used = set(keys)
        self.hits: dict[str, str] = space.get_many(self.used, str)
        self.new: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.hits.get(key)

    def put(self, key: str, body: str) -> None:
        self.new[key] = body

    def save(self) -> None:
        try:
            if self.new:
                self.space.put_many(self.new)
            self.space.clear(keep=self.used.__contains__)
        except OSError:
            pass  # no writable cache: the next build renders them again
