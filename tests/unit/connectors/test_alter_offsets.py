"""What the shipped connectors answer when the REST API alters their offsets (KIP-875), as their
Java counterparts do: FileStreamSource and FileStreamSink answer True (Java's override), the JDBC
sink (Confluent's JdbcSinkConnector) and PostgresCdcSource (Debezium's PostgresConnector) keep
the default, False, since neither Java class overrides `alterOffsets` (and the CDC source has a
position of its own in its replication slot). DataGen, which has no Java counterpart, keeps its
whole position in the framework's offsets: it answers True once it has checked them."""

from __future__ import annotations

import pytest

from kconnect.api.types import SourceOffset, SourcePartition, TopicPartition
from kconnect.connectors.datagen import SLOTS, DataGenConnector
from kconnect.connectors.file import FileStreamSinkConnector
from kconnect.connectors.jdbc.sink import JdbcSinkConnector
from kconnect.connectors.pgcdc.source import PostgresCdcConnector
from kconnect.errors import ConnectError

DATAGEN = {"name": "d", "topic": "t"}


def test_sinks_answer_as_their_java_counterparts() -> None:
    offsets = {TopicPartition("t", 0): 5, TopicPartition("t", 1): None}
    assert FileStreamSinkConnector().alter_offsets({"topics": "t"}, offsets) is True
    assert JdbcSinkConnector().alter_offsets({"topics": "t"}, offsets) is False


def test_postgres_cdc_answers_as_debeziums() -> None:
    offsets: list[tuple[SourcePartition, SourceOffset | None]] = [({"server": "p"}, {"lsn": 1234})]
    assert PostgresCdcConnector().alter_offsets({}, offsets) is False


def test_datagen_accepts_slots_legacy_lanes_and_tombstones() -> None:
    offsets: list[tuple[SourcePartition, SourceOffset | None]] = [
        ({"datagen.slot": 0}, {"seq": 99}),
        ({"datagen.slot": SLOTS - 1}, {"seq": 0}),
        ({"datagen.task": 3}, {"seq": 7}),
        ({"anything": "else"}, None),
    ]
    assert DataGenConnector().alter_offsets(DATAGEN, offsets) is True
    assert DataGenConnector().alter_offsets(DATAGEN, []) is True


@pytest.mark.parametrize(
    ("partition", "offset", "message"),
    [
        ({"datagen.slot": SLOTS}, {"seq": 1}, f"integer from 0 to {SLOTS - 1}, not {SLOTS}"),
        ({"datagen.slot": "1"}, {"seq": 1}, "not '1'"),
        ({"datagen.task": -1}, {"seq": 1}, "non-negative integer, not -1"),
        ({"slot": 1}, {"seq": 1}, "should contain the key 'datagen.slot'"),
        ({"datagen.slot": 1}, {"position": 1}, "null or contain the key 'seq'"),
        ({"datagen.slot": 1}, {"seq": -1}, "non-negative integer, not -1"),
        ({"datagen.slot": 1}, {"seq": True}, "non-negative integer, not True"),
        ({"datagen.slot": 1}, {"seq": 1.5}, "non-negative integer, not 1.5"),
    ],
)
def test_datagen_refuses_what_its_tasks_would_fail_on(
    partition: SourcePartition, offset: SourceOffset, message: str
) -> None:
    with pytest.raises(ConnectError, match=message):
        DataGenConnector().alter_offsets(DATAGEN, [(partition, offset)])
