"""Shared pytest set-up: sphinx.testing fixtures, test roots, and the repo's paths."""

from __future__ import annotations

import os
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from bbwatch_fleet import DEMO_ACKS, DEMO_REGISTRY
from sphinx.application import Sphinx
from sphinx.util.console import strip_escape_sequences
from sphinx.util.docutils import docutils_namespace, patch_docutils

pytest_plugins = ("sphinx.testing.fixtures",)

REPO = Path(__file__).resolve().parent.parent
SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"  # the local fleet, recorded


@pytest.fixture(scope="session")
def rootdir() -> Path:
    """Where ``@pytest.mark.sphinx(testroot="x")`` finds ``roots/test-x``."""
    return REPO / "tests" / "roots"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _no_api_root_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's ``BBWATCH_API_ROOT`` must not send test clients to another master."""
    monkeypatch.delenv("BBWATCH_API_ROOT", raising=False)


@dataclass(frozen=True)
class SiteBuild:
    """One build of the handbook in this process: its Sphinx app (configuration, the build's
    analysis), exit status and warnings (colour codes stripped)."""

    app: Sphinx
    status: int
    warnings: str

    @property
    def html(self) -> Path:
        return Path(self.app.outdir)


def build_site(out: Path, *, warnings_are_errors: bool = False,
               overrides: dict[str, object] | None = None, **env: str) -> SiteBuild:
    """``sphinx-build -b html -q [-W --keep-going] [-D overrides]`` of ``docs/`` with the root
    ``conf.py`` into ``out/html`` (its cache in ``out/.bbwatch-cache``), with no ``BBWATCH_*``
    variable set but ``env`` (a developer's leftover ``BBWATCH_REGISTRY`` must not reach it).
    In-process, so the app stays inspectable. Every test that builds the handbook goes
    through here."""
    mp = pytest.MonkeyPatch()
    for name in [n for n in os.environ if n.startswith("BBWATCH_")]:
        mp.delenv(name)
    for name, value in env.items():
        mp.setenv(name, value)
    warnings = StringIO()
    try:
        # like sphinx-build: docutils' registries are restored afterwards, so later Sphinx apps
        # in this process do not find our nodes and directives already registered
        with patch_docutils(str(REPO)), docutils_namespace():
            app = Sphinx(str(REPO / "docs"), str(REPO), str(out / "html"), str(out / "doctrees"),
                         "html", status=None, warning=warnings,
                         warningiserror=warnings_are_errors, confoverrides=overrides or {})
            app.build()
    finally:
        mp.undo()
    return SiteBuild(app, app.statuscode, strip_escape_sequences(warnings.getvalue()))


@pytest.fixture(scope="session")
def whole_site_build(tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    """The handbook (``docs/`` with the root ``conf.py``) built once per session, offline
    (never reaching a master from tests), with ``-W``."""
    return build_site(tmp_path_factory.mktemp("site"), warnings_are_errors=True,
                       BBWATCH_OFFLINE="1")


@pytest.fixture(scope="session")
def whole_site(whole_site_build: SiteBuild) -> tuple[Path, str]:
    """``whole_site_build`` as ``(html folder, "<exit status>\n<warnings>")``. Whole-site tests
    share it, so the site is built once however many of them run."""
    return whole_site_build.html, f"{whole_site_build.status}\n{whole_site_build.warnings}"


@pytest.fixture(scope="session")
def snapshot_site_build(tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    """The handbook built once per session with the default configuration (the production
    registry and acknowledgements), its live and triage pages from the recorded snapshot of
    the local fleet instead of a master. (``whole_site`` is offline: its live pages are empty,
    and the handbook's own pages must not show live data in its tests.)"""
    return build_site(tmp_path_factory.mktemp("snapshot-site"), warnings_are_errors=False,
                       BBWATCH_SNAPSHOT=str(SNAPSHOT))


@pytest.fixture(scope="session")
def demo_site_build(tmp_path_factory: pytest.TempPathFactory) -> SiteBuild:
    """The handbook built from the recorded fleet snapshot with what ``make demo`` sets (the
    demo registry and acknowledgements, close candidates after 0 days), once per session."""
    build = build_site(tmp_path_factory.mktemp("demo-site"), warnings_are_errors=False,
                        BBWATCH_SNAPSHOT=str(SNAPSHOT), BBWATCH_REGISTRY=str(DEMO_REGISTRY),
                        BBWATCH_ACKS=str(DEMO_ACKS), BBWATCH_CLOSE_AFTER_DAYS="0")
    assert build.status == 0, build.warnings
    return build


@pytest.fixture(scope="session")
def demo_site(demo_site_build: SiteBuild) -> Path:
    """The demo build's html folder: every per-failure triage page the local fleet produces,
    offline."""
    return demo_site_build.html
