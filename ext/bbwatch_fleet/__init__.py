"""A real local Buildbot fleet that behaves like CPython's (``bbwatch fleet up|down``).

A separate package, the demo extra (``pip install -e '.[demo]'``, which ``make`` does): the
runtime package ``bbwatch`` never imports it; only ``bbwatch fleet`` loads it, when it runs.
It may import ``bbwatch`` (the client's URL rule, atomic writes, the error base).

- ``scenarios``: what the history contains, as data (the contract for integration tests).
- ``sources`` / ``repo``: the scripted CPython-like git repository and its commits.
- ``mastercfg``: the master configuration built from the scenarios.
- ``control``: create, start, feed and stop the master and workers.

The demo data that goes with the fleet lives here too, never under ``docs/data/`` (which the
production site reads): ``DEMO_REGISTRY``, the known-issues registry written for the scenarios,
``DEMO_ISSUES``, a small issue list standing in for the tracker, and ``DEMO_ACKS``, the
watchers' acknowledgements of the scenarios' problems (``BBWATCH_ACKS``). Their issue numbers are
demo numbers and their links go to ``bbwatch-demo.invalid``, a reserved name that never
resolves. Only ``make demo``, the fleet's tests and the handbook's worked examples use them,
chosen by configuration (``BBWATCH_REGISTRY``, ``bbwatch_registry``, ``--registry``,
``--issues``). The registry carries ``bbwatch.triage.registry.DEMO_MARKER``, by which the site
refuses it for buildbot.python.org.
"""

from pathlib import Path

DEMO_REGISTRY = Path(__file__).with_name("demo-known-issues.toml")
DEMO_ISSUES = Path(__file__).with_name("demo-issues.json")
DEMO_ACKS = Path(__file__).with_name("demo-acks.toml")
# Where the demo data's links go: reserved (RFC 2606), so it never leads to a real issue.
DEMO_TRACKER_URL = "https://bbwatch-demo.invalid/issues/"
