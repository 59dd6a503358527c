"""`kconnect dry-run`: a connector run for a few records, with no Kafka at all.

The config is checked first, exactly as `kconnect lint` checks it (the REST validate endpoint's
messages; exit code 1 when it is invalid). Then the connector is started and asked for its task
configs, and its first task runs on this thread:

- **a source task** is polled until `--records` records came out of the transformation chain
  and the converters, or `--timeout` passed. Each record is one JSON line (to stdout or
  `--output`): `topic`, `partition` (null: the producer's partitioner would pick it),
  `timestamp`, `key` and `value` as the converters serialized them (the text when it is UTF-8,
  else `{"base64": ...}`), `headers` likewise, and the record's `source_partition` and
  `source_offset`. A record a transform dropped is counted, not written.
- **a sink task** is fed JSON lines from `--input` (`-`: stdin), each
  `{"topic", "partition", "offset", "key", "value", "headers", "timestamp"}`, every field
  optional: `key`/`value` given as a string are those bytes (UTF-8), any other JSON value is its
  JSON text, as a producer of JSON would have written it; `headers` maps keys to values alike.
  They go through the converters and the chain into `put`, and then `pre_commit` (which flushes)
  is called with the offsets after the last record, as the worker would commit them. A summary
  line says what was put and what `pre_commit` answered.

The worker config (`--worker`, or the manifest's `workerConfig`) supplies the converters and the
config providers, as in a real worker: variables are resolved for the connector to run, and never
printed. No Kafka client is ever created: the worker's `bootstrap.servers` is not read, so a
dry run works on a laptop without a broker. Nothing is committed anywhere: a source's offsets are
shown, not stored, and a sink's answer from `pre_commit` is shown, not committed.

Exit codes: 0 once the records are through; 1 for an invalid config or a connector that failed
(its error is printed, with the record it failed on when there is one); 2 for a usage error or an
input that cannot be read.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Final, TextIO

from pydantic import ValidationError

from kconnect.api.connector import Connector, ConnectorContext, SinkConnector, SourceConnector
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.records import ConnectRecord, Headers, SinkRecord, SourceRecord
from kconnect.api.task import (
    ErrantRecordReporter,
    OffsetStorageReader,
    SinkTask,
    SinkTaskContext,
    SourceTask,
    SourceTaskContext,
)
from kconnect.api.types import (
    JsonValue,
    OffsetAndMetadata,
    SourceOffset,
    SourcePartition,
    TopicPartition,
)
from kconnect.cli.common import plugin_registry
from kconnect.cli.lint import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNREADABLE,
    PLACEHOLDER_BOOTSTRAP,
    Result,
    Target,
    UnreadableInput,
    lint_connector,
    lint_worker,
    manifest_targets,
    read_config,
    render_text,
    worker_model,
)
from kconnect.config.connector import CommonConnectorConfig, SinkConnectorCommonConfig
from kconnect.config.providers import ConfigTransformer
from kconnect.config.redaction import REDACTORS, Redactor
from kconnect.config.worker import StandaloneConfig, WorkerConfig
from kconnect.errors import ConfigError
from kconnect.plugins.chain import build_chain
from kconnect.plugins.registry import PluginRegistry
from kconnect.transforms.chain import TransformationChain
from kconnect.worker.worker import build_converters

SINK_BATCH: Final = 500
IDLE_SLEEP_S: Final = 0.05
"""How long to wait after a poll that returned nothing, so a task that never blocks does not
spin a core."""


@dataclass(frozen=True)
class DryRunOptions:
    connector_path: str
    worker_path: str | None
    connector_name: str | None
    records: int
    timeout_s: float
    output: str
    input: str | None


class DryRunFailed(Exception):
    """The connector or a plugin failed: the message says where."""


# --- contexts with nothing behind them


class _ConnectorContext(ConnectorContext):
    def __init__(self) -> None:
        self.error: Exception | None = None

    def request_task_reconfiguration(self) -> None:
        pass  # one run, one set of task configs

    def raise_error(self, error: Exception) -> None:
        self.error = error


class _NoOffsets(OffsetStorageReader):
    def offset(self, partition: SourcePartition) -> SourceOffset | None:
        return None  # a dry run starts from the beginning, as a new connector does


class _SourceContext(SourceTaskContext):
    def __init__(self, props: Mapping[str, str]) -> None:
        self._props = props

    def configs(self) -> Mapping[str, str]:
        return self._props

    @property
    def offset_storage_reader(self) -> OffsetStorageReader:
        return _NoOffsets()


class _SinkContext(SinkTaskContext):
    def __init__(self, props: Mapping[str, str]) -> None:
        self._props = props
        self.partitions: set[TopicPartition] = set()

    def configs(self) -> Mapping[str, str]:
        return self._props

    def offset(self, offsets: Mapping[TopicPartition, int]) -> None:
        pass  # the input is read once, in order

    def timeout(self, timeout_ms: int) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return set(self.partitions)

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def resume(self, *partitions: TopicPartition) -> None:
        pass

    def request_commit(self) -> None:
        pass

    def errant_record_reporter(self) -> ErrantRecordReporter | None:
        return None


# --- bytes in and out


def shown_bytes(data: bytes | None) -> JsonValue:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def input_bytes(value: object) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and set(value) == {"base64"} and isinstance(value["base64"], str):
        return base64.b64decode(value["base64"])
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _json_safe(value: object) -> JsonValue:
    """A source partition or offset as JSON (they are maps of plain values already)."""
    return json.loads(json.dumps(value, default=str))  # type: ignore[no-any-return]


@dataclass
class _Pipeline:
    chain: TransformationChain
    key: Converter
    value: Converter
    header: HeaderConverter

    def close(self) -> None:
        self.chain.close()
        for conv in (self.key, self.value):
            conv.close()


def _pipeline(
    registry: PluginRegistry, worker_props: Mapping[str, str], config: Mapping[str, str]
) -> _Pipeline:
    key, value, header = build_converters(registry, worker_props, config)
    return _Pipeline(build_chain(registry, config), key, value, header)


# --- running


def _source_lines(
    task: SourceTask, pipeline: _Pipeline, records: int, deadline: float
) -> Iterator[tuple[dict[str, JsonValue] | None, SourceRecord]]:
    """(line, record) per record the task produced; line None when the chain dropped it."""
    produced = 0
    while produced < records and time.monotonic() < deadline:
        batch = task.poll()
        if not batch:
            time.sleep(IDLE_SLEEP_S)
            continue
        for original in batch:
            record: ConnectRecord | None = pipeline.chain.apply(original)
            if record is None:
                yield None, original
                continue
            topic = record.topic
            headers = record.headers
            key = pipeline.key.from_connect_data(topic, record.key_schema, record.key, headers)
            value = pipeline.value.from_connect_data(
                topic, record.value_schema, record.value, headers
            )
            line: dict[str, JsonValue] = {
                "topic": topic,
                "partition": record.kafka_partition,
                "timestamp": record.timestamp,
                "key": shown_bytes(key),
                "value": shown_bytes(value),
                "headers": [
                    [
                        h.key,
                        shown_bytes(
                            pipeline.header.from_connect_header(topic, h.key, h.schema, h.value)
                        ),
                    ]
                    for h in headers
                ],
                "source_partition": _json_safe(original.source_partition),
                "source_offset": _json_safe(original.source_offset),
            }
            yield line, original
            produced += 1
            if produced >= records:
                return


def _run_source(
    task: SourceTask,
    task_props: Mapping[str, str],
    pipeline: _Pipeline,
    opts: DryRunOptions,
    out: TextIO,
) -> dict[str, JsonValue]:
    deadline = time.monotonic() + opts.timeout_s
    task.initialize(_SourceContext(task_props))
    task.start(task_props)
    written = dropped = 0
    try:
        for line, _ in _source_lines(task, pipeline, opts.records, deadline):
            if line is None:
                dropped += 1
                continue
            out.write(json.dumps(line) + "\n")
            out.flush()
            written += 1
    finally:
        task.stop()
    return {
        "records": written,
        "dropped_by_transforms": dropped,
        "timed_out": written < opts.records,
    }


def _sink_records(
    lines: TextIO, pipeline: _Pipeline, default_topic: str, opts: DryRunOptions, source: str
) -> Iterator[SinkRecord | None]:
    """The input's records, converted and transformed (None: dropped by the chain)."""
    offsets: dict[tuple[str, int], int] = {}
    count = 0
    for number, text in enumerate(lines, start=1):
        if count >= opts.records:
            return
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise UnreadableInput(f"{source}: line {number}: not valid JSON: {e.msg}") from None
        if not isinstance(doc, dict):
            raise UnreadableInput(f"{source}: line {number}: expected a JSON object")
        topic = str(doc.get("topic") or default_topic)
        partition = int(doc.get("partition") or 0)
        offset = int(doc.get("offset", offsets.get((topic, partition), 0)))
        offsets[(topic, partition)] = offset + 1
        try:
            raw_headers = doc.get("headers") or {}
            if not isinstance(raw_headers, dict):
                raise UnreadableInput(f"{source}: line {number}: headers: expected a JSON object")
            headers = Headers()
            for hkey, hvalue in raw_headers.items():
                sv = pipeline.header.to_connect_header(topic, str(hkey), input_bytes(hvalue))
                headers.add(str(hkey), sv.value, sv.schema)
            key = pipeline.key.to_connect_data(topic, input_bytes(doc.get("key")), headers)
            value = pipeline.value.to_connect_data(topic, input_bytes(doc.get("value")), headers)
            timestamp = doc.get("timestamp")
            record = SinkRecord.consumed(
                topic,
                partition,
                offset,
                key.schema,
                key.value,
                value.schema,
                value.value,
                int(timestamp) if timestamp is not None else None,
                "CreateTime",
                headers,
            )
        except UnreadableInput:
            raise
        except Exception as e:
            raise DryRunFailed(f"{source}: line {number}: {type(e).__name__}: {e}") from e
        count += 1
        out = pipeline.chain.apply(record)
        yield out if isinstance(out, SinkRecord) else None


