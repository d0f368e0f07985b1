"""Test root for tests/test_faults.py and tests/test_hostile.py: every live directive, small.

The master comes from BBWATCH_BUILDBOT_URL; the cache directory from ``-D bbwatch_cache_dir``.
"""

extensions = ["myst_parser", "bbwatch.sphinxext"]
exclude_patterns = ["_build"]
bbwatch_history = 5
bbwatch_timeout = 1.5
html_theme = "furo"  # the real theme: the browser tests check its layout

# tests/test_hostile.py points the tracker at a local issues file with hostile titles and URLs.
import os  # noqa: E402

if os.environ.get("BBWATCH_TEST_ISSUES"):
    bbwatch_tracker = {"file": os.environ["BBWATCH_TEST_ISSUES"]}
