"""analyse() on the recorded snapshot of the real local fleet, checked against its manifest
(bbwatch_fleet.scenarios): every builder with its result, each still-red scripted failure once
with its streak start and suspect change, the flaky test and only it on the flaky list."""

from __future__ import annotations

import pytest
from bbwatch.source.snapshot import load_snapshot
from bbwatch.triage import analysis
from bbwatch.triage.registry import load_registry
from bbwatch.triage.rows import Severity
from bbwatch_fleet import DEMO_REGISTRY, scenarios

from tests.conftest import REPO

SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"


@pytest.fixture(scope="module")
def picture() -> analysis.Analysis:
    fleet = load_snapshot(SNAPSHOT)
    registry = load_registry(DEMO_REGISTRY)  # the demo fleet's, for its scenarios
    return analysis.analyse(fleet, registry=registry, now=fleet.fetched_at)


def _rows(picture):
    return {row.builder.name: row for section in picture.status for row in section.rows}


def test_every_builder_once_with_its_latest_result(picture):
    rows = _rows(picture)
    assert sorted(rows) == sorted(b.name for b in scenarios.BUILDERS)
    for builder in scenarios.BUILDERS:
        row = rows[builder.name]
        if builder.results:
            assert row.result is not None and row.result.word == builder.results[-1], builder
        else:
            assert row.result is None and row.severity == Severity.DISCONNECTED
    assert [s.branch for s in picture.status] == ["3.x", "3.14", "PullRequest"]


def test_severity_order_puts_release_blocking_first(picture):
    for section in picture.status:
        severities = [row.severity for row in section.rows]
        assert severities == sorted(severities)
    main = picture.status[0]
    blocking = {r.builder.name for r in main.rows if r.severity == Severity.RELEASE_BLOCKING}
    assert blocking == {b.name for b in scenarios.BUILDERS
                        if b.branch == "main" and b.stable and b.results
                        and b.results[-1] == scenarios.FAILURE
                        and ({"tier-1", "tier-2"} & set(b.tags))}
    assert main.summary.startswith(f"3.x: {len(blocking)} release-blocking failures")


def test_each_still_red_failure_is_one_row_across_builders(picture):
    titles = [p.title for p in picture.problems]
    assert len(titles) == len(set(titles))
    by_test = {p.test_file: p for p in picture.problems if p.group == "test"}
    for scenario in scenarios.SCENARIOS:
        builder = scenarios.BUILDERS_BY_NAME[scenario.builder]
        if not scenario.test_file or builder.results[-1] != scenarios.FAILURE:
            continue
        if scenario.build != len(builder.results) or scenario.kind == "sick_worker":
            continue  # an older build, or a failure attributed to the sick worker
        if scenario.builder in scenarios.STILL_RED.builders:
            continue  # its builders now fail the still-red test instead
        problem = by_test[scenario.test_file]
        assert scenario.builder in {b.name for b in problem.builders}, scenario


def test_still_red_streak_start_suspect_and_classification(picture):
    red = scenarios.STILL_RED
    test_file = red.test_ids[0].split(".")[0]
    problem = next(p for p in picture.problems if p.test_file == test_file)
    assert {b.name for b in problem.builders} == set(red.builders)
    assert {o.first_failing.number for o in problem.occurrences} == {red.first_bad_build}
    assert problem.suspects[0].change.title == red.introduced_by
    assert problem.suspects[0].score >= 2  # touches the module the test tests
    assert red.test_ids[0] in problem.test_ids
    assert problem.classification == "known"  # the demo registry covers it
    assert problem.issues and problem.issues[0].source == "registry"


def test_fixed_regression_is_not_listed_and_not_flaky(picture):
    test_file = scenarios.REGRESSION.test_ids[0].split(".")[0]
    assert test_file not in {p.test_file for p in picture.problems}
    assert test_file not in {r.test_file for r in picture.flaky}


def test_flaky_list_has_the_flaky_test_and_no_deterministic_failure(picture):
    flaky = next(s for s in scenarios.SCENARIOS if s.kind == "flaky")
    names = {r.test_file for r in picture.flaky}
    assert flaky.test_file in names
    deterministic = {p.test_file for p in picture.problems if p.group == "test"}
    assert not names & deterministic
    row = next(r for r in picture.flaky if r.test_file == flaky.test_file)
    assert flaky.builder in {b.name for b in row.builders}
    assert any(e.kind == "rerun" for e in row.evidence)


def test_disconnected_worker_is_an_infrastructure_row_with_its_builder(picture):
    infra = [p for p in picture.problems if p.group == "infra"]
    down = next(p for p in infra if p.kind == "disconnected")
    assert [w.name for w in down.workers] == [scenarios.DISCONNECTED_WORKER]
    assert [b.name for b in down.builders] == [scenarios.DISCONNECTED_BUILDER]
    assert down in picture.problem_rows()  # no build to show, still listed
    assert down in picture.problem_rows(branches=["3.x"])
    assert down not in picture.problem_rows(branches=["3.14"])
