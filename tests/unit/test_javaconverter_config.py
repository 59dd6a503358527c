"""The Java reference converter's config: Confluent's framing and subjects, the registry's v2 API
reached from the Confluent URL, and the broker's Kafka version for Connect's classes."""

from __future__ import annotations

import pytest

from kconnect_devenv import javaconverter
from kconnect_devenv.kafka import POM as BROKER_POM
from kconnect_devenv.kafka import kafka_version

URL = "http://127.0.0.1:8081/apis/ccompat/v7"


def test_config_is_confluent_framing_on_the_v2_api_of_the_same_registry() -> None:
    config = javaconverter.converter_config(
        "avro", registry_url=URL + "/", topic="orders", credentials=("u", "p")
    )

    assert config["reference.converter"] == "io.apicurio.registry.utils.converter.AvroConverter"
    assert config["reference.topic"] == "orders"
    assert config["reference.is.key"] == "false"
    assert config["apicurio.registry.url"] == "http://127.0.0.1:8081/apis/registry/v2"
    assert config["apicurio.registry.id-handler"].endswith(".Legacy4ByteIdHandler")
    assert config["apicurio.registry.use-id"] == "contentId"
    assert config["apicurio.registry.headers.enabled"] == "false"
    assert config["apicurio.registry.artifact-resolver-strategy"].endswith(".TopicIdStrategy")
    assert (config["apicurio.auth.username"], config["apicurio.auth.password"]) == ("u", "p")


def test_key_converter_without_auth_or_auto_register() -> None:
    config = javaconverter.converter_config(
        "avro", registry_url=URL, topic="t", is_key=True, auto_register=False
    )

    assert config["reference.is.key"] == "true"
    assert config["apicurio.registry.auto-register"] == "false"
    assert not any(key.startswith("apicurio.auth.") for key in config)


@pytest.mark.parametrize(
    ("converter", "url", "topic", "expected"),
    [
        ("protobuf", URL, "t", "converter 'protobuf': expected one of avro"),
        ("avro", "http://127.0.0.1:8081", "t", "ending in /apis/ccompat/v7"),
        ("avro", URL, "", "expected a non-empty topic name"),
        ("avro", URL, "a b", "expected a non-empty topic name"),
    ],
)
def test_bad_arguments_are_named(converter: str, url: str, topic: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        javaconverter.converter_config(converter, registry_url=url, topic=topic)


def test_connect_classes_are_the_brokers_kafka_version() -> None:
    assert kafka_version(javaconverter.POM) == kafka_version(BROKER_POM)
    assert javaconverter.apicurio_version() == "2.6.13.Final"
