"""A chain of transforms with predicates in a real pipeline: DataGen → Kafka → FileStreamSink.

The source masks a field, adds one, routes the topic and adds a header; the sink drops records
without that header and extracts one field. Everything is configured with Kafka Connect's keys
and Java class names, as an existing connector config would be.
"""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from tests.support.workers import Standalone, read_lines, wait_until

pytestmark = pytest.mark.integration

T = "org.apache.kafka.connect.transforms."
P = "org.apache.kafka.connect.transforms.predicates."
JSON = "org.apache.kafka.connect.json.JsonConverter"
RECORDS = 50


def _read(bootstrap: str, topic: str, count: int) -> list[object]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        out: list[object] = []

        def enough() -> bool:
            out.extend(m for m in consumer.consume(100, 0.5) if m.error() is None)
            return len(out) >= count

        wait_until(f"{count} records in {topic}", enough)
        return out
    finally:
        consumer.close()


def test_a_chain_with_predicates_runs_in_source_and_sink(
    standalone: Standalone, new_topic, kafka_bootstrap: str
) -> None:  # type: ignore[no-untyped-def]
    suffix = uuid.uuid4().hex[:8]
    routed = new_topic()  # the people-… topic the router writes to must exist: name it after it
    source_topic = "users-" + routed
    out = standalone.cwd / "seqs.txt"
    source = {
        "name": "users-src",
        "connector.class": "DataGen",
        "schema": "users",
        "topic": source_topic,
        "max.records": str(RECORDS),
        "value.converter": JSON,
        "value.converter.schemas.enable": "false",
        "transforms": "mask,origin,other,route,tag",
        "transforms.mask.type": T + "MaskField$Value",
        "transforms.mask.fields": "email",
        "transforms.mask.predicate": "isUsers",
        "transforms.origin.type": T + "InsertField$Value",
        "transforms.origin.static.field": "origin",
        "transforms.origin.static.value": f"kconnect-{suffix}",
        "transforms.route.type": T + "RegexRouter",
        "transforms.route.regex": "users-(.*)",
        "transforms.route.replacement": "$1",
        "transforms.tag.type": T + "InsertHeader",
        "transforms.tag.header": "pipeline",
        "transforms.tag.value.literal": "demo",
        # Never applies: it runs before the router, while every record is on a users- topic.
        "transforms.other.type": T + "Filter",
        "transforms.other.predicate": "isUsers",
        "transforms.other.negate": "true",
        "predicates": "isUsers",
        "predicates.isUsers.type": P + "TopicNameMatches",
        "predicates.isUsers.pattern": "users-.*",
    }
    sink = {
        "name": "seq-sink",
        "connector.class": "FileStreamSink",
        "topics": routed,
        "file": str(out),
        "value.converter": JSON,
        "value.converter.schemas.enable": "false",
        "transforms": "untagged,seq",
        "transforms.untagged.type": T + "Filter",
        "transforms.untagged.predicate": "tagged",
        "transforms.untagged.negate": "true",
        "transforms.seq.type": T + "ExtractField$Value",
        "transforms.seq.field": "seq",
        "predicates": "tagged",
        "predicates.tagged.type": P + "HasHeaderKey",
        "predicates.tagged.name": "pipeline",
    }
    # Records without the header, written straight to the routed topic: the sink drops them.
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(5):
        producer.produce(routed, json.dumps({"seq": 1000 + i}).encode())
    assert producer.flush(30) == 0
    w = standalone.start([source, sink])
    wait_until("every seq in the sink file", lambda: len(read_lines(out)) >= RECORDS)
    assert sorted(read_lines(out), key=int) == [str(i) for i in range(RECORDS)]

    messages = [m for m in _read(kafka_bootstrap, routed, RECORDS + 5) if m.headers()]
    assert len(messages) == RECORDS
    for m in messages:
        assert dict(m.headers()) == {"pipeline": b"demo"}
        value = json.loads(m.value())
        assert value["email"] == ""  # masked
        assert value["origin"] == f"kconnect-{suffix}"
        assert value["name"]  # untouched
    # Nothing went to the source topic itself: the router renamed every record.
    assert w.get("/connectors/users-src/topics")["users-src"]["topics"] == [routed]
    assert w.terminate() == 0


def test_a_bad_transform_config_is_rejected_naming_the_key(standalone: Standalone) -> None:
    w = standalone.start([])
    code, body = w.request(
        "PUT",
        "/connectors/bad/config",
        {
            "connector.class": "FileStreamSink",
            "topics": "t",
            "file": str(standalone.cwd / "x.txt"),
            "transforms": "mask",
            "transforms.mask.type": T + "MaskField$Value",
        },
    )
    assert code == 400
    assert "transforms.mask.fields" in body["message"]
    assert w.terminate() == 0
