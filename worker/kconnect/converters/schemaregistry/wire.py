"""Confluent's wire format: the bytes around a registry converter's payload.

    magic byte 0 | schema id, 4 bytes big-endian, unsigned | [Protobuf: message indexes] | payload

The message indexes (Protobuf only) say which message of the registered file the payload is: the
path of indexes from the file's top-level messages down through nested ones. They are written as
Kafka's zigzag varints, the count first, then each index; the common path `[0]` (the file's first
message) is written as a single byte 0 (a count of zero), and a count of zero reads back as `[0]`.

Pure functions over bytes, no I/O. Reading fails with a `DataError` that says what was wrong
(too short, an unknown magic byte, a malformed index list), never with an IndexError or a
struct.error.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from kconnect.errors import DataError

MAGIC_BYTE: Final = 0
HEADER_SIZE: Final = 5
MAX_SCHEMA_ID: Final = 0xFFFFFFFF

_HEADER = struct.Struct(">bI")


def frame(schema_id: int, payload: bytes, message_indexes: bytes = b"") -> bytes:
    """The record bytes for `payload` written with the schema `schema_id`; `message_indexes`
    (Protobuf) is `encode_message_indexes(...)`, kept apart so a converter encodes it once."""
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise DataError(f"schema id {schema_id} does not fit the wire format's 4 bytes")
    return _HEADER.pack(MAGIC_BYTE, schema_id) + message_indexes + payload


def unframe(data: bytes) -> tuple[int, memoryview]:
    """(schema id, what follows the id) of a record's bytes."""
    if len(data) < HEADER_SIZE:
        raise DataError(
            f"the record's {len(data)} bytes are too short for the Schema Registry wire format "
            f"(magic byte 0 and a 4-byte schema id, then the payload)"
        )
    magic = data[0]
    if magic != MAGIC_BYTE:
        raise DataError(
            f"unknown magic byte {magic}: the record was not written in the Schema Registry "
            f"wire format (magic byte 0, a 4-byte schema id, then the payload)"
        )
    schema_id = int.from_bytes(data[1:5], "big")
    return schema_id, memoryview(data)[HEADER_SIZE:]


def _zigzag_varint(value: int) -> bytes:
    if not -(2**31) <= value < 2**31:
        raise DataError(f"message index {value} does not fit a 32-bit varint")
    n = ((value << 1) ^ (value >> 31)) & 0xFFFFFFFF
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_message_indexes(indexes: Sequence[int]) -> bytes:
    """The message-index list as Confluent writes it: `[0]` as the single byte 0."""
    if not indexes:
        raise DataError("a Protobuf message-index list holds at least one index")
    if len(indexes) == 1 and indexes[0] == 0:
        return b"\x00"
    return _zigzag_varint(len(indexes)) + b"".join(_zigzag_varint(i) for i in indexes)


def _read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    n = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise DataError("the record ends inside the Protobuf message-index list")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 28:
            raise DataError("a Protobuf message index is longer than a 32-bit varint")
    n &= 0xFFFFFFFF
    return (n >> 1) ^ -(n & 1), pos


def decode_message_indexes(data: memoryview) -> tuple[list[int], memoryview]:
    """(message indexes, payload) of what follows the schema id in a Protobuf record."""
    count, pos = _read_varint(data, 0)
    if count == 0:
        return [0], data[pos:]
    if count < 0 or count > len(data):
        raise DataError(f"invalid Protobuf message-index count {count}")
    indexes = []
    for _ in range(count):
        index, pos = _read_varint(data, pos)
        if index < 0:
            raise DataError(f"invalid Protobuf message index {index}")
        indexes.append(index)
    return indexes, data[pos:]
