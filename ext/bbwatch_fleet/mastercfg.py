"""The Buildbot master configuration of the local fleet, built from ``scenarios``.

``master.cfg`` (copied into the master's basedir) only calls :func:`build_config`; the settings
that differ per fleet (ports, paths, worker passwords) come from ``fleet.json`` beside the
master directory, written by ``bbwatch_fleet.control``.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import sqlalchemy
from buildbot.interfaces import IRenderable
from buildbot.plugins import schedulers, steps, util, worker
from buildbot.process.results import SUCCESS, WARNINGS
from zope.interface import implementer

from bbwatch_fleet import scenarios


# CPython's schedulers group the commits of one push with treeStableTimer=30; a timer is
# racy on a loaded machine, so the feed marks the last commit of each push instead and only
# that one triggers a build. The build's changes (/builds/N/changes) still list every commit
# since the previous successful build: Buildbot follows the changes' parent chain.
def is_push_tip(change: Any) -> bool:
    return bool(change.properties.getProperty(scenarios.PUSH_TIP, False))

# CPython's master.cfg (custom/steps.py Test.warningPattern): any match turns a passing test
# step orange and is collected into a "warnings (N)" log.
REGRTEST_WARNINGS = (
    "Warning -- ", "Fatal Python error:", "Exception ignored in:", "Windows fatal exception:",
    "ResourceWarning", "Re-running failed tests in verbose mode",
    "Re-running test.* in verbose mode",
    "Unhandled exception in thread started by ", "test_[^ ]+ leaked ", "FAIL: ", "ERROR: ",
    "unexpected success", "Kill worker process ",
    "test .* failed -- multiple errors occurred; run in verbose mode for details",
    "No space left on device",
)

# The "prioritize changed tests" helper of one builder maps C files to the tests that cover
# them; it has no entry for a module added later, which is how that builder gets EXCEPTION.
MODULE_TESTS = {"bbw_timemodule": "test_bbw_calc", "bbw_mathmodule": "test_bbw_calc"}


def test_for_path(path: str) -> str | None:
    """The regrtest test file that covers ``path`` (KeyError for an unmapped C module)."""
    stem = posixpath.splitext(posixpath.basename(path))[0]
    if path.startswith("Lib/test/test_"):
        return stem
    if path.startswith("Lib/"):
        return f"test_{stem}"
    if path.startswith("Modules/") and path.endswith(".c"):
        return MODULE_TESTS[stem]
    return None


# One remote command instead of Buildbot's Git step (which runs about eight, each costing
# master CPU): fetch the branch, check out the revision, and clean like mode=full/fresh.
GIT_CHECKOUT = """set -e
[ -d .git ] || git init -q
git fetch -f "$1" "$2"
git checkout -f "$3"
git clean -f -f -d -x
echo "got_revision: $(git rev-parse HEAD)"
"""


def _got_revision(rc: int, stdout: str, stderr: str) -> dict[str, str]:
    for line in stdout.splitlines():
        if line.startswith("got_revision: "):
            return {"got_revision": line.split(": ", 1)[1].strip()}
    return {}


@implementer(IRenderable)
class RegrtestCommand:
    """``python -m test ...``; with ``prioritize`` the changed tests run first."""

    def __init__(self, head: list[str], tests: tuple[str, ...], prioritize: bool) -> None:
        self.head, self.tests, self.prioritize = head, tests, prioritize

    def getRenderingFor(self, props: Any) -> list[str]:
        tests = list(self.tests)
        if self.prioritize:
            first = [test_for_path(f) for f in props.getBuild().allFiles()]
            first = [t for t in dict.fromkeys(first) if t in tests]
            tests = first + [t for t in tests if t not in first]
        return [*self.head, *tests]


class Test(steps.WarningCountingShellCommand):
    """CPython's test step: regrtest exit code 0 is SUCCESS, 5 (re-run passed) WARNINGS."""

    name = "test"
    description = "testing"
    descriptionDone = "test"
    decodeRC = {0: SUCCESS, 5: WARNINGS}
    warnOnWarnings = True
    warningPattern = r".*(?:" + "|".join(REGRTEST_WARNINGS) + ")"


def sick_env(builder: scenarios.Builder, sick_dir: str) -> dict[str, str]:
    """A sick machine's builds start every Python with ``sources.SICK_SITECUSTOMIZE``."""
    if not builder.sick:
        return {}
    plan = ",".join(f"{n}:{test}:{error}" for n, (test, error) in sorted(builder.sick.items()))
    return {"PYTHONPATH": sick_dir, "BBW_SICK_PLAN": plan}


