"""Sink connector offsets: the committed offsets of the connector's consumer group, which is
`connect-<connector>` unless the worker's `consumer.group.id` or the connector's
`consumer.override.group.id` names another (`group=`), as Kafka Connect reads it.

The REST API's `/connectors/{c}/offsets` shows and changes them in Kafka Connect's shapes:
partition `{"kafka_topic": t, "kafka_partition": p}`, offset `{"kafka_offset": o}`. Changing them
is allowed only while the connector is STOPPED, so the group has no members; a group that still
has members makes the broker refuse, and the error says so.

Resetting single partitions: Java deletes their committed offsets (DeleteConsumerGroupOffsets),
which confluent-kafka's AdminClient does not offer. Here the group is deleted and the offsets of
the other partitions are committed again straight away. On success the result is the same as
Java's. If the second step fails, the error carries every offset that should have been kept, and
they are logged, so nothing is lost silently; the operation can be retried with them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from kconnect.api.types import JsonValue
from kconnect.errors import ConfigError, ConnectError

log = logging.getLogger(__name__)

KAFKA_TOPIC = "kafka_topic"
KAFKA_PARTITION = "kafka_partition"
KAFKA_OFFSET = "kafka_offset"

SinkOffsetEntry = tuple[dict[str, JsonValue], dict[str, JsonValue]]

_GROUP_BUSY = frozenset(
    {
        KafkaError.NON_EMPTY_GROUP,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
    }
)


def consumer_group_id(connector: str) -> str:
    return f"connect-{connector}"


# -- validation (pure) -----------------------------------------------------------------------


def _integer(value: object, what: str) -> int:
    """An int, or a string of one: the REST API takes both, as Java does."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{what} {value!r} is not an integer")


def parse_sink_offsets(
    entries: Sequence[tuple[Mapping[str, object] | None, Mapping[str, object] | None]],
) -> dict[tuple[str, int], int | None]:
    """Checked entries as {(topic, partition): offset or None for a reset}; or `ConfigError`.

    A later entry for the same partition overrides an earlier one.
    """
    out: dict[tuple[str, int], int | None] = {}
    for partition_map, offset_map in entries:
        if partition_map is None:
            raise ConfigError("The partition for a sink connector offset cannot be null or missing")
        if KAFKA_TOPIC not in partition_map or KAFKA_PARTITION not in partition_map:
            raise ConfigError(
                "The partition for a sink connector offset must contain the keys "
                f"'{KAFKA_TOPIC}' and '{KAFKA_PARTITION}'"
            )
        topic = partition_map[KAFKA_TOPIC]
        if not isinstance(topic, str) or not topic:
            raise ConfigError(
                f"'{KAFKA_TOPIC}' {topic!r} in the provided offsets is not a topic name; "
                "expected a non-empty string"
            )
        partition = _integer(
            partition_map[KAFKA_PARTITION], f"'{KAFKA_PARTITION}' in the provided offsets:"
        )
        if partition < 0:
            raise ConfigError(
                f"'{KAFKA_PARTITION}' {partition} in the provided offsets is negative; "
                "Kafka partitions are numbered from 0"
            )
        if offset_map is None:
            out[(topic, partition)] = None
            continue
        if KAFKA_OFFSET not in offset_map:
            raise ConfigError(
                "The offset for a sink connector should either be null or contain the key "
                f"'{KAFKA_OFFSET}'"
            )
        offset = _integer(offset_map[KAFKA_OFFSET], f"'{KAFKA_OFFSET}' in the provided offsets:")
        if offset < 0:
            raise ConfigError(
                f"'{KAFKA_OFFSET}' {offset} in the provided offsets is negative; expected an "
                "offset of 0 or more"
            )
        out[(topic, partition)] = offset
    return out


def to_rest(offsets: Mapping[tuple[str, int], int]) -> list[SinkOffsetEntry]:
    """Committed offsets in the REST shape, ordered by topic and partition."""
    return [
        ({KAFKA_TOPIC: t, KAFKA_PARTITION: p}, {KAFKA_OFFSET: o})
        for (t, p), o in sorted(offsets.items())
    ]


# -- admin calls -----------------------------------------------------------------------------


def _kafka_error(e: KafkaException) -> KafkaError | None:
    err = e.args[0] if e.args else None
    return err if isinstance(err, KafkaError) else None


def _busy_message(connector: str, verb: str) -> str:
    return (
        f"Failed to {verb} consumer group offsets for connector {connector} either because its "
        "tasks haven't stopped completely yet or the connector was resumed before the request "
        f"to {verb} its offsets could be successfully completed. If the connector is in a "
        "stopped state, this operation can be safely retried."
    )


