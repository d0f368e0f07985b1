"""Domain dataclasses <-> plain JSON-able dicts, shared by the on-disk cache and snapshots.

Pure functions: the dict form is what ``dataclasses.asdict`` gives (tuples become lists);
``*_from_dict`` rebuild the frozen dataclasses with tuples again, so a round trip is equal.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

from bbwatch.models import Build, Builder, Change, FleetData, Log, Step, Worker

_ATOMS = (str, int, float, bool, type(None))


def to_dict(obj: Any) -> dict[str, Any]:
    """Any of the domain dataclasses as a JSON-able dict, equal to ``dataclasses.asdict``.

    Hand-rolled because asdict deep-copies every leaf: a 150-builder fleet has ~10^5 of them,
    and the live build serialises a fleet each time its data changes.
    """
    return _plain(obj)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    if isinstance(value, _ATOMS):
        return value
    cls = type(value)
    if dataclasses.is_dataclass(cls):
        return {name: _plain(getattr(value, name)) for name in _field_names(cls)}
    if cls is list or cls is tuple:
        return cls(_plain(v) for v in value)
    if cls is dict:
        return {_plain(k): _plain(v) for k, v in value.items()}
    return copy.deepcopy(value)  # anything else, as asdict does


def builder_from_dict(d: dict[str, Any]) -> Builder:
    return Builder(
        builderid=int(d["builderid"]),
        name=str(d["name"]),
        tags=tuple(d.get("tags") or ()),
        description=d.get("description"),
    )


def worker_from_dict(d: dict[str, Any]) -> Worker:
    return Worker(
        workerid=int(d["workerid"]),
        name=str(d["name"]),
        connected=bool(d["connected"]),
        builderids=tuple(int(b) for b in d.get("builderids") or ()),
        paused=bool(d.get("paused", False)),
        admin=d.get("admin"),
    )


def change_from_dict(d: dict[str, Any]) -> Change:
    return Change(
        changeid=int(d["changeid"]),
        revision=d.get("revision"),
        author=str(d.get("author") or ""),
        comments=str(d.get("comments") or ""),
        files=tuple(d.get("files") or ()),
        when_timestamp=d.get("when_timestamp"),
        branch=d.get("branch"),
        revlink=d.get("revlink"),
        repository=d.get("repository"),
    )


def log_from_dict(d: dict[str, Any]) -> Log:
    return Log(
        logid=int(d["logid"]),
        name=str(d["name"]),
        slug=str(d["slug"]),
        stepid=int(d["stepid"]),
        num_lines=int(d.get("num_lines") or 0),
        type=str(d.get("type") or "s"),
        complete=bool(d.get("complete", True)),
    )


def step_from_dict(d: dict[str, Any]) -> Step:
    return Step(
        stepid=int(d["stepid"]),
        buildid=int(d["buildid"]),
        number=int(d["number"]),
        name=str(d["name"]),
        results=d.get("results"),
        state_string=str(d.get("state_string") or ""),
        complete=bool(d.get("complete", True)),
        started_at=d.get("started_at"),
        complete_at=d.get("complete_at"),
        logs=tuple(log_from_dict(x) for x in d.get("logs") or ()),
        hidden=bool(d.get("hidden", False)),
    )


def build_from_dict(d: dict[str, Any]) -> Build:
    return Build(
        buildid=int(d["buildid"]),
        builderid=int(d["builderid"]),
        number=int(d["number"]),
        results=d.get("results"),
        complete=bool(d["complete"]),
        started_at=d.get("started_at"),
        complete_at=d.get("complete_at"),
        state_string=str(d.get("state_string") or ""),
        workerid=d.get("workerid"),
        properties=dict(d.get("properties") or {}),
        steps=[step_from_dict(x) for x in d.get("steps") or ()],
        changes=[change_from_dict(x) for x in d.get("changes") or ()],
    )


def fleet_from_dict(d: dict[str, Any]) -> FleetData:
    return FleetData(
        base_url=str(d["base_url"]),
        fetched_at=float(d["fetched_at"]),
        builders=[builder_from_dict(x) for x in d.get("builders") or ()],
        workers=[worker_from_dict(x) for x in d.get("workers") or ()],
        builds={
            int(k): [build_from_dict(b) for b in v] for k, v in (d.get("builds") or {}).items()
        },
        test_logs={int(k): str(v) for k, v in (d.get("test_logs") or {}).items()},
        errors=[str(e) for e in d.get("errors") or ()],
        source=str(d.get("source") or "live"),
        log_ids={int(k): str(v) for k, v in (d.get("log_ids") or {}).items()},
    )