def _run_sink(
    task: SinkTask,
    task_props: Mapping[str, str],
    config: Mapping[str, str],
    pipeline: _Pipeline,
    opts: DryRunOptions,
    stack: ExitStack,
) -> dict[str, JsonValue]:
    if opts.input is None:
        raise UnreadableInput("a sink connector needs --input FILE (JSON lines; - for stdin)")
    source = "stdin" if opts.input == "-" else opts.input
    try:
        lines: TextIO = (
            sys.stdin
            if opts.input == "-"
            else stack.enter_context(open(opts.input, encoding="utf-8"))  # noqa: SIM115 - the stack closes it
        )
    except OSError as e:
        raise UnreadableInput(f"{opts.input}: cannot read: {e.strerror}") from None
    topics = SinkConnectorCommonConfig.parse(config).topic_list()
    default_topic = topics[0] if topics else "dry-run"
    context = _SinkContext(task_props)
    task.initialize(context)
    task.start(task_props)
    deadline = time.monotonic() + opts.timeout_s
    put = dropped = 0
    positions: dict[TopicPartition, OffsetAndMetadata] = {}
    answer: Mapping[TopicPartition, OffsetAndMetadata] = {}
    batch: list[SinkRecord] = []

    def deliver() -> None:
        nonlocal put
        if not batch:
            return
        new = {TopicPartition(r.topic, r.kafka_partition or 0) for r in batch} - context.partitions
        if new:
            context.partitions |= new
            task.open(new)
        task.put(list(batch))
        put += len(batch)
        for r in batch:
            positions[TopicPartition(r.topic, r.kafka_partition or 0)] = OffsetAndMetadata(
                r.kafka_offset + 1
            )
        batch.clear()

    try:
        for record in _sink_records(lines, pipeline, default_topic, opts, source):
            if record is None:
                dropped += 1
            else:
                batch.append(record)
            if len(batch) >= SINK_BATCH:
                deliver()
            if time.monotonic() >= deadline:
                break
        deliver()
        answer = task.pre_commit(dict(positions)) if positions else {}
        if context.partitions:
            task.close(set(context.partitions))
    finally:
        task.stop()
    return {
        "put": put,
        "dropped_by_transforms": dropped,
        "pre_commit": {f"{tp.topic}-{tp.partition}": om.offset for tp, om in answer.items()},
    }


