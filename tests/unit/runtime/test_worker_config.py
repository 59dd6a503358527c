import pytest

from kconnect.config.worker import DistributedConfig, StandaloneConfig, prefixed, unexpected_keys
from kconnect.errors import ConfigError

QUICKSTART = {
    "bootstrap.servers": "localhost:9092",
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter.schemas.enable": "true",
    "offset.storage.file.filename": "/tmp/connect.offsets",
    "offset.flush.interval.ms": "10000",
    "plugin.path": "libs/connect-file-4.1.1.jar",
}


def test_quickstart_worker_config_parses() -> None:
    config = StandaloneConfig.parse(QUICKSTART)
    assert config.offset_flush_interval_ms == 10_000
    assert config.offset_storage_file_filename == "/tmp/connect.offsets"
    assert config.listener_list() == "http://:8083"


def test_ignored_and_unknown_keys_are_reported_not_fatal() -> None:
    props = {**QUICKSTART, "no.such.key": "1", "producer.linger.ms": "5", "ssl.key.password": "x"}
    ignored, unknown = unexpected_keys(StandaloneConfig, props)
    assert ignored == ["plugin.path"]
    assert unknown == ["no.such.key"]


def test_missing_offsets_file_names_the_key() -> None:
    props = dict(QUICKSTART)
    del props["offset.storage.file.filename"]
    with pytest.raises(
        ConfigError, match=r"missing required key 'offset\.storage\.file\.filename'"
    ):
        StandaloneConfig.parse(props, source="w.properties")


def test_ill_typed_value_names_key_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as err:
        StandaloneConfig.parse({**QUICKSTART, "offset.flush.interval.ms": "soon"}, "w.properties")
    message = str(err.value)
    assert message.startswith("w.properties: ")
    assert "'offset.flush.interval.ms'" in message
    assert "'soon'" in message
    assert "integer" in message


def test_deprecated_rest_port_is_honoured() -> None:
    config = StandaloneConfig.parse({**QUICKSTART, "rest.port": "9999"})
    assert config.listener_list() == "http://:9999"


def test_override_policy_accepts_java_class_names() -> None:
    config = StandaloneConfig.parse(
        {
            **QUICKSTART,
            "connector.client.config.override.policy": (
                "org.apache.kafka.connect.connector.policy.NoneConnectorClientConfigOverridePolicy"
            ),
        }
    )
    assert config.connector_client_config_override_policy == "None"


def test_prefixed() -> None:
    assert prefixed({"producer.acks": "1", "producer.": "x", "acks": "0"}, "producer.") == {
        "acks": "1"
    }


DISTRIBUTED = {
    "bootstrap.servers": "localhost:9092",
    "group.id": "connect-cluster",
    "config.storage.topic": "connect-configs",
    "offset.storage.topic": "connect-offsets",
    "status.storage.topic": "connect-status",
}


def test_group_instance_id_and_session_timeout_are_read() -> None:
    config = DistributedConfig.parse(
        {**DISTRIBUTED, "group.instance.id": "connect-0", "session.timeout.ms": "45000"}
    )
    assert config.group_instance_id == "connect-0"
    assert config.session_timeout_ms == 45_000
    assert DistributedConfig.parse(DISTRIBUTED).group_instance_id is None
    assert unexpected_keys(DistributedConfig, {**DISTRIBUTED, "group.instance.id": "a"}) == ([], [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "expected a non-empty id"),
        ("   ", "expected a non-empty id"),
        ("w" * 250, "expected at most 249 characters, not 250"),
        ("worker 0", r"expected only ASCII letters, digits, '\.', '_' and '-'"),
        ("wörker", "expected only ASCII letters"),
    ],
)
def test_a_bad_group_instance_id_names_the_key(value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=rf"w\.properties: .*'group\.instance\.id': {expected}"):
        DistributedConfig.parse({**DISTRIBUTED, "group.instance.id": value}, source="w.properties")
