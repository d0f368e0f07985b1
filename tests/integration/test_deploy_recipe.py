"""The deployment recipe (docs/examples/rebuild.yml), run: its "Build the site" step.

GitHub Actions' own steps (checkout, cache, Pages) cannot run here; the build step can. Its
``run:`` command is executed exactly as written (shlex-split from the YAML) with its ``env:``,
in a temporary copy of the site (conf.py, docs/, checklists/), against the real local fleet
(``fleet`` fixture) and a local fake GitHub for the tracker the recipe configures: a cold run,
a warm run on the same cache, and a run with the master unreachable.

The cold run is also the whole-site check of the GitHub tracker: the token (a canary) must reach
the fake server's Authorization header and nowhere else: not the HTML, the doctrees, the cache,
stdout or stderr (where the warnings go).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from bbwatch.source.store import store_path
from bbwatch.sphinxext.config import BBWatchConfig

from tests.conftest import REPO
from tests.fakegithub import FakeGitHub
from tests.httpfake import Request

pytestmark = pytest.mark.integration

RECIPE = REPO / "docs" / "examples" / "rebuild.yml"
CANARY = "ghp_deployRecipeCanary0123456789abcdef"
# Only in the fake tracker: the "new" crash of the local fleet (bbwatch_fleet.scenarios,
# deliberately in no registry, and the recipe reads the production one) becomes known through it.
ISSUE = {"number": 990001, "state": "open",
         "title": "test_bbw_parser crashes with SIGABRT on aarch64 CentOS10 LTO 3.14"}
ISSUE_URL = "https://github.com/python/cpython/issues/990001"  # FakeGitHub's html_url
# what Actions substitutes for ${{ ... }} (a repository example.github.io/handbook publishes)
SECRETS = {"secrets.GITHUB_TOKEN": CANARY, "github.repository_owner": "example",
           "github.event.repository.name": "handbook"}
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Run:
    returncode: int
    # stdout + stderr (sphinx-build's warnings go to stderr)
    output: str = field(repr=False)
    pages: dict[str, str] = field(repr=False)  # live page stem -> HTML
    # every file under _build/: path -> (mtime_ns, bytes)
    files: dict[str, tuple[int, bytes]] = field(repr=False)
    # what the fake GitHub had received after this run
    github_requests: list[Request] = field(repr=False)
    # the cache store's entries after this run: key -> value bytes
    entries: dict[str, bytes] = field(repr=False, default_factory=dict)


class Forwarder:
    """The master at a URL of its own (127.0.0.1, bytes relayed to the fleet) that can go down:
    after ``stop()`` connections to the same URL are refused, as when a master is stopped, so
    the build finds the last fetch of that URL in its cache."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.port = int(self._server.getsockname()[1])
        self._open: list[socket.socket] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=30)
            except OSError:
                client.close()
                continue
            self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stopped.set()
        self._server.close()
        for sock in self._open:
            with contextlib.suppress(OSError):
                sock.close()


def _workflow() -> dict[Any, Any]:
    return yaml.safe_load(RECIPE.read_text(encoding="utf-8"))


def _build_step(workflow: dict[Any, Any]) -> dict[str, Any]:
    steps = workflow["jobs"]["build"]["steps"]
    return next(s for s in steps if s.get("name") == "Build the site")


def _uses(workflow: dict[Any, Any], action: str) -> dict[str, Any]:
    steps = workflow["jobs"]["build"]["steps"]
    return next(s for s in steps if str(s.get("uses", "")).startswith(action + "@"))


def _argv() -> list[str]:
    return shlex.split(_build_step(_workflow())["run"])


