"""The one codec (msgspec): a whole fleet round-trips through the store's MessagePack and the
snapshots' JSON equal to itself; ``plain`` gives what ``dataclasses.asdict`` gives, in JSON
types; malformed bytes raise CodecError (a ValueError), never a half-filled object."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec
import pytest
from bbwatch.models import Build, FleetData, Step
from bbwatch.source.codec import CodecError, dump_json, load_json, pack, plain, unpack

from tests.unit.test_analysis import FAIL, OK, WARN, FleetMaker


def a_fleet() -> FleetData:
    m = FleetMaker()
    m.builder(1, "AMD64 Debian 3.x", ["3.x", "stable", "tier-1"], [OK, WARN, FAIL])
    fleet = m.fleet
    fleet.builds[1][0].properties.update(
        {"nested": {"a": [1, {"b": [2, 3]}]}, "none": None, "ratio": 0.5})
    fleet.errors.append("one error")
    fleet.log_ids = {3: "logs/3-8@1"}
    return fleet


def test_a_whole_fleet_round_trips() -> None:
    fleet = a_fleet()
    assert unpack(pack(fleet), FleetData) == fleet
    builds = fleet.builds[1]  # JSON files hold str-keyed values: a builder's builds
    assert load_json(dump_json(builds), list[Build]) == builds


def _by_fields(value: Any) -> Any:
    """The oracle: records (dataclasses, msgspec Structs) as dicts of their fields, walked by
    hand; containers as lists and dicts; tuples and sets as lists."""
    if dataclasses.is_dataclass(value):
        return {f.name: _by_fields(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, msgspec.Struct):
        return {name: _by_fields(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {k: _by_fields(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_by_fields(v) for v in value]
    return value


def test_plain_is_every_field_in_json_types() -> None:
    fleet = a_fleet()
    as_json = json.loads(json.dumps(_by_fields(fleet), sort_keys=True))
    assert json.loads(json.dumps(plain(fleet))) == as_json


def test_decoded_values_are_copies() -> None:
    build = Build(1, 2, 3, 0, True, properties={"list": [1, 2]},
                  steps=[Step(10, 1, 1, "test", 0)])
    again = unpack(pack(build), Build)
    again.properties["list"].append(3)
    assert build.properties["list"] == [1, 2] and again == Build(
        1, 2, 3, 0, True, properties={"list": [1, 2, 3]}, steps=[Step(10, 1, 1, "test", 0)])


def test_readable_json_is_sorted_and_indented() -> None:
    text = dump_json(Build(1, 2, 3, None, False, properties={"b": "é", "a": 1}))
    assert text.endswith("\n") and '"é"' in text and text.index('"a"') < text.index('"b"')
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1,
                              ensure_ascii=False) + "\n"


@pytest.mark.parametrize("raw", [b"", b"\xc1", pack({"buildid": "one"}), pack([1, 2])])
def test_malformed_bytes_raise_codec_error(raw: bytes) -> None:
    with pytest.raises(CodecError):
        unpack(raw, Build)
    with pytest.raises(ValueError):
        load_json(b'{"buildid": 1}', Build)  # required fields missing
