"""`bbwatch serve`: serve the built site on 127.0.0.1 and keep its live pages fresh.

Every ``--interval`` seconds the *poller* asks the master what changed, the way a warm site
build does (``BuildbotClient.fetch_fleet`` against its own cache: builders, workers and the
builds since the last one seen, 3 requests when nothing is new; no log is read). Only when a
build is new or changed (or a worker connects or leaves, or the master stops or starts
answering) is the site rebuilt:

- the *swapper* copies the current site into a new folder, runs ``sphinx-build`` there (an
  incremental build: the shared doctree folder knows what changed), and when it succeeded
  points the ``current`` symlink at it with one atomic ``rename``; the HTTP server resolves
  ``current`` at every request, so a reader gets the old page or the new one, never half of
  one. A failed build leaves the last good pages up.
- every poll, changed or not, rewrites ``bbwatch-version.json`` (``live_fresh``), so the
  open pages state when the master was last *checked* and reload themselves when newer
  data is published. A master that goes away: one rebuild (the pages then carry the
  "Live data unavailable" banner over the last good data), then only the check time moves.

Ctrl-C stops the server, the poller and any running build, and returns 0.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bbwatch.commands import fail
from bbwatch.errors import BuildbotError
from bbwatch.models import FleetData
from bbwatch.source.open import open_client
from bbwatch.sphinxext import live_fresh

DEFAULT_SOURCE = "https://buildbot.python.org/all/"
KEEP_BUILDS = 2  # site folders kept: the current one and the one before (readers mid-page)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the site on 127.0.0.1 and rebuild its live pages when the master changes",
        description="Serve the built site on 127.0.0.1, poll the Buildbot master every "
        "--interval seconds, rebuild only when it has a new or changed build, and swap the "
        "new pages in atomically. Open pages reload themselves when newer data is published.",
    )
    p.add_argument("--interval", type=float, default=30.0,
                   help="seconds between polls of the master (default 30)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--buildbot-url", default=None,
                   help="master URL (default: $BBWATCH_BUILDBOT_URL, else " + DEFAULT_SOURCE + ")")
    p.add_argument("--dir", default="_build/serve", type=Path,
                   help="working folder: site builds, doctrees, caches (default _build/serve)")
    p.add_argument("--source-dir", default="docs", type=Path, help="Sphinx sources (docs)")
    p.add_argument("--conf-dir", default=".", type=Path, help="folder of conf.py (.)")
    p.add_argument("--registry", default=None, help="known-issues registry (BBWATCH_REGISTRY)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=run)


# --- the poller -----------------------------------------------------------------------------


def fingerprint(fleet: FleetData) -> str:
    """What decides a rebuild: builders, worker connections and every build's identity and
    outcome (a running build counts as running, not by its changing step text)."""
    data = {
        "builders": sorted((b.builderid, b.name, tuple(b.tags)) for b in fleet.builders),
        "workers": sorted((w.workerid, w.name, bool(w.connected)) for w in fleet.workers),
        "builds": sorted((b.buildid, b.builderid, b.number, bool(b.complete), b.results,
                          b.complete_at) for builds in fleet.builds.values() for b in builds),
    }
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


@dataclass
class Poll:
    changed: bool
    reachable: bool
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Poller:
    """Asks the master what is new, with its own cache (never the site build's)."""

    url: str
    cache_dir: Path
    history: int = 20
    timeout: float = 10.0
    last: str | None = None
    reachable: bool | None = None

    def poll(self) -> Poll:
        started = time.monotonic()
        try:
            client = open_client(self.url, cache_dir=self.cache_dir, timeout=self.timeout,
                                 retries=1)
            try:
                fleet = client.fetch_fleet(history=self.history,
                                           known_log=lambda buildid, ident: True)
            finally:
                client.close()
        except (BuildbotError, OSError, ValueError) as exc:
            was = self.reachable
            self.reachable = False
            return Poll(changed=was is not False, reachable=False,
                        error=" ".join(str(exc).split()) or type(exc).__name__,
                        seconds=time.monotonic() - started)
        new = fingerprint(fleet)
        changed = new != self.last or self.reachable is False
        self.last, self.reachable = new, True
        return Poll(changed=changed, reachable=True, seconds=time.monotonic() - started)


# --- the swapper ----------------------------------------------------------------------------


@dataclass
class Site:
    """``<dir>/builds/<n>`` site folders, ``<dir>/current`` the symlink the server reads."""

    root: Path
    source_dir: Path
    conf_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    stopping: bool = False

    @property
    def current(self) -> Path:
        return self.root / "current"

    def live_dir(self) -> Path | None:
        return self.current.resolve() if self.current.exists() else None

    def _next_dir(self) -> Path:
        builds = self.root / "builds"
        builds.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.name) for p in builds.iterdir() if p.name.isdigit()]
        return builds / str(max(numbers, default=0) + 1)

    def build(self, log: Callable[[str], None]) -> tuple[bool, float, str]:
        """Build a new site folder and swap it in: (ok, seconds, error output)."""
        started = time.monotonic()
        target = self._next_dir()
        previous = self.live_dir()
        if previous is not None:  # incremental: Sphinx rewrites only what changed
            shutil.copytree(previous, target, symlinks=True)
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(self.conf_dir),
               "-d", str(self.root / "doctrees"),
               "-D", f"bbwatch_cache_dir={(self.root / 'cache').resolve()}",
               "-D", "suppress_warnings=bbwatch.live",
               str(self.source_dir), str(target)]
        self.process = subprocess.Popen(cmd, env={**os.environ, **self.env},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        try:
            _out, err = self.process.communicate()
            code = self.process.returncode
        finally:
            self.process = None
        seconds = time.monotonic() - started
        if code != 0 or self.stopping:
            shutil.rmtree(target, ignore_errors=True)
            return False, seconds, err.decode(errors="replace")[-2000:]
        self.swap(target)
        self.prune()
        return True, seconds, ""

    def swap(self, target: Path) -> None:
        """Point ``current`` at ``target`` in one atomic rename."""
        tmp = self.root / f".current-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(os.path.relpath(target, self.root), tmp)
        os.replace(tmp, self.current)

    def prune(self) -> None:
        builds = self.root / "builds"
        live = self.live_dir()
        folders = sorted((p for p in builds.iterdir() if p.name.isdigit()),
                         key=lambda p: int(p.name))
        for old in folders[:-KEEP_BUILDS]:
            if old != live:
                shutil.rmtree(old, ignore_errors=True)

    def stop(self) -> None:
        self.stopping = True
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)


