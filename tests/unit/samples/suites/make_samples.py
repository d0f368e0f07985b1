"""Regenerate the real regrtest logs in ../regrtest/ by running `python -m test` on ./bb.

Run by hand (not by the tests): ``python tests/unit/samples/suites/make_samples.py``. Each
Python found under pyenv (or on PATH) runs the failing suite the way the buildbots do, with
stdout and stderr merged as Buildbot records them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = HERE / "bb"
OUT = HERE.parent / "regrtest"
VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
SLOW = "test_bb_slow"  # 32 s: only in the "slow" runs
ALL = [p.stem for p in sorted(SUITE.glob("test_bb_*.py")) if p.stem != SLOW]


def interpreter(version: str) -> str | None:
    for root in sorted(Path("/root/.pyenv/versions").glob(f"{version}.*")):
        exe = root / "bin" / f"python{version}"
        if exe.exists():
            return str(exe)
    return shutil.which(f"python{version}")


def buildbot_args(version: str) -> list[str]:
    """The flags of the buildmaster's test step for that branch (reference §2.5), shortened."""
    minor = int(version.split(".")[1])
    if minor >= 13:
        return ["--slow-ci", "--timeout=5", "-j2"]
    return ["-r", "-w", "-u", "all", "-W", "--slowest", "--fail-env-changed", "--timeout=5",
            "-j2"]


def run(python: str, args: list[str], name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # A minimal environment: the env-changed test dumps os.environ into the log.
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": tmp,
               "BB_FLAKY_MARKER": os.path.join(tmp, "flaky-marker")}
        cmd = [python, "-W", "default", "-bb", "-E", "-m", "test", "--testdir", str(SUITE),
               *args]
        proc = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=300)
    text = proc.stdout.replace(str(SUITE).encode(), b"/buildbot/suite").replace(
        tmp.encode(), b"/tmp/build")
    path = OUT / f"{name}.log"
    path.write_bytes(text + f"\n[bbwatch sample: exit code {proc.returncode}]\n".encode())
    print(f"{path.name}: exit {proc.returncode}, {len(text)} bytes")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for version in VERSIONS:
        python = interpreter(version)
        if python is None:
            print(f"python{version}: not found, skipped", file=sys.stderr)
            continue
        tag = version.replace(".", "")
        run(python, [*buildbot_args(version), "--randseed=42", *ALL], f"real-{tag}-full")
        run(python, [*buildbot_args(version), "--randseed=7", "test_bb_flaky", "test_bb_ok"],
            f"real-{tag}-flaky")
    # Heartbeats and "-- running" suffixes need a test slower than 30 s: one old, one new format.
    for version in ("3.8", "3.13"):
        python = interpreter(version)
        if python is not None:
            run(python, [*buildbot_args(version).copy(), "--timeout=60", "--randseed=3", SLOW,
                         "test_bb_ok", "test_bb_fail"], f"real-{version.replace('.', '')}-slow")
    # Sequential mode (progress line names the previous test's result) and an in-process crash.
    py311 = interpreter("3.11") or sys.executable
    run(py311, ["-W", "--timeout=5", "test_bb_fail", "test_bb_ok", "test_bb_sub",
                "test_bb_timeout"], "real-311-sequential")
    run(py311, ["test_bb_ok", "test_bb_crash", "test_bb_fail"], "real-311-sequential-crash")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
