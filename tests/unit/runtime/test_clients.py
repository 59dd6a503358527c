import pytest

from kconnect.errors import ConfigError
from kconnect.worker.clients import (
    consumer_config,
    group_protocol_chosen,
    max_poll_records,
    producer_config,
    translate,
    with_group_protocol,
)

WORKER = {
    "bootstrap.servers": "127.0.0.1:9092",
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "PLAIN",
    "producer.linger.ms": "20",
    "producer.buffer.memory": "33554432",
    "consumer.max.partition.fetch.bytes": "2097152",
    "offset.flush.interval.ms": "1000",
}


def test_producer_precedence_and_translation() -> None:
    conf = producer_config(
        WORKER,
        {"producer.override.linger.ms": "50"},
        connector="c",
        task=3,
        policy="All",
    )
    assert conf["bootstrap.servers"] == "127.0.0.1:9092"
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert conf["linger.ms"] == "50"  # the connector's override wins
    assert conf["client.id"] == "connector-producer-c-3"
    assert conf["acks"] == "all"
    assert conf["partitioner"] == "murmur2_random"
    assert "buffer.memory" not in conf  # Java-only: dropped
    assert "offset.flush.interval.ms" not in conf  # a worker key, not a client key


def test_consumer_defaults_for_sinks() -> None:
    conf = consumer_config(WORKER, {}, connector="my sink", task=0, policy="All")
    assert conf["group.id"] == "connect-my sink"
    assert conf["enable.auto.commit"] == "false"
    assert conf["auto.offset.reset"] == "earliest"
    assert conf["max.partition.fetch.bytes"] == "2097152"


def test_override_policy_none_rejects_overrides() -> None:
    with pytest.raises(ConfigError, match=r"producer\.override\.acks.*policy=None"):
        producer_config(
            WORKER, {"producer.override.acks": "1"}, connector="c", task=0, policy="None"
        )


def test_override_policy_principal() -> None:
    ok = producer_config(
        WORKER,
        {"producer.override.sasl.mechanism": "SCRAM-SHA-512"},
        connector="c",
        task=0,
        policy="Principal",
    )
    assert ok["sasl.mechanism"] == "SCRAM-SHA-512"
    with pytest.raises(ConfigError, match="Principal"):
        producer_config(
            WORKER, {"producer.override.acks": "1"}, connector="c", task=0, policy="Principal"
        )


def test_jaas_config_becomes_username_and_password() -> None:
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="alice" password="s3cr\\"et";'
    )
    conf = translate({"sasl.jaas.config": jaas}, "producer")
    assert conf == {"sasl.username": "alice", "sasl.password": 's3cr"et'}


def test_jks_trust_store_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="JKS or PKCS12"):
        translate({"ssl.truststore.location": "/etc/kafka/truststore.jks"}, "consumer")


def test_max_poll_records() -> None:
    assert max_poll_records({}, {}) == 500
    assert max_poll_records({"consumer.max.poll.records": "100"}, {}) == 100
    assert max_poll_records({}, {"consumer.override.max.poll.records": "7"}) == 7
    with pytest.raises(ConfigError, match=r"max\.poll\.records"):
        max_poll_records({}, {"consumer.override.max.poll.records": "lots"})


def test_sink_consumers_use_kip_848_by_default() -> None:
    conf = consumer_config(
        {**WORKER, "consumer.session.timeout.ms": "10000"}, {}, connector="c", task=0, policy="All"
    )
    assert conf["group.protocol"] == "consumer"
    assert "partition.assignment.strategy" not in conf
    assert "session.timeout.ms" not in conf  # the broker owns it under KIP-848


def test_classic_protocol_gets_kafka_connects_assignors() -> None:
    conf = consumer_config(
        {**WORKER, "consumer.group.protocol": "classic"}, {}, connector="c", task=0, policy="All"
    )
    assert conf["partition.assignment.strategy"] == "range"
    java = with_group_protocol(
        {
            "partition.assignment.strategy": (
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
            )
        },
        "classic",
    )
    assert java["partition.assignment.strategy"] == "cooperative-sticky"


def test_group_protocol_chosen() -> None:
    assert not group_protocol_chosen(WORKER, {})
    assert group_protocol_chosen({"consumer.group.protocol": "classic"}, {})
    assert group_protocol_chosen({}, {"consumer.override.group.protocol": "consumer"})