def make_factory(builder: scenarios.Builder, repo: str, python: str,
                 sick_dir: str = "") -> util.BuildFactory:
    number = util.Interpolate("%(prop:buildnumber)s")
    env: dict[str, Any] = {**builder.env, **sick_env(builder, sick_dir),
                           "BBW_BUILDNUMBER": number}
    head = [
        python, "-m", "test", "--testdir", "Lib/test", "-j2", "-w", "--fail-env-changed",
        "--fail-rerun", "--slowest", "-uall", f"--timeout={builder.timeout}",
    ]
    f = util.BuildFactory()
    f.addStep(steps.SetPropertyFromCommand(
        name="git", command=["sh", "-c", GIT_CHECKOUT, "git", repo, util.Property("branch"),
                             util.Property("revision")],
        extract_fn=_got_revision, haltOnFailure=True, timeout=120))
    f.addStep(steps.ShellCommand(name="configure", command=["sh", "./configure",
                                 *builder.configure_flags], env=env, haltOnFailure=True))
    f.addStep(steps.Compile(name="compile", command=["make", "-j2", "all"], env=env,
                            haltOnFailure=True, warnOnWarnings=False))
    f.addStep(steps.ShellCommand(name="pythoninfo", command=["make", "pythoninfo",
                                 f"PYTHON={python}"], env=env, warnOnFailure=True,
                                 flunkOnFailure=False))
    f.addStep(Test(command=RegrtestCommand(head, builder.tests, builder.prioritize), env=env,
                   timeout=builder.timeout * 4 + 60, maxTime=builder.timeout * 6 + 300))
    f.addStep(steps.ShellCommand(name="clean", command=["make", "distclean"], alwaysRun=True,
                                 flunkOnFailure=False, warnOnFailure=True))
    return f


def reuse_sqlite_connections() -> None:
    """Let Buildbot keep its SQLite connection instead of opening one per query.

    For a file database Buildbot uses SQLAlchemy's NullPool, so every query opens a new
    connection and SQLite re-reads the whole schema; with one DB thread (Buildbot's setting
    for SQLite) a per-thread pool is equivalent and about halves the master's CPU per build.
    """
    from buildbot.db import enginestrategy

    original = getattr(enginestrategy, "create_engine", None)
    if original is None or getattr(original, "bbwatch_patched", False):
        return  # another Buildbot layout: run unpatched (slower, still correct)

    def create_engine(name_or_url: str, **kwargs: Any) -> Any:
        if str(name_or_url).startswith("sqlite:///"):
            kwargs.setdefault("poolclass", sqlalchemy.pool.SingletonThreadPool)
        return original(name_or_url, **kwargs)

    create_engine.bbwatch_patched = True  # type: ignore[attr-defined]
    enginestrategy.create_engine = create_engine


def build_config(basedir: str | Path) -> dict[str, Any]:
    """The ``BuildmasterConfig`` dict for the master in ``basedir``."""
    reuse_sqlite_connections()
    settings = json.loads((Path(basedir).parent / "fleet.json").read_text())
    port, pb_port = settings["port"], settings["pb_port"]
    repo, python = settings["repo"], settings["python"]
    by_branch: dict[str, list[str]] = {}
    for b in scenarios.BUILDERS:
        by_branch.setdefault(b.branch, []).append(b.name)
    c: dict[str, Any] = {
        "title": "bbwatch local fleet (CPython-like)",
        "titleURL": f"http://127.0.0.1:{port}/",
        "buildbotURL": f"http://127.0.0.1:{port}/",
        "buildbotNetUsageData": None,
        "db": {"db_url": "sqlite:///state.sqlite"},
        "protocols": {"pb": {"port": f"tcp:{pb_port}:interface=127.0.0.1"}},
        "www": {
            "port": f"tcp:{port}:interface=127.0.0.1",
            "plugins": {},
            "change_hook_dialects": {"base": True},
        },
        "collapseRequests": False,  # one build per push, so each builder's history is complete
        "workers": [
            worker.Worker(w.name, settings["passwords"][w.name], max_builds=w.max_builds)
            for w in scenarios.WORKERS
        ],
        "change_source": [],
        "schedulers": [
            schedulers.SingleBranchScheduler(
                name="main", change_filter=util.ChangeFilter(branch="main"),
                treeStableTimer=None, fileIsImportant=is_push_tip,
                builderNames=[b.name for b in scenarios.builders_for_branch("main")]),
            schedulers.SingleBranchScheduler(
                name="3.14", change_filter=util.ChangeFilter(branch="3.14"),
                treeStableTimer=None, fileIsImportant=is_push_tip,
                builderNames=[b.name for b in scenarios.builders_for_branch("3.14")]),
            schedulers.AnyBranchScheduler(
                name="pull-request-scheduler",
                change_filter=util.ChangeFilter(branch_re=r"refs/pull/\d+/merge"),
                treeStableTimer=None, fileIsImportant=is_push_tip,
                builderNames=[b.name for b in scenarios.builders_for_branch("PR")]),
            schedulers.ForceScheduler(
                name="force", builderNames=[b.name for b in scenarios.BUILDERS]),
        ],
        "builders": [
            util.BuilderConfig(
                name=b.name, workernames=[b.worker], tags=list(b.tags),
                factory=make_factory(b, repo, python, str(Path(basedir).parent / "sick")),
                description=f"{b.name}: a {'stable' if b.stable else 'unstable'} builder of "
                f"the local bbwatch fleet")
            for b in scenarios.BUILDERS
        ],
    }
    return c
