# kconnect developer entry points. Everything built or downloaded lives in $(KCONNECT_CACHE), outside git.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
KCONNECT_CACHE ?= $(HOME)/.cache/kconnect
export KCONNECT_CACHE

.PHONY: setup demo demo-k8s demo-k8s-down test test-unit test-integration lint kafka-up kafka-down kafka-fetch cluster-build cluster-up cluster-down bench clean crds

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

# The local Kubernetes control plane (docs/controlplane.md). The first build compiles it from Go
# modules (about 6 minutes on 2 cores); later runs find it built and return at once.
cluster-build: setup
	$(PY) -m e2e.services.controlplane fetch

cluster-up: setup
	$(PY) -m e2e.services.controlplane up

cluster-down: setup
	$(PY) -m e2e.services.controlplane down

demo: setup
	$(PY) -m examples.demo

# The operator on the local control plane: control plane, test kubelet, Kafka, operator, and
# examples/connector.yaml applied. It leaves everything running; demo-k8s-down stops it.
demo-k8s: setup kafka-fetch cluster-build
	$(PY) -m examples.demo_k8s up

demo-k8s-down: setup
	$(PY) -m examples.demo_k8s down

test: setup kafka-fetch cluster-build
	$(PY) -m pytest tests e2e

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup kafka-fetch cluster-build
	$(PY) -m pytest tests/integration

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

crds: setup
	$(PY) -m kconnect_operator.crdgen crds

bench: setup kafka-fetch cluster-build
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
