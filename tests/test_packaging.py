"""The package as others get it: declared dependencies, and a wheel that works on its own.

``test_installed_wheel_runs`` builds the wheel with ``python -m build`` (sdist, then the wheel
from the sdist, as a release does), installs it with its declared dependencies into a fresh
venv that cannot see this checkout or the development venv, and runs ``bbwatch parse``,
``bbwatch triage`` on the recorded snapshot and a Sphinx build of a minimal project there.
It takes about 30 s with pip's cache warm; nothing leaves 127.0.0.1 but pip.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
import venv
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "ext" / "bbwatch"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SNAPSHOT = REPO / "tests" / "fixtures" / "snapshot"
LOG = REPO / "tests" / "unit" / "samples" / "regrtest" / "real-312-full.log"
CHECKLISTS = sorted(p.name for p in (REPO / "checklists").glob("*.yaml"))
STATIC = ("bbwatch.css", "checklist.css", "checklist.js", "print.css")
# The fleet's "fail" scenario as recorded in the snapshot (bbwatch_fleet.scenarios)
BUILDER, BUILD, TEST_FILE = "AMD64 Debian root 3.x", 2, "test_bbw_calc"


def _name(requirement: str) -> str:
    """The normalised project name of a requirement (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def third_party_imports(root: Path) -> dict[str, set[str]]:
    """Top-level modules imported anywhere under ``root`` (module or function level) that are
    neither the standard library nor our own packages -> the files importing them."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in ("bbwatch", "bbwatch_fleet"):
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_declared_dependencies_are_what_the_package_imports():
    """``[project] dependencies`` name exactly the distributions ``ext/bbwatch`` imports:
    nothing imported that only arrives by chance (urllib3 through requests), nothing declared
    that the package does not use (the site's theme belongs to the ``site`` extra)."""
    distributions = packages_distributions()
    imported: dict[str, set[str]] = {}
    for module, files in third_party_imports(PACKAGE).items():
        assert module in distributions, f"{module} (imported by {sorted(files)}) is not installed"
        for dist in distributions[module]:
            imported.setdefault(_name(dist), set()).update(files)
    declared = {_name(req) for req in PYPROJECT["project"]["dependencies"]}
    undeclared = {dist: sorted(files) for dist, files in imported.items() if dist not in declared}
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"
    assert declared <= set(imported), f"declared but never imported: {declared - set(imported)}"


def test_the_site_extra_holds_what_conf_py_adds():
    """conf.py's theme and extensions beyond ours come from the ``site`` extra (the Makefile
    installs it), not from the package's own dependencies."""
    conf = ast.parse((REPO / "conf.py").read_text(encoding="utf-8"))
    values = {t.id: ast.literal_eval(n.value) for n in conf.body if isinstance(n, ast.Assign)
              for t in n.targets if isinstance(t, ast.Name) and t.id in ("extensions",
                                                                         "html_theme")}
    wanted = {_name(m) for m in values["extensions"] if not m.startswith("bbwatch")}
    wanted.add(_name(values["html_theme"]))
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    site = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["site"]}
    assert wanted - declared <= site, f"conf.py needs {wanted - declared - site}"
    assert not site & declared
    assert "site" in (REPO / "Makefile").read_text(encoding="utf-8")


def _run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: float = 120,
         ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.packaging
def test_installed_wheel_runs(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "BBWATCH_REGISTRY",
                        "BBWATCH_BUILDBOT_URL", "BBWATCH_SNAPSHOT", "BBWATCH_OFFLINE")}
    env["BBWATCH_CACHE_DIR"] = str(tmp_path / "cache")  # the CLI's, not the user's
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, REPO, cwd=tmp_path, env=env)
    (wheel,) = dist.glob("bbwatch-*.whl")

    # What ships: the checklists (through the symlink, one copy in the repository), the static
    # files, the demo fleet's data; never the tests.
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"bbwatch/triage/checklists/{n}" for n in CHECKLISTS} <= names
    assert {f"bbwatch/sphinxext/static/{n}" for n in STATIC} <= names
    assert "bbwatch_fleet/demo-known-issues.toml" in names
    assert not any(n.startswith("tests/") for n in names)

    # A fresh venv, no system site-packages: pip brings exactly the declared dependencies.
    home = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(home)
    bin_ = home / ("Scripts" if os.name == "nt" else "bin")
    _run(bin_ / "python", "-m", "pip", "install", "-q", wheel, cwd=tmp_path, env=env,
         timeout=300)
    work = tmp_path / "work"  # no docs/, no checklists/: only what the package carries
    work.mkdir()
    where = _run(bin_ / "python", "-c", "import bbwatch.triage.checklist as c, bbwatch.sphinxext;"
                 "print(c.__file__); print(sorted(p.name for p in c.default_dir().glob('*.yaml')))",
                 cwd=work, env=env).stdout.splitlines()
    assert Path(where[0]).is_relative_to(home) and where[1] == repr(CHECKLISTS)

    parsed = _run(bin_ / "bbwatch", "parse", "--json", LOG, cwd=work, env=env).stdout
    here = _run(sys.executable, "-m", "bbwatch", "parse", "--json", LOG, cwd=REPO, env=env).stdout
    assert json.loads(parsed)["failed"] and parsed == here  # the same as from the checkout

    recorded = json.loads((SNAPSHOT / "snapshot.json").read_text(encoding="utf-8"))
    builderid = next(b["builderid"] for b in recorded["builders"]
                     if b["name"] == BUILDER)
    master = recorded.get("base_url", "http://127.0.0.1:8010/")
    url = f"{master}#/builders/{builderid}/builds/{BUILD}"
    triage = ("triage", url, "--source", f"snapshot:{SNAPSHOT}", "--tracker", "none")
    filled = json.loads(_run(bin_ / "bbwatch", *triage, "--format", "json", cwd=work,
                             env=env).stdout)
    assert filled["checklist"] == "triage" and filled["builder"] == BUILDER
    assert TEST_FILE in [f["test_file"] for f in filled["failures"]]
    page = _run(bin_ / "bbwatch", *triage, "--format", "html", cwd=work, env=env).stdout
    assert "localStorage" in page and "@media print" in page  # checklist.js, print.css inlined

    site = work / "site"
    site.mkdir()
    (site / "conf.py").write_text(
        'extensions = ["myst_parser", "bbwatch.sphinxext"]\n'
        f"bbwatch_buildbot_url = {master!r}\n"
        f"bbwatch_snapshot = {str(SNAPSHOT)!r}  # recorded: no network\n",
        encoding="utf-8")
    (site / "index.md").write_text(
        "# Minimal\n\n```{buildbot-status}\n```\n\n```{known-failures}\n```\n\n"
        "```{triage-checklist} triage\n```\n", encoding="utf-8")
    _run(bin_ / "sphinx-build", "-b", "html", "-W", "--keep-going", "-q", site, site / "_build",
         cwd=work, env=env)
    html = (site / "_build" / "index.html").read_text(encoding="utf-8")
    assert BUILDER in html and "bbwatch-checklist" in html
    for name in STATIC:
        assert (site / "_build" / "_static" / name).is_file(), name
