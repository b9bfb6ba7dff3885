# Two commands for a newcomer: `make demo` runs the whole system, `make test` runs the suite.
# CI (.ci/run) runs `make test` and `make prod-check` from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo lint test test-sqlite test-postgres test-fast bench-install esnode-start esnode-stop clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,prod]"   # prod: psycopg for the PostgreSQL pass, redis for prod-check
	touch $(STAMP)

demo: install
	CRAYFIS_DEBUG=1 $(PY) manage.py demo

lint: install
	$(VENV)/bin/ruff check .

# The suite on SQLite, then every test that uses the database again on PostgreSQL (a server the
# run starts with Debian's postgresql package, or CRAYFIS_TEST_POSTGRES=postgres://...; see
# tests/postgres.py). Both passes run, so one run shows the failures of each; either failing fails.
test: lint
	@sqlite=passed; postgres=passed; \
	$(MAKE) --no-print-directory test-sqlite || sqlite=FAILED; \
	$(MAKE) --no-print-directory test-postgres || postgres=FAILED; \
	echo "make test: SQLite pass $$sqlite, PostgreSQL pass $$postgres"; \
	[ $$sqlite = passed ] && [ $$postgres = passed ]

test-sqlite: install
	$(PY) -m pytest

test-postgres: install
	$(PY) -m pytest --db postgres -m database

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
prod-check: install
	sh ops/prodcheck/debian-packages.sh
	$(PY) -m ops.prodcheck $(PRODCHECK_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
