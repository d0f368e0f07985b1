"""Acknowledgements on the live pages, the "since yesterday" section and the watch's health.

- ``bbwatch_acks`` (``BBWATCH_ACKS``; default ``<srcdir>/data/acks.toml``, validated at
  ``config-inited`` by ``config``) is read at ``builder-inited``, in the main thread, with the
  registry the live pages use;
- at ``doctree-resolved``, after ``live_blocks`` has made the known-failures block real (a
  later priority), each problem's entry gets its acknowledgements (``bbwatch.triage.acks``:
  who, what, when, or why it expired), and the block gets a "Since yesterday" section (the
  digest of ``bbwatch.triage.digest``, since a day before the data);
- the home page's now panel (``live_now.register_section``) gets the watch-health figures
  (``bbwatch.triage.health``).

Every value reaches the page as docutils text (escaped by the writer) or a link whose target
``live_render.link`` checked.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from bbwatch.errors import BBWatchError
from bbwatch.sphinxext import live_now
from bbwatch.sphinxext.config import WarningType, get_config, registry_path
from bbwatch.sphinxext.live import get_state
from bbwatch.sphinxext.live_render import badge, clean_tree, link, para
from bbwatch.sphinxext.live_strips import age, problem_anchor
from bbwatch.triage.acks import (
    AckReport,
    Acks,
    AckState,
    all_problems,
    evaluate,
    issue_states,
    load_acks,
)
from bbwatch.triage.digest import DAY, Digest, digest
from bbwatch.triage.health import health
from bbwatch.triage.registry import Registry, load_registry
from bbwatch.triage.rows import Analysis, Problem, describe_age
from bbwatch.triage.tracker import tracker_from_config

logger = logging.getLogger(__name__)
DEFAULT_ACKS = Path("data", "acks.toml")


def acks_path(app: Sphinx) -> Path:
    """The acknowledgements this build reads: ``bbwatch_acks`` (made absolute at
    config-inited, ``BBWATCH_ACKS`` applied), else ``<srcdir>/data/acks.toml``."""
    chosen = getattr(app.config, "bbwatch_acks", None)
    return Path(chosen) if chosen else Path(app.srcdir, DEFAULT_ACKS)


def _warn(message: str) -> None:
    logger.warning("bbwatch: %s", message, type="bbwatch", subtype=WarningType.DATA.value)


def _builder_inited(app: Sphinx) -> None:
    app.bbwatch_ack_data = None
    app.bbwatch_ack_registry = None
    app.bbwatch_ack_states = {}
    path = acks_path(app)
    if path.is_file():
        try:
            app.bbwatch_ack_data = load_acks(path)
        except BBWatchError as exc:
            _warn(str(exc))
    found = registry_path(app.config, app.srcdir)
    if found.is_file():
        try:
            app.bbwatch_ack_registry = load_registry(found)
        except BBWatchError:
            pass  # live.py warns about the registry
    cfg = get_config(app)
    if "file" in cfg.tracker:  # a file tracker knows every issue's state; a search does not
        try:
            tracker = tracker_from_config(cfg.tracker, confdir=Path(app.confdir),
                                          cache_dir=cfg.resolved_cache_dir(app))
            app.bbwatch_ack_states = issue_states(tracker)
        except BBWatchError:
            pass  # live.py notes the tracker problem on the pages


def loaded(app: Sphinx) -> Acks | None:
    return getattr(app, "bbwatch_ack_data", None)


def report(app: Sphinx, analysis: Analysis) -> AckReport:
    """The acknowledgements against this build's analysis, evaluated once per build."""
    cached = getattr(app, "bbwatch_ack_report", None)
    if cached is not None and cached[0] is analysis:
        return cached[1]
    today = dt.datetime.fromtimestamp(analysis.now, dt.UTC).date()
    found = evaluate(loaded(app), analysis, today, getattr(app, "bbwatch_ack_states", {}))
    app.bbwatch_ack_report = (analysis, found)
    return found


def _registry(app: Sphinx) -> Registry | None:
    return getattr(app, "bbwatch_ack_registry", None)


# --- the known-failures page ------------------------------------------------------------------


def ack_nodes(states: list[AckState]) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    for state in states:
        if state.status == "active":
            out.append(para(badge("acknowledged", "info", "bbwatch-ack-badge"), " ",
                            state.ack.describe(), classes=["bbwatch-ack"]))
        else:
            out.append(para(badge("acknowledgement expired", "secondary", "bbwatch-ack-badge"),
                            " ", f"{state.ack.describe()}: {state.why}",
                            classes=["bbwatch-ack", "bbwatch-ack-expired"]))
    return out


def _problem_line(problem: Problem, analysis: Analysis) -> nodes.list_item:
    where = ", ".join(b.name for b in problem.builders[:3])
    if len(problem.builders) > 3:
        where += f" and {len(problem.builders) - 3} more"
    target = nodes.reference(problem.title, problem.title, refid=problem_anchor(problem),
                             internal=True)
    p = para(target, f" ({problem.classification}) on {where}")
    if problem.first_seen:
        p += nodes.Text(", since ")
        p += age(problem.first_seen, analysis.now)
    item = nodes.list_item()
    item += p
    return item


