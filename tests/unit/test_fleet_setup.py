"""Fast checks of the fleet's pieces that need no running master (manifest, repo, CLI errors)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bbwatch_fleet import control, repo, scenarios


def test_manifest_is_consistent() -> None:
    names = [b.name for b in scenarios.BUILDERS]
    assert len(names) == len(set(names)) and 14 <= len(names) <= 20
    workers = {w.name for w in scenarios.WORKERS}
    for b in scenarios.BUILDERS:
        assert b.worker in workers
        assert b.name.endswith(" PR" if b.branch == "PR" else f" {b.branch.replace('main', '3.x')}")
        assert b.tags[0] == scenarios.BRANCH_TAGS[b.branch]
        pushes = [p for p in scenarios.PUSHES if scenarios.push_branch_key(p) == b.branch]
        retries = b.results.count(scenarios.RETRY)
        assert len(b.results) - retries == (
            0 if b.worker == scenarios.DISCONNECTED_WORKER else len(pushes))
    for s in scenarios.SCENARIOS:
        spec = scenarios.BUILDERS_BY_NAME[s.builder]
        if s.build:
            assert spec.results[s.build - 1] == s.result, s.kind
        if s.test_file:
            assert s.test_file in spec.tests and s.test_id.startswith(s.test_file + ".")
    kinds = {s.kind for s in scenarios.SCENARIOS}
    assert {"fail", "error", "flaky", "env_changed", "timeout", "crash", "compile_failure",
            "refleak", "exception", "retry", "green", "disconnected"} <= kinds


def test_pushes_follow_each_line_of_commits() -> None:
    for ref, (_start, keys) in scenarios.LINES.items():
        later = scenarios.LATER_LINES.get(ref, (None, ()))[1]
        pushed = [k for p in scenarios.PUSHES if p.branch == ref for k in p.commits]
        assert pushed == [*keys, *later], ref
    for ref, (start, _keys) in scenarios.LATER_LINES.items():
        assert start == scenarios.LINES[ref][1][-1], ref  # they continue the line's tip
    assert any(len(p.commits) > 1 for p in scenarios.PUSHES)


def test_regressions_point_at_real_commits() -> None:
    titles = {c.title for c in scenarios.COMMITS}
    for reg in (scenarios.REGRESSION, scenarios.STILL_RED):
        assert reg.introduced_by in titles
        for name in reg.builders:
            results = scenarios.BUILDERS_BY_NAME[name].results
            assert results[reg.first_bad_build - 1] == scenarios.FAILURE
            if reg.first_good_build:
                assert results[reg.first_good_build - 1] == scenarios.SUCCESS
    assert scenarios.REGRESSION.fixed_by in titles
    assert scenarios.STILL_RED.fixed_by is None


def test_repository_is_deterministic(tmp_path: Path) -> None:
    first = repo.create(tmp_path / "a")
    second = repo.create(tmp_path / "b")
    assert {k: i.revision for k, i in first.items()} == {k: i.revision for k, i in second.items()}
    assert repo.read(tmp_path / "a") == first
    assert set(first) == set(scenarios.COMMITS_BY_KEY)
    assert first["c3"].title == "gh-130020: Speed up bbw_calc.mean() (#130021)"
    log = subprocess.run(["git", "log", "--format=%an|%s", "main"], cwd=tmp_path / "a",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert log[0] == ("Bruno Okafor|gh-130140: Join wrapped lines with the platform's line "
                      "separator (#130141)")
    assert log[1] == "Dora Szabo|gh-130090: Add bbw_strings.center() (#130091)"
    assert log[-1].endswith("|Initial import")


def test_regrtest_sees_the_regression_at_its_commit(tmp_path: Path) -> None:
    infos = repo.create(tmp_path / "r")

    def run_calc(key: str) -> subprocess.CompletedProcess[str]:
        subprocess.run(["git", "checkout", "-q", infos[key].revision], cwd=tmp_path / "r",
                       check=True)
        return subprocess.run(
            [sys.executable, "-m", "test", "--testdir", "Lib/test", "-w", "test_bbw_calc"],
            cwd=tmp_path / "r", capture_output=True, text=True, timeout=120, check=False)

    bad = run_calc("c3")
    assert bad.returncode == 2
    assert "FAIL: test_mean_float (test_bbw_calc.MeanTests.test_mean_float)" in bad.stdout
    assert "ERROR: test_mean_empty (test_bbw_calc.MeanTests.test_mean_empty)" in bad.stdout
    assert run_calc("c6").returncode == 0


def test_prioritize_renderer_raises_for_an_unmapped_module() -> None:
    from bbwatch_fleet import mastercfg

    assert mastercfg.test_for_path("Lib/test/test_bbw_os.py") == "test_bbw_os"
    assert mastercfg.test_for_path("Lib/bbw_calc.py") == "test_bbw_calc"
    assert mastercfg.test_for_path("Modules/bbw_timemodule.c") == "test_bbw_calc"
    assert mastercfg.test_for_path("README.rst") is None
    with pytest.raises(KeyError):
        mastercfg.test_for_path("Modules/_bbwjson.c")


def _bbwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bbwatch", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_up_on_a_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _bbwatch("fleet", "up", "--dir", str(tmp_path / "f"), "--port", str(port))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"port {port}" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "f" / "master").exists()


def test_up_without_buildbot_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(control, "bin_dir", lambda: tmp_path)
    with pytest.raises(control.FleetError, match="buildbot is not installed"):
        control.up(tmp_path / "f", 8010)


def test_down_without_a_fleet_is_a_clear_error(tmp_path: Path) -> None:
    proc = _bbwatch("fleet", "down", "--dir", str(tmp_path))
    assert proc.returncode == 2 and "no fleet" in proc.stderr and "Traceback" not in proc.stderr


def test_stop_kills_only_processes_of_the_fleet(tmp_path: Path) -> None:
    """Pid files are trusted only for a buildbot process running in that basedir."""
    master, stranger = tmp_path / "master", tmp_path / "workers" / "w1"
    master.mkdir()
    stranger.mkdir(parents=True)
    sleeper = "import time; time.sleep(60)"
    ours = subprocess.Popen([sys.executable, "-c", sleeper, "buildbot"], cwd=master)
    # A reused pid: a process that is not buildbot, recorded in a worker's pid file.
    other = subprocess.Popen([sys.executable, "-c", sleeper], cwd=stranger)
    try:
        (master / "twistd.pid").write_text(str(ours.pid))
        (stranger / "twistd.pid").write_text(str(other.pid))
        time.sleep(0.2)
        assert control.stop(tmp_path) == [ours.pid]
        assert ours.wait(timeout=10) != 0
        assert other.poll() is None
    finally:
        for p in (ours, other):
            if p.poll() is None:
                os.kill(p.pid, 9)
                p.wait()


def test_up_refuses_a_fleet_made_for_another_history(tmp_path: Path) -> None:
    stale = control.Fleet(dir=tmp_path, port=8010, pb_port=9989, repo=tmp_path / "cpython",
                          python=sys.executable, passwords={}, history="0" * 16)
    control.save(stale)
    assert (tmp_path / "fleet.json").stat().st_mode & 0o777 == 0o600
    assert control.load(tmp_path) == stale
    with pytest.raises(control.FleetError, match="another version of the scripted history"):
        control.up(tmp_path, 8010)


def test_workers_follow_a_new_pb_port(tmp_path: Path) -> None:
    fleet = control.Fleet(dir=tmp_path, port=8010, pb_port=40404, repo=tmp_path / "cpython",
                          python=sys.executable, passwords={})
    tac = tmp_path / "workers" / "w1" / "buildbot.tac"
    tac.parent.mkdir(parents=True)
    tac.write_text("buildmaster_host = '127.0.0.1'\nport = 51641\nworkername = 'w1'\n")
    control._retarget_workers(fleet)
    assert tac.read_text() == "buildmaster_host = '127.0.0.1'\nport = 40404\nworkername = 'w1'\n"
