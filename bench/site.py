"""How much do live pages cost a site build, and how heavy are they for a browser?

Starts the scale fixture (``tests/scalefleet.py``), builds the real site (``docs/``, like ``make
html``) once to fill the cache, then times, each in a fresh output directory:

- live: a full build against the fixture with that warm cache;
- offline: the same build with ``BBWATCH_OFFLINE=1`` (live directives render without data).

The ratio live / offline is the price of live data (target <= 1.3). It also reports the size
of the known-failures page (target < 1 MB for 150 builders) and its time to first render in
headless Chromium: the page is loaded in an iframe of a harness page served from 127.0.0.1,
and the harness reads the frame's own Paint Timing (first-contentful-paint, measured from the
start of its navigation, so browser start-up is excluded); if Chromium reports no paint entry,
DOMContentLoaded is used instead and ``first_render_metric`` says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))  # the headless-Chromium helper lives with the browser tests

from fetch import Fixture  # noqa: E402 (bench/ is this script's own folder)

from tests import chromium  # noqa: E402

TARGET_RATIO = 1.3
TARGET_PAGE = 1_000_000
PAGE = "live/known-failures.html"

HARNESS = """<!doctype html><html><head><title>harness</title></head><body>
<iframe id="f" src="{page}" style="width:1280px;height:900px"></iframe>
<script>
const frame = document.getElementById("f");
frame.addEventListener("load", () => {{
  const perf = frame.contentWindow.performance;
  const report = () => {{
    const nav = perf.getEntriesByType("navigation")[0];
    const fcp = perf.getEntriesByName("first-contentful-paint")[0];
    const out = document.createElement("pre");
    out.id = "timing";
    out.textContent = JSON.stringify({{
      fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd}});
    document.body.append(out);
  }};
  // paint timing lands a frame or two after load: poll briefly for it
  let tries = 0;
  const poll = () => perf.getEntriesByName("first-contentful-paint").length || ++tries > 200
    ? report() : setTimeout(poll, 20);
  poll();
}});
</script></body></html>
"""


def build(outdir: Path, env: dict[str, str]) -> float:
    """One full ``sphinx-build`` of the real site; return its wall time."""
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-c", ".", "-E", "-q", "--keep-going",
           "docs", str(outdir)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench/site.py: sphinx-build failed:\n{done.stderr[-2000:]}")
    return seconds


def first_render(outdir: Path) -> tuple[float | None, str]:
    if chromium.find() is None:
        return None, "chromium not installed"
    (outdir / "_bench_harness.html").write_text(HARNESS.format(page=PAGE))
    with chromium.StaticServer(outdir) as url:
        dom = chromium.dump_dom(url + "_bench_harness.html", budget_ms=10000, timeout=120)
    found = re.search(r'<pre id="timing">(.*?)</pre>', dom)
    if not found:
        return None, "no timing (page did not load)"
    timing = json.loads(found.group(1).replace("&quot;", '"'))
    if timing["fcp"] is not None:
        return round(timing["fcp"], 1), "first-contentful-paint"
    return round(timing["dcl"], 1), "domContentLoaded (no paint entry)"


def measure(args: argparse.Namespace) -> dict[str, object]:
    fixture = Fixture("--builders", str(args.builders), "--builds", str(args.builds),
                      "--latency-ms", str(args.latency_ms), "--log-kb", str(args.log_kb))
    out: dict[str, object] = {"builders": args.builders, "latency_ms": args.latency_ms}
    try:
        with tempfile.TemporaryDirectory(prefix="bbwatch-site-bench-") as tmp:
            root = Path(tmp)
            env = {k: v for k, v in os.environ.items() if not k.startswith("BBWATCH_")}
            env.pop("GITHUB_TOKEN", None)  # the tracker must not reach the internet here
            env.update({"BBWATCH_BUILDBOT_URL": fixture.url})
            # all builds share root/.bbwatch-cache (the default: next to the output directory)
            out["cold_s"] = round(build(root / "cold", env), 2)
            live = [build(root / f"live{i}", env) for i in range(args.repeat)]
            offline_env = {**env, "BBWATCH_OFFLINE": "1"}
            offline = [build(root / f"offline{i}", offline_env) for i in range(args.repeat)]
            out["live_s"] = round(min(live), 2)
            out["offline_s"] = round(min(offline), 2)
            out["ratio"] = round(out["live_s"] / out["offline_s"], 2)
            page = root / "live0" / PAGE
            out["known_failures_bytes"] = page.stat().st_size if page.exists() else None
            ms, metric = first_render(root / "live0")
            out["first_render_ms"] = ms
            out["first_render_metric"] = metric
    finally:
        fixture.close()
    return out


def report(r: dict) -> str:
    def verdict(ok: bool) -> str:
        return "OK" if ok else "MISSED"

    size = r["known_failures_bytes"]
    lines = [
        f"fixture: {r['builders']} builders, {r['latency_ms']:g} ms latency "
        f"(cold build to fill the cache: {r['cold_s']:.1f} s)",
        f"live build (warm cache)   {r['live_s']:7.2f} s",
        f"offline build             {r['offline_s']:7.2f} s",
        f"ratio live/offline        {r['ratio']:7.2f}     target <= {TARGET_RATIO} "
        f"{verdict(r['ratio'] <= TARGET_RATIO)}",
        f"known-failures page       {size / 1e6 if size else 0:7.3f} MB  target < "
        f"{TARGET_PAGE / 1e6:g} MB {verdict(bool(size) and size < TARGET_PAGE)}",
        f"first render              {r['first_render_ms']} ms  ({r['first_render_metric']})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builders", type=int, default=150)
    parser.add_argument("--builds", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--log-kb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2, help="builds of each kind (best kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    result = measure(args)
    print(json.dumps(result) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
