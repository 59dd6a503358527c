"""A decoder of PostgreSQL's `pgoutput` logical replication protocol, version 1. No I/O.

Each message is the payload of one XLogData frame; `decode` turns it into a frozen dataclass.
Column values stay in the text form the server sends (`proto_version` 1 never sends binary);
what they mean is `types`' job, with the Relation message that describes them.

Fails with `ProtocolError` naming the message type and the offset when a message is short or
of a type version 1 does not have; it never returns a half-decoded message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PG_EPOCH_MICROS = 946_684_800_000_000
"""Microseconds from the Unix epoch to PostgreSQL's (2000-01-01)."""


class ProtocolError(ValueError):
    """A message that is not valid pgoutput version 1."""


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    """The LSN of the transaction's commit record."""
    commit_ts_us: int
    """Commit time, microseconds since the Unix epoch."""
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    flags: int
    commit_lsn: int
    end_lsn: int
    """The end of the commit record: a slot confirmed here never sends this transaction again."""
    commit_ts_us: int


@dataclass(frozen=True, slots=True)
class Origin:
    lsn: int
    name: str


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    key: bool
    """Part of the replica identity (the primary key by default)."""


@dataclass(frozen=True, slots=True)
class Relation:
    relation_id: int
    namespace: str
    name: str
    replica_identity: str
    """'d' default, 'n' nothing, 'f' full, 'i' index."""
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class TypeInfo:
    type_oid: int
    namespace: str
    name: str


UNCHANGED_TOAST = object()
"""A column value the server left out: an unchanged TOASTed value ('u')."""

ColumnValue = str | None | object
"""The text form of a value, None for NULL, or `UNCHANGED_TOAST`."""


@dataclass(frozen=True, slots=True)
class Insert:
    relation_id: int
    new: tuple[ColumnValue, ...]


@dataclass(frozen=True, slots=True)
class Update:
    relation_id: int
    old: tuple[ColumnValue, ...] | None
    """The old row: its key columns ('K') or all of it ('O', replica identity full); None when
    the key did not change and identity is not full."""
    old_is_key_only: bool
    new: tuple[ColumnValue, ...]


@dataclass(frozen=True, slots=True)
class Delete:
    relation_id: int
    old: tuple[ColumnValue, ...]
    old_is_key_only: bool


@dataclass(frozen=True, slots=True)
class Truncate:
    options: int
    """Bit 1: CASCADE, bit 2: RESTART IDENTITY."""
    relation_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin
    | Commit
    | Origin
    | Relation
    | TypeInfo
    | Insert
    | Update
    | Delete
    | Truncate
    | LogicalMessage
)

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")


class _Reader:
    __slots__ = ("buf", "kind", "pos")

    def __init__(self, buf: bytes, kind: str) -> None:
        self.buf = buf
        self.pos = 1
        self.kind = kind

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise ProtocolError(
                f"pgoutput {self.kind!r} message is cut short: {n} more bytes wanted at offset "
                f"{self.pos}, the message has {len(self.buf)}"
            )

    def byte(self) -> int:
        self._need(1)
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def _number(self, codec: struct.Struct) -> int:
        self._need(codec.size)
        (v,) = codec.unpack_from(self.buf, self.pos)
        self.pos += codec.size
        return int(v)

    def i16(self) -> int:
        return self._number(_I16)

    def i32(self) -> int:
        return self._number(_I32)

    def u32(self) -> int:
        return self._number(_U32)

    def i64(self) -> int:
        return self._number(_I64)

    def u64(self) -> int:
        return self._number(_U64)

    def cstring(self) -> str:
        end = self.buf.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolError(
                f"pgoutput {self.kind!r} message has an unterminated string at offset {self.pos}"
            )
        text = self.buf[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def raw(self, n: int) -> bytes:
        self._need(n)
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def tuple_data(self) -> tuple[ColumnValue, ...]:
        count = self.i16()
        values: list[ColumnValue] = []
        for _ in range(count):
            kind = self.byte()
            if kind == 0x6E:  # 'n'
                values.append(None)
            elif kind == 0x75:  # 'u'
                values.append(UNCHANGED_TOAST)
            elif kind == 0x74:  # 't'
                length = self.i32()
                values.append(self.raw(length).decode("utf-8"))
            else:
                raise ProtocolError(
                    f"pgoutput {self.kind!r} message has a column of kind {chr(kind)!r} at offset "
                    f"{self.pos - 1}; protocol version 1 sends only 'n', 'u' and 't'"
                )
        return tuple(values)


def pg_micros_to_unix(micros: int) -> int:
    """A PostgreSQL timestamp (microseconds since 2000-01-01) as microseconds since 1970."""
    return micros + PG_EPOCH_MICROS


def pg_micros_to_datetime(micros: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=micros)


def decode(buf: bytes) -> Message:
    """The message in `buf` (one XLogData payload)."""
    if not buf:
        raise ProtocolError("empty pgoutput message")
    kind = chr(buf[0])
    r = _Reader(buf, kind)
    if kind == "B":
        final_lsn = r.u64()
        ts = r.i64()
        return Begin(final_lsn, pg_micros_to_unix(ts), r.u32())
    if kind == "C":
        flags = r.byte()
        commit_lsn = r.u64()
        end_lsn = r.u64()
        return Commit(flags, commit_lsn, end_lsn, pg_micros_to_unix(r.i64()))
    if kind == "O":
        lsn = r.u64()
        return Origin(lsn, r.cstring())
    if kind == "R":
        rel = r.u32()
        namespace = r.cstring()
        name = r.cstring()
        ident = chr(r.byte())
        columns = []
        for _ in range(r.i16()):
            flags = r.byte()
            col_name = r.cstring()
            oid = r.u32()
            columns.append(Column(col_name, oid, r.i32(), bool(flags & 1)))
        return Relation(rel, namespace, name, ident, tuple(columns))
    if kind == "Y":
        oid = r.u32()
        namespace = r.cstring()
        return TypeInfo(oid, namespace, r.cstring())
    if kind == "I":
        rel = r.u32()
        marker = chr(r.byte())
        if marker != "N":
            raise ProtocolError(f"pgoutput 'I' message has tuple marker {marker!r}; expected 'N'")
        return Insert(rel, r.tuple_data())
    if kind == "U":
        rel = r.u32()
        marker = chr(r.byte())
        old: tuple[ColumnValue, ...] | None = None
        key_only = False
        if marker in ("K", "O"):
            key_only = marker == "K"
            old = r.tuple_data()
            marker = chr(r.byte())
        if marker != "N":
            raise ProtocolError(f"pgoutput 'U' message has tuple marker {marker!r}; expected 'N'")
        return Update(rel, old, key_only, r.tuple_data())
    if kind == "D":
        rel = r.u32()
        marker = chr(r.byte())
        if marker not in ("K", "O"):
            raise ProtocolError(
                f"pgoutput 'D' message has tuple marker {marker!r}; expected 'K' or 'O'"
            )
        return Delete(rel, r.tuple_data(), marker == "K")
    if kind == "T":
        count = r.i32()
        options = r.byte()
        return Truncate(options, tuple(r.u32() for _ in range(count)))
    if kind == "M":
        flags = r.byte()
        lsn = r.u64()
        prefix = r.cstring()
        length = r.i32()
        return LogicalMessage(bool(flags & 1), lsn, prefix, r.raw(length))
    raise ProtocolError(
        f"pgoutput message of unknown type {kind!r} (protocol version 1 has B, C, O, R, Y, I, U, "
        "D, T and M)"
    )
