"""`bbwatch match`: the JSON contract, the human report, trackers, degradation and errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from bbwatch.commands.main import main

from tests.fakegithub import FakeGitHub

SAMPLES = Path(__file__).parent / "samples" / "regrtest"
LOG = SAMPLES / "real-312-full.log"
CANARY = "ghp_CANARYmatchCLI0123456789"

ISSUES = [
    {"number": 101, "title": "test_bb_fail: FailTests.test_assert fails on PPC64 Fedora 3.x",
     "state": "open", "url": "https://github.com/python/cpython/issues/101", "labels": ["tests"]},
    {"number": 102, "title": "test_bb_timeout hangs", "state": "closed",
     "url": "https://github.com/python/cpython/issues/102", "labels": []},
    {"number": 103, "title": "test_bb_fail: \x1b[2J\x1b[31mFailTests\x1b[0m is noisy",
     "state": "open", "url": "https://github.com/python/cpython/issues/103", "labels": []},
]
REGISTRY = """\
[[issue]]
number = 200
title = "test_bb_flaky is flaky"
kind = "flaky"
tests = ["test_bb_flaky.FlakyTests.test_flaky"]
added = 2026-11-20
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps(ISSUES))
    registry = tmp_path / "known.toml"
    registry.write_text(REGISTRY)
    return issues, registry


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["match", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def by_id(report: dict) -> dict:
    return {f["test_id"] or f["test_file"]: f for f in report["failures"]}


def test_json_contract(capsys, files):
    issues, registry = files
    code, out, err = run(capsys, str(LOG), "--issues", str(issues), "--registry", str(registry),
                         "--builder", "AMD64 Debian 3.x", "--branch", "3.x", "--json")
    assert code == 0, err
    report = json.loads(out)
    failures = by_id(report)
    assert set(failures) >= {"test_bb_fail.FailTests.test_assert",
                             "test_bb_crash.CrashTests.test_abort",
                             "test_bb_flaky.FlakyTests.test_flaky",
                             "test_bb_timeout.TimeoutTests.test_hang"}
    for f in report["failures"]:
        assert {"test_file", "test_id", "search_terms", "suggested_title", "candidates"} <= set(f)
        confidences = [c["confidence"] for c in f["candidates"]]
        assert confidences == sorted(confidences, reverse=True)
        for c in f["candidates"]:
            assert {"number", "title", "state", "confidence", "reason"} <= set(c)
    fail = failures["test_bb_fail.FailTests.test_assert"]
    assert fail["search_terms"][:4] == ["test_assert", "FailTests.test_assert", "FailTests",
                                        "test_bb_fail"]
    assert fail["suggested_title"] == (
        "test_bb_fail: FailTests.test_assert fails on AMD64 Debian 3.x")
    assert [c["number"] for c in fail["candidates"]] == [101, 103]
    assert fail["candidates"][0]["reason"] == (
        "title contains `FailTests.test_assert`; issue is open")
    assert fail["classification"] == "known"
    flaky = failures["test_bb_flaky.FlakyTests.test_flaky"]
    assert [(c["number"], c["source"]) for c in flaky["candidates"]] == [(200, "registry")]
    assert flaky["classification"] == "flaky"
    timeout = failures["test_bb_timeout.TimeoutTests.test_hang"]
    assert timeout["candidates"][0]["state"] == "closed"
    assert "maybe reopen" in timeout["candidates"][0]["reason"]
    assert timeout["classification"] == "new"
    assert report["counts"]["known"] == 1 and report["counts"]["flaky"] == 1


def test_human_report_and_escaped_terminal_output(capsys, files):
    issues, registry = files
    code, out, err = run(capsys, str(LOG), "--issues", str(issues), "--registry", str(registry),
                         "--builder", "AMD64 Debian 3.x")
    assert code == 0 and err == ""
    assert "suggested title: test_bb_fail: FailTests.test_assert fails on AMD64 Debian 3.x" in out
    assert "#101" in out and "title contains `FailTests.test_assert`; issue is open" in out
    assert "closed — maybe reopen" in out
    assert "comment on it: https://github.com/python/cpython/issues/101#new_comment_field" in out
    assert ("search it yourself: https://github.com/python/cpython/issues?q=is%3Aissue+"
            "in%3Atitle+test_abort") in out
    assert "\x1b" not in out  # an issue title cannot drive the terminal
    assert "failing test(s): 1 known, 1 flaky," in out


def test_stdin_and_an_empty_log(capsys, files, monkeypatch):
    issues, _ = files
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(LOG.read_bytes())))
    code, out, _ = run(capsys, "-", "--issues", str(issues), "--json")
    assert code == 0 and len(json.loads(out)["failures"]) >= 5
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code, out, _ = run(capsys, "-", "--issues", str(issues), "--json")
    assert code == 0 and json.loads(out)["failures"] == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["nope.log", "--issues", "{issues}"], "no such file: nope.log"),
        ([str(LOG)], "match needs --issues FILE.json (or --tracker github)"),
        ([str(LOG), "--issues", "{bad}"], "invalid JSON"),
        ([str(LOG), "--issues", "{issues}", "--registry", "{badreg}"],
         "badreg.toml:2: entry 1: unknown key 'bogus'"),
        (["https://buildbot.example/#/builders/x", "--issues", "{issues}"], "not a build URL"),
        ([str(LOG), "--tracker", "github", "--repo", "cpython"], "OWNER/NAME"),
        ([str(LOG), "--issues", "{issues}", "--repo", "a b"], "OWNER/NAME"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, files, tmp_path, argv, expected):
    issues, _ = files
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    badreg = tmp_path / "badreg.toml"
    badreg.write_text("[[issue]]\nbogus = 1\n")
    argv = [a.format(issues=issues, bad=bad, badreg=badreg) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("bbwatch: error: ") and err.count("\n") == 1
    assert expected in err


def test_github_tracker_against_the_fake_server(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    with FakeGitHub(ISSUES) as gh:
        code, out, err = run(capsys, str(LOG), "--tracker", "github", "--github-api", gh.url,
                             "--cache-dir", str(tmp_path), "--json", "--registry",
                             str(_empty(tmp_path)))
        asked = [r.params["q"] for r in gh.requests]
        assert all(r.headers.get("Authorization") == f"Bearer {CANARY}" for r in gh.requests)
    assert code == 0, err
    report = json.loads(out)
    fail = by_id(report)["test_bb_fail.FailTests.test_assert"]
    assert fail["tracker_note"] is None
    assert fail["candidates"][0]["number"] == 101
    assert fail["candidates"][0]["url"] == "https://github.com/python/cpython/issues/101"
    assert "repo:python/cpython is:issue in:title test_assert" in asked
    assert fail["new_issue_url"].startswith(f"{gh.url}/python/cpython/issues/new?")
    assert CANARY not in out + err
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace")


def test_github_failure_degrades_to_not_checked(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    with FakeGitHub(ISSUES) as gh:
        gh.fail_next(403, headers={"Retry-After": "3600"}, count=1000)
        code, out, err = run(capsys, str(LOG), "--tracker", "github", "--github-api", gh.url,
                             "--cache-dir", str(tmp_path), "--registry", str(_empty(tmp_path)))
        asked = len(gh.requests)
    assert code == 0, err
    assert asked == 1  # the rate limit is remembered: no request for the other failures
    assert "tracker: not checked: GitHub search rate limit reached: retry in 3600 s" in out
    assert CANARY not in out + err


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


def test_new_issue_body_fences_the_excerpt_safely():
    from bbwatch.commands.match import _issue_body
    from bbwatch.domain import Failure

    class Run:
        def excerpt(self, test_file: str) -> str:
            return "FAIL: x\n```\nnot the end\n````"

    body = _issue_body(Run(), Failure("test_x", "test_x.T.test_a", "AMD64 Debian 3.x"),
                       "http://127.0.0.1:8010/#/builders/4/builds/2")
    assert body.splitlines()[0] == ("`test_x.T.test_a` failed on AMD64 Debian 3.x: "
                                    "http://127.0.0.1:8010/#/builders/4/builds/2")
    assert body.splitlines()[2] == "`````" and body.splitlines()[-1] == "`````"


def test_default_registry_and_no_registry(capsys, files):
    issues, _ = files
    code, out, _ = run(capsys, str(LOG), "--issues", str(issues), "--json")
    assert code == 0 and json.loads(out)["registry"].endswith("docs/data/known-issues.toml")
    code, out, _ = run(capsys, str(LOG), "--issues", str(issues), "--json", "--no-registry")
    report = json.loads(out)
    assert report["registry"] is None
    assert all(c["source"] == "tracker" for f in report["failures"] for c in f["candidates"])
