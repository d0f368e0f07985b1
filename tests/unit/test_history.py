"""History analysis: streaks, blamelists, suspects and flakiness on small built histories."""

from __future__ import annotations

from bbwatch.logs.parsed import BuildTests
from bbwatch.models import Build, Change, Result
from bbwatch.triage import history

from tests import factories

S, W, F, E, C = Result.SUCCESS, Result.WARNINGS, Result.FAILURE, Result.EXCEPTION, Result.CANCELLED


def _builds(results: list[Result | None], builderid: int = 1, files=None) -> list[Build]:
    """Builds oldest to newest from ``results``, returned newest first like the client does.

    Build n carries one change (changeid n, revision "rev<n>") touching ``files[n]`` if given.
    """
    return factories.builds(results, builderid, files=files)


def test_builder_streak_starts_after_last_good_build_and_skips_neutral_builds():
    builds = _builds([S, F, S, F, C, F, None])
    streak = history.builder_streak(builds)
    assert streak is not None
    assert [b.number for b in streak.builds] == [6, 4]
    assert streak.first_failing.number == 4
    assert streak.last_good is not None and streak.last_good.number == 3
    # The cancelled build 5 sits inside the streak: its change belongs to the blamelist too,
    # but the blamelist stops at the first failing build (6's change came after the breakage).
    assert [c.changeid for c in streak.blamelist] == [1004]


def test_warnings_do_not_end_a_failure_streak_like_the_release_dashboard():
    # release_dashboard.py (python/buildmaster-config) walks back from the latest FAILURE over
    # WARNINGS builds to the last SUCCESS: its "Breaking build" here is build 3, not build 5.
    builds = _builds([S, W, F, W, F, F])
    streak = history.builder_streak(builds)
    assert streak is not None
    assert [b.number for b in streak.builds] == [6, 5, 3]
    assert streak.first_failing.number == 3
    assert streak.last_good.number == 1 and streak.complete
    # the blamelist runs back to the last SUCCESS, like Buildbot's own: build 2's change too
    assert [c.changeid for c in streak.blamelist] == [1003, 1002]


def test_latest_warnings_build_means_no_failing_streak():
    # the dashboard shows "Warnings from ... build" for a builder whose latest build warns
    assert history.builder_streak(_builds([S, F, F, W])) is None
    assert history.builder_streak(_builds([F, W, C])) is None
    # ... and a FAILURE after it starts a streak that reaches over it to the last SUCCESS
    streak = history.builder_streak(_builds([S, W, W, W, F, F]))
    assert streak is not None and streak.length == 2 and streak.last_good.number == 1
    assert [c.changeid for c in streak.blamelist] == [1005, 1004, 1003, 1002]


def test_blamelist_drops_changes_a_good_build_already_had():
    # Buildbot may list a change again: build 3 repeats build 2's change, which built green.
    builds = _builds([S, S, F])
    builds[0].changes = (builds[1].changes[0], *builds[0].changes)
    streak = history.builder_streak(builds)
    assert [c.changeid for c in streak.blamelist] == [1003]


def test_green_builder_has_no_streak_and_unknown_start_is_flagged():
    assert history.builder_streak(_builds([F, S])) is None
    streak = history.builder_streak(_builds([F, E, F]))
    assert streak is not None and not streak.complete and streak.length == 3


def test_test_streak_ignores_builds_whose_test_step_did_not_run():
    builds = _builds([S, S, F, F, F])
    tests = {
        1001: BuildTests(ran=True),
        1002: BuildTests(ran=True, failed=frozenset({"test_b"})),
        1003: BuildTests(ran=True, failed=frozenset({"test_a"})),
        1004: BuildTests(ran=False),  # compile failure
        1005: BuildTests(ran=True, failed=frozenset({"test_a"})),
    }
    streak = history.streak_of_test(builds, tests, "test_a")
    assert streak is not None
    assert [b.number for b in streak.builds] == [5, 3]
    assert streak.last_good.number == 2
    assert history.streak_of_test(builds, tests, "test_b") is None


