# The suites here are inputs for real `python -m test` runs (see suites/make_samples.py), not
# bbwatch tests: pytest must not collect them.
collect_ignore_glob = ["suites/*"]
