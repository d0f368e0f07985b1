"""Build the live pages against a hostile master, once, for tests/test_hostile.py and the browser.

The master is ``tests/scalefleet.py`` serving a hostile fleet in this process (Sphinx runs in
its own): builders 1-3 have names, workers, commits, authors, test ids and log lines made of
``tests/hostile.py``'s payloads. The
tracker is a local issues file whose matching issue has a hostile title and an href-breaking
URL. ``GITHUB_TOKEN`` is set to a canary that must never show up anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests import hostile
from tests.conftest import REPO
from tests.fleetdata import Fleet
from tests.scalefleet import serve

ROOT = REPO / "tests" / "roots" / "test-faults"
TOKEN_CANARY = "ghp_bbwatchCanaryToken0123456789abcdef"
HOSTILE_ISSUE = {
    # names the hostile test method, so matching ranks it as the known issue
    "number": 4242, "title": f"{hostile.TEST_ID.rsplit('.', 1)[-1]} breaks {hostile.SCRIPT}",
    # the tracker refuses non-http(s) URLs; this one tries to break out of the href instead
    "state": "open", "url": "https://github.com/python/cpython/issues/4242#" + hostile.IMG,
    "labels": [hostile.IMG],
}


@dataclass
class HostileSite:
    outdir: Path
    cache: Path
    output: str  # sphinx-build's stdout and stderr
    master_url: str
    returncode: int

    def html_files(self) -> list[Path]:
        return sorted(self.outdir.rglob("*.html"))

    def live_pages(self) -> list[Path]:
        """The pages showing network-derived data: the live pages and the triage pages."""
        return [self.outdir / f"{n}.html" for n in ("status", "failures", "flaky")] + sorted(
            (self.outdir / "triage").rglob("*.html"))


def build_hostile_site(tmp: Path) -> HostileSite:
    issues = tmp / "issues.json"
    issues.write_text(json.dumps([HOSTILE_ISSUE]), encoding="utf-8")
    with serve(Fleet(6, 6, seed=5, log_kb=8, hostile=True), latency=0) as server:
        url = server.url
        env = {k: v for k, v in os.environ.items() if not k.startswith("BBWATCH_")}
        env.update({"BBWATCH_BUILDBOT_URL": url, "BBWATCH_TEST_ISSUES": str(issues),
                    "GITHUB_TOKEN": TOKEN_CANARY})
        outdir, cache = tmp / "html", tmp / "cache"
        done = subprocess.run(
            [sys.executable, "-m", "sphinx", "-b", "html", "-q", "--keep-going", "-E",
             "-D", f"bbwatch_cache_dir={cache}", str(ROOT), str(outdir)],
            cwd=tmp, env=env, capture_output=True, text=True, errors="replace", timeout=300)
    return HostileSite(outdir, cache, done.stdout + done.stderr, url, done.returncode)
