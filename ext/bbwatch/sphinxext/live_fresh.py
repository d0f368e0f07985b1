"""Freshness of the live pages: when the master was last *checked*, and ages true at that time.

Every site build that checks the master writes the live pages again, new data or not
(``live._outdated`` re-reads the documents holding live blocks), so their HTML states that
build's check time and ages true at it. Between builds the master is still checked:
``bbwatch serve`` polls it and rebuilds only when something changed (a poll with nothing new
costs 3 requests and no build), so what a page says about *when* cannot live only in its HTML:

- every live block states the data's time and the time the master was last checked (at build
  time), and carries its data version as a class (``bbwatch-version-<hex>``);
- every HTML build writes ``bbwatch-version.json`` at the site's root: the data version, when
  the data was fetched, when the master was last checked, whether it answered (the same check
  time as the pages it wrote). ``bbwatch serve`` rewrites it after every poll, changed or not;
- ``static/bbwatch-live.js`` (a few lines, no framework) reads that file every few seconds:
  a newer version reloads the page; otherwise it writes the check time into the page and
  recomputes every age (``bbwatch-age`` with its absolute ``bbwatch-t-<epoch>``) at that time.
  Without JavaScript the page shows its data time, the check time of the last site build and
  ages true at that check.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx

from bbwatch.sphinxext.live_render import fmt_time
from bbwatch.sphinxext.live_strips import age

VERSION_FILE = "bbwatch-version.json"
SCRIPT = "bbwatch-live.js"
CSS = "bbwatch-wide.css"


def short_version(digest: str) -> str:
    """The data version pages carry: hex only (it becomes a CSS class)."""
    cleaned = "".join(c for c in digest.lower() if c in "0123456789abcdef")
    return cleaned[:16] or "none"


def checked_line(checked_at: float, data_at: float | None, reachable: bool,
                 version: str) -> nodes.paragraph:
    """``Master last checked 2026-.. UTC (answered); data from 2026-.. UTC, 3 hours old.``"""
    para = nodes.paragraph(classes=["bbwatch-meta", "bbwatch-checked",
                                    "bbwatch-data-version", f"bbwatch-version-{version}"])
    para += nodes.Text("Master last checked ")
    para += nodes.inline(fmt_time(checked_at), fmt_time(checked_at),
                         classes=["bbwatch-checked-at", f"bbwatch-t-{int(checked_at)}"])
    answer = " (it answered)" if reachable else " (it did not answer)"
    para += nodes.inline(answer, answer, classes=["bbwatch-checked-answer"])
    if data_at:
        para += nodes.Text("; the data shown is from ")
        para += nodes.inline(fmt_time(data_at), fmt_time(data_at),
                             classes=["bbwatch-data-at"])
        para += nodes.Text(", ")
        para += age(data_at, checked_at, " old")
        para += nodes.Text(" at that check. Ages on this page are as of the last check.")
    else:
        para += nodes.Text("; no data to show.")
    return para


def version_payload(version: str, data_at: float | None, checked_at: float,
                    reachable: bool, error: str | None = None) -> dict[str, object]:
    return {"version": version, "data_at": data_at, "checked_at": checked_at,
            "reachable": reachable, "error": error}


def write_version(outdir: Path, payload: dict[str, object]) -> None:
    """Write ``bbwatch-version.json`` atomically (a reader never sees half of it)."""
    outdir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bbwatch-version-", dir=outdir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, outdir / VERSION_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_version(outdir: Path) -> dict[str, object] | None:
    try:
        return json.loads((outdir / VERSION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def touch_checked(outdir: Path, checked_at: float | None = None, reachable: bool = True,
                  error: str | None = None) -> None:
    """A poll found nothing new: the same data, checked now."""
    payload = read_version(outdir) or version_payload("none", None, 0, reachable)
    payload["checked_at"] = time.time() if checked_at is None else checked_at
    payload["reachable"] = reachable
    payload["error"] = error
    write_version(outdir, payload)


def _builder_inited(app: Sphinx) -> None:
    if app.builder.format == "html":
        app.add_css_file(CSS)
        app.add_js_file(SCRIPT, loading_method="defer")


def setup_fresh(app: Sphinx) -> None:
    app.connect("builder-inited", _builder_inited)
