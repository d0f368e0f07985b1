"""serialize.to_dict: the same dict as ``dataclasses.asdict``, only faster."""

from __future__ import annotations

import dataclasses
import json

from bbwatch.models import Build, Step
from bbwatch.source.serialize import build_from_dict, fleet_from_dict, to_dict

from tests.unit.test_analysis import FAIL, OK, WARN, FleetMaker


def test_to_dict_equals_asdict_on_a_whole_fleet() -> None:
    m = FleetMaker()
    m.builder(1, "AMD64 Debian 3.x", ["3.x", "stable", "tier-1"], [OK, WARN, FAIL])
    fleet = m.fleet
    fleet.builds[1][0].properties.update(
        {"nested": {"a": [1, {"b": [2, 3]}]}, "none": None, "ratio": 0.5})
    fleet.errors.append("one error")
    got = to_dict(fleet)
    assert got == dataclasses.asdict(fleet)
    assert json.dumps(got, sort_keys=True) == json.dumps(dataclasses.asdict(fleet), sort_keys=True)
    assert fleet_from_dict(json.loads(json.dumps(got))) == fleet


def test_to_dict_copies_mutable_values() -> None:
    build = Build(1, 2, 3, 0, True, properties={"list": [1, 2]},
                  steps=[Step(10, 1, 1, "test", 0)])
    out = to_dict(build)
    out["properties"]["list"].append(3)
    out["steps"][0]["name"] = "changed"
    assert build.properties["list"] == [1, 2] and build.steps[0].name == "test"
    assert build_from_dict(to_dict(build)) == build
