"""All ``bbwatch_*`` configuration values in one dataclass, validated at ``config-inited``."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError

from bbwatch.errors import TrackerError
from bbwatch.triage.acks import ACKS_ENV, is_demo_acks
from bbwatch.triage.registry import REGISTRY_ENV, is_demo_registry
from bbwatch.triage.tracker import check_tracker_settings, web_url_for_api

DEFAULT_BUILDBOT_URL = "https://buildbot.python.org/all/"
# The production registry, relative to the source folder: what a build reads unless
# bbwatch_registry / BBWATCH_REGISTRY choose another file (the demo fleet's, for `make demo`).
DEFAULT_REGISTRY = Path("data", "known-issues.toml")


class WarningType(enum.StrEnum):
    """Sub-types of ``type="bbwatch"`` warnings, for ``suppress_warnings = ["bbwatch.live"]``."""

    LIVE = "live"  # live data unavailable or degraded
    DATA = "data"  # bad registry/checklist data
    CONFIG = "config"


@dataclass(frozen=True)
class BBWatchConfig:
    buildbot_url: str = DEFAULT_BUILDBOT_URL
    # {"file": PATH} or {"github": "o/r", "api_url"?, "web_url"?}, environment applied
    tracker: dict[str, object] = field(default_factory=dict)
    cache_dir: str | None = None  # None: <outdir>/../.bbwatch-cache
    history: int = 20
    branches: tuple[str, ...] = ()
    offline: bool = False
    strict: bool = False
    snapshot: str | None = None  # serve from a recorded snapshot directory instead of HTTP
    timeout: float = 10.0
    # the known-issues registry, absolute once validated; None: <srcdir>/data/known-issues.toml
    registry: str | None = None
    # keep the fetched fleet and its analysis out of the collector (gc.freeze): only for a
    # process that runs nothing but this build (it changes the whole interpreter); off unless
    # asked
    gc_freeze: bool = False
    # the checklist folder, absolute once validated; None: checklists/ beside conf.py or the
    # sources, else the checklists shipped with the package
    checklists: str | None = None
    # the acknowledgements file, absolute once validated; None: <srcdir>/data/acks.toml
    acks: str | None = None
    # days a known issue's tests stay green on every builder before it is a close candidate
    close_after_days: float = 14.0

    def resolved_cache_dir(self, app: Sphinx) -> Path:
        if self.cache_dir:
            return Path(app.confdir, self.cache_dir)
        return Path(app.outdir).parent / ".bbwatch-cache"


_VALUES: dict[str, tuple[object, type | tuple[type, ...]]] = {
    "bbwatch_buildbot_url": (DEFAULT_BUILDBOT_URL, str),
    "bbwatch_tracker": ({}, dict),
    "bbwatch_cache_dir": (None, (str, type(None))),
    "bbwatch_history": (20, int),
    "bbwatch_branches": ([], (list, tuple)),
    "bbwatch_offline": (False, bool),
    "bbwatch_strict": (False, bool),
    "bbwatch_snapshot": (None, (str, type(None))),
    "bbwatch_timeout": (10.0, (int, float)),
    "bbwatch_registry": (None, (str, type(None))),
    "bbwatch_gc_freeze": (False, bool),
    "bbwatch_checklists": (None, (str, type(None))),
    "bbwatch_acks": (None, (str, type(None))),
    "bbwatch_close_after_days": (14.0, (int, float)),
}


def get_config(app: Sphinx) -> BBWatchConfig:
    return app.env.bbwatch_config if hasattr(app.env, "bbwatch_config") else _build(app.config)


def registry_path(config: Config, srcdir: str | os.PathLike[str]) -> Path:
    """The known-issues registry this build reads (the live pages and the
    ``known-issues-registry`` directive alike): ``bbwatch_registry`` (``BBWATCH_REGISTRY``
    applied, made absolute at config-inited), else the production registry
    ``<srcdir>/data/known-issues.toml``. The path may not exist (no registry)."""
    chosen = getattr(config, "bbwatch_registry", None)
    return Path(chosen) if chosen else Path(srcdir, DEFAULT_REGISTRY)


def tracker_settings(
    conf: Mapping[str, object], environ: Mapping[str, str] = os.environ
) -> dict[str, object]:
    """``bbwatch_tracker`` with the environment applied, so CI can set the tracker without
    editing conf.py: ``BBWATCH_TRACKER`` (``github:OWNER/NAME``, ``file:PATH`` or ``none``)
    replaces the search source and keeps the other keys; ``BBWATCH_GITHUB_API_URL`` and
    ``BBWATCH_GITHUB_WEB_URL`` set ``api_url`` and ``web_url``. Idempotent. A malformed
    ``BBWATCH_TRACKER`` raises ConfigError.
    """
    settings = dict(conf)
    spec = environ.get("BBWATCH_TRACKER", "").strip()
    if spec:
        kind, sep, value = spec.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        for key in ("github", "file"):
            settings.pop(key, None)
        if kind in ("github", "file") and sep and value:
            settings[kind] = value
        elif kind != "none" or sep:
            raise ConfigError(
                f"BBWATCH_TRACKER must be github:OWNER/NAME, file:PATH or none, got {spec!r}"
            )
    for key, var in (("api_url", "BBWATCH_GITHUB_API_URL"), ("web_url", "BBWATCH_GITHUB_WEB_URL")):
        value = environ.get(var, "").strip()
        if value:
            settings[key] = value
    return settings


def _build(config: Config) -> BBWatchConfig:
    url = os.environ.get("BBWATCH_BUILDBOT_URL") or config.bbwatch_buildbot_url
    snapshot = os.environ.get("BBWATCH_SNAPSHOT") or config.bbwatch_snapshot
    return BBWatchConfig(
        buildbot_url=url,
        tracker=tracker_settings(config.bbwatch_tracker),
        cache_dir=config.bbwatch_cache_dir,
        history=config.bbwatch_history,
        branches=tuple(config.bbwatch_branches),
        offline=bool(config.bbwatch_offline)
        or os.environ.get("BBWATCH_OFFLINE", "").lower() not in ("", "0", "false", "no"),
        strict=bool(config.bbwatch_strict),
        snapshot=snapshot,
        timeout=float(config.bbwatch_timeout),
        registry=config.bbwatch_registry,  # BBWATCH_REGISTRY applied at config-inited
        gc_freeze=config.bbwatch_gc_freeze,
        checklists=config.bbwatch_checklists,
        acks=config.bbwatch_acks,  # BBWATCH_ACKS applied at config-inited
        close_after_days=float(config.bbwatch_close_after_days),
    )


def _validate(app: Sphinx, config: Config) -> None:
    for name, (_default, types) in _VALUES.items():
        value = getattr(config, name)
        if not isinstance(value, types):
            raise ConfigError(f"{name} must be {types}, got {type(value).__name__}: {value!r}")
    if config.bbwatch_history < 1:
        raise ConfigError("bbwatch_history must be at least 1")
    url = os.environ.get("BBWATCH_BUILDBOT_URL") or config.bbwatch_buildbot_url
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"bbwatch_buildbot_url must be an http(s) URL, got {url!r}")
    _validate_tracker(config)
    _validate_registry(app, config)
    _validate_checklists(app, config)
    _validate_acks(app, config)


def _validate_registry(app: Sphinx, config: Config) -> None:
    """``BBWATCH_REGISTRY`` (the environment wins, as for the master) or ``bbwatch_registry``,
    relative to the configuration directory, must name a registry file. Written back absolute,
    so the directive and the live pages read the same file and a build that switches registry
    (``make demo``, then ``make html``) re-reads every page instead of keeping demo entries."""
    from_env = os.environ.get(REGISTRY_ENV, "").strip()
    chosen = from_env or config.bbwatch_registry
    if chosen is None:
        return
    name = f"{REGISTRY_ENV} (from the environment)" if from_env else "bbwatch_registry"
    if not chosen.strip():
        raise ConfigError(f"{name} must be the path of a registry file, got {chosen!r}")
    path = Path(app.confdir, chosen).resolve()
    if not path.is_file():
        raise ConfigError(f"{name}: registry file not found: {path}")
    _refuse_demo_for_production(path, name, config)
    config.bbwatch_registry = str(path)


def _validate_acks(app: Sphinx, config: Config) -> None:
    """``BBWATCH_ACKS`` (the environment wins) or ``bbwatch_acks`` must name an
    acknowledgements file; written back absolute (as the registry). The demo fleet's file is
    refused for the production master. ``BBWATCH_CLOSE_AFTER_DAYS`` sets
    ``bbwatch_close_after_days``, which must be 0 or more."""
    days = os.environ.get("BBWATCH_CLOSE_AFTER_DAYS", "").strip()
    if days:
        try:
            config.bbwatch_close_after_days = float(days)
        except ValueError:
            raise ConfigError(f"BBWATCH_CLOSE_AFTER_DAYS must be a number, got {days!r}") \
                from None
    if config.bbwatch_close_after_days < 0:
        raise ConfigError("bbwatch_close_after_days must be 0 or more")
    from_env = os.environ.get(ACKS_ENV, "").strip()
    chosen = from_env or config.bbwatch_acks
    if chosen is None:
        return
    name = f"{ACKS_ENV} (from the environment)" if from_env else "bbwatch_acks"
    path = Path(app.confdir, chosen).resolve()
    if not chosen.strip() or not path.is_file():
        raise ConfigError(f"{name}: acknowledgements file not found: {path}")
    url = os.environ.get("BBWATCH_BUILDBOT_URL") or config.bbwatch_buildbot_url
    snapshot = os.environ.get("BBWATCH_SNAPSHOT") or config.bbwatch_snapshot
    production = urlsplit(url).hostname == urlsplit(DEFAULT_BUILDBOT_URL).hostname
    if production and not snapshot and is_demo_acks(path):
        raise ConfigError(f"{name} names the demo fleet's acknowledgements ({path}) but the "
                          f"site is built against {url} (unset {ACKS_ENV})")
    config.bbwatch_acks = str(path)


def _validate_checklists(app: Sphinx, config: Config) -> None:
    """``bbwatch_checklists``, relative to the configuration directory, must name a folder
    (of checklist YAML files); written back absolute. Unset: ``checklists/`` beside conf.py or
    the sources, else the checklists shipped with the package."""
    chosen = config.bbwatch_checklists
    if chosen is None:
        return
    path = Path(app.confdir, chosen).resolve()
    if not chosen.strip() or not path.is_dir():
        raise ConfigError(f"bbwatch_checklists: checklist folder not found: {path}")
    config.bbwatch_checklists = str(path)


def _refuse_demo_for_production(path: Path, name: str, config: Config) -> None:
    """The demo fleet's registry with the production master (and no recorded snapshot standing
    in for it) is a leftover ``BBWATCH_REGISTRY`` from a demo session: the published site would
    show real failures as known and link them to demo issues. Stop instead. The demo registry
    is known by the marker line it carries (``DEMO_MARKER``), wherever it lies."""
    url = os.environ.get("BBWATCH_BUILDBOT_URL") or config.bbwatch_buildbot_url
    snapshot = os.environ.get("BBWATCH_SNAPSHOT") or config.bbwatch_snapshot
    production = urlsplit(url).hostname == urlsplit(DEFAULT_BUILDBOT_URL).hostname
    if production and not snapshot and is_demo_registry(path):
        raise ConfigError(
            f"{name} names the demo fleet's registry ({path}) but the site is built against "
            f"{url}: the demo entries must not reach it (unset {REGISTRY_ENV}, or point "
            "BBWATCH_BUILDBOT_URL at the local fleet)"
        )


def _validate_tracker(config: Config) -> None:
    settings = tracker_settings(config.bbwatch_tracker)
    try:
        check_tracker_settings(settings)
    except TrackerError as exc:
        env = [v for v in _TRACKER_ENV if os.environ.get(v, "").strip()]
        where = f" (with {', '.join(env)} from the environment)" if env else ""
        raise ConfigError(f"bbwatch_tracker{where}: {exc}") from None
    if "api_url" in settings and "web_url" not in settings:
        settings["web_url"] = web_url_for_api(str(settings["api_url"]))
    # Written back so every reader of the config value (the triage pages' links too) sees the
    # tracker the environment chose, and a changed tracker re-reads the pages.
    config.bbwatch_tracker = settings


_TRACKER_ENV = ("BBWATCH_TRACKER", "BBWATCH_GITHUB_API_URL", "BBWATCH_GITHUB_WEB_URL")


def setup_config(app: Sphinx) -> None:
    for name, (default, types) in _VALUES.items():
        app.add_config_value(name, default, "env", types=types)
    app.connect("config-inited", _validate)
