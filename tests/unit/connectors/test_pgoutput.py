"""The pgoutput decoder, on messages a PostgreSQL 15 server sent (captured from a real slot)."""

from __future__ import annotations

import pytest

from kconnect.connectors.pgcdc import pgoutput as p
from kconnect.connectors.pgcdc.replication import status_message

# enum `mood`, table t (id int primary key, name text, n numeric(10,2), m mood, a int[])
TYPE_MOOD = "59000040067075626c6963006d6f6f6400"
RELATION_T = (
    "520000400d7075626c69630074006400050169640000000017ffffffff006e616d650000000019ffffffff006e00"
    "000006a4000a0006006d0000004006ffffffff006100000003efffffffff"
)
RELATION_T_FULL = (
    "520000400d7075626c69630074006600050169640000000017ffffffff016e616d650000000019ffffffff016e00"
    "000006a4000a0006016d0000004006ffffffff016100000003efffffffff"
)
BEGIN = "420000000001972980000304fbd2763be2000002e4"
INSERT = (
    "490000400d4e000574000000013174000000036120627400000004312e353074000000026f6b740000000a7b312c"
    "322c4e554c4c7d"
)
COMMIT = "4300000000000197298000000000019729b0000304fbd2763be2"
UPDATE_NO_OLD = (
    "550000400d4e00057400000001316e7400000004312e353074000000026f6b740000000a7b312c322c4e554c4c7d"
)
UPDATE_KEY = (
    "550000400d4b00057400000001316e6e6e6e4e00057400000001326e7400000004312e353074000000026f6b7400"
    "00000a7b312c322c4e554c4c7d"
)
UPDATE_FULL = (
    "550000400d4f00057400000001326e7400000004312e353074000000026f6b740000000a7b312c322c4e554c4c7d"
    "4e00057400000001327400000001787400000004312e353074000000026f6b740000000a7b312c322c4e554c4c7d"
)
DELETE_FULL = (
    "440000400d4f00057400000001327400000001787400000004312e353074000000026f6b740000000a7b312c322c"
    "4e554c4c7d"
)
TRUNCATE = "5400000001000000400d"
MESSAGE = "4d010000000001973bc8706678000000000568656c6c6f"


def d(hexed: str) -> p.Message:
    return p.decode(bytes.fromhex(hexed))


def test_begin_and_commit() -> None:
    begin = d(BEGIN)
    assert isinstance(begin, p.Begin)
    assert begin.xid == 740
    assert begin.final_lsn == 0x1972980
    commit = d(COMMIT)
    assert isinstance(commit, p.Commit)
    assert commit.commit_lsn == begin.final_lsn
    assert commit.end_lsn == 0x19729B0
    assert commit.commit_ts_us == begin.commit_ts_us
    # Sun Dec 6 2026, when the bytes were captured, in Unix microseconds
    assert 1_796_000_000_000_000 < begin.commit_ts_us < 1_797_000_000_000_000


def test_type_and_relation() -> None:
    t = d(TYPE_MOOD)
    assert t == p.TypeInfo(0x4006, "public", "mood")
    rel = d(RELATION_T)
    assert isinstance(rel, p.Relation)
    assert (rel.relation_id, rel.namespace, rel.name, rel.replica_identity) == (
        0x400D,
        "public",
        "t",
        "d",
    )
    assert [(c.name, c.type_oid, c.type_modifier, c.key) for c in rel.columns] == [
        ("id", 23, -1, True),
        ("name", 25, -1, False),
        ("n", 1700, (10 << 16 | 2) + 4, False),
        ("m", 0x4006, -1, False),
        ("a", 1007, -1, False),
    ]
    full = d(RELATION_T_FULL)
    assert isinstance(full, p.Relation)
    assert full.replica_identity == "f"
    assert all(c.key for c in full.columns)


def test_insert_text_values_and_null() -> None:
    ins = d(INSERT)
    assert ins == p.Insert(0x400D, ("1", "a b", "1.50", "ok", "{1,2,NULL}"))


def test_updates_with_and_without_old_row() -> None:
    plain = d(UPDATE_NO_OLD)
    assert plain == p.Update(0x400D, None, False, ("1", None, "1.50", "ok", "{1,2,NULL}"))
    key = d(UPDATE_KEY)
    assert key == p.Update(
        0x400D, ("1", None, None, None, None), True, ("2", None, "1.50", "ok", "{1,2,NULL}")
    )
    full = d(UPDATE_FULL)
    assert isinstance(full, p.Update)
    assert full.old == ("2", None, "1.50", "ok", "{1,2,NULL}")
    assert not full.old_is_key_only
    assert full.new == ("2", "x", "1.50", "ok", "{1,2,NULL}")


def test_delete_truncate_message() -> None:
    assert d(DELETE_FULL) == p.Delete(0x400D, ("2", "x", "1.50", "ok", "{1,2,NULL}"), False)
    assert d(TRUNCATE) == p.Truncate(0, (0x400D,))
    msg = d(MESSAGE)
    assert msg == p.LogicalMessage(True, 0x1973BC8, "pfx", b"hello")


def test_unchanged_toast_column() -> None:
    raw = bytes.fromhex("490000400d4e0002740000000131") + b"u"
    ins = p.decode(raw)
    assert isinstance(ins, p.Insert)
    assert ins.new == ("1", p.UNCHANGED_TOAST)


@pytest.mark.parametrize("cut", [1, 5, 20, len(bytes.fromhex(INSERT)) - 1])
def test_short_message_is_refused(cut: int) -> None:
    with pytest.raises(p.ProtocolError, match="cut short"):
        p.decode(bytes.fromhex(INSERT)[:cut])


def test_unknown_type_and_binary_column_are_refused() -> None:
    with pytest.raises(p.ProtocolError, match="unknown type 'Z'"):
        p.decode(b"Z\0\0")
    with pytest.raises(p.ProtocolError, match="kind 'b'"):
        p.decode(bytes.fromhex("490000400d4e0001") + b"b")
    with pytest.raises(p.ProtocolError, match="empty"):
        p.decode(b"")


def test_standby_status_confirms_one_position() -> None:
    msg = status_message(0x1972980, p.PG_EPOCH_MICROS + 5)
    assert msg[:1] == b"r"
    assert len(msg) == 1 + 8 * 4 + 1
    assert msg[1:25] == (0x1972980).to_bytes(8, "big") * 3
    assert msg[25:33] == (5).to_bytes(8, "big")
    assert msg[33] == 0
