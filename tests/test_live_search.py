"""The site search and the live pages: problems, tests and the handbook's words are found;
the bulk that changes with every build and that a page's own find does better (the status
tables' builder, worker and tag names, the failure matrix, history strips, the flaky tests'
per-builder lists) is left out of the index (Sphinx's ``no-search`` class)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import snowballstemmer

from tests.conftest import SiteBuild


def _index(html: Path) -> tuple[list[str], dict[str, list[int]]]:
    text = (html / "searchindex.js").read_text()
    data = json.loads(text[text.index("(") + 1:text.rindex(")")])
    terms = {term: docs if isinstance(docs, list) else [docs]
             for term, docs in data["terms"].items()}
    return data["docnames"], terms


def _docs_with(term: str, html: Path) -> set[str]:
    docnames, terms = _index(html)
    return {docnames[i] for i in terms.get(term, [])}


@pytest.fixture(scope="module")
def html(snapshot_site_build: SiteBuild) -> Path:
    assert snapshot_site_build.status == 0
    page = (snapshot_site_build.html / "live" / "status.html").read_text()
    assert "bbw-fedora-ppc64le" in page and "no-search" in page  # the names are on the page
    return snapshot_site_build.html


def test_status_table_names_are_not_indexed(html: Path) -> None:
    # "bbw" starts every worker name of the recorded fleet and appears nowhere else
    assert "live/status" not in _docs_with("bbw", html)
    assert "live/status" not in _docs_with("ppc64le", html)


def test_the_live_pages_prose_and_problems_stay_searchable(html: Path) -> None:
    page = (html / "live" / "known-failures.html").read_text()
    _docnames, terms = _index(html)
    names = set(re.findall(r">(test_\w+)<", page))
    assert names, "the known-failures page names no failing test"
    english = snowballstemmer.stemmer("english")  # what Sphinx's English index stores
    for name in names:
        assert "live/known-failures" in _docs_with(english.stemWord(name), html), name
    assert "live/status" in _docs_with("streak", html)  # the page's own prose
