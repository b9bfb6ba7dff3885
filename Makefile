# Two commands for a newcomer: `make demo` runs the whole system, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo lint test test-fast bench-install esnode-start esnode-stop clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: install
	CRAYFIS_DEBUG=1 $(PY) manage.py demo

lint: install
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest

# The pure core: no Elasticsearch, Spark or browser (seconds, for the edit-test loop).
test-fast: install
	$(PY) -m pytest tests/core -m "not elasticsearch and not spark and not browser"

bench-install: install
	$(PY) -m pip install -q -e ".[dev,bench]"
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)  # bench/ingest.py load generator (Debian wrk 4.1)

esnode-start: install
	CRAYFIS_DEBUG=1 $(PY) manage.py esnode start

esnode-stop: install
	CRAYFIS_DEBUG=1 $(PY) manage.py esnode stop

# The production topology on this machine, run for real: PostgreSQL, nginx (TLS), gunicorn, two
# Elasticsearch nodes, a Spark standalone cluster, Redis, indexers and the search; then the checks
# (docs/deploy.md). Installs the Debian packages it needs when missing. PRODCHECK_ARGS="--checks 1,2"
# runs some checks only.
.PHONY: prod-check
prod-check: $(VENV)/.prod-installed
	sh ops/prodcheck/debian-packages.sh
	$(PY) -m ops.prodcheck $(PRODCHECK_ARGS)

$(VENV)/.prod-installed: $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e ".[dev,prod]"
	touch $@

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
