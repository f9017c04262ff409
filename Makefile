# The two commands: `make run` (the demo) and `make test` (everything CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The PostgreSQL pass of `make test`; CI sets OPSMESSAGING_REQUIRE_SERVICES=1 so that an
# unreachable server fails the run instead of skipping it.
PG_URL ?= postgres://postgres@127.0.0.1:5432/opsmessaging

.PHONY: run test install lint test-sqlite test-postgres clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_setup
	$(PY) manage.py runserver 127.0.0.1:8000 --noreload

test: lint test-sqlite test-postgres

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy opsmessaging
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run

test-sqlite: install
	$(PY) -m pytest -m "not postgres" -q

test-postgres: install
	@if $(PY) tests/services.py postgres "$(PG_URL)"; then \
		DATABASE_URL="$(PG_URL)" $(PY) -m pytest -q; \
	elif [ "$$OPSMESSAGING_REQUIRE_SERVICES" = 1 ]; then \
		echo "PostgreSQL is required (OPSMESSAGING_REQUIRE_SERVICES=1) but unreachable at $(PG_URL)" >&2; exit 1; \
	else \
		echo "PostgreSQL unreachable at $(PG_URL): skipped the PostgreSQL pass (CI runs it)."; \
	fi

clean:
	rm -rf $(VENV) db.sqlite3* test-db.sqlite3* .pytest_cache .mypy_cache .ruff_cache