def _step_env(**overrides: str) -> dict[str, str]:
    """The step's env as Actions would give it (expressions substituted), then the test's
    overrides; on top of this process's environment without any bbwatch or token variable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BBWATCH_") and k != "GITHUB_TOKEN"}
    for key, value in _build_step(_workflow()).get("env", {}).items():
        env[key] = EXPRESSION.sub(lambda m: SECRETS[m.group(1)], str(value))
    env.update(overrides)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _entries(cache: Path) -> dict[str, bytes]:
    path = store_path(cache)
    if not path.is_file():
        return {}
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT key, value FROM entries"))
    finally:
        db.close()


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    work = tmp_path_factory.mktemp("deploy-recipe")
    shutil.copy2(REPO / "conf.py", work / "conf.py")
    for folder in ("docs", "checklists"):
        shutil.copytree(REPO / folder, work / folder, ignore=shutil.ignore_patterns("_build"))
    argv = _argv()
    outdir = work / argv[-1]
    found: dict[str, Run] = {}
    parts = urlsplit(fleet.url)
    master = Forwarder((parts.hostname or "127.0.0.1", parts.port or 80))
    url = f"http://127.0.0.1:{master.port}{parts.path}"
    with FakeGitHub([ISSUE]) as gh:
        for name in ("cold", "warm", "unreachable"):
            if name == "unreachable":
                master.stop()  # the same URL now refuses connections
            env = _step_env(BBWATCH_BUILDBOT_URL=url, BBWATCH_GITHUB_API_URL=gh.url)
            done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,
                                  errors="replace", timeout=600, check=False)
            pages = {p.stem: p.read_text(encoding="utf-8")
                     for p in (outdir / "live").glob("*.html")}
            found[name] = Run(done.returncode, done.stdout + done.stderr, pages,
                              _snapshot(work / "_build"), list(gh.requests),
                              _entries(work / "_build" / ".bbwatch-cache"))
    return found


# -- what the page promises, read from the YAML --------------------------------------------
def test_recipe_rebuilds_every_15_minutes() -> None:
    triggers = _workflow().get("on", _workflow().get(True))  # YAML 1.1 reads `on` as True
    crons = [entry["cron"] for entry in triggers["schedule"]]
    assert len(crons) == 1
    minute, *rest = crons[0].split()
    assert minute == "*/15" and rest == ["*", "*", "*", "*"]


def test_recipe_caches_the_default_cache_dir_beside_the_output() -> None:
    workflow = _workflow()
    argv = _argv()
    confdir, outdir = argv[argv.index("-c") + 1], argv[-1]
    default = BBWatchConfig().resolved_cache_dir(SimpleNamespace(outdir=outdir, confdir=confdir))
    cache = _uses(workflow, "actions/cache")["with"]
    assert Path(cache["path"]) == default
    assert cache["key"].startswith(cache["restore-keys"])  # a fresh key, restored by prefix
    assert _uses(workflow, "actions/upload-pages-artifact")["with"]["path"] == outdir


def test_recipe_builds_without_strict_or_warnings_as_errors() -> None:
    argv = _argv()
    assert argv[:3] == ["sphinx-build", "-b", "html"]
    assert not {"-W", "--fail-on-warning"} & set(argv)
    assert not any("bbwatch_strict" in arg for arg in argv)
    assert not any(key.startswith("BBWATCH_STRICT") for key in _build_step(_workflow())["env"])
    assert "bbwatch_strict" not in (REPO / "conf.py").read_text()


def test_recipe_configures_the_tracker_its_token_is_for() -> None:
    env = _build_step(_workflow())["env"]
    assert re.fullmatch(r"github:[\w.-]+/[\w.-]+", env["BBWATCH_TRACKER"])
    assert EXPRESSION.fullmatch(env["GITHUB_TOKEN"].split("#")[0].strip())


def test_deployment_page_shows_this_file() -> None:
    page = (REPO / "docs" / "maintaining" / "deployment.md").read_text()
    assert "```{literalinclude} ../examples/rebuild.yml" in page


# -- the build step, run ---------------------------------------------------------------------
def test_cold_run_fetches_the_fleet_into_the_default_cache(runs: dict[str, Run]) -> None:
    cold = runs["cold"]
    assert cold.returncode == 0, cold.output[-3000:]
    assert "bbwatch: live data fetched" in cold.output
    assert "Live data unavailable" not in cold.pages["known-failures"]
    assert ".bbwatch-cache/bbwatch.sqlite3" in cold.files
    assert any(key.startswith("client/") and "/builds/" in key
               for key in cold.entries), "no completed build cached beside the output"


def test_warm_run_reuses_the_cache(runs: dict[str, Run]) -> None:
    cold, warm = runs["cold"], runs["warm"]
    assert warm.returncode == 0, warm.output[-3000:]
    assert "bbwatch: live data fetched" in warm.output
    completed = [k for k in cold.entries if k.startswith("client/")
                 and re.search(r"/(builds|logs)/", k)]
    assert completed
    rewritten = [k for k in completed if warm.entries.get(k) != cold.entries[k]]
    assert not rewritten, f"completed builds' cache entries changed: {rewritten[:5]}"
    assert len(warm.github_requests) == len(cold.github_requests), "searches not cached"


def test_unreachable_master_still_publishes(runs: dict[str, Run]) -> None:
    down = runs["unreachable"]
    assert down.returncode == 0, down.output[-3000:]
    assert "bbwatch: live data unavailable" in down.output
    assert "Traceback" not in down.output
    for stem in ("status", "known-failures", "flaky-tests"):
        assert "Live data unavailable" in down.pages[stem], stem
    # the last good fetch from the cache stands in, dated
    assert "showing data from" in down.pages["status"]


# -- the GitHub tracker, through the whole site ---------------------------------------------
def test_tracker_searched_the_fake_github_with_the_token(runs: dict[str, Run]) -> None:
    requests = runs["cold"].github_requests
    assert requests, "the site never searched the configured GitHub"
    assert {r.path for r in requests} == {"/search/issues"}
    assert all(r.headers.get("Authorization") == f"Bearer {CANARY}" for r in requests)
    assert all(r.params["q"].startswith("repo:python/cpython ") for r in requests)


def test_known_failures_links_the_fake_servers_issue(runs: dict[str, Run]) -> None:
    page = runs["cold"].pages["known-failures"]
    assert f'href="{ISSUE_URL}"' in page
    assert "#990001: test_bbw_parser crashes with SIGABRT" in page


@pytest.mark.parametrize("name", ["cold", "warm", "unreachable"])
def test_token_appears_nowhere(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    assert CANARY not in run.output
    leaked = [path for path, (_mtime, data) in run.files.items() if CANARY.encode() in data]
    assert not leaked, f"token found in {leaked[:5]}"
    assert any(k.startswith("tracker/") for k in run.entries)
    assert not [k for k, v in run.entries.items() if CANARY.encode() in v]
