"""Buildbot's REST API v2 JSON to the dataclasses of ``bbwatch.models``: one function per
resource (``/builders``, ``/workers``, ``/builds``, ``/steps``, ``/logs``, ``/changes``). A
missing key or a wrong type raises KeyError/TypeError/ValueError; the client turns that into a
one-line ``BuildbotError``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from bbwatch.models import Build, Builder, Change, Log, Step, Worker


def builder_from_api(d: dict[str, Any]) -> Builder:
    return Builder(
        builderid=int(d["builderid"]),
        name=str(d["name"]),
        tags=tuple(str(t) for t in d.get("tags") or ()),
        description=d.get("description"),
    )


def worker_from_api(d: dict[str, Any]) -> Worker:
    info = d.get("workerinfo") or {}
    admin = info.get("admin") if isinstance(info, dict) else None
    return Worker(
        workerid=int(d["workerid"]),
        name=str(d["name"]),
        connected=bool(d.get("connected_to")),
        builderids=tuple(
            sorted({int(c["builderid"]) for c in d.get("configured_on") or ()})
        ),
        paused=bool(d.get("paused", False)),
        admin=str(admin).strip() if admin else None,
    )


def flatten_properties(props: Any) -> dict[str, object]:
    """API properties are ``{name: [value, source]}``; pages want ``{name: value}``."""
    if not isinstance(props, dict):
        return {}
    out: dict[str, object] = {}
    for name, pair in props.items():
        if isinstance(pair, list) and len(pair) == 2:
            out[str(name)] = pair[0]
    return out


def build_from_api(d: dict[str, Any]) -> Build:
    return Build(
        buildid=int(d["buildid"]),
        builderid=int(d["builderid"]),
        number=int(d["number"]),
        results=None if d.get("results") is None else int(d["results"]),
        complete=bool(d.get("complete")),
        started_at=d.get("started_at"),
        complete_at=d.get("complete_at"),
        state_string=str(d.get("state_string") or ""),
        workerid=d.get("workerid"),
        properties=flatten_properties(d.get("properties")),
    )


def step_from_api(d: dict[str, Any]) -> Step:
    return Step(
        stepid=int(d["stepid"]),
        buildid=int(d["buildid"]),
        number=int(d["number"]),
        name=str(d["name"]),
        results=None if d.get("results") is None else int(d["results"]),
        state_string=str(d.get("state_string") or ""),
        complete=bool(d.get("complete")),
        started_at=d.get("started_at"),
        complete_at=d.get("complete_at"),
        hidden=bool(d.get("hidden", False)),
    )


def replace_logs(step: Step, logs: tuple[Log, ...]) -> Step:
    return msgspec.structs.replace(step, logs=logs)


def log_from_api(d: dict[str, Any]) -> Log:
    return Log(
        logid=int(d["logid"]),
        name=str(d["name"]),
        slug=str(d["slug"]),
        stepid=int(d["stepid"]),
        num_lines=int(d.get("num_lines") or 0),
        type=str(d.get("type") or "s"),
        complete=bool(d.get("complete")),
    )


def change_from_api(d: dict[str, Any]) -> Change:
    return Change(
        changeid=int(d["changeid"]),
        revision=d.get("revision") or (d.get("sourcestamp") or {}).get("revision"),
        author=str(d.get("author") or ""),
        comments=str(d.get("comments") or ""),
        files=tuple(str(f) for f in d.get("files") or ()),
        when_timestamp=d.get("when_timestamp"),
        branch=d.get("branch"),
        revlink=d.get("revlink") or None,
        repository=d.get("repository") or None,
    )
