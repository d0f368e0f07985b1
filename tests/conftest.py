"""Shared pytest set-up: sphinx.testing fixtures, test roots, and the repo's paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ("sphinx.testing.fixtures",)

REPO = Path(__file__).resolve().parent.parent

# bench/ holds the scale/fault/hostile fixture master the tests also serve. Appended (not
# prepended) so its script names (site.py, parse.py, fetch.py) never shadow a real module.
if str(REPO / "bench") not in sys.path:
    sys.path.append(str(REPO / "bench"))


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
