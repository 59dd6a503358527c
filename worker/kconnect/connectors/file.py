"""FileStreamSource and FileStreamSink: Apache Kafka's `connect-file` connectors.

They take the same keys as Kafka's `FileStreamSourceConnector` and `FileStreamSinkConnector`, with
the same defaults and documentation, and keep their source partitions and offsets in the same
shape (`{"filename": ...}` / `{"position": ...}`), so offsets committed by one runtime resume in the
other.

The source task keeps these invariants:

- One line is one record. A line ends at "\\n", "\\r\\n" or a lone "\\r", as in Java. A line is
  emitted only once its terminator has been read, so a line still being written never goes out
  half. A "\\r" at the very end of what has been read waits for the next byte, which may turn it
  into "\\r\\n".
- A record's offset is the byte position just after its line's terminator, so resuming from a
  committed offset starts at the next line, never inside one. Java counts decoded characters but
  skips bytes when it resumes, and the two agree only for ASCII; here both are bytes.
- The file is read in large chunks through a raw descriptor and split with the C-level `bytes`
  methods: no system call, seek or decode call per line when the text is ASCII. Lines are decoded
  as UTF-8, with U+FFFD for malformed bytes, as Java's `InputStreamReader` does.
- `stop()` may come from another thread while `poll()` waits: `poll` waits on an `Event`, and the
  descriptor is closed under the lock that reads hold, so it is never closed (and its number
  reused) in the middle of a read.
- Standard input (no `file`) has no offsets: records carry `{"filename": None}` and
  `{"position": None}`, as in Java. A read from it never blocks: it reads only what is there.

The sink task appends each record's value, as Java's `toString` spells it (`java_lines`, native
when built), and a newline. It buffers; `flush` hands the buffer to
the operating system and, like Java's `PrintStream.flush`, does not fsync.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate
from operator import attrgetter
from typing import ClassVar, TextIO

from pydantic import Field, field_validator

from kconnect.api.config import ConnectorConfig
from kconnect.api.connector import ExactlyOnceSupport, SourceConnector
from kconnect.api.records import SinkRecord, SourceRecord, source_records
from kconnect.api.task import SinkTask, SourceTask
from kconnect.api.types import (
    JsonValue,
    OffsetAndMetadata,
    SourceOffset,
    SourcePartition,
    TopicPartition,
)
from kconnect.connectors._sinks import ConfigSharingSinkConnector
from kconnect.data._javatext import java_lines
from kconnect.data.schema import Schema
from kconnect.errors import ConnectError

log = logging.getLogger(__name__)

FILE_CONFIG = "file"
TOPIC_CONFIG = "topic"
TASK_BATCH_SIZE_CONFIG = "batch.size"
DEFAULT_TASK_BATCH_SIZE = 2000

FILENAME_FIELD = "filename"
POSITION_FIELD = "position"

_plus_one = (1).__add__


class FileStreamSourceConfig(ConnectorConfig):
    file: str | None = Field(
        None,
        description="Source filename. If not specified, the standard input will be used",
        json_schema_extra={"importance": "HIGH"},
    )
    topic: str = Field(
        description="The topic to publish data to",
        json_schema_extra={"importance": "HIGH"},
    )
    batch_size: int = Field(
        DEFAULT_TASK_BATCH_SIZE,
        alias=TASK_BATCH_SIZE_CONFIG,
        description=(
            "The maximum number of records the source task can read from the file each time it "
            "is polled"
        ),
        json_schema_extra={"importance": "LOW"},
    )

    @field_validator("topic")
    @classmethod
    def _single_topic(cls, value: str) -> str:
        if not value:
            raise ValueError("expected a non-empty topic name")
        if "," in value:
            raise ValueError(
                "expected a single topic; FileStreamSourceConnector publishes to exactly one topic"
            )
        return value

    @property
    def filename(self) -> str | None:
        """The file to read, or None for standard input (an empty `file` means stdin too)."""
        return self.file or None


class FileStreamSinkConfig(ConnectorConfig):
    file: str | None = Field(
        None,
        description="Destination filename. If not specified, the standard output will be used",
        json_schema_extra={"importance": "HIGH"},
    )

    @property
    def filename(self) -> str | None:
        """The file to append to, or None for standard output."""
        return self.file or None


# --- pure helpers ---------------------------------------------------------------------------


def split_lines(data: bytes, start: int) -> tuple[list[str], list[int], bytes]:
    """The complete lines of `data`, the position just after each, and the incomplete rest.

    `start` is the position of `data[0]` in the file. A line ends at "\\n", "\\r\\n" or a lone
    "\\r"; a "\\r" that is the last byte of `data` is kept in the rest, because the next byte may
    be its "\\n". Positions count bytes, whatever the encoding.
    """
    if b"\r" not in data:
        cut = data.rfind(b"\n")
        if cut < 0:
            return [], [], data
        body = data[:cut]
        tail = data[cut + 1 :]
        if body.isascii():
            lines = body.decode("ascii").split("\n")
            ends = list(accumulate(map(_plus_one, map(len, lines)), initial=start))
        else:
            raw = body.split(b"\n")
            ends = list(accumulate(map(_plus_one, map(len, raw)), initial=start))
            lines = [r.decode("utf-8", "replace") for r in raw]
    else:
        parts = data.splitlines(keepends=True)
        tail = b"" if parts[-1].endswith(b"\n") else parts.pop()
        if not parts:
            return [], [], data
        ends = list(accumulate(map(len, parts), initial=start))
        body = data[: len(data) - len(tail)]
        lines = [r.decode("utf-8", "replace") for r in body.splitlines()]
    del ends[0]
    return lines, ends, tail


def resume_position(offset: SourceOffset | None, filename: str) -> int:
    """Where to start reading `filename`, given its committed offset (None: from the start)."""
    if offset is None:
        return 0
    position = offset.get(POSITION_FIELD)
    if position is None:
        return 0
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise ConnectError(
            f"Offset position is the incorrect type: the committed offset for file '{filename}' "
            f"has '{POSITION_FIELD}'={position!r}; expected a non-negative integer"
        )
    return position


def validate_offsets(
    connector_config: Mapping[str, str],
    offsets: Iterable[tuple[SourcePartition | None, SourceOffset | None]],
) -> bool:
    """Java's `FileStreamSourceConnector.alterOffsets`: may these offsets be written?

    Raises `ConnectError` naming what is wrong, in Java's words, which the REST API answers with;
    an offset of None (a tombstone) is always allowed, so that stale partitions can be cleaned up.
    Whether a position lies inside the file is left to the task, which finds out when it starts.
    """
    config = FileStreamSourceConfig.parse(connector_config)
    if config.filename is None:
        raise ConnectError(
            f"Offsets cannot be modified if the '{FILE_CONFIG}' configuration is unspecified. "
            "This is because stdin is used for input and offsets are not tracked."
        )
    for partition, offset in offsets:
        if offset is None:
            continue
        if POSITION_FIELD not in offset:
            raise ConnectError(
                f"Offset objects should either be null or contain the key '{POSITION_FIELD}'"
            )
        position = offset[POSITION_FIELD]
        if isinstance(position, bool) or not isinstance(position, int):
            raise ConnectError(
                f"The value for the '{POSITION_FIELD}' key in the offset is expected to be a Long "
                "value"
            )
        if position < 0:
            raise ConnectError(
                f"The value for the '{POSITION_FIELD}' key in the offset should be a non-negative "
                "value"
            )
        if partition is None:
            raise ConnectError("Partition objects cannot be null")
        if FILENAME_FIELD not in partition:
            raise ConnectError(f"Partition objects should contain the key '{FILENAME_FIELD}'")
    return True


# --- source ---------------------------------------------------------------------------------


_value = attrgetter("value")


class FileStreamSourceConnector(SourceConnector):
    """Reads a file (or standard input) line by line into one topic, with one task."""

    config_model = FileStreamSourceConfig

    def __init__(self) -> None:
        self._props: dict[str, str] = {}

    def start(self, props: Mapping[str, str]) -> None:
        config = FileStreamSourceConfig.parse(props)
        self._props = dict(props)
        log.info(
            "Starting file source connector reading from %s", config.filename or "standard input"
        )

    def task_class(self) -> type[FileStreamSourceTask]:
        return FileStreamSourceTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        # Only one input stream makes sense, whatever tasks.max says.
        return [dict(self._props)]

    def exactly_once_support(self, config: Mapping[str, str]) -> ExactlyOnceSupport:
        # As Kafka Connect's: a real file (only ever appended to) has offsets that say exactly
        # where to resume; standard input has none.
        filename = (config.get("file") or "").strip()
        return ExactlyOnceSupport.SUPPORTED if filename else ExactlyOnceSupport.UNSUPPORTED

    def alter_offsets(
        self,
        connector_config: Mapping[str, str],
        offsets: Iterable[tuple[SourcePartition | None, SourceOffset | None]],
    ) -> bool:
        """Validate offsets a user writes through the REST API; see `validate_offsets`."""
        return validate_offsets(connector_config, offsets)


class FileStreamSourceTask(SourceTask):
    """Tails one file, or reads standard input, and makes one record per line."""

    idle_wait_s: ClassVar[float] = 1.0
    """How long `poll` waits when there is nothing to read, or no file yet (Java: one second)."""
    read_chunk_bytes: ClassVar[int] = 1 << 20

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # held by reads; `stop` takes it to close the descriptor
        self._filename: str | None = None
        self._topic = ""
        self._batch_size = DEFAULT_TASK_BATCH_SIZE
        self._partition: SourcePartition = {FILENAME_FIELD: None}
        self._fd: int | None = None
        self._owns_fd = False
        self._start_position = 0
        # Lines split but not yet returned, and the bytes after the last complete line.
        self._lines: list[str] = []
        self._ends: list[int] = []
        self._next = 0
        self._tail = b""
        self._tail_parts: list[bytes] = []
        self._tail_position = 0

    def start(self, props: Mapping[str, str]) -> None:
        config = FileStreamSourceConfig.parse(props)
        self._filename = config.filename
        self._topic = config.topic
        self._batch_size = max(1, config.batch_size)
        self._partition = {FILENAME_FIELD: self._filename}
        if self._filename is None:
            try:
                self._fd = sys.stdin.fileno()
            except (AttributeError, OSError, ValueError) as e:
                raise ConnectError(
                    f"FileStreamSourceTask has no '{FILE_CONFIG}' to read and this process has no "
                    "standard input"
                ) from e
            self._owns_fd = False
        else:
            offset = self.context.offset_storage_reader.offset({FILENAME_FIELD: self._filename})
            self._start_position = resume_position(offset, self._filename)
            self._tail_position = self._start_position
            if self._start_position:
                log.debug("Found previous offset, skipping to position %d", self._start_position)

    def poll(self) -> list[SourceRecord] | None:
        if self._stopping.is_set():
            return None
        if self._fd is None and not self._open():
            self._stopping.wait(self.idle_wait_s)
            return None
        records: list[SourceRecord] = []
        while True:
            self._take(records)
            if len(records) >= self._batch_size:
                return records
            chunk = self._read()
            if not chunk:
                break
            self._absorb(chunk)
        if records:
            return records
        self._stopping.wait(self.idle_wait_s)
        return None

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            if self._fd is not None and self._owns_fd:
                try:
                    os.close(self._fd)
                except OSError:
                    log.exception("Failed to close %s", self._log_name())
            self._fd = None

    def _open(self) -> bool:
        name = self._filename
        if name is None:  # standard input is opened in `start`
            return False
        try:
            fd = os.open(name, os.O_RDONLY)
        except FileNotFoundError:
            log.warning(
                "Couldn't find file %s for FileStreamSourceTask, sleeping to wait for it to be "
                "created",
                name,
            )
            return False
        except OSError as e:
            raise ConnectError(f"Couldn't open file '{name}' for FileStreamSourceTask: {e}") from e
        try:
            if self._start_position:
                os.lseek(fd, self._start_position, os.SEEK_SET)
        except OSError as e:
            os.close(fd)
            raise ConnectError(
                f"Couldn't seek to committed offset {self._start_position} in '{name}': {e}"
            ) from e
        with self._lock:
            if self._stopping.is_set():
                os.close(fd)
                return False
            self._fd = fd
            self._owns_fd = True
        log.debug("Opened %s for reading", name)
        return True

    def _read(self) -> bytes:
        with self._lock:
            fd = self._fd
            if fd is None or self._stopping.is_set():
                return b""
            try:
                if not self._owns_fd:
                    # Standard input: read only what is there, as Java's `ready()` check does.
                    readable, _, _ = select.select([fd], [], [], 0)
                    if not readable:
                        return b""
                return os.read(fd, self.read_chunk_bytes)
            except OSError as e:
                raise ConnectError(f"Couldn't read from {self._log_name()}: {e}") from e

    def _absorb(self, chunk: bytes) -> None:
        """Split `chunk`, after what was left over, into lines ready to be returned."""
        if b"\n" not in chunk and b"\r" not in chunk and not self._tail.endswith(b"\r"):
            # Still inside one long line: collect the pieces and join them once it ends.
            self._tail_parts.append(chunk)
            return
        if self._tail_parts:
            data = b"".join([self._tail, *self._tail_parts, chunk])
            self._tail_parts = []
        elif self._tail:
            data = self._tail + chunk
        else:
            data = chunk
        self._lines, self._ends, self._tail = split_lines(data, self._tail_position)
        self._next = 0
        if self._ends:
            self._tail_position = self._ends[-1]

    def _take(self, records: list[SourceRecord]) -> None:
        """Move split lines into `records`, up to the batch size."""
        begin = self._next
        count = len(self._lines)
        if begin >= count:
            return
        end = min(count, begin + self._batch_size - len(records))
        topic = self._topic
        partition = self._partition
        schema = Schema.STRING
        timestamp = time.time_ns() // 1_000_000
        lines = self._lines[begin:end] if begin or end < count else self._lines
        if self._owns_fd:
            positions: Iterable[JsonValue] = self._ends[begin:end]
        else:
            positions = [None] * len(lines)
        records.extend(
            source_records(
                topic,
                lines,
                schema,
                partition,
                [{POSITION_FIELD: position} for position in positions],
                timestamp,
            )
        )
        if end >= count:
            self._lines = []
            self._ends = []
            self._next = 0
        else:
            self._next = end

    def _log_name(self) -> str:
        return self._filename if self._filename is not None else "stdin"


# --- sink -----------------------------------------------------------------------------------


class FileStreamSinkConnector(ConfigSharingSinkConnector):
    """Writes each record's value as a line to a file, or to standard output."""

    config_model = FileStreamSinkConfig

    def __init__(self) -> None:
        self._props: dict[str, str] = {}

    def start(self, props: Mapping[str, str]) -> None:
        config = FileStreamSinkConfig.parse(props)
        self._props = dict(props)
        log.info("Starting file sink connector writing to %s", config.filename or "standard output")

    def task_class(self) -> type[FileStreamSinkTask]:
        return FileStreamSinkTask

    def alter_offsets(
        self, connector_config: Mapping[str, str], offsets: Mapping[TopicPartition, int | None]
    ) -> bool:
        """Any consumer offsets may be written: as Java's, the sink keeps no position of its own
        (the file is only appended to), so the consumer group's offsets are all there is."""
        return True


