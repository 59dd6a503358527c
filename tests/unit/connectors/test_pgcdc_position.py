"""Offsets in Debezium's shape and what a restarted task skips."""

from __future__ import annotations

from kconnect.connectors.pgcdc import position as p


def test_lsn_text_round_trip() -> None:
    assert p.lsn_text(0x16_B374D848) == "16/B374D848"
    assert p.parse_lsn("16/B374D848") == 0x16_B374D848
    assert p.parse_lsn("0/0") == 0


def test_no_offset_skips_nothing() -> None:
    r = p.resume_from(None)
    assert not r.has_offset
    assert r.start_lsn == 0
    assert not r.skips_transaction(1)
    assert not r.skips_change(7, 1, 0)


def test_mid_transaction_offset() -> None:
    offset = p.stream_offset(
        lsn=500, lsn_commit=400, tx_id=9, ts_usec=1, event=2, message_type="INSERT"
    )
    assert offset == {
        "lsn": 500, "lsn_commit": 400, "lsn_proc": 500, "txId": 9, "ts_usec": 1,
        "messageType": "INSERT", "lsn_event": 2,
    }  # fmt: skip
    r = p.resume_from(offset)
    assert r.start_lsn == 400
    # transactions committed before the last fully delivered one's end: delivered whole
    assert r.skips_transaction(399)
    assert not r.skips_transaction(600)
    # in the transaction of the offset, the changes up to the stored index were delivered
    assert r.skips_change(9, 480, 0)
    assert r.skips_change(9, 500, 2)
    assert not r.skips_change(9, 500, 3)  # a second row of the same multi-row insert
    assert not r.skips_change(10, 500, 0)


def test_debezium_offset_without_event_index_uses_the_lsn() -> None:
    r = p.resume_from({"lsn": 500, "lsn_commit": 400, "lsn_proc": 500, "txId": 9, "ts_usec": 1})
    assert r.skips_change(9, 500, 5)
    assert not r.skips_change(9, 501, 0)


def test_snapshot_offsets() -> None:
    running = p.resume_from(p.snapshot_offset(lsn=100, tx_id=3, ts_usec=1, last=False))
    assert running.snapshot_running
    assert not running.skips_transaction(1)
    done = p.resume_from(p.snapshot_offset(lsn=100, tx_id=3, ts_usec=1, last=True))
    assert not done.snapshot_running
    assert done.has_offset
    # Debezium 1.x-2.5 marked snapshots with booleans
    old = p.resume_from(
        {"lsn": 100, "txId": 3, "ts_usec": 1, "snapshot": True, "last_snapshot_record": True}
    )
    assert not old.snapshot_running


def test_heartbeat_offset_says_everything_before_was_delivered() -> None:
    r = p.resume_from(p.idle_offset(lsn=900, tx_id=9, ts_usec=1))
    assert r.start_lsn == 900
    assert r.skips_transaction(899)
    assert not r.skips_transaction(901)


def test_flush_tracker_moves_only_on_commit_and_forward() -> None:
    f = p.FlushTracker(100)
    assert f.committed() is None
    f.polled(150)
    f.polled(120)  # never backwards
    assert f.confirmed == 100
    assert f.committed() == 150
    assert f.committed() is None
    assert f.confirmed == 150
