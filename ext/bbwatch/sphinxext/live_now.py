"""The "now" panel (``bbwatch-now``, on the home page): what is red right now, at a glance.

Red builders by severity (release-blocking first, as on the status page), the new / known /
flaky counts of the known-failures page, the data's age and links to the live pages. When live
data is unavailable, the block's banner (``live``) says so, as on every live page.

ONE panel that other figures join: a module with more to show here (e.g. the watch's own
health) calls ``register_section(app, title, render)`` from its ``setup_x(app)``; ``render(app,
analysis, fromdocname)`` returns docutils nodes (escaped text only) or ``[]`` to show nothing.
Sections appear in registration order under the built-in ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from docutils import nodes
from sphinx.application import Sphinx

from bbwatch.sphinxext.live_render import badge, link
from bbwatch.sphinxext.live_strips import age
from bbwatch.triage.rows import Analysis, BuilderRow, Severity

RED = (Severity.RELEASE_BLOCKING, Severity.STABLE_FAILURE, Severity.UNSTABLE_FAILURE)
SHOWN = 10  # red builders listed; the status page has them all
LIVE_PAGES = (("live/status", "Builder status"), ("live/known-failures", "Known failures"),
              ("live/flaky-tests", "Flaky tests"))
_SEVERITY_COLOURS = {Severity.RELEASE_BLOCKING: "danger", Severity.STABLE_FAILURE: "danger",
                     Severity.UNSTABLE_FAILURE: "warning"}

Section = Callable[[Sphinx, Analysis, str], list[nodes.Node]]
DocLink = Callable[[str], str | None]


def register_section(app: Sphinx, title: str, render: Section) -> None:
    """Add a section to the now panel (call from a ``setup_x(app)``)."""
    sections = getattr(app, "bbwatch_now_sections", None)
    if sections is None:
        sections = app.bbwatch_now_sections = []
    sections.append((title, render))


def _p(*children: nodes.Node | str, classes: Sequence[str] = ()) -> nodes.paragraph:
    node = nodes.paragraph(classes=list(classes))
    for child in children:
        node += nodes.Text(child) if isinstance(child, str) else child
    return node


def red_rows(analysis: Analysis) -> list[BuilderRow]:
    """Red builders over every branch: release-blocking first, then by branch order."""
    rows = [(row.severity, i, row) for i, section in enumerate(analysis.status)
            for row in section.rows if row.severity in RED]
    return [row for _s, _i, row in sorted(rows, key=lambda t: (t[0], t[1]))]


def _red(analysis: Analysis) -> list[nodes.Node]:
    rows = red_rows(analysis)
    if not rows:
        return [_p("No builder is red.", classes=["bbwatch-now-green"])]
    items = nodes.bullet_list(classes=["bbwatch-now-red"])
    for row in rows[:SHOWN]:
        item = nodes.list_item()
        para = _p(badge(row.severity.label, _SEVERITY_COLOURS[row.severity],
                        "bbwatch-severity"), " ",
                  link(row.builder.name, row.build_url or row.builder_url, "bbwatch-builder"))
        since = row.streak.since if row.streak is not None else None
        if since:
            para += nodes.Text(", failing for ")
            para += age(since, analysis.now, "")
        item += para
        items += item
    out: list[nodes.Node] = [_p(f"{len(rows)} red builder{'s' if len(rows) != 1 else ''}:",
                                classes=["bbwatch-now-title"]), items]
    if len(rows) > SHOWN:
        out.append(_p(f"and {len(rows) - SHOWN} more on the status page."))
    return out


def counts(analysis: Analysis) -> dict[str, int]:
    tests = analysis.test_problems
    out = {c: sum(1 for p in tests if p.classification == c) for c in ("new", "known", "flaky")}
    out["build"] = len(analysis.build_problems)
    out["infra"] = len(analysis.infra_problems)
    out["flaky tests"] = len(analysis.flaky)
    return out


def _counts(analysis: Analysis) -> nodes.paragraph:
    c = counts(analysis)
    return _p(f"Failing tests: {c['new']} new, {c['known']} known, {c['flaky']} flaky; "
              f"{c['build']} build failure{'s' if c['build'] != 1 else ''}, "
              f"{c['infra']} infrastructure problem{'s' if c['infra'] != 1 else ''}; "
              f"{c['flaky tests']} flaky test{'s' if c['flaky tests'] != 1 else ''} in the "
              "analysed history.", classes=["bbwatch-now-counts"])


def links(doc_link: DocLink) -> nodes.paragraph:
    para = _p("Live pages: ", classes=["bbwatch-now-links"])
    first = True
    for docname, title in LIVE_PAGES:
        uri = doc_link(docname)
        if uri is None:
            continue
        if not first:
            para += nodes.Text(" · ")
        para += nodes.reference(title, title, refuri=uri, internal=True)
        first = False
    return para


def panel(app: Sphinx, analysis: Analysis | None, fromdocname: str,
          doc_link: DocLink) -> list[nodes.Node]:
    """The panel's own content (the live block adds the banners and the checked line)."""
    out: list[nodes.Node] = []
    if analysis is not None:
        out.extend(_red(analysis))
        out.append(_counts(analysis))
        for title, render in getattr(app, "bbwatch_now_sections", ()):
            body = render(app, analysis, fromdocname)
            if body:
                out.append(nodes.rubric(title, title, classes=["bbwatch-now-section"]))
                out.extend(body)
    out.append(links(doc_link))
    return out
