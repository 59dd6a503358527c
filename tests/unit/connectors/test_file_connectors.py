"""FileStreamSource and FileStreamSink, run directly: real files, a fake offset store."""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kconnect.api.connector import package_version
from kconnect.api.records import SinkRecord, SourceRecord
from kconnect.api.types import OffsetAndMetadata, SourceOffset, SourcePartition, TopicPartition
from kconnect.connectors.file import (
    FileStreamSinkConnector,
    FileStreamSinkTask,
    FileStreamSourceConnector,
    FileStreamSourceTask,
    split_lines,
    validate_offsets,
)
from kconnect.data import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError, ConnectError

if TYPE_CHECKING:
    from conftest import DictOffsetReader, FakeSourceTaskContext


@pytest.fixture(autouse=True)
def _short_idle_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls that find nothing return quickly, so tests don't sit through Java's one second."""
    monkeypatch.setattr(FileStreamSourceTask, "idle_wait_s", 0.01)


def start_source(
    context: FakeSourceTaskContext, path: Path | str | None, **extra: str
) -> FileStreamSourceTask:
    props = {"topic": "lines", **extra}
    if path is not None:
        props["file"] = str(path)
    task = FileStreamSourceTask()
    task.initialize(context)
    task.start(props)
    return task


def drain(task: FileStreamSourceTask, polls: int = 5) -> list[SourceRecord]:
    """Everything the task returns until it has returned nothing a few polls in a row."""
    records: list[SourceRecord] = []
    empty = 0
    while empty < polls:
        batch = task.poll()
        if batch:
            records.extend(batch)
            empty = 0
        else:
            empty += 1
    return records


def values(records: list[SourceRecord]) -> list[object]:
    return [r.value for r in records]


def positions(records: list[SourceRecord]) -> list[object]:
    return [r.source_offset["position"] if r.source_offset else "missing" for r in records]


# --- split_lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "lines", "ends", "tail"),
    [
        (b"", [], [], b""),
        (b"abc", [], [], b"abc"),
        (b"a\nbc\n", ["a", "bc"], [2, 5], b""),
        (b"a\nbc", ["a"], [2], b"bc"),
        (b"\n\n", ["", ""], [1, 2], b""),
        (b"a\r\nb\r\n", ["a", "b"], [3, 6], b""),
        (b"a\rb\rc", ["a", "b"], [2, 4], b"c"),
        (b"a\r", [], [], b"a\r"),  # the \r may be half of \r\n
        (b"a\nb\r", ["a"], [2], b"b\r"),
        (b"a\r\nb\nc\rd", ["a", "b", "c"], [3, 5, 7], b"d"),
        ("é\nü\n".encode(), ["é", "ü"], [3, 6], b""),
        (b"\xff\n", ["\ufffd"], [2], b""),
    ],
)
def test_split_lines(data: bytes, lines: list[str], ends: list[int], tail: bytes) -> None:
    assert split_lines(data, 0) == (lines, ends, tail)


def test_split_lines_counts_from_the_start_position() -> None:
    assert split_lines(b"a\nb\n", 100) == (["a", "b"], [102, 104], b"")


_line_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8)


@given(
    lines=st.lists(st.tuples(_line_text, st.sampled_from(["\n", "\r\n", "\r"])), max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_split_lines_in_any_chunks_matches_splitting_it_whole(
    lines: list[tuple[str, str]], cuts: list[int]
) -> None:
    # A lone \r followed by an empty line ending in \n would be one \r\n: give that line text.
    lines = [
        ("y" if not text and i and lines[i - 1][1] == "\r" else text, end)
        for i, (text, end) in enumerate(lines)
    ]
    # A final "x" makes the last terminator complete (a trailing lone \r stays pending).
    data = "".join(text + end for text, end in lines).encode() + b"x"
    expected_ends: list[int] = []
    position = 0
    for text, end in lines:
        position += len((text + end).encode())
        expected_ends.append(position)

    got_lines: list[str] = []
    got_ends: list[int] = []
    tail = b""
    start = 0
    previous = 0
    for cut in [*sorted(c for c in cuts if c < len(data)), len(data)]:
        new_lines, new_ends, tail = split_lines(tail + data[previous:cut], start)
        previous = cut
        got_lines += new_lines
        got_ends += new_ends
        if new_ends:
            start = new_ends[-1]
    assert got_lines == [text for text, _ in lines]
    assert got_ends == expected_ends
    assert tail == b"x"


# --- the source task ------------------------------------------------------------------------


def test_source_reads_lines_with_byte_positions(
    tmp_path: Path, source_context: FakeSourceTaskContext
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes("one\ntwo\nthrée\n".encode())
    task = start_source(source_context, path)

    records = drain(task)

    assert values(records) == ["one", "two", "thrée"]
    assert positions(records) == [4, 8, 15]
    for record in records:
        assert record.topic == "lines"
        assert record.source_partition == {"filename": str(path)}
        assert record.value_schema == Schema.STRING
        assert record.key is None
        assert record.key_schema is None
        assert record.timestamp is not None
    task.stop()


def test_source_asks_for_the_offset_of_its_file(
    tmp_path: Path, source_context: FakeSourceTaskContext
) -> None:
    path = tmp_path / "in.txt"
    start_source(source_context, path).stop()
    assert source_context.offset_storage_reader.asked == [{"filename": str(path)}]


def test_source_handles_crlf_and_lone_cr(
    tmp_path: Path, source_context: FakeSourceTaskContext
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"a\r\nb\rc\n")
    task = start_source(source_context, path)
    records = drain(task)
    assert values(records) == ["a", "b", "c"]
    assert positions(records) == [3, 5, 7]
    task.stop()


def test_source_keeps_a_partial_last_line_until_it_is_complete(
    tmp_path: Path, source_context: FakeSourceTaskContext
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"first\nsec")
    task = start_source(source_context, path)

    assert values(drain(task)) == ["first"]

    with path.open("ab") as f:
        f.write(b"ond\nthi")
    records = drain(task)
    assert values(records) == ["second"]
    assert positions(records) == [13]
    task.stop()


def test_source_waits_for_the_byte_after_a_trailing_cr(
    tmp_path: Path, source_context: FakeSourceTaskContext
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"a\r")
    task = start_source(source_context, path)
    assert drain(task) == []
    with path.open("ab") as f:
        f.write(b"\n")
    records = drain(task)
    assert values(records) == ["a"]
    assert positions(records) == [3]
    task.stop()


def test_source_resumes_after_the_committed_position(
    tmp_path: Path, source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"one\ntwo\nthree\n")
    offset_reader.store({"filename": str(path)}, {"position": 8})
    task = start_source(source_context, path)
    records = drain(task)
    assert values(records) == ["three"]
    assert positions(records) == [14]
    task.stop()


def test_source_starts_at_zero_when_the_offset_has_no_position(
    tmp_path: Path, source_context: FakeSourceTaskContext, offset_reader: DictOffsetReader
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"one\n")
    offset_reader.store({"filename": str(path)}, {"position": None})
    task = start_source(source_context, path)
    assert values(drain(task)) == ["one"]
    task.stop()


@pytest.mark.parametrize("position", ["8", 1.5, -1, True])
def test_source_rejects_a_committed_position_that_is_not_a_position(
    tmp_path: Path,
    source_context: FakeSourceTaskContext,
    offset_reader: DictOffsetReader,
    position: object,
) -> None:
    path = tmp_path / "in.txt"
    offset_reader.store({"filename": str(path)}, {"position": position})  # type: ignore[dict-item]
    with pytest.raises(ConnectError, match="position"):
        start_source(source_context, path)


def test_source_returns_at_most_batch_size_records_per_poll(
    tmp_path: Path, source_context: FakeSourceTaskContext
) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(5)))
    task = start_source(source_context, path, **{"batch.size": "2"})
    sizes = [len(task.poll() or []) for _ in range(4)]
    assert sizes == [2, 2, 1, 0]
    task.stop()


def test_source_reads_across_chunk_boundaries(
    tmp_path: Path, source_context: FakeSourceTaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FileStreamSourceTask, "read_chunk_bytes", 7)
    path = tmp_path / "in.txt"
    lines = ["", "short", "a line longer than one chunk", "é" * 9, "x"]
    path.write_bytes("".join(line + "\r\n" for line in lines).encode())
    task = start_source(source_context, path)
    records = drain(task)
    assert values(records) == lines
    assert positions(records)[-1] == path.stat().st_size
    task.stop()


def test_source_waits_for_a_file_that_does_not_exist_yet(
    tmp_path: Path, source_context: FakeSourceTaskContext
) -> None:
    path = tmp_path / "later.txt"
    task = start_source(source_context, path)
    assert task.poll() is None
    path.write_bytes(b"here\n")
    assert values(drain(task)) == ["here"]
    task.stop()


@pytest.fixture
def slow_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Polls that find nothing would wait far longer than any test may take."""
    monkeypatch.setattr(FileStreamSourceTask, "idle_wait_s", 600.0)