def _load(opts: DryRunOptions) -> Target:
    if opts.connector_path.endswith((".yaml", ".yml")):
        targets = manifest_targets(opts.connector_path)
        if opts.connector_name is not None:
            targets = [t for t in targets if t.config.get("name") == opts.connector_name]
        if len(targets) != 1:
            names = ", ".join(
                repr(t.config.get("name")) for t in manifest_targets(opts.connector_path)
            )
            raise UnreadableInput(
                f"{opts.connector_path}: name one connector with --connector-name "
                f"(it holds {names or 'none'})"
            )
        return targets[0]
    config = read_config(opts.connector_path)
    worker_props: dict[str, str] = {}
    model: type[WorkerConfig] = StandaloneConfig
    if opts.worker_path is not None:
        worker_props = read_config(opts.worker_path)
        model = worker_model(worker_props)
    return Target(opts.connector_path, config, worker_props, model)


def _start_connector(
    registry: PluginRegistry, config: Mapping[str, str]
) -> tuple[Connector, dict[str, str]]:
    cls = registry.resolve_as(config["connector.class"], Connector, "connector.class")
    connector = cls()
    context = _ConnectorContext()
    connector.initialize(context)
    connector.start(config)
    if context.error is not None:
        raise DryRunFailed(f"the connector failed: {context.error}")
    tasks_max = CommonConnectorConfig.parse(config).tasks_max
    configs = connector.task_configs(tasks_max)
    if not configs:
        raise DryRunFailed("the connector gave no task config: there is no task to run")
    return connector, dict(configs[0])


