# kconnect developer entry points. Everything built or downloaded lives in $(KCONNECT_CACHE), outside git.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
KCONNECT_CACHE ?= $(HOME)/.cache/kconnect
export KCONNECT_CACHE

.PHONY: setup demo test test-unit test-integration lint kafka-up kafka-down kafka-fetch bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,operator]'
	touch $@

setup: $(VENV)/.installed

kafka-fetch: setup
	$(PY) -m e2e.services.kafka fetch

kafka-up: setup
	$(PY) -m e2e.services.kafka up

kafka-down: setup
	$(PY) -m e2e.services.kafka down

demo: setup
	$(PY) -m examples.demo

test: setup kafka-fetch
	$(PY) -m pytest tests

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup kafka-fetch
	$(PY) -m pytest tests/integration

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup kafka-fetch
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
