"""The Kafka service: the session's broker serves real clients, and the CLI manages a broker.

The CLI test starts one more broker (the only one besides the session's); the failure tests stop
their brokers during startup, so they cost little.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer

from kconnect_devenv import kafka

if TYPE_CHECKING:
    from tests.conftest import NewTopic

REPO = Path(__file__).resolve().parents[2]
CONSUME_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 180.0


def _produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    failures: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error)

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    assert producer.flush(30) == 0, "records still in flight after 30s"
    assert failures == []


def _consume(
    bootstrap: str, topic: str, count: int, group_protocol: str
) -> list[tuple[bytes | None, bytes | None]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "group.protocol": group_protocol,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    received: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while len(received) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            received.append((message.key(), message.value()))
    finally:
        consumer.close()
    return received


@pytest.mark.parametrize("group_protocol", ["classic", "consumer"])
def test_records_round_trip_through_a_consumer_group(
    kafka_bootstrap: str, new_topic: NewTopic, group_protocol: str
) -> None:
    """Both group protocols work: the classic one and KIP-848's, which the worker may use."""
    topic = new_topic(partitions=1)
    sent = [(f"key-{i}".encode(), f"value-{i}".encode()) for i in range(5)]

    _produce(kafka_bootstrap, topic, sent)

    assert _consume(kafka_bootstrap, topic, len(sent), group_protocol) == sent


def test_topics_are_created_on_first_use(kafka_bootstrap: str) -> None:
    """Auto-creation is on, as in Kafka's default config, so Kafka's quickstart configs work."""
    topic = f"auto-created-{uuid.uuid4().hex}"
    sent = [(b"k", b"v")]

    _produce(kafka_bootstrap, topic, sent)

    assert _consume(kafka_bootstrap, topic, 1, "classic") == sent


# 127.0.0.1 as /proc/net/tcp writes it, and as /proc/net/tcp6 writes ::ffff:127.0.0.1.
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F"}
TCP_LISTEN = "0A"


def _listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as in /proc/net/tcp*) of sockets listening on ``port``."""
    addresses = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == TCP_LISTEN:
                addresses.add(address)
    return addresses


@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="reads /proc/net to find sockets")
def test_broker_listens_on_loopback_only(kafka_broker: kafka.Broker) -> None:
    for port in (kafka_broker.port, kafka_broker.controller_port):
        addresses = _listening_addresses(port)
        assert addresses, f"nothing listens on port {port}"
        assert addresses <= LOOPBACK_HEX, f"port {port} listens on {addresses}"
    assert kafka.metadata_brokers(kafka_broker.port) == [(1, "127.0.0.1", kafka_broker.port)]


def _cli(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kconnect_devenv.kafka", *args],
        cwd=REPO,
        env={**os.environ, "KCONNECT_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def test_cli_up_is_idempotent_and_down_deletes_the_data(tmp_path: Path) -> None:
    # A private cache that shares the already fetched jars, so nothing is downloaded again.
    libs = kafka.fetch()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / libs.parent.name).symlink_to(libs.parent, target_is_directory=True)
    state_dir = cache / "run" / "kafka"
    try:
        first = _cli(cache, "up")
        assert first.returncode == 0, first.stderr
        last_line = first.stdout.splitlines()[-1]
        assert re.fullmatch(r"KAFKA_BOOTSTRAP=127\.0\.0\.1:\d+", last_line), first.stdout
        broker = kafka.running(state_dir)
        assert broker is not None
        assert last_line == f"KAFKA_BOOTSTRAP={broker.bootstrap}"
        assert kafka.is_serving(broker.port)

        second = _cli(cache, "up")
        assert second.returncode == 0, second.stderr
        assert second.stdout.splitlines()[-1] == last_line
        assert "already running" in second.stdout
        again = kafka.running(state_dir)
        assert again is not None
        assert again.pid == broker.pid

        assert _cli(cache, "status").returncode == 0

        down = _cli(cache, "down")
        assert down.returncode == 0, down.stderr
        assert not broker.data_dir.exists()
        assert kafka.running(state_dir) is None
        assert not kafka.is_serving(broker.port)
        assert _cli(cache, "status").returncode == 1

        assert _cli(cache, "down").returncode == 0
    finally:
        kafka.stop(state_dir)


def _live_processes_with_argument(argument: Path) -> list[int]:
    """Pids of live processes (zombies excluded) whose command line has ``argument``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if os.fsencode(argument) in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="reads /proc to find the broker")
@pytest.mark.parametrize(
    ("overrides", "ready_timeout", "expected"),
    [
        pytest.param(
            {"authorizer.class.name": "no.such.Authorizer"},
            kafka.READY_TIMEOUT_S,
            r"(?s)exited with \d+ during startup.*ClassNotFoundException: no\.such\.Authorizer",
            id="broker-exits",
        ),
        pytest.param({}, 0.5, r"did not answer on 127\.0\.0\.1:\d+ within", id="timeout"),
    ],
)
def test_failed_start_reports_the_log_and_leaves_nothing_running(
    tmp_path: Path, overrides: dict[str, str], ready_timeout: float, expected: str
) -> None:
    state_dir = tmp_path / "kafka"

    with pytest.raises(kafka.BrokerStartError, match=expected):
        kafka.start(state_dir, overrides=overrides, ready_timeout=ready_timeout)

    config_path = state_dir / "data" / kafka.CONFIG_FILE
    assert config_path.is_file()  # the failed attempt's data stays for inspection
    assert _live_processes_with_argument(config_path) == []
    assert kafka.running(state_dir) is None
    kafka.stop(state_dir)
    assert not (state_dir / "data").exists()
