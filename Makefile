# Sift: `make run` serves the app (SQLite by default), `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HTMX ?= 2.0.11
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest vendor bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/sift db upgrade
	$(BIN)/sift demo --once
	@echo "Sift is starting on http://$(HOST):$(PORT)/ (the first visit asks you to create the admin account)"
	$(BIN)/sift serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests bench migrations

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	@if [ -x /usr/bin/chromium ]; then echo "browser tests: on (/usr/bin/chromium)"; \
	else echo "browser tests: SKIPPED (no /usr/bin/chromium; apt-get install chromium chromium-driver)"; fi
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest.py

vendor:
	cd $$(mktemp -d) && npm pack htmx.org@$(HTMX) --silent && tar xzf htmx.org-$(HTMX).tgz \
	  && mkdir -p $(CURDIR)/static/vendor/htmx-$(HTMX) \
	  && cp package/dist/htmx.min.js package/LICENSE $(CURDIR)/static/vendor/htmx-$(HTMX)/ \
	  && sha256sum $(CURDIR)/static/vendor/htmx-$(HTMX)/htmx.min.js

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
