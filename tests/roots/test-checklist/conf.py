"""Test root: the {triage-checklist} directive and per-failure pages from handed-in contexts."""

extensions = ["myst_parser", "bbwatch.sphinxext"]
myst_enable_extensions = ["colon_fence", "attrs_inline", "substitution"]
bbwatch_offline = True
html_theme = "basic"


def _contexts(app):
    from tests.triage_samples import control_context, hostile_context, infra_context

    return [hostile_context(), infra_context(), control_context()]


def setup(app):
    app.connect("bbwatch-triage-contexts", _contexts)
