"""Issue 16, points 1 and 2 on the recorded fleet: a sick worker is the worker's problem, and a
change with its backport is one problem on two branches, named as a family."""

from __future__ import annotations

import pytest
from bbwatch.models import Change
from bbwatch.source.snapshot import load_snapshot
from bbwatch.triage import analysis
from bbwatch.triage.backports import backport_families, refs_of
from bbwatch.triage.registry import load_registry
from bbwatch.triage.workers import signature_of
from bbwatch_fleet import DEMO_REGISTRY, scenarios

from tests.conftest import REPO

SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"


@pytest.fixture(scope="module")
def picture() -> analysis.Analysis:
    fleet = load_snapshot(SNAPSHOT)
    return analysis.analyse(fleet, registry=load_registry(DEMO_REGISTRY), now=fleet.fetched_at)


def test_only_the_sick_worker_is_sick(picture):
    assert set(picture.sick_workers) == {scenarios.SICK_WORKER}
    sick = picture.sick_workers[scenarios.SICK_WORKER]
    assert sick.worker.admin == "Ines Moreau <ines.moreau@example.org>"
    # every build of both builders broke one scripted test, each one attributed
    expected = {(b.name, n, test) for b in scenarios.BUILDERS if b.sick
                for n, (test, _error) in b.sick.items()}
    got = {(picture.fleet.builder(f.builderid).name, f.build.number, f.test_file)
           for f in sick.failures}
    assert got == expected
    assert set(sick.signatures) == {"disk full", "out of memory"}
    assert all(f.passed_on for f in sick.failures)


def test_sick_worker_is_one_infrastructure_problem_with_evidence(picture):
    (problem,) = [p for p in picture.problems if p.kind == "sick-worker"]
    assert problem.group == "infra" and problem.classification == "infra"
    assert {b.name for b in problem.builders} == set(scenarios.SICK_BUILDERS)
    assert "No space left" not in problem.title and scenarios.SICK_WORKER in problem.title
    assert "passed at the same revision" in problem.excerpt
    # the full disk of its last 3.14 build is a symptom, not a second row
    assert not [p for p in picture.problems if p.kind == "disk-full"]


def test_sick_worker_failures_are_not_test_problems_nor_flaky(picture):
    for problem in picture.test_problems:
        for occ in problem.occurrences:
            if occ.builder.name not in scenarios.SICK_BUILDERS:
                continue
            # only what fails on other workers at the same revision stays a test problem
            assert problem.test_file in {t.split(".")[0] for t in scenarios.STILL_RED.test_ids}
    assert [row.test_file for row in picture.flaky] == [scenarios.scenario("flaky").test_file]
    # the calc failure of its last main build (MemoryError) is nowhere among the tests
    calc = [p for p in picture.problems if p.test_file == "test_bbw_calc"]
    assert calc == []


def test_platform_failures_on_one_worker_do_not_make_it_sick(picture):
    # the Windows worker fails test_bbw_strings on both branches: a real (platform) failure
    assert "bbw-win11-amd64" not in picture.sick_workers
    assert "bbw-fedora-amd64" not in picture.sick_workers  # persistent config failures


def test_change_and_backport_are_one_problem_on_both_branches(picture):
    scenario = scenarios.scenario("backport")
    (problem,) = [p for p in picture.test_problems if p.test_file == scenario.test_file]
    assert {"3.x", "3.14"} <= set(problem.branches)
    assert set(scenarios.BACKPORT.builders) <= {b.name for b in problem.builders}
    titles = [s.change.title for s in problem.suspects[:2]]
    assert sorted(titles) == sorted(scenarios.BACKPORT_TITLES)
    (family,) = problem.backports
    assert family.original.change.title == scenarios.BACKPORT_TITLES[0]
    assert [b.change.title for b in family.backports] == [scenarios.BACKPORT_TITLES[1]]
    assert family.describe() == "gh-130140 (#130141) and its backport to 3.14 (#130150)"


def _change(n: int, title: str) -> Change:
    return Change(n, f"r{n}", "A <a@example.org>", title)


def test_refs_of_original_and_backport():
    orig = refs_of(_change(1, "gh-5: Fix it (#6)"))
    back = refs_of(_change(2, "[3.13] gh-5: Fix it (GH-6) (#9)"))
    assert (orig.branch, orig.issue, orig.original_pr, orig.own_pr) == (None, 5, 6, 6)
    assert (back.branch, back.issue, back.original_pr, back.own_pr) == ("3.13", 5, 6, 9)


def test_families_need_two_members_and_group_by_the_original_pr():
    changes = [_change(1, "gh-5: Fix it (#6)"), _change(2, "[3.13] gh-5: Fix it (GH-6) (#9)"),
               _change(3, "[3.12] gh-5: Fix it (GH-6) (#10)"),
               _change(4, "gh-5: Another fix for the same issue (#7)"),
               _change(5, "gh-8: Unrelated (#11)")]
    (family,) = backport_families(changes)
    assert family.original.change.changeid == 1
    assert family.branches == ["3.13", "3.12"]
    assert family.describe() == "gh-5 (#6) and its backports to 3.13 (#9), 3.12 (#10)"
    only_backports = backport_families(changes[1:3])
    assert only_backports[0].describe() == "backports of gh-5 (#6): 3.13 (#9), 3.12 (#10)"
    assert backport_families(changes[3:]) == []


@pytest.mark.parametrize(("text", "name"), [
    ("OSError: [Errno 28] No space left on device", "disk full"),
    ("MemoryError", "out of memory"),
    ("Killed\n", "killed"),
    ("make: *** Warning: Clock skew detected.", "clock skew"),
    ("socket.gaierror: [Errno -3] Temporary failure in name resolution", "DNS"),
    ("AssertionError: 1 != 2", None),
])
def test_infrastructure_signatures(text, name):
    assert signature_of(text) == name
