"""Fixtures for the whole suite: the unit and integration tiers in ``tests/`` and the e2e tier in
``e2e/``.

Integration and e2e tests run against a real Kafka broker that this pytest session starts itself,
in a private temporary state directory, and stops when the session ends. It never reuses the broker
of ``make kafka-up``, and no test may assume a broker the suite did not start. The broker starts
only when a test asks for it, so ``pytest tests/unit`` starts nothing.

The Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) is started the same
way, once per session and only on demand, in its own temporary state directory; it runs no pods.
Pods run on the real node of the e2e tier (``e2e/conftest.py``). One node runs per machine (a
second ``node.start`` fails at once, saying so): in one session the e2e tier is sorted after every
other test, so its node never runs beside ``tests/integration/test_node.py``'s; a distributed run
of the e2e tier starts its node with the session, so ``make test`` runs it in a session of its own
after the unit and integration tiers (``test_node.py`` among them).

In a run spread over parallel sessions by file (``--dist loadfile``), the longest files come first
(``tests/support/file_durations.py``), so the sessions end together.

Every test under ``tests/integration`` gets the ``integration`` marker and every test under ``e2e``
the ``e2e`` marker, so ``-m "not integration and not e2e"`` runs the unit tier alone.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from kconnect_devenv import controlplane, kafka, registry
from kconnect_devenv import postgres as postgres_service
from tests.support import file_durations

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.schema_registry import SchemaRegistryClient

ROOT = Path(__file__).resolve().parent
INTEGRATION_DIR = ROOT / "tests" / "integration"
E2E_DIR = ROOT / "e2e"
TOPIC_READY_TIMEOUT_S = 30.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)
        elif item.path.resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)
    if config.getoption("dist", "no") == "loadfile":
        # Longest files first, so that the parallel sessions end together instead of one of them
        # running the slowest file alone at the end (make test passes --no-loadscope-reorder,
        # which keeps this order rather than xdist's most-tests-first).
        weights = file_durations.load()
        items.sort(key=lambda item: -file_durations.weight(weights, item.path.resolve()))
    # One node per machine: the e2e tier's session node starts after every other test, so after
    # tests/integration/test_node.py has stopped its own (module-scoped) node.
    items.sort(key=lambda item: item.path.resolve().is_relative_to(E2E_DIR))


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka.Broker]:
    """This session's own broker; if the session is killed outright, the broker follows it."""
    state_dir = tmp_path_factory.mktemp("kafka")
    broker = kafka.start(state_dir, die_with_parent=True)
    try:
        yield broker
    finally:
        kafka.stop(state_dir)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[controlplane.ControlPlane]:
    """This session's own control plane (binaries from ``make cluster-build``); like the broker,
    it follows the session if the session is killed outright."""
    state_dir = tmp_path_factory.mktemp("controlplane")
    plane = controlplane.start(state_dir, die_with_parent=True)
    try:
        yield plane
    finally:
        controlplane.stop(state_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: kafka.Broker) -> str:
    """``bootstrap.servers`` of this session's broker, e.g. ``127.0.0.1:40123``."""
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def schema_registry_credentials() -> tuple[str, str]:
    """The user name and password (new for each session) of :func:`schema_registry`."""
    return "registry-user", secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
def schema_registry(
    tmp_path_factory: pytest.TempPathFactory,
    kafka_broker: kafka.Broker,
    schema_registry_credentials: tuple[str, str],
) -> Iterator[registry.Registry]:
    """This session's Schema Registry (Apicurio, ``make registry-fetch``) on the session's broker,
    with HTTP basic auth for :func:`schema_registry_credentials`."""
    state_dir = tmp_path_factory.mktemp("registry")
    started = registry.start(
        state_dir,
        bootstrap=kafka_broker.bootstrap,
        topic_prefix=f"registry-{uuid.uuid4().hex[:8]}",
        users=dict([schema_registry_credentials]),
        die_with_parent=True,
    )
    try:
        yield started
    finally:
        registry.stop(state_dir)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[postgres_service.Postgres]:
    """This session's own PostgreSQL server (``wal_level=logical``, docs/postgres.md); like the
    broker, it follows the session if the session is killed outright. Tests do not share tables:
    each takes a database of its own from :func:`postgres_database`."""
    state_dir = tmp_path_factory.mktemp("postgres")
    server = postgres_service.start(state_dir, die_with_parent=True)
    try:
        yield server
    finally:
        postgres_service.stop(state_dir)


@pytest.fixture
def postgres_database(postgres: postgres_service.Postgres) -> Iterator[postgres_service.Database]:
    """A new, empty database of this session's server for one test, as its superuser; dropped
    afterwards with its replication slots."""
    database = postgres_service.create_database(postgres)
    try:
        yield database
    finally:
        postgres_service.drop_database(postgres, database.name)


@pytest.fixture
def registry_client(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> Iterator[SchemaRegistryClient]:
    """confluent-kafka's own client of :func:`schema_registry`, as its user."""
    from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: PLC0415

    user_info = ":".join(schema_registry_credentials)
    with SchemaRegistryClient({"url": schema_registry.url, "basic.auth.user.info": user_info}) as c:
        yield c


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    """An admin client of this session's broker."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - imported by Kafka users only

    return AdminClient({"bootstrap.servers": kafka_bootstrap})


class NewTopic(Protocol):
    """Creates a topic named uniquely, waits until it is usable, and returns its name."""

    def __call__(self, *, partitions: int = 1, config: Mapping[str, str] | None = None) -> str: ...


@pytest.fixture
def new_topic(kafka_admin: AdminClient, request: pytest.FixtureRequest) -> NewTopic:
    """A factory of fresh topics named after the test, e.g. ``test_x-param-1-3f2a9c1b``."""
    # The documented import path; the stubs define the class in cimpl without re-exporting it.
    from confluent_kafka.admin import NewTopic as TopicSpec  # type: ignore[attr-defined]  # noqa: PLC0415

    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:200]

    def create(*, partitions: int = 1, config: Mapping[str, str] | None = None) -> str:
        name = f"{stem}-{uuid.uuid4().hex[:8]}"
        spec = TopicSpec(
            name, num_partitions=partitions, replication_factor=1, config=dict(config or {})
        )
        futures = kafka_admin.create_topics([spec], operation_timeout=TOPIC_READY_TIMEOUT_S)
        futures[name].result(timeout=TOPIC_READY_TIMEOUT_S)
        _wait_until_topic_has_leaders(kafka_admin, name, partitions)
        return name

    return create


def _wait_until_topic_has_leaders(admin: AdminClient, name: str, partitions: int) -> None:
    """Creation is acknowledged by the controller; clients need the partitions led by the broker."""
    deadline = time.monotonic() + TOPIC_READY_TIMEOUT_S
    while True:
        topic = admin.list_topics(topic=name, timeout=5).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) == partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"topic {name!r} has no leader for all {partitions} partitions "
                f"after {TOPIC_READY_TIMEOUT_S:.0f}s: {topic}"
            )
        time.sleep(0.1)
