# kconnect developer entry points. Everything built or downloaded lives in $(KCONNECT_CACHE), outside git.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
KCONNECT_CACHE ?= $(HOME)/.cache/kconnect
export KCONNECT_CACHE

.PHONY: node-build node-up node-down setup images engine-up engine-down demo demo-k8s demo-k8s-down kind-up kind-down test-kind image-lock crds-upgrade test test-unit test-integration lint kafka-up kafka-down kafka-fetch registry-fetch registry-up registry-down postgres-fetch postgres-up postgres-down cluster-build opstools-build keda-build test-e2e cluster-up cluster-down bench bench-java bench-java-fetch bench-cdc bench-roll clean crds

# The editable install also compiles the native module (hatch_build.py); it is required here so
# that the tests exercise it.
$(VENV)/.installed: pyproject.toml hatch_build.py worker/kconnect/data/_javatextc.c worker/kconnect/data/_avroc.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	KCONNECT_NATIVE=require $(PY) -m pip install --quiet -e '.[dev,operator,bench]'
	touch $@

setup: $(VENV)/.installed

kafka-fetch: setup
	$(PY) -m kconnect_devenv.kafka fetch

kafka-up: setup
	$(PY) -m kconnect_devenv.kafka up

kafka-down: setup
	$(PY) -m kconnect_devenv.kafka down

# The Schema Registry (Apicurio Registry, docs/registry.md): fetched with Maven once; registry-up
# starts the broker of kafka-up too if it is not running and prints SCHEMA_REGISTRY_URL= last.
registry-fetch: setup
	$(PY) -m kconnect_devenv.registry fetch
	$(PY) -m kconnect_devenv.javaconverter fetch

registry-up: setup
	$(PY) -m kconnect_devenv.registry up

registry-down: setup
	$(PY) -m kconnect_devenv.registry down

# PostgreSQL (Debian's postgresql-15, docs/postgres.md): installed with apt once; postgres-up starts
# a server with wal_level=logical on a free loopback port and prints POSTGRES_URL= last.
postgres-fetch: setup
	$(PY) -m kconnect_devenv.postgres fetch

postgres-up: setup
	$(PY) -m kconnect_devenv.postgres up

postgres-down: setup
	$(PY) -m kconnect_devenv.postgres down

# The local Kubernetes control plane (docs/controlplane.md). The first build compiles it from Go
# modules (about 6 minutes on 2 cores); later runs find it built and return at once.
cluster-build: setup
	$(PY) -m kconnect_devenv.controlplane fetch

# promtool and argolua for the chart's monitoring tests (kconnect_devenv/opstools.py), built once
# from Go modules: about 8 minutes of CPU for promtool, which links Prometheus' service discovery
# (11 minutes on 2 busy cores); argolua takes seconds. Later runs find them built.
opstools-build: setup
	$(PY) -m kconnect_devenv.opstools

# KEDA's operator and metrics adapter for the e2e tier's lag-driven autoscaling test
# (kconnect_devenv/keda.py), built once from its Go module, and their image's archive. KEDA links
# every cloud SDK its scalers use: the first build is slow (see docs/controlplane.md). Later runs
# find them built.
keda-build: setup
	$(PY) -m kconnect_devenv.keda

cluster-up: setup
	$(PY) -m kconnect_devenv.controlplane up

cluster-down: setup
	$(PY) -m kconnect_devenv.controlplane down

# The worker and operator images from the Dockerfile, on local Debian bases, in the project's own
# Docker engine (docs/images.md). The first run makes the bases with debootstrap; later runs find
# everything cached and take seconds.
images: setup
	$(PY) -m kconnect_devenv.images build

# The project's Docker engine (Debian's dockerd on its own socket; images kept in $(KCONNECT_CACHE)).
engine-up: setup
	$(PY) -m kconnect_devenv.engine up

engine-down: setup
	$(PY) -m kconnect_devenv.engine down

# The worker tour (standalone with Kafka's quickstart files, then a distributed cluster that loses
# a worker), then the operator tour: the real node, the chart, a KafkaConnector Ready and writing,
# all torn down at the end. The node needs root.
demo: setup kafka-fetch cluster-build node-build images
	$(PY) -m examples.demo
	$(PY) -m examples.demo_k8s tour

# The operator on the real node: control plane, Kafka, the node with the images, the operator from
# the Helm chart, and examples/connector.yaml applied. It leaves everything running;
# demo-k8s-down stops it and restores the host.
demo-k8s: setup kafka-fetch cluster-build node-build images
	$(PY) -m examples.demo_k8s up

demo-k8s-down: setup
	$(PY) -m examples.demo_k8s down

# The integration tests read Kafka Connect's own config definitions from its jars
# (tests/integration/test_java_config_keys.py), fetched into the cache once, run the images, and
# run the Schema Registry (tests/integration/test_schema_registry_service.py) and PostgreSQL
# (tests/integration/test_postgres_service.py).
# The unit and integration tiers run in parallel sessions (pytest-xdist, a test file per session at
# a time, the longest files first by tests/file_durations.json, each session with its own broker
# and API server; tests/integration/test_node.py starts its own node in one of them). The e2e tier
# runs after them, one node per machine (its tests concurrently on one shared node,
# e2e/conftest.py), and the kind path (make kind-up, a KafkaConnector Ready, make kind-down) last.
TEST_SESSIONS ?= 4
E2E_SESSIONS ?= 4
test: setup kafka-fetch registry-fetch postgres-fetch cluster-build opstools-build keda-build node-build bench-java-fetch images
	$(PY) -m pytest -n $(TEST_SESSIONS) --dist loadfile --no-loadscope-reorder --durations=25 tests
	$(PY) -m pytest -n $(E2E_SESSIONS) --dist loadgroup --durations=15 e2e
	KCONNECT_TEST_KIND=1 $(PY) -m pytest e2e/kind/test_kind_up.py

