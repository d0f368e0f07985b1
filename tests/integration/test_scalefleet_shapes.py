"""The scale fixture (tests/scalefleet.py) against the real local fleet (``fleet`` fixture):
every resource type has the same keys, collections carry ``meta.total``, raw stdio starts with
Buildbot 4's header. The real fleet is the source of truth; the fixture is only for size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.fleetdata import Fleet
from tests.scalefleet import Server, serve

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fixture_master() -> Iterator[Server]:
    srv = serve(Fleet(builders=6, builds=6, seed=7, log_kb=4), latency=0)
    yield srv
    srv.stop()


def api(base: str, path: str, **params: object) -> dict[str, Any]:
    resp = requests.get(base.rstrip("/") + "/api/v2/" + path, params=params, timeout=30,
                        headers={"Accept": "application/json"})
    resp.raise_for_status()
    return resp.json()


def samples(base: str) -> tuple[dict[str, dict[str, Any]], str]:
    """One item of every resource type the client reads, and one raw stdio log."""
    out = {"builders": api(base, "builders"), "workers": api(base, "workers")}
    builds = api(base, "builds", order="-buildid", limit=30, complete="true", property="*")
    for build in builds["builds"]:
        changes = api(base, f"builds/{build['buildid']}/changes")
        if changes["changes"]:
            break
    else:
        pytest.fail(f"no recent build with changes on {base}")
    out["builds"] = {"builds": [build], "meta": builds["meta"]}
    out["changes"] = changes
    out["steps"] = api(base, f"builds/{build['buildid']}/steps")
    for step in out["steps"]["steps"]:  # the first step with a stdio log
        out["logs"] = api(base, f"steps/{step['stepid']}/logs")
        stdio = next((lg for lg in out["logs"]["logs"] if lg["type"] == "s"), None)
        if stdio is not None:
            break
    else:
        pytest.fail(f"no stdio log in build {build['buildid']} on {base}")
    raw = requests.get(f"{base.rstrip('/')}/api/v2/logs/{stdio['logid']}/raw", timeout=30).text
    return out, raw


def test_fixture_resources_have_the_real_fleets_keys(fleet: Any,
                                                     fixture_master: Server) -> None:
    real, real_raw = samples(fleet.url)
    ours, our_raw = samples(fixture_master.url)
    for resource, body in real.items():
        assert set(ours[resource]) == set(body), f"{resource}: envelope keys"
        assert "total" in ours[resource]["meta"], resource
        real_keys = set(body[resource][0])
        our_keys = set(ours[resource][resource][0])
        assert our_keys == real_keys, f"{resource}: extra {our_keys - real_keys}, " \
                                      f"missing {real_keys - our_keys}"
    for key in ("sourcestamp",):
        assert set(ours["changes"]["changes"][0][key]) == set(real["changes"]["changes"][0][key])
    for raw in (real_raw, our_raw):
        first = raw.splitlines()[:3]
        assert [line.split(":")[0] for line in first] == ["Builder", "Build number", "Worker name"]
