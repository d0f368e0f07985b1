"""Stage 2 of the pipeline: what a test log says.

Owns the regrtest parser (``regrtest``: one streaming state machine over every output format
from 3.8 to 3.14), its result types (``results``: ``TestRun``, ``TestCase``, ``Leak``,
``Timeout``, ``Crash``), the failures matching reads from a run (``failures``) and what bbwatch
keeps per build's log (``parsed``: ``BuildTests``, ``ParsedLog``).

Pure functions over text and plain dataclasses: no network, no disk. Imports only
``bbwatch.models``, ``bbwatch.domain`` and ``bbwatch.errors``; never ``bbwatch.source``,
``bbwatch.triage``, ``bbwatch.sphinxext`` or ``bbwatch.commands``.
"""
