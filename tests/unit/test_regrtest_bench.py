"""bench/parse.py runs end to end on a small log and prints its one JSON object."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def test_bench_json_on_one_mb() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "parse.py"), "--mb", "1",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [line] = proc.stdout.splitlines()
    data = json.loads(line)
    assert {"mb", "mb_per_s", "peak_rss_mb", "grep_mb_per_s"} <= set(data)
    assert 0.9 <= data["mb"] <= 1.5
    assert data["mb_per_s"] > 0 and 0 < data["peak_rss_mb"] < 1024


def test_bench_rejects_a_bad_size() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "parse.py"), "--mb", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
