"""Real Buildbot 4.x API responses go through the client's HTTP path and conversion unharmed.

The bodies below are the response shapes buildbot.python.org returns, inline (field names and
values as published, not copies of the files): ``python/release-tools`` records them as its
test fixtures ``tests/buildbotapi/{builders,failure,success,no-builds}.json``, described in
``shared/reference/cpython-ci.md`` §4.3. Steps, logs, changes and workers (which release-tools
does not record) follow the field lists of Buildbot's ``api.raml`` (§4.2), the log one its
``log.raml`` example. They are served under ``/all/api/v2/`` on 127.0.0.1, where
buildbot.python.org serves its API, and reached from the URL watchers paste,
``https://buildbot.python.org/#/builders/3/builds/228``, through the ``BBWATCH_API_ROOT``
override of ``master_urls``: the rule's override moves the requests, and the links we print
stay the watchers' form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from bbwatch.commands.main import main
from bbwatch.models import Result
from bbwatch.source.sync import BuildbotClient
from bbwatch.source.urls import API_ROOT_ENV, build_url, parse_build_url

from tests.httpfake import FakeServer, Reply, Request

WATCHER_URL = "https://buildbot.python.org/#/builders/3/builds/228"
PY = "https://buildbot.python.org/"
API = "/all/api/v2/"
LOG = Path(__file__).parent / "samples" / "regrtest" / "real-313-full.log"

# python/release-tools:tests/buildbotapi/builders.json (cpython-ci.md §4.3): the answer to
# /builders?tags__contains=3.13, two of its builders, "meta.total" counting all three.
BUILDERS = {
    "builders": [
        {
            "builderid": 3,
            "description": None,
            "description_format": None,
            "description_html": None,
            "masterids": [1],
            "name": "AMD64 RHEL8 LTO 3.13",
            "projectid": None,
            "tags": ["3.13", "stable", "lto", "nondebug", "tier-1"],
        },
        {
            "builderid": 1623,
            "description": None,
            "description_format": None,
            "description_html": None,
            "masterids": [1],
            "name": "AMD64 Windows PGO NoGIL PR",
            "projectid": None,
            "tags": ["PullRequest", "unstable", "win64", "nogil", "nondebug", "pgo", "tier-1"],
        },
    ],
    "meta": {"total": 3},
}

# python/release-tools:tests/buildbotapi/failure.json (§4.3): the last complete build of a
# failing builder; no "property=" was asked, so "properties" is empty.
FAILURE = {
    "builds": [
        {
            "builderid": 3,
            "buildid": 1732278,
            "buildrequestid": 2341889,
            "complete": True,
            "complete_at": 1734198808,
            "locks_duration_s": 0,
            "masterid": 1,
            "number": 228,
            "properties": {},
            "results": 2,
            "started_at": 1734197714,
            "state_string": "failed test (failure)",
            "workerid": 28,
        }
    ],
    "meta": {"total": 1},
}

# python/release-tools:tests/buildbotapi/success.json (§4.3).
SUCCESS = {
    "builds": [
        {
            "builderid": 3,
            "buildid": 1645411,
            "buildrequestid": 2211085,
            "complete": True,
            "complete_at": 1728312495,
            "locks_duration_s": 531,
            "masterid": 1,
            "number": 6844,
            "properties": {},
            "results": 0,
            "started_at": 1728311538,
            "state_string": "build successful",
            "workerid": 27,
        }
    ],
    "meta": {"total": 1},
}

# python/release-tools:tests/buildbotapi/no-builds.json (§4.3).
NO_BUILDS: dict[str, Any] = {"builds": [], "meta": {"total": 0}}

BUILDID = 1732278
# Build 228's steps: CPython's step names (§2.4), fields of api.raml's step type (§4.2).
STEP_NAMES = ("git", "configure", "compile", "pythoninfo", "test", "clean")
STEPS = {
    "steps": [
        {
            "stepid": 9000 + n,
            "buildid": BUILDID,
            "number": n,
            "name": name,
            "results": 2 if name == "test" else 0,
            "complete": True,
            "started_at": 1734197714 + n,
            "complete_at": 1734198800 + n,
            "state_string": "failed test (failure)" if name == "test" else name,
            "urls": [],
            "hidden": False,
            "locks_acquired_at": 1734197714 + n,
        }
        for n, name in enumerate(STEP_NAMES)
    ],
    "meta": {"total": len(STEP_NAMES)},
}
TEST_STEPID = 9000 + STEP_NAMES.index("test")
TEST_LOGID = 60
# log.raml's example log, made the complete stdio of the test step.
LOGS = {
    "logs": [
        {
            "logid": TEST_LOGID,
            "name": "stdio",
            "slug": "stdio",
            "stepid": TEST_STEPID,
            "complete": True,
            "num_lines": 120,
            "type": "s",
        }
    ],
    "meta": {"total": 1},
}
# A change with every field api.raml lists (§4.2).
REVISION = "0123456789abcdef0123456789abcdef01234567"
CHANGES = {
    "changes": [
        {
            "changeid": 500,
            "author": "A. Developer <dev@example.org>",
            "branch": "3.13",
            "category": None,
            "codebase": "",
            "comments": "[3.13] gh-12345: Fix a test (GH-12346)",
            "files": ["Lib/test/test_os.py"],
            "parent_changeids": [499],
            "project": "",
            "properties": {},
            "repository": "https://github.com/python/cpython",
            "revision": REVISION,
            "revlink": f"https://github.com/python/cpython/commit/{REVISION}",
            "sourcestamp": {
                "ssid": 77,
                "branch": "3.13",
                "codebase": "",
                "project": "",
                "repository": "https://github.com/python/cpython",
                "revision": REVISION,
                "patch": None,
                "created_at": 1734197700,
            },
            "when_timestamp": 1734197600,
        }
    ],
    "meta": {"total": 1},
}
# /workers: the fields the release dashboard reads (§4.2); the worker name is illustrative.
WORKERS = {
    "workers": [
        {
            "workerid": 28,
            "name": "rhel8-x86_64",
            "workerinfo": {"admin": None, "host": None},
            "paused": False,
            "graceful": False,
            "connected_to": [{"masterid": 1}],
            "configured_on": [{"builderid": 3, "masterid": 1}],
        }
    ],
    "meta": {"total": 1},
}
# Buildbot >= 4.0 starts a raw stdio log with these three lines (§4.2).
RAW_HEADER = "Builder: AMD64 RHEL8 LTO 3.13\nBuild number: 228\nWorker name: rhel8-x86_64\n"


def _builds_query(req: Request) -> bytes:
    """/builds as the client asks it: the newest buildid (order=-buildid, limit=1)."""
    q = parse_qs(req.query)
    rows = FAILURE["builds"] if "-buildid" in q.get("order", []) else []
    if "field" in q:
        rows = [{k: b[k] for k in q["field"]} for b in rows]
    return json.dumps({"builds": rows, "meta": {"total": len(rows)}}).encode()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        srv.route(API + "builders", Reply.json(BUILDERS))
        srv.route(API + "workers", Reply.json(WORKERS))
        srv.route(API + "builds", Reply(body=_builds_query))
        srv.route(API + "builders/3/builds", Reply.json(FAILURE))
        srv.route(API + "builders/1623/builds", Reply.json(NO_BUILDS))
        srv.route(API + "builders/3/builds/228", Reply.json(FAILURE))
        srv.route(API + f"builds/{BUILDID}/steps", Reply.json(STEPS))
        srv.route(API + f"builds/{BUILDID}/changes", Reply.json(CHANGES))
        srv.route(API + f"steps/{TEST_STEPID}/logs", Reply.json(LOGS))
        srv.route(API + f"logs/{TEST_LOGID}", Reply.json(LOGS))
        srv.route(API + f"logs/{TEST_LOGID}/raw",
                  Reply(body=(RAW_HEADER + LOG.read_text()).encode()))
        yield srv


@pytest.fixture
def api_root(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """buildbot.python.org's API, moved to 127.0.0.1 by the rule's override."""
    root = f"{server.url}all/api/v2/"
    monkeypatch.setenv(API_ROOT_ENV, root)
    return root


def test_builders_and_builds_convert(server: FakeServer, api_root: str) -> None:
    with BuildbotClient(WATCHER_URL, backoff_factor=0.0) as client:
        assert (client.base_url, client.api_url) == (PY, api_root)
        rhel, nogil = client.builders()
        assert (rhel.builderid, rhel.name, rhel.description) == (3, "AMD64 RHEL8 LTO 3.13", None)
        assert rhel.tags == ("3.13", "stable", "lto", "nondebug", "tier-1")
        assert (rhel.branch, rhel.stable) == ("3.13", True)
        assert (nogil.builderid, nogil.branch, nogil.stable) == (
            1623, "PullRequest", False)

        # release-tools' is_builder_failing_currently() query, answered three ways.
        server.route(API + "builds", *(Reply.json(v) for v in (FAILURE, SUCCESS, NO_BUILDS)))
        query = {"complete__eq": True, "builderid__eq": 3}
        (failed,) = client.find_builds(order="-complete_at", limit=1, **query)
        assert (failed.buildid, failed.number, failed.result) == (1732278, 228, Result.FAILURE)
        assert (failed.state_string, failed.properties) == ("failed test (failure)", {})
        assert (failed.started_at, failed.complete_at, failed.workerid) == (
            1734197714, 1734198808, 28)
        (good,) = client.find_builds(order="-complete_at", limit=1, **query)
        assert (good.number, good.result, good.state_string) == (
            6844, Result.SUCCESS, "build successful")
        assert client.find_builds(order="-complete_at", limit=1, **query) == []
    sent = [r for r in server.requests if r.path == API + "builds"][0]
    assert parse_qs(sent.query)["complete__eq"] == ["true"]
    assert all(r.path.startswith(API) for r in server.requests)


def test_the_pasted_build_in_full(server: FakeServer, api_root: str) -> None:
    ref = parse_build_url(WATCHER_URL)
    assert (ref.base_url, ref.api_root, ref.builderid, ref.number) == (PY, api_root, 3, 228)
    with BuildbotClient(ref.base_url, backoff_factor=0.0) as client:
        builder, build = client.resolve(ref)
        assert builder.name == "AMD64 RHEL8 LTO 3.13"
        assert (build.number, build.result, build.complete) == (228, Result.FAILURE, True)
        assert [s.name for s in build.steps] == list(STEP_NAMES)
        test = build.step("test")
        assert test is not None and test.result is Result.FAILURE
        assert [(lg.logid, lg.slug, lg.type, lg.num_lines) for lg in test.logs] == [
            (TEST_LOGID, "stdio", "s", 120)]
        (change,) = build.changes
        assert (change.revision, change.branch, change.files) == (
            REVISION, "3.13", ("Lib/test/test_os.py",))
        assert change.title == "[3.13] gh-12345: Fix a test (GH-12346)"
        # The 4.x header is not the build's output.
        assert client.test_log(build) == LOG.read_text()
        assert build_url(client.base_url, build.builderid, build.number) == WATCHER_URL


def test_fetch_fleet_over_real_shapes(server: FakeServer, api_root: str, tmp_path: Path) -> None:
    with BuildbotClient(WATCHER_URL, cache_dir=tmp_path, backoff_factor=0.0) as client:
        fleet = client.fetch_fleet(history=5)
    assert fleet.errors == []
    assert fleet.base_url == PY
    assert [b.name for b in fleet.builders] == [
        "AMD64 RHEL8 LTO 3.13", "AMD64 Windows PGO NoGIL PR"]
    assert [b.number for b in fleet.builds[3]] == [228] and fleet.builds.get(1623, []) == []
    assert fleet.test_logs[BUILDID] == LOG.read_text()
    (worker,) = fleet.workers
    assert (worker.name, worker.connected, worker.builderids, worker.admin) == (
        "rhel8-x86_64", True, (3,), None)


def test_cli_parse_of_the_pasted_url(
    server: FakeServer, api_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BBWATCH_CACHE_DIR", str(tmp_path))
    assert main(["parse", str(LOG), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["parse", WATCHER_URL, "--json"]) == 0
    out, err = capsys.readouterr()
    from_url = json.loads(out)
    assert from_url["failed"] == from_file["failed"] and from_url["failed"]
    assert from_url["result"] == from_file["result"]
    assert err == ""


def test_cli_parse_of_a_raw_log_url_by_id(
    server: FakeServer, api_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The UI's download link of a log: that log, from the API root the rule gives."""
    monkeypatch.setenv("BBWATCH_CACHE_DIR", str(tmp_path))
    url = f"https://buildbot.python.org/all/api/v2/logs/{TEST_LOGID}/raw"
    with BuildbotClient(url, backoff_factor=0.0) as client:
        log = client.log(TEST_LOGID)
        assert (log.logid, log.stepid, log.slug, log.complete) == (
            TEST_LOGID, TEST_STEPID, "stdio", True)
    assert main(["parse", url, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["failed"] and err == ""
    assert server.count(API + f"logs/{TEST_LOGID}/raw") == 1
    # An unknown log id is one line on stderr.
    assert main(["parse", f"{PY}api/v2/logs/999/raw"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "logs/999" in err
