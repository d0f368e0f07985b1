"""The real fleet's history matches ``bbwatch_fleet.scenarios`` (checked via the REST API)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import requests
from bbwatch_fleet import scenarios

pytestmark = pytest.mark.integration

CPYTHON_STEPS = ("git", "configure", "compile", "pythoninfo", "test", "clean")
RESULTS = {0: "success", 1: "warnings", 2: "failure", 3: "skipped", 4: "exception", 5: "retry",
           6: "cancelled"}


@cache
def _get(api: str, path: str) -> dict:
    resp = requests.get(api + path, timeout=30)
    resp.raise_for_status()
    return resp.json()


@pytest.fixture(scope="module")
def api(fleet) -> str:
    return fleet.api


@pytest.fixture(scope="module")
def builder_ids(api: str) -> dict[str, int]:
    return {b["name"]: b["builderid"] for b in _get(api, "builders")["builders"]}


def build_of(api: str, builder_ids: dict[str, int], builder: str, number: int) -> dict:
    builds = _get(api, f"builders/{builder_ids[builder]}/builds/{number}")["builds"]
    assert builds, f"{builder} has no build {number}"
    return builds[0]


def step_log(api: str, build: dict, step: str, slug: str = "stdio") -> str:
    steps = _get(api, f"builds/{build['buildid']}/steps")["steps"]
    (match,) = [s for s in steps if s["name"] == step]
    logs = _get(api, f"steps/{match['stepid']}/logs")["logs"]
    (log,) = [x for x in logs if x["slug"] == slug]
    resp = requests.get(f"{api}logs/{log['logid']}/raw", timeout=30)
    resp.raise_for_status()
    return resp.text


def change_titles(api: str, build: dict) -> set[str]:
    changes = _get(api, f"builds/{build['buildid']}/changes")["changes"]
    return {c["comments"].splitlines()[0] for c in changes}


def test_builders_named_and_tagged_like_cpython(api: str) -> None:
    builders = {b["name"]: b for b in _get(api, "builders")["builders"]}
    assert set(builders) == {b.name for b in scenarios.BUILDERS}
    assert 14 <= len(builders) <= 20
    for spec in scenarios.BUILDERS:
        tags = builders[spec.name]["tags"]
        assert sorted(tags) == sorted(spec.tags), spec.name
        assert tags[0] == scenarios.BRANCH_TAGS[spec.branch]
        assert ("stable" in tags) != ("unstable" in tags)
    assert {scenarios.BRANCH_TAGS[b.branch] for b in scenarios.BUILDERS} == {
        "3.x", "3.14", "PullRequest"}


def test_every_builder_has_the_manifest_history(api: str, builder_ids: dict[str, int]) -> None:
    for spec in scenarios.BUILDERS:
        builds = _get(api, f"builders/{builder_ids[spec.name]}/builds?order=number")["builds"]
        got = [RESULTS[b["results"]] for b in builds]
        assert all(b["complete"] for b in builds), spec.name
        assert got == list(spec.results), spec.name


def test_nothing_is_pending(api: str) -> None:
    assert _get(api, "buildrequests?complete=false")["buildrequests"] == []


def test_disconnected_worker(api: str) -> None:
    workers = {w["name"]: w for w in _get(api, "workers")["workers"]}
    assert set(workers) == {w.name for w in scenarios.WORKERS}
    for w in scenarios.WORKERS:
        assert bool(workers[w.name]["connected_to"]) == w.started, w.name
    assert workers[scenarios.DISCONNECTED_WORKER]["connected_to"] == []
    # The disconnected builder is attached to that worker only and has no builds.
    configured = workers[scenarios.DISCONNECTED_WORKER]["configured_on"]
    names = {b["builderid"]: b["name"] for b in _get(api, "builders")["builders"]}
    assert {names[c["builderid"]] for c in configured} == {scenarios.DISCONNECTED_BUILDER}


@pytest.mark.parametrize(
    "scenario", [s for s in scenarios.SCENARIOS if s.build], ids=lambda s: s.kind)
def test_scenario_occurs(api: str, builder_ids: dict[str, int], scenario) -> None:
    build = build_of(api, builder_ids, scenario.builder, scenario.build)
    assert RESULTS[build["results"]] == scenario.result
    steps = {s["name"]: s for s in _get(api, f"builds/{build['buildid']}/steps")["steps"]}
    names = list(steps)[1:]  # after worker_preparation; a halted build skips to "clean"
    assert names == [n for n in CPYTHON_STEPS if n in names]
    if scenario.kind == "retry":
        # The worker died during "test"; the same request was built again, successfully.
        assert names[-1] == "test" and RESULTS[steps["test"]["results"]] == "retry"
        again = build_of(api, builder_ids, scenario.builder, scenario.build + 1)
        assert again["buildrequestid"] == build["buildrequestid"]
        assert RESULTS[again["results"]] == "success"
        return
    assert names[-1] == "clean"
    if scenario.kind == "exception":
        assert RESULTS[steps["test"]["results"]] == "exception"
    elif scenario.result != "success":
        assert RESULTS[steps[scenario.step]["results"]] == scenario.result
    if scenario.log_lines:
        text = step_log(api, build, scenario.step)
        for line in scenario.log_lines:
            assert line in text, f"{scenario.kind}: {line!r} not in the {scenario.step} log"
    if scenario.test_id:
        method = scenario.test_id.rsplit(".", 1)[1]
        assert method in step_log(api, build, scenario.step)


def test_regression_introduced_and_fixed(api: str, builder_ids: dict[str, int]) -> None:
    reg = scenarios.REGRESSION
    for name in reg.builders:
        bad = build_of(api, builder_ids, name, reg.first_bad_build)
        assert RESULTS[bad["results"]] == "failure"
        assert reg.introduced_by in change_titles(api, bad)
        text = step_log(api, bad, "test")
        for test_id in reg.test_ids:
            method = test_id.rsplit(".", 1)[1]
            assert re.search(rf"(FAIL|ERROR): {method} \(", text), (name, test_id)
        before = build_of(api, builder_ids, name, reg.first_bad_build - 1)
        assert RESULTS[before["results"]] == "success"
        good = build_of(api, builder_ids, name, reg.first_good_build)
        assert RESULTS[good["results"]] == "success"
        assert reg.fixed_by in change_titles(api, good)


def test_streak_still_red_at_the_end(api: str, builder_ids: dict[str, int]) -> None:
    red = scenarios.STILL_RED
    assert red.fixed_by is None
    for name in red.builders:
        builds = _get(api, f"builders/{builder_ids[name]}/builds?order=number")["builds"]
        tail = builds[red.first_bad_build - 1:]
        assert tail and all(RESULTS[b["results"]] == "failure" for b in tail), name
        assert red.introduced_by in change_titles(api, tail[0])
        assert "FAIL: test_describe_keys (test_bbw_os.DescribeTests.test_describe_keys)" in \
            step_log(api, tail[-1], "test")


def test_multi_commit_blamelists(api: str, builder_ids: dict[str, int]) -> None:
    for name, number, titles in scenarios.MULTI_COMMIT_BUILDS:
        build = build_of(api, builder_ids, name, number)
        assert change_titles(api, build) == set(titles), (name, number)
        assert len(titles) > 1


def test_changes_look_like_cpython(api: str) -> None:
    changes = _get(api, "changes")["changes"]
    assert {c["comments"].splitlines()[0] for c in changes} == {
        c.title for c in scenarios.COMMITS}
    for c in changes:
        assert re.match(r"^(\[3\.\d+\] )?gh-\d+: \S", c["comments"]), c["comments"]
        assert re.match(r"^[A-Z][\w ().-]+ <[^@\s]+@[^>\s]+>$", c["author"]), c["author"]
        assert c["files"] and all(f.startswith(("Lib/", "Modules/")) for f in c["files"])
        assert re.fullmatch(r"[0-9a-f]{40}", c["revision"])
        assert c["branch"] in {"main", "3.14", scenarios.PR_REF}


def test_green_builder(api: str, builder_ids: dict[str, int]) -> None:
    builds = _get(api, f"builders/{builder_ids[scenarios.GREEN_BUILDER]}/builds")["builds"]
    assert len(builds) >= 4 and all(b["results"] == 0 for b in builds)


def test_listens_on_localhost_only(fleet) -> None:
    assert fleet.url.startswith("http://127.0.0.1:")
    config = requests.get(fleet.url + "config", timeout=10)
    assert config.status_code == 200
    assert requests.get(fleet.url, timeout=10).status_code == 200  # the www UI is served


def test_second_up_detects_the_running_fleet(fleet) -> None:
    """A second `up` reuses the running master and workers: it starts nothing, re-sends nothing."""
    if fleet.dir is None:
        pytest.skip("reusing BBWATCH_TEST_FLEET_URL; its directory is unknown")
    from bbwatch_fleet import control

    basedirs = [fleet.dir / "master"] + sorted((fleet.dir / "workers").iterdir())
    pids = {d.name: control.running_pid(d) for d in basedirs}
    assert all(pids.values()) and len(pids) == 1 + sum(w.started for w in scenarios.WORKERS)
    running = _buildbot_processes(fleet.dir)
    assert set(running) == set(pids.values()), running  # the pid files name every one
    proc = subprocess.run(
        [sys.executable, "-m", "bbwatch", "fleet", "up", "--dir", str(fleet.dir), "--port",
         str(fleet.port), "--quiet"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == fleet.url + "\n"
    # The same processes still run each basedir (none stopped, restarted or added).
    assert {d.name: control.running_pid(d) for d in basedirs} == pids
    assert _buildbot_processes(fleet.dir) == running
    # Nothing was re-sent: still one buildset per push.
    assert len(_get.__wrapped__(fleet.api, "buildsets")["buildsets"]) == len(scenarios.PUSHES)


def _buildbot_processes(directory: Path) -> dict[int, str]:
    """The running buildbot processes whose working directory is under ``directory`` (twistd
    runs a master or worker in its basedir): pid -> that directory, relative."""
    root = directory.resolve()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = Path(os.readlink(entry / "cwd")).resolve()
        except OSError:
            continue  # gone meanwhile, or not ours to inspect
        if "buildbot" in cmdline and cwd.is_relative_to(root) and _alive(int(entry.name)):
            found[int(entry.name)] = str(cwd.relative_to(root))
    return found


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for a reaper that is not ours)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_down_then_up_keeps_the_history(fleet) -> None:
    """`down` stops exactly the fleet's processes; `up` restarts them from the same state."""
    if fleet.dir is None:
        pytest.skip("reusing BBWATCH_TEST_FLEET_URL; its directory is unknown")
    from bbwatch_fleet import control

    builds = len(_get.__wrapped__(fleet.api, "builds?field=buildid")["builds"])
    basedirs = [fleet.dir / "master"] + sorted((fleet.dir / "workers").iterdir())
    pids = [control.running_pid(d) for d in basedirs]
    assert all(pids) and len(pids) == 1 + sum(w.started for w in scenarios.WORKERS)
    down = subprocess.run([sys.executable, "-m", "bbwatch", "fleet", "down", "--dir",
                           str(fleet.dir)], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert f"stopped {len(pids)} process(es)" in down.stdout
    assert all(control.running_pid(d) is None for d in basedirs)
    assert not any(_alive(pid) for pid in pids)
    assert control.port_free(fleet.port)
    up = subprocess.run(
        [sys.executable, "-m", "bbwatch", "fleet", "up", "--dir", str(fleet.dir), "--port",
         str(fleet.port), "--quiet"], capture_output=True, text=True, timeout=300, check=False)
    assert up.returncode == 0, up.stderr
    assert up.stdout == fleet.url + "\n"
    assert len(_get.__wrapped__(fleet.api, "builds?field=buildid")["builds"]) == builds
    assert len(_get.__wrapped__(fleet.api, "buildsets")["buildsets"]) == len(scenarios.PUSHES)


def test_sick_worker_fails_another_test_each_build(api: str, builder_ids: dict[str, int]) -> None:
    workers = {w["name"]: w for w in _get(api, "workers")["workers"]}
    info = workers[scenarios.SICK_WORKER]["workerinfo"]
    assert info["admin"].strip() == "Ines Moreau <ines.moreau@example.org>"
    for spec in scenarios.BUILDERS:
        if not spec.sick:
            continue
        assert spec.worker == scenarios.SICK_WORKER
        tests = [spec.sick[n][0] for n in sorted(spec.sick)]
        assert all(a != b for a, b in zip(tests, tests[1:], strict=False)), spec.name
        for number, (test, error) in spec.sick.items():
            log = step_log(api, build_of(api, builder_ids, spec.name, number), "test")
            words = "No space left on device" if error == scenarios.ENOSPC else "MemoryError"
            assert words in log and f"{test} failed" in log, (spec.name, number)


def test_change_and_backport_break_one_test_on_two_branches(
        api: str, builder_ids: dict[str, int]) -> None:
    red = scenarios.BACKPORT
    for name, title in zip(red.builders, scenarios.BACKPORT_TITLES, strict=True):
        spec = scenarios.BUILDERS_BY_NAME[name]
        build = build_of(api, builder_ids, name, len(spec.results))
        assert RESULTS[build["results"]] == "failure"
        assert title in change_titles(api, build)
        assert "FAIL: test_join_lines (test_bbw_strings.JoinTests.test_join_lines)" in \
            step_log(api, build, "test")
