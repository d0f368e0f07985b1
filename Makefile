# bbwatch — every target creates and uses the local .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPHINXOPTS ?=
BUILDDIR := _build
FLEETDIR ?= .fleet
FLEETPORT ?= 8010
PORT ?= 8000
# The demo fleet's known-issues registry and issue list (demo numbers, links to
# bbwatch-demo.invalid): only `make demo` uses them; `make html` reads docs/data/known-issues.toml.
DEMO_REGISTRY := ext/bbwatch_fleet/demo-known-issues.toml
DEMO_ISSUES := ext/bbwatch_fleet/demo-issues.json
# The demo fleet's acknowledgements (docs/data/acks.toml is the production file). Its whole
# history is minutes old, so a known issue is a close candidate as soon as its tests pass
# everywhere (production: 14 days).
DEMO_ACKS := ext/bbwatch_fleet/demo-acks.toml
DEMO_CLOSE_AFTER_DAYS := 0

.PHONY: help venv html demo test lint linkcheck serve clean bench fleet-up fleet-down

help:
	@echo "make demo      start the local Buildbot fleet and build the site against it"
	@echo "make test      run the whole test suite (unit, integration, browser)"
	@echo "make html      build the site (live data from BBWATCH_BUILDBOT_URL, else the default)"
	@echo "make serve     serve the built site on http://127.0.0.1:$(PORT)/"
	@echo "make linkcheck check internal references"
	@echo "make bench     run the benchmarks in bench/"
	@echo "make clean     remove build output (keeps .venv)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,demo,site]'
	touch $(STAMP)

venv: $(STAMP)

# An unreachable master must not fail `make html`: the live pages then say "Live data
# unavailable" (the warning is suppressed here only). Release builds: LIVEOPTS=-Dbbwatch_strict=1
LIVEOPTS ?= -D suppress_warnings=bbwatch.live
html: $(STAMP)
	$(BIN)/sphinx-build -b html -c . -W --keep-going $(LIVEOPTS) $(SPHINXOPTS) docs $(BUILDDIR)/html
	@echo "Site built: file://$(CURDIR)/$(BUILDDIR)/html/index.html"

demo: $(STAMP)
	@BBWATCH_BUILDBOT_URL="$$($(BIN)/bbwatch fleet up --dir $(FLEETDIR) --port $(FLEETPORT) --quiet)" || { echo "demo: could not start the local fleet" >&2; exit 2; }; \
	echo "Local Buildbot fleet: $$BBWATCH_BUILDBOT_URL"; \
	BBWATCH_BUILDBOT_URL="$$BBWATCH_BUILDBOT_URL" BBWATCH_REGISTRY=$(DEMO_REGISTRY) BBWATCH_ACKS=$(DEMO_ACKS) BBWATCH_CLOSE_AFTER_DAYS=$(DEMO_CLOSE_AFTER_DAYS) $(BIN)/sphinx-build -b html -c . --keep-going $(SPHINXOPTS) docs $(BUILDDIR)/html
	@echo
	@echo "Site built against the local fleet: file://$(CURDIR)/$(BUILDDIR)/html/index.html"
	@echo "Browse it with: make serve   (http://127.0.0.1:$(PORT)/)"
	@echo "Try the CLI on a red build: $(BIN)/bbwatch match BUILD_URL --registry $(DEMO_REGISTRY) --issues $(DEMO_ISSUES)"
	@echo "The off-duty handoff: $(BIN)/bbwatch digest --buildbot URL --registry $(DEMO_REGISTRY) --acks $(DEMO_ACKS) --close-after $(DEMO_CLOSE_AFTER_DAYS)"
	@echo "Stop the fleet with: $(BIN)/bbwatch fleet down --dir $(FLEETDIR)"
	@echo
	@echo "Keep the live pages fresh while the fleet builds (instead of make serve):"
	@echo "  BBWATCH_REGISTRY=$(DEMO_REGISTRY) BBWATCH_ACKS=$(DEMO_ACKS) BBWATCH_CLOSE_AFTER_DAYS=$(DEMO_CLOSE_AFTER_DAYS) $(BIN)/bbwatch serve --buildbot-url http://127.0.0.1:$(FLEETPORT)/ --interval 10 --port $(PORT)"
	@echo "  It serves http://127.0.0.1:$(PORT)/, rebuilds when a build completes, and open pages reload themselves."

test: $(STAMP)
	$(BIN)/ruff check -q ext tests bench conf.py
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check ext tests bench conf.py

linkcheck: $(STAMP)
	$(BIN)/sphinx-build -b linkcheck -c . -W --keep-going -D linkcheck_ignore='https?://.*' docs $(BUILDDIR)/linkcheck

serve: $(STAMP)
	@test -f $(BUILDDIR)/html/index.html || $(MAKE) html
	@echo "Serving http://127.0.0.1:$(PORT)/  (Ctrl-C to stop)"
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory $(BUILDDIR)/html $(PORT)

bench: $(STAMP)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/fetch.py
	$(BIN)/python bench/site.py
	$(BIN)/python bench/freshness.py

fleet-up: $(STAMP)
	$(BIN)/bbwatch fleet up --dir $(FLEETDIR) --port $(FLEETPORT)

fleet-down: $(STAMP)
	$(BIN)/bbwatch fleet down --dir $(FLEETDIR)

clean:
	rm -rf $(BUILDDIR) .pytest_cache
