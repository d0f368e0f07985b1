"""Which known-issues registry a build and the CLI read: ``bbwatch_registry`` and
``BBWATCH_REGISTRY``, validated at config-inited; the production registry by default, the demo
fleet's only when chosen, and never with buildbot.python.org as the master."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bbwatch.commands.main import main
from bbwatch.sphinxext.config import get_config, registry_path
from bbwatch.triage.registry import default_registry_path
from bbwatch_fleet import DEMO_REGISTRY
from sphinx.errors import ConfigError

from tests.conftest import REPO

ENV = ("BBWATCH_REGISTRY", "BBWATCH_BUILDBOT_URL", "BBWATCH_SNAPSHOT", "BBWATCH_OFFLINE",
       "BBWATCH_TRACKER")
ENTRY = """repo = "python/cpython"

[[issue]]
number = {number}
title = "test_os: the {name} registry's entry"
kind = "failing"
tests = ["test_os"]
added = 2026-11-20
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def _site(tmp_path: Path, conf: str = "") -> Path:
    """A site whose source folder holds data/known-issues.toml (#1) and other.toml (#2)."""
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "conf.py").write_text('extensions = ["bbwatch.sphinxext"]\nbbwatch_offline = True\n'
                                 + conf)
    (src / "index.rst").write_text("Home\n====\n\n.. known-issues-registry::\n")
    (src / "data" / "known-issues.toml").write_text(ENTRY.format(number=1, name="production"))
    (src / "other.toml").write_text(ENTRY.format(number=2, name="other"))
    return src


def _shown(app) -> set[int]:
    html = (Path(app.outdir) / "index.html").read_text()
    return {n for n in (1, 2) if f'id="known-issue-{n}"' in html}


def test_default_is_the_production_registry_of_the_source_folder(make_app, tmp_path):
    src = _site(tmp_path)
    app = make_app("html", srcdir=src)
    assert app.config.bbwatch_registry is None and get_config(app).registry is None
    assert registry_path(app.config, app.srcdir) == src / "data" / "known-issues.toml"
    app.build()
    assert _shown(app) == {1}


def test_the_config_value_chooses_the_registry(make_app, tmp_path):
    src = _site(tmp_path, 'bbwatch_registry = "other.toml"\n')
    app = make_app("html", srcdir=src)
    # relative to the configuration directory, written back absolute
    assert app.config.bbwatch_registry == str((src / "other.toml").resolve())
    assert registry_path(app.config, app.srcdir) == (src / "other.toml").resolve()
    app.build()
    assert _shown(app) == {2}


def test_the_environment_wins(make_app, tmp_path, monkeypatch):
    src = _site(tmp_path, 'bbwatch_registry = "data/known-issues.toml"\n')
    monkeypatch.setenv("BBWATCH_REGISTRY", "other.toml")
    app = make_app("html", srcdir=src)
    assert get_config(app).registry == str((src / "other.toml").resolve())
    app.build()
    assert _shown(app) == {2}


@pytest.mark.parametrize(("conf", "env", "words"), [
    ('bbwatch_registry = "missing.toml"\n', {}, "bbwatch_registry: registry file not found"),
    ("", {"BBWATCH_REGISTRY": "missing.toml"},
     "BBWATCH_REGISTRY (from the environment): registry file not found"),
    ('bbwatch_registry = "data"\n', {}, "registry file not found"),  # a folder
    ('bbwatch_registry = "  "\n', {}, "must be the path of a registry file"),
    ("bbwatch_registry = 3\n", {}, "bbwatch_registry must be"),
])
def test_config_inited_rejects_bad_registries(make_app, tmp_path, monkeypatch, conf, env,
                                              words):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        make_app("html", srcdir=_site(tmp_path, conf))
    message = str(info.value)
    assert words in message and "\n" not in message


