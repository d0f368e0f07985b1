"""The whole handbook builds with no warning, every page is reachable, every internal link works."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def site(whole_site: tuple[Path, str]) -> tuple[Path, str]:
    # The session's one build of the whole site (tests/conftest.py), offline.
    return whole_site


def _sources() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "data" not in p.relative_to(DOCS).parts[:1])


def test_site_builds_without_warnings(site):
    html, report = site
    status, _, warnings = report.partition("\n")
    assert warnings.strip() == "", warnings
    assert status == "0"


def test_every_page_is_built_and_in_the_toctree(site):
    html, _ = site
    index = (html / "index.html").read_text()
    for src in _sources():
        page = src.relative_to(DOCS).with_suffix(".html")
        assert (html / page).is_file(), f"{page} not built"
        if page.as_posix() != "index.html":
            # furo renders the whole toctree in the sidebar of every page, index included.
            assert f'href="{page.as_posix()}"' in index, f"{page} not reachable from the toctree"


def test_every_internal_link_resolves(site):
    html, _ = site
    href = re.compile(r'href="([^"]+)"')
    broken = []
    for page in html.rglob("*.html"):
        text = page.read_text()
        for target in href.findall(text):
            parts = urlsplit(target)
            if parts.scheme or target.startswith(("mailto:", "//")):
                continue
            path = unquote(parts.path)
            dest = (page.parent / path).resolve() if path else page
            if dest.is_dir():
                dest = dest / "index.html"
            if not dest.exists():
                broken.append(f"{page.relative_to(html)} -> {target}")
                continue
            if parts.fragment and dest.suffix == ".html":
                ids = re.findall(r'id="([^"]+)"', dest.read_text())
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(html)} -> {target} (no anchor)")
    assert not broken, "\n".join(broken[:50])