# The e2e tier alone (e2e/, docs/e2e.md), on the real node.
test-e2e: setup kafka-fetch cluster-build keda-build node-build images
	$(PY) -m pytest -n $(E2E_SESSIONS) --dist loadgroup --durations=15 e2e

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup kafka-fetch registry-fetch postgres-fetch cluster-build opstools-build node-build bench-java-fetch images
	$(PY) -m pytest tests/integration

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The CRDs from the operator's models, their copies in the Helm chart, and the reference docs.
crds: setup
	$(PY) -m kconnect_operator.crdgen crds
	cp crds/*.yaml charts/kconnect/crds/
	$(PY) -m kconnect_operator.refdoc docs/reference

# Helm never upgrades a chart's CRDs: this applies the chart's copies to the current cluster.
crds-upgrade: setup
	charts/kconnect/scripts/upgrade-crds.sh

bench: setup kafka-fetch registry-fetch postgres-fetch cluster-build node-build bench-java-fetch images
	$(PY) -m bench.run
	$(PY) -m bench.cdc --update

# PostgresCdcSource beside Debezium's PostgresConnector, and JdbcSink (bench/cdc.py).
bench-cdc: setup kafka-fetch postgres-fetch bench-java-fetch
	$(PY) -m bench.cdc $(if $(QUICK),--quick,--update)

# Kafka Connect's Java runtime, and Debezium's PostgreSQL connector for it (docs/debezium-reference.md),
# which the CDC tests and benchmarks compare kconnect's PostgresCdcSource with.
bench-java-fetch: setup
	$(PY) -m bench.javaconnect fetch
	$(PY) -m bench.debezium fetch

# kconnect and Apache Kafka Connect's Java runtime side by side (docs/benchmarks.md); QUICK=1 runs
# every workload in a short form.
bench-java: setup kafka-fetch postgres-fetch bench-java-fetch
	$(PY) -m bench.compare $(if $(QUICK),--quick)
	$(PY) -m bench.cdc $(if $(QUICK),--quick,--update)
	$(PY) -m bench.roll $(if $(QUICK),--quick,--update)

# A rolling restart of 3 workers: kconnect with and without static membership beside Java Kafka
# Connect (bench/roll.py, docs/bench-java.md); QUICK=1 leaves out Java with its defaults (up to
# 15 minutes) and writes nothing.
bench-roll: setup kafka-fetch bench-java-fetch
	$(PY) -m bench.roll $(if $(QUICK),--quick,--update)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# kconnect on a local kind cluster (docs/kind.md), on the project's engine with kind, a kind node
# image and a Kafka image built here (no registry is needed); kind-down deletes it all again.
# Elsewhere, e2e/kind/kind-up.sh runs alone with your own Docker, kind, kubectl and helm.
kind-up: setup kafka-fetch cluster-build node-build images
	$(PY) -m kconnect_devenv.kindenv prepare
	source $(KCONNECT_CACHE)/kind/kind.env && e2e/kind/kind-up.sh

kind-down: setup
	if [[ -f $(KCONNECT_CACHE)/kind/kind.env ]]; then source $(KCONNECT_CACHE)/kind/kind.env && e2e/kind/kind-down.sh; fi
	$(PY) -m kconnect_devenv.kindenv release

# make kind-up and make kind-down for real, with a KafkaConnector going Ready and writing records
# (e2e/kind/test_kind_up.py, about 2 minutes warm); make test runs it last.
test-kind: setup kafka-fetch cluster-build node-build images
	KCONNECT_TEST_KIND=1 $(PY) -m pytest -s e2e/kind/test_kind_up.py

# The images' hash-pinned locks from pyproject.toml (docs/images.md); PIP_COMPILE_ARGS=--upgrade
# refreshes every pin.
PIP_TOOLS := $(KCONNECT_CACHE)/pip-tools
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url
image-lock:
	$(PYTHON) -m venv $(PIP_TOOLS)
	$(PIP_TOOLS)/bin/pip install --quiet 'pip-tools==7.6.2'
	env -u PIP_FIND_LINKS CUSTOM_COMPILE_COMMAND='make image-lock' $(PIP_TOOLS)/bin/pip-compile $(LOCK_FLAGS) $(PIP_COMPILE_ARGS) --output-file worker/requirements.lock pyproject.toml
	env -u PIP_FIND_LINKS CUSTOM_COMPILE_COMMAND='make image-lock' $(PIP_TOOLS)/bin/pip-compile $(LOCK_FLAGS) $(PIP_COMPILE_ARGS) --extra operator --output-file operator/requirements.lock pyproject.toml

# A real Kubernetes node beside the control plane (docs/node.md): containerd, kubelet, kube-proxy,
# kube-scheduler and CoreDNS. Needs root. node-up starts the control plane for a node if none runs.
node-build: setup cluster-build
	$(PY) -c 'from kconnect_devenv import nodebuild; print(nodebuild.build(progress=print).root)'

node-up: setup cluster-build
	$(PY) -m kconnect_devenv.node up

node-down: setup
	$(PY) -m kconnect_devenv.node down
