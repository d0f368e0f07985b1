"""Test root for the known-issues-registry directive: only the registry family is loaded."""

from bbwatch.sphinxext import config, registry

root_doc = "index"
exclude_patterns = ["_build"]


def setup(app):
    config.setup_config(app)
    registry.setup_registry(app)
