"""Shared pytest set-up: sphinx.testing fixtures, test roots, and the repo's paths."""

from __future__ import annotations

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
