"""How fast, and how cheap for the master, is fetching what the live pages need?

Starts the scale fixture (``tests/scalefleet.py``, its own process) and measures, in one run:

- cold: ``BuildbotClient.fetch_fleet`` with an empty cache (the pages' ``bbwatch_history``);
- naive: the same data fetched one request at a time with plain ``requests``, no cache;
- warm: a new client on the same cache when nothing changed on the master;
- warm10: the same after 10 new builds.

Request counts come from the server (``/admin/stats``), so the client cannot under-report.
Also checks that no log was fetched twice across cold/warm/warm10 (a completed build's log is
immutable). ``--json`` prints one object instead of the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = 8.0
TARGET_WARM = 3
PER_NEW_BUILD = 4  # steps + changes + test log + slack: "3 + a small constant per new build"


class Fixture:
    """The scale fixture in a child process, so its threads don't share our GIL."""

    def __init__(self, *args: str) -> None:
        cmd = [sys.executable, "-m", "tests.scalefleet", "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.proc.kill()
            raise SystemExit(f"bench: the scale fixture did not start ({' '.join(cmd)})")

    def stats(self) -> dict:
        return requests.get(self.url + "admin/stats", timeout=30).json()

    def reset(self) -> None:
        requests.post(self.url + "admin/reset", timeout=30)

    def add_builds(self, n: int) -> list[int]:
        return requests.post(self.url + f"admin/add-builds?n={n}", timeout=30).json()["added"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@dataclass
class Naive:
    """What the naive client did: whole-run figures, extrapolated when it sampled builders."""

    seconds: float
    requests: int
    sampled: int  # builders actually fetched
    total: int  # builders the pages show
    builds: dict[int, set[int]]  # builderid -> buildids, for the sampled builders
    logs: int


def naive_fetch(fixture: Fixture, history: int, branches: tuple[str, ...], sample: int) -> Naive:
    """Fetch what FleetData holds one plain request at a time: builders, workers, then per
    builder its builds, each build's steps, every step's log list, its changes, and the test
    log where the pages want it. Only ``sample`` builders are fetched; since every request
    waits for the previous one, time and requests scale linearly to the rest."""
    api = fixture.url.rstrip("/") + "/api/v2"

    def get(path: str) -> dict:
        resp = requests.get(api + path, timeout=60)
        resp.raise_for_status()
        return resp.json()

    fixture.reset()
    start = time.perf_counter()
    builders = get("/builders")["builders"]
    get("/workers")
    if branches:
        builders = [b for b in builders if set(b["tags"]) & set(branches)]
    fixed_s, fixed_requests = time.perf_counter() - start, fixture.stats()["total"]
    seen: dict[int, set[int]] = {}
    logs = 0
    for builder in builders[:sample]:
        ids = seen.setdefault(builder["builderid"], set())
        builds = get(f"/builders/{builder['builderid']}/builds?order=-number&limit={history}")
        for build in builds["builds"]:
            ids.add(build["buildid"])
            steps = get(f"/builds/{build['buildid']}/steps")["steps"]
            step_logs = {s["stepid"]: get(f"/steps/{s['stepid']}/logs")["logs"] for s in steps}
            get(f"/builds/{build['buildid']}/changes")
            test = next((s for s in steps if s["name"] == "test"), None)
            if test and (test["results"] not in (0, None) or build["results"] in (1, 2)):
                for log in step_logs[test["stepid"]]:
                    if log["slug"] == "stdio":
                        raw = requests.get(f"{api}/logs/{log['logid']}/raw", timeout=60)
                        raw.raise_for_status()
                        logs += 1
    per_s = time.perf_counter() - start - fixed_s
    per_requests = fixture.stats()["total"] - fixed_requests
    n = min(sample, len(builders))
    scale = len(builders) / n if n else 1
    return Naive(fixed_s + per_s * scale, round(fixed_requests + per_requests * scale), n,
                 len(builders), seen, logs)


def client_fetch(url: str, cache: Path, history: int, branches: tuple[str, ...]):
    from bbwatch.source.sync import BuildbotClient

    client = BuildbotClient(url, cache_dir=cache)
    start = time.perf_counter()
    fleet = client.fetch_fleet(history, branches)
    return time.perf_counter() - start, fleet


def measure(args: argparse.Namespace) -> dict[str, object]:
    fixture = Fixture("--builders", str(args.builders), "--builds", str(args.builds),
                      "--latency-ms", str(args.latency_ms), "--log-kb", str(args.log_kb))
    out: dict[str, object] = {"builders": args.builders, "builds": args.builds,
                              "latency_ms": args.latency_ms, "history": args.history}
    log_fetches: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bbwatch-bench-") as tmp:
            cache = Path(tmp) / "cache"
            phases = [("cold", 0), ("warm", 0), ("warm10", 10)]
            fleet = None
            for name, new in phases:
                if new:
                    fixture.add_builds(new)
                fixture.reset()
                seconds, fleet = client_fetch(fixture.url, cache, args.history, args.branches)
                stats = fixture.stats()
                out[f"{name}_s"] = round(seconds, 3)
                out[f"{name}_requests"] = stats["total"]
                out[f"{name}_errors"] = len(fleet.errors)
                for logid, n in stats["raw_logs"].items():
                    log_fetches[logid] = log_fetches.get(logid, 0) + n
            out["cache_bytes"] = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
            out["cache_files"] = sum(1 for f in cache.rglob("*") if f.is_file())
            assert fleet is not None
        out["log_refetches"] = sum(n - 1 for n in log_fetches.values() if n > 1)
        if args.naive_builders:
            naive = naive_fetch(fixture, args.history, args.branches, args.naive_builders)
            out["naive_s"] = round(naive.seconds, 3)
            out["naive_requests"] = naive.requests
            out["naive_sampled_builders"] = naive.sampled
            # same data? the sampled builders' builds must be what the client has now (warm10)
            out["same_builds"] = all(
                {b.buildid for b in fleet.builds.get(bid, [])} == ids
                for bid, ids in naive.builds.items())
            out["speedup"] = round(naive.seconds / max(float(out["cold_s"]), 1e-9), 1)
    finally:
        fixture.close()
    return out


def report(r: dict) -> str:
    def verdict(ok: bool) -> str:
        return "OK" if ok else "MISSED"

    warm10_cap = TARGET_WARM + PER_NEW_BUILD * 10
    lines = [
        f"fixture: {r['builders']} builders x {r['builds']} builds, {r['latency_ms']:g} ms "
        f"latency, history {r['history']}",
        f"{'':10} {'seconds':>9} {'requests':>9}   target",
    ]
    if "naive_s" in r:
        sampled = r["naive_sampled_builders"]
        note = "" if sampled >= r["builders"] else f", scaled up from {sampled} builders"
        lines.append(f"{'naive':10} {r['naive_s']:9.2f} {r['naive_requests']:9d}   "
                     f"(baseline{note})")
        lines.append(f"{'cold':10} {r['cold_s']:9.2f} {r['cold_requests']:9d}   "
                     f">= {TARGET_SPEEDUP:g}x faster than naive: {r['speedup']}x "
                     f"{verdict(r['speedup'] >= TARGET_SPEEDUP)}")
    else:
        lines.append(f"{'cold':10} {r['cold_s']:9.2f} {r['cold_requests']:9d}   (naive skipped)")
    lines.append(f"{'warm':10} {r['warm_s']:9.2f} {r['warm_requests']:9d}   "
                 f"<= {TARGET_WARM} requests {verdict(r['warm_requests'] <= TARGET_WARM)}")
    lines.append(f"{'warm10':10} {r['warm10_s']:9.2f} {r['warm10_requests']:9d}   "
                 f"<= {TARGET_WARM} + {PER_NEW_BUILD}/new build = {warm10_cap} "
                 f"{verdict(r['warm10_requests'] <= warm10_cap)}")
    lines.append(f"completed logs fetched twice: {r['log_refetches']}   target 0 "
                 f"{verdict(r['log_refetches'] == 0)}")
    if "same_builds" in r:
        lines.append(f"naive client saw the same builds as the client: {r['same_builds']}")
    lines.append(f"cache after warm10: {r['cache_bytes'] / 1e6:.1f} MB in {r['cache_files']} files")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builders", type=int, default=150)
    parser.add_argument("--builds", type=int, default=200, help="builds per builder on the master")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--log-kb", type=int, default=200)
    parser.add_argument("--history", type=int, default=None,
                        help="builds per builder to fetch (default: the pages' bbwatch_history)")
    parser.add_argument("--branch", dest="branches", action="append", default=[],
                        help="only builders with this branch tag (repeatable; default all)")
    parser.add_argument("--naive-builders", type=int, default=15, metavar="N",
                        help="builders the naive client really fetches; its time and requests "
                        "are scaled up to all builders (0: skip it; default 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    args.branches = tuple(args.branches)
    if args.history is None:
        from bbwatch.sphinxext.config import BBWatchConfig

        args.history = BBWatchConfig().history
    try:
        import bbwatch.source.sync  # noqa: F401
    except ImportError as exc:
        print(f"bench/fetch.py: the client is not available ({exc})", file=sys.stderr)
        return 2
    result = measure(args)
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
