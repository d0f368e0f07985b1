"""Create, start, feed and stop the local fleet (the engine behind ``bbwatch fleet``).

Layout of a fleet directory::

    fleet.json        ports, paths, worker passwords (mode 0600)
    cpython/          the scripted git repository (repo.py)
    master/           buildbot master basedir (master.cfg, state.sqlite, twistd.pid, twistd.log)
    workers/<name>/   one buildbot-worker basedir per started worker (twistd.pid)

Network: everything listens on 127.0.0.1 only; the only client here is ``requests`` against
the master's own REST API and ``base`` change hook.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import requests
from bbwatch.errors import BBWatchError
from bbwatch.source import atomic
from bbwatch.source.urls import master_urls

from bbwatch_fleet import repo as repo_mod
from bbwatch_fleet import scenarios, sources

HISTORY_TIMEOUT = 300.0  # seconds to wait for the whole history (normally ~1 minute)
START_TIMEOUT = 60.0
# Only these variables reach the master and workers: build logs (pythoninfo, regrtest's
# "env changed" dumps) print the environment, and tokens must never end up in them.
ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "LOGNAME", "TZ")

Log = Callable[[str], None]


class FleetError(BBWatchError, RuntimeError):
    """A problem the user can act on; the CLI prints it as one line and exits 2."""


@dataclass(frozen=True)
class Fleet:
    dir: Path
    port: int
    pb_port: int
    repo: Path
    python: str
    passwords: dict[str, str]
    history: str = ""  # fingerprint of the scripted history this fleet was made for

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api(self) -> str:
        # Our own master: the client's rule for its API root, never $BBWATCH_API_ROOT (which
        # names the master being watched, not the one being started).
        return master_urls(self.url, environ={}).api

    @property
    def master_dir(self) -> Path:
        return self.dir / "master"

    def worker_dir(self, name: str) -> Path:
        return self.dir / "workers" / name


def _quiet_log(_: str) -> None:
    pass


def bin_dir() -> Path:
    return Path(sys.executable).parent


def _tool(name: str) -> str:
    path = bin_dir() / name
    if not path.exists():
        raise FleetError(
            f"{name} is not installed next to {sys.executable}; "
            "install the demo extra: pip install -e '.[demo]'")
    return str(path)


def _clean_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    atomic.write_text(path, text, mode=mode)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Like Twisted's listener: connections in TIME_WAIT do not make the port busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def history_fingerprint() -> str:
    """Changes whenever the scripted history (builders, commits, sources) changes."""
    data = (scenarios.BUILDERS, scenarios.WORKERS, scenarios.COMMITS, scenarios.PUSHES,
            scenarios.LINES, scenarios.LATER_LINES, sources.BASE_TREE,
            sources.SICK_SITECUSTOMIZE)
    return hashlib.sha256(repr(data).encode()).hexdigest()[:16]


def load(directory: Path) -> Fleet | None:
    path = directory / "fleet.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Fleet(dir=directory, port=int(data["port"]), pb_port=int(data["pb_port"]),
                     repo=Path(data["repo"]), python=data["python"],
                     passwords=dict(data["passwords"]), history=data.get("history", ""))
    except (ValueError, KeyError, TypeError) as exc:
        raise FleetError(f"{path} is damaged ({exc}); remove {directory} to start afresh") from exc


def save(fleet: Fleet) -> None:
    data = {"port": fleet.port, "pb_port": fleet.pb_port, "repo": str(fleet.repo),
            "python": fleet.python, "passwords": fleet.passwords, "history": fleet.history}
    _write_atomic(fleet.dir / "fleet.json", json.dumps(data, indent=2) + "\n", mode=0o600)


# --- processes ---------------------------------------------------------------------------

def _read_pid(basedir: Path) -> int | None:
    try:
        return int((basedir / "twistd.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _is_ours(pid: int, basedir: Path) -> bool:
    """Is ``pid`` alive and a twistd process of ``basedir``? (guards against reused pids)"""
    if not Path("/proc/self").exists():  # not Linux: trust the pid file
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False  # gone (or a zombie)
    return "buildbot" in cmdline and Path(cwd).resolve() == basedir.resolve()


def running_pid(basedir: Path) -> int | None:
    pid = _read_pid(basedir)
    return pid if pid is not None and _is_ours(pid, basedir) else None


def _run(argv: list[str], cwd: Path | None = None, timeout: float = START_TIMEOUT) -> None:
    try:
        proc = subprocess.run(argv, cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FleetError(f"{Path(argv[0]).name} {argv[1]} timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        out = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        tail = out[-1] if out else f"exit code {proc.returncode}"
        raise FleetError(f"{Path(argv[0]).name} {argv[1]} failed: {tail}")


def _stop_pid(pid: int, basedir: Path, timeout: float = 20.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_ours(pid, basedir):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --- create / start ----------------------------------------------------------------------

def create(directory: Path, port: int, log: Log) -> Fleet:
    directory.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(
        dir=directory, port=port, pb_port=free_port(), repo=directory / "cpython",
        python=sys.executable,
        passwords={w.name: secrets.token_urlsafe(16) for w in scenarios.WORKERS},
        history=history_fingerprint())
    save(fleet)
    if not (fleet.repo / ".git").exists():
        log(f"creating the git repository {fleet.repo}")
        if fleet.repo.exists():
            shutil.rmtree(fleet.repo)
        repo_mod.create(fleet.repo)
    return fleet


def _ensure_master(fleet: Fleet, log: Log) -> None:
    mdir = fleet.master_dir
    if not (mdir / "buildbot.tac").exists():
        log(f"creating the buildbot master in {mdir}")
        _run([_tool("buildbot"), "create-master", "-q", "-r", "--db",
              "sqlite:///state.sqlite", str(mdir)], timeout=120)
    template = resources.files("bbwatch_fleet").joinpath("master.cfg").read_text()
    _write_atomic(mdir / "master.cfg", template)
    # the sick worker's machine-wide Python start-up (mastercfg.sick_env puts it on PYTHONPATH)
    sick = fleet.dir / "sick"
    sick.mkdir(exist_ok=True)
    _write_atomic(sick / "sitecustomize.py", sources.SICK_SITECUSTOMIZE)


def _ensure_worker(fleet: Fleet, name: str, log: Log) -> None:
    wdir = fleet.worker_dir(name)
    if (wdir / "buildbot.tac").exists():
        return
    log(f"creating worker {name}")
    wdir.parent.mkdir(parents=True, exist_ok=True)
    _run([_tool("buildbot-worker"), "create-worker", "-q", "-r", "--umask=0o22",
          "--keepalive=60", str(wdir), f"127.0.0.1:{fleet.pb_port}", name,
          fleet.passwords[name]])
    info = wdir / "info"
    info.mkdir(exist_ok=True)
    admin = next((w.admin for w in scenarios.WORKERS if w.name == name), "")
    (info / "admin").write_text(f"{admin}\n")
    (info / "host").write_text(f"{name}: a local bbwatch worker on 127.0.0.1\n")


def _retarget_workers(fleet: Fleet) -> None:
    """Point the workers' buildbot.tac at the master's (new) PB port."""
    for tac in (fleet.dir / "workers").glob("*/buildbot.tac"):
        text = re.sub(r"^port = \d+$", f"port = {fleet.pb_port}", tac.read_text(), flags=re.M)
        _write_atomic(tac, text)


def start(fleet: Fleet, log: Log) -> Fleet:
    """Start the master and the workers that are not running yet."""
    if running_pid(fleet.master_dir) is None:
        if not port_free(fleet.port):
            raise FleetError(f"port {fleet.port} on 127.0.0.1 is in use; "
                             "choose another with --port")
        if not port_free(fleet.pb_port):  # the workers' port is ours to choose
            fleet = dataclasses.replace(fleet, pb_port=free_port())
            save(fleet)
            _retarget_workers(fleet)
        _ensure_master(fleet, log)
        log(f"starting the buildbot master on {fleet.url}")
        _run([_tool("buildbot"), "start", str(fleet.master_dir)], timeout=120)
    start_workers(fleet, log)
    return fleet


def start_workers(fleet: Fleet, log: Log) -> int:
    """Start (or restart, like a service manager would) the workers that are not running."""
    started = 0
    for w in scenarios.WORKERS:
        if not w.started:
            continue
        _ensure_worker(fleet, w.name, log)
        wdir = fleet.worker_dir(w.name)
        if running_pid(wdir) is None:
            # A killed worker may linger as a zombie that twistd would take for alive.
            (wdir / "twistd.pid").unlink(missing_ok=True)
            log(f"starting worker {w.name}")
            _run([_tool("buildbot-worker"), "start", str(wdir)])
            started += 1
    return started


def stop(directory: Path, log: Log = _quiet_log) -> list[int]:
    """Stop the processes whose pid files are under ``directory``; return their pids."""
    stopped = []
    basedirs = sorted((directory / "workers").glob("*")) + [directory / "master"]
    for basedir in basedirs:
        pid = running_pid(basedir)
        if pid is None:
            continue
        log(f"stopping {basedir.name} (pid {pid})")
        _stop_pid(pid, basedir)
        stopped.append(pid)
    return stopped


# --- talking to the master ---------------------------------------------------------------

def _get(fleet: Fleet, path: str, **params: object) -> list[dict]:
    resp = requests.get(fleet.api + path, params=params, timeout=10)
    resp.raise_for_status()
    data = resp.json()
    return data[path.split("?")[0].split("/")[-1]] if isinstance(data, dict) else data


def wait_api(fleet: Fleet, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _get(fleet, "builders", field="builderid")
            return
        except requests.RequestException as exc:
            if time.monotonic() > deadline:
                raise FleetError(f"the master at {fleet.url} does not answer ({exc}); "
                                 f"see {fleet.master_dir / 'twistd.log'}") from exc
            time.sleep(0.3)


def _post_change(fleet: Fleet, info: repo_mod.CommitInfo, branch: str, tip: bool) -> None:
    data = {
        "revision": info.revision, "branch": branch, "author": info.author,
        "committer": "GitHub <noreply@github.com>", "comments": info.comments,
        "when_timestamp": str(info.when), "files": json.dumps(list(info.files)),
        "repository": str(fleet.repo), "project": scenarios.PROJECT, "category": "",
        "properties": json.dumps({scenarios.PUSH_TIP: True} if tip else {}),
    }
    resp = requests.post(f"{fleet.url}change_hook/base", data=data, timeout=10)
    if resp.status_code != 200:
        raise FleetError(f"the master refused change {info.revision[:12]}: HTTP "
                         f"{resp.status_code} {resp.text.strip()[:200]}")


def feed(fleet: Fleet, log: Log, timeout: float = 30.0) -> int:
    """Send the pushes the master has not seen yet; return how many were sent."""
    infos = repo_mod.read(fleet.repo)
    known = {c["revision"] for c in _get(fleet, "changes", field="revision")}
    sent = 0
    for number, push in enumerate(scenarios.PUSHES, 1):
        missing = [k for k in push.commits if infos[k].revision not in known]
        if not missing:
            continue
        before = len(_get(fleet, "buildsets", field="bsid"))
        log(f"push {number}/{len(scenarios.PUSHES)} to {push.branch}: {len(missing)} commit(s)")
        for key in missing:
            _post_change(fleet, infos[key], push.branch, tip=key == push.commits[-1])
        # Wait for this push's buildset so that build requests are submitted in push order.
        deadline = time.monotonic() + timeout
        while len(_get(fleet, "buildsets", field="bsid")) <= before:
            if time.monotonic() > deadline:
                raise FleetError(f"no buildset for push {number} after {timeout:.0f} s; "
                                 f"see {fleet.master_dir / 'twistd.log'}")
            time.sleep(0.2)
        sent += 1
    return sent


def history_state(fleet: Fleet) -> tuple[int, int, int]:
    """(finished builds, expected builds, unfinished build requests)."""
    builds = _get(fleet, "builds", complete="true", field=["buildid", "complete"])
    pending = _get(fleet, "buildrequests", complete="false",
                   field=["buildrequestid", "complete", "builderid"])
    # A request forced on a builder whose worker never starts stays pending forever.
    offline = {b.name for b in scenarios.BUILDERS if not _worker_started(b.worker)}
    ids = {b["builderid"] for b in _get(fleet, "builders", field=["builderid", "name"])
           if b["name"] in offline}
    return (len(builds), scenarios.expected_build_count(),
            sum(r["builderid"] not in ids for r in pending))


def _worker_started(name: str) -> bool:
    return any(w.name == name and w.started for w in scenarios.WORKERS)


def wait_history(fleet: Fleet, log: Log, timeout: float = HISTORY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        done, expected, pending = history_state(fleet)
        if done >= expected and pending == 0:
            return
        if (done, pending) != last:
            log(f"builds finished: {done}/{expected}")
            last = (done, pending)
        start_workers(fleet, log)  # one scenario kills its worker mid-build (RETRY)
        if time.monotonic() > deadline:
            raise FleetError(f"the history is not complete after {timeout:.0f} s ({done}/"
                             f"{expected} builds); see {fleet.master_dir / 'twistd.log'}")
        time.sleep(1.0)


def up(directory: Path, port: int, log: Log = _quiet_log) -> Fleet:
    """Create (if needed) and start the fleet, feed the history, wait until it is complete."""
    directory = directory.resolve()
    _tool("buildbot"), _tool("buildbot-worker")
    if shutil.which("git") is None:
        raise FleetError("git is not installed (the fleet's workers check out a git repository)")
    fleet = load(directory)
    if fleet is not None and fleet.history != history_fingerprint():
        raise FleetError(
            f"the fleet in {directory} was made for another version of the scripted history; "
            f"recreate it: bbwatch fleet down --dir {directory} && rm -rf {directory}")
    if fleet is not None and running_pid(fleet.master_dir) is not None:
        if fleet.port != port:
            raise FleetError(f"a fleet is already running in {directory} on port {fleet.port}; "
                             f"stop it first: bbwatch fleet down --dir {directory}")
    elif fleet is None:
        if not port_free(port):
            raise FleetError(f"port {port} on 127.0.0.1 is in use; choose another with --port")
        fleet = create(directory, port, log)
    elif fleet.port != port:
        fleet = dataclasses.replace(fleet, port=port)
        save(fleet)
    if not (fleet.repo / ".git").exists():
        log(f"creating the git repository {fleet.repo}")
        repo_mod.create(fleet.repo)
    fleet = start(fleet, log)
    wait_api(fleet)
    try:
        feed(fleet, log)
        wait_history(fleet, log)
    except requests.RequestException as exc:
        raise FleetError(f"lost contact with the master at {fleet.url}: {exc}") from exc
    return fleet
