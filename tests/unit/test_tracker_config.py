"""``bbwatch_tracker`` settings: the environment overrides, validation at config-inited, and
``tracker_from_config`` building the tracker the live pages use (GitHub at a local fake)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bbwatch.errors import TrackerError
from bbwatch.source.store import open_store
from bbwatch.sphinxext.config import tracker_settings
from bbwatch.triage.tracker import (
    FileTracker,
    GitHubTracker,
    check_tracker_settings,
    tracker_from_config,
)
from sphinx.errors import ConfigError

from tests.fakegithub import FakeGitHub

CANARY = "ghp_trackerConfigCanary0123456789"
ENV = ("BBWATCH_TRACKER", "BBWATCH_GITHUB_API_URL", "BBWATCH_GITHUB_WEB_URL")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


# -- tracker_from_config -------------------------------------------------------------------
def test_file_tracker_path_is_relative_to_confdir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "issues.json").write_text(
        json.dumps([{"number": 7, "title": "test_os fails", "state": "open"}]))
    tracker = tracker_from_config({"file": "data/issues.json"}, confdir=tmp_path,
                                  cache_dir=tmp_path / "cache")
    assert isinstance(tracker, FileTracker)
    assert [i.number for i in tracker.search("test_os")] == [7]


def test_github_defaults_to_github_com(tmp_path: Path) -> None:
    tracker = tracker_from_config({"github": "python/cpython"}, confdir=tmp_path,
                                  cache_dir=tmp_path / "c", timeout=3)
    assert isinstance(tracker, GitHubTracker)
    assert (tracker.repo, tracker.base_url, tracker.web_url) == (
        "python/cpython", "https://api.github.com", "https://github.com")
    assert tracker.cache_dir == tmp_path / "c"
    assert tracker.timeout == 3


@pytest.mark.parametrize(("settings", "api", "web"), [
    ({"api_url": "https://ghe.example.org/api/v3/"}, "https://ghe.example.org/api/v3",
     "https://ghe.example.org"),
    ({"api_url": "http://127.0.0.1:9/", "web_url": "https://web.example/"},
     "http://127.0.0.1:9", "https://web.example"),
    ({"web_url": "https://mirror.example"}, "https://api.github.com", "https://mirror.example"),
])
def test_github_endpoints(tmp_path: Path, settings: dict, api: str, web: str) -> None:
    tracker = tracker_from_config({"github": "o/r", **settings}, confdir=tmp_path,
                                  cache_dir=tmp_path)
    assert isinstance(tracker, GitHubTracker)
    assert (tracker.base_url, tracker.web_url) == (api, web)
    assert tracker.new_issue_url("t", "b").startswith(f"{web}/o/r/issues/new?")


@pytest.mark.parametrize("settings", [{}, {"repo": "o/r", "labels": ["tests"]},
                                      {"web_url": "https://ghe.example.org"}])
def test_no_search_source_means_no_tracker(tmp_path: Path, settings: dict) -> None:
    assert tracker_from_config(settings, confdir=tmp_path, cache_dir=tmp_path) is None


@pytest.mark.parametrize(("settings", "words"), [
    ({"github": "o/r", "file": "x.json"}, "not both"),
    ({"github": "python"}, "OWNER/NAME"),
    ({"github": 3}, "OWNER/NAME"),
    ({"repo": "a b/c"}, "OWNER/NAME"),
    ({"file": ""}, "'file'"),
    ({"github": "o/r", "api_url": "api.github.com"}, "'api_url' must be an http(s) URL"),
    ({"github": "o/r", "web_url": "javascript:alert(1)"}, "'web_url' must be an http(s) URL"),
    ({"file": "x.json", "api_url": "https://ghe.example.org/api/v3"}, "needs a GitHub tracker"),
    ({"github": "o/r", "labels": "tests"}, "'labels'"),
    ({"gihtub": "o/r"}, "unknown key 'gihtub'"),
])
def test_bad_settings_are_one_line_errors(tmp_path: Path, settings: dict, words: str) -> None:
    with pytest.raises(TrackerError) as info:
        tracker_from_config(settings, confdir=tmp_path, cache_dir=tmp_path)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_missing_issues_file_is_a_tracker_error(tmp_path: Path) -> None:
    with pytest.raises(TrackerError, match="issues file not found"):
        tracker_from_config({"file": "nope.json"}, confdir=tmp_path, cache_dir=tmp_path)


def test_configured_github_tracker_searches_the_server_with_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    with FakeGitHub([{"number": 5, "title": "test_bbw_parser crashes", "state": "open"}]) as gh:
        tracker = tracker_from_config({"github": "python/cpython", "api_url": gh.url},
                                      confdir=tmp_path, cache_dir=tmp_path / "cache")
        assert tracker is not None
        assert [i.number for i in tracker.search("test_bbw_parser")] == [5]
        assert gh.requests[0].headers["Authorization"] == f"Bearer {CANARY}"
        assert CANARY not in repr(tracker)
    store = open_store(tmp_path / "cache")
    assert store.keys("tracker/"), "the search was not cached in <cache>'s store"
    files = list((tmp_path / "cache").iterdir())
    assert all(CANARY.encode() not in f.read_bytes() for f in files)


# -- environment overrides -----------------------------------------------------------------
def test_environment_replaces_the_source_and_keeps_the_rest() -> None:
    conf = {"github": "python/cpython", "labels": ["tests"], "api_url": "https://a.example"}
    env = {"BBWATCH_TRACKER": "file:issues.json"}
    assert tracker_settings(conf, {}) == conf
    assert tracker_settings(conf, {**env, "BBWATCH_TRACKER": "github:o/r"}) == {
        **conf, "github": "o/r"}
    assert tracker_settings({"file": "a.json"}, {"BBWATCH_TRACKER": " GitHub: o/r "}) == {
        "github": "o/r"}
    assert tracker_settings({"github": "o/r", "labels": ["x"]}, env) == {
        "file": "issues.json", "labels": ["x"]}
    assert tracker_settings({"github": "o/r"}, {"BBWATCH_TRACKER": "none"}) == {}


def test_environment_sets_the_github_endpoints_and_is_idempotent() -> None:
    env = {"BBWATCH_TRACKER": "github:python/cpython",
           "BBWATCH_GITHUB_API_URL": "http://127.0.0.1:8/",
           "BBWATCH_GITHUB_WEB_URL": "http://127.0.0.1:9/"}
    once = tracker_settings({"api_url": "https://ghe.example.org/api/v3"}, env)
    assert once == {"github": "python/cpython", "api_url": "http://127.0.0.1:8/",
                    "web_url": "http://127.0.0.1:9/"}
    assert tracker_settings(once, env) == once
    check_tracker_settings(once)


@pytest.mark.parametrize("spec", ["github", "github:", "gitlab:o/r", "none:x", "issues.json"])
def test_bad_environment_spec_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError, match="BBWATCH_TRACKER must be github:OWNER/NAME"):
        tracker_settings({}, {"BBWATCH_TRACKER": spec})


# -- validation at config-inited (a real Sphinx app) ---------------------------------------
def _site(tmp_path: Path, conf: str = "") -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["bbwatch.sphinxext"]\nbbwatch_offline = True\n'
                                 + conf)
    (src / "index.rst").write_text("Home\n====\n")
    return src


def test_config_inited_applies_the_environment(make_app, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from bbwatch.sphinxext.config import get_config

    monkeypatch.setenv("BBWATCH_TRACKER", "github:python/cpython")
    monkeypatch.setenv("BBWATCH_GITHUB_API_URL", "https://ghe.example.org/api/v3")
    app = make_app("html", srcdir=_site(tmp_path, 'bbwatch_tracker = {"file": "i.json"}\n'))
    expected = {"github": "python/cpython", "api_url": "https://ghe.example.org/api/v3",
                "web_url": "https://ghe.example.org"}
    assert app.config.bbwatch_tracker == expected  # what the triage pages' links read
    assert get_config(app).tracker == expected


@pytest.mark.parametrize(("conf", "env", "words"), [
    ('bbwatch_tracker = {"github": "o/r", "file": "x"}\n', {}, "not both"),
    ("", {"BBWATCH_GITHUB_API_URL": "https://ghe.example.org/api/v3"}, "needs a GitHub"),
    ("", {"BBWATCH_TRACKER": "github:nope"}, "OWNER/NAME"),
    ("", {"BBWATCH_TRACKER": "svn:o/r"}, "BBWATCH_TRACKER must be"),
])
def test_config_inited_rejects_bad_trackers(make_app, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, conf: str,
                                            env: dict[str, str], words: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        make_app("html", srcdir=_site(tmp_path, conf))
    message = str(info.value)
    assert words in message and "\n" not in message
    assert message.startswith(("bbwatch_tracker", "BBWATCH_TRACKER"))
    if env and "BBWATCH_TRACKER must" not in words:
        assert "from the environment" in message
