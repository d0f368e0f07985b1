"""The handbook says what a new watcher needs: the procedure, the codes, the words, linked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup, Tag

from tests.conftest import REPO

DOCS = REPO / "docs"

# The handbook's own pages: the two top-level ones and every page of "The watch" (the live
# pages and other top-level pages belong to their extensions and issues).
HANDBOOK = ["index", "using-this-site"] + sorted(
    p.relative_to(DOCS).with_suffix("").as_posix() for p in (DOCS / "watching").glob("*.md")
)

# Every term the glossary must define (issue 2), as Sphinx spells its anchor.
REQUIRED_TERMS = [
    "builder",
    "worker",
    "build",
    "step",
    "blamelist",
    "streak",
    "flaky",
    "env changed",
    "refleak",
    "tier",
    "stable",
    "known",
    "new",
    "test file",
    "test id",
]

# Terms whose every occurrence in prose is the glossary sense, so the first one on a page can
# be checked mechanically ("build", "step", "new", "known" are also plain English words).
FIRST_USE = {
    "builder": r"builders?",
    "worker": r"workers?(?!\s+process)",  # a "worker process" is another term
    "blamelist": r"blamelists?",
    "streak": r"streaks?",
    "flaky": r"flaky",
    "env changed": r"env changed",
    "refleak": r"refleaks?",
    "tier": r"tiers?",
    "test file": r"test files?",
    "test id": r"test ids?",
    "stable": r"stable",
}

RESULTS = ["SUCCESS", "WARNINGS", "FAILURE", "SKIPPED", "EXCEPTION", "RETRY", "CANCELLED"]

# Text that is not prose: code, headings, and links to something other than the glossary.
SKIPPED_TAGS = {"pre", "code", "h1", "h2", "h3", "h4", "h5", "h6", "script", "style", "label"}


def anchor(term: str) -> str:
    return "term-" + term.replace(" ", "-")


@pytest.fixture(scope="module")
def site(whole_site: tuple[Path, str]) -> Path:
    # The session's one build of the whole site (tests/conftest.py); test_site checks that it
    # built without warnings.
    return whole_site[0]


def article(site: Path, page: str) -> Tag:
    soup = BeautifulSoup((site / f"{page}.html").read_text(), "html.parser")
    main = soup.find("article", attrs={"role": "main"}) or soup.find("article")
    assert isinstance(main, Tag), f"{page}: no article"
    return main


def text_of(site: Path, page: str) -> str:
    return " ".join(article(site, page).get_text(" ").split())


def term_link(tag: Tag) -> str | None:
    """The glossary anchor a link points to, or None if it is not a term link."""
    href = tag.get("href", "")
    classes = tag.get("class") or []
    if "reference" in classes and "internal" in classes and "glossary.html#term-" in href:
        return str(href).rsplit("#", 1)[1]
    return None


def prose(main: Tag):
    """(text, glossary anchor or None) for each piece of prose, in reading order."""
    for string in main.find_all(string=True):
        link = None
        skip = False
        for parent in string.parents:
            if parent is main:
                break
            if parent.name in SKIPPED_TAGS:
                skip = True
                break
            if parent.name == "a":
                link = term_link(parent)
                skip = link is None
                break
        if not skip and string.strip():
            yield str(string), link


def result_table(main: Tag) -> dict[str, str]:
    """The first table whose rows start with the codes 0-6: {code: row text}."""
    for table in main.find_all("table"):
        rows = {}
        for tr in table.find_all("tr"):
            cells = [" ".join(td.get_text(" ").split()) for td in tr.find_all("td")]
            if cells and cells[0].isdigit():
                rows[cells[0]] = " ".join(cells[1:])
        if set(rows) == {str(i) for i in range(7)}:
            return rows
    raise AssertionError("no table with the result codes 0 to 6")


def test_glossary_defines_every_required_term(site):
    main = article(site, "glossary")
    defined = {dt.get("id") for dt in main.find_all("dt")}
    missing = [t for t in REQUIRED_TERMS if anchor(t) not in defined]
    assert not missing, f"glossary lacks {missing}"


def test_every_glossary_term_is_linked_from_another_page(site):
    defined = [dt["id"] for dt in article(site, "glossary").find_all("dt") if dt.get("id")]
    linked: set[str] = set()
    for page in HANDBOOK:
        for a in article(site, page).find_all("a"):
            if (target := term_link(a)) is not None:
                linked.add(target)
    unlinked = [t for t in defined if t not in linked]
    assert not unlinked, f"glossary terms no page links to: {unlinked}"


@pytest.mark.parametrize("page", HANDBOOK)
def test_terms_are_linked_where_first_used(site, page):
    seen: set[str] = set()
    unlinked = []
    for text, link in prose(article(site, page)):
        for term, pattern in FIRST_USE.items():
            if term in seen or not re.search(rf"\b{pattern}\b", text, re.IGNORECASE):
                continue
            seen.add(term)
            if link != anchor(term):
                unlinked.append(f"{term!r} first used unlinked in: {text.strip()[:80]!r}")
    assert not unlinked, "\n".join(unlinked)


def test_triage_gives_the_title_convention_and_its_examples(site):
    text = text_of(site, "watching/triage")
    assert "test_x: TestClass.test_method fails on <builder name>" in text
    assert "test_posix: TestPosixSpawn fails on PPC64 Fedora 3.x" in text
    # The worked example follows its own convention.
    assert re.search(r"test_os: TimerfdTests\.test_timerfd_poll fails on AMD64 [\w ]+ 3\.x", text)


def test_triage_searches_method_then_file_then_full_text(site):
    main = article(site, "watching/triage")
    steps = None
    for ol in main.find_all("ol"):
        items = [" ".join(li.get_text(" ").split()) for li in ol.find_all("li", recursive=False)]
        if any("in:title" in item for item in items):
            steps = items
            break
    assert steps is not None, "no ordered list of searches"
    assert len(steps) == 3
    assert "test method" in steps[0] and "in:title test_timerfd_poll" in steps[0]
    assert "test file" in steps[1] and "in:title test_os" in steps[1]
    assert "full text" in steps[2] and "in:title" not in steps[2].split("without")[0]


def test_triage_procedure_ends_with_the_reply_and_does_not_investigate(site):
    text = text_of(site, "watching/triage")
    assert "At this stage there is no need to investigate the failure" in text
    order = [
        text.index("Step 1: find the failing tests"),
        text.index("Step 2: search the issue tracker"),
        text.index("Step 3a: file a new issue"),
        text.index("Step 3b: comment on the existing issue"),
        text.index("Step 4: reply to the notification"),
        text.index("Worked example"),
    ]
    assert order == sorted(order)
    # The new issue names its build and labels; the comment names the builder and the build.
    assert "the tests label" in text
    assert re.search(r"New failure on AMD64 Debian root 3\.x: https://buildbot\.python\.org/", text)
    assert "Reported: https://github.com/python/cpython/issues/" in text


@pytest.mark.parametrize("page", ["watching/fleet", "watching/triage"])
def test_result_codes_table_has_all_seven_codes_with_their_words(site, page):
    rows = result_table(article(site, page))
    for code, word in enumerate(RESULTS):
        assert word in rows[str(code)].split(), f"code {code} is not {word}: {rows[str(code)]}"


def test_result_colours_always_come_with_the_word(site):
    rows = result_table(article(site, "watching/fleet"))
    colours = ["green", "orange", "red", "white", "purple", "purple", "pink"]
    for code, (word, colour) in enumerate(zip(RESULTS, colours, strict=True)):
        assert word in rows[str(code)] and colour in rows[str(code)]
    badges = {b.get_text() for b in article(site, "watching/fleet").select("span.sd-badge")}
    assert set(RESULTS) <= badges


PAGE_FACTS = {
    "watching/why": ["tier-1", "tier-2", "block", "stable", "unstable", "red builder hides"],
    "watching/fleet": [
        "AMD64 Fedora Rawhide 3.x",
        "PPC64LE Fedora Stable LTO + PGO 3.14",
        "AMD64 Windows PGO NoGIL PR",
        "main",
        "refleak",
        "nogil",
        "pgo",
        "git",
        "configure",
        "compile",
        "pythoninfo",
        "test",
        "clean",
    ],
    "watching/notifications": [
        "buildbot-status",
        "Discord",
        "pull request",
        "Only stable builders",
    ],
    "watching/reading-logs": [
        "0:12:34 load avg: 2.00 [123/456/1] test_os failed (1 failure)",
        "stdio",
        "FAIL:",
        "ERROR:",
        "== Tests result: FAILURE then SUCCESS ==",
        "Re-running",
        "env changed",
        "Timeout (0:20:00)!",
        "Fatal Python error:",
        "leaked [1, 1, 1] references",
    ],
    "watching/analysis": [
        "Changes",
        "first failing build",
        "--randseed",
        "--fromfile",
        "python -m test.bisect_cmd",
        "network",
        "load",
        "pythoninfo",
        "Revert",
        "exact command",
    ],
    "watching/flaky-tests": [
        "FAILURE then SUCCESS",
        "same revision",
        "three or more",
        "docs/data/known-issues.toml",
    ],
    "watching/infrastructure": [
        "EXCEPTION",
        "RETRY",
        "No space left on device",
        "worker owner",
        "python-buildbots@python.org",
    ],
    "watching/joining": ["buildbot-status", "Introduce yourself", "Shadow", "rota", "backup"],
    "using-this-site": [
        "bbwatch parse",
        "bbwatch match",
        "bbwatch triage",
        "bbwatch fleet",
        "bbwatch snapshot",
        "not reachable from our continuous integration",
        "GitHub-shaped HTTP server",
    ],
}


@pytest.mark.parametrize("page", sorted(PAGE_FACTS))
def test_each_page_covers_its_topic(site, page):
    text = text_of(site, page)
    missing = [fact for fact in PAGE_FACTS[page] if fact not in text]
    assert not missing, f"{page} does not mention {missing}"


def test_live_pages_are_cross_referenced_not_raw_links(site):
    for src in [DOCS / f"{page}.md" for page in HANDBOOK]:
        raw = re.findall(r"\]\((?!https?://)[^)]*\.html[^)]*\)", src.read_text())
        assert not raw, f"{src.name} links to built HTML: {raw}"
    hrefs = {a.get("href") for a in article(site, "using-this-site").find_all("a")}
    for live in ["status", "known-failures", "flaky-tests", "checklists", "known-issues"]:
        assert f"live/{live}.html" in hrefs, f"using-this-site does not link live/{live}"


def test_index_toctree_puts_the_handbook_before_the_live_pages(site):
    captions = [c.get_text(strip=True) for c in article(site, "index").select("p.caption")]
    assert captions[:3] == ["The watch", "Reference", "Live"], captions
