"""Test root: a directive naming a checklist that does not exist."""

extensions = ["myst_parser", "bbwatch.sphinxext"]
bbwatch_offline = True
html_theme = "basic"
