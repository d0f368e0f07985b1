"""Test root: per-failure pages under furo, whose sidebar renders the global toctree on every
page (the shared-navigation fast path), beside documents in a folder and at the top."""

extensions = ["myst_parser", "bbwatch.sphinxext"]
bbwatch_offline = True
html_theme = "furo"
project = "furo root"


def _contexts(app):
    import dataclasses

    from tests.triage_samples import control_context, hostile_context, infra_context

    hostile = hostile_context()
    # Two more pages at the same depth, so the shared navigation is reused, not just made.
    twin = dataclasses.replace(hostile, builder="x86-64 twin 3.x", build_number=7)
    return [hostile, infra_context(), control_context(), twin]


def setup(app):
    app.connect("bbwatch-triage-contexts", _contexts)
