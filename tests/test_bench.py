"""bench/fetch.py on a tiny fleet: its JSON contract, and the targets that do not depend on the
machine's speed (request counts, no log fetched twice, the naive client sees the same builds).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

KEYS = {"cold_s", "cold_requests", "naive_s", "naive_requests", "warm_s", "warm_requests",
        "warm10_requests"}


def test_fetch_bench_json_and_request_targets() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "fetch.py"), "--builders", "4", "--builds", "8",
         "--latency-ms", "0", "--log-kb", "4", "--history", "5", "--naive-builders", "4",
         "--json"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert KEYS <= set(result)
    assert result["warm_requests"] <= 3
    assert result["warm10_requests"] <= 3 + 10 * 9  # steps, 6 log lists, changes, test log
    assert result["warm10_requests"] > result["warm_requests"]  # the new builds were fetched
    assert result["log_refetches"] == 0
    assert result["same_builds"] is True
    assert result["naive_sampled_builders"] == 4  # nothing extrapolated at this size
    assert result["cold_requests"] > 4 * 5  # at least one request per build shown
    assert result["cold_errors"] == result["warm_errors"] == result["warm10_errors"] == 0


def _freshness():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_freshness",
                                                  REPO / "bench" / "freshness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _status(*links: tuple[int, int]) -> str:
    """A status page's build links as it writes them (history strips and the Links column)."""
    return "".join(f'<a class="bbwatch-cell" href="http://m/#/builders/{b}/builds/{n}">x</a>'
                   for b, n in links)


def test_freshness_judges_a_red_build_by_the_status_page_that_first_shows_it() -> None:
    """A red build must be on known-failures only while it is still failing in the data of
    the rebuild that first shows it; a passing build after it leaves the status page alone."""
    judge = _freshness().judge
    red = {(2, 204): True, (2, 205): False, (3, 207): True, (3, 208): True, (3, 209): True,
           (4, 10): True, (4, 11): True, (4, 12): False}
    # still the builder's newest build: known-failures must link it
    page = _status((2, 203), (2, 204), (12, 300), (3, 207))
    assert judge(page, 2, 204, red) == ("newest", 204)
    # a passing build followed before the rebuild: the status page alone counts
    assert judge(_status((2, 204), (2, 205)), 2, 204, red) == ("superseded", None)
    # newer builds, all red: the streak goes on, known-failures must link its newest build
    assert judge(_status((3, 207), (3, 208), (3, 209)), 3, 207, red) == ("streak", 209)
    # red, then red, then green: no longer failing
    assert judge(_status((4, 10), (4, 11), (4, 12)), 4, 10, red) == ("superseded", None)
