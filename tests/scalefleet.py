"""A Buildbot REST API v2 for a generated fleet: the scale, fault and hostile fixture.

Served by ``tests.httpfake.FakeServer``, in-process (``serve(Fleet(...))``, for the tests) or as
its own process (``python -m tests.scalefleet --port 0`` from the repo root, for the bench and
the fault tests): it prints its base URL on the first line of stdout and serves until killed.
Every response waits ``--latency-ms`` first, like a real master across the internet.
``--fault`` makes it misbehave (see ``Fault``); ``--hostile`` puts hostile strings into names,
commits and logs (see ``tests/hostile.py``). The data is ``tests/fleetdata.py``.

Admin endpoints (no latency, not counted):
``GET /admin/stats`` request counts (total, per path, per route, per raw-log id);
``POST /admin/reset`` zero the counts; ``POST /admin/add-builds?n=10`` append completed builds;
``POST /admin/faults`` replace the faults with a JSON list of ``Fault`` fields.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from collections import Counter
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, unquote

from tests.fleetdata import STEP_NAMES, Fleet, huge_log_blocks
from tests.httpfake import FakeServer, Reply, Request

FAULT_KINDS = ("status", "429", "slow", "truncated", "invalid-json", "huge-log", "kill", "drop")


@dataclass
class Fault:
    """One way to misbehave on paths matching ``path`` (a regex on the URL path).

    ``status``: answer ``value`` (e.g. 500) with a Buildbot-style error body; ``429``: Too Many
    Requests with ``Retry-After: value``; ``slow``: sleep ``value`` seconds first; ``truncated``:
    a 200 whose JSON stops half-way; ``invalid-json``: a 200 HTML error page; ``huge-log``: raw
    logs are ``value`` MB, streamed (never stored); ``kill``: SIGKILL the server on the
    ``value``-th matching request; ``drop``: close the connection without answering.
    ``times`` limits how many requests it hits (None: all).
    """

    kind: str
    path: str = ""
    value: float = 0
    times: int | None = None
    hits: int = 0

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``KIND[,path=REGEX][,value=N][,times=N]``, e.g. ``status,path=/logs/,value=404``."""
        kind, *opts = text.split(",")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(FAULT_KINDS)})")
        fault = cls(kind)
        for opt in opts:
            key, _, val = opt.partition("=")
            if key == "path":
                re.compile(val)
                fault.path = val
            elif key == "value":
                fault.value = float(val)
            elif key == "times":
                fault.times = int(val)
            else:
                raise ValueError(f"unknown fault option {key!r} in {text!r}")
        return fault


