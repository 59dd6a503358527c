"""The Schema Registry layer without a registry: wire format, subject names, config checks and
what never shows a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from kconnect.converters.jsonschema import JsonSchemaConverterConfig
from kconnect.converters.schemaregistry import (
    SchemaRegistry,
    SubjectNameStrategy,
    decode_message_indexes,
    encode_message_indexes,
    frame,
    read_registry_settings,
    subject_name,
    unframe,
)
from kconnect.errors import ConfigError, DataError, RetriableError
from kconnect.herder.validation import config_key_infos

URL = "http://127.0.0.1:1/apis/ccompat/v7"


def test_frame_is_magic_byte_then_big_endian_id() -> None:
    assert frame(258, b"{}") == b"\x00\x00\x00\x01\x02{}"
    schema_id, rest = unframe(b"\x00\x00\x00\x01\x02{}")
    assert (schema_id, bytes(rest)) == (258, b"{}")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\x00\x00\x01", "too short"),
        (b"\x01\x00\x00\x00\x01x", "unknown magic byte 1"),
    ],
)
def test_unframe_names_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        unframe(data)


@pytest.mark.parametrize(
    ("indexes", "encoded"),
    [([0], b"\x00"), ([1], b"\x02\x02"), ([0, 2], b"\x04\x00\x04"), ([64], b"\x02\x80\x01")],
)
def test_message_indexes_are_zigzag_varints_with_the_zero_shortcut(
    indexes: list[int], encoded: bytes
) -> None:
    assert encode_message_indexes(indexes) == encoded
    decoded, rest = decode_message_indexes(memoryview(encoded + b"payload"))
    assert (decoded, bytes(rest)) == (indexes, b"payload")


def test_truncated_message_indexes_are_a_data_error() -> None:
    with pytest.raises(DataError, match="ends inside"):
        decode_message_indexes(memoryview(b"\x04\x00"))


def test_subject_names_by_strategy() -> None:
    assert subject_name(SubjectNameStrategy.TOPIC, "orders", False, "x.Order") == "orders-value"
    assert subject_name(SubjectNameStrategy.TOPIC, "orders", True, None) == "orders-key"
    assert subject_name(SubjectNameStrategy.RECORD, "orders", False, "x.Order") == "x.Order"
    assert (
        subject_name(SubjectNameStrategy.TOPIC_RECORD, "orders", False, "x.Order")
        == "orders-x.Order"
    )
    with pytest.raises(DataError, match="has no name"):
        subject_name(SubjectNameStrategy.RECORD, "orders", False, None)


def test_strategies_by_java_class_or_simple_name() -> None:
    settings = read_registry_settings(
        {
            "schema.registry.url": URL,
            "key.subject.name.strategy": "RecordNameStrategy",
            "value.subject.name.strategy": (
                "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"
            ),
        }
    )
    assert settings.key_strategy is SubjectNameStrategy.RECORD
    assert settings.value_strategy is SubjectNameStrategy.TOPIC_RECORD
    with pytest.raises(ConfigError, match=r"value\.subject\.name\.strategy.*TopicNameStrategy"):
        read_registry_settings({"schema.registry.url": URL, "value.subject.name.strategy": "X"})


@pytest.mark.parametrize(
    ("configs", "message"),
    [
        ({}, "missing key 'schema.registry.url'"),
        ({"schema.registry.url": "ftp://x"}, "expected http:// or https://"),
        ({"schema.registry.url": URL, "auto.register.schemas": "yes"}, "auto.register.schemas"),
        ({"schema.registry.url": URL, "schemas.cache.size": "0"}, "at least 1"),
        (
            {"schema.registry.url": URL, "basic.auth.credentials.source": "TOKEN"},
            "URL, USER_INFO, SASL_INHERIT",
        ),
        (
            {"schema.registry.url": URL, "basic.auth.credentials.source": "SASL_INHERIT"},
            "sasl.jaas.config",
        ),
    ],
)
def test_bad_configs_name_the_key_and_what_was_expected(
    configs: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        read_registry_settings(configs)


def test_several_urls_and_each_credentials_source() -> None:
    both = f"{URL}, http://127.0.0.1:2/apis/ccompat/v7/"
    s = read_registry_settings({"schema.registry.url": both})
    assert s.urls == (URL, "http://127.0.0.1:2/apis/ccompat/v7")
    assert s.credentials is None
    s = read_registry_settings({"schema.registry.url": "http://u:p%40ss@h:1/x"})
    assert s.credentials == ("u", "p@ss")
    assert s.urls == ("http://h:1/x",)
    s = read_registry_settings(
        {
            "schema.registry.url": URL,
            "basic.auth.credentials.source": "USER_INFO",
            "schema.registry.basic.auth.user.info": "alice:s3cr:et",
        }
    )
    assert s.credentials == ("alice", "s3cr:et")
    s = read_registry_settings(
        {
            "schema.registry.url": URL,
            "basic.auth.credentials.source": "SASL_INHERIT",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
            'username="bob" password="pw";',
        }
    )
    assert s.credentials == ("bob", "pw")


def test_secrets_stay_out_of_errors_reprs_and_key_listings() -> None:
    secret = "hunter2-secret"  # noqa: S105 - a test value
    with pytest.raises(ConfigError) as e:
        read_registry_settings(
            {
                "schema.registry.url": URL,
                "basic.auth.credentials.source": "USER_INFO",
                "basic.auth.user.info": secret,
            }
        )
    assert secret not in str(e.value)
    s = read_registry_settings({"schema.registry.url": f"http://me:{secret}@127.0.0.1:1/x"})
    assert secret not in repr(s)
    with pytest.raises(ConfigError) as e:
        read_registry_settings({"schema.registry.url": f"ftp://me:{secret}@h/x"})
    assert secret not in str(e.value)
    types = {k.name: k.type for k in config_key_infos(JsonSchemaConverterConfig)}
    assert types["basic.auth.user.info"] == "PASSWORD"
    assert types["schema.registry.ssl.truststore.password"] == "PASSWORD"
    assert types["schema.registry.url"] == "LIST"


def test_an_unreachable_registry_is_retriable_and_named_without_credentials() -> None:
    secret = "hunter2-secret"  # noqa: S105 - a test value
    settings = read_registry_settings(
        {"schema.registry.url": f"http://me:{secret}@127.0.0.1:1/apis/ccompat/v7"}
    )
    registry = SchemaRegistry(settings, is_key=False)
    with pytest.raises(RetriableError) as e:
        registry.schema_for(1)
    assert "http://127.0.0.1:1/apis/ccompat/v7 unreachable" in str(e.value)
    assert secret not in str(e.value)
    registry.close()


@pytest.mark.parametrize("indexes", [[0], [1], [0, 0], [3, 1, 4], [200], [70000, 2]])
def test_framing_is_byte_for_byte_confluent_kafkas(indexes: list[int]) -> None:
    """confluent-kafka's own SchemaId writes the same header and message indexes, and reads ours."""
    import io

    from confluent_kafka.schema_registry.common.serde import SchemaId

    theirs = SchemaId("PROTOBUF", 123456, message_indexes=indexes).id_to_bytes()
    ours = frame(123456, b"", encode_message_indexes(indexes))
    assert ours == theirs
    parsed = SchemaId("PROTOBUF")
    parsed.from_bytes(io.BytesIO(ours + b"payload"))
    assert (parsed.id, parsed.message_indexes) == (123456, indexes)


