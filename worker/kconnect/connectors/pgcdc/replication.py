"""The streaming replication sub-protocol (CopyBoth) read and answered by this module alone.

psycopg2 opens the connection (libpq does authentication and TLS) and sends
`START_REPLICATION`; from then on this module calls libpq's copy functions on the same
connection (`connection.pgconn_ptr`, through ctypes) instead of psycopg2's `read_message`.
The reason is correctness: psycopg2's reader moves the flush position it reports on its own
when a keepalive arrives and the last message's start is at or below the last flush the
application confirmed. In a transaction that began before the confirmed one ended, every
message starts below that point, so a keepalive in the middle of it would confirm the whole
transaction before its records are in Kafka, and a crash then would lose them. Here the
server is told exactly the position `confirm()` was given, never more.

Messages: XLogData ('w': start, end, send time, payload) is returned to the caller; a primary
keepalive ('k') records the server's sent position and is answered at once when it asks for a
reply. Standby status ('r') carries the confirmed position as write, flush and apply.

Failures: a broken connection or an error the server sends ends the stream with
`ReplicationError` and libpq's message; the stream is never silently restarted.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import select
import struct
import time
from typing import Any

from kconnect.connectors.pgcdc.pgoutput import PG_EPOCH_MICROS


class ReplicationError(Exception):
    """The replication stream failed; the message is libpq's or the server's."""


@functools.cache
def _libpq() -> ctypes.CDLL:
    """The libpq psycopg2 uses (already loaded into this process)."""
    path = None
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            for line in maps:
                if "libpq" in line and "/" in line:
                    path = line[line.index("/") :].strip()
                    break
    except OSError:
        pass
    path = path or ctypes.util.find_library("pq")
    if path is None:
        raise ReplicationError("cannot find the libpq library psycopg2 is linked against")
    lib = ctypes.CDLL(path)
    lib.PQgetCopyData.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
    lib.PQgetCopyData.restype = ctypes.c_int
    lib.PQputCopyData.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.PQputCopyData.restype = ctypes.c_int
    lib.PQflush.argtypes = [ctypes.c_void_p]
    lib.PQflush.restype = ctypes.c_int
    lib.PQconsumeInput.argtypes = [ctypes.c_void_p]
    lib.PQconsumeInput.restype = ctypes.c_int
    lib.PQfreemem.argtypes = [ctypes.c_void_p]
    lib.PQfreemem.restype = None
    lib.PQerrorMessage.argtypes = [ctypes.c_void_p]
    lib.PQerrorMessage.restype = ctypes.c_char_p
    lib.PQgetResult.argtypes = [ctypes.c_void_p]
    lib.PQgetResult.restype = ctypes.c_void_p
    lib.PQresultErrorMessage.argtypes = [ctypes.c_void_p]
    lib.PQresultErrorMessage.restype = ctypes.c_char_p
    lib.PQclear.argtypes = [ctypes.c_void_p]
    lib.PQclear.restype = None
    return lib


_XLOG_HEADER = struct.Struct(">cQQq")
_KEEPALIVE = struct.Struct(">cQqB")
_STATUS = struct.Struct(">cQQQqB")


def status_message(position: int, now_us: int, reply: bool = False) -> bytes:
    """A standby status update confirming `position` as written, flushed and applied."""
    return _STATUS.pack(b"r", position, position, position, now_us - PG_EPOCH_MICROS, reply)


class ReplicationStream:
    """Reads XLogData from a connection that is in CopyBoth mode after START_REPLICATION."""

    def __init__(self, connection: Any) -> None:
        self._lib = _libpq()
        self._conn = connection  # kept, so the PGconn outlives this stream
        self._pg = ctypes.c_void_p(connection.pgconn_ptr)
        self._fd = connection.fileno()
        self._buf = ctypes.c_void_p()
        self.server_sent = 0
        """The server's position as of its last keepalive: all it decoded before was sent."""
        self.received = 0
        self.confirmed = 0

    def _error(self, what: str) -> ReplicationError:
        raw = self._lib.PQerrorMessage(self._pg) or b""
        text = raw.decode("utf-8", "replace").strip() or "the connection closed"
        return ReplicationError(f"{what}: {text}")

    def _ended(self) -> ReplicationError:
        """The error that ended the COPY: the server sends it as the result that follows (a
        publication that does not exist, a slot dropped, a shutdown)."""
        lib = self._lib
        messages: list[str] = []
        for _ in range(8):  # a few results at most follow a COPY; never loop on a broken one
            result = lib.PQgetResult(self._pg)
            if not result:
                break
            try:
                raw = lib.PQresultErrorMessage(result) or b""
            finally:
                lib.PQclear(result)
            if text := raw.decode("utf-8", "replace").strip():
                messages.append(text)
        if not messages:
            return self._error("the server ended the replication stream")
        return ReplicationError("the server ended the replication stream: " + "; ".join(messages))

    def read(self, timeout: float) -> tuple[int, bytes] | None:
        """The next XLogData (start position, payload), or None after `timeout` seconds."""
        lib = self._lib
        deadline = time.monotonic() + timeout
        while True:
            n = lib.PQgetCopyData(self._pg, ctypes.byref(self._buf), 1)
            if n > 0:
                try:
                    data = ctypes.string_at(self._buf, n)
                finally:
                    lib.PQfreemem(self._buf)
                kind = data[:1]
                if kind == b"w":
                    _, start, _end, _sent = _XLOG_HEADER.unpack_from(data)
                    if start:
                        self.received = max(self.received, start)
                    return start, data[_XLOG_HEADER.size :]
                if kind == b"k":
                    _, end, _sent, reply = _KEEPALIVE.unpack_from(data)
                    self.server_sent = max(self.server_sent, end)
                    if reply:
                        self.send_status()
                    continue
                raise ReplicationError(f"unknown replication message type {kind!r}")
            if n == -1:
                raise self._ended()
            if n < -1:
                raise self._error("reading the replication stream failed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready and not lib.PQconsumeInput(self._pg):
                raise self._error("reading the replication stream failed")

    def confirm(self, position: int) -> None:
        """Tell the server everything before `position` is durable (it may drop that WAL)."""
        self.confirmed = max(self.confirmed, position)
        self.send_status()

    def send_status(self) -> None:
        message = status_message(self.confirmed, time.time_ns() // 1000)
        lib = self._lib
        if lib.PQputCopyData(self._pg, message, len(message)) != 1:
            raise self._error("sending standby status failed")
        if lib.PQflush(self._pg) < 0:
            raise self._error("sending standby status failed")
