"""Issue 16 points 4 and 5: the handoff digest, `bbwatch digest`, and the watch-health figures,
each checked against a fleet whose answers are computed by hand."""

from __future__ import annotations

import datetime as dt
import json

from bbwatch.commands import digest as digest_cmd
from bbwatch.commands.main import main
from bbwatch.triage.acks import evaluate, parse_acks
from bbwatch.triage.analysis import analyse
from bbwatch.triage.digest import digest, to_markdown
from bbwatch.triage.health import health
from bbwatch.triage.registry import parse_registry

from tests.conftest import REPO
from tests.factories import DAY, FAIL, NOW, OK, add_builder, make_fleet

SNAPSHOT = f"snapshot:{REPO / 'tests' / 'fixtures' / 'snapshot'}"
DEMO = REPO / "ext" / "bbwatch_fleet"
FAILING = ["test_bb_crash", "test_bb_envchanged", "test_bb_fail", "test_bb_sub",
           "test_bb_timeout", "test_bb_uncaught"]  # what the FAIL log's summary says
REGISTRY = """
[[issue]]
number = 1
title = "test_bb_fail: FailTests fails"
kind = "failing"
tests = ["test_bb_fail"]
added = 2027-01-01

[[issue]]
number = 2
title = "test_bb_gone: GoneTests fails"
kind = "failing"
tests = ["test_bb_gone"]
added = 2027-01-01

[[issue]]
number = 3
title = "test_bb_flaky is flaky"
kind = "flaky"
tests = ["test_bb_flaky"]
added = 2027-01-01
"""
ACKS = """
[[ack]]
test = "test_bb_crash"
error = "Fatal Python error: Aborted"
author = "Ada"
date = 2027-01-14
kind = "reported as #4"

[[ack]]
test = "test_bb_timeout"
error = "Timeout"
author = "Bob"
date = 2027-01-14
kind = "on it"
"""


def hand_fleet():
    """Two builders, builds one a day (the last a day before NOW): the FAIL log (six failing
    test files, test_bb_flaky failing then passing) since build 3 on the first and since
    build 2 on the second; build 1 everywhere green, three days before NOW."""
    fleet = make_fleet()
    add_builder(fleet, 1, "AMD64 Debian 3.x", [OK, OK, FAIL])
    add_builder(fleet, 2, "ARM64 Ubuntu 3.x", [OK, FAIL, FAIL])
    registry = parse_registry(REGISTRY)
    analysis = analyse(fleet, registry=registry, now=NOW)
    report = evaluate(parse_acks(ACKS), analysis, dt.date(2027, 1, 15))
    return fleet, registry, analysis, report


def test_health_figures_by_hand():
    _fleet, registry, analysis, report = hand_fleet()
    assert sorted(p.test_file for p in analysis.test_problems) == FAILING
    figures = health(analysis, report, registry, close_after_days=2)
    # six problems; linked: test_bb_fail (registry #1) and test_bb_crash (reported as #4)
    assert (figures.linked, figures.problems) == (2, 6)
    # the oldest unreported new problem started on the second builder's build 2: 2 days ago
    assert figures.oldest_unreported == 2 * DAY
    # #2's test passed in every build of both builders, first ones 3 days ago: a candidate
    # with 2 days, not with 14; #1 fails, #3's test flaked in the latest builds
    assert figures.close_candidates == 1
    assert health(analysis, report, registry).close_candidates == 0
    # "on it" is not a report; without the acknowledgements one problem less is linked
    assert health(analysis, None, registry, 2).linked == 1


def test_digest_by_hand():
    _fleet, registry, analysis, report = hand_fleet()
    # since 36 hours ago: build 3 of the first builder (a day ago) is after, build 2 of the
    # second (two days ago) before, so every problem started before: all still open
    found = digest(analysis, NOW - 1.5 * DAY, report, registry, 2)
    assert found.new == [] and len(found.still_open) == 6
    crash = next(i for i in found.still_open if i.problem.test_file == "test_bb_crash")
    assert [a.text for a in crash.acks] == ["reported as #4"]
    assert [c.issue.number for c in found.close_candidates] == [2]
    # since 2.5 days ago: everything started after it
    assert len(digest(analysis, NOW - 2.5 * DAY, report, registry).new) == 6


def test_resolved_and_workers_down():
    fleet = make_fleet()
    add_builder(fleet, 1, "AMD64 Debian 3.x", [FAIL, FAIL, OK])  # green again a day ago
    add_builder(fleet, 2, "ARM64 Ubuntu 3.x", [OK, OK, OK], connected=False)
    analysis = analyse(fleet, now=NOW)
    found = digest(analysis, NOW - 1.5 * DAY)
    assert [r.test_file for r in found.resolved] == FAILING
    assert found.resolved[0].builders == ("AMD64 Debian 3.x",)
    assert found.resolved[0].last_failure.number == 2
    assert [w.name for w in found.workers_down] == ["worker-2"]
    assert digest(analysis, NOW - 3.5 * DAY).resolved == []  # nothing failed back then
    text = to_markdown(found)
    assert "## Resolved (6)" in text and "`test_bb_crash` passes again" in text
    assert "## Workers down (1)" in text and "`worker-2`, owner owner\\@example.org" in text


def test_markdown_escapes_values():
    _fleet, registry, analysis, report = hand_fleet()
    text = to_markdown(digest(analysis, NOW - 3 * DAY, report, registry, 2))
    assert text.startswith("# Buildbot watch handoff, ")
    assert "acknowledged: reported as \\#4 — Ada, 2027-01-14" in text
    assert "nobody has acknowledged it yet" in text
    assert "[\\#2\\: test\\_bb\\_gone\\: GoneTests fails]" in text


def test_cli_digest_on_the_recorded_fleet(tmp_path, capsys):
    args = ["digest", "--buildbot", SNAPSHOT, "--registry",
            str(DEMO / "demo-known-issues.toml"), "--acks", str(DEMO / "demo-acks.toml"),
            "--close-after", "0", "--cache-dir", str(tmp_path)]
    assert main([*args, "--since-last"]) == 0
    first = capsys.readouterr().out
    assert "No previous digest of this master: since a day ago." in first
    assert "acknowledged: reported as \\#130202 — Ada (demo), 2026-12-04" in first
    assert "expired: on it — Linus (demo), 2026-12-03 — the problem now fails with another " \
           "error" in first
    assert "## Workers down (1)" in first and "`bbw-fedora-ppc64le`" in first
    assert "[\\#130203\\: test\\_bbw\\_net" in first  # green since its timeout: close it?
    remembered = json.loads((tmp_path / digest_cmd.LAST_FILE).read_text())
    assert list(remembered) == [SNAPSHOT]
    assert main([*args, "--since-last"]) == 0  # since the first one: nothing is new
    assert "## New since then (0)" in capsys.readouterr().out


def test_cli_digest_rejects_a_bad_date(capsys):
    assert main(["digest", "--buildbot", SNAPSHOT, "--since", "yesterday"]) == 2
    assert "--since must be YYYY-MM-DD" in capsys.readouterr().err


def test_close_after_comes_from_the_environment():
    assert digest_cmd.close_after(None, {}) == 14
    assert digest_cmd.close_after(None, {"BBWATCH_CLOSE_AFTER_DAYS": "0"}) == 0
    assert digest_cmd.close_after(3, {"BBWATCH_CLOSE_AFTER_DAYS": "0"}) == 3