def dry_run(opts: DryRunOptions, out: TextIO) -> dict[str, JsonValue]:
    """Run it; the summary. Raises UnreadableInput, ConfigError (invalid) or DryRunFailed."""
    target = _load(opts)
    checked: Result = lint_connector(target)
    if checked.errors:
        raise _Invalid(checked)
    written = dict(target.config)
    worker_props = dict(target.worker_props)
    if worker_props:
        # A dry run never reads bootstrap.servers: a worker file may leave it out.
        worker_props.setdefault("bootstrap.servers", PLACEHOLDER_BOOTSTRAP)
        checked_worker = lint_worker(
            opts.worker_path or target.source, worker_props, target.worker_model
        )
        if checked_worker.errors:
            raise _Invalid(checked_worker)
    try:
        worker = target.worker_model.model_validate(worker_props)
    except ValidationError:  # no worker file: the defaults
        worker = target.worker_model.model_construct()
    registry = plugin_registry(worker)
    transformer = ConfigTransformer.from_worker_props(worker_props)
    worker_resolved = transformer.transform(worker_props)
    config = transformer.transform(written)
    # What the variables resolve to is masked in log lines and in the messages this prints, as
    # the worker masks it (`kconnect.config.redaction`); the records themselves are the data.
    REDACTORS.register(("dry-run", "worker"), Redactor.of(worker_props, worker_resolved))
    REDACTORS.register(("dry-run", "connector"), Redactor.of(written, config))
    pipeline = _pipeline(registry, worker_resolved, config)
    summary: dict[str, JsonValue] = {"connector": written.get("name"), "task": 0}
    with ExitStack() as stack:
        stack.callback(pipeline.close)
        try:
            connector, task_props = _start_connector(registry, config)
            stack.callback(connector.stop)
            task_cls = connector.task_class()
            task = task_cls()
            if isinstance(connector, SourceConnector) and isinstance(task, SourceTask):
                summary |= _run_source(task, task_props, pipeline, opts, out)
            elif isinstance(connector, SinkConnector) and isinstance(task, SinkTask):
                summary |= _run_sink(task, task_props, config, pipeline, opts, stack)
            else:
                raise DryRunFailed(f"{task_cls.__qualname__} is neither a source nor a sink task")
        except (UnreadableInput, DryRunFailed, BrokenPipeError):
            raise
        except Exception as e:
            raise DryRunFailed(f"{type(e).__name__}: {e}") from e
    return summary


class _Invalid(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.source)
        self.result = result


def run_dry_run(opts: DryRunOptions) -> int:
    try:
        with ExitStack() as stack:
            out: TextIO = sys.stdout
            if opts.output != "-":
                try:
                    out = stack.enter_context(open(opts.output, "w", encoding="utf-8"))
                except OSError as e:
                    raise UnreadableInput(f"{opts.output}: cannot write: {e.strerror}") from None
            summary = dry_run(opts, out)
    except BrokenPipeError:
        # The reader of stdout (`| head`) has had enough: stop quietly, as a filter does; stdout
        # goes to /dev/null so that flushing it at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except UnreadableInput as e:
        print(f"kconnect dry-run: error: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    except _Invalid as e:
        render_text([e.result], sys.stderr)
        return EXIT_INVALID
    except (ConfigError, DryRunFailed) as e:
        print(f"kconnect dry-run: error: {REDACTORS(str(e))}", file=sys.stderr)
        return EXIT_INVALID
    # Beside a source's records on stdout, the summary goes to stderr.
    summary_to = sys.stderr if opts.output == "-" and "records" in summary else sys.stdout
    print(json.dumps({"summary": summary}), file=summary_to)
    return EXIT_OK
