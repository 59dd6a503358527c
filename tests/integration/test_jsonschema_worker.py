"""JsonSchemaConverter in real standalone workers, with a real Schema Registry.

DataGen writes `orders` through `io.confluent.connect.json.JsonSchemaConverter` and a
FileStreamSink reads them back through it; a registry restart while the sink needs it loses no
record; an incompatible change and a wrong password fail the task with a message that says why.
The restart test starts its own registry twice (some 10 s each).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from kconnect.converters.jsonschema import JsonSchemaConverter
from kconnect.data.schema import SchemaBuilder, Struct
from kconnect_devenv import kafka, registry
from tests.support.workers import Standalone, Worker, read_lines, wait_until

CONVERTER = "io.confluent.connect.json.JsonSchemaConverter"


def _converter_props(reg: registry.Registry, user: str, password: str) -> dict[str, str]:
    return {
        "value.converter": CONVERTER,
        "value.converter.schema.registry.url": reg.url,
        "value.converter.basic.auth.credentials.source": "USER_INFO",
        "value.converter.basic.auth.user.info": f"{user}:{password}",
    }


def _source(name: str, topic: str, records: int, props: dict[str, str]) -> dict[str, str]:
    return {
        "name": name,
        "connector.class": "DataGen",
        "schema": "orders",
        "topic": topic,
        "max.records": str(records),
        "records.per.second": "200",
        "batch.size": "20",
        **props,
    }


def _sink(name: str, topic: str, out: Path, props: dict[str, str]) -> dict[str, str]:
    return {
        "name": name,
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(out),
        "consumer.override.auto.offset.reset": "earliest",
        # Ride out a registry that is down: the converter's RetriableError is retried this long.
        "errors.retry.timeout": "120000",
        "errors.retry.delay.max.ms": "1000",
        **props,
    }


def _seqs(out: Path) -> list[int]:
    return sorted(int(m[1]) for line in read_lines(out) if (m := re.search(r"seq=(\d+)", line)))


def _failed_trace(w: Worker, name: str) -> str:
    def check() -> str | None:
        tasks = w.status(name).get("tasks") or []
        return tasks[0].get("trace") if tasks and tasks[0]["state"] == "FAILED" else None

    return str(wait_until(f"{name}'s task to fail", check))


@pytest.fixture
def own_registry(
    tmp_path: Path, kafka_broker: kafka.Broker
) -> Iterator[tuple[Path, dict[str, str]]]:
    state = tmp_path / "registry"
    args = {
        "bootstrap": kafka_broker.bootstrap,
        "topic_prefix": f"registry-{uuid.uuid4().hex[:8]}",
    }
    try:
        yield state, args
    finally:
        registry.stop(state)


def test_a_registry_restart_while_the_sink_needs_it_loses_no_record(
    standalone: Standalone, own_registry: tuple[Path, dict[str, str]]
) -> None:
    state, args = own_registry
    users = {"u": "registry-restart-password"}
    reg = registry.start(state, users=users, die_with_parent=True, **args)  # type: ignore[arg-type]
    props = _converter_props(reg, "u", users["u"])
    topic = f"orders-{uuid.uuid4().hex[:8]}"
    out = standalone.cwd / "orders.txt"
    total = 600
    w = standalone.start([_source("gen", topic, total, props)])
    w.wait_state("gen", "RUNNING")
    wait_until("DataGen to write its first records", lambda: kafka_topic_size(standalone, topic))
    registry.stop(state)  # DataGen goes on: its schema's id is cached
    # The sink reads its credentials through a config provider, as from a mounted Secret.
    secret_file = standalone.cwd / "registry.properties"
    secret_file.write_text(f"user.info=u:{users['u']}\n")
    variable = f"${{file:{secret_file}:user.info}}"
    sink_props = {**props, "value.converter.basic.auth.user.info": variable}
    worker = standalone.worker_props(
        **{
            "config.providers": "file",
            "config.providers.file.class": (
                "org.apache.kafka.common.config.provider.FileConfigProvider"
            ),
        }
    )
    w2 = standalone.start([_sink("files", topic, out, sink_props)], worker=worker)
    # The sink's first record needs the schema of its id, from a registry that is down.
    w2.wait_state("files", "RUNNING")
    reg2 = registry.start(state, users=users, die_with_parent=True, port=reg.port, **args)  # type: ignore[arg-type]
    assert reg2.url == reg.url
    wait_until(f"{total} orders in the sink's file", lambda: len(_seqs(out)) >= total, 120)
    assert set(_seqs(out)) == set(range(total))
    assert w2.status("files")["tasks"][0]["state"] == "RUNNING"
    assert "unreachable" in w2.log()  # the outage was seen and retried, not skipped
    config = w2.get("/connectors/files/config")
    assert config["value.converter.basic.auth.user.info"] == variable
    for worker in (w, w2):
        assert users["u"] not in worker.log()


def kafka_topic_size(standalone: Standalone, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": standalone.bootstrap, "group.id": "size"})
    try:
        md = consumer.list_topics(topic, timeout=10)
        if topic not in md.topics or not md.topics[topic].partitions:
            return 0
        total = 0
        for p in md.topics[topic].partitions:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += hi - lo
        return total
    finally:
        consumer.close()


def test_an_incompatible_change_fails_the_task_with_the_registrys_message(
    standalone: Standalone,
    schema_registry: registry.Registry,
    schema_registry_credentials: tuple[str, str],
) -> None:
    topic = f"orders-{uuid.uuid4().hex[:8]}"
    user, password = schema_registry_credentials
    props = _converter_props(schema_registry, user, password)
    # The subject's first version has `seq` as a string; DataGen's orders have it as an integer.
    earlier = JsonSchemaConverter()
    earlier.configure({k.removeprefix("value.converter."): v for k, v in props.items()}, False)
    schema = (
        SchemaBuilder.struct()
        .name("kconnect.datagen.Order")
        .field("seq", SchemaBuilder.string().build())
        .build()
    )
    earlier.from_connect_data(topic, schema, Struct(schema).put("seq", "1"))
    earlier.close()
    w = standalone.start([_source("gen", topic, 10, props)])
    trace = _failed_trace(w, "gen")
    assert f"refused the schema for subject '{topic}-value' as incompatible" in trace
    assert "409" in trace
    assert password not in trace


def test_a_wrong_password_fails_the_task_saying_authentication_failed(
    standalone: Standalone,
    schema_registry: registry.Registry,
    schema_registry_credentials: tuple[str, str],
) -> None:
    topic = f"orders-{uuid.uuid4().hex[:8]}"
    props = _converter_props(schema_registry, schema_registry_credentials[0], "wrong-password-x")
    w = standalone.start([_source("gen", topic, 10, props)])
    trace = _failed_trace(w, "gen")
    assert f"authentication failed for subject '{topic}-value'" in trace
    assert "wrong-password-x" not in trace
    assert "wrong-password-x" not in w.log()
    keys = {k["name"]: k for k in w.get(f"/connector-plugins/{CONVERTER}/config")}
    assert keys["basic.auth.user.info"]["type"] == "PASSWORD"
    assert keys["value.subject.name.strategy"]["default_value"] == (
        "io.confluent.kafka.serializers.subject.TopicNameStrategy"
    )
    client = SchemaRegistryClient(
        {"url": schema_registry.url, "basic.auth.user.info": ":".join(schema_registry_credentials)}
    )
    try:
        assert f"{topic}-value" not in client.get_subjects()
    finally:
        client.close()
