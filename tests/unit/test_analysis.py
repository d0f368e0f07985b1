"""analyse(): status severity order, grouping across builders, infra, mass failures, flaky rows.

Fleets come from ``tests/factories.py``; test-step logs are real regrtest output
(``tests/unit/samples/regrtest``), so the parser path is the production one.
"""

from __future__ import annotations

import pytest
from bbwatch.triage import analysis, flaky_stats, history, rows
from bbwatch.triage.registry import parse_registry
from bbwatch.triage.rows import Severity

from tests.factories import (  # noqa: F401 (FLAKY, FULL: re-exported for older imports)
    COMPILE,
    DAY,
    FAIL,
    FLAKY,
    FULL,
    NOW,
    OK,
    WARN,
    FleetMaker,
)


@pytest.fixture(scope="module")
def picture() -> analysis.Analysis:
    m = FleetMaker()
    m.files = {3: ("Lib/test/test_bb_fail.py",), 4: ("Lib/bb_sub.py",)}
    m.builder(1, "AMD64 Debian 3.x", ["3.x", "stable", "tier-1"], [OK, OK, FAIL, FAIL, FAIL])
    m.builder(2, "ARM64 macOS 3.x", ["3.x", "stable", "tier-2"], [OK, WARN, OK, FAIL, FAIL])
    m.builder(3, "AMD64 Rawhide 3.x", ["3.x", "unstable"], [OK, OK, OK, OK, COMPILE])
    m.builder(4, "PPC64LE Fedora 3.x", ["3.x", "stable", "tier-3"], [OK, OK, OK, OK, OK],
              connected=False)
    m.builder(5, "x86 Gentoo 3.14", ["3.14", "stable"], [OK, WARN, OK, WARN, WARN])
    m.builder(6, "AMD64 Alpine 3.x", ["3.x", "stable"], [OK, OK, OK, OK, OK])
    return analysis.analyse(m.fleet, now=NOW)


def test_status_is_grouped_by_branch_and_ordered_by_severity(picture):
    assert [s.branch for s in picture.status] == ["3.x", "3.14"]
    main = picture.status[0]
    assert [(r.builder.name, r.severity) for r in main.rows] == [
        ("AMD64 Debian 3.x", Severity.RELEASE_BLOCKING),
        ("ARM64 macOS 3.x", Severity.RELEASE_BLOCKING),
        ("AMD64 Rawhide 3.x", Severity.UNSTABLE_FAILURE),
        ("PPC64LE Fedora 3.x", Severity.DISCONNECTED),
        ("AMD64 Alpine 3.x", Severity.SUCCESS),
    ]
    assert main.summary == (
        "3.x: 2 release-blocking failures, 1 unstable failure, 1 disconnected, 1 green"
    )
    debian = main.rows[0]
    assert rows.describe_streak(debian.streak, NOW) == (
        "failing since build #3 (3 builds, 3 days)"
    )
    assert debian.build_url.endswith("/#/builders/1/builds/5")
    assert picture.status[1].rows[0].severity == Severity.WARNINGS


def test_status_filters_by_branch_tag_and_result(picture):
    rows = picture.status_rows(tags=["tier-1"])
    assert [r.builder.name for s in rows for r in s.rows] == ["AMD64 Debian 3.x"]
    rows = picture.status_rows(results=["warnings"])
    assert [s.branch for s in rows] == ["3.14"]
    assert picture.status_rows(branches=["3.13"]) == []


def test_failures_are_grouped_per_test_across_builders_with_streak_start(picture):
    tests = {p.test_file: p for p in picture.problems if p.group == "test"}
    assert {"test_bb_fail", "test_bb_sub", "test_bb_timeout", "test_bb_crash"} <= set(tests)
    fail = tests["test_bb_fail"]
    assert sorted(b.name for b in fail.builders) == ["AMD64 Debian 3.x", "ARM64 macOS 3.x"]
    firsts = {o.builder.name: o.first_failing.number for o in fail.occurrences}
    assert firsts == {"AMD64 Debian 3.x": 3, "ARM64 macOS 3.x": 4}
    assert fail.first_seen == NOW - 3 * DAY
    assert any(t.endswith("test_assert") for t in fail.test_ids)
    assert "FAIL" in fail.excerpt or "Error" in fail.excerpt
    assert fail.classification == "new"  # no registry given, no flakiness
    # the change that touched the failing test's own file ranks first
    assert fail.suspects[0].change.files == ("Lib/test/test_bb_fail.py",)
    sub = tests["test_bb_sub"]
    assert sub.suspects[0].score == 2 or sub.suspects[0].change.files == ("Lib/bb_sub.py",)
    assert fail.occurrences[0].triage_docname.startswith("triage/")


def test_infrastructure_group_and_worker_to_contact(picture):
    infra = {p.kind: p for p in picture.problems if p.group == "infra"}
    assert set(infra) == {"disconnected"}
    assert infra["disconnected"].workers[0].name == "worker-4"
    assert all(p.classification == "infra" for p in infra.values())


