"""Test root: the three live directives (MyST and reST) against a master set by the test."""

extensions = ["myst_parser", "sphinx_design", "bbwatch.sphinxext"]
exclude_patterns = ["_build"]
bbwatch_history = 6
bbwatch_timeout = 2.0
