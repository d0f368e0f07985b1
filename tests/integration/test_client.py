"""The client against the real local Buildbot fleet (``fleet`` fixture, started once per session).

Expected values come from the fleet's manifest ``bbwatch_fleet.scenarios``, never hard-coded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from bbwatch.errors import BuildbotError
from bbwatch.models import FleetData, Result
from bbwatch.source.snapshot import SnapshotSource, load_snapshot
from bbwatch.source.sync import BuildbotClient
from bbwatch.source.urls import build_url, parse_build_url
from bbwatch_fleet import scenarios as sc

pytestmark = pytest.mark.integration

CPYTHON_STEPS = ["git", "configure", "compile", "pythoninfo", "test", "clean"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("client-cache")


@pytest.fixture(scope="module")
def client(fleet: Any, cache_dir: Path) -> Iterator[BuildbotClient]:
    with BuildbotClient(fleet.url, cache_dir=cache_dir, backoff_factor=0.05) as c:
        yield c


@pytest.fixture(scope="module")
def cold(client: BuildbotClient) -> FleetData:
    """One cold fetch_fleet, shared by the tests below (the whole history fits in 20)."""
    return client.fetch_fleet(history=20)


@pytest.fixture(scope="module")
def ids(cold: FleetData) -> dict[str, int]:
    return {b.name: b.builderid for b in cold.builders}


def test_builders_and_tags(cold: FleetData) -> None:
    assert cold.errors == []
    got = {b.name: set(b.tags) for b in cold.builders}
    assert got == {b.name: set(b.tags) for b in sc.BUILDERS}
    for builder in cold.builders:
        assert builder.branch == sc.BRANCH_TAGS[sc.BUILDERS_BY_NAME[builder.name].branch]


def test_workers_connected_or_not(cold: FleetData, ids: dict[str, int]) -> None:
    workers = {w.name: w for w in cold.workers}
    assert set(workers) == {w.name for w in sc.WORKERS}
    for spec in sc.WORKERS:
        assert workers[spec.name].connected is spec.started
    worker = cold.worker_for(ids[sc.DISCONNECTED_BUILDER])
    assert worker is not None and worker.name == sc.DISCONNECTED_WORKER
    assert cold.builds[ids[sc.DISCONNECTED_BUILDER]] == []


def test_builds_newest_first_with_the_scripted_results(
    cold: FleetData, ids: dict[str, int]
) -> None:
    for spec in sc.BUILDERS:
        builds = cold.builds[ids[spec.name]]
        assert [b.number for b in builds] == list(range(len(spec.results), 0, -1)), spec.name
        got = [b.result.word if b.result is not None else None for b in reversed(builds)]
        assert got == list(spec.results), spec.name
        assert all(b.complete for b in builds)


def test_steps_logs_and_test_logs(cold: FleetData, ids: dict[str, int]) -> None:
    green = cold.builds[ids[sc.GREEN_BUILDER]][0]
    # Buildbot adds its own ``worker_preparation`` step first; CPython's follow in order.
    ours = [s for s in green.steps if s.name in CPYTHON_STEPS]
    assert [s.name for s in ours] == CPYTHON_STEPS
    # Only the logs someone reads are listed: the test step's, and a failed step's.
    assert any(lg.slug == "stdio" for lg in green.step("test").logs)
    assert all(s.logs == () for s in ours if s.name != "test")
    failed = [
        s for bl in cold.builds.values() for b in bl for s in b.steps
        if s.name in ("configure", "compile") and s.result is Result.FAILURE
    ]
    assert failed and all(any(lg.slug == "stdio" for lg in s.logs) for s in failed)
    assert green.buildid not in cold.test_logs  # a green build's log is not fetched
    wanted = [
        b.buildid
        for bl in cold.builds.values()
        for b in bl
        if b.result in (Result.WARNINGS, Result.FAILURE) and (t := b.step("test")) and t.logs
    ]
    assert wanted and set(wanted) <= set(cold.test_logs)
    for text in cold.test_logs.values():
        assert not text.startswith("Builder: ")  # Buildbot 4's raw header is stripped


@pytest.mark.parametrize("scenario", [s for s in sc.SCENARIOS if s.log_lines], ids=lambda s: s.kind)
def test_scenario_logs(client: BuildbotClient, scenario: sc.Scenario) -> None:
    build = client.build(scenario.builder, scenario.build)
    assert build.result is Result[scenario.result.upper()]
    step = build.step(scenario.step)
    assert step is not None
    stdio = next(lg for lg in step.logs if lg.slug == "stdio")
    text = client.log_text(stdio)
    for line in scenario.log_lines:
        assert line in text, (scenario.kind, line)


def test_infrastructure_builds(client: BuildbotClient) -> None:
    infra = [s for s in sc.SCENARIOS if s.result in (sc.EXCEPTION, getattr(sc, "RETRY", None))]
    assert infra
    for s in infra:
        build = client.build(s.builder, s.build)
        assert build.complete and build.result is Result[s.result.upper()], s.kind
        assert build.result.is_infra


@pytest.mark.parametrize(("builder", "number", "titles"), sc.MULTI_COMMIT_BUILDS)
def test_blamelists(client: BuildbotClient, builder: str, number: int, titles: tuple) -> None:
    build = client.build(builder, number)
    assert [c.title for c in build.changes] == list(titles)
    assert all(c.author and c.revision for c in build.changes)
    assert any(f.startswith(("Lib/", "Modules/")) for c in build.changes for f in c.files)


def test_every_url_form_resolves(client: BuildbotClient, fleet: Any, ids: dict[str, int]) -> None:
    scenario = next(s for s in sc.SCENARIOS if s.kind == "fail")
    bid, n = ids[scenario.builder], scenario.build
    root = client.base_url
    name = quote(scenario.builder)
    forms = [
        build_url(fleet.url, bid, n),
        f"{root}#builders/{bid}/builds/{n}",
        f"{root}#/builders/{bid}/builds/{n}/steps/4/logs/stdio",
        f"{root}#/builders/{bid}/builds/{n}/steps/test/logs/stdio",
        f"{root}builders/{name}/builds/{n}/steps/test/logs/stdio",
        f"{root}api/v2/builders/{bid}/builds/{n}",
        f"{root}api/v2/builders/{name}/builds/{n}/steps/test/logs/stdio/raw",
    ]
    expected = client.build(bid, n)
    for url in forms:
        ref = parse_build_url(url)
        assert ref.base_url == root, url
        builder, build = client.resolve(ref)
        assert (builder.name, build.buildid) == (scenario.builder, expected.buildid), url
    # The API form by id is real: the master answers it (Buildbot has no raw-by-name route).
    raw = client.session.get(
        f"{root}api/v2/builders/{bid}/builds/{n}/steps/test/logs/stdio/raw", timeout=10
    )
    assert raw.status_code == 200 and scenario.log_lines[0] in raw.text


def test_missing_build_and_builder(client: BuildbotClient) -> None:
    with pytest.raises(BuildbotError, match="no such build"):
        client.build(sc.GREEN_BUILDER, 999)
    with pytest.raises(BuildbotError, match="no such builder"):
        client.build("AMD64 Nowhere 3.x", 1)


def test_warm_fetch_asks_nothing_about_completed_builds(
    fleet: Any, cold: FleetData, cache_dir: Path
) -> None:
    """The headline: a second fetch of an unchanged master makes no request for any completed
    build -- only /builders, /workers and one /builds?buildid__gt=... (a new process)."""
    session = requests.Session()
    seen: list[str] = []
    session.hooks["response"].append(lambda resp, *a, **k: seen.append(resp.url))
    with BuildbotClient(fleet.url, cache_dir=cache_dir, session=session) as again:
        warm = again.fetch_fleet(history=20)
        assert again.requests_made <= 3
    paths = sorted(urlsplit(u).path for u in seen)
    assert paths == ["/api/v2/builders", "/api/v2/builds", "/api/v2/workers"]
    assert "buildid__gt=" in next(u for u in seen if urlsplit(u).path == "/api/v2/builds")
    assert warm.builds == cold.builds and warm.test_logs == cold.test_logs
    assert warm.errors == []


def test_snapshot_save_from_the_fleet(fleet: Any, tmp_path: Path, cache_dir: Path) -> None:
    from bbwatch.commands.main import main

    out = tmp_path / "snap"
    assert (
        main(["snapshot", "save", str(out), "--source", fleet.url, "--cache-dir", str(cache_dir)])
        == 0
    )
    data = load_snapshot(out)
    assert len(data.builders) == len(sc.BUILDERS)
    assert sum(len(v) for v in data.builds.values()) == sc.expected_build_count()
    src = SnapshotSource(out)
    s = next(s for s in sc.SCENARIOS if s.kind == "flaky")
    build = src.build(s.builder, s.build)
    assert all(line in (src.test_log(build) or "") for line in s.log_lines)


def test_find_builds_across_builders(client: BuildbotClient, cold: FleetData) -> None:
    failed = client.find_builds(complete=True, results=2, order="-complete_at", limit=500)
    expected = {b.buildid for bl in cold.builds.values() for b in bl if b.results == 2}
    assert {b.buildid for b in failed} == expected
    stamps = [b.complete_at for b in failed]
    assert stamps == sorted(stamps, reverse=True)
    newest = max(b.buildid for bl in cold.builds.values() for b in bl)
    assert client.find_builds(buildid__gt=newest) == []


def test_properties(client: BuildbotClient, cold: FleetData, ids: dict[str, int]) -> None:
    build = cold.builds[ids[sc.GREEN_BUILDER]][0]
    props = client.properties(build.buildid)
    assert props["buildername"] == sc.GREEN_BUILDER and props["buildnumber"] == build.number
    assert props["got_revision"] == build.revision  # the same values fetch_fleet flattened
