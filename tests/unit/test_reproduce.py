"""Issue 16 point 3: the reproduce command is built from the build's own evidence."""

from __future__ import annotations

from bbwatch.logs.parsed import ParsedLog, parse_log
from bbwatch.logs.regrtest import parse_text
from bbwatch.source.codec import pack, unpack
from bbwatch.source.snapshot import load_snapshot
from bbwatch.triage import analysis
from bbwatch.triage.analysis_context import context_from_occurrence
from bbwatch.triage.fill import reproduce_command
from bbwatch.triage.reproduce import reproduce
from bbwatch_fleet import scenarios

from tests.conftest import REPO

CMD = ("/usr/bin/python -m test --testdir Lib/test -j2 -w --fail-env-changed -uall "
       "--timeout=60 test_bbw_calc test_bbw_os")


def test_linux_command_has_method_seed_resources_timeout_and_a_jobs_note():
    found = reproduce("AMD64 Debian root 3.x", "test_os",
                      test_ids=("test.test_os.FileTests.test_foo",), seed="42", command=CMD)
    assert found.command == ("./python -m test test_os -m test_foo --randseed=42 -uall "
                             "--timeout=60 -v")
    assert any("-j2" in n for n in found.notes)


def test_refleak_builder_adds_r33_and_bisect_cmd():
    found = reproduce("AMD64 Fedora Stable Refleaks 3.x", "test_bbw_cache", seed="7",
                      kind="leaked")
    assert "-R 3:3" in found.command
    assert any("-m test.bisect_cmd -R 3:3 test_bbw_cache" in n for n in found.notes)
    assert any("not in the log" in n for n in found.notes)


def test_windows_uses_rt_bat():
    found = reproduce("AMD64 Windows11 3.x", "test_os", test_ids=("test_os.T.test_x",), seed="1")
    assert found.command.startswith("PCbuild\\rt.bat -q test_os -m test_x --randseed=1")
    assert any("python.bat" in n for n in found.notes)
    assert reproduce("x", "test_os").to_json()["command"] == "./python -m test test_os -v"


WINDOWS = (r"Tools\buildbot\test.bat -x64 -j2 -uall -W --slowest --fail-env-changed "
           r"--timeout=1200 -R 3:3")


def test_the_parser_keeps_the_command_line_of_the_log_head():
    assert parse_text(CMD + "\n in dir /x\nUsing random seed: 5\n").command == CMD
    traced = "make buildbottest\n+ /usr/bin/python3.13 -u -W default -bb -E -m test -j4 -uall\n"
    assert parse_text(traced).command == "+ /usr/bin/python3.13 -u -W default -bb -E -m test " \
                                         "-j4 -uall"
    assert parse_text(WINDOWS + "\n in dir C:\\b\n").command == WINDOWS
    assert parse_text("no command here\n0:00:01 [1/1] test_os passed\n").command is None
    assert parse_text(CMD).to_json()["command"] == CMD


def test_the_command_stays_with_the_parse_when_the_log_is_gone():
    parsed = parse_log(CMD + "\nUsing random seed: 5\n", True)
    assert parsed.command == CMD
    assert unpack(pack(parsed), ParsedLog).command == CMD  # what the store keeps
    found = reproduce("AMD64 Debian root 3.x", "test_os", seed=parsed.seed,
                      command=parsed.command)
    assert "-uall --timeout=60" in found.command


def test_fleet_triage_context_reproduces_with_the_builds_options():
    fleet = load_snapshot(REPO / "tests" / "fixtures" / "snapshot")
    picture = analysis.analyse(fleet, now=fleet.fetched_at)
    scenario = scenarios.scenario("backport")
    hit = picture.find(scenario.builder, scenario.build, scenario.test_file)
    assert hit is not None
    ctx = context_from_occurrence(*hit, picture)
    text = reproduce_command(ctx, scenario.test_file)
    assert text.startswith(r"PCbuild\rt.bat -q test_bbw_strings -m test_join_lines")
    assert f"--randseed={ctx.seed}" in text and ctx.seed.isdigit()
    assert "-uall" in text and "--timeout=5" in text  # the builder's own options


def test_fleet_reproduce_command_without_raw_logs():
    """The last good fetch keeps parsed logs, not the text: -u and --timeout still come."""
    fleet = load_snapshot(REPO / "tests" / "fixtures" / "snapshot")
    parsed = analysis.analyse(fleet, now=fleet.fetched_at).parsed
    fleet.test_logs = {}
    picture = analysis.analyse(fleet, now=fleet.fetched_at, preparsed=parsed)
    scenario = scenarios.scenario("backport")
    ctx = context_from_occurrence(*picture.find(scenario.builder, scenario.build,
                                                scenario.test_file), picture)
    text = reproduce_command(ctx, scenario.test_file)
    assert "-uall" in text and "--timeout=5" in text and "not in the log" not in text


def test_the_interpreters_own_u_is_not_a_resource():
    traced = "+ /usr/bin/python3.13 -u -W default -bb -E -m test --timeout=5 -j2 test_x"
    found = reproduce("AMD64 Debian 3.x", "test_x", seed="1", command=traced)
    assert found.command == "./python -m test test_x --randseed=1 --timeout=5 -v"
    found = reproduce("AMD64 Debian 3.x", "test_x", seed="1", command=traced + " -u all")
    assert "-uall" in found.command