class Api:
    """Routes ``/api/v2/...`` paths to fleet resources; pure apart from the fleet's lock."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[str, object]:
        """Return (route name, JSON-able body or ("raw", log id)); raise LookupError for 404."""
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        f = self.fleet
        match parts:
            case ["builders"]:
                return "builders", self._collection("builders", f.builder_rows, query)
            case ["builders", key]:
                return "builder", self._collection("builders", [self._builder(key)], query)
            case ["workers"]:
                return "workers", self._collection("workers", f.worker_rows, query)
            case ["workers", wid]:
                rows = [w for w in f.worker_rows if str(w["workerid"]) == wid or w["name"] == wid]
                return "worker", self._collection("workers", self._one(rows), query)
            case ["builds"]:
                with f.lock:
                    specs = list(f.specs.values())
                specs, total = _index_scan(specs, query)
                rows = [f.build_row(s, "property" in query) for s in specs]
                found = self._collection("builds", rows, query)
                if total is not None:
                    found["meta"]["total"] = total
                return "builds", found
            case ["builds", bid]:
                return "build", self._builds([self._spec(bid)], query)
            case ["builders", key, "builds"]:
                builder = self._builder(key)
                with f.lock:
                    ids = list(f.by_builder.get(int(builder["builderid"]), []))
                return "builder-builds", self._builds([f.specs[i] for i in ids], query)
            case ["builders", key, "builds", num]:
                return "builder-build", self._builds([self._numbered(key, num)], query)
            case ["builds", bid, "steps"]:
                return "steps", self._collection("steps", f.steps(self._spec(bid)), query)
            case ["builders", key, "builds", num, "steps"]:
                spec = self._numbered(key, num)
                return "steps", self._collection("steps", f.steps(spec), query)
            case ["builds", bid, "changes"]:
                return "changes", self._collection("changes", [self._spec(bid).change], query)
            case ["changes", cid]:
                return "change", self._collection("changes", [self._spec(cid).change], query)
            case ["builds", bid, "properties"]:
                return "properties", {
                    "properties": [f.properties(self._spec(bid))],
                    "meta": {"total": 1},
                }
            case ["steps", sid]:
                return "step", self._collection("steps", [self._step(int(sid))], query)
            case ["steps", sid, "logs"]:
                return "logs", self._collection("logs", self._one([f.log_row(int(sid))]), query)
            case ["steps", sid, "logs", "stdio"]:
                return "log", self._collection("logs", self._one([f.log_row(int(sid))]), query)
            case ["logs", lid]:
                return "log", self._collection("logs", self._one([f.log_row(int(lid))]), query)
            case ["logs", lid, ("raw" | "raw_inline" | "contents") as how]:
                return self._log(int(lid), how, query)
            case ["steps", sid, "logs", "stdio", ("raw" | "raw_inline" | "contents") as how]:
                return self._log(int(sid), how, query)
            case ["builds", bid, "steps", step, "logs", "stdio", how]:
                return self._log(self._logid(self._spec(bid), step), how, query)
            case ["builders", key, "builds", num, "steps", step, "logs", "stdio", how]:
                return self._log(self._logid(self._numbered(key, num), step), how, query)
        raise LookupError(f"Invalid path: {'/'.join(parts)}")

    # -- lookups ----------------------------------------------------------------------------
    @staticmethod
    def _one(rows: list) -> list:
        if not rows or rows[0] is None:
            raise LookupError("not found")
        return rows

    def _builder(self, key: str) -> dict[str, object]:
        for row in self.fleet.builder_rows:
            if str(row["builderid"]) == key or row["name"] == key:
                return row
        raise LookupError(f"no builder {key!r}")

    def _spec(self, bid: str):
        try:
            return self.fleet.specs[int(bid)]
        except (KeyError, ValueError):
            raise LookupError(f"no build {bid!r}") from None

    def _numbered(self, key: str, num: str):
        ids = self.fleet.by_builder.get(int(self._builder(key)["builderid"]), [])
        if not num.isdigit() or int(num) >= len(ids):
            raise LookupError(f"no build {num!r} on builder {key!r}")
        return self.fleet.specs[ids[int(num)]]

    def _step(self, stepid: int) -> dict[str, object]:
        spec = self.fleet.spec_for_log(stepid)
        if spec is None:
            raise LookupError(f"no step {stepid}")
        return self.fleet.steps(spec)[stepid % 10]

    @staticmethod
    def _logid(spec, step: str) -> int:
        index = (
            int(step) if step.isdigit() else STEP_NAMES.index(step) if step in STEP_NAMES else -1
        )
        if not 0 <= index < len(STEP_NAMES):
            raise LookupError(f"no step {step!r}")
        return spec.buildid * 10 + index

    def _log(self, logid: int, how: str, query: dict[str, list[str]]) -> tuple[str, object]:
        if self.fleet.spec_for_log(logid) is None:
            raise LookupError(f"no log {logid}")
        if how == "contents":
            lines = self.fleet.log_text(logid).splitlines(keepends=True)
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", [str(len(lines))])[0])
            chunk = lines[offset : offset + limit]
            # logchunks keep the stream prefix ("o" stdout, "h" header) on every line
            content = "".join("o" + line for line in chunk)
            return "contents", {
                "logchunks": [{"logid": logid, "firstline": offset, "content": content}],
                "meta": {},
            }
        if how not in ("raw", "raw_inline"):
            raise LookupError(f"Invalid path: {how}")
        return "raw", ("raw", logid)

    def _builds(self, specs: list, query: dict[str, list[str]]) -> dict[str, object]:
        rows = [self.fleet.build_row(s, "property" in query) for s in specs]
        return self._collection("builds", rows, query)

    # -- result specs (buildbot/data/resultspec.py) --------------------------------------------
    @staticmethod
    def _collection(name: str, rows: list, query: dict[str, list[str]]) -> dict[str, object]:
        rows = [dict(r) for r in rows]
        for key, values in query.items():
            if key in ("field", "order", "limit", "offset", "property"):
                continue
            fieldname, _, op = key.partition("__")
            op = op or "eq"
            if rows and fieldname not in rows[0]:
                raise ValueError(f"unrecognized query parameter: {key}")
            rows = [r for r in rows if _matches(r.get(fieldname), op, values)]
        total = len(rows)
        for order in reversed(query.get("order", [])):
            desc = order.startswith("-")
            key = order.lstrip("-")
            rows.sort(key=lambda r, k=key: (r.get(k) is None, r.get(k)), reverse=desc)
        offset = int(query.get("offset", ["0"])[0])
        if "limit" in query:
            rows = rows[offset : offset + int(query["limit"][0])]
        elif offset:
            rows = rows[offset:]
        if "field" in query:
            keep = set(query["field"])
            rows = [{k: v for k, v in r.items() if k in keep} for r in rows]
        return {name: rows, "meta": {"total": total}}


_RANGE = {"buildid__gt": int.__gt__, "buildid__ge": int.__ge__, "buildid__lt": int.__lt__,
          "buildid__le": int.__le__}
_INDEXED = {*_RANGE, "builderid", "builderid__in"}


def _index_scan(specs: list, query: dict[str, list[str]]) -> tuple[list, int | None]:
    """What a master's database does with its indexes before any row is built: narrow the
    builds by buildid range and builder, and for ``order=[-]buildid`` with a ``limit``, keep
    only the first ``offset + limit``. (Building all 30,000 rows for every query made this
    fixture answer ``/builds?buildid__gt=`` in 0.4 s instead of its configured latency.)
    The generic filtering in ``_collection`` still runs on what is left, so answers are the
    same; returns (specs, the total before slicing, or None when nothing was sliced)."""
    for key, op in _RANGE.items():
        for value in query.get(key, ()):
            specs = [s for s in specs if op(s.buildid, int(value))]
    wanted = [int(v) for key in ("builderid", "builderid__in") for raw in query.get(key, ())
              for v in raw.split(",")]
    if wanted:
        specs = [s for s in specs if s.builderid in set(wanted)]
    filters = {k for k in query if k not in ("field", "order", "limit", "offset", "property")}
    if query.get("order") in (["-buildid"], ["buildid"]) and "limit" in query and (
            filters <= _INDEXED):
        total = len(specs)
        keep = int(query.get("offset", ["0"])[0]) + int(query["limit"][0])
        desc = query["order"] == ["-buildid"]
        return sorted(specs, key=lambda s: s.buildid, reverse=desc)[:keep], total
    return specs, None


def _coerce(sample: object, value: str) -> object:
    if isinstance(sample, bool):
        return value.lower() in ("on", "true", "yes", "1")
    if isinstance(sample, int):
        return int(value)
    return value


_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _matches(actual: object, op: str, values: list[str]) -> bool:
    if op in ("in", "notin"):
        vals = [_coerce(actual, v) for raw in values for v in raw.split(",")]
        return (actual in vals) == (op == "in")
    if op == "contains":
        return any(v in actual for v in values) if isinstance(actual, list | str) else False
    if op not in _OPS:
        raise ValueError(f"unknown operator {op!r}")
    if actual is None:
        return False
    return (
        any(_OPS[op](actual, _coerce(actual, v)) for v in values)
        if op == "eq"
        else all(_OPS[op](actual, _coerce(actual, v)) for v in values)
    )


class Server:
    """The fleet's API on a ``FakeServer``: latency, faults, and counts by path, route and log."""

    def __init__(self, fleet: Fleet, latency: float, faults: list[Fault], port: int = 0) -> None:
        self.api = Api(fleet)
        self.fleet = fleet
        self.latency = latency
        self.faults = faults
        self.routes: Counter[str] = Counter()
        self.raw_logs: Counter[int] = Counter()
        self.stats_lock = threading.Lock()
        self.http = FakeServer(port)
        self.http.mount("/", self._api)
        self.http.route("/admin/stats", lambda req: _json(200, self.stats()))
        self.http.route("/admin/reset", self._reset)
        self.http.route("/admin/add-builds", self._add_builds)
        self.http.route("/admin/faults", self._set_faults)
        self.url = self.http.url

    def stop(self) -> None:
        self.http.stop()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, object]:
        paths = Counter(r.path for r in list(self.http.requests) if _counted(r.path))
        with self.stats_lock:
            return {
                "total": sum(paths.values()),
                "paths": dict(paths),
                "routes": dict(self.routes),
                "raw_logs": {str(k): v for k, v in self.raw_logs.items()},
            }

    def take_fault(self, path: str) -> Fault | None:
        with self.stats_lock:
            for fault in self.faults:
                if re.search(fault.path, path) and (
                    fault.times is None or fault.hits < fault.times
                ):
                    fault.hits += 1
                    return fault
        return None

    # -- admin ------------------------------------------------------------------------------
    def _reset(self, req: Request) -> Reply:
        if req.method != "POST":
            return _json(404, {"error": "not found"})
        self.http.reset_log()
        with self.stats_lock:
            self.routes.clear()
            self.raw_logs.clear()
        return _json(200, {"ok": True})

    def _add_builds(self, req: Request) -> Reply:
        if req.method != "POST":
            return _json(404, {"error": "not found"})
        return _json(200, {"added": self.fleet.add_builds(int(req.params.get("n", "1")))})

    def _set_faults(self, req: Request) -> Reply:
        if req.method != "POST":
            return _json(404, {"error": "not found"})
        with self.stats_lock:
            self.faults = [Fault(**f) for f in json.loads(req.body or b"[]")]
            return _json(200, {"faults": [asdict(f) for f in self.faults]})

    # -- the API ----------------------------------------------------------------------------
    def _api(self, req: Request) -> Reply:
        if not _counted(req.path):
            return _json(404, {"error": "Invalid path: not under /api/v2/"})
        path = req.path[req.path.find("/api/v2/") + len("/api/v2") :]
        fault = self.take_fault(req.path)
        if fault and fault.kind == "kill":
            if fault.hits >= max(1, int(fault.value)):
                os.kill(os.getpid(), signal.SIGKILL)
            fault = None
        delay = self.latency
        if fault and fault.kind == "slow":
            delay += fault.value
            fault = None
        try:
            route, body = self.api.route(path, parse_qs(req.query))
        except LookupError as exc:
            self._count("404")
            return _json(404, {"error": str(exc)}, delay)
        except ValueError as exc:
            self._count("400")
            return _json(400, {"error": str(exc)}, delay)
        logid = body[1] if isinstance(body, tuple) else None
        if route == "contents":
            logid = body["logchunks"][0]["logid"]
        self._count(route, logid)
        if fault:
            reply = self._faulty(fault, body)
        elif isinstance(body, tuple):
            text = self.fleet.log_text(body[1]).encode("utf-8", "surrogatepass")
            reply = Reply(body=text, headers={"Content-Type": "text/plain; charset=utf-8"})
        else:
            reply = _json(200, body)
        reply.delay = delay
        return reply

    def _count(self, route: str, logid: int | None = None) -> None:
        with self.stats_lock:
            self.routes[route] += 1
            if logid is not None:  # log contents fetched (raw, raw_inline or contents)
                self.raw_logs[logid] += 1

    def _faulty(self, fault: Fault, body: object) -> Reply:
        text = {"Content-Type": "text/plain; charset=utf-8"}
        if fault.kind == "status":
            return _json(int(fault.value), {"error": f"injected {int(fault.value)}"})
        if fault.kind == "429":
            return Reply(status=429, body=b'{"error": "too many requests"}',
                         headers={"Content-Type": "application/json",
                                  "Retry-After": str(int(fault.value or 1))})
        if fault.kind == "drop":
            return Reply(drop=True)
        if fault.kind == "invalid-json":
            return Reply(body=b"<html><body>502 Bad Gateway</body></html>",
                         headers={"Content-Type": "application/json"})
        if isinstance(body, tuple):  # a log: truncated/huge apply to its text
            if fault.kind == "huge-log":
                megabytes = int(fault.value or 500)  # streamed, never stored
                return Reply(body=huge_log_blocks(megabytes), length=megabytes * 1_000_000,
                             headers=text)
            data = self.fleet.log_text(body[1]).encode()
            return Reply(body=data[: len(data) // 2], headers=text)
        if fault.kind == "truncated":
            data = json.dumps(body).encode()
            return Reply(body=data[: len(data) // 2], headers={"Content-Type": "application/json"})
        return _json(200, body)


def _counted(path: str) -> bool:
    return "/api/v2/" in path


def _json(status: int, body: object, delay: float = 0.0) -> Reply:
    return Reply(status=status, body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"}, delay=delay)


def serve(
    fleet: Fleet, latency: float = 0.05, faults: list[Fault] | None = None, port: int = 0
) -> Server:
    """Serve ``fleet`` in this process (daemon threads); ``.stop()`` stops it."""
    return Server(fleet, latency, faults or [], port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builders", type=int, default=150)
    parser.add_argument("--builds", type=int, default=200, help="builds per builder")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--log-kb", type=int, default=200, help="size of a test step's stdio")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hostile", action="store_true", help="hostile names, commits and logs")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="KIND[,path=REGEX][,value=N][,times=N]; kinds: " + ", ".join(FAULT_KINDS),
    )
    args = parser.parse_args(argv)
    try:
        faults = [Fault.parse(spec) for spec in args.fault]
    except (ValueError, re.error) as exc:
        print(f"scalefleet: bad --fault: {exc}", file=sys.stderr)
        return 2
    if args.builders < 1 or args.builds < 1:
        print("scalefleet: --builders and --builds must be at least 1", file=sys.stderr)
        return 2
    fleet = Fleet(args.builders, args.builds, args.seed, args.log_kb, args.hostile)
    server = Server(fleet, args.latency_ms / 1000, faults, args.port)
    print(server.url, flush=True)
    try:
        server.http.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
