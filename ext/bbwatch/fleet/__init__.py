"""A real local Buildbot fleet that behaves like CPython's (``bbwatch fleet up|down``).

- ``scenarios``: what the history contains, as data (the contract for integration tests).
- ``sources`` / ``repo``: the scripted CPython-like git repository and its commits.
- ``mastercfg``: the master configuration built from the scenarios.
- ``control``: create, start, feed and stop the master and workers.
"""
