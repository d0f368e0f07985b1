"""The whole handbook, built with the default configuration, never loads the demo registry.

The session's builds of the site (``snapshot_site_build`` and ``demo_site_build`` in
tests/conftest.py) come from the real ``conf.py`` and ``docs/`` with no ``BBWATCH_*`` variable
set but the snapshot (and, for the demo build, the registry): the registry settings of the
default build are those of a production build for buildbot.python.org. Tests must not reach
the internet, so the recorded snapshot of the local fleet stands in for the master
(``BBWATCH_SNAPSHOT``): the harshest input there is, since every failure in it is one the demo
registry covers. With the production registry none of them may show as covered by a
registry entry, no demo issue number or demo link may reach the live or triage pages, and the
registry table must hold no demo entry. The same build with ``BBWATCH_REGISTRY`` set to the
demo registry (what ``make demo`` does) shows the demo entries: the checks can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

from bbwatch.sphinxext.config import registry_path
from bbwatch.sphinxext.live import get_analysis
from bbwatch.triage.registry import load_registry
from bbwatch_fleet import DEMO_REGISTRY
from sphinx.application import Sphinx

from tests.conftest import REPO, SiteBuild

DOCS = REPO / "docs"
PRODUCTION = DOCS / "data" / "known-issues.toml"
DEMO_NUMBERS = {k.number for k in load_registry(DEMO_REGISTRY).issues}
# Real CPython numbers the registry and the examples once used with made-up titles.
OLD_MADE_UP = {117000, 117001, 140123}
DEMO_TEXT = re.compile(r"bbwatch-demo\.invalid|Demo \(local fleet\)|Local fleet|Illustrative|"
                       + "|".join(f"#{n}\\b" for n in sorted(DEMO_NUMBERS)))
REAL_UNRELATED = re.compile(r"github\.com/python/cpython/issues/({})\b".format(
    "|".join(str(n) for n in sorted(DEMO_NUMBERS | OLD_MADE_UP))))


def _pages(app: Sphinx) -> dict[str, str]:
    html = Path(app.outdir)
    return {str(p.relative_to(html)): p.read_text(encoding="utf-8") for p in html.rglob("*.html")}


def _registry_table(page: str) -> str:
    match = re.search(r'<table class="[^"]*bbwatch-registry.*?</table>', page, re.S)
    assert match, "no registry table on the known-issues page"
    return match.group()


def _demo_findings(app: Sphinx) -> list[str]:
    """Every trace of the demo registry in a build's output and in the registry it used."""
    found = []
    path = registry_path(app.config, app.srcdir)
    registry = load_registry(path) if path.is_file() else None
    if registry is not None and {k.number for k in registry.issues} & DEMO_NUMBERS:
        found.append(f"registry in use {path} holds demo entries")
    analysis = get_analysis(app)
    assert analysis is not None and analysis.problems, "the snapshot was not analysed"
    links = [(p.key, link) for problem in analysis.problems
             for p in [problem, *problem.children] for link in p.issues]
    links += [(row.test_file, row.issue) for row in analysis.flaky if row.issue is not None]
    for key, link in links:
        if link.source == "registry" or DEMO_TEXT.search(f"{link.url} {link.title}"):
            found.append(f"{key}: {link.url} {link.title}")
    for name, page in _pages(app).items():
        if name == "live/known-issues.html":  # its prose shows a marked demo example
            page = _registry_table(page)
            found += [f"{name}: {m}" for m in re.findall(r"test_bbw_\w+", page)]
        if name.startswith(("live/", "triage/")):
            found += [f"{name}: {m.group()}" for m in DEMO_TEXT.finditer(page)]
            found += [f"{name}: known" for _ in re.finditer(r"\bbbwatch-known\b", page)]
        found += [f"{name}: {m.group()}" for m in REAL_UNRELATED.finditer(page)]
    return found


def _from_the_snapshot(build: SiteBuild) -> None:
    """The build analysed the recorded fleet (every failure in it is one the demo registry
    covers), not a master and not nothing."""
    analysis = get_analysis(build.app)
    assert analysis is not None and analysis.fleet.source == "snapshot"
    status = (build.html / "live" / "status.html").read_text(encoding="utf-8")
    assert "(recorded snapshot)" in status


def test_default_build_reads_the_production_registry(snapshot_site_build: SiteBuild):
    app = snapshot_site_build.app
    _from_the_snapshot(snapshot_site_build)
    assert app.config.bbwatch_registry is None
    assert registry_path(app.config, app.srcdir) == PRODUCTION
    assert "bbwatch.data" not in snapshot_site_build.warnings, snapshot_site_build.warnings


def test_default_build_shows_no_demo_entry(snapshot_site_build: SiteBuild):
    assert _demo_findings(snapshot_site_build.app) == []


def test_the_check_finds_the_demo_registry_when_it_is_chosen(demo_site_build: SiteBuild):
    _from_the_snapshot(demo_site_build)
    app = demo_site_build.app
    assert registry_path(app.config, app.srcdir) == DEMO_REGISTRY
    found = _demo_findings(app)
    assert any("registry in use" in f for f in found), found
    assert any(f.startswith("live/known-failures.html: #130202") for f in found), found
    assert any(f.startswith("live/known-issues.html: test_bbw_") for f in found), found
