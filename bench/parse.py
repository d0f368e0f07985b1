"""Benchmark `bbwatch parse` on a large regrtest-shaped log: MB/s and peak RSS.

Generates a log of ``--mb`` MB (default 200) in a temporary directory (deleted afterwards),
made of repeated regrtest runs: progress lines of every shape, heartbeats, verbose
``test_x (...) ... ok`` output (the bulk of real buildbot logs), FAIL/ERROR blocks, warnings,
crashes and summaries. Then times ``bbwatch parse FILE --json`` in a subprocess and the same
file through ``grep -c failed`` as the floor. Targets: >= 100 MB/s, peak RSS < 64 MB.

    python bench/parse.py [--mb N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB_PER_S = 100.0
TARGET_RSS_MB = 64.0
SAMPLE = Path(__file__).resolve().parent.parent / "tests/unit/samples/regrtest/real-313-full.log"


def _failure_text() -> str:
    """FAIL/ERROR blocks, a crash and a timeout dump from a real 3.13 log (if present)."""
    try:
        text = SAMPLE.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    start = text.find("0:00:00 load avg")
    end = text.find("== Tests result")
    return text[start:end] if 0 <= start < end else ""


def _run_block(rng: random.Random, run: int, failures: str) -> str:
    """One regrtest run: ~480 progress lines, verbose output, a few failures, a summary."""
    total = 480
    out = [f"Using random seed: {rng.randrange(10**9)}",
           f"0:00:00 load avg: 1.00 Run {total} tests in parallel using 8 worker processes "
           "(timeout: 20 min, worker timeout: 25 min)"]
    fails = 0
    for i in range(1, total + 1):
        name = f"test_mod{rng.randrange(400)}"
        t = f"{i // 3600}:{i // 60 % 60:02d}:{i % 60:02d} load avg: {rng.random() * 4:.2f}"
        idx = f"{i:>{len(str(total))}}/{total}" + (f"/{fails}" if fails else "")
        if i % 97 == 0:
            fails += 1
            out.append(f"{t} [{idx}/{fails}] {name} failed (1 failure)")
            out.append(failures[:4000] if failures else "")
        elif i % 10 == 0:
            out.append(f"{t} [{idx}] {name} passed (35.1 sec) -- running (2): "
                       f"test_a{i} (31.0 sec), test_b{i} (1 min 2 sec)")
        else:
            out.append(f"{t} [{idx}] {name} passed")
        if i % 30 == 0:
            out.append(f"{t} running (2): test_slow{i} (30.0 sec), test_other (31.9 sec)")
        if i % 40 == 0:
            out.append(f"Warning -- {name} leaked temporary files (1): tmp{i}")
        # Verbose output of a test run with -v (the bulk of a real log's bytes).
        for j in range(rng.randrange(20, 60)):
            out.append(f"test_case_{j} (test.{name}.Tests{j % 7}.test_case_{j}) ... ok")
        if i % 50 == 0:
            out.append("----------------------------------------------------------------------")
            out.append(f"Ran {j + 1} tests in 0.{rng.randrange(999):03d}s")
            out.append("")
            out.append("OK")
    out += ["", "== Tests result: FAILURE ==", "", f"{fails} tests failed:",
            "    " + " ".join(f"test_mod{k}" for k in range(fails)), "",
            f"{total - fails} tests OK.", "", "Total duration: 20 min",
            f"Total test files: run={total} failed={fails}", "Result: FAILURE", ""]
    return "\n".join(out)


def generate(path: Path, mb: int) -> int:
    rng = random.Random(20240501)
    failures = _failure_text()
    limit = mb * 1024 * 1024
    written = 0
    with open(path, "w", encoding="utf-8") as fp:
        run = 0
        while written < limit:
            block = _run_block(rng, run, failures)
            fp.write(block)
            written += len(block.encode())
            run += 1
    return path.stat().st_size


def _time(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # Output to a pipe, not /dev/null: GNU grep stops at the first match when it sees /dev/null.
    subprocess.run(cmd, check=True, stdout=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss is the max over all children so far: run the parser first so it is its own.
    return elapsed, cpu, after.ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="size of the generated log (MB)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.mb <= 0:
        print("bench/parse.py: error: --mb must be positive", file=sys.stderr)
        return 2
    bbwatch = shutil.which("bbwatch", path=os.path.dirname(sys.executable)) or "bbwatch"
    with tempfile.TemporaryDirectory(prefix="bbwatch-bench-") as tmp:
        log = Path(tmp) / "test-stdio.log"
        size = generate(log, args.mb)
        mb = size / (1024 * 1024)
        # Parse first, so the peak RSS read afterwards is bbwatch's (grep is far smaller).
        parse_s, parse_cpu, rss = _time([bbwatch, "parse", str(log), "--json"])
        grep_s = _time(["grep", "-c", "failed", str(log)])[0] if shutil.which("grep") \
            else float("nan")
    result = {
        "mb": round(mb, 1),
        "mb_per_s": round(mb / parse_s, 1),
        "peak_rss_mb": round(rss, 1),
        "grep_mb_per_s": round(mb / grep_s, 1) if grep_s == grep_s else None,
        # CPU-time rate: what wall time would be on an idle machine (CI runners are shared).
        "cpu_mb_per_s": round(mb / parse_cpu, 1) if parse_cpu else None,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"log:          {result['mb']} MB (regrtest-shaped, generated)")
    print(f"bbwatch parse {result['mb_per_s']:>8} MB/s   (target >= {TARGET_MB_PER_S:g} MB/s)"
          f"  {parse_s:.2f} s")
    print(f"  (CPU time)  {result['cpu_mb_per_s']:>8} MB/s   {parse_cpu:.2f} s of CPU")
    print(f"peak RSS      {result['peak_rss_mb']:>8} MB     (target < {TARGET_RSS_MB:g} MB)")
    print(f"grep -c       {result['grep_mb_per_s']:>8} MB/s   (the floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
