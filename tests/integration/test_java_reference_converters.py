"""The Java reference converter (Apicurio's AvroConverter, :mod:`kconnect_devenv.javaconverter`)
against the session's real registry: Confluent's subjects, ids and wire format, and bytes that
confluent-kafka's own Avro serde reads and writes identically.

The registered schema texts asserted here are the ones kconnect's Avro mapping must equal
(docs/converter-reference.md lists them). Each call of the reference is one JVM (about 1-2 s).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import json
import struct
import uuid
from typing import Any, Final

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kconnect_devenv import javaconverter, registry

DECIMAL: Final = "org.apache.kafka.connect.data.Decimal"

# A struct with every Connect type the Avro mapping treats specially: int8/int16 (connect.type),
# Decimal, Date, Timestamp and Time (logical types), a map with non-string keys (an array of
# MapEntry records), an array, an optional nested struct, optional bytes and optional fields.
RICH_SCHEMA: Final[dict[str, Any]] = {
    "type": "struct",
    "name": "kconnect.reference.Rich",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int8"},
        {"field": "small", "type": "int16", "optional": True},
        {
            "field": "amount",
            "type": "bytes",
            "name": DECIMAL,
            "version": 1,
            "parameters": {"scale": "2"},
        },
        {
            "field": "day",
            "type": "int32",
            "name": "org.apache.kafka.connect.data.Date",
            "version": 1,
        },
        {
            "field": "at",
            "type": "int64",
            "name": "org.apache.kafka.connect.data.Timestamp",
            "version": 1,
        },
        {
            "field": "time_of_day",
            "type": "int32",
            "name": "org.apache.kafka.connect.data.Time",
            "version": 1,
            "optional": True,
        },
        {"field": "counts", "type": "map", "keys": {"type": "int32"}, "values": {"type": "int64"}},
        {"field": "tags", "type": "array", "items": {"type": "string"}},
        {
            "field": "inner",
            "type": "struct",
            "name": "kconnect.reference.Inner",
            "optional": True,
            "fields": [
                {"field": "name", "type": "string"},
                {"field": "score", "type": "double", "optional": True},
            ],
        },
        {"field": "blob", "type": "bytes", "optional": True},
    ],
}
RICH_PAYLOAD: Final[dict[str, Any]] = {
    "id": -5,
    "small": 300,
    "amount": base64.b64encode((12345).to_bytes(2, "big")).decode(),  # 123.45 at scale 2
    "day": 19000,  # days since the epoch
    "at": 1700000000123,  # milliseconds since the epoch
    "time_of_day": 3723004,  # 01:02:03.004
    "counts": [[1, 10], [-2, 20]],  # JsonConverter's form of a map with non-string keys
    "tags": ["a", "b"],
    "inner": {"name": "n", "score": 1.5},
    "blob": base64.b64encode(b"\x00\x01\xff").decode(),
}
# What confluent-kafka's AvroDeserializer (fastavro) reads from the reference's bytes.
RICH_DECODED: Final[dict[str, Any]] = {
    "id": -5,
    "small": 300,
    "amount": decimal.Decimal("123.45"),
    "day": datetime.date(2022, 1, 8),
    "at": datetime.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=datetime.UTC),
    "time_of_day": datetime.time(1, 2, 3, 4000),
    "counts": [{"key": 1, "value": 10}, {"key": -2, "value": 20}],
    "tags": ["a", "b"],
    "inner": {"name": "n", "score": 1.5},
    "blob": b"\x00\x01\xff",
}
RICH_REGISTERED: Final = (
    '{"type":"record","name":"Rich","namespace":"kconnect.reference","fields":['
    '{"name":"id","type":{"type":"int","connect.type":"int8"}},'
    '{"name":"small","type":["null",{"type":"int","connect.type":"int16"}],"default":null},'
    '{"name":"amount","type":{"type":"bytes","scale":2,"precision":64,"connect.version":1,'
    '"connect.parameters":{"scale":"2"},"connect.name":"org.apache.kafka.connect.data.Decimal",'
    '"logicalType":"decimal"}},'
    '{"name":"day","type":{"type":"int","connect.version":1,'
    '"connect.name":"org.apache.kafka.connect.data.Date","logicalType":"date"}},'
    '{"name":"at","type":{"type":"long","connect.version":1,'
    '"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}},'
    '{"name":"time_of_day","type":["null",{"type":"int","connect.version":1,'
    '"connect.name":"org.apache.kafka.connect.data.Time","logicalType":"time-millis"}],'
    '"default":null},'
    '{"name":"counts","type":{"type":"array","items":{"type":"record","name":"MapEntry",'
    '"namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},'
    '{"name":"value","type":"long"}]}}},'
    '{"name":"tags","type":{"type":"array","items":"string"}},'
    '{"name":"inner","type":["null",{"type":"record","name":"Inner","fields":['
    '{"name":"name","type":"string"},{"name":"score","type":["null","double"],"default":null}],'
    '"connect.name":"kconnect.reference.Inner"}],"default":null},'
    '{"name":"blob","type":["null","bytes"],"default":null}],'
    '"connect.name":"kconnect.reference.Rich"}'
)

# Schema-level doc, version and parameters; a field doc; defaults on an optional and a required
# field; a Decimal with connect.decimal.precision; an optional map with string keys.
DOCUMENTED_SCHEMA: Final[dict[str, Any]] = {
    "type": "struct",
    "name": "kconnect.reference.Documented",
    "version": 3,
    "doc": "A documented record",
    "optional": False,
    "parameters": {"team": "data"},
    "fields": [
        {
            "field": "price",
            "type": "bytes",
            "name": DECIMAL,
            "version": 1,
            "parameters": {"scale": "3", "connect.decimal.precision": "10"},
        },
        {"field": "qty", "type": "int32", "optional": True, "default": 1, "doc": "how many"},
        {"field": "label", "type": "string", "default": "none"},
        {
            "field": "flags",
            "type": "map",
            "keys": {"type": "string"},
            "values": {"type": "boolean"},
            "optional": True,
        },
    ],
}
DOCUMENTED_PAYLOAD: Final[dict[str, Any]] = {
    "price": base64.b64encode((1234567).to_bytes(3, "big")).decode(),  # 1234.567 at scale 3
    "qty": 2,
    "label": "x",
    "flags": {"a": True},
}
DOCUMENTED_REGISTERED: Final = (
    '{"type":"record","name":"Documented","namespace":"kconnect.reference","fields":['
    '{"name":"price","type":{"type":"bytes","scale":3,"precision":10,"connect.version":1,'
    '"connect.parameters":{"scale":"3","connect.decimal.precision":"10"},'
    '"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}},'
    '{"name":"qty","type":[{"type":"int","connect.doc":"how many","connect.default":1},"null"],'
    '"default":1},'
    '{"name":"label","type":{"type":"string","connect.default":"none"},"default":"none"},'
    '{"name":"flags","type":["null",{"type":"map","values":"boolean"}],"default":null}],'
    '"connect.doc":"A documented record","connect.version":3,"connect.parameters":{"team":"data"},'
    '"connect.name":"kconnect.reference.Documented"}'
)


def _topic() -> str:
    return f"reference-{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass(frozen=True)
class Reference:
    """The Java reference converter on the session's registry, as its user."""

    url: str
    credentials: tuple[str, str]

    def to_bytes(
        self, envelopes: list[dict[str, Any]], topic: str, **options: Any
    ) -> list[bytes | None]:
        options.setdefault("credentials", self.credentials)
        return javaconverter.to_bytes(envelopes, registry_url=self.url, topic=topic, **options)

    def to_envelopes(self, records: list[bytes | None], topic: str) -> list[str | None]:
        return javaconverter.to_envelopes(
            records, registry_url=self.url, topic=topic, credentials=self.credentials
        )


