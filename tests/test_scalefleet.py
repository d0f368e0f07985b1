"""The scale fixture (tests/scalefleet.py) speaks Buildbot's REST API v2 as Buildbot 4.3 does.

Shapes are checked against Buildbot's own data model (``buildbot.data.*.EntityType``, the
installed master's); tests/integration/test_scalefleet_shapes.py compares them with the real
local fleet's responses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from tests import scalefleet
from tests.conftest import REPO
from tests.fleetdata import Fleet
from tests.scalefleet import Fault, Server, serve

ENTITIES = {  # resource (the envelope key) -> the Buildbot data class describing it
    "builders": ("builders", "Builder"),
    "builds": ("builds", "Build"),
    "steps": ("steps", "Step"),
    "logs": ("logs", "Log"),
    "changes": ("changes", "Change"),
    "workers": ("workers", "Worker"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    srv = serve(Fleet(builders=12, builds=10, seed=2, log_kb=8), latency=0)
    yield srv
    srv.stop()


def get(server: Server, path: str, **params: object) -> dict:
    resp = requests.get(server.url + "api/v2/" + path, params=params, timeout=10)
    resp.raise_for_status()
    return resp.json()


def entity_type(resource: str):
    module, cls = ENTITIES[resource]
    data = pytest.importorskip(f"buildbot.data.{module}")
    return getattr(data, cls).entityType


def sample_responses(server: Server) -> dict[str, dict]:
    build = get(server, "builds", order="-buildid", limit=1, property="*")["builds"][0]
    steps = get(server, f"builds/{build['buildid']}/steps")
    return {
        "builders": get(server, "builders"),
        "workers": get(server, "workers"),
        "builds": {"builds": [build]},
        "steps": steps,
        "changes": get(server, f"builds/{build['buildid']}/changes"),
        "logs": get(server, f"steps/{steps['steps'][4]['stepid']}/logs"),
    }


def test_every_resource_has_buildbots_fields_and_types(server: Server) -> None:
    for resource, body in sample_responses(server).items():
        et = entity_type(resource)
        assert body[resource], resource
        for item in body[resource]:
            assert set(item) == set(et.fields), resource
            if "properties" in item and resource == "builds":
                # inside the master a property is a (JSON text, source) tuple; the API sends
                # [value, source]: convert back before Buildbot's own validator sees it
                props = {k: (json.dumps(v[0]), v[1]) for k, v in item["properties"].items()}
                item = {**item, "properties": props}
            assert list(et.validate(resource, item)) == [], resource


def test_collections_have_meta_total_and_result_specs(server: Server) -> None:
    all_builds = get(server, "builds")
    assert all_builds["meta"]["total"] == 12 * 10 == len(all_builds["builds"])
    some = get(server, "builds", builderid__eq=3, order="-number", limit=4, field="number")
    assert some["meta"]["total"] == 10  # before limit, like Buildbot
    assert [b["number"] for b in some["builds"]] == [9, 8, 7, 6]
    assert all(set(b) == {"number"} for b in some["builds"])
    newest = max(b["buildid"] for b in all_builds["builds"])
    later = get(server, "builds", buildid__gt=newest - 5)["builds"]
    assert sorted(b["buildid"] for b in later) == list(range(newest - 4, newest + 1))
    failed = get(server, "builds", results__in="2,4")["builds"]
    assert failed and all(b["results"] in (2, 4) for b in failed)
    assert get(server, "builds", complete="true", limit=1)["builds"][0]["complete"] is True
    resp = requests.get(server.url + "api/v2/builds", params={"nosuch__gt": 1}, timeout=10)
    assert resp.status_code == 400 and "error" in resp.json()


def test_nested_paths_and_logs(server: Server) -> None:
    builder = get(server, "builders")["builders"][0]
    build = get(server, f"builders/{builder['builderid']}/builds/3")["builds"][0]
    assert build["number"] == 3 and build["builderid"] == builder["builderid"]
    by_name = get(server, f"builders/{builder['name']}/builds", limit=1, order="-number")
    assert by_name["builds"][0]["number"] == 9
    step = get(server, f"builds/{build['buildid']}/steps")["steps"][4]
    assert step["name"] == "test"
    log = get(server, f"steps/{step['stepid']}/logs")["logs"][0]
    raw = requests.get(f"{server.url}api/v2/logs/{log['logid']}/raw", timeout=10).text
    # Buildbot >= 4.0 starts raw stdio with these; the command header and environment follow
    assert raw.startswith(f"Builder: {builder['name']}\nBuild number: 3\nWorker name: ")
    assert "\n environment:\n" in raw and raw.count("\n") == log["num_lines"]
    nested = requests.get(
        f"{server.url}api/v2/builders/{builder['builderid']}/builds/3/steps/test/logs/stdio/raw",
        timeout=10,
    ).text
    assert nested == raw
    chunk = get(server, f"logs/{log['logid']}/contents", offset=1, limit=2)["logchunks"][0]
    assert (
        chunk["firstline"] == 1
        and chunk["content"] == "oBuild number: 3\no" + raw.split("\n")[2] + "\n"
    )
    assert requests.get(server.url + "api/v2/builds/999999", timeout=10).status_code == 404


def test_generation_is_deterministic_and_seeded() -> None:
    a, b, c = Fleet(6, 8, seed=4, log_kb=4), Fleet(6, 8, seed=4, log_kb=4), Fleet(6, 8, seed=5)
    assert a.builder_rows == b.builder_rows
    assert [a.build_row(s) for s in a.specs.values()] == [b.build_row(s) for s in b.specs.values()]
    assert a.log_text(max(a.specs) * 10 + 4) == b.log_text(max(b.specs) * 10 + 4)
    assert [s.results for s in a.specs.values()] != [s.results for s in c.specs.values()]


def test_fleet_has_the_mix_a_watcher_sees() -> None:
    fleet = Fleet(150, 20, seed=1, log_kb=1)
    assert len(fleet.builder_rows) == 150 and len({b["name"] for b in fleet.builder_rows}) == 150
    results = [s.results for s in fleet.specs.values()]
    assert {0, 1, 2, 4} <= set(results)
    assert 0.6 < results.count(0) / len(results) < 0.97
    log = fleet.log_text(
        next(s.buildid for s in fleet.specs.values() if s.results == 2 and s.failing_tests) * 10 + 4
    )
    assert "== Tests result: FAILURE then FAILURE ==" in log and "\nResult: FAILURE" in log


def test_add_builds_and_request_counts(server: Server) -> None:
    requests.post(server.url + "admin/reset", timeout=10)
    before = get(server, "builds", order="-buildid", limit=1)["builds"][0]["buildid"]
    added = requests.post(server.url + "admin/add-builds?n=3", timeout=10).json()["added"]
    assert added == [before + 1, before + 2, before + 3]
    new = get(server, "builds", buildid__gt=before)["builds"]
    assert sorted(b["buildid"] for b in new) == added and all(b["complete"] for b in new)
    stats = requests.get(server.url + "admin/stats", timeout=10).json()
    assert stats["total"] == 2 and stats["paths"] == {"/api/v2/builds": 2}


def test_fault_specs_parse_or_fail_clearly() -> None:
    fault = Fault.parse(r"status,path=/logs/\d+/raw,value=404,times=2")
    assert (fault.kind, fault.path, fault.value, fault.times) == (
        "status",
        r"/logs/\d+/raw",
        404,
        2,
    )
    for bad in ("explode", "status,colour=red"):
        with pytest.raises(ValueError):
            Fault.parse(bad)
    done = subprocess.run(
        [sys.executable, "-m", "tests.scalefleet", "--fault", "explode"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("scalefleet: bad --fault")
    assert len(done.stderr.strip().splitlines()) == 1


def test_faults_misbehave_as_described() -> None:
    srv = serve(
        Fleet(2, 2, log_kb=1),
        latency=0,
        faults=[
            Fault("429", path="/builders$", value=1, times=1),
            Fault("truncated", path="/workers"),
            Fault("invalid-json", path="/steps$"),
            Fault("huge-log", path="/raw", value=3),
        ],
    )
    try:
        first = requests.get(srv.url + "api/v2/builders", timeout=10)
        assert first.status_code == 429 and first.headers["Retry-After"] == "1"
        assert requests.get(srv.url + "api/v2/builders", timeout=10).status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(requests.get(srv.url + "api/v2/workers", timeout=10).text)
        with pytest.raises(json.JSONDecodeError):
            json.loads(requests.get(srv.url + "api/v2/builds/1/steps", timeout=10).text)
        raw = requests.get(srv.url + "api/v2/logs/14/raw", timeout=10).content
        assert len(raw) == 3_000_000 and raw.endswith(b"Result: FAILURE\n")
    finally:
        srv.stop()


@pytest.mark.parametrize("params", [
    {"order": "-buildid", "limit": 1, "field": "buildid"},
    {"buildid__gt": 60, "order": "-buildid", "limit": 500, "property": "*"},
    {"buildid__gt": 60, "order": "-buildid", "limit": 7, "offset": 5},
    {"buildid__ge": 30, "buildid__lt": 50, "order": "buildid", "limit": 4, "offset": 2},
    {"builderid__in": "2,5,7", "order": "-buildid", "limit": 6},
    {"builderid": 3, "buildid__le": 80},
    {"results": 2, "order": "-buildid", "limit": 3},  # not indexed: the generic path alone
    {"order": "-number", "limit": 3},
])
def test_the_index_scan_answers_like_the_generic_filter(server, monkeypatch, params):
    fast = get(server, "builds", **params)
    monkeypatch.setattr(scalefleet, "_index_scan", lambda specs, query: (specs, None))
    assert fast == get(server, "builds", **params)
    assert fast["builds"]
