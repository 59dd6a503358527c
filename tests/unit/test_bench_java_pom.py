"""The Java Kafka Connect runtime that the benchmarks compare with is the broker's Kafka version.

``bench/java/pom.xml`` and ``kconnect_devenv/kafka/pom.xml`` each pin ``kafka.version``; a
comparison against another Connect release than the broker's would measure two variables at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from kconnect_devenv.kafka import kafka_version

REPO: Final = Path(__file__).resolve().parents[2]
BROKER_POM: Final = REPO / "kconnect_devenv" / "kafka" / "pom.xml"
CONNECT_POM: Final = REPO / "bench" / "java" / "pom.xml"


def test_java_connect_pom_pins_the_brokers_kafka_version() -> None:
    broker, connect = kafka_version(BROKER_POM), kafka_version(CONNECT_POM)
    assert connect == broker, (
        f"{CONNECT_POM.relative_to(REPO)} pins kafka.version {connect}, but "
        f"{BROKER_POM.relative_to(REPO)} pins {broker}; set both to the same version"
    )


def test_java_connect_pom_pins_the_brokers_log4j_version() -> None:
    broker = BROKER_POM.read_text("utf-8")
    connect = CONNECT_POM.read_text("utf-8")
    tag = "<log4j.version>"
    assert tag in broker
    assert tag in connect
    assert broker.split(tag)[1].split("<")[0] == connect.split(tag)[1].split("<")[0]
