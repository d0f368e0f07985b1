"""`bbwatch match` on real builds of the local fleet, with the demo fleet's registry
(``bbwatch_fleet.DEMO_REGISTRY``, passed with ``--registry`` as the README does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from bbwatch.commands.main import main
from bbwatch.triage.tracker import FileTracker
from bbwatch_fleet import DEMO_REGISTRY
from bbwatch_fleet import scenarios as sc

pytestmark = pytest.mark.integration

# scenario kind -> (classification, registry issue number or None) with the demo registry
EXPECTED = {
    "flaky": ("flaky", 130201),
    "timeout": ("known", 130203),
    "refleak": ("known", 130204),
    "crash": ("new", None),
    "env_changed": ("new", None),
    "fail": ("new", None),  # the fixed regression is not in the registry
}


@pytest.fixture(scope="module")
def builder_ids(fleet) -> dict[str, int]:
    data = requests.get(f"{fleet.url.rstrip('/')}/api/v2/builders", timeout=10).json()
    return {b["name"]: b["builderid"] for b in data["builders"]}


@pytest.fixture
def empty_issues(tmp_path: Path) -> Path:
    path = tmp_path / "issues.json"
    path.write_text("[]")
    return path


def _match(capsys, url: str, issues: Path, cache: Path) -> dict:
    code = main(["match", url, "--issues", str(issues), "--registry", str(DEMO_REGISTRY), "--json",
                 "--cache-dir", str(cache)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_scenario_builds_are_matched_with_the_registry(capsys, fleet, builder_ids, empty_issues,
                                                       tmp_path, kind):
    scenario = next(s for s in sc.SCENARIOS if s.kind == kind)
    url = f"{fleet.url.rstrip('/')}/#/builders/{builder_ids[scenario.builder]}/builds/" \
          f"{scenario.build}"
    report = _match(capsys, url, empty_issues, tmp_path / "cache")
    mine = [f for f in report["failures"] if f["test_file"] == scenario.test_file]
    assert mine, report
    failure = next((f for f in mine if f["test_id"] == scenario.test_id), mine[0])
    assert failure["builder"] == scenario.builder
    # the method, recovered from frames even without a FAIL: header; an environment change
    # has no frame, so its first term is the file
    first = scenario.test_file if kind == "env_changed" else scenario.test_id.rsplit(".", 1)[-1]
    assert failure["search_terms"][0] == first
    assert f"on {scenario.builder}" in failure["suggested_title"]
    classification, number = EXPECTED[kind]
    assert failure["classification"] == classification, failure
    if number:
        assert failure["candidates"][0]["number"] == number
        assert failure["candidates"][0]["source"] == "registry"
    # round trip: the first search term finds the suggested title
    path = tmp_path / "filed.json"
    path.write_text(json.dumps([{"number": 1, "title": failure["suggested_title"],
                                 "state": "open", "url": ""}]))
    assert [i.number for i in FileTracker(path).search(failure["search_terms"][0])] == [1]


def test_still_red_streak_is_known_on_every_main_builder(capsys, fleet, builder_ids,
                                                        empty_issues, tmp_path):
    streak = sc.STILL_RED
    for builder in streak.builders:
        url = f"{fleet.url.rstrip('/')}/#/builders/{builder_ids[builder]}/builds/" \
              f"{streak.first_bad_build}"
        report = _match(capsys, url, empty_issues, tmp_path / "cache")
        found = {f["test_id"]: f for f in report["failures"]}
        failure = found[streak.test_ids[0]]
        assert failure["classification"] == "known", (builder, failure)
        assert failure["candidates"][0]["number"] == 130202
        assert failure["search_terms"][:4] == [
            "test_describe_keys", "DescribeTests.test_describe_keys", "DescribeTests",
            "test_bbw_os"]


def test_a_compile_failure_has_no_tests_to_match(capsys, fleet, builder_ids, empty_issues,
                                                 tmp_path):
    scenario = next(s for s in sc.SCENARIOS if s.kind == "compile_failure")
    url = f"{fleet.url.rstrip('/')}/#/builders/{builder_ids[scenario.builder]}/builds/" \
          f"{scenario.build}"
    code = main(["match", url, "--issues", str(empty_issues), "--cache-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == (f"bbwatch: error: build {scenario.build} of {scenario.builder!r} has no test "
                   f"step log: it failed at step 'compile', before any test ran\n")
