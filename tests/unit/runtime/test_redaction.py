"""Config provider values never reach a trace in the status store, or a log line, resolved.

The worker runs real file connectors whose file names come from a mounted Secret; its broker is
an address nobody listens on, which nothing here needs: the connectors fail (or wait) on their
files before a record could flow. Logs are read through the CLI's own log handler.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.cli.logs import TEXT, log_handler
from kconnect.config.redaction import RedactingFilter, Redactor, RedactorRegistry
from kconnect.config.worker import StandaloneConfig
from kconnect.plugins.registry import default_registry
from kconnect.storage.file_offsets import FileOffsetStore
from kconnect.storage.states import State, StateInfo, TargetState
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker.dlq import EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, context_headers
from kconnect.worker.error_handling import ProcessingContext, Stage
from kconnect.worker.worker import Worker

JAVA = "org.apache.kafka.common.config.provider."
MARKER = "S3CRET"


# --- the redactor


@pytest.mark.parametrize(
    "secret",
    [
        "S3CRET-plain",
        "S3CRET-ends-in-a-newline\n",
        "S3CRET \"double\" 'single' \\back\\slash",
        "S3CRET-\u00fcn\u00efc\u00f8d\u00e9-\u2603\t",
        "first line S3CRET-1\nsecond line S3CRET-2\n",
    ],
)
def test_a_resolved_value_is_replaced_however_a_message_quotes_it(secret: str) -> None:
    written = "${dir:/mnt/db:password}"
    redact = Redactor.of({"password": written}, {"password": secret})
    quoted = [
        f"bare {secret} here",
        f"repr {secret!r}",
        f"stripped '{secret.strip()}'",
        f"json {json.dumps(secret)}",
        f"ascii json {json.dumps(secret, ensure_ascii=True)}",
        f"a line: {secret.splitlines()[-1]!r}",
        f"a list {[secret]}",
    ]
    for text in quoted:
        shown = redact(text)
        assert MARKER not in shown, (text, shown)
        assert written in shown


def test_each_variable_of_a_value_is_replaced_on_its_own() -> None:
    written = "jdbc:pg://db/x?user=${env:DB_USER}&password=${dir:/mnt/db:password}"
    resolved = "jdbc:pg://db/x?user=app-S3CRET&password=S3CRET-pw"
    redact = Redactor.of({"connection.url": written}, {"connection.url": resolved})
    assert redact(f"cannot connect with {resolved!r}") == f"cannot connect with {written!r}"
    assert redact("password authentication failed: 'S3CRET-pw'") == (
        "password authentication failed: '${dir:/mnt/db:password}'"
    )
    assert redact("role app-S3CRET does not exist") == "role ${env:DB_USER} does not exist"


def test_short_values_and_unchanged_values_are_left_alone() -> None:
    redact = Redactor.of(
        {"tasks.max": "${env:N}", "topic": "orders", "unknown": "${vault:x}"},
        {"tasks.max": "2", "topic": "orders", "unknown": "${vault:x}"},
    )
    assert not redact
    assert redact("line 2 of orders") == "line 2 of orders"


def test_the_log_filter_masks_messages_arguments_and_traces() -> None:
    registry = RedactorRegistry()
    registry.register("c", Redactor([("S3CRET-path", "${env:P}")]))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(registry))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("writing to %s", "/data/S3CRET-path")
        try:
            raise OSError(f"No such file or directory: {'/data/S3CRET-path'!r}")
        except OSError:
            logger.exception("task failed")
        registry.unregister("c")
        logger.warning("after: %s", "S3CRET-path")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue()
    assert "writing to /data/${env:P}" in lines
    assert "No such file or directory: '/data/${env:P}'" in lines
    assert lines.count(MARKER) == 1  # only once nothing that runs holds the value any more
    assert "after: S3CRET-path" in lines


def test_dead_letter_queue_headers_hold_the_variable() -> None:
    error = OSError("cannot write /data/S3CRET-path")
    task = TaskId(ConnectorName("c"), TaskNumber(0))
    context = ProcessingContext(task, Stage.TASK_PUT, "X", error, attempts=1)
    headers = dict(context_headers(context, Redactor([("S3CRET-path", "${env:P}")])))
    assert headers[EXCEPTION_MESSAGE] == b"cannot write /data/${env:P}"
    assert MARKER.encode() not in headers[EXCEPTION_STACKTRACE]


# --- a worker running file connectors whose files come from a Secret


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the CLI's log handler writes, at INFO and above, while the test runs."""
    stream = io.StringIO()
    handler = log_handler(TEXT, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _worker(tmp_path: Path) -> Worker:
    props = {
        "bootstrap.servers": "127.0.0.1:9",
        "offset.storage.file.filename": str(tmp_path / "offsets"),
        "config.providers": "dir",
        "config.providers.dir.class": JAVA + "DirectoryConfigProvider",
        "task.shutdown.graceful.timeout.ms": "2000",
    }
    config = StandaloneConfig.parse(props)
    offsets = FileOffsetStore(config.offset_storage_file_filename)
    return Worker("w", props, config, default_registry(), offsets, MemoryStatusStore())


def _run_connector(worker: Worker, name: str, props: dict[str, str]) -> list[TaskId]:
    connector = ConnectorName(name)
    props = {"name": name, **props}
    assert worker.start_connector(connector, props, TargetState.STARTED, lambda: None)
    configs = worker.generate_task_configs(connector)
    assert configs is not None
    tasks = [TaskId(connector, TaskNumber(i)) for i in range(len(configs))]
    for task, config in zip(tasks, configs, strict=True):
        worker.start_task(task, props, config, TargetState.STARTED)
    return tasks


def _wait_for(what: str, check: Callable[[], object]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_traces_and_log_lines_of_a_running_connector_keep_the_variable(
    tmp_path: Path, logs: io.StringIO
) -> None:
    secrets = tmp_path / "mounted"
    secrets.mkdir()
    # Where the sink writes: in a directory that does not exist, so its task fails.
    (secrets / "sink").write_text(str(tmp_path / "missing" / "S3CRET-out.txt") + "\n")
    # What the source reads: a file that is not there yet, so its task waits and says so.
    (secrets / "source").write_text(str(tmp_path / "S3CRET-in.txt"))
    sink_var = f"${{dir:{secrets}:sink}}"
    source_var = f"${{dir:{secrets}:source}}"
    worker = _worker(tmp_path)
    try:
        sink = _run_connector(
            worker,
            "sink",
            {"connector.class": "FileStreamSink", "topics": "t", "file": sink_var},
        )
        _run_connector(
            worker,
            "source",
            {"connector.class": "FileStreamSource", "topic": "t", "file": source_var},
        )

        def failed() -> StateInfo | None:
            info = worker.status.task(sink[0])
            return info if info is not None and info.state is State.FAILED else None

        _wait_for("the sink task to fail", failed)
        _wait_for(
            "the source task to look for its file",
            lambda: "for FileStreamSourceTask, sleeping" in logs.getvalue(),
        )
        trace = failed()
        assert trace is not None
        assert trace.trace is not None
        assert MARKER not in trace.trace
        assert "Couldn't find or create file" in trace.trace
        assert sink_var in trace.trace
    finally:
        worker.shutdown()
    text = logs.getvalue()
    assert MARKER not in text, text
    assert f"Starting file sink connector writing to {sink_var}" in text
    assert f"Couldn't find file {source_var} for FileStreamSourceTask" in text


def test_a_connector_that_cannot_be_built_fails_with_the_variable_in_its_trace(
    tmp_path: Path, logs: io.StringIO
) -> None:
    secrets = tmp_path / "mounted"
    secrets.mkdir()
    (secrets / "class").write_text("S3CRET.no.such.Connector\n")
    variable = f"${{dir:{secrets}:class}}"
    worker = _worker(tmp_path)
    try:
        name = ConnectorName("c")
        assert not worker.start_connector(
            name,
            {"name": "c", "connector.class": variable, "topics": "t"},
            TargetState.STARTED,
            lambda: None,
        )
        info = worker.status.connector(name)
        assert info is not None
        assert info.state is State.FAILED
        assert info.trace is not None
        assert MARKER not in info.trace
        assert variable in info.trace
    finally:
        worker.shutdown()
    assert MARKER not in logs.getvalue()
