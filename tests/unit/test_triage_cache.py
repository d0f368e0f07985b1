"""The per-failure pages' bodies kept across builds (``bbwatch.sphinxext.triage_cache``): a
warm build renders none of them and writes the same pages; anything that shapes a body (its
data, the checklists, the tracker, the date, the renderer) makes it render again; bodies no
page uses any more leave the store."""

from __future__ import annotations

import dataclasses
import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from bbwatch.source.store import open_store
from bbwatch.sphinxext import triage_cache, triage_pages
from bbwatch.triage.checklist import load_checklists
from bbwatch.triage.context import TrackerLinks
from sphinx.testing.util import SphinxTestApp

from tests.triage_samples import control_context, hostile_context, infra_context


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The title of every body rendered (not taken from the store) during the test."""
    done: list[str] = []
    real = triage_pages._render_body

    def counting(app: Any, title: str, *args: Any) -> str:
        done.append(title)
        return real(app, title, *args)

    monkeypatch.setattr(triage_pages, "_render_body", counting)
    return done


def _build(rootdir: Path, out: Path, **overrides: Any) -> dict[str, str]:
    app = SphinxTestApp("html", srcdir=rootdir / "test-checklist", builddir=out, freshenv=True,
                        confoverrides=overrides, status=StringIO(), warning=StringIO())
    try:
        app.build()
    finally:
        app.cleanup()
    root = Path(app.outdir)
    return {p.relative_to(root).as_posix(): p.read_text()
            for p in (root / "triage").rglob("*.html")}


def _stored(out: Path) -> list[str]:
    return open_store(out / ".bbwatch-cache").space(triage_cache.PREFIX).keys()


def test_a_warm_build_renders_no_body_and_writes_the_same_pages(rootdir, tmp_path, renders):
    first = _build(rootdir, tmp_path)
    assert len(renders) == len(first) == 3
    assert len(_stored(tmp_path)) == 3
    renders.clear()
    again = _build(rootdir, tmp_path)
    assert renders == []
    assert again == first  # byte for byte, escaping included
    assert "&lt;script&gt;" in "".join(again.values())  # the hostile sample, still escaped


def test_what_shapes_the_body_renders_it_again(rootdir, tmp_path, renders):
    _build(rootdir, tmp_path)
    renders.clear()
    pages = _build(rootdir, tmp_path,
                   bbwatch_tracker={"github": "watchers/elsewhere"})
    assert len(renders) == 3  # every page links the tracker
    assert all("watchers/elsewhere" in page for page in pages.values())
    # the bodies of the earlier tracker are dropped: only this build's are kept
    assert len(_stored(tmp_path)) == 3


def test_a_renderer_setting_renders_every_body_again(rootdir, tmp_path, renders):
    _build(rootdir, tmp_path)
    renders.clear()
    pages = _build(rootdir, tmp_path, html_permalinks=False)
    assert len(renders) == 3
    assert not any('class="headerlink"' in p for p in pages.values())


def test_the_key_follows_every_input():
    checklists = load_checklists()
    ctx = hostile_context()
    today = dt.date(2026, 12, 5)
    base = ("r1", "triage/a/1/test_x", ctx, checklists, TrackerLinks(), today)
    key = triage_cache.page_key(*base)
    assert key == triage_cache.page_key(*base)  # stable for the same inputs
    other_checklists = dict(checklists)
    triage = other_checklists["triage"]
    other_checklists["triage"] = dataclasses.replace(triage, title=triage.title + " (edited)")
    variants = [
        ("r2", *base[1:]),
        (base[0], "triage/a/2/test_x", *base[2:]),
        (*base[:2], dataclasses.replace(ctx, seed="12345"), *base[3:]),
        (*base[:2], infra_context(), *base[3:]),
        (*base[:3], other_checklists, *base[4:]),
        (*base[:4], TrackerLinks(repo="watchers/elsewhere"), today),
        (*base[:5], today + dt.timedelta(days=1)),
    ]
    keys = {triage_cache.page_key(*v) for v in variants}
    assert key not in keys and len(keys) == len(variants)
    assert triage_cache.page_key(*base[:2], control_context(), *base[3:]) != key


def test_the_renderer_digest_follows_the_code(rootdir, tmp_path, monkeypatch):
    app = SphinxTestApp("html", srcdir=rootdir / "test-checklist", builddir=tmp_path,
                        status=StringIO(), warning=StringIO())
    try:
        before = triage_cache.renderer_digest(app)
        assert triage_cache.renderer_digest(app) == before
        monkeypatch.setattr(triage_cache, "code_digest", lambda: "edited")
        assert triage_cache.renderer_digest(app) != before
    finally:
        app.cleanup()


def test_any_source_edit_changes_the_code_digest(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    before = triage_cache.source_digest(tmp_path)
    (tmp_path / "pkg" / "a.py").write_text("x = 1  # a comment\n")
    after_edit = triage_cache.source_digest(tmp_path)
    (tmp_path / "pkg" / "a.py").rename(tmp_path / "pkg" / "c.py")
    after_rename = triage_cache.source_digest(tmp_path)
    assert len({before, after_edit, after_rename}) == 3
