"""Shared pytest set-up: sphinx.testing fixtures, test roots, and the repo's paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ("sphinx.testing.fixtures",)

REPO = Path(__file__).resolve().parent.parent

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


@pytest.fixture(scope="session")
def whole_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The handbook (``docs/`` with the root ``conf.py``) built once per session, offline:
    ``(html folder, "<exit status>\n<warnings>")``. Whole-site tests share it, so the site is
    built once however many of them run."""
    from sphinx.cmd.build import build_main

    out = tmp_path_factory.mktemp("site")
    warnings = out / "warnings.txt"
    mp = pytest.MonkeyPatch()
    mp.setenv("BBWATCH_OFFLINE", "1")  # never reach a master from tests
    mp.delenv("BBWATCH_BUILDBOT_URL", raising=False)
    try:
        status = build_main(
            ["-b", "html", "-c", str(REPO), "-W", "--keep-going", "-q", "-w", str(warnings),
             "-d", str(out / "doctrees"), str(REPO / "docs"), str(out / "html")]
        )
    finally:
        mp.undo()
    return out / "html", f"{status}\n{warnings.read_text()}"


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The handbook's html folder built from the recorded fleet snapshot with the demo
    registry: every per-failure triage page the local fleet produces, offline."""
    from sphinx.cmd.build import build_main

    out = tmp_path_factory.mktemp("demo-site")
    mp = pytest.MonkeyPatch()
    for name in [n for n in os.environ if n.startswith("BBWATCH_")]:
        mp.delenv(name)
    mp.setenv("BBWATCH_SNAPSHOT", str(REPO / "tests" / "fixtures" / "snapshot"))
    mp.setenv("BBWATCH_REGISTRY", str(REPO / "ext" / "bbwatch_fleet" / "demo-known-issues.toml"))
    try:
        status = build_main(["-b", "html", "-c", str(REPO), "-q", "-d", str(out / "doctrees"),
                             str(REPO / "docs"), str(out / "html")])
    finally:
        mp.undo()
    assert status == 0
    return out / "html"
