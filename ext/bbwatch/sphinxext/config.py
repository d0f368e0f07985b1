"""All ``bbwatch_*`` configuration values in one dataclass, validated at ``config-inited``."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError

DEFAULT_BUILDBOT_URL = "https://buildbot.python.org/all/"


class WarningType(enum.StrEnum):
    """Sub-types of ``type="bbwatch"`` warnings, for ``suppress_warnings = ["bbwatch.live"]``."""

    LIVE = "live"  # live data unavailable or degraded
    DATA = "data"  # bad registry/checklist data
    CONFIG = "config"


@dataclass(frozen=True)
class BBWatchConfig:
    buildbot_url: str = DEFAULT_BUILDBOT_URL
    tracker: dict[str, object] = field(default_factory=dict)  # {"file": PATH} or {"github": "o/r"}
    cache_dir: str | None = None  # None: <outdir>/../.bbwatch-cache
    history: int = 20
    branches: tuple[str, ...] = ()
    offline: bool = False
    strict: bool = False
    snapshot: str | None = None  # serve from a recorded snapshot directory instead of HTTP
    timeout: float = 10.0

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
}


def get_config(app: Sphinx) -> BBWatchConfig:
    return app.env.bbwatch_config if hasattr(app.env, "bbwatch_config") else _build(app.config)


def _build(config: Config) -> BBWatchConfig:
    url = os.environ.get("BBWATCH_BUILDBOT_URL") or config.bbwatch_buildbot_url
    snapshot = os.environ.get("BBWATCH_SNAPSHOT") or config.bbwatch_snapshot
    return BBWatchConfig(
        buildbot_url=url,
        tracker=dict(config.bbwatch_tracker),
        cache_dir=config.bbwatch_cache_dir,
        history=config.bbwatch_history,
        branches=tuple(config.bbwatch_branches),
        offline=bool(config.bbwatch_offline)
        or os.environ.get("BBWATCH_OFFLINE", "").lower() not in ("", "0", "false", "no"),
        strict=bool(config.bbwatch_strict),
        snapshot=snapshot,
        timeout=float(config.bbwatch_timeout),
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


def setup_config(app: Sphinx) -> None:
    for name, (default, types) in _VALUES.items():
        app.add_config_value(name, default, "env", types=types)
    app.connect("config-inited", _validate)
