"""Sink offset bookkeeping: only what `put` accepted is offered for commit, on every path."""

from __future__ import annotations

from kconnect.api.records import SinkRecord
from kconnect.api.types import OffsetAndMetadata, TopicPartition
from kconnect.worker.sink_positions import SinkPositions, assigned_only

A = ("a", 0)
B = ("a", 1)
ALL = {A, B}


def _om(offsets: dict[tuple[str, int], int]) -> dict[TopicPartition, OffsetAndMetadata]:
    return {TopicPartition(*tp): OffsetAndMetadata(o) for tp, o in offsets.items()}


def _read(positions: SinkPositions, tp: tuple[str, int], last: int) -> None:
    positions.consumed[tp] = last + 1  # what the runner's hot path writes per message


def test_a_batch_put_has_not_accepted_is_not_offered() -> None:
    positions = SinkPositions()
    _read(positions, A, 9)
    _read(positions, B, 4)
    # put() raised a RetriableError: a commit now (revocation, stop, timer) offers nothing.
    assert positions.offer(ALL) == {}
    positions.accept()
    assert positions.offer(ALL) == _om({A: 10, B: 5})


def test_a_retried_batch_keeps_the_last_accepted_position_until_it_is_accepted() -> None:
    positions = SinkPositions()
    _read(positions, A, 9)
    positions.accept()
    _read(positions, A, 19)  # the next batch, refused by put()
    assert positions.offer({A}) == _om({A: 10})
    positions.accept()
    assert positions.offer({A}) == _om({A: 20})


def test_an_abandoned_batch_is_never_offered() -> None:
    positions = SinkPositions()
    _read(positions, A, 9)
    positions.accept()
    _read(positions, A, 19)
    positions.abandon()  # the task stopped while put() was being retried
    positions.accept()
    assert positions.offer({A}) == _om({A: 10})


def test_a_revoked_partition_is_forgotten_and_accepting_later_does_not_bring_it_back() -> None:
    positions = SinkPositions()
    _read(positions, A, 3)
    _read(positions, B, 7)
    positions.forget([B])  # revoked while the batch waited for redelivery
    positions.accept()  # the rest of the batch is accepted
    assert positions.offer(ALL) == _om({A: 4})


def test_only_the_partitions_asked_for_are_offered() -> None:
    positions = SinkPositions()
    _read(positions, A, 3)
    _read(positions, B, 7)
    positions.accept()
    assert positions.offer({B}) == _om({B: 8})


def test_a_rewind_sets_the_delivered_position() -> None:
    positions = SinkPositions()
    _read(positions, A, 9)
    positions.accept()
    positions.rewind(A, 3)
    assert positions.offer({A}) == _om({A: 3})


def test_the_task_may_commit_less_but_not_more_than_it_was_offered() -> None:
    positions = SinkPositions()
    _read(positions, A, 9)
    positions.accept()
    offered = positions.offer(ALL)
    returned = _om({A: 11, B: 2})
    to_commit, ignored = positions.to_commit(offered, returned)
    assert to_commit == {}
    assert len(ignored) == 2
    assert "a-0: offset 11 is past 10" in ignored[0]
    assert "a-1: offset 2 for a partition that was not offered" in ignored[1]
    assert positions.to_commit(offered, _om({A: 6})) == ({A: 6}, [])


def test_an_unchanged_offset_is_not_committed_again() -> None:
    positions = SinkPositions()
    _read(positions, A, 9)
    positions.accept()
    offered = positions.offer({A})
    to_commit, _ = positions.to_commit(offered, offered)
    positions.mark_committed(to_commit)
    assert positions.to_commit(offered, offered) == ({}, [])


def test_records_of_revoked_partitions_leave_the_batch_by_where_they_were_read() -> None:
    kept = SinkRecord("a", 0, 5, "x")
    moved = SinkRecord("a", 1, 6, "y")
    renamed = kept.new_record("elsewhere", 7, None, "x", None, "x", None)
    assert assigned_only([kept, moved, renamed], {TopicPartition("a", 0)}) == [kept, renamed]
