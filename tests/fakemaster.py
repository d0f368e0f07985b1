"""A tiny Buildbot REST API v2 on ``tests.httpfake.FakeServer``, for the client's protocol tests.

Only the endpoints and query parameters the client uses, in the shapes of Buildbot 4.3 (see
shared/reference/cpython-ci.md §4). Behaviour against a real master is covered by the
integration tests; this one exists so cache and fault tests can count and break requests.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from tests.httpfake import FakeServer, Reply, Request

STEPS = ("git", "compile", "test")
API = "/api/v2/"


class FakeMaster:
    def __init__(self, server: FakeServer, builders: int = 2, builds: int = 3) -> None:
        self.server = server
        self.url = server.url
        self.builders = [
            {
                "builderid": i,
                "name": f"AMD64 Fake{i} 3.x",
                "tags": ["3.x", "stable", "tier-1"],
                "description": None,
                "masterids": [1],
            }
            for i in range(1, builders + 1)
        ]
        self.workers = [
            {
                "workerid": 1,
                "name": "w1",
                "connected_to": [{"masterid": 1}],
                "paused": False,
                "configured_on": [
                    {"builderid": b["builderid"], "masterid": 1} for b in self.builders
                ],
                "workerinfo": {"admin": "Jane <jane@example.org>"},
            },
            {
                "workerid": 2,
                "name": "w2",
                "connected_to": [],
                "paused": False,
                "configured_on": [],
                "workerinfo": {},
            },
        ]
        self.builds: list[dict] = []
        self.steps: dict[int, list[dict]] = {}
        self.logs: dict[int, list[dict]] = {}
        self.raw: dict[int, str] = {}
        self.changes: dict[int, list[dict]] = {}
        for b in self.builders:
            for _ in range(builds):
                self.add_build(b["builderid"], results=2)
        self.sync()

    # -- data -----------------------------------------------------------------------------

    def add_build(self, builderid: int, results: int | None = 0, complete: bool = True) -> dict:
        buildid = len(self.builds) + 1
        number = sum(1 for b in self.builds if b["builderid"] == builderid)
        build = {
            "buildid": buildid,
            "builderid": builderid,
            "number": number,
            "workerid": 1,
            "buildrequestid": buildid,
            "masterid": 1,
            "complete": complete,
            "complete_at": 1000 + buildid if complete else None,
            "started_at": 900 + buildid,
            "results": results if complete else None,
            "locks_duration_s": 0,
            "state_string": "build successful" if results == 0 else "failed test",
            "properties": {"got_revision": [f"{buildid:040x}", "Git"]},
        }
        self.builds.append(build)
        steps = []
        for n, name in enumerate(STEPS):
            stepid = buildid * 10 + n
            step_results = (results if name == "test" else 0) if complete else None
            steps.append(
                {
                    "stepid": stepid,
                    "buildid": buildid,
                    "number": n,
                    "name": name,
                    "results": step_results,
                    "complete": complete,
                    "started_at": 900,
                    "complete_at": 1000 if complete else None,
                    "state_string": name,
                    "hidden": False,
                    "urls": [],
                }
            )
            logid = stepid * 10
            self.logs[stepid] = [
                {
                    "logid": logid,
                    "name": "stdio",
                    "slug": "stdio",
                    "stepid": stepid,
                    "complete": complete,
                    "num_lines": 3,
                    "type": "s",
                }
            ]
            self.raw[logid] = (
                f"Builder: AMD64 Fake{builderid} 3.x\nBuild number: {number}\nWorker name: w1\n"
                f"{name} output of build {buildid}\n== Tests result: FAILURE ==\n"
            )
        self.steps[buildid] = steps
        self.changes[buildid] = [
            {
                "changeid": buildid,
                "author": "A <a@example.org>",
                "branch": "main",
                "comments": f"gh-{buildid}: Fix things (#{buildid + 1})\n\nbody",
                "files": ["Lib/test/test_os.py"],
                "revision": f"{buildid:040x}",
                "revlink": "",
                "repository": "https://github.com/python/cpython",
                "when_timestamp": 800,
                "sourcestamp": {"revision": f"{buildid:040x}"},
            }
        ]
        return build

    def finish(self, buildid: int, results: int = 0) -> None:
        build = self.builds[buildid - 1]
        build.update(complete=True, results=results, complete_at=2000)
        for step in self.steps[buildid]:
            step.update(complete=True, results=0 if step["name"] != "test" else results)
            for log in self.logs[step["stepid"]]:
                log["complete"] = True

    # -- serving --------------------------------------------------------------------------

    def sync(self) -> None:
        """(Re-)register every route for the current data."""
        s = self.server
        s.route(API + "builders", Reply(body=lambda r: _env("builders", self.builders)))
        s.route(API + "workers", Reply(body=lambda r: _env("workers", self.workers)))
        s.route(API + "builds", Reply(body=self._builds_query))
        for b in self.builders:
            bid = b["builderid"]
            s.route(
                f"{API}builders/{bid}/builds",
                Reply(body=lambda r, bid=bid: self._builds_query(r, builderid=bid)),
            )
        for build in self.builds:
            buildid = build["buildid"]
            s.route(f"{API}builds/{buildid}", Reply(body=lambda r, b=build: _env("builds", [b])))
            s.route(
                f"{API}builders/{build['builderid']}/builds/{build['number']}",
                Reply(body=lambda r, b=build: _env("builds", [b])),
            )
            s.route(
                f"{API}builds/{buildid}/steps",
                Reply(body=lambda r, i=buildid: _env("steps", self.steps[i])),
            )
            s.route(
                f"{API}builds/{buildid}/changes",
                Reply(body=lambda r, i=buildid: _env("changes", self.changes[i])),
            )
            for step in self.steps[buildid]:
                stepid = step["stepid"]
                s.route(
                    f"{API}steps/{stepid}/logs",
                    Reply(body=lambda r, i=stepid: _env("logs", self.logs[i])),
                )
                for log in self.logs[stepid]:
                    s.route(
                        f"{API}logs/{log['logid']}/raw",
                        Reply(body=lambda r, i=log["logid"]: self.raw[i].encode()),
                    )

    def _builds_query(self, req: Request, builderid: int | None = None) -> bytes:
        q = parse_qs(req.query)
        rows = [b for b in self.builds if builderid is None or b["builderid"] == builderid]
        if "buildid__gt" in q:
            rows = [b for b in rows if b["buildid"] > int(q["buildid__gt"][0])]
        for order in q.get("order", []):
            key = order.lstrip("-")
            rows.sort(key=lambda b, k=key: b[k], reverse=order.startswith("-"))
        offset = int(q.get("offset", ["0"])[0])
        rows = rows[offset:]
        if "limit" in q:
            rows = rows[: int(q["limit"][0])]
        if "field" in q:
            rows = [{k: b[k] for k in q["field"]} for b in rows]
        return _env("builds", rows)


def _env(key: str, rows: list) -> bytes:
    return json.dumps({key: rows, "meta": {"total": len(rows)}}).encode()