@pytest.fixture
def reference(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> Reference:
    return Reference(schema_registry.url, schema_registry_credentials)


def _schema_id(data: bytes | None) -> int:
    assert data is not None
    assert data[0] == 0, f"magic byte {data[0]}, expected 0"
    (schema_id,) = struct.unpack(">i", data[1:5])
    return int(schema_id)


def test_avro_value_registers_under_topic_value_and_decodes_with_confluent_kafka(
    reference: Reference, registry_client: SchemaRegistryClient
) -> None:
    topic = _topic()
    envelope = {"schema": RICH_SCHEMA, "payload": RICH_PAYLOAD}

    written = reference.to_bytes([envelope, {"schema": None, "payload": None}], topic)

    assert written[1] is None  # a null value stays a null record (a tombstone)
    data = written[0]
    assert data is not None
    latest = registry_client.get_latest_version(f"{topic}-value")
    assert latest.version == 1
    assert _schema_id(data) == latest.schema_id  # the ccompat id: Apicurio's content id
    assert latest.schema.schema_str == RICH_REGISTERED
    context = SerializationContext(topic, MessageField.VALUE)
    assert AvroDeserializer(registry_client)(data, context) == RICH_DECODED

    # confluent-kafka's serializer, given the registered schema, writes the very same bytes.
    serializer = AvroSerializer(
        registry_client,
        RICH_REGISTERED,
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    assert serializer(RICH_DECODED, context) == data

    # ... and the reference reads them back to the Connect value it was given.
    (read,) = reference.to_envelopes([data], topic)
    assert read is not None
    envelope_read = json.loads(read)
    assert envelope_read["payload"] == RICH_PAYLOAD
    assert [(f["field"], f["type"], f["optional"]) for f in envelope_read["schema"]["fields"]] == [
        (f["field"], f["type"], f.get("optional", False)) for f in RICH_SCHEMA["fields"]
    ]


def test_avro_schema_metadata_and_defaults_registered_text(
    reference: Reference, registry_client: SchemaRegistryClient
) -> None:
    topic = _topic()

    (data,) = reference.to_bytes(
        [{"schema": DOCUMENTED_SCHEMA, "payload": DOCUMENTED_PAYLOAD}], topic
    )

    latest = registry_client.get_latest_version(f"{topic}-value")
    assert _schema_id(data) == latest.schema_id
    assert latest.schema.schema_str == DOCUMENTED_REGISTERED
    decoded = AvroDeserializer(registry_client)(
        data, SerializationContext(topic, MessageField.VALUE)
    )
    assert decoded == {
        "price": decimal.Decimal("1234.567"),
        "qty": 2,
        "label": "x",
        "flags": {"a": True},
    }


def test_the_same_schema_under_two_subjects_has_one_id_and_a_repeat_adds_no_version(
    reference: Reference, registry_client: SchemaRegistryClient
) -> None:
    first, second = _topic(), _topic()
    envelope = {"schema": DOCUMENTED_SCHEMA, "payload": DOCUMENTED_PAYLOAD}

    (a,) = reference.to_bytes([envelope], first)
    (b,) = reference.to_bytes([envelope], second)
    (again,) = reference.to_bytes([envelope], first)

    assert a == b == again
    assert registry_client.get_versions(f"{first}-value") == [1]
    assert registry_client.get_versions(f"{second}-value") == [1]


def test_avro_key_registers_under_topic_key(
    reference: Reference, registry_client: SchemaRegistryClient
) -> None:
    topic = _topic()

    (data,) = reference.to_bytes(
        [{"schema": {"type": "string", "optional": False}, "payload": "k1"}],
        topic,
        is_key=True,
    )

    assert registry_client.get_subjects().count(f"{topic}-key") == 1
    assert f"{topic}-value" not in registry_client.get_subjects()
    latest = registry_client.get_latest_version(f"{topic}-key")
    assert _schema_id(data) == latest.schema_id
    assert latest.schema.schema_str == '"string"'
    assert data is not None
    assert data[5:] == b"\x04k1"  # Avro's string: zig-zag length 2, then the UTF-8 bytes
    context = SerializationContext(topic, MessageField.KEY)
    assert AvroDeserializer(registry_client)(data, context) == "k1"


def test_a_record_that_does_not_match_its_schema_fails_naming_the_line(
    reference: Reference,
) -> None:
    schema = {"type": "struct", "fields": [{"field": "a", "type": "int32"}]}
    good = {"schema": schema, "payload": {"a": 1}}
    bad = {"schema": schema, "payload": {}}  # the required field is missing

    with pytest.raises(javaconverter.JavaConverterError) as failed:
        reference.to_bytes(
            [good, bad],
            _topic(),
        )

    assert "after 1 of 2 records" in str(failed.value)
    assert "line 2: org.apache.kafka.connect.errors.DataException" in str(failed.value)


def test_wrong_credentials_fail_without_showing_the_password(reference: Reference) -> None:
    user, _ = reference.credentials
    wrong = f"wrong-{uuid.uuid4().hex}"

    with pytest.raises(javaconverter.JavaConverterError) as failed:
        reference.to_bytes(
            [{"schema": {"type": "int32"}, "payload": 1}], _topic(), credentials=(user, wrong)
        )

    assert "line 1:" in str(failed.value)
    assert "NotAuthorizedException" in str(failed.value)
    assert wrong not in str(failed.value)


def test_without_auto_register_an_unknown_subject_fails(reference: Reference) -> None:
    topic = _topic()

    with pytest.raises(javaconverter.JavaConverterError) as failed:
        reference.to_bytes(
            [{"schema": {"type": "int64"}, "payload": 1}], topic, auto_register=False
        )

    assert "line 1: io.apicurio.registry.rest.client.exception.ArtifactNotFoundException" in str(
        failed.value
    )
    assert f"'{topic}-value'" in str(failed.value)
