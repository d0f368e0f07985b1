"""Sphinx configuration for the Buildbot Watcher's Handbook (sources in docs/)."""

from __future__ import annotations

import os

project = "Buildbot Watcher's Handbook"
author = "The bbwatch team"
copyright = "2026, the bbwatch team"

extensions = [
    "myst_parser",
    "sphinx_design",
    "bbwatch.sphinxext",
]

myst_enable_extensions = ["colon_fence", "deflist", "tasklist", "attrs_inline", "substitution"]
myst_heading_anchors = 3

root_doc = "index"
exclude_patterns = ["_build", "data/*.md"]
templates_path: list[str] = []
nitpicky = True

html_theme = "furo"
html_title = "Buildbot Watcher's Handbook"
html_static_path = ["docs/_static"]
html_css_files = ["print.css"]
html_last_updated_fmt = "%Y-%m-%d"
# Where the site is published: printed QR codes (the watcher's card) point there. Unset, they
# point at `make serve`'s http://127.0.0.1:8000/ (docs/maintaining/deployment.md).
html_baseurl = os.environ.get("BBWATCH_SITE_URL", "")

# bbwatch: where live data comes from. The environment wins so `make demo` and CI can point
# the site at the local fleet without editing this file.
bbwatch_buildbot_url = os.environ.get("BBWATCH_BUILDBOT_URL", "https://buildbot.python.org/all/")
bbwatch_offline = os.environ.get("BBWATCH_OFFLINE", "") not in ("", "0", "false")