# --- the HTTP server ------------------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    """Files under ``current`` (resolved per request: the swap is atomic for readers)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def end_headers(self) -> None:
        if self.path.split("?")[0].endswith((".html", ".json", "/")):
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()


def start_server(site: Site, port: int) -> ThreadingHTTPServer:
    handler = functools.partial(_Handler, directory=str(site.current))
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name="bbwatch-serve-http", daemon=True).start()
    return httpd


# --- the loop -------------------------------------------------------------------------------


def _say(quiet: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if not quiet:
            print(f"bbwatch serve: {message}", flush=True)
    return say


def run(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        return fail("--interval must be more than 0 seconds")
    url = args.buildbot_url or os.environ.get("BBWATCH_BUILDBOT_URL") or DEFAULT_SOURCE
    if not args.source_dir.is_dir() or not (args.conf_dir / "conf.py").is_file():
        return fail(f"no Sphinx site at {args.source_dir} (conf.py in {args.conf_dir})")
    root = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    env = {"BBWATCH_BUILDBOT_URL": url, "BBWATCH_OFFLINE": ""}
    if args.registry:
        env["BBWATCH_REGISTRY"] = args.registry
    site = Site(root, args.source_dir.resolve(), args.conf_dir.resolve(), env)
    poller = Poller(url, root / "poll-cache")
    say = _say(args.quiet)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        site.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _loop(args, site, poller, say, stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _loop(args: argparse.Namespace, site: Site, poller: Poller, say: Callable[[str], None],
          stop: threading.Event) -> int:
    first = poller.poll()
    say(f"master {poller.url}: " + ("answered" if first.reachable else
                                    f"did not answer ({first.error})"))
    if site.live_dir() is None or first.changed:
        say("building the site...")
        ok, seconds, err = site.build(say)
        if not ok and site.live_dir() is None:
            if stop.is_set():
                return 0
            return fail(f"the first site build failed:\n{err}")
        say(f"site built in {seconds:.1f}s" if ok else f"rebuild failed, old pages kept: {err}")
    _publish_check(site, first)
    httpd = start_server(site, args.port)
    port = httpd.server_address[1]
    say(f"serving http://127.0.0.1:{port}/ (polling every {args.interval:g}s; Ctrl-C stops)")
    try:
        # polls keep their cadence: a rebuild's time counts towards the wait for the next one
        next_at = time.monotonic() + args.interval
        while not stop.wait(max(0.0, next_at - time.monotonic())):
            next_at = time.monotonic() + args.interval
            result = poller.poll()
            if stop.is_set():
                break
            if result.changed:
                say("master " + ("has new builds: rebuilding" if result.reachable
                                 else f"does not answer ({result.error}): marking pages stale"))
                ok, seconds, err = site.build(say)
                if stop.is_set():
                    break
                say(f"new pages live after {seconds:.1f}s" if ok
                    else f"rebuild failed, old pages kept: {err.strip()[-500:]}")
                if not ok:
                    poller.last = None  # try again at the next poll
            _publish_check(site, result)
    finally:
        httpd.shutdown()
        httpd.server_close()
        say("stopped")
    return 0


def _publish_check(site: Site, poll: Poll) -> None:
    live = site.live_dir()
    if live is not None:
        live_fresh.touch_checked(live, time.time(), poll.reachable, poll.error)
