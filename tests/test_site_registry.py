"""The whole handbook, built with the default configuration, never loads the demo registry.

The site is built from the real ``conf.py`` and ``docs/`` with no ``BBWATCH_*`` variable set:
the registry settings are the defaults of a production build for buildbot.python.org. Tests
must not reach the internet, so the recorded snapshot of the local fleet stands in for the
master (``bbwatch_snapshot``): the harshest input there is, since every failure in it is one
the demo registry covers. With the production registry none of them may show as covered by a
registry entry, no demo issue number or demo link may reach the live or triage pages, and the
registry table must hold no demo entry. The same build with ``BBWATCH_REGISTRY`` set to the
demo registry (what ``make demo`` does) shows the demo entries: the checks can fail.
"""

from __future__ import annotations

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from bbwatch.sphinxext.config import registry_path
from bbwatch.sphinxext.live import get_analysis
from bbwatch.triage.registry import load_registry
from bbwatch_fleet import DEMO_REGISTRY
from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace, patch_docutils

from tests.conftest import REPO

DOCS = REPO / "docs"
SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"
PRODUCTION = DOCS / "data" / "known-issues.toml"
DEMO_NUMBERS = {k.number for k in load_registry(DEMO_REGISTRY).issues}
# Real CPython numbers the registry and the examples once used with made-up titles.
OLD_MADE_UP = {117000, 117001, 140123}
DEMO_TEXT = re.compile(r"bbwatch-demo\.invalid|Demo \(local fleet\)|Local fleet|Illustrative|"
                       + "|".join(f"#{n}\\b" for n in sorted(DEMO_NUMBERS)))
REAL_UNRELATED = re.compile(r"github\.com/python/cpython/issues/({})\b".format(
    "|".join(str(n) for n in sorted(DEMO_NUMBERS | OLD_MADE_UP))))


def _build(out: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Sphinx:
    for name in [n for n in os.environ if n.startswith("BBWATCH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    warnings = StringIO()
    # like sphinx-build: docutils' registries are restored afterwards, so later Sphinx apps
    # in this process do not find our nodes and directives already registered
    with patch_docutils(str(REPO)), docutils_namespace():
        app = Sphinx(str(DOCS), str(REPO), str(out / "html"), str(out / "doctrees"), "html",
                     confoverrides={"bbwatch_snapshot": str(SNAPSHOT),
                                    "bbwatch_cache_dir": str(out / "cache")},
                     status=StringIO(), warning=warnings, freshenv=True)
        app.build()
    WARNINGS[app] = warnings.getvalue()
    return app


WARNINGS: dict[Sphinx, str] = {}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sphinx]:
    mp = pytest.MonkeyPatch()
    try:
        default = _build(tmp_path_factory.mktemp("default"), mp)
        mp.undo()
        demo = _build(tmp_path_factory.mktemp("demo"), mp, BBWATCH_REGISTRY=str(DEMO_REGISTRY))
    finally:
        mp.undo()
    return {"default": default, "demo": demo}


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


def test_default_build_reads_the_production_registry(builds):
    app = builds["default"]
    assert app.config.bbwatch_registry is None
    assert registry_path(app.config, app.srcdir) == PRODUCTION
    assert "bbwatch.data" not in WARNINGS[app], WARNINGS[app]


def test_default_build_shows_no_demo_entry(builds):
    assert _demo_findings(builds["default"]) == []


def test_the_check_finds_the_demo_registry_when_it_is_chosen(builds):
    found = _demo_findings(builds["demo"])
    assert any("registry in use" in f for f in found), found
    assert any(f.startswith("live/known-failures.html: #130202") for f in found), found
    assert any(f.startswith("live/known-issues.html: test_bbw_") for f in found), found
