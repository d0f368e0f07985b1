"""The live pages leave the interpreter's garbage collector alone unless ``bbwatch_gc_freeze``
asks them to freeze the fetched fleet; the option is checked with the other configuration."""

from __future__ import annotations

import gc
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from sphinx.errors import ConfigError
from sphinx.testing.util import SphinxTestApp

from tests.conftest import REPO

ROOT = REPO / "tests" / "roots" / "test-live"
SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"


@pytest.fixture(autouse=True)
def _unfrozen(monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in ("BBWATCH_BUILDBOT_URL", "BBWATCH_OFFLINE", "BBWATCH_SNAPSHOT"):
        monkeypatch.delenv(var, raising=False)
    gc.unfreeze()
    yield
    gc.unfreeze()  # whatever a test froze is the collector's again


def _build(out: Path, **conf: Any) -> SphinxTestApp:
    app = SphinxTestApp("html", srcdir=ROOT, builddir=out, freshenv=True,
                        confoverrides={"bbwatch_snapshot": str(SNAPSHOT),
                                       "bbwatch_cache_dir": str(out / "cache"), **conf},
                        status=StringIO(), warning=StringIO())
    try:
        app.build()
    finally:
        app.cleanup()
    return app


def test_a_live_build_leaves_the_collector_alone_by_default(tmp_path):
    app = _build(tmp_path)
    assert app.bbwatch_analysis is not None  # the fleet was fetched and analysed
    assert gc.get_freeze_count() == 0


def test_gc_freeze_is_opt_in(tmp_path):
    app = _build(tmp_path, bbwatch_gc_freeze=True)
    assert app.bbwatch_analysis is not None
    assert gc.get_freeze_count() > 0


def test_gc_freeze_must_be_a_bool(tmp_path):
    for value in ("yes", 3):  # a string Sphinx cannot read as a bool; a number
        with pytest.raises(ConfigError, match="bbwatch_gc_freeze'? must be"):
            _build(tmp_path / str(value), bbwatch_gc_freeze=value)
