"""Stage 3 of the pipeline: what the fleet's failures are and what to do about each.

Owns history over a builder's builds (``history``: streaks, suspects, flakiness), which issue
covers a failure (``matching``, the reviewed ``registry``, the ``tracker`` and the watcher's
``search`` over it), the one picture of a fleet (``analysis``: ``analyse``; its ``rows`` and
``classify``), triage contexts (``context``; ``analysis_context`` from an analysis), checklist
data (``checklist``), the filler (``fill``) and its text renderings (``render``, ``mdescape``),
reproduce commands (``reproduce``), the watchers' acknowledgements (``acks``), the off-duty
handoff (``digest``) and the watch's own health figures (``health``).

Pure functions over plain dataclasses, apart from the tracker (a network edge the caller hands
in). Imports ``bbwatch.models``, ``bbwatch.domain``, ``bbwatch.errors``, ``bbwatch.logs`` and
``bbwatch.source``; never ``bbwatch.sphinxext`` or ``bbwatch.commands``.
"""
