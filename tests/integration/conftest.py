"""The real local Buildbot fleet, started once per test session (``bbwatch fleet up``).

Set ``BBWATCH_TEST_FLEET_URL`` (e.g. ``http://127.0.0.1:8010/``) to reuse a fleet that is
already running instead of starting one; it must run the history of ``bbwatch_fleet.scenarios``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

UP_TIMEOUT = 900  # seconds; the history normally completes in 1-3 minutes


@dataclass(frozen=True)
class FleetHandle:
    url: str  # API root, e.g. "http://127.0.0.1:8010/" (the REST API is url + "api/v2/")
    dir: Path | None  # fleet directory; None when reusing BBWATCH_TEST_FLEET_URL
    port: int

    @property
    def api(self) -> str:
        return self.url + "api/v2/"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bbwatch(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bbwatch", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetHandle]:
    reuse = os.environ.get("BBWATCH_TEST_FLEET_URL")
    if reuse:
        url = reuse.rstrip("/") + "/"
        yield FleetHandle(url=url, dir=None, port=urlsplit(url).port or 80)
        return
    directory = tmp_path_factory.mktemp("fleet")
    port = _free_port()
    try:
        proc = _bbwatch("fleet", "up", "--dir", str(directory), "--port", str(port), "--quiet",
                        timeout=UP_TIMEOUT)
        if proc.returncode != 0:
            pytest.fail(f"bbwatch fleet up failed ({proc.returncode}): {proc.stderr[-3000:]}")
        yield FleetHandle(url=proc.stdout.strip(), dir=directory, port=port)
    finally:
        _bbwatch("fleet", "down", "--dir", str(directory), timeout=120)