def test_tls_keys_are_read_and_checked() -> None:
    s = read_registry_settings(
        {
            "schema.registry.url": "https://registry:8081",
            "schema.registry.ssl.truststore.location": "/etc/trust.p12",
            "schema.registry.ssl.truststore.type": "pkcs12",
            "schema.registry.ssl.truststore.password": "trust-secret",
            "schema.registry.ssl.endpoint.identification.algorithm": "",
        }
    )
    assert s.tls is not None
    assert (s.tls.truststore_location, s.tls.truststore_type) == ("/etc/trust.p12", "PKCS12")
    assert s.tls.check_hostname is False
    assert "trust-secret" not in repr(s)
    assert read_registry_settings({"schema.registry.url": URL}).tls is None
    with pytest.raises(ConfigError, match=r"endpoint\.identification\.algorithm.*https or empty"):
        read_registry_settings(
            {
                "schema.registry.url": URL,
                "schema.registry.ssl.endpoint.identification.algorithm": "ldaps",
            }
        )
    with pytest.raises(ConfigError, match=r"keystore\.type.*JKS, PKCS12, PEM"):
        read_registry_settings(
            {
                "schema.registry.url": URL,
                "schema.registry.ssl.keystore.location": "/k.jks",
                "schema.registry.ssl.keystore.type": "BKS",
            }
        )


def test_a_missing_store_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    settings = read_registry_settings(
        {
            "schema.registry.url": "https://registry:8081",
            "schema.registry.ssl.truststore.location": str(tmp_path / "missing.jks"),
        }
    )
    with pytest.raises(ConfigError, match=r"schema\.registry\.ssl\.truststore\.location"):
        SchemaRegistry(settings, is_key=False)


@pytest.mark.parametrize(
    ("url", "why"),
    [("http://user:s3cret@[::1", "Invalid IPv6 URL"), ("http://h:99999", "Port out of range")],
)
def test_a_url_that_does_not_parse_is_a_config_error_that_quotes_no_part_of_it(
    url: str, why: str
) -> None:
    with pytest.raises(ConfigError, match="invalid URL number 1") as refused:
        read_registry_settings({"schema.registry.url": url, "converter.type": "value"})
    assert why in str(refused.value)
    assert "s3cret" not in str(refused.value)
