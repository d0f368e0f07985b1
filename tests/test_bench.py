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