def test_compile_failure_is_a_build_failure_to_report_not_infrastructure(picture):
    # One rule with docs/watching/infrastructure.md and docs/live/known-failures.md: a failing
    # compile step is reported (build label), listed apart from tests and infrastructure.
    builds = {p.kind: p for p in picture.build_problems}
    assert set(builds) == {"compile"}
    compile_failure = builds["compile"]
    assert compile_failure.group == "build"
    assert [b.name for b in compile_failure.builders] == ["AMD64 Rawhide 3.x"]
    assert compile_failure.classification == "new"  # no registry: nobody reported it yet
    assert compile_failure.suspects  # the breaking build's blamelist, ranked
    assert compile_failure not in picture.infra_problems
    # a compile failure is not a test problem either
    assert not any(o.builder.builderid == 3 for p in picture.test_problems
                   for o in p.occurrences)
    # build failures sort after the test problems and before infrastructure
    groups = [p.group for p in picture.problems]
    assert groups.index("build") > max(i for i, g in enumerate(groups) if g in ("test", "mass"))
    assert groups.index("build") < groups.index("infra")


def test_one_breaking_change_on_several_builders_is_one_build_failure():
    m = FleetMaker()
    m.builder(1, "AMD64 A 3.x", ["3.x", "stable"], [OK, OK, COMPILE])
    m.builder(2, "AMD64 B 3.x", ["3.x", "stable"], [OK, OK, COMPILE])
    picture = analysis.analyse(m.fleet, now=NOW)
    [problem] = picture.build_problems
    assert sorted(b.name for b in problem.builders) == ["AMD64 A 3.x", "AMD64 B 3.x"]
    assert problem.title.startswith("compile fails since ")


def test_flaky_rows_list_the_flaky_test_not_deterministic_failures(picture):
    names = [row.test_file for row in picture.flaky]
    assert "test_bb_flaky" in names
    assert "test_bb_fail" not in names and "test_bb_timeout" not in names
    row = next(r for r in picture.flaky if r.test_file == "test_bb_flaky")
    assert {b.name for b in row.builders} >= {"x86 Gentoo 3.14", "ARM64 macOS 3.x"}
    assert row.runs > 0 and 0 < row.rate <= 1
    assert picture.flaky == sorted(picture.flaky, key=flaky_stats.rank_key)


def test_mass_failure_collapses_many_builders_at_one_change():
    m = FleetMaker()
    for bid in range(1, 5):
        m.builder(bid, f"Builder{bid} 3.x", ["3.x", "stable"], [OK, OK, FAIL])
    m.builder(9, "Other 3.x", ["3.x", "stable"], [OK, OK, OK])
    picture = analysis.analyse(m.fleet, now=NOW)
    mass = [p for p in picture.problems if p.group == "mass"]
    assert len(mass) == 1
    assert len(mass[0].builders) == 4 and "rev3" in mass[0].title
    assert {c.test_file for c in mass[0].children} >= {"test_bb_fail", "test_bb_sub"}
    assert not [p for p in picture.problems if p.group == "test"]


def test_registry_match_classifies_known(picture):
    registry = parse_registry(
        'repo = "python/cpython"\n[[issue]]\nnumber = 1\ntitle = "test_bb_fail fails"\n'
        'kind = "failing"\ntests = ["test_bb_fail"]\nadded = 2026-01-01\n'
    )
    known = analysis.analyse(picture.fleet, registry=registry, now=NOW)
    fail = next(p for p in known.problems if p.test_file == "test_bb_fail")
    assert fail.classification == "known"
    assert fail.issues[0].url == "https://github.com/python/cpython/issues/1"
    other = next(p for p in known.problems if p.test_file == "test_bb_timeout")
    assert other.classification == "new"


def test_find_returns_the_occurrence_for_triage(picture):
    found = picture.find("AMD64 Debian 3.x", 5, "test_bb_fail")
    assert found is not None
    problem, occ = found
    assert problem.test_file == "test_bb_fail" and occ.latest.number == 5
    assert picture.find("AMD64 Debian 3.x", 2, "test_bb_fail") is None


def test_flaky_rows_and_evidence_are_the_reference_flakiness(picture):
    # analyse answers flakiness from one history index; it must be history.flakiness exactly
    fleet, tests = picture.fleet, picture.tests
    assert picture.flaky and picture.test_problems
    for row in picture.flaky:
        evidence, stats = history.flakiness(fleet.builds, tests, row.test_file)
        assert row.evidence == evidence and row.evidence
        shown = {b.builderid for b in row.builders}
        assert row.stats == [s for s in stats if s.builderid in shown]
    for problem in picture.test_problems:
        if problem.test_file and problem.group == "test":
            evidence, _ = history.flakiness(fleet.builds, tests, problem.test_file)
            assert problem.evidence == evidence
