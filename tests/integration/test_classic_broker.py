"""Sinks against a broker without KIP-848 (as Kafka before 4.0): the worker falls back to the
classic group protocol by itself, and records still flow and commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect_devenv import kafka
from tests.support.workers import Standalone, read_lines, wait_until


@pytest.fixture(scope="module")
def classic_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("kafka-classic")
    broker = kafka.start(
        state, overrides={"group.coordinator.rebalance.protocols": "classic"}, die_with_parent=True
    )
    try:
        yield broker.bootstrap
    finally:
        kafka.stop(state)


def test_sink_falls_back_to_the_classic_protocol(tmp_path: Path, classic_broker: str) -> None:
    s = Standalone(tmp_path, classic_broker)
    try:
        source = tmp_path / "in.txt"
        sink = tmp_path / "out.txt"
        source.write_text("".join(f"line-{i}\n" for i in range(500)))
        connectors = [
            {
                "name": "src",
                "connector.class": "FileStreamSource",
                "file": str(source),
                "topic": "t",
            },
            {"name": "snk", "connector.class": "FileStreamSink", "file": str(sink), "topics": "t"},
        ]
        w = s.start(connectors)
        wait_until("500 lines", lambda: len(read_lines(sink)) >= 500)
        assert "using the classic protocol" in w.log()
        assert w.terminate() == 0
        assert read_lines(sink) == [f"line-{i}" for i in range(500)]
    finally:
        s.close()
