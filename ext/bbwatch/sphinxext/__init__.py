"""Sphinx extensions of the Buildbot Watcher's Handbook.

One module per directive family, each with its own ``setup_x(app)``; this package's ``setup``
registers them all, so ``conf.py`` lists just ``"bbwatch.sphinxext"``.

The top of the pipeline, beside ``bbwatch.commands``: may import every stage (``bbwatch.source``,
``bbwatch.logs``, ``bbwatch.triage``); nothing but ``bbwatch.commands`` (the docutils tree of
``checklists`` for ``triage --format html``) imports it.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

from bbwatch import __version__
from bbwatch.sphinxext import (
    checklists,
    config,
    live,
    live_acks,
    live_blocks,
    live_fresh,
    live_strips,
    qr,
    registry,
    triage_pages,
)


def setup(app: Sphinx) -> dict[str, Any]:
    config.setup_config(app)
    live.setup_live(app)
    live_blocks.setup_blocks(app)
    live_strips.setup_strips(app)
    live_acks.setup_acks(app)
    live_fresh.setup_fresh(app)
    checklists.setup_checklists(app)
    triage_pages.setup_triage_pages(app)
    registry.setup_registry(app)
    qr.setup_qr(app)
    return {
        "version": __version__,
        "env_version": 1,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