def test_suspects_rank_change_touching_test_file_then_tested_module_first():
    changes = [
        Change(1, "a", "x", "docs", files=("Doc/whatsnew.rst",)),
        Change(2, "b", "x", "os tweak", files=("Lib/os.py",)),
        Change(3, "c", "x", "test fix", files=("Lib/test/test_os.py", "Misc/NEWS")),
        Change(4, "d", "x", "support", files=("Lib/test/support/__init__.py",)),
    ]
    ranked = history.suspects(changes, "test_os")
    assert [s.change.changeid for s in ranked] == [3, 2, 4, 1]
    assert [s.score for s in ranked] == [3, 2, 1, 0]
    assert "Lib/test/test_os.py" in ranked[0].reason
    # a test package directory counts as the test's file; C modules count as the module
    ranked = history.suspects(
        [Change(5, "e", "x", "c", files=("Modules/_jsonmodule.c",)),
         Change(6, "f", "x", "t", files=("Lib/test/test_json/test_dump.py",))],
        "test.test_json.test_dump",
    )
    assert [s.score for s in ranked] == [3, 2]


def test_flakiness_from_rerun_and_flips_but_not_from_a_deterministic_breakage():
    # builder 1: test_flaky fails now and then; builder 2: test_broken fails every build since 3
    b1 = _builds([S, F, S, W, S, F, S], builderid=1)
    b2 = _builds([S, S, F, F, F, F, F], builderid=2)
    tests: dict[int, BuildTests] = {}
    for n in range(1, 8):
        failed1 = {"test_flaky"} if n in (2, 6) else set()
        flaky1 = {"test_flaky"} if n == 4 else set()
        tests[1000 + n] = BuildTests(True, frozenset(failed1), frozenset(flaky1))
        tests[2000 + n] = BuildTests(True, frozenset({"test_broken"} if n >= 3 else ()))
    hist = {1: b1, 2: b2}
    evidence, stats = history.flakiness(hist, tests, "test_flaky")
    kinds = {e.kind for e in evidence}
    assert {"rerun", "flips"} <= kinds
    assert {e.builderid for e in evidence} == {1}
    flip1 = next(s for s in stats if s.builderid == 1)
    assert flip1.flips == 3 and flip1.runs == 7
    assert 0.4 < flip1.rate < 0.5

    evidence, stats = history.flakiness(hist, tests, "test_broken")
    assert evidence == []
    flip2 = next(s for s in stats if s.builderid == 2)
    assert flip2.flips == 0 and flip2.runs == 2  # the 5-failure run is breakage, dropped


def test_same_revision_pass_and_fail_is_flaky_only_when_the_failure_is_isolated():
    b1 = _builds([S, F, S], builderid=1)
    b2 = _builds([S, S, S], builderid=2)  # same revisions rev1..rev3 as builder 1
    tests = {1000 + n: BuildTests(True) for n in (1, 3)} | {2000 + n: BuildTests(True)
                                                            for n in (1, 2, 3)}
    tests[1002] = BuildTests(True, frozenset({"test_x"}), seen=frozenset({"test_x"}))
    # builder 2 never showed running test_x: its green builds prove nothing about it
    evidence, _ = history.flakiness({1: b1, 2: b2}, tests, "test_x")
    assert evidence == []
    tests[2001] = BuildTests(True, seen=frozenset({"test_x", "test_y"}))
    evidence, _ = history.flakiness({1: b1, 2: b2}, tests, "test_x")
    assert [(e.kind, e.build.number) for e in evidence] == [("same-revision", 2)]

    # failing from one change on, on one platform only: breakage, even before it is 3 long
    b1 = _builds([S, F, F], builderid=1)
    tests[1003] = BuildTests(True, frozenset({"test_x"}))
    evidence, _ = history.flakiness({1: b1, 2: b2}, tests, "test_x")
    assert evidence == []


def test_rebuild_of_the_same_revision_on_one_builder_is_flaky_evidence():
    b1 = _builds([S, F, F], builderid=1)
    b1[0].properties["got_revision"] = "rev2"  # build 3 rebuilt build 2's revision and passed
    tests = {1001: BuildTests(True), 1002: BuildTests(True, frozenset({"test_x"})),
             1003: BuildTests(True)}
    evidence, _ = history.flakiness({1: b1}, tests, "test_x")
    assert [(e.kind, e.build.number) for e in evidence] == [("same-revision", 2)]
    assert "same builder" in evidence[0].detail