@pytest.mark.usefixtures("slow_idle")
@pytest.mark.parametrize("exists", [True, False])
def test_stop_from_another_thread_ends_a_waiting_poll(
    tmp_path: Path, source_context: FakeSourceTaskContext, exists: bool
) -> None:
    path = tmp_path / "in.txt"
    if exists:
        path.write_bytes(b"")
    task = start_source(source_context, path)
    results: list[object] = []
    poller = threading.Thread(target=lambda: results.append(task.poll()))
    poller.start()
    poller.join(0.2)
    assert poller.is_alive(), "poll should be waiting for data"
    task.stop()
    poller.join(10)
    assert not poller.is_alive()
    assert results == [None]
    assert task.poll() is None


def test_stdin_records_carry_no_position_and_reads_do_not_block(
    source_context: FakeSourceTaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as stdin_buffer:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin_buffer))
        task = start_source(source_context, None)
        assert task.poll() is None  # the pipe is empty and still open: no blocking read
        os.write(write_fd, b"typed\n")
        records = drain(task)
        os.close(write_fd)
        assert values(records) == ["typed"]
        assert records[0].source_partition == {"filename": None}
        assert records[0].source_offset == {"position": None}
        task.stop()
    assert source_context.offset_storage_reader.asked == []  # stdin has no offsets to resume


