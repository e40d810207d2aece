# leadexchange — every set-up step lives here; a fresh clone needs only Python 3.11+.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := leadexchange.settings

.PHONY: install run test lint bench clean

$(STAMP): requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required (found %s)" % sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

install: $(STAMP)

# DEMO_TRAFFIC=0 make run: no demo traffic; DEMO_SIMULATOR_PORT=N: the buyer simulator's port
# (default PORT + 99 when free, else any free port). Both are settings (leadexchange/settings.py).
run: install
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py run_embedded --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# mypy's Django plugin imports the settings, which refuse to load without a secret key (and a
# PII digest key) once DATABASE_URL is set (as in CI); type checking never signs or digests
# anything, so it gets throwaway keys. `make test` gets its keys from pyproject's pytest env.
lint: install
	$(BIN)/ruff check .
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-type-checking-only} \
	PII_DIGEST_KEY=$${PII_DIGEST_KEY:-type-checking-only} PII_ENCRYPTION_KEYS=$${PII_ENCRYPTION_KEYS:-mypy:type-checking-only-type-checking-only-xx} $(BIN)/mypy --no-incremental

bench: install
	$(BIN)/python -m bench $(if $(QUICK),--quick,) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
