"""Offsets in Debezium's shape, and what a restarted task skips. No I/O.

The source partition is `{"server": <topic.prefix>}`. A streamed record's offset holds Debezium's
keys: `lsn` (the change), `lsn_commit` (the end of the last transaction whose every record came
before this one), `lsn_proc`, `txId`, `ts_usec`, `messageType`; plus `lsn_event`, the index of
the change in its transaction, which tells apart the changes one WAL record can carry (a
multi-row insert gives them all one LSN). A snapshot record's offset holds `lsn` (the slot's
consistent point), `txId`, `ts_usec`, `snapshot` ("INITIAL"), `snapshot_completed` and
`last_snapshot_record`.

Resuming from a stored offset (`Resume`):

- the slot sends again every transaction it has not been told is flushed; a transaction whose
  commit record lies before `lsn_commit` was delivered whole, and is skipped;
- in the transaction `txId` the offset was taken in, the changes up to the stored one
  (`lsn_event`, or the LSN when the offset came from Debezium, which has no index) were
  delivered, and are skipped; the rest are sent.

So a change is skipped only when its record is in the offset store, which the runtime writes
only after Kafka acknowledged the records: nothing is lost, and what is sent twice is at most
what was produced after the last offset commit.

The slot's confirmed position is told the end of a transaction only once every record of it is
committed (`FlushTracker`): the task's `commit()` hook says the offsets of everything polled so
far are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kconnect.api.types import SourceOffset, SourcePartition
from kconnect.errors import ConnectError

SERVER_KEY = "server"
LSN = "lsn"
LSN_COMMIT = "lsn_commit"
LSN_PROC = "lsn_proc"
LSN_EVENT = "lsn_event"
TX_ID = "txId"
TS_USEC = "ts_usec"
MESSAGE_TYPE = "messageType"
SNAPSHOT = "snapshot"
SNAPSHOT_COMPLETED = "snapshot_completed"
LAST_SNAPSHOT_RECORD = "last_snapshot_record"


def partition(server: str) -> SourcePartition:
    return {SERVER_KEY: server}


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it: `16/B374D848`."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def _int(offset: Mapping[str, object], key: str) -> int | None:
    value = offset.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConnectError(
            f"the stored offset of PostgresCdcSource has {key!r}={value!r}; expected an integer"
        )
    return int(value)


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a task picks up."""

    lsn: int | None = None
    lsn_commit: int | None = None
    tx_id: int | None = None
    event: int | None = None
    snapshot_running: bool = False
    """The offset was taken during a snapshot that did not finish."""

    @property
    def has_offset(self) -> bool:
        return self.lsn is not None

    @property
    def start_lsn(self) -> int:
        """Where to ask the slot to start (0: its confirmed position)."""
        return self.lsn_commit or 0

    def skips_transaction(self, final_lsn: int) -> bool:
        """Whether the transaction whose commit record is at `final_lsn` was delivered whole."""
        if self.snapshot_running:
            return False
        if self.lsn_commit is not None:
            return final_lsn < self.lsn_commit
        return False

    def skips_change(self, tx_id: int, lsn: int, index: int) -> bool:
        """Whether change `index` (at `lsn`) of transaction `tx_id` was delivered."""
        if self.snapshot_running or self.tx_id is None or tx_id != self.tx_id:
            return False
        if self.event is not None:
            return index <= self.event
        return self.lsn is not None and lsn <= self.lsn


def resume_from(offset: SourceOffset | None) -> Resume:
    if not offset:
        return Resume()
    snapshot = offset.get(SNAPSHOT)
    in_snapshot = snapshot is True or (isinstance(snapshot, str) and snapshot not in ("", "false"))
    completed = bool(offset.get(SNAPSHOT_COMPLETED)) or bool(offset.get(LAST_SNAPSHOT_RECORD))
    lsn = _int(offset, LSN)
    commit = _int(offset, LSN_COMMIT)
    if in_snapshot:
        # The last snapshot record's offset: streaming starts at the consistent point, and
        # every transaction the slot sends committed after it.
        return Resume(lsn=lsn, snapshot_running=not completed)
    if commit is None:
        commit = _int(offset, LSN_PROC)
    return Resume(
        lsn=lsn,
        lsn_commit=commit,
        tx_id=_int(offset, TX_ID),
        event=_int(offset, LSN_EVENT),
    )


def stream_offset(
    lsn: int,
    lsn_commit: int | None,
    tx_id: int,
    ts_usec: int,
    event: int,
    message_type: str,
) -> SourceOffset:
    offset: SourceOffset = {
        LSN: lsn,
        TX_ID: tx_id,
        TS_USEC: ts_usec,
        LSN_PROC: lsn,
        MESSAGE_TYPE: message_type,
        LSN_EVENT: event,
    }
    if lsn_commit is not None:
        offset[LSN_COMMIT] = lsn_commit
    return offset


def idle_offset(lsn: int, tx_id: int | None, ts_usec: int) -> SourceOffset:
    """The offset of a heartbeat between transactions: every transaction that committed
    before `lsn` is delivered."""
    offset: SourceOffset = {LSN: lsn, LSN_COMMIT: lsn, LSN_PROC: lsn, TS_USEC: ts_usec}
    if tx_id is not None:
        offset[TX_ID] = tx_id
    return offset


def snapshot_offset(lsn: int, tx_id: int, ts_usec: int, last: bool) -> SourceOffset:
    return {
        LSN: lsn,
        TX_ID: tx_id,
        TS_USEC: ts_usec,
        SNAPSHOT: "INITIAL",
        SNAPSHOT_COMPLETED: last,
        LAST_SNAPSHOT_RECORD: last,
    }


class FlushTracker:
    """The slot position that is safe to confirm: the end of the last transaction whose records
    are all stored.

    `polled(lsn)` is called when a poll returns, with the position its records reach (every
    transaction ending at or before `lsn` had all its records in that or an earlier poll);
    `committed()` when the runtime says the offsets of everything polled are stored, and
    returns the position to confirm, or None when it has not moved.
    """

    def __init__(self, confirmed: int = 0) -> None:
        self._polled = confirmed
        self._confirmed = confirmed

    def polled(self, lsn: int) -> None:
        self._polled = max(self._polled, lsn)

    def committed(self) -> int | None:
        if self._polled <= self._confirmed:
            return None
        self._confirmed = self._polled
        return self._confirmed

    @property
    def confirmed(self) -> int:
        return self._confirmed
