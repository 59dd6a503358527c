"""AvroConverter against the session's real Schema Registry, compared with Java and confluent-kafka.

The Java reference (Apicurio's port of Confluent's AvroConverter, :mod:`kconnect_devenv.
javaconverter`) and kconnect convert the same JsonConverter envelopes on the same subjects: the
bytes must be equal, the subject must hold one version whichever runtime came first, and each must
read the other's records to the same Connect data. confluent-kafka's own Avro serde reads what
kconnect writes and writes what kconnect reads. Then the registry's answers: each subject-name
strategy, an incompatible change, refused credentials, and `use.latest.version`. The worker test
runs DataGen's `customers` (every shape the mapping treats specially) through a real worker.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema as RegistrySchema
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kconnect.converters.avro import AvroConverter
from kconnect.converters.json import JsonConverter
from kconnect.data.schema import SchemaAndValue
from kconnect.errors import ConnectError, DataError
from kconnect_devenv import javaconverter, registry
from tests.integration.test_java_reference_converters import (
    DOCUMENTED_PAYLOAD,
    DOCUMENTED_REGISTERED,
    DOCUMENTED_SCHEMA,
    RICH_DECODED,
    RICH_PAYLOAD,
    RICH_REGISTERED,
    RICH_SCHEMA,
)
from tests.support.registry_converters import RegistryConverters, registry_settings
from tests.support.workers import Standalone, datagen_customers_to_file

CONVERTER = "io.confluent.connect.avro.AvroConverter"


def _topic() -> str:
    return f"avro-{uuid.uuid4().hex[:8]}"


Converters = RegistryConverters[AvroConverter]


@pytest.fixture
def settings(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> dict[str, str]:
    return registry_settings(schema_registry, schema_registry_credentials)


@pytest.fixture
def converter(settings: dict[str, str]) -> Iterator[Converters]:
    made = Converters(AvroConverter, settings)
    try:
        yield made
    finally:
        made.close()


def _envelopes() -> JsonConverter:
    converter = JsonConverter()
    converter.configure({"schemas.enable": "true", "converter.type": "value"}, False)
    return converter


def _connect(envelope: dict[str, Any]) -> SchemaAndValue:
    return _envelopes().to_connect_data("t", json.dumps(envelope).encode())


def _envelope(data: SchemaAndValue) -> Any:
    """The JsonConverter envelope of Connect data, parsed: kconnect's and Java's JsonConverter
    write the same bytes, so envelopes compare Connect data across the runtimes."""
    written = _envelopes().from_connect_data("t", data.schema, data.value)
    assert written is not None
    return json.loads(written)


def _java(
    schema_registry: registry.Registry, credentials: tuple[str, str], topic: str
) -> dict[str, Any]:
    return {"registry_url": schema_registry.url, "topic": topic, "credentials": credentials}


@pytest.mark.parametrize(
    ("schema", "payload", "registered"),
    [
        (RICH_SCHEMA, RICH_PAYLOAD, RICH_REGISTERED),
        (DOCUMENTED_SCHEMA, DOCUMENTED_PAYLOAD, DOCUMENTED_REGISTERED),
        ({"type": "string", "optional": False}, "k1", '"string"'),
    ],
    ids=["rich", "documented", "string"],
)
def test_kconnect_registers_and_writes_what_java_does(
    schema: dict[str, Any],
    payload: Any,
    registered: str,
    converter: Converters,
    registry_client: SchemaRegistryClient,
    schema_registry: registry.Registry,
    schema_registry_credentials: tuple[str, str],
) -> None:
    topic = _topic()
    envelope = {"schema": schema, "payload": payload}
    data = _connect(envelope)

    ours = converter().from_connect_data(topic, data.schema, data.value)
    (java,) = javaconverter.to_bytes(
        [envelope], **_java(schema_registry, schema_registry_credentials, topic)
    )

    assert ours == java
    # kconnect registered first; Java found the same schema: one version, the text Java prints.
    assert registry_client.get_versions(f"{topic}-value") == [1]
    assert registry_client.get_latest_version(f"{topic}-value").schema.schema_str == registered


@pytest.mark.parametrize(
    ("schema", "payload"),
    [(RICH_SCHEMA, RICH_PAYLOAD), (DOCUMENTED_SCHEMA, DOCUMENTED_PAYLOAD)],
    ids=["rich", "documented"],
)
def test_each_runtime_reads_the_others_records_to_the_same_connect_data(
    schema: dict[str, Any],
    payload: Any,
    converter: Converters,
    schema_registry: registry.Registry,
    schema_registry_credentials: tuple[str, str],
) -> None:
    java = _java(schema_registry, schema_registry_credentials, _topic())
    envelope = {"schema": schema, "payload": payload}
    conv = converter()

    # Java writes; both read: the same Connect schema (with the registry's version) and value.
    (written,) = javaconverter.to_bytes([envelope], **java)
    (java_read,) = javaconverter.to_envelopes([written], **java)
    assert java_read is not None
    assert _read(conv, java["topic"], written, schema) == json.loads(java_read)

    # kconnect writes; Java reads it as kconnect does.
    data = _connect(envelope)
    ours = conv.from_connect_data(java["topic"], data.schema, data.value)
    (java_read_ours,) = javaconverter.to_envelopes([ours], **java)
    assert java_read_ours is not None
    assert _read(conv, java["topic"], ours, schema) == json.loads(java_read_ours)


def _read(conv: AvroConverter, topic: str, data: bytes | None, schema: dict[str, Any]) -> Any:
    """kconnect's reading of `data` as an envelope, less the one thing Confluent's converter
    adds and Apicurio's does not: a schema that names no version gets the one it has under the
    subject (here the first)."""
    read = _envelope(conv.to_connect_data(topic, data))
    if "version" not in schema:
        assert read["schema"].pop("version") == 1
    return read


def test_confluent_kafkas_avro_serde_reads_and_writes_kconnects_records(
    converter: Converters, registry_client: SchemaRegistryClient
) -> None:
    topic = _topic()
    context = SerializationContext(topic, MessageField.VALUE)
    conv = converter()
    data = _connect({"schema": RICH_SCHEMA, "payload": RICH_PAYLOAD})

    ours = conv.from_connect_data(topic, data.schema, data.value)
    assert AvroDeserializer(registry_client)(ours, context) == RICH_DECODED

    # A plain Avro schema from another team's producer: kconnect reads its records.
    topic = _topic()
    context = SerializationContext(topic, MessageField.VALUE)
    plain = json.dumps(
        {
            "type": "record",
            "name": "Click",
            "namespace": "web",
            "fields": [
                {"name": "user", "type": "string"},
                {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                {"name": "ref", "type": ["null", "string"], "default": None},
                {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
            ],
        }
    )
    produced = AvroSerializer(registry_client, plain)(
        {"user": "u1", "at": 1_700_000_000_000, "ref": None, "kind": "B"}, context
    )
    read = conv.to_connect_data(topic, produced)
    assert read.schema is not None
    assert read.schema.name == "web.Click"
    assert _envelope(read)["payload"] == {
        "user": "u1",
        "at": 1_700_000_000_000,
        "ref": None,
        "kind": "B",
    }


@pytest.mark.parametrize(
    ("strategy", "subject"),
    [
        ("io.confluent.kafka.serializers.subject.TopicNameStrategy", "{topic}-value"),
        ("io.confluent.kafka.serializers.subject.RecordNameStrategy", "kconnect.reference.Rich"),
        (
            "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
            "{topic}-kconnect.reference.Rich",
        ),
    ],
    ids=["topic", "record", "topic-record"],
)
def test_each_subject_name_strategy(
    strategy: str, subject: str, converter: Converters, registry_client: SchemaRegistryClient
) -> None:
    topic = _topic()
    data = _connect({"schema": RICH_SCHEMA, "payload": RICH_PAYLOAD})
    conv = converter({"value.subject.name.strategy": strategy})

    written = conv.from_connect_data(topic, data.schema, data.value)

    expected = subject.format(topic=topic)
    assert expected in registry_client.get_subjects()
    assert written is not None
    assert (
        int.from_bytes(written[1:5], "big")
        == registry_client.get_latest_version(expected).schema_id
    )
    read = conv.to_connect_data(topic, written)
    assert _envelope(read)["payload"] == _envelope(data)["payload"]
    assert read.schema is not None
    assert read.schema.name == "kconnect.reference.Rich"
    assert read.schema.version == 1  # its version under the strategy's subject


def test_an_incompatible_change_fails_with_the_registrys_message(
    converter: Converters, registry_client: SchemaRegistryClient
) -> None:
    topic = _topic()
    subject = f"{topic}-value"
    before = {"type": "struct", "name": "shop.Item", "fields": [{"field": "n", "type": "int32"}]}
    after = {"type": "struct", "name": "shop.Item", "fields": [{"field": "n", "type": "string"}]}
    conv = converter()
    data = _connect({"schema": before, "payload": {"n": 1}})
    conv.from_connect_data(topic, data.schema, data.value)
    registry_client.set_compatibility(subject, "BACKWARD")

    changed = _connect({"schema": after, "payload": {"n": "one"}})
    with pytest.raises(DataError) as refused:
        converter().from_connect_data(topic, changed.schema, changed.value)

    assert subject in str(refused.value)
    assert "409" in str(refused.value)
    assert registry_client.get_versions(subject) == [1]


def test_refused_credentials_name_the_subject_and_never_the_password(
    settings: dict[str, str], converter: Converters
) -> None:
    topic = _topic()
    wrong = {**settings, "basic.auth.user.info": "registry-user:not-the-password-42"}
    data = _connect({"schema": RICH_SCHEMA, "payload": RICH_PAYLOAD})

    with pytest.raises(ConnectError) as refused:
        converter(settings=wrong).from_connect_data(topic, data.schema, data.value)

    message = str(refused.value)
    assert "authentication failed" in message
    assert f"{topic}-value" in message
    assert "not-the-password-42" not in message


def test_use_latest_version_writes_in_the_subjects_latest_schema(
    converter: Converters, registry_client: SchemaRegistryClient
) -> None:
    topic = _topic()
    subject = f"{topic}-value"
    latest = {
        "type": "record",
        "name": "Item",
        "namespace": "shop",
        "fields": [
            {"name": "n", "type": "int"},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    }
    registered_id = registry_client.register_schema(
        subject, RegistrySchema(json.dumps(latest), "AVRO")
    )
    conv = converter({"auto.register.schemas": "false", "use.latest.version": "true"})
    data = _connect(
        {
            "schema": {
                "type": "struct",
                "name": "shop.Item",
                "fields": [{"field": "n", "type": "int32"}],
            },
            "payload": {"n": 7},
        }
    )

    written = conv.from_connect_data(topic, data.schema, data.value)

    assert written is not None
    assert int.from_bytes(written[1:5], "big") == registered_id
    context = SerializationContext(topic, MessageField.VALUE)
    assert AvroDeserializer(registry_client)(written, context) == {"n": 7, "note": None}
    assert registry_client.get_versions(subject) == [1]


def test_nulls_and_bytes_that_are_not_the_wire_format(converter: Converters) -> None:
    topic = _topic()
    conv = converter()
    optional = _connect({"schema": {"type": "string", "optional": True}, "payload": None})

    assert conv.from_connect_data(topic, optional.schema, None) is None
    assert conv.from_connect_data(topic, None, None) is None
    assert conv.to_connect_data(topic, None) == SchemaAndValue(None, None)
    required = _connect({"schema": {"type": "int32"}, "payload": 1})
    with pytest.raises(DataError, match="null value for a required int32 schema"):
        conv.from_connect_data(topic, required.schema, None)
    with pytest.raises(DataError, match="magic byte"):
        conv.to_connect_data(topic, b"\x01\x00\x00\x00\x01\x02")


def test_datagen_customers_through_a_worker_and_back(
    standalone: Standalone,
    schema_registry: registry.Registry,
    schema_registry_credentials: tuple[str, str],
    registry_client: SchemaRegistryClient,
) -> None:
    topic = _topic()
    user, password = schema_registry_credentials
    props = {
        # The tier field's enum parameters make an Avro enum only with this, as in Java.
        "value.converter.enhanced.avro.schema.support": "true",
        "value.converter": CONVERTER,
        "value.converter.schema.registry.url": schema_registry.url,
        "value.converter.basic.auth.credentials.source": "USER_INFO",
        "value.converter.basic.auth.user.info": f"{user}:{password}",
    }
    datagen_customers_to_file(standalone, topic, props)
    assert registry_client.get_versions(f"{topic}-value") == [1]
    text = registry_client.get_latest_version(f"{topic}-value").schema.schema_str
    assert text is not None
    registered = json.loads(text)
    kinds = {f["name"]: f["type"] for f in registered["fields"]}
    assert kinds["tier"]["type"] == "enum"
    assert kinds["tier"]["symbols"] == ["BRONZE", "SILVER", "GOLD", "PLATINUM"]
    assert registered["name"] == "Customer"
    assert registered["namespace"] == "kconnect.datagen"