class FileStreamSinkTask(SinkTask):
    """Appends one line per record. Several tasks may share a file: each appends whole batches."""

    def __init__(self) -> None:
        self._filename: str | None = None
        self._out: TextIO | None = None
        self._owns_out = False

    def start(self, props: Mapping[str, str]) -> None:
        config = FileStreamSinkConfig.parse(props)
        self._filename = config.filename
        if self._filename is None:
            self._out = sys.stdout
            self._owns_out = False
            return
        try:
            self._out = open(self._filename, "a", encoding="utf-8", newline="")  # noqa: SIM115 - closed in stop
        except OSError as e:
            raise ConnectError(
                f"Couldn't find or create file '{self._filename}' for FileStreamSinkTask: {e}"
            ) from e
        self._owns_out = True

    def put(self, records: Sequence[SinkRecord]) -> None:
        if not records:
            return
        out = self._output()
        # java_lines spells Structs too (natively when built, else through their repr, which
        # is generated per schema). `_value` reads each record's value in C.
        out.write(java_lines(list(map(_value, records))))

    def flush(self, current_offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        log.debug("Flushing output stream for %s", self._log_name())
        self._output().flush()

    def stop(self) -> None:
        out, self._out = self._out, None
        if out is None:
            return
        if self._owns_out:
            out.close()
        else:
            out.flush()

    def _output(self) -> TextIO:
        if self._out is None:
            raise ConnectError(f"FileStreamSinkTask for {self._log_name()} is not running")
        return self._out

    def _log_name(self) -> str:
        return self._filename if self._filename is not None else "stdout"
