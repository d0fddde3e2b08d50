# fleetwarden build/test entry point.
#
# Needs only Python >= 3.11, git and make: everything else goes into .venv.
# `make test` also needs PostgreSQL server binaries; scripts/pg-throwaway.sh installs
# them with apt-get when missing and run as root, and fails loudly otherwise.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

# Extra arguments for pytest, e.g. make test PYTEST_ARGS='-k harness -x'
PYTEST_ARGS ?=
# The reference machine has 2 cores.
PYTEST_WORKERS ?= 2

# Stamps live inside the venv so that deleting .venv also forgets what was installed.
# Each one is rebuilt when pyproject.toml changes (an editable install picks up
# source changes by itself).
STAMP_RUN := $(VENV)/.stamp-run
STAMP_TEST := $(VENV)/.stamp-test
STAMP_DEV := $(VENV)/.stamp-dev

.PHONY: help venv install run test lint bench clean

help:
	@echo "make run     create .venv, install fleetwarden, run 'fleetwarden demo'"
	@echo "make test    run the test suite against SQLite and a throw-away PostgreSQL"
	@echo "             (PYTEST_ARGS='...' passes extra arguments to pytest)"
	@echo "make lint    ruff check src tests; mypy"
	@echo "make bench   run bench/run_all.py"
	@echo "make clean   remove .venv, build artefacts and caches"

$(BIN)/python:
	@if [[ -z "$(PYTHON)" ]]; then \
	    echo "ERROR: no python3.11 or python3 on PATH (set PYTHON=/path/to/python3.11)" >&2; \
	    exit 1; \
	fi
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	    echo "ERROR: $(PYTHON) is $$("$(PYTHON)" --version 2>&1); fleetwarden needs Python >= 3.11" >&2; \
	    exit 1; }
	"$(PYTHON)" -m venv $(VENV)

venv: $(BIN)/python

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	@touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@

install: $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/fleetwarden demo

# scripts/lab-clients.sh installs the real clients the lab tests use (apt, when root);
# scripts/browser-deps.sh installs Debian's Chromium for the browser tests (tests/e2e).
# scripts/pg-throwaway.sh starts the PostgreSQL server, exports FLEETWARDEN_TEST_PG_URL,
# runs pytest, and always stops the server and removes its directory afterwards.
# --dist loadgroup keeps each xdist_group (the browser tests' one demo) on one worker.
test: $(STAMP_TEST)
	bash scripts/lab-clients.sh
	bash scripts/browser-deps.sh
	@echo "browser tests save screenshots of the main pages in build/screenshots/"
	PYTHON=$(BIN)/python bash scripts/pg-throwaway.sh \
	    $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS) tests

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(STAMP_RUN)
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/bench_lab.py --count 1000

clean:
	rm -rf $(VENV) build dist .eggs .pytest_cache .ruff_cache .mypy_cache test-artifacts
	find . -path ./.git -prune -o \
	    \( -name __pycache__ -o -name '*.egg-info' -o -name '.stamp*' \) -prune \
	    -exec rm -rf {} +
