# The two commands: `make run` (the demo) and `make test` (everything CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The newest supported combination (Django 6.1 on Python 3.13) in a second virtualenv;
# PYENV_VERSION picks pyenv's 3.13 when python3.13 is a pyenv shim (ignored otherwise).
NEWEST_PYTHON ?= python3.13
NEWEST_VENV ?= .venv-newest
NEWEST_PY := $(NEWEST_VENV)/bin/python
NEWEST_STAMP := $(NEWEST_VENV)/.installed
# `make run PORT=8123 HOST=0.0.0.0`
HOST ?= 127.0.0.1
PORT ?= 8000
# Where `make package` builds the sdist and the wheel.
DIST ?= build/dist
# The services pass of `make test` (PostgreSQL and Redis); CI sets
# OPSMESSAGING_REQUIRE_SERVICES=1 so that an unreachable server fails the run instead of
# skipping it.
PG_URL ?= postgres://postgres@127.0.0.1:5432/opsmessaging
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

# The benchmarks' own database and Redis database (created and emptied by them).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/opsmessaging_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/13
BENCH_STAMP := $(VENV)/.bench-installed
# The load soak's own database and Redis database (created and emptied by it).
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/opsmessaging_soak
SOAK_REDIS_URL ?= redis://127.0.0.1:6379/14
SOAK_ARGS ?=

.PHONY: run test install install-newest lint docs test-sqlite test-newest test-services package \
	clean bench bench-quick bench-history soak

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	touch $(STAMP)

install: $(STAMP)

$(NEWEST_STAMP): requirements.txt requirements-newest.txt pyproject.toml
	PYENV_VERSION=3.13 $(NEWEST_PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	grep -v '^django-celery-beat' requirements.txt > $(NEWEST_VENV)/requirements.txt
	$(NEWEST_PY) -m pip install --quiet --disable-pip-version-check \
		-r $(NEWEST_VENV)/requirements.txt -r requirements-newest.txt -e .
	$(NEWEST_PY) -m pip install --quiet --disable-pip-version-check --no-deps \
		"$$(grep '^django-celery-beat' requirements.txt)"
	touch $(NEWEST_STAMP)

install-newest: $(NEWEST_STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_setup
	$(PY) -m uvicorn project.asgi:application --host $(HOST) --port $(PORT) \
		--ws websockets-sansio --ws-max-size 1048576 --lifespan on

test: lint test-sqlite test-newest package test-services

lint: install docs
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy opsmessaging
	$(VENV)/bin/lint-imports
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run

# The manual (docs/, mkdocs.yml); warnings are errors.
docs: install
	$(VENV)/bin/mkdocs build --strict --site-dir build/site

# The embedded default: SQLite, in-process channel layer, no external service.
test-sqlite: install
	$(PY) -m pytest -m "not postgres and not redis and not packaging" -q

# The SQLite pass again on the newest supported combination (Django 6.1, Python 3.13);
# noxfile.py has the whole matrix.
test-newest: $(NEWEST_STAMP)
	$(NEWEST_PY) manage.py check --fail-level WARNING
	$(NEWEST_PY) manage.py makemigrations --check --dry-run
	SQLITE_TEST_PATH=$(NEWEST_VENV)/test-db.sqlite3 \
		$(NEWEST_PY) -m pytest -m "not postgres and not redis and not packaging" -q

# The sdist and the wheel (built from the sdist), checked by twine; then the wheel installed into a fresh
# virtualenv (tests/packaging/test_wheel.py) must import, migrate and broadcast.
package: install
	rm -rf $(DIST)
	$(PY) -m build --outdir $(DIST) .
	$(PY) -m twine check --strict $(DIST)/*
	OPSMESSAGING_WHEEL="$$(ls $(DIST)/*.whl)" $(PY) -m pytest tests/packaging -m packaging -q

# Everything again on the real PostgreSQL and Redis.
test-services: install
	@if $(PY) tests/services.py postgres "$(PG_URL)" && $(PY) tests/services.py redis "$(TEST_REDIS_URL)"; then \
		DATABASE_URL="$(PG_URL)" REDIS_URL="$(TEST_REDIS_URL)" $(PY) -m pytest -m "not packaging" -q; \
	elif [ "$$OPSMESSAGING_REQUIRE_SERVICES" = 1 ]; then \
		echo "PostgreSQL ($(PG_URL)) and Redis ($(TEST_REDIS_URL)) are required but unreachable" >&2; exit 1; \
	else \
		echo "PostgreSQL or Redis unreachable: skipped the services pass (CI runs it)."; \
	fi

# Benchmarks (PostgreSQL and Redis); not part of `make test`. Every figure beside its raw
# baseline measured in the same run; prints a table and writes bench/results.json.
$(BENCH_STAMP): bench/requirements.txt $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" BENCH_REDIS_URL="$(BENCH_REDIS_URL)" \
		$(PY) bench/run.py

# The same figures in under 5 minutes (shorter steps, fewer repeats).
bench-quick: $(BENCH_STAMP)
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" BENCH_REDIS_URL="$(BENCH_REDIS_URL)" \
		$(PY) bench/run.py --quick

# The API's history list at 10,000 and 1,000,000 messages: p50/p95 and their ratio.
bench-history: install
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) bench/history.py

# Load soak on loopback (2 minutes): 500 broadcasts/s, 100 WebSocket subscribers and 20
# API readers at once against uvicorn, PostgreSQL and Redis; fails on a lost message or
# a 5xx. SOAK_ARGS="--duration 20 --rate 100" for a shorter one (see bench/soak.py -h).
soak: install
	SOAK_DATABASE_URL="$(SOAK_DATABASE_URL)" SOAK_REDIS_URL="$(SOAK_REDIS_URL)" \
		$(PY) bench/soak.py $(SOAK_ARGS)

clean:
	rm -rf $(VENV) $(NEWEST_VENV) build .nox db.sqlite3* test-db.sqlite3* .pytest_cache .mypy_cache .ruff_cache
