"""Acknowledgements, the "since yesterday" section and the watch-health figures on the whole
site (issue 16 points 4 and 5), built from the real ``conf.py`` and ``docs/`` against the
recorded snapshot of the local fleet.

The default build (no ``BBWATCH_*`` variable) reads the production ``docs/data/acks.toml``,
which is empty: no demo acknowledgement may reach a page. The same build with what ``make
demo`` sets (``BBWATCH_REGISTRY``, ``BBWATCH_ACKS``, ``BBWATCH_CLOSE_AFTER_DAYS``) shows an
active acknowledgement, an expired one with its reason, and a close candidate.
"""

from __future__ import annotations

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from bbwatch.sphinxext import live_acks
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util.docutils import docutils_namespace, patch_docutils

from tests.conftest import REPO, SiteBuild

DOCS = REPO / "docs"
SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"
DEMO = REPO / "ext" / "bbwatch_fleet"
DEMO_ENV = {"BBWATCH_REGISTRY": str(DEMO / "demo-known-issues.toml"),
            "BBWATCH_ACKS": str(DEMO / "demo-acks.toml"), "BBWATCH_CLOSE_AFTER_DAYS": "0"}


def _build(out: Path, monkeypatch: pytest.MonkeyPatch, snapshot: bool = True,
           **env: str) -> Sphinx:
    for name in [n for n in os.environ if n.startswith("BBWATCH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    overrides = {"bbwatch_cache_dir": str(out / "cache")}
    if snapshot:
        overrides["bbwatch_snapshot"] = str(SNAPSHOT)
    with patch_docutils(str(REPO)), docutils_namespace():
        app = Sphinx(str(DOCS), str(REPO), str(out / "html"), str(out / "doctrees"), "html",
                     confoverrides=overrides, status=StringIO(), warning=StringIO(),
                     freshenv=True)
        app.build()
    return app


@pytest.fixture(scope="module")
def builds(snapshot_site_build: SiteBuild, demo_site_build: SiteBuild) -> dict[str, Sphinx]:
    """The session's two snapshot builds of the handbook (``tests/conftest.py``): the default
    configuration, and what ``make demo`` sets (``DEMO_ENV``)."""
    demo = demo_site_build.app
    assert live_acks.acks_path(demo) == Path(DEMO_ENV["BBWATCH_ACKS"])  # what make demo sets
    assert demo.config.bbwatch_close_after_days == 0
    return {"default": snapshot_site_build.app, "demo": demo}


def _page(app: Sphinx, name: str) -> str:
    return (Path(app.outdir) / name).read_text(encoding="utf-8")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_default_build_loads_no_demo_acks(builds):
    app = builds["default"]
    assert live_acks.acks_path(app) == DOCS / "data" / "acks.toml"
    assert live_acks.loaded(app) is not None and live_acks.loaded(app).acks == []
    for page in ("live/known-failures.html", "index.html"):
        html = _page(app, page)
        assert "(demo)" not in html and "bbwatch-ack-badge" not in html


def test_demo_build_shows_acknowledgements_on_the_problems(builds):
    text = _text(_page(builds["demo"], "live/known-failures.html"))
    assert "acknowledged reported as #130202 — Ada (demo), 2026-12-04" in text
    assert ("acknowledgement expired on it — Linus (demo), 2026-12-03: the problem now fails "
            "with another error") in text
    assert "acknowledged ignore until 2099-01-01" in text  # the sick worker, by its key
    assert "Key for acknowledgements: infra:sick-worker:bbw-ubuntu-arm64" in text


def test_known_failures_page_has_the_since_yesterday_section(builds):
    text = _text(_page(builds["demo"], "live/known-failures.html"))
    assert "Since yesterday" in text
    assert "Workers down: bbw-fedora-ppc64le." in text
    assert re.search(r"Known issues to close\? 1: #130203: test_bbw_net", text)
    assert "Acknowledged: 2 problems; 1 acknowledgement expired." in text
    assert "Since yesterday" in _text(_page(builds["default"], "live/known-failures.html"))


def test_now_panel_shows_the_watch_health(builds):
    text = _text(_page(builds["demo"], "index.html"))
    assert "Watch health" in text
    # test and build problems: test_bbw_os, _cache (registry) are linked; _strings, _locale,
    # _parser are not
    assert "Problems linked to an issue: 2 of 5 (40%)." in text
    assert "Oldest unreported new problem: test_bbw_" in text
    assert ("Known issues to close (tests green on every builder for 0 days): 1." in text)
    default = _text(_page(builds["default"], "index.html"))
    assert "Problems linked to an issue: 0 of 5 (0%)." in default
    assert "green on every builder for 14 days): 0." in default


def test_the_demo_acks_are_refused_for_the_production_master(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="demo fleet's acknowledgements"):
        _build(tmp_path, monkeypatch, snapshot=False, BBWATCH_ACKS=DEMO_ENV["BBWATCH_ACKS"])


def test_a_missing_acks_file_is_a_config_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="acknowledgements file not found"):
        _build(tmp_path, monkeypatch, BBWATCH_ACKS=str(tmp_path / "nope.toml"))


def test_the_checklist_page_reproduces_with_the_builds_options(builds):
    """The per-failure checklist page of the change-and-backport scenario (issue 16 point 3):
    the Windows form, the failing method, the seed and the builder's -u and --timeout."""
    text = _text(_page(builds["demo"], "triage/amd64-windows11-3-x/6/test_bbw_strings.html"))
    found = re.search(r"PCbuild\\rt\.bat -q test_bbw_strings -m test_join_lines "
                      r"--randseed=(\d+) -uall --timeout=60 -v", text)
    assert found, text[:2000]
    assert "python.bat -m test accepts the same options" in text
