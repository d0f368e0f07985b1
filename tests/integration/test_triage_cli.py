"""`bbwatch triage BUILD_URL` on every fleet scenario, its formats and its failures.

Most tests read the recorded snapshot of the local fleet (``tests/fixtures/snapshot``, via
``--source snapshot:DIR``) so they run anywhere in milliseconds; the scenario table comes from
the fleet's manifest (``bbwatch_fleet.scenarios``). Tests marked ``integration`` run the same
command against the real fleet (``fleet`` fixture). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bbwatch.commands.main import main
from bbwatch.commands.triage import Progress
from bbwatch_fleet import scenarios as sc

from tests.conftest import REPO
from tests.httpfake import FakeServer, Reply

SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"
SOURCE = f"snapshot:{SNAPSHOT}"
BUILDERS = {b["name"]: b["builderid"]
            for b in json.loads((SNAPSHOT / "snapshot.json").read_text())["builders"]}
MASTER = json.loads((SNAPSHOT / "snapshot.json").read_text()).get("base_url",
                                                                   "http://127.0.0.1:8010/")
BY_KIND = {s.kind: s for s in sc.SCENARIOS}
EXPECTED_KIND = {  # scenario -> FailureContext.kind
    "fail": "failed", "error": "failed", "flaky": "flaky", "env_changed": "env_changed",
    "timeout": "timed_out", "crash": "crashed", "refleak": "failed", "pr_failure": "failed",
}


def url_of(scenario: sc.Scenario, base: str = MASTER) -> str:
    return f"{base}#/builders/{BUILDERS[scenario.builder]}/builds/{scenario.build}"


def triage(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["triage", *args])
    out, err = capsys.readouterr()
    return code, out, err


def triage_json(capsys: pytest.CaptureFixture[str], scenario: sc.Scenario,
                *extra: str) -> dict[str, Any]:
    code, out, err = triage(capsys, url_of(scenario), "--source", SOURCE, "--tracker", "none",
                            "--format", "json", *extra)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("kind", sorted(EXPECTED_KIND))
def test_every_test_scenario(capsys, kind):
    scenario = BY_KIND[kind]
    data = triage_json(capsys, scenario)
    assert data["builder"] == scenario.builder and data["result"] == scenario.result
    assert data["build_url"] == url_of(scenario)
    assert data["branch"] == sc.BRANCH_TAGS[next(
        b.branch for b in sc.BUILDERS if b.name == scenario.builder)]
    assert data["checklist"] == "triage"
    failure = next(f for f in data["failures"] if f["test_file"] == scenario.test_file)
    assert failure["kind"] == EXPECTED_KIND[kind]
    if scenario.test_id and failure["test_ids"] and kind not in ("flaky",):
        assert scenario.test_id in failure["test_ids"]
    assert failure["suggested_title"].startswith(f"{scenario.test_file}: ")
    assert failure["suggested_title"].endswith(f" on {scenario.builder}")
    assert len(failure["search_urls"]) == 3
    assert "test_bbw" in parse_qs(urlsplit(failure["search_urls"][1]).query)["q"][0]
    assert len(failure["new_issue_url"]) <= 8000
    body = parse_qs(urlsplit(failure["new_issue_url"]).query)["body"][0]
    assert data["build_url"] in body
    method = (scenario.test_id or "").rsplit(".", 1)[-1]
    assert any(line in failure["excerpt"] for line in scenario.log_lines) or (
        method and method in failure["excerpt"])
    assert [s["id"] for s in data["steps"]] == [
        "check-first", "read-log", "search-method", "search-file", "search-text",
        "other-builders", "file-or-comment", "registry", "reply"]
    assert all(s["done"] is False and s["text"] for s in data["steps"])


def test_fail_and_error_are_one_failure_with_both_ids(capsys):
    data = triage_json(capsys, BY_KIND["fail"])
    failure = next(f for f in data["failures"] if f["test_file"] == "test_bbw_calc")
    assert {BY_KIND["fail"].test_id, BY_KIND["error"].test_id} <= set(failure["test_ids"])
    # The streak started at this build; its blamelist is ranked for the analysis.
    assert data["first_failing"]["number"] == 2 and data["last_good"]["number"] == 1
    assert data["suspects"] and data["suspects"][0]["title"]
    # Reproduce with the failing run's seed, read from the log header.
    log = next(p for p in (SNAPSHOT / "test-logs").glob("*.txt")
               if "test_mean_float" in p.read_text() and "Using random seed" in p.read_text())
    assert log  # the recorded fleet logs carry regrtest's header
    reproduce = next(s["text"] for s in data["analysis_steps"] if s["id"] == "reproduce")
    assert re.search(r"test_bbw_calc(?: -m \w+)+ --randseed=\d+ .*-v", reproduce)


@pytest.mark.parametrize(("kind", "infra"), [("compile_failure", "compile"),
                                             ("exception", "exception")])
def test_infrastructure_scenarios(capsys, kind, infra):
    data = triage_json(capsys, BY_KIND[kind])
    assert data["checklist"] == "infrastructure" and data["infra"] == infra
    assert data["failures"] == [] and data["steps"][0]["id"] == "identify"
    if kind == "compile_failure":
        # The change that broke the FreeBSD build (manifest: commit c5) is the first suspect.
        culprit = next(c.title for c in sc.COMMITS if c.key == "c5")
        assert data["suspects"][0]["title"] == culprit
    else:
        assert data["suspects"] == []  # a master-side exception is no change's fault


def test_green_build_says_so(capsys):
    scenario = BY_KIND["green"]
    code, out, _ = triage(capsys, url_of(scenario), "--source", SOURCE, "--tracker", "none")
    assert code == 0 and "is green" in out
    data = triage_json(capsys, scenario)
    assert data["green"] is True and data["failures"] == [] and data["steps"] == []


def test_file_tracker_candidates_beside_the_searches(capsys, tmp_path):
    issues = tmp_path / "issues.json"
    issues.write_text(json.dumps([
        {"number": 130020, "title": "test_bbw_calc: MeanTests.test_mean_float fails",
         "state": "open", "url": "https://github.com/python/cpython/issues/130020"},
        {"number": 7, "title": "unrelated", "state": "open",
         "url": "https://github.com/python/cpython/issues/7"},
    ]))
    registry = tmp_path / "empty.toml"
    registry.write_text("")
    data = triage_json(capsys, BY_KIND["fail"], "--tracker", "file", "--issues", str(issues),
                       "--registry", str(registry))
    failure = next(f for f in data["failures"] if f["test_file"] == "test_bbw_calc")
    assert [c["number"] for c in failure["candidates"]] == [130020]
    shown = [m["number"] for s in failure["searches"] for m in s["matches"]]
    assert shown == [130020]
    # Only a class-name match (weak): shown to the watcher, but not put in the reply.
    assert failure["candidates"][0]["confidence"] < 0.7
    assert data["reply_text"].startswith("<link to the issue>")


def test_markdown_text_and_html_formats(capsys):
    url = url_of(BY_KIND["crash"])
    code, md, _ = triage(capsys, url, "--source", SOURCE, "--tracker", "none",
                         "--format", "markdown")
    assert code == 0 and md.startswith("# Triage: ") and "- [ ] **2. Read the test log**" in md
    code, text, _ = triage(capsys, url, "--source", SOURCE, "--tracker", "none")
    assert code == 0 and "[ ] 2. Read the test log" in text and "Fatal Python error" in text
    code, page, _ = triage(capsys, url, "--source", SOURCE, "--tracker", "none",
                           "--format", "html")
    assert code == 0 and page.startswith("<!DOCTYPE html>")
    assert page.count('<input type="checkbox" class="bbwatch-checklist-box"') >= 6
    assert "@media print" in page and "localStorage" in page
    assert "Fatal Python error: Aborted" in page


@pytest.mark.parametrize("bad", ["http://127.0.0.1:8010/#/builders/4",
                                 "not a url", "http://127.0.0.1:8010/#/waterfall",
                                 "ftp://127.0.0.1/#/builders/4/builds/2"])
def test_not_a_build_url_is_one_line_and_exit_2(capsys, bad):
    code, out, err = triage(capsys, bad, "--tracker", "none")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("bbwatch: error: ") and "Traceback" not in err


def test_master_down_is_one_line_and_exit_2(capsys):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    code, out, err = triage(capsys, f"http://127.0.0.1:{port}/#/builders/1/builds/1",
                            "--tracker", "none", "--no-cache", "--timeout", "2")
    assert code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("bbwatch: error: ") and "Traceback" not in err


def test_master_errors_are_one_line_and_exit_2(capsys):
    with FakeServer() as srv:
        srv.route("/api/v2/builders/1/builds/3", Reply(status=500, body=b"boom"))
        code, out, err = triage(capsys, f"{srv.url}#/builders/1/builds/3",
                                "--tracker", "none", "--no-cache", "--timeout", "2")
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1].startswith("bbwatch: error: ")


def test_bad_issues_file_is_a_clear_error(capsys, tmp_path):
    bad = tmp_path / "issues.json"
    bad.write_text("{not json")
    code, _, err = triage(capsys, url_of(BY_KIND["fail"]), "--source", SOURCE,
                          "--issues", str(bad))
    assert code == 2 and str(bad) in err and err.count("\n") == 1


def test_console_script_progress_is_one_line_per_phase_when_not_a_tty():
    done = subprocess.run(
        [sys.executable, "-m", "bbwatch", "triage", url_of(BY_KIND["timeout"]), "--source",
         SOURCE, "--tracker", "none", "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("bbwatch: ") for line in lines)
    assert any("fetching the build" in line for line in lines)
    assert json.loads(done.stdout)["failures"][0]["test_file"] == "test_bbw_net"


def test_progress_rewrites_one_line_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress(stream, phases=2)
    progress.phase("fetching the build")
    progress.phase("matching")
    progress.done()
    value = stream.getvalue()
    assert "\n" not in value and "[1/2] fetching the build" in value and "[2/2]" in value
    assert value.endswith("\r\x1b[2K")


# -- the real fleet ------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("kind", ["fail", "flaky", "timeout", "crash", "compile_failure"])
def test_real_fleet(fleet: Any, kind: str, tmp_path: Path) -> None:
    scenario = BY_KIND[kind]
    base = fleet.url if fleet.url.endswith("/") else fleet.url + "/"
    from bbwatch.source.sync import BuildbotClient

    with BuildbotClient(base) as client:
        ids = {b.name: b.builderid for b in client.builders()}
    url = f"{base}#/builders/{ids[scenario.builder]}/builds/{scenario.build}"
    done = subprocess.run(
        [sys.executable, "-m", "bbwatch", "triage", url, "--tracker", "none", "--format",
         "json", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["builder"] == scenario.builder and data["result"] == scenario.result
    if scenario.test_file:
        assert scenario.test_file in [f["test_file"] for f in data["failures"]]
        assert data["checklist"] == "triage"
    else:
        assert data["checklist"] == "infrastructure"
    assert not re.search(r"\{[a-z_]+\}", json.dumps(data["steps"]))


def test_github_tracker_is_asked_each_question_once(capsys, monkeypatch):
    calls: list[tuple[str, bool]] = []

    def search(self, term, *, in_title=True):
        calls.append((term, in_title))
        return []

    monkeypatch.setattr("bbwatch.triage.tracker.GitHubTracker.search", search)
    code, out, err = triage(capsys, url_of(BY_KIND["fail"]), "--source", SOURCE,
                            "--tracker", "github", "--no-cache", "--format", "json")
    assert code == 0, err
    assert calls and len(calls) == len(set(calls))


def test_checklist_folder_without_triage_is_a_clear_error(capsys, tmp_path):
    code, out, err = triage(capsys, url_of(BY_KIND["fail"]), "--source", SOURCE,
                            "--tracker", "none", "--checklists", str(tmp_path))
    assert code == 2 and out == "" and "triage.yaml" in err and err.count("\n") == 1


def test_compile_failure_shows_the_compile_log_tail(capsys):
    from tests.fakemaster import FakeMaster

    with FakeServer() as srv:
        master = FakeMaster(srv, builders=1, builds=2)
        build = master.add_build(1, results=2)
        steps = master.steps[build["buildid"]]
        compile_step = next(s for s in steps if s["name"] == "compile")
        compile_step["results"] = 2
        master.steps[build["buildid"]] = [s for s in steps if s["name"] != "test"]
        master.raw[compile_step["stepid"] * 10] = (
            "gcc -c Modules/bbw_timemodule.c\n"
            "Modules/bbw_timemodule.c:42: error: 'CLOCK_UPTIME_FAST' undeclared <here>\n"
            "make: *** [Makefile:3] Error 1\n")
        master.sync()
        code, out, err = triage(capsys, f"{srv.url}#/builders/1/builds/{build['number']}",
                                "--tracker", "none", "--no-cache", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["checklist"] == "infrastructure" and data["infra"] == "compile"
    identify = data["steps"][0]["text"]
    assert "'CLOCK_UPTIME_FAST' undeclared <here>" in identify and "compile step" in identify
