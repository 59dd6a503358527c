"""Where a sink task stands in each of its partitions: what it read, what `put` accepted, what
was committed. Pure bookkeeping; the runner (`kconnect.worker.sink`) does the I/O.

Invariants:

- **Only what `put` accepted can be committed.** Reading a batch moves `consumed`; the batch's
  positions move to `delivered` only when `put` returned for it (`accept`). A batch that `put`
  refused with a `RetriableError` stays in `consumed`, so a commit on revocation, on stop or on
  the timer in the middle of the retries offers the task nothing past the last accepted record.
  Kafka Connect keeps the same split (`origOffsets` and `currentOffsets` in `WorkerSinkTask`).
- **The task cannot commit past `delivered`.** `pre_commit` may return less (a task that
  buffers) but not more: an offset beyond what it was given, or of a partition it was not asked
  about, is ignored and named in a warning, as Kafka Connect does.
- **A revoked or lost partition leaves no trace**: its positions are forgotten, and the records
  of the batch awaiting redelivery that came from it are dropped (`assigned_only`), because its
  next owner starts again from its committed offset.

Positions are keyed by `(topic, partition)` tuples, which compare and hash equal to
`TopicPartition`s, so the hot path can write them without building one per record.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from kconnect.api.records import SinkRecord
from kconnect.api.types import OffsetAndMetadata, TopicPartition

Position = tuple[str, int]


class SinkPositions:
    """The next offset per partition at three stages: read, accepted by `put`, committed."""

    __slots__ = ("committed", "consumed", "delivered")

    def __init__(self) -> None:
        self.consumed: dict[Position, int] = {}
        """One past the last record read, for the batch not yet accepted by `put`."""
        self.delivered: dict[Position, int] = {}
        """One past the last record `put` accepted (or where the task rewound to)."""
        self.committed: dict[Position, int] = {}
        """The last offset committed to the consumer group."""

    def accept(self) -> None:
        """`put` accepted the batch in hand: its positions can be committed now."""
        self.delivered.update(self.consumed)
        self.consumed.clear()

    def abandon(self) -> None:
        """The batch in hand will not be delivered (the task is stopping): forget it."""
        self.consumed.clear()

    def rewind(self, tp: Position, offset: int) -> None:
        """The task asked to read `tp` again from `offset` (`context.offset`)."""
        self.consumed.pop(tp, None)
        self.delivered[tp] = offset

    def forget(self, partitions: Iterable[Position]) -> None:
        """The partitions were revoked or lost."""
        for tp in partitions:
            self.consumed.pop(tp, None)
            self.delivered.pop(tp, None)
            self.committed.pop(tp, None)

    def offer(self, partitions: Collection[Position]) -> dict[TopicPartition, OffsetAndMetadata]:
        """What the task is offered in `pre_commit`: the delivered positions of `partitions`."""
        return {
            TopicPartition(t, p): OffsetAndMetadata(o)
            for (t, p), o in self.delivered.items()
            if (t, p) in partitions
        }

    def to_commit(
        self,
        offered: Mapping[TopicPartition, OffsetAndMetadata],
        returned: Mapping[TopicPartition, OffsetAndMetadata],
    ) -> tuple[dict[Position, int], list[str]]:
        """The offsets to commit from what `pre_commit` returned for `offered`, and a warning
        for each returned offset that was ignored.

        An offset is committed only if its partition was offered, it is no further than what
        was offered (delivered), and it differs from the last commit.
        """
        out: dict[Position, int] = {}
        ignored: list[str] = []
        for tp, om in returned.items():
            given = offered.get(tp)
            if given is None:
                ignored.append(
                    f"{tp.topic}-{tp.partition}: offset {om.offset} for a partition that was "
                    "not offered for commit"
                )
            elif om.offset > given.offset:
                ignored.append(
                    f"{tp.topic}-{tp.partition}: offset {om.offset} is past {given.offset}, "
                    "the last position put() accepted"
                )
            elif self.committed.get((tp.topic, tp.partition)) != om.offset:
                out[(tp.topic, tp.partition)] = om.offset
        return out, ignored

    def mark_committed(self, offsets: Mapping[Position, int]) -> None:
        self.committed.update(offsets)


def assigned_only(
    records: Sequence[SinkRecord], assigned: Collection[Position]
) -> list[SinkRecord]:
    """The records read from partitions still in `assigned` (where they were read, not where a
    transform may have sent them)."""
    return [r for r in records if (r.original_topic, r.original_kafka_partition) in assigned]