def test_the_demo_registry_is_refused_with_the_production_master(make_app, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("BBWATCH_REGISTRY", str(DEMO_REGISTRY))
    with pytest.raises(ConfigError, match=r"demo fleet's registry .*buildbot\.python\.org"):
        make_app("html", srcdir=_site(tmp_path))
    # the same with the URL written without its path, or from conf.py
    monkeypatch.delenv("BBWATCH_REGISTRY")
    with pytest.raises(ConfigError, match="demo fleet's registry"):
        make_app("html", srcdir=_site(
            tmp_path / "b", f'bbwatch_registry = {str(DEMO_REGISTRY)!r}\n'
                            'bbwatch_buildbot_url = "https://buildbot.python.org/"\n'))


@pytest.mark.parametrize("conf", ['bbwatch_buildbot_url = "http://127.0.0.1:8010/"\n',
                                  'bbwatch_snapshot = "recorded"\n'])
def test_the_demo_registry_with_the_local_fleet_or_a_snapshot(make_app, tmp_path, monkeypatch,
                                                              conf):
    monkeypatch.setenv("BBWATCH_REGISTRY", str(DEMO_REGISTRY))
    app = make_app("html", srcdir=_site(tmp_path, conf))
    assert registry_path(app.config, app.srcdir) == DEMO_REGISTRY.resolve()


def test_switching_back_from_the_demo_registry_rereads_the_pages(make_app, tmp_path,
                                                                 monkeypatch):
    """`make demo`, then `make html` in the same build folder: no page keeps demo entries."""
    src = _site(tmp_path, 'bbwatch_buildbot_url = "http://127.0.0.1:8010/"\n')
    monkeypatch.setenv("BBWATCH_REGISTRY", "other.toml")
    demo = make_app("html", srcdir=src)
    demo.build()
    assert _shown(demo) == {2}
    monkeypatch.delenv("BBWATCH_REGISTRY")
    again = make_app("html", srcdir=src, freshenv=False)
    again.build()
    assert _shown(again) == {1}


# -- the CLI -----------------------------------------------------------------------------------
def test_cli_default_registry(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)  # the handbook's checkout: its production registry
    assert default_registry_path() == Path.cwd() / "docs" / "data" / "known-issues.toml"
    assert default_registry_path({"BBWATCH_REGISTRY": "  "}) == Path.cwd() / "docs" / "data" / \
        "known-issues.toml"
    monkeypatch.chdir(tmp_path)  # elsewhere: only what is given by path, nothing from the package
    assert default_registry_path() is None
    assert default_registry_path({"BBWATCH_REGISTRY": "x.toml"}) == Path("x.toml")


LOG = REPO / "tests" / "unit" / "samples" / "regrtest" / "real-312-full.log"


def test_cli_reads_bbwatch_registry(capsys, monkeypatch, tmp_path):
    issues = tmp_path / "issues.json"
    issues.write_text("[]")
    monkeypatch.setenv("BBWATCH_REGISTRY", str(DEMO_REGISTRY))
    code = main(["match", str(LOG), "--issues", str(issues), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["registry"] == str(DEMO_REGISTRY)
    monkeypatch.setenv("BBWATCH_REGISTRY", str(tmp_path / "missing.toml"))
    code = main(["match", str(LOG), "--issues", str(issues), "--json"])
    _out, err = capsys.readouterr()
    assert code == 2 and "registry file not found" in err


def test_triage_reads_bbwatch_registry(capsys, monkeypatch):
    """`bbwatch triage` of the still-red build (recorded snapshot): covered by the demo entry
    only when BBWATCH_REGISTRY chooses the demo registry."""
    from bbwatch_fleet import scenarios

    snapshot = REPO / "tests" / "fixtures" / "snapshot"
    builders = {b["name"]: b["builderid"]
                for b in json.loads((snapshot / "snapshot.json").read_text())["builders"]}
    builder = scenarios.STILL_RED.builders[0]
    url = (f"http://127.0.0.1:8010/#/builders/{builders[builder]}/builds/"
           f"{scenarios.STILL_RED.first_bad_build}")

    def numbers() -> list[int]:
        code = main(["triage", url, "--source", f"snapshot:{snapshot}", "--tracker", "none",
                     "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        return [c["number"] for f in json.loads(out)["failures"] for c in f["candidates"]]

    monkeypatch.chdir(REPO)
    assert numbers() == []  # the production registry covers nothing of the demo fleet
    monkeypatch.setenv("BBWATCH_REGISTRY", str(DEMO_REGISTRY))
    assert numbers() == [130202]
