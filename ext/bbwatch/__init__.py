"""bbwatch — the Buildbot Watcher's Handbook: client, parser, matching, Sphinx extensions, CLI."""

__version__ = "0.1.0"
