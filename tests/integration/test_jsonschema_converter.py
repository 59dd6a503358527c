"""JsonSchemaConverter against the session's real Schema Registry (Apicurio, basic auth).

Registration under each subject-name strategy, the registry's refusal of an incompatible change,
wrong credentials, and both ways with confluent-kafka's own JSONSerializer / JSONDeserializer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal as PyDecimal

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kconnect.converters.jsonschema import JsonSchemaConverter
from kconnect.data.logical import Decimal
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConnectError, DataError
from kconnect_devenv import registry

ORDER = (
    SchemaBuilder.struct()
    .name("dev.kconnect.test.Order")
    .field("id", SchemaBuilder.int64().build())
    .field("item", SchemaBuilder.string().build())
    .field("note", SchemaBuilder.string().optional().build())
    .field("price", Decimal.builder(2).build())
    .field(
        "counts",
        SchemaBuilder.map(SchemaBuilder.int32().build(), SchemaBuilder.int64().build()).build(),
    )
    .build()
)


# Read back, the schema carries the subject's version, as Confluent's converter gives it.
ORDER_V1 = SchemaBuilder.of(ORDER).version(1).build()


def _order(schema: Schema = ORDER, i: int = 1) -> Struct:
    s = Struct(schema)
    s.put("id", i).put("item", f"item-{i}").put("note", None).put("price", PyDecimal("12.34"))
    s.put("counts", {1: 10, 2: 20})
    return s


_OPEN: list[JsonSchemaConverter | SchemaRegistryClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _converter(reg: registry.Registry, creds: tuple[str, str], **extra: str) -> JsonSchemaConverter:
    conv = JsonSchemaConverter()
    _OPEN.append(conv)
    conv.configure(
        {
            "schema.registry.url": reg.url,
            "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": f"{creds[0]}:{creds[1]}",
            **extra,
        },
        False,
    )
    return conv


def _client(reg: registry.Registry, creds: tuple[str, str]) -> SchemaRegistryClient:
    client = SchemaRegistryClient(
        {"url": reg.url, "basic.auth.user.info": f"{creds[0]}:{creds[1]}"}
    )
    _OPEN.append(client)
    return client


def _topic() -> str:
    return f"orders-{uuid.uuid4().hex[:8]}"


def test_registers_the_schema_text_under_the_topic_subject_and_reads_back(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    conv = _converter(schema_registry, schema_registry_credentials)
    topic = _topic()
    data = conv.from_connect_data(topic, ORDER, _order())
    assert data is not None
    latest = _client(schema_registry, schema_registry_credentials).get_latest_version(
        f"{topic}-value"
    )
    assert data[:5] == b"\x00" + latest.schema_id.to_bytes(4, "big")
    assert latest.schema.schema_type == "JSON"
    assert json.loads(latest.schema.schema_str) == json.loads(conv.schema_text(ORDER))
    assert json.loads(data[5:]) == {
        "id": 1,
        "item": "item-1",
        "note": None,
        "price": 12.34,
        "counts": [{"key": 1, "value": 10}, {"key": 2, "value": 20}],
    }
    reader = _converter(schema_registry, schema_registry_credentials)
    back = reader.to_connect_data(topic, data)
    assert back.schema == ORDER_V1
    assert back.value == _order(ORDER_V1)


@pytest.mark.parametrize(
    ("strategy", "subject"),
    [
        ("TopicNameStrategy", "{topic}-value"),
        ("io.confluent.kafka.serializers.subject.RecordNameStrategy", "dev.kconnect.test.Order"),
        ("TopicRecordNameStrategy", "{topic}-dev.kconnect.test.Order"),
    ],
)
def test_each_subject_name_strategy(
    schema_registry: registry.Registry,
    schema_registry_credentials: tuple[str, str],
    strategy: str,
    subject: str,
) -> None:
    topic = _topic()
    conv = _converter(
        schema_registry, schema_registry_credentials, **{"value.subject.name.strategy": strategy}
    )
    data = conv.from_connect_data(topic, ORDER, _order())
    assert data is not None
    registered = _client(schema_registry, schema_registry_credentials).get_latest_version(
        subject.format(topic=topic)
    )
    assert int.from_bytes(data[1:5], "big") == registered.schema_id


def test_an_incompatible_change_is_refused_with_the_registrys_message(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    topic = _topic()
    conv = _converter(schema_registry, schema_registry_credentials)
    conv.from_connect_data(topic, ORDER, _order())
    changed = (
        SchemaBuilder.struct()
        .name("dev.kconnect.test.Order")
        .field("id", SchemaBuilder.string().build())
        .field("item", SchemaBuilder.string().build())
        .build()
    )
    value = Struct(changed).put("id", "x").put("item", "y")
    with pytest.raises(DataError, match=rf"refused the schema for subject '{topic}-value'.*409"):
        conv.from_connect_data(topic, changed, value)


def test_a_wrong_password_is_a_clear_authentication_error(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    wrong = (schema_registry_credentials[0], "not-the-password")
    conv = _converter(schema_registry, wrong)
    topic = _topic()
    with pytest.raises(
        ConnectError, match=f"authentication failed for subject '{topic}-value'"
    ) as e:
        conv.from_connect_data(topic, ORDER, _order())
    assert "not-the-password" not in str(e.value)
    assert schema_registry_credentials[1] not in str(e.value)


def test_confluent_json_deserializer_reads_what_kconnect_writes(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    topic = _topic()
    data = _converter(schema_registry, schema_registry_credentials).from_connect_data(
        topic, ORDER, _order()
    )
    deserializer = JSONDeserializer(
        None, schema_registry_client=_client(schema_registry, schema_registry_credentials)
    )
    got = deserializer(data, SerializationContext(topic, MessageField.VALUE))
    assert got == {
        "id": 1,
        "item": "item-1",
        "note": None,
        "price": 12.34,
        "counts": [{"key": 1, "value": 10}, {"key": 2, "value": 20}],
    }


def test_kconnect_reads_what_confluent_json_serializer_writes(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    topic = _topic()
    conv = _converter(schema_registry, schema_registry_credentials)
    serializer = JSONSerializer(
        conv.schema_text(ORDER), _client(schema_registry, schema_registry_credentials)
    )
    data = serializer(
        {
            "id": 7,
            "item": "item-7",
            "note": None,
            "price": 12.34,
            "counts": [{"key": 1, "value": 10}, {"key": 2, "value": 20}],
        },
        SerializationContext(topic, MessageField.VALUE),
    )
    back = conv.to_connect_data(topic, data)
    assert back.schema == ORDER_V1
    assert back.value == _order(ORDER_V1, i=7)
    # The same schema text: the serializer found kconnect's registration, no second version.
    conv.from_connect_data(topic, ORDER, _order())
    versions = _client(schema_registry, schema_registry_credentials).get_versions(f"{topic}-value")
    assert versions == [1]


def test_nulls_and_values_without_a_schema(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    conv = _converter(schema_registry, schema_registry_credentials)
    topic = _topic()
    assert conv.from_connect_data(topic, None, None) is None  # a tombstone
    with pytest.raises(DataError, match="null value for field that is required"):
        conv.from_connect_data(topic, ORDER, None)
    with pytest.raises(DataError, match="needs a schema"):
        conv.from_connect_data(topic, None, {"a": 1})
    # As in Java, a value that cannot be written registers nothing.
    subjects = _client(schema_registry, schema_registry_credentials).get_subjects()
    assert f"{topic}-value" not in subjects


def test_a_read_schema_carries_the_version_it_has_under_the_topics_subject(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    topic = _topic()
    conv = _converter(schema_registry, schema_registry_credentials)
    first = conv.from_connect_data(topic, ORDER, _order())
    described = SchemaBuilder.of(ORDER).doc("orders, described").build()  # a compatible change
    second = conv.from_connect_data(topic, described, _order(described))
    assert first is not None
    assert second is not None
    assert conv.to_connect_data(topic, first).schema.version == 1
    assert conv.to_connect_data(topic, second).schema.version == 2
    # Under another topic the subject does not hold it: no version, as written.
    assert conv.to_connect_data(_topic(), first).schema == ORDER
    versioned = SchemaBuilder.of(ORDER).version(7).build()  # connect.version comes first
    data = conv.from_connect_data(_topic(), versioned, _order(versioned))
    assert data is not None
    assert conv.to_connect_data(topic, data).schema.version == 7


def test_a_hand_written_schema_with_a_union_reads_as_java_reads_it(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> None:
    """A Python producer's own schema: no connect.* keywords, a union, a `$schema`."""
    topic = _topic()
    text = json.dumps(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Reading",
            "type": "object",
            "properties": {
                "sensor": {"type": "string"},
                "value": {"oneOf": [{"type": "number"}, {"type": "string"}]},
            },
            "required": ["sensor", "value"],
        }
    )
    serializer = JSONSerializer(text, _client(schema_registry, schema_registry_credentials))
    ctx = SerializationContext(topic, MessageField.VALUE)
    conv = _converter(schema_registry, schema_registry_credentials)
    one_of = "io.confluent.connect.json.OneOf"
    union = (
        SchemaBuilder.struct()
        .name(one_of)
        .field(f"{one_of}.field.0", SchemaBuilder.float64().optional().build())
        .field(f"{one_of}.field.1", SchemaBuilder.string().optional().build())
        .build()
    )
    reading = (
        SchemaBuilder.struct()
        .name("Reading")
        .version(1)
        .field("sensor", SchemaBuilder.string().build())  # Java's HashMap order of the names
        .field("value", union)
        .build()
    )
    for raw, branch in ((21.5, f"{one_of}.field.0"), ("n/a", f"{one_of}.field.1")):
        back = conv.to_connect_data(topic, serializer({"sensor": "s1", "value": raw}, ctx))
        assert back.schema == reading
        expected = Struct(reading).put("sensor", "s1").put("value", Struct(union).put(branch, raw))
        assert back.value == expected
