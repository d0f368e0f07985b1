"""The triage filler: every fleet scenario, URL limits, and hostile values kept intact.

Scenario fleets come from ``tests/factories.py`` with real regrtest logs
(``tests/unit/samples/regrtest``), then go through the production path: ``analyse`` ->
``context_for_build`` -> ``fill``.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from bbwatch.domain import Failure
from bbwatch.models import FleetData
from bbwatch.triage import analysis
from bbwatch.triage.analysis_context import context_for_build, contexts_from_analysis
from bbwatch.triage.checklist import load_checklists
from bbwatch.triage.context import MAX_NEW_ISSUE_URL, TrackerLinks, triage_docname
from bbwatch.triage.fill import fill
from bbwatch.triage.matching import suggest_title
from bbwatch.triage.mdescape import code_span, fenced, fill_markdown, md_escape
from bbwatch.triage.render import to_json, to_markdown, to_text
from markdown_it import MarkdownIt

from tests.factories import BASE_URL as BASE
from tests.factories import COMPILE, FAIL, NOW, OK, WARN, add_builder, make_fleet
from tests.triage_samples import (
    CONTROL_EXCERPT,
    HOSTILE_BUILDER,
    HOSTILE_EXCERPT,
    HOSTILE_TEST_ID,
    control_context,
    hostile_context,
    infra_context,
)


@pytest.fixture(scope="module")
def checklists():
    return load_checklists()


def _builder(fleet: FleetData, bid: int, name: str, history, connected: bool = True) -> None:
    add_builder(fleet, bid, name, history, connected=connected, admin="own@example.org",
                started_at=lambda k: NOW - 9000 + k * 1000, comments="gh-{k}: change {k}",
                files=("Lib/test/test_bb_fail.py",))


@pytest.fixture(scope="module")
def picture() -> analysis.Analysis:
    fleet = make_fleet()
    _builder(fleet, 1, "AMD64 Debian 3.x", [OK, OK, FAIL, FAIL])
    _builder(fleet, 2, "ARM64 macOS 3.x", [OK, WARN])
    _builder(fleet, 3, "AMD64 FreeBSD 3.x", [OK, COMPILE])
    _builder(fleet, 4, "PPC64LE Fedora 3.x", [OK, OK], connected=False)
    _builder(fleet, 5, "AMD64 Alpine 3.x", [OK, OK])
    return analysis.analyse(fleet, now=NOW)


def _failure(data: dict, test_file: str) -> dict:
    return next(f for f in data["failures"] if f["test_file"] == test_file)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# -- scenarios -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("test_file", "kind", "ids"),
    [
        ("test_bb_fail", "failed", ["test_bb_fail.FailTests.test_error",  # error + failure
                                    "test_bb_fail.FailTests.test_assert"]),
        ("test_bb_crash", "crashed", []),
        ("test_bb_timeout", "timed_out", []),
        ("test_bb_envchanged", "env_changed", []),
    ],
)
def test_test_failures_get_the_triage_checklist(picture, checklists, test_file, kind, ids):
    data = to_json(fill(context_for_build(picture, 1, 4), checklists))
    assert data["checklist"] == "triage" and data["result"] == "failure"
    assert data["builder"] == "AMD64 Debian 3.x" and data["branch"] == "3.x"
    assert data["build_url"] == f"{BASE}#/builders/1/builds/4"
    failure = _failure(data, test_file)
    assert failure["kind"] == kind
    assert failure["test_ids"] == ids
    assert failure["test_id"] == (ids[0] if ids else None)
    assert failure["suggested_title"].startswith(f"{test_file}:")
    assert failure["suggested_title"].endswith("on AMD64 Debian 3.x")
    # The procedure's order: method (or class/file), file, then full text.
    urls = failure["search_urls"]
    assert len(urls) == 3 and all(u.startswith("https://github.com/python/cpython/issues?q=")
                                  for u in urls)
    assert _query(urls[1])["q"] == f"is:issue in:title {test_file}"
    if ids:
        method = ids[0].rsplit(".", 1)[1]
        assert _query(urls[0])["q"] == f"is:issue in:title {method}"
    new = _query(failure["new_issue_url"])
    assert new["title"] == failure["suggested_title"]
    assert new["labels"] == "type-bug,tests"
    assert data["build_url"] in new["body"] and "rev4" in new["body"]
    assert failure["comment_text"].startswith(
        f"New failure on AMD64 Debian 3.x: {data['build_url']}")
    assert [s["id"] for s in data["steps"]][:3] == ["check-first", "read-log", "search-method"]
    assert all(s["done"] is False for s in data["steps"])


def test_streak_and_suspects_for_analysis(picture, checklists):
    data = to_json(fill(context_for_build(picture, 1, 4), checklists))
    assert data["first_failing"] == {"number": 3, "url": f"{BASE}#/builders/1/builds/3"}
    assert data["last_good"] == {"number": 2, "url": f"{BASE}#/builders/1/builds/2"}
    assert [s["revision"] for s in data["suspects"]] == ["rev3"]
    analysis_text = "\n".join(s["text"] for s in data["analysis_steps"])
    assert "#3" in analysis_text and f"{BASE}#/builders/1/builds/2" in analysis_text


def test_flaky_warnings_build_is_triaged_not_green(picture, checklists):
    triage = fill(context_for_build(picture, 2, 2), checklists)
    data = to_json(triage)
    assert data["result"] == "warnings" and not data["green"]
    failure = _failure(data, "test_bb_flaky")
    assert failure["kind"] == "flaky"
    # matching words the title; what matters here is that it is told the test is flaky.
    expected = suggest_title(Failure("test_bb_flaky", failure["test_id"], "ARM64 macOS 3.x",
                                     "3.x", kind="failed", passed_on_rerun=True))
    assert failure["suggested_title"] == expected
    assert "passed when re-run" in data["reply_text"]


def test_compile_failure_uses_the_infrastructure_checklist(picture, checklists):
    data = to_json(fill(context_for_build(picture, 3, 2), checklists))
    assert data["checklist"] == "infrastructure" and data["infra"] == "compile"
    assert data["failures"] == []
    assert [s["id"] for s in data["steps"]] == [
        s.id for s in checklists["infrastructure"].steps]
    assert "compile" in data["reply_text"]


def test_disconnected_worker_uses_the_infrastructure_checklist(picture, checklists):
    data = to_json(fill(context_for_build(picture, 4, 2), checklists))
    assert data["checklist"] == "infrastructure" and data["infra"] == "disconnected"
    text = "\n".join(s["text"] for s in data["steps"])
    assert "worker-4" in text and "own@example.org" in text


def test_green_build_says_so(picture, checklists):
    triage = fill(context_for_build(picture, 5, 2), checklists)
    assert triage.green
    assert to_json(triage)["green"] is True and to_json(triage)["steps"] == []
    assert "is green" in to_text(triage) and "is green" in to_markdown(triage)


def test_one_page_per_known_failures_row(picture):
    pages = dict(contexts_from_analysis(picture))
    assert "triage/amd64-debian-3-x/4/test_bb_fail" in pages
    assert "triage/amd64-freebsd-3-x/2/compile" in pages
    assert pages["triage/amd64-debian-3-x/4/test_bb_fail"].failures[0].test_file == "test_bb_fail"
    for docname, ctx in pages.items():
        assert docname.startswith("triage/") and ctx.build_url.startswith(BASE)


def test_triage_docname():
    assert triage_docname("AMD64 Debian 3.x", 12, "test_bbw_fail") == (
        "triage/amd64-debian-3-x/12/test_bbw_fail")
    assert triage_docname('<b>"x"</b>', 3, "../../etc/passwd") == "triage/b-x-b/3/etc-passwd"
    assert triage_docname("", 1, "") == "triage/builder/1/build"


# -- URL limits ----------------------------------------------------------------------------------
@pytest.mark.parametrize("char", ["x", "é", "✓", "\U0001f600"])
def test_new_issue_url_stays_under_the_limit(checklists, char):
    ctx = hostile_context()
    ctx.failures[0].excerpt = "\n".join(f"line {i} " + char * 120 for i in range(3000))
    triage = fill(ctx, checklists)
    url = triage.failures[0].new_issue_url
    assert len(url) <= MAX_NEW_ISSUE_URL
    body = _query(url)["body"]
    assert ctx.build_url in body  # the head survives the cut ...
    assert "earlier lines" in body and "line 2999" in body  # ... and so does the tail
    assert len(triage.failures[0].search_urls[2]) < 2000


def test_small_excerpt_is_not_cut(checklists):
    triage = fill(hostile_context(), checklists)
    body = _query(triage.failures[0].new_issue_url)["body"]
    assert HOSTILE_EXCERPT in body and "earlier lines" not in body


# -- escaping ------------------------------------------------------------------------------------
MD = MarkdownIt("commonmark")


def _rendered_text(markdown: str) -> str:
    """What a reader sees: markdown -> HTML -> text."""
    return html.unescape(re.sub(r"<[^>]+>", "", MD.render(markdown)))


HOSTILE_VALUES = [
    HOSTILE_BUILDER,
    HOSTILE_TEST_ID,
    'quotes "double" and \'single\'',
    "a *b* _c_ `d` [e](f) ![g](h) <i> &amp; \\ # 1. - + | ~ $x$ @who :smile:",
    "ünïcødé ✓ 日本語",
    "1. looks like a list",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_md_escape_round_trips(value):
    rendered = MD.render(md_escape(value))
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert "<em>" not in rendered and "<code>" not in rendered
    assert _rendered_text(md_escape(value)).strip() == value


@pytest.mark.parametrize("value", HOSTILE_VALUES + ["`start", "end`", "a `` b"])
def test_code_span_round_trips(value):
    rendered = MD.render(code_span(value))
    found = re.search(r"<code>(.*)</code>", rendered, re.S)
    assert found and html.unescape(found.group(1)) == value


def test_fenced_block_holds_fences():
    text = "before\n```\ninside\n````\nafter </pre>"
    rendered = MD.render(fenced(text, "text"))
    assert html.unescape(re.search(r"<code[^>]*>(.*)</code>", rendered, re.S).group(1)) == (
        text + "\n")


def test_multiline_value_keeps_its_lines():
    assert _rendered_text(md_escape("one\n- two\n# three")).split("\n")[:3] == [
        "one", "- two", "# three"]


def test_fill_markdown_escapes_by_context():
    values = {"builder": "*B* <x>", "test_id": "a`b", "build_url": "https://h/x y(1)",
              "excerpt": "```\nlog </pre>\n```"}
    template = ("Open [the build]({build_url}) of {builder}, test `{test_id}`:\n\n"
                "```text\n{excerpt}\n```\n")
    out = fill_markdown(template, values)
    rendered = MD.render(out)
    assert 'href="https://h/x%20y%281%29"' in rendered
    assert "<code>a`b</code>" in rendered
    assert "*B* &lt;x&gt;" in rendered
    block = re.search(r"<pre><code[^>]*>(.*)</code></pre>", rendered, re.S).group(1)
    assert html.unescape(block) == values["excerpt"] + "\n"


def test_markdown_output_keeps_hostile_values_intact(checklists):
    triage = fill(hostile_context(), checklists)
    markdown = to_markdown(triage)
    rendered = MD.render(markdown)
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert 'href="javascript' not in rendered
    text = _rendered_text(markdown)
    assert HOSTILE_BUILDER in text
    assert HOSTILE_TEST_ID in text
    for line in HOSTILE_EXCERPT.splitlines():
        assert line in text


def test_json_and_text_hold_raw_values(checklists):
    triage = fill(hostile_context(), checklists)
    data = to_json(triage)
    assert data["builder"] == HOSTILE_BUILDER
    failure = data["failures"][0]
    assert failure["test_id"] == HOSTILE_TEST_ID and failure["excerpt"] == HOSTILE_EXCERPT
    read_log = next(s for s in data["steps"] if s["id"] == "read-log")
    assert HOSTILE_BUILDER in data["steps"][0]["text"] and HOSTILE_BUILDER in read_log["text"]
    assert HOSTILE_EXCERPT in read_log["text"]
    assert data["reply_text"].splitlines()[0] == "https://github.com/python/cpython/issues/4242"
    # The candidate the matcher found is shown with the search that finds it first.
    searches = {s["step"]: s for s in failure["searches"]}
    assert [m["number"] for m in searches["search-method"]["matches"]] == [4242]
    assert searches["search-file"]["matches"] == searches["search-text"]["matches"] == []
    text = to_text(triage)
    assert HOSTILE_BUILDER in text and "[ ] 2. Read the test log" in text


def test_new_issue_body_round_trips(checklists):
    triage = fill(hostile_context(), checklists)
    body = _query(triage.failures[0].new_issue_url)["body"]
    rendered = MD.render(body)
    assert "<script" not in rendered
    block = re.search(r"<pre><code[^>]*>(.*?)</code></pre>", rendered, re.S).group(1)
    assert html.unescape(block) == HOSTILE_EXCERPT + "\n"
    assert HOSTILE_BUILDER in _rendered_text(body)


def test_infra_context_and_custom_tracker(checklists):
    tracker = TrackerLinks(repo="example/project", labels=("infra",))
    data = to_json(fill(infra_context(), checklists, tracker))
    assert data["checklist"] == "infrastructure"
    assert any("https://github.com/example/project/issues/new?" in s["text"]
               for s in data["steps"])


def test_text_and_markdown_show_control_characters_as_symbols(checklists):
    triage = fill(control_context(), checklists)
    for output in (to_text(triage), to_markdown(triage)):
        assert "\x1b" not in output and "\x00" not in output and "\u202e" not in output
        assert "\u241b" in output and "<U+202E>" in output
    assert to_json(triage)["failures"][0]["excerpt"] == CONTROL_EXCERPT  # JSON keeps it raw


def test_hostile_values_round_trip_through_urls(checklists):
    ctx = hostile_context()
    ctx.failures[0].message = 'Error: "quoted" <b>&amp;</b> ✓\nsecond line'
    failure = fill(ctx, checklists).failures[0]
    new = _query(failure.new_issue_url)
    assert new["title"] == failure.suggested_title and HOSTILE_BUILDER in new["title"]
    queries = [_query(u)["q"] for u in failure.search_urls]
    assert queries[0] == "is:issue in:title " + failure.test_method
    assert queries[2] == 'is:issue "Error:  quoted  <b>&amp;</b> ✓"'  # first line, as a phrase
    for url in [failure.new_issue_url, *failure.search_urls]:
        assert re.fullmatch(r"[A-Za-z0-9:/?#\[\]@!$&'()*+,;=%._~-]+", url), url  # all encoded
