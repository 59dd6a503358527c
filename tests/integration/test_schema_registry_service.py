"""The Schema Registry service: Apicurio serves Confluent's own Python clients as is.

confluent-kafka's ``SchemaRegistryClient`` and ``AvroSerializer`` talk to :attr:`Registry.url`
with basic auth (the session's registry); an incompatible change is refused by the default
BACKWARD rule with the registry's message; and a registry started again on the same broker and
journal topic still has its schemas.
The restart test starts two more registries (some 10 s each).
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from kconnect_devenv import kafka, registry

ORDER_V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "dev.kconnect.test",
    "fields": [{"name": "id", "type": "long"}, {"name": "item", "type": "string"}],
}
# A new field without a default: readers of v2 cannot read v1 data, so BACKWARD refuses it.
ORDER_V2_INCOMPATIBLE = {
    **ORDER_V1,
    "fields": [*ORDER_V1["fields"], {"name": "quantity", "type": "int"}],  # type: ignore[list-item]
}
# The same new field with a default is a compatible change.
ORDER_V2_COMPATIBLE = {
    **ORDER_V1,
    "fields": [*ORDER_V1["fields"], {"name": "quantity", "type": "int", "default": 1}],  # type: ignore[list-item]
}


def _client(url: str, user_info: str | None = None) -> SchemaRegistryClient:
    conf: dict[str, Any] = {"url": url}
    if user_info is not None:
        conf["basic.auth.user.info"] = user_info
    return SchemaRegistryClient(conf)


def _avro(schema: dict[str, object]) -> Schema:
    return Schema(json.dumps(schema), "AVRO")


def _topic() -> str:
    return f"orders-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> Iterator[SchemaRegistryClient]:
    user_info = ":".join(schema_registry_credentials)
    with _client(schema_registry.url, user_info) as client:
        yield client


def test_avro_serializer_registers_and_writes_confluent_wire_format(
    client: SchemaRegistryClient,
) -> None:
    topic = _topic()
    serializer = AvroSerializer(client, json.dumps(ORDER_V1))
    context = SerializationContext(topic, MessageField.VALUE)

    data = serializer({"id": 7, "item": "widget"}, context)

    assert data is not None
    assert data[0] == 0  # the magic byte
    (schema_id,) = struct.unpack(">i", data[1:5])
    latest = client.get_latest_version(f"{topic}-value")
    assert latest.schema_id == schema_id
    assert latest.version == 1
    assert json.loads(client.get_schema(schema_id).schema_str)["name"] == "Order"
    assert AvroDeserializer(client)(data, context) == {"id": 7, "item": "widget"}


def test_incompatible_change_is_refused_with_the_registry_message(
    client: SchemaRegistryClient,
) -> None:
    # No compatibility set for the subject: the registry's default, BACKWARD as in Confluent's.
    subject = f"{_topic()}-value"
    first = client.register_schema(subject, _avro(ORDER_V1))

    assert not client.test_compatibility(subject, _avro(ORDER_V2_INCOMPATIBLE))
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema(subject, _avro(ORDER_V2_INCOMPATIBLE))

    assert refused.value.http_status_code == 409
    assert "Incompatible artifact" in refused.value.error_message
    assert "quantity at /fields/2" in refused.value.error_message
    assert client.get_versions(subject) == [1]
    second = client.register_schema(subject, _avro(ORDER_V2_COMPATIBLE))
    assert second != first
    assert client.get_versions(subject) == [1, 2]


def test_basic_auth_is_required(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    user, password = schema_registry_credentials
    for user_info in (None, f"{user}:wrong-password"):
        with (
            _client(schema_registry.url, user_info) as client,
            pytest.raises(SchemaRegistryError) as refused,
        ):
            client.get_subjects()
        assert refused.value.http_status_code == 401
    state = (schema_registry.state_dir / registry.STATE_FILE).read_text("utf-8")
    assert password not in state
    assert schema_registry.config_path.stat().st_mode & 0o077 == 0


def test_schemas_survive_a_registry_restart(tmp_path: Path, kafka_broker: kafka.Broker) -> None:
    state_dir = tmp_path / "registry"
    prefix = f"restart-{uuid.uuid4().hex[:8]}"
    subject = f"{_topic()}-value"
    try:
        first = registry.start(state_dir, bootstrap=kafka_broker.bootstrap, topic_prefix=prefix)
        with _client(first.url) as client:
            schema_id = client.register_schema(subject, _avro(ORDER_V1))
        registry.stop(state_dir)
        assert registry.running(state_dir) is None

        again = registry.start(state_dir, bootstrap=kafka_broker.bootstrap, topic_prefix=prefix)
        assert again.pid != first.pid
        with _client(again.url) as client:
            assert client.get_subjects() == [subject]
            assert client.get_latest_version(subject).schema_id == schema_id
            assert json.loads(client.get_schema(schema_id).schema_str) == ORDER_V1
            assert client.register_schema(subject, _avro(ORDER_V1)) == schema_id
            assert client.get_versions(subject) == [1]
    finally:
        registry.stop(state_dir)


def test_a_failed_start_says_why_and_leaves_nothing_running(tmp_path: Path) -> None:
    state_dir = tmp_path / "registry"
    with pytest.raises(registry.RegistryStartError) as failed:
        # Nothing listens on port 1: KafkaSQL never bootstraps, and the bounded wait gives up.
        registry.start(state_dir, bootstrap="127.0.0.1:1", ready_timeout=15)
    message = str(failed.value)
    assert "did not answer" in message or "exited" in message
    # Its log's last lines, or (a JVM on a loaded machine may not have written a line yet)
    # where its log would be; the tail itself is tested in tests/unit/devenv/test_lifecycle.py.
    assert "last lines of" in message or f"(no output in {state_dir}" in message, message
    assert registry.running(state_dir) is None
    assert not (state_dir / registry.STATE_FILE).exists()