def _committed(admin: AdminClient, group: str, timeout: float) -> dict[tuple[str, int], int]:
    futures = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)], request_timeout=timeout
    )
    try:
        result = futures[group].result(timeout=timeout)
    except KafkaException as e:
        err = _kafka_error(e)
        if err is not None and err.code() == KafkaError.GROUP_ID_NOT_FOUND:
            return {}
        raise ConnectError(f"cannot read the offsets of consumer group {group!r}: {e}") from None
    out: dict[tuple[str, int], int] = {}
    for tp in result.topic_partitions or []:
        if tp.error is not None:
            raise ConnectError(
                f"cannot read the offset of {tp.topic}-{tp.partition} in consumer group "
                f"{group!r}: {tp.error}"
            )
        if tp.offset >= 0:
            out[(tp.topic, tp.partition)] = tp.offset
    return out


def read_sink_offsets(
    admin: AdminClient, connector: str, timeout: float = 30.0, *, group: str | None = None
) -> list[SinkOffsetEntry]:
    """The committed offsets of the connector's consumer group, in the REST shape."""
    return to_rest(_committed(admin, group or consumer_group_id(connector), timeout))


def _commit(
    admin: AdminClient,
    connector: str,
    offsets: Mapping[tuple[str, int], int],
    timeout: float,
    group: str,
) -> None:
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
    )
    futures = admin.alter_consumer_group_offsets([request], request_timeout=timeout)
    try:
        result = futures[group].result(timeout=timeout)
    except KafkaException as e:
        err = _kafka_error(e)
        if err is not None and err.code() in _GROUP_BUSY:
            raise ConnectError(_busy_message(connector, "alter")) from None
        raise ConnectError(
            f"cannot alter the offsets of consumer group {group!r} of connector {connector}: {e}"
        ) from None
    for tp in result.topic_partitions or []:
        if tp.error is not None:
            if tp.error.code() in _GROUP_BUSY:
                raise ConnectError(_busy_message(connector, "alter"))
            raise ConnectError(
                f"cannot alter the offset of {tp.topic}-{tp.partition} in consumer group "
                f"{group!r} of connector {connector}: {tp.error}"
            )


def _delete_group(
    admin: AdminClient, connector: str, verb: str, timeout: float, group: str
) -> None:
    futures = admin.delete_consumer_groups([group], request_timeout=timeout)
    try:
        futures[group].result(timeout=timeout)
    except KafkaException as e:
        err = _kafka_error(e)
        if err is not None and err.code() == KafkaError.GROUP_ID_NOT_FOUND:
            return
        if err is not None and err.code() in _GROUP_BUSY:
            raise ConnectError(_busy_message(connector, verb)) from None
        raise ConnectError(
            f"cannot delete consumer group {group!r} of connector {connector}: {e}"
        ) from None


def committed_partitions(
    admin: AdminClient, connector: str, timeout: float = 30.0, *, group: str | None = None
) -> list[tuple[str, int]]:
    """The partitions the connector's consumer group has an offset for: what a reset removes."""
    return sorted(_committed(admin, group or consumer_group_id(connector), timeout))


def alter_sink_offsets(
    admin: AdminClient,
    connector: str,
    entries: Sequence[tuple[Mapping[str, object] | None, Mapping[str, object] | None]],
    timeout: float = 30.0,
    *,
    group: str | None = None,
) -> None:
    """Set the given partitions' offsets; a None offset resets the partition (no offset)."""
    write_sink_offsets(admin, connector, parse_sink_offsets(entries), timeout, group=group)


def write_sink_offsets(
    admin: AdminClient,
    connector: str,
    parsed: Mapping[tuple[str, int], int | None],
    timeout: float = 30.0,
    *,
    group: str | None = None,
) -> None:
    """Write checked offsets (`parse_sink_offsets`): None resets a partition (no offset)."""
    group = group or consumer_group_id(connector)
    if not parsed:
        return
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        return max(deadline - time.monotonic(), 0.1)

    to_set = {tp: o for tp, o in parsed.items() if o is not None}
    resets = {tp for tp, o in parsed.items() if o is None}
    if not resets:
        _commit(admin, connector, to_set, remaining(), group)
        return
    current = _committed(admin, group, remaining())
    keep = {tp: o for tp, o in current.items() if tp not in resets} | to_set
    _delete_group(admin, connector, "alter", remaining(), group)
    if not keep:
        return
    try:
        _commit(admin, connector, keep, remaining(), group)
    except (ConnectError, TimeoutError) as e:
        shown = to_rest(keep)
        log.exception(
            "Consumer group %r of connector %s was deleted to reset %d partitions, but "
            "committing the offsets of the other partitions failed. Offsets to restore: %s",
            group,
            connector,
            len(resets),
            shown,
        )
        raise ConnectError(
            f"resetting offsets of connector {connector}: the consumer group was deleted but "
            f"the offsets of the other partitions could not be committed again ({e}); "
            f"retry with these offsets: {shown}"
        ) from None


def reset_sink_offsets(
    admin: AdminClient, connector: str, timeout: float = 30.0, *, group: str | None = None
) -> None:
    """Forget every committed offset of the connector: delete its consumer group."""
    _delete_group(admin, connector, "reset", timeout, group or consumer_group_id(connector))
