"""Trackers: the JSON file tracker, and GitHub's search against the local fake GitHub server."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from bbwatch.domain import Failure, Issue
from bbwatch.errors import TrackerError
from bbwatch.source.store import open_store, store_path
from bbwatch.triage.matching import search_terms, suggest_title
from bbwatch.triage.search import search_candidates
from bbwatch.triage.tracker import MAX_NEW_ISSUE_URL, FileTracker, GitHubTracker

from tests.fakegithub import FakeGitHub

CANARY = "ghp_CANARY0123456789abcdefCANARY"

ISSUES = [
    {"number": 101, "title": "test_os: FileTests.test_foo fails on AMD64 Debian 3.x",
     "state": "open", "url": "https://github.com/python/cpython/issues/101", "labels": ["tests"]},
    {"number": 102, "title": "test_ossaudiodev crashes on FreeBSD", "state": "closed",
     "url": "https://github.com/python/cpython/issues/102", "labels": [],
     "body": "Fatal Python error: Segmentation fault in ossaudiodev"},
    {"number": 103, "title": "Improve the docs of os.walk", "state": "open",
     "url": "https://github.com/python/cpython/issues/103", "labels": ["docs"],
     "body": "test_os mentions it too"},
]


@pytest.fixture
def issues_file(tmp_path: Path) -> Path:
    path = tmp_path / "issues.json"
    path.write_text(json.dumps(ISSUES))
    return path


@pytest.fixture
def gh():
    with FakeGitHub(ISSUES) as server:
        yield server


def tracker_for(gh: FakeGitHub, tmp_path: Path | None = None, **kwargs) -> GitHubTracker:
    kwargs.setdefault("token", CANARY)
    kwargs.setdefault("timeout", 2)
    kwargs.setdefault("sleep", lambda s: None)
    return GitHubTracker("python/cpython", base_url=gh.url, cache_dir=tmp_path, **kwargs)


# -- FileTracker ---------------------------------------------------------------------------
def test_file_tracker_searches_whole_words_of_titles(issues_file):
    tracker = FileTracker(issues_file)
    assert [i.number for i in tracker.search("test_os")] == [101]  # not test_ossaudiodev
    assert [i.number for i in tracker.search("FileTests.test_foo")] == [101]
    assert tracker.search("test_nothing") == []
    assert tracker.search("") == []


def test_file_tracker_full_text_includes_the_body(issues_file):
    tracker = FileTracker(issues_file)
    assert {i.number for i in tracker.search("test_os", in_title=False)} == {101, 103}
    found = tracker.search("Segmentation fault", in_title=False)
    assert [(i.number, i.state) for i in found] == [(102, "closed")]
    assert found[0].labels == ()
    assert tracker.search("test_os")[0].labels == ("tests",)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "invalid JSON"),
        ('{"number": 1}', "expected a JSON list"),
        ('[{"title": "x"}]', "'number' must be a positive integer"),
        ('[{"number": 3, "title": "x", "state": "merged"}]', "'state' must be open or closed"),
        ('[{"number": 3}]', "'title' must be a string"),
    ],
)
def test_file_tracker_rejects_bad_files_in_one_line(tmp_path, content, expected):
    path = tmp_path / "issues.json"
    path.write_text(content)
    with pytest.raises(TrackerError, match=expected) as info:
        FileTracker(path)
    assert "\n" not in str(info.value)


def test_file_tracker_drops_urls_that_are_not_http(tmp_path):
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([
        {"number": 3, "title": "test_os breaks", "url": "javascript:alert(1)"},
        {"number": 4, "title": "test_os again", "url": "HTTPS://example.org/4"},
    ]))
    assert [(i.number, i.url) for i in FileTracker(path).search("test_os")] == [
        (3, ""), (4, "HTTPS://example.org/4")]


def test_file_tracker_missing_file(tmp_path):
    with pytest.raises(TrackerError, match="not found"):
        FileTracker(tmp_path / "nope.json")


# -- GitHubTracker: the happy path ---------------------------------------------------------
def test_github_search_sends_the_documented_query_and_parses_items(gh, tmp_path):
    tracker = tracker_for(gh, tmp_path)
    found = tracker.search("test_os")
    assert [(i.number, i.state, i.labels) for i in found] == [(101, "open", ("tests",))]
    assert found[0].url == "https://github.com/python/cpython/issues/101"
    request = gh.requests[-1]
    assert request.path == "/search/issues"
    assert request.params["q"] == "repo:python/cpython is:issue in:title test_os"
    assert request.params["advanced_search"] == "true"
    assert request.headers["Authorization"] == f"Bearer {CANARY}"
    full = tracker.search("segmentation fault", in_title=False)
    assert gh.requests[-1].params["q"] == "repo:python/cpython is:issue segmentation fault"
    assert [i.number for i in full] == [102]


def test_github_token_is_optional(gh, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    tracker = GitHubTracker("python/cpython", base_url=gh.url)
    assert tracker.search("test_os")
    assert "Authorization" not in gh.requests[-1].headers
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    GitHubTracker("python/cpython", base_url=gh.url).search("test_os")
    assert gh.requests[-1].headers["Authorization"] == f"Bearer {CANARY}"


def test_github_cache_answers_within_ttl_and_never_holds_the_token(gh, tmp_path):
    tracker = tracker_for(gh, tmp_path, ttl=600)
    first = tracker.search("test_os")
    again = tracker_for(gh, tmp_path, ttl=600).search("test_os")  # a new process, same cache
    assert again == first
    assert len(gh.requests) == 1
    assert open_store(tmp_path).keys("tracker/")  # kept in the cache directory's store
    for path in tmp_path.iterdir():  # the database and its write-ahead log
        assert CANARY.encode() not in path.read_bytes() and CANARY not in path.name
    assert CANARY not in repr(tracker)


def test_github_cache_expires_and_survives_corruption(gh, tmp_path):
    tracker_for(gh, tmp_path, ttl=0).search("test_os")
    tracker_for(gh, tmp_path, ttl=0).search("test_os")
    assert len(gh.requests) == 2  # stale: asked again
    store = open_store(tmp_path)
    (key,) = store.keys("tracker/")
    with sqlite3.connect(store_path(tmp_path)) as db:  # a value damaged on disk
        db.execute("UPDATE entries SET value = ? WHERE key = ?", (b"{corrupt", key))
    db.close()
    tracker = tracker_for(gh, tmp_path)
    assert [i.number for i in tracker.search("test_os")] == [101]
    assert len(gh.requests) == 3 and tracker._store is not None and tracker._store.dropped == 1


def test_unwritable_cache_costs_only_a_request(gh, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    tracker = tracker_for(gh, blocker / "cache")
    assert [i.number for i in tracker.search("test_os")] == [101]
    assert [i.number for i in tracker.search("test_os")] == [101]
    assert len(gh.requests) == 2


# -- GitHubTracker: faults -----------------------------------------------------------------
def test_rate_limit_403_with_short_retry_after_waits_then_succeeds(gh):
    waits: list[float] = []
    gh.fail_next(403, headers={"Retry-After": "2"}, body='{"message": "secondary rate limit"}')
    tracker = tracker_for(gh, sleep=waits.append, max_wait=10)
    assert [i.number for i in tracker.search("test_os")] == [101]
    assert waits == [2.0]
    assert len(gh.requests) == 2


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_with_long_wait_degrades_without_sleeping(gh, status):
    waits: list[float] = []
    gh.fail_next(status, headers={"Retry-After": "3600"})
    tracker = tracker_for(gh, sleep=waits.append, max_wait=10)
    with pytest.raises(TrackerError, match=r"rate limit reached: retry in 3600 s"):
        tracker.search("test_os")
    assert waits == []


def test_exhausted_rate_limit_blocks_the_next_search_without_a_request(gh):
    import time

    reset = str(int(time.time()) + 3000)
    gh.fail_next(403, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                 body='{"message": "API rate limit exceeded"}')
    tracker = tracker_for(gh, max_wait=5)
    with pytest.raises(TrackerError, match="rate limit"):
        tracker.search("test_os")
    asked = len(gh.requests)
    with pytest.raises(TrackerError, match="rate limit"):
        tracker.search("test_foo")
    assert len(gh.requests) == asked


def test_last_search_of_the_quota_blocks_the_next_one(gh):
    gh.rate_remaining = 0  # 200 OK, but X-RateLimit-Remaining: 0 and a reset in 60 s
    waits: list[float] = []
    tracker = tracker_for(gh, sleep=waits.append, max_wait=120)
    assert tracker.search("test_os")
    assert tracker.search("nothing_here") == []  # waited for the reset instead of a 403
    assert len(waits) == 1 and 50 < waits[0] <= 60
    strict = tracker_for(gh, max_wait=5)
    strict.search("test_os")
    asked = len(gh.requests)
    with pytest.raises(TrackerError, match=r"rate limit reached: retry in \d+ s"):
        strict.search("test_foo")
    assert len(gh.requests) == asked


def test_secondary_rate_limit_without_headers_waits_a_minute(gh):
    gh.fail_next(403, body='{"message": "You have exceeded a secondary rate limit."}',
                 headers={"X-RateLimit-Remaining": "12"})
    waits: list[float] = []
    tracker = tracker_for(gh, sleep=waits.append, max_wait=120)
    assert tracker.search("test_os")
    assert waits == [60.0]
    gh.fail_next(403, body='{"message": "You have exceeded a secondary rate limit."}',
                 headers={"X-RateLimit-Remaining": "12"})
    with pytest.raises(TrackerError, match="retry in 60 s"):
        tracker_for(gh, max_wait=10).search("test_os")


def test_plain_403_is_a_refusal_not_a_wait(gh):
    gh.fail_next(403, body='{"message": "Forbidden"}')
    with pytest.raises(TrackerError, match=r"refused the search \(403\)"):
        tracker_for(gh).search("test_os")


def test_500_is_retried_then_reported(gh):
    gh.fail_next(500, count=1)
    assert tracker_for(gh, retries=2).search("test_os")
    gh.fail_next(502, count=3)
    with pytest.raises(TrackerError, match="GitHub answered 502"):
        tracker_for(gh, retries=2).search("test_os")


def test_timeout_is_a_one_line_error(gh):
    gh.fail_next(200, body='{"items": []}', delay=1.0)
    with pytest.raises(TrackerError, match="did not answer within 0.2 s") as info:
        tracker_for(gh, timeout=0.2).search("test_os")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("body", ['{"items": [', "<html>oops</html>", '{"total_count": 1}',
                                  '{"items": [{"number": "x", "title": 3}]}'])
def test_malformed_json_is_reported(gh, body):
    gh.fail_next(200, body=body)
    with pytest.raises(TrackerError, match="malformed JSON"):
        tracker_for(gh).search("test_os")


def test_unreachable_server():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tracker = GitHubTracker("python/cpython", base_url=f"http://127.0.0.1:{port}", token=CANARY)
    with pytest.raises(TrackerError, match="cannot reach GitHub") as info:
        tracker.search("test_os")
    assert CANARY not in str(info.value)


def test_bad_repo_is_rejected():
    with pytest.raises(TrackerError, match="OWNER/NAME"):
        GitHubTracker("cpython")


def test_search_candidates_degrades_to_not_checked(gh):
    gh.fail_next(500, count=10)
    failure = Failure("test_os", "test.test_os.FileTests.test_foo")
    issues, note = search_candidates(tracker_for(gh, retries=0), failure)
    assert issues == []
    assert note is not None and note.startswith("not checked: GitHub answered 500")
    assert CANARY not in note


def test_search_candidates_keeps_what_was_found_before_a_failure(gh):
    failure = Failure("test_os", "test.test_os.FileTests.test_foo")
    tracker = tracker_for(gh, retries=0)
    tracker.search(search_terms(failure)[0])  # the first search succeeds
    gh.requests.clear()
    original = tracker.search
    calls = []

    def flaky_search(term, *, in_title=True):
        calls.append(term)
        if len(calls) > 1:
            raise TrackerError("GitHub answered 500 for the issue search")
        return original(term, in_title=in_title)

    tracker.search = flaky_search  # type: ignore[method-assign]
    issues, note = search_candidates(tracker, failure, exhaustive=True)
    assert [i.number for i in issues] == [101]
    assert note == "partly checked: GitHub answered 500 for the issue search"


def test_search_candidates_runs_terms_in_order_and_deduplicates(issues_file):
    asked: list[tuple[str, bool]] = []
    tracker = FileTracker(issues_file)
    original = tracker.search

    def spy(term, *, in_title=True):
        asked.append((term, in_title))
        return original(term, in_title=in_title)

    tracker.search = spy  # type: ignore[method-assign]
    failure = Failure("test_os", "test.test_os.FileTests.test_foo", message="OSError: [Errno 2]")
    issues, note = search_candidates(tracker, failure, exhaustive=True)
    assert note is None
    assert asked == [("test_foo", True), ("FileTests.test_foo", True), ("FileTests", True),
                     ("test_os", True), ("OSError: [Errno <N>]", False)]
    assert [i.number for i in issues] == [101]
    # by default it stops once an open issue matches by the method or better
    asked.clear()
    assert [i.number for i in search_candidates(tracker, failure)[0]] == [101]
    assert asked == [("test_foo", True)]
    asked.clear()
    other = Failure("test_os", "test.test_os.StatTests.test_bar", message="OSError: [Errno 2]")
    assert [i.number for i in search_candidates(tracker, other)[0]] == [101]
    assert len(asked) == 5  # nothing good enough: every term is tried


# -- human URLs ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("api", "web"),
    [("https://api.github.com", "https://github.com"), ("https://api.github.com/", "https://github.com"),
     ("https://ghe.example.org/api/v3", "https://ghe.example.org"),
     ("http://127.0.0.1:8123", "http://127.0.0.1:8123")],
)
def test_web_url_for_api(api, web):
    from bbwatch.triage.tracker import web_url_for_api

    assert web_url_for_api(api) == web


def test_search_url():
    tracker = GitHubTracker("python/cpython", token=None)
    assert tracker.search_url("test_spawn") == (
        "https://github.com/python/cpython/issues?q=is%3Aissue+test_spawn"
    )


def test_new_issue_url_is_prefilled_and_capped():
    tracker = GitHubTracker("python/cpython", token=CANARY, web_url="https://gh.example")
    url = tracker.new_issue_url("test_os: FileTests.test_foo fails on X", "short body",
                                ["type-bug", "tests"])
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://gh.example/python/cpython/issues/new?")
    assert query == {"title": ["test_os: FileTests.test_foo fails on X"], "body": ["short body"],
                     "labels": ["type-bug,tests"]}
    body = "Traceback: ünïcode & spaces\n" * 2000
    long_url = tracker.new_issue_url("t", body, ["tests"])
    assert len(long_url) <= MAX_NEW_ISSUE_URL
    cut = parse_qs(urlsplit(long_url).query)["body"][0]
    assert cut.startswith("Traceback: ünïcode") and "cut to fit" in cut
    assert len(cut) > 1000  # capped, not dropped
    assert CANARY not in url + long_url


# -- the title round trip: the next identical failure finds the issue we helped file --------
ROUND_TRIP = [
    Failure("test_os", "test.test_os.FileTests.test_foo", "AMD64 Debian root 3.x"),
    Failure("test_bb_fail", "test_bb_fail.FailTests.test_assert", "x86-64 Ubuntu 3.14"),
    Failure("test_asyncio", "test.test_asyncio.test_events.EventLoopTests.test_run",
            "ARM64 macOS 3.x"),
    Failure("test_bb_crash", None, "AMD64 Fedora 3.x", message="Fatal Python error: Aborted",
            kind="crashed"),
    Failure("test_bb_timeout", None, None, message="Timeout (0:00:20)!", kind="timed_out"),
    Failure("test_concurrent_futures", None, "PPC64LE RHEL8 3.x", kind="env_changed"),
]


@pytest.mark.parametrize("failure", ROUND_TRIP, ids=lambda f: f.test_id or f.test_file)
def test_first_search_term_finds_the_suggested_title(tmp_path, failure):
    title = suggest_title(failure)
    first = search_terms(failure)[0]
    path = tmp_path / "issues.json"
    path.write_text(json.dumps([{"number": 9, "title": title, "state": "open", "url": ""}]))
    assert [i.number for i in FileTracker(path).search(first)] == [9]
    with FakeGitHub() as server:
        server.add_issue(9, title)
        found = GitHubTracker("python/cpython", base_url=server.url, token=None).search(first)
    assert found == [Issue(9, title, "open", "https://github.com/python/cpython/issues/9")]