def since_section(found: Digest, analysis: Analysis) -> list[nodes.Node]:
    """The digest's "since yesterday" part, for the known-failures page."""
    out: list[nodes.Node] = [nodes.rubric("Since yesterday", "Since yesterday",
                                          classes=["bbwatch-since-title"])]
    lines = nodes.bullet_list(classes=["bbwatch-since"])
    new = nodes.list_item()
    new += para(f"New: {len(found.new)} problem{'s' if len(found.new) != 1 else ''}"
                + (":" if found.new else "."))
    if found.new:
        inner = nodes.bullet_list()
        for item in found.new:
            inner += _problem_line(item.problem, analysis)
        new += inner
    lines += new
    acked = [i for i in [*found.new, *found.still_open] if i.acks]
    expired = [i for i in [*found.new, *found.still_open] if i.expired]
    lines += nodes.list_item("", para(
        f"Acknowledged: {len(acked)} problem{'s' if len(acked) != 1 else ''}; "
        f"{len(expired)} acknowledgement{'s' if len(expired) != 1 else ''} expired."))
    resolved = ", ".join(r.test_file for r in found.resolved)
    lines += nodes.list_item("", para(
        f"Resolved: {resolved}." if resolved else "Resolved: nothing."))
    down = ", ".join(w.name for w in found.workers_down)
    lines += nodes.list_item("", para(f"Workers down: {down}." if down else
                                      "Workers down: none."))
    item = nodes.list_item("", para(f"Known issues to close? {len(found.close_candidates)}"
                                    + (":" if found.close_candidates else ".")))
    if found.close_candidates:
        inner = nodes.bullet_list()
        for c in found.close_candidates:
            text = f"#{c.issue.number}: {c.issue.title}"
            inner += nodes.list_item("", para(
                link(text, c.issue.url), ", its tests green on every builder for "
                f"{describe_age(analysis.now - c.green_since)}"))
        item += inner
    lines += item
    out.append(lines)
    return out


def _annotate(app: Sphinx, block: nodes.container, analysis: Analysis) -> None:
    found = report(app, analysis)
    by_anchor = {problem_anchor(p): p for p in all_problems(analysis)}
    for box in list(block.findall(nodes.container)):
        if "bbwatch-problem" not in box["classes"]:
            continue
        problem = next((by_anchor[i] for i in box["ids"] if i in by_anchor), None)
        if problem is None:
            continue
        extra = ack_nodes(found.for_problem(problem.key))
        if problem.group != "test":  # what an acknowledgement's `problem =` names
            extra.append(para("Key for acknowledgements: ",
                              nodes.literal(problem.key, problem.key),
                              classes=["bbwatch-ack-key"]))
        clean_tree(extra)
        for n, node in enumerate(extra, start=1):
            box.insert(n, node)
    section = since_section(digest(analysis, analysis.now - DAY, found, _registry(app),
                                   get_config(app).close_after_days), analysis)
    clean_tree(section)
    children = list(block.children)
    at = next((i for i, c in enumerate(children) if {"bbwatch-overview-title",
                                                       "bbwatch-summary"} & set(c["classes"])),
              len(children))
    for n, node in enumerate(section):
        block.insert(at + n, node)


def _resolve(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    blocks = [c for c in doctree.findall(nodes.container) if "bbwatch-failures" in c["classes"]
              and "bbwatch-live" in c["classes"]]
    if not blocks:
        return
    analysis = get_state(app).analysis
    if analysis is None:
        return
    for block in blocks:
        _annotate(app, block, analysis)


# --- the now panel ------------------------------------------------------------------------------


def health_section(app: Sphinx, analysis: Analysis, fromdocname: str) -> list[nodes.Node]:
    figures = health(analysis, report(app, analysis), _registry(app),
                     get_config(app).close_after_days)
    items = nodes.bullet_list(classes=["bbwatch-health"])
    share = figures.linked_share
    items += nodes.list_item("", para(
        f"Problems linked to an issue: {figures.linked} of {figures.problems}"
        + (f" ({share:.0%})." if share is not None else "."), classes=["bbwatch-health-linked"]))
    if figures.oldest_unreported is None or figures.oldest_problem is None:
        oldest = para("Oldest unreported new problem: none.",
                      classes=["bbwatch-health-oldest"])
    else:
        oldest = para(f"Oldest unreported new problem: {figures.oldest_problem.title}, "
                      "first failing ", age(figures.oldest_problem.first_seen, analysis.now),
                      ".", classes=["bbwatch-health-oldest"])
    items += nodes.list_item("", oldest)
    days = get_config(app).close_after_days
    items += nodes.list_item("", para(
        f"Known issues to close (tests green on every builder for {days:g} days): "
        f"{figures.close_candidates}.", classes=["bbwatch-health-close"]))
    out: list[nodes.Node] = [items]
    clean_tree(out)
    return out


def setup_acks(app: Sphinx) -> None:
    app.connect("builder-inited", _builder_inited)
    app.connect("doctree-resolved", _resolve, priority=600)  # after live_blocks (500)
    live_now.register_section(app, "Watch health", health_section)
