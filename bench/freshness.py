"""How fresh `bbwatch serve` keeps the live pages: seconds from a build completing on the master
to the status and known-failures pages on disk showing it, requests an idle poll costs, and
how long a rebuild takes.

Runs the scale fixture (150 builders x 200 builds, 50 ms latency; ``tests/scalefleet.py``) and
``bbwatch serve --interval 10`` against it, then completes new builds at a steady rate
(``POST /admin/add-builds``: ``--per-round`` builds every ``--every`` seconds, some red), and
watches ``<serve dir>/current/live/*.html`` for each build's link. A build counts as shown when
the status page links it (its history strip); a red build must also be on the known-failures
page if it was still failing in the data of the rebuild that first put it on the status page
(``judge``): when it was its builder's newest build on that status page, known-failures must
link it; when newer builds of its builder were already there and all of them red (a failure
streak going on), known-failures must link the newest of them; when a passing build had
already followed it, it was no longer a current failure, and the status page alone counts.
Then no build completes for ``--idle`` seconds and the master's request counter says what the
polls cost.

``--json`` prints ``{"p50_s", "p95_s", "idle_requests_per_min", "rebuild_s"}`` (plus detail
under other keys, ``red_judged`` among them: how many red builds were judged each way);
without it, the figures beside their targets.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"p95_s": 30.0, "idle_requests_per_min": 20.0}


def _fixture_cmd(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    flags = ["--builders", str(args.builders), "--builds", str(args.builds),
             "--latency-ms", str(args.latency_ms), "--log-kb", str(args.log_kb), "--port", "0"]
    for where in (REPO / "tests" / "scalefleet.py", REPO / "bench" / "scalefleet.py"):
        if where.is_file():
            return [sys.executable, str(where), *flags], env
    raise SystemExit("freshness: the scale fixture (tests/scalefleet.py) is missing")


def _post(url: str) -> object:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as r:
        return json.load(r)


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def newest_linked(status: str, builderid: int) -> int | None:
    """The newest build of a builder the status page links (the rebuild's data: no running
    build in the fixture, so it is the newest completed one)."""
    pattern = re.escape(f"#/builders/{builderid}/builds/") + r'(\d+)"'
    numbers = [int(n) for n in re.findall(pattern, status)]
    return max(numbers) if numbers else None


def judge(status: str, builderid: int, number: int,
          red: dict[tuple[int, int], bool]) -> tuple[str, int | None]:
    """How a red build is judged, from the status page that first links it: ``("newest", n)``
    (still its builder's newest build: known-failures must link it), ``("streak", m)`` (newer
    builds, all red: known-failures must link build ``m``, the newest) or
    ``("superseded", None)`` (a passing build followed it: the status page alone counts).
    ``red``: (builderid, number) -> red, for the builds the bench added."""
    newest = newest_linked(status, builderid)
    if newest is None or newest <= number:
        return "newest", number
    if all(red.get((builderid, n), False) for n in range(number + 1, newest + 1)):
        return "streak", newest
    return "superseded", None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run(args: argparse.Namespace) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bbwatch-freshness-"))
    cmd, env = _fixture_cmd(args)
    fixture = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    serve = None
    try:
        master = fixture.stdout.readline().strip()
        if not master.startswith("http"):
            raise SystemExit("freshness: the scale fixture did not start")
        serve_log = (work / "serve.log").open("w")
        serve = subprocess.Popen(
            [sys.executable, "-m", "bbwatch", "serve", "--interval", str(args.interval),
             "--port", "0", "--buildbot-url", master, "--dir", str(work / "site"),
             "--source-dir", str(REPO / "docs"), "--conf-dir", str(REPO)],
            cwd=REPO, stdout=serve_log, stderr=subprocess.STDOUT)
        live = work / "site" / "current" / "live"
        started = time.monotonic()
        while "serving http" not in _read(work / "serve.log"):
            if serve.poll() is not None or time.monotonic() - started > args.start_timeout:
                raise SystemExit("freshness: bbwatch serve did not start:\n"
                                 + _read(work / "serve.log")[-3000:])
            time.sleep(0.5)
        cold_s = time.monotonic() - started

        # -- steady new builds ---------------------------------------------------------------
        # buildid -> (done at, builderid, number, red)
        pending: dict[int, tuple[float, int, int, bool]] = {}
        red: dict[tuple[int, int], bool] = {}  # (builderid, number) -> red, builds added here
        # red buildid -> the link known-failures must hold ("" when the status page suffices)
        required: dict[int, str] = {}
        judged = {"newest": 0, "streak": 0, "superseded": 0}
        latencies: list[float] = []
        red_seen = 0
        end = time.monotonic() + args.duration
        next_add = time.monotonic()

        def link(builderid: int, number: int) -> str:
            return f"#/builders/{builderid}/builds/{number}\""

        while time.monotonic() < end or (pending and time.monotonic() < end + 90):
            now = time.monotonic()
            if now >= next_add and now < end:
                next_add += args.every
                for buildid in _post(f"{master}admin/add-builds?n={args.per_round}")["added"]:
                    row = _get(f"{master}api/v2/builds/{buildid}")["builds"][0]
                    is_red = row["results"] not in (0, 1)
                    pending[buildid] = (now, row["builderid"], row["number"], is_red)
                    red[(row["builderid"], row["number"])] = is_red
            status = _read(live / "status.html")
            failures = _read(live / "known-failures.html")
            for buildid, (done_at, builderid, number, is_red) in list(pending.items()):
                if link(builderid, number) not in status:
                    continue
                if is_red and buildid not in required:  # the first rebuild that shows it
                    verdict, must = judge(status, builderid, number, red)
                    judged[verdict] += 1
                    required[buildid] = link(builderid, must) if must is not None else ""
                if not is_red or not required[buildid] or required[buildid] in failures:
                    latencies.append(time.monotonic() - done_at)
                    red_seen += is_red
                    del pending[buildid]
            time.sleep(0.2)

        # -- idle: nothing new on the master ----------------------------------------------
        time.sleep(args.interval)  # let a rebuild in flight finish
        _post(f"{master}admin/reset")
        time.sleep(args.idle)
        idle_requests = _get(f"{master}admin/stats")["total"]
        log = _read(work / "serve.log")
        rebuilds = [float(x) for x in re.findall(r"new pages live after ([\d.]+)s", log)]
        return {
            "p50_s": round(percentile(latencies, 0.5), 1),
            "p95_s": round(percentile(latencies, 0.95), 1),
            "idle_requests_per_min": round(idle_requests * 60 / args.idle, 1),
            "rebuild_s": round(statistics.median(rebuilds), 1) if rebuilds else None,
            "builds_shown": len(latencies),
            "red_builds_shown": red_seen,
            "builds_never_shown": len(pending),
            "red_builds": sum(red.values()),
            "red_judged": {**judged, "never_on_status": sum(
                1 for buildid, (*_, is_red) in pending.items()
                if is_red and buildid not in required)},
            "red_never_on_known_failures": sum(
                1 for buildid in pending if required.get(buildid)),
            "rebuilds": len(rebuilds),
            "cold_start_s": round(cold_s, 1),
            "interval_s": args.interval,
            "fleet": f"{args.builders} builders x {args.builds} builds, "
                     f"{args.latency_ms:g} ms latency",
        }
    finally:
        if serve is not None and serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                serve.kill()
        fixture.terminate()
        fixture.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--interval", type=float, default=10.0, help="bbwatch serve --interval")
    parser.add_argument("--duration", type=float, default=180.0,
                        help="seconds during which builds complete")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between rounds")
    parser.add_argument("--per-round", type=int, default=4, help="builds completed per round")
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds measured")
    parser.add_argument("--builders", type=int, default=150)
    parser.add_argument("--builds", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--log-kb", type=int, default=200)
    parser.add_argument("--start-timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"freshness ({figures['fleet']}, bbwatch serve --interval {args.interval:g}):")
    print(f"  build done -> pages show it: p50 {figures['p50_s']}s, p95 {figures['p95_s']}s "
          f"(target p95 <= {TARGETS['p95_s']:g}s) over {figures['builds_shown']} builds, "
          f"{figures['red_builds_shown']} red, {figures['builds_never_shown']} never shown")
    judged = figures["red_judged"]
    print(f"  red builds: {figures['red_builds']}; at the rebuild that first showed them "
          f"{judged['newest']} newest on their builder and {judged['streak']} in a red streak "
          f"(known-failures must link them: {figures['red_never_on_known_failures']} never "
          f"did), {judged['superseded']} already followed by a passing build (status page "
          f"alone), {judged['never_on_status']} never on the status page")
    print(f"  idle polls: {figures['idle_requests_per_min']} requests/min "
          f"(target <= {TARGETS['idle_requests_per_min']:g})")
    print(f"  rebuild: {figures['rebuild_s']}s median over {figures['rebuilds']} rebuilds; "
          f"cold start {figures['cold_start_s']}s")
    ok = (figures["p95_s"] <= TARGETS["p95_s"]
          and figures["idle_requests_per_min"] <= TARGETS["idle_requests_per_min"]
          and not figures["builds_never_shown"])
    print("  targets " + ("met" if ok else "NOT met"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