def test_source_version_is_the_package_version() -> None:
    assert FileStreamSourceTask().version() == package_version()
    assert FileStreamSourceConnector().version() == package_version()
    assert FileStreamSinkConnector().version() == package_version()


# --- the source connector and its config ----------------------------------------------------


def test_source_connector_makes_one_task_whatever_tasks_max() -> None:
    connector = FileStreamSourceConnector()
    props = {"name": "src", "file": "/tmp/x", "topic": "t", "tasks.max": "4"}
    connector.start(props)
    assert connector.task_configs(4) == [props]
    assert connector.task_class() is FileStreamSourceTask


@pytest.mark.parametrize(
    ("props", "key", "shown"),
    [
        ({"file": "x"}, "topic", "missing"),
        ({"topic": ""}, "topic", "non-empty"),
        ({"topic": "a,b"}, "topic", "single topic"),
        ({"topic": "t", "batch.size": "abc"}, "batch.size", "'abc'"),
    ],
)
def test_source_config_errors_name_the_key(props: dict[str, str], key: str, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        FileStreamSourceConnector().start(props)
    assert f"'{key}'" in str(info.value)
    assert shown in str(info.value)


def test_source_config_defaults() -> None:
    config = FileStreamSourceConnector.config_model.parse({"topic": "t"})
    assert config.model_dump() == {"file": None, "topic": "t", "batch_size": 2000}


def test_source_config_documents_keys_as_kafka_does() -> None:
    fields = {
        (f.alias or name): f
        for name, f in FileStreamSourceConnector.config_model.model_fields.items()
    }
    assert set(fields) == {"file", "topic", "batch.size"}
    assert fields["topic"].description == "The topic to publish data to"
    assert fields["file"].json_schema_extra == {"importance": "HIGH"}
    assert fields["batch.size"].json_schema_extra == {"importance": "LOW"}


def test_alter_offsets_accepts_positions_and_tombstones() -> None:
    config = {"file": "/data/in.txt", "topic": "t"}
    offsets: list[tuple[SourcePartition | None, SourceOffset | None]] = [
        ({"filename": "/data/in.txt"}, {"position": 10}),
        ({"filename": "/data/old.txt"}, None),
        (None, None),
    ]
    assert validate_offsets(config, offsets) is True
    assert FileStreamSourceConnector().alter_offsets(config, offsets) is True


@pytest.mark.parametrize(
    ("config", "partition", "offset", "message"),
    [
        ({"topic": "t"}, {"filename": "f"}, {"position": 1}, "'file' configuration is unspecified"),
        ({"topic": "t", "file": "f"}, {"filename": "f"}, {"pos": 1}, "contain the key 'position'"),
        ({"topic": "t", "file": "f"}, {"filename": "f"}, {"position": "1"}, "Long value"),
        ({"topic": "t", "file": "f"}, {"filename": "f"}, {"position": -1}, "non-negative"),
        ({"topic": "t", "file": "f"}, None, {"position": 1}, "cannot be null"),
        ({"topic": "t", "file": "f"}, {"file": "f"}, {"position": 1}, "key 'filename'"),
    ],
)
def test_alter_offsets_rejects_what_java_rejects(
    config: dict[str, str], partition: dict[str, object] | None, offset: object, message: str
) -> None:
    with pytest.raises(ConnectError, match=message):
        validate_offsets(config, [(partition, offset)])  # type: ignore[list-item]


# --- the sink -------------------------------------------------------------------------------


def start_sink(path: Path | None) -> FileStreamSinkTask:
    task = FileStreamSinkTask()
    task.start({} if path is None else {"file": str(path)})
    return task


def sink_records(*values: object) -> list[SinkRecord]:
    return [SinkRecord("t", 0, i, v) for i, v in enumerate(values)]


def test_sink_writes_one_line_per_record_and_flush_makes_it_visible(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    task = start_sink(path)
    task.put(sink_records("a", "b"))
    task.put([])
    task.put(sink_records("c"))
    task.flush({TopicPartition("t", 0): OffsetAndMetadata(3)})
    assert path.read_text() == "a\nb\nc\n"
    task.stop()


def test_sink_appends_to_an_existing_file_and_closes_on_stop(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    task = start_sink(path)
    task.put(sink_records("new"))
    task.stop()
    assert path.read_text() == "old\nnew\n"
    with pytest.raises(ConnectError, match="not running"):
        task.put(sink_records("late"))


def test_sink_prints_values_as_java_does(tmp_path: Path) -> None:
    schema = SchemaBuilder.struct().field("a", Schema.INT32).field("b", Schema.STRING).build()
    struct = Struct(schema).put("a", 1).put("b", "x")
    path = tmp_path / "out.txt"
    task = start_sink(path)
    task.put(
        sink_records(None, "é", b"caf\xc3\xa9", b"\xff", 42, True, [1, "a"], {"k": None}, struct)
    )
    task.stop()
    assert path.read_text(encoding="utf-8").split("\n") == [
        "null",
        "é",
        "café",
        "\ufffd",
        "42",
        "true",
        "[1, a]",
        "{k=null}",
        "Struct{a=1,b=x}",
        "",
    ]


def test_sink_without_file_writes_to_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    task = start_sink(None)
    task.put(sink_records("to stdout"))
    task.flush({})
    task.stop()
    assert out.getvalue() == "to stdout\n"
    assert not out.closed


def test_sink_that_cannot_open_its_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(ConnectError, match="for FileStreamSinkTask") as info:
        start_sink(tmp_path)  # a directory
    assert str(tmp_path) in str(info.value)


def test_sink_connector_makes_max_identical_task_configs() -> None:
    connector = FileStreamSinkConnector()
    props = {"name": "sink", "file": "/tmp/out", "topics": "t"}
    connector.start(props)
    assert connector.task_configs(3) == [props, props, props]
    assert connector.task_class() is FileStreamSinkTask
    assert connector.alter_offsets(props, {TopicPartition("t", 0): 5}) is True
