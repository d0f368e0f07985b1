"""The handbook's mechanical promises (issue 13): no demo test names on the watcher's pages, every
glossary term linked where a watch page first uses it, a primary source linked from every watch
page, and a reading time on the home page that matches the pages.

All of them read the session's one build of the site (``whole_site`` in tests/conftest.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.conftest import REPO
from tests.test_handbook import article, prose

DOCS = REPO / "docs"

# Glossary terms that are also everyday words ("a new issue", "the next step"): their first
# occurrence is not always the glossary sense, so they are not checked.
PLAIN_WORDS = {"build", "step", "new", "known"}

# Where a watch page's facts come from: the devguide, PEPs, Python's docs, python/* repositories.
SOURCE = re.compile(
    r"^https://(?:devguide\.python\.org|peps\.python\.org|docs\.python\.org|github\.com/python/)"
)

WORDS_PER_MINUTE = 200


def watch_pages() -> list[str]:
    """The pages of the "The watch" toctree of docs/index.md, in reading order."""
    text = (DOCS / "index.md").read_text()
    for block in re.findall(r"```\{toctree\}\n(.*?)```", text, re.S):
        if re.search(r"^:caption:\s*The watch\s*$", block, re.M):
            return [line.strip() for line in block.splitlines()
                    if line.strip() and not line.startswith(":")]
    raise AssertionError("docs/index.md has no toctree captioned 'The watch'")


WATCH = watch_pages()


@pytest.fixture(scope="module")
def site(whole_site: tuple[Path, str]) -> Path:
    return whole_site[0]


@pytest.fixture(scope="module")
def glossary(site: Path) -> dict[str, str]:
    """Term (lower case) -> its anchor, read from the built glossary."""
    terms = {}
    for dt in article(site, "glossary").find_all("dt"):
        name = " ".join(dt.get_text(" ").replace("¶", "").split()).lower()
        if dt.get("id") and name not in PLAIN_WORDS:
            terms[name] = dt["id"]
    assert terms, "no glossary terms found"
    return terms


def test_watch_section_is_found():
    assert len(WATCH) >= 9, WATCH
    for page in WATCH:
        assert (DOCS / f"{page}.md").is_file(), f"{page} is in the toctree but has no source"


@pytest.mark.parametrize("page", ["index", "glossary", *WATCH])
def test_no_demo_test_names_on_the_watchers_pages(site, page):
    html = (site / f"{page}.html").read_text()
    found = sorted(set(re.findall(r"test_bbw_\w*", html)))
    assert not found, f"{page} shows demo test names on a default build: {found}"


@pytest.mark.parametrize("page", WATCH)
def test_glossary_terms_are_linked_where_first_used(site, glossary, page):
    # Longest terms first, so "worker process" is not read as "worker".
    names = sorted(glossary, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(r"\s+".join(map(re.escape, n.split())) for n in names)
        + r")(?:s|es)?(?![\w-])",
        re.IGNORECASE,
    )
    seen: set[str] = set()
    unlinked = []
    for text, link in prose(article(site, page)):
        for match in pattern.finditer(text):
            term = " ".join(match.group(1).lower().split())
            if term in seen:
                continue
            seen.add(term)
            if link != glossary[term]:
                unlinked.append(f"{term!r} first used without its glossary link in: "
                                f"{text.strip()[:80]!r}")
    assert not unlinked, f"{page}:\n" + "\n".join(unlinked)


@pytest.mark.parametrize("page", WATCH)
def test_every_watch_page_links_a_primary_source(site, page):
    hrefs = [a.get("href", "") for a in article(site, page).find_all("a")]
    assert any(SOURCE.match(h) for h in hrefs), (
        f"{page} links no source (devguide, PEP, docs.python.org or a python/* repository)")


def words(site: Path, page: str) -> int:
    return len(article(site, page).get_text(" ").split())


def stated_minutes(text: str) -> int | None:
    """The reading time a sentence states, in minutes: "about 95 minutes", "1 hour 40 minutes",
    "an hour and a half" is not understood (write numbers)."""
    hours = re.search(r"\b(\d+|an|one)\s+hours?\b(?:\s+(?:and\s+)?(\d+)\s+min(?:ute)?s?\b)?",
                      text)
    if hours:
        count = 1 if hours.group(1) in ("an", "one") else int(hours.group(1))
        return count * 60 + int(hours.group(2) or 0)
    minutes = re.search(r"\b(\d+)\s+min(?:ute)?s?\b", text)
    return int(minutes.group(1)) if minutes else None


def test_stated_reading_time_matches_the_pages(site):
    text = " ".join(article(site, "index").get_text(" ").split())
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if re.search(r"\bread", s, re.I)]
    stated = next((m for s in sentences if (m := stated_minutes(s)) is not None), None)
    total = sum(words(site, page) for page in WATCH)
    measured = round(total / WORDS_PER_MINUTE)
    assert stated is not None, (
        f"docs/index.md states no reading time; the watch pages take {measured} minutes "
        f"({total} words at {WORDS_PER_MINUTE} a minute)")
    assert abs(stated - measured) <= 1, (
        f"docs/index.md says {stated} minutes; the watch pages take {measured} "
        f"({total} words at {WORDS_PER_MINUTE} a minute)")


def test_stated_minutes_reads_the_usual_forms():
    assert stated_minutes("Reading them takes about 95 minutes.") == 95
    assert stated_minutes("Read them in 1 hour 40 minutes.") == 100
    assert stated_minutes("the first four take an hour") == 60
    assert stated_minutes("Read them in order.") is None


def test_glossary_defines_the_terms_of_issue_13(site):
    main = BeautifulSoup((site / "glossary.html").read_text(), "html.parser")
    ids = {dt.get("id") for dt in main.find_all("dt")}
    for term in ("regrtest", "worker-process", "faulthandler", "resource", "bedevere",
                 "release-manager", "release-blocker"):
        assert f"term-{term}" in {i.lower() for i in ids if i}, f"glossary lacks {term}"
