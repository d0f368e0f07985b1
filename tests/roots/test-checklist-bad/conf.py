"""Test root: a broken checklist file beside conf.py; the build warns with file and line."""

extensions = ["myst_parser", "bbwatch.sphinxext"]
bbwatch_offline = True
html_theme = "basic"
