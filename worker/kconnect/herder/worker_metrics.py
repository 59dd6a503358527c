"""The worker's Prometheus metrics: Kafka Connect's worker, connector and task metrics, read from
the running worker each time `/metrics` is scraped.

Nothing is copied or counted here per record. Task threads update their own `TaskMetrics`
(plain attributes, no lock) and the herder's group membership its `RebalanceStats`; a scrape
snapshots the worker's connector and task tables (`dict(...)` copies a dict in one step, so a
concurrent start or stop is seen either before or after) and reads each value once.
`read_worker` is that thin reading step; `worker_families` is a pure function from what was read
to the metric families, so the exact output is unit-tested without threads or Kafka.

**Names** follow one rule, so a Kafka Connect dashboard carries over by changing its prefix:
`kconnect_` + the Kafka Connect MBean type without `-metrics` + the attribute, dashes as
underscores. These are the names the usual JMX-exporter rules (Strimzi's, say) give Kafka
Connect's MBeans, with `kconnect_` for `kafka_connect_`: `source-task-metrics` /
`source-record-poll-total` is `kconnect_source_task_source_record_poll_total`. Where Kafka Connect
exports a rate, an average or a percentage over its own sample window, kconnect exports the
running total it comes from (a counter, or a summary's `_sum` and `_count`) and Prometheus does
the windowing (`rate()`); a Kafka `-ms` value is exported in seconds, its name ending `_seconds`.
Every task series has the labels `connector` and `task`, every connector series `connector`.

**Status** is Kafka Connect's `status` attribute: one series per connector or task, with value 1
and the state in a `status` label, in lower case as Kafka Connect shows it there
(`kconnect_connector_task_status{connector="orders",task="0",status="running"} 1`).

It lives in the herder layer because that is the lowest one that sees everything it reads: the
worker's runners (`kconnect.worker`) and the group membership's rebalance counts
(`kconnect.herder.membership`). The `cli` only assembles it (`worker_registry`) for the REST and
metrics listeners; the format itself is `kconnect.prometheus`'s.

docs/metrics.md lists every metric with its Kafka Connect equivalent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from kconnect.api.types import ConnectorName, TaskId
from kconnect.herder.membership import RebalanceStats
from kconnect.prometheus import Collector, Family, Registry
from kconnect.storage.states import State, TargetState
from kconnect.worker.connector import ConnectorRunner
from kconnect.worker.exactly_once import ExactlyOnceSourceTaskRunner
from kconnect.worker.sink import SinkTaskRunner
from kconnect.worker.source import SourceTaskRunner
from kconnect.worker.task_metrics import TaskMetrics, TransactionMetrics
from kconnect.worker.worker import Worker

TaskKind = Literal["source", "sink"]


@dataclass(frozen=True)
class TaskView:
    """One task as a scrape reads it. `metrics` is the task's live object, read once per value."""

    id: TaskId
    kind: TaskKind | None
    state: State
    metrics: TaskMetrics
    transactions: TransactionMetrics | None = None
    """An exactly-once source task's transactions; None for any other task."""


@dataclass(frozen=True)
class RebalanceView:
    completed: int
    rebalancing: bool
    seconds_since_last: float | None


@dataclass(frozen=True)
class WorkerView:
    """What one scrape read of the worker."""

    version: str
    mode: str
    worker_id: str
    connectors: Mapping[ConnectorName, State]
    tasks: Sequence[TaskView]
    rebalance: RebalanceView | None = None
    """Distributed workers only: a standalone worker has no group to rebalance."""


# --- the task metrics, as (name, type, help, how to read it from TaskMetrics)

_Read = Callable[[TaskMetrics], float]


@dataclass(frozen=True)
class _Scalar:
    name: str
    type_name: Literal["counter", "gauge"]
    documentation: str
    read: _Read


@dataclass(frozen=True)
class _Summary:
    name: str
    documentation: str
    sum: _Read
    count: _Read


_TaskMetric = _Scalar | _Summary

_EVERY_TASK: tuple[_TaskMetric, ...] = (
    _Summary(
        "kconnect_connector_task_batch_size",
        "Records per batch the task processed (a source's poll(), a sink's put()); "
        "the average is rate(_sum) / rate(_count).",
        lambda m: m.batch_size_sum,
        lambda m: m.batches,
    ),
    _Scalar(
        "kconnect_connector_task_batch_size_max",
        "gauge",
        "The largest batch the task has processed, in records.",
        lambda m: m.batch_size_max,
    ),
    _Scalar(
        "kconnect_connector_task_offset_commit_success_total",
        "counter",
        "Offset commits that succeeded.",
        lambda m: m.offset_commit_success_total,
    ),
    _Scalar(
        "kconnect_connector_task_offset_commit_failure_total",
        "counter",
        "Offset commits that failed.",
        lambda m: m.offset_commit_failure_total,
    ),
    _Scalar(
        "kconnect_connector_task_offset_commit_skip_total",
        "counter",
        "Offset commits skipped because there was nothing new to commit.",
        lambda m: m.offset_commit_skip_total,
    ),
    _Summary(
        "kconnect_connector_task_offset_commit_time_seconds",
        "Time spent committing offsets, successful commits and failed ones.",
        lambda m: m.offset_commit_seconds_sum,
        lambda m: m.offset_commit_success_total + m.offset_commit_failure_total,
    ),
    _Scalar(
        "kconnect_connector_task_offset_commit_max_time_seconds",
        "gauge",
        "The longest offset commit, in seconds.",
        lambda m: m.offset_commit_seconds_max,
    ),
    _Scalar(
        "kconnect_task_error_total_record_errors",
        "counter",
        "Records that met an error in any stage (converter, transform, put, produce).",
        lambda m: m.total_record_errors,
    ),
    _Scalar(
        "kconnect_task_error_total_record_failures",
        "counter",
        "Attempts at a record that failed, retries included.",
        lambda m: m.total_record_failures,
    ),
    _Scalar(
        "kconnect_task_error_total_records_skipped",
        "counter",
        "Records dropped because their error was tolerated (errors.tolerance=all).",
        lambda m: m.total_records_skipped,
    ),
    _Scalar(
        "kconnect_task_error_total_retries",
        "counter",
        "Retries of a failed operation.",
        lambda m: m.total_retries,
    ),
    _Scalar(
        "kconnect_task_error_total_errors_logged",
        "counter",
        "Errors written to the log (errors.log.enable).",
        lambda m: m.total_errors_logged,
    ),
    _Scalar(
        "kconnect_task_error_deadletterqueue_produce_requests",
        "counter",
        "Records sent to the dead letter queue topic.",
        lambda m: m.deadletterqueue_produce_requests,
    ),
    _Scalar(
        "kconnect_task_error_deadletterqueue_produce_failures",
        "counter",
        "Records that could not be written to the dead letter queue topic.",
        lambda m: m.deadletterqueue_produce_failures,
    ),
    _Scalar(
        "kconnect_task_error_last_error_timestamp_seconds",
        "gauge",
        "When the task last met an error, in seconds since the epoch; 0 if it never did.",
        lambda m: m.last_error_timestamp_ms / 1000,
    ),
)

_SOURCE_TASK: tuple[_TaskMetric, ...] = (
    _Scalar(
        "kconnect_source_task_source_record_poll_total",
        "counter",
        "Records the task's poll() returned, before transforms.",
        lambda m: m.source_record_poll_total,
    ),
    _Scalar(
        "kconnect_source_task_source_record_write_total",
        "counter",
        "Records handed to the producer, after transforms (a dropped record is not written).",
        lambda m: m.source_record_write_total,
    ),
    _Scalar(
        "kconnect_source_task_poll_batch_time_seconds_total",
        "counter",
        "Time spent in the task's poll() calls that returned records.",
        lambda m: m.poll_batch_seconds_sum,
    ),
)

_SINK_TASK: tuple[_TaskMetric, ...] = (
    _Scalar(
        "kconnect_sink_task_sink_record_read_total",
        "counter",
        "Records read from Kafka, before transforms.",
        lambda m: m.sink_record_read_total,
    ),
    _Scalar(
        "kconnect_sink_task_sink_record_send_total",
        "counter",
        "Records given to the task's put(), after transforms.",
        lambda m: m.sink_record_send_total,
    ),
    _Scalar(
        "kconnect_sink_task_put_batch_time_seconds_total",
        "counter",
        "Time spent in the task's put().",
        lambda m: m.put_batch_seconds_sum,
    ),
    _Scalar(
        "kconnect_sink_task_records_lag",
        "gauge",
        "Records in the task's partitions after its consumer's position: each partition's end "
        "offset (from the last fetch, or asked of the broker while the partition is paused) "
        "minus the position, summed; updated every 10 s at most.",
        lambda m: m.records_lag,
    ),
)

_TASK_LABELS = ("connector", "task")


def _transaction_families(tasks: Sequence[TaskView]) -> list[Family]:
    """KIP-618's `transaction-size-*` of the exactly-once source tasks: the average as a
    summary, the smallest and largest as gauges with no sample before the first commit."""
    size = Family(
        "kconnect_source_task_transaction_size",
        "summary",
        "Records per transaction the exactly-once task committed; the average is "
        "rate(_sum) / rate(_count).",
        _TASK_LABELS,
    )
    smallest = Family(
        "kconnect_source_task_transaction_size_min",
        "gauge",
        "The fewest records in a transaction the exactly-once task has committed; no sample "
        "before its first.",
        _TASK_LABELS,
    )
    largest = Family(
        "kconnect_source_task_transaction_size_max",
        "gauge",
        "The most records in a transaction the exactly-once task has committed; no sample "
        "before its first.",
        _TASK_LABELS,
    )
    for t in tasks:
        tx = t.transactions
        if tx is None:
            continue
        labels = _task_labels(t)
        committed = tx.committed
        size.add(tx.size_sum, suffix="_sum", **labels)
        size.add(committed, suffix="_count", **labels)
        if committed:
            smallest.add(tx.size_min, **labels)
            largest.add(tx.size_max, **labels)
    return [size, smallest, largest]


_TASK_STATES: tuple[State, ...] = (
    State.RUNNING,
    State.PAUSED,
    State.FAILED,
    State.UNASSIGNED,
    State.RESTARTING,
    State.DESTROYED,
)
"""The states `connect-worker-metrics` counts a connector's tasks in, in Kafka's order."""


def _task_families(specs: Iterable[_TaskMetric], tasks: Sequence[TaskView]) -> list[Family]:
    out: list[Family] = []
    for spec in specs:
        if isinstance(spec, _Summary):
            family = Family(spec.name, "summary", spec.documentation, _TASK_LABELS)
            for t in tasks:
                labels = _task_labels(t)
                family.add(spec.sum(t.metrics), suffix="_sum", **labels)
                family.add(spec.count(t.metrics), suffix="_count", **labels)
        else:
            family = Family(spec.name, spec.type_name, spec.documentation, _TASK_LABELS)
            for t in tasks:
                family.add(spec.read(t.metrics), **_task_labels(t))
        out.append(family)
    return out


def _task_labels(task: TaskView) -> dict[str, str]:
    return {"connector": task.id.connector, "task": str(task.id.task)}


def _status(state: State) -> str:
    return state.value.lower()


def worker_families(view: WorkerView) -> list[Family]:
    """Every family of the worker's metrics that has a series, from one read of the worker."""
    tasks = sorted(view.tasks, key=lambda t: t.id)
    out = [
        *_task_families(_EVERY_TASK, tasks),
        *_task_families(_SOURCE_TASK, [t for t in tasks if t.kind == "source"]),
        *_transaction_families(tasks),
        *_task_families(_SINK_TASK, [t for t in tasks if t.kind == "sink"]),
    ]

    task_status = Family(
        "kconnect_connector_task_status",
        "gauge",
        "1, with the task's state in the status label (running, paused, failed, ...).",
        (*_TASK_LABELS, "status"),
    )
    for t in tasks:
        task_status.add(1, status=_status(t.state), **_task_labels(t))
    connector_status = Family(
        "kconnect_connector_status",
        "gauge",
        "1, with the state of a connector instance this worker runs in the status label.",
        ("connector", "status"),
    )
    for name, state in sorted(view.connectors.items()):
        connector_status.add(1, connector=name, status=_status(state))
    out += [task_status, connector_status]

    info = Family(
        "kconnect_info",
        "gauge",
        "Always 1; the labels say which kconnect runs, in which mode, as which worker.",
        ("version", "mode", "worker_id"),
    )
    info.add(1, version=view.version, mode=view.mode, worker_id=view.worker_id)
    connector_count = Family(
        "kconnect_worker_connector_count",
        "gauge",
        "Connector instances this worker runs, in any state.",
    )
    connector_count.add(len(view.connectors))
    task_count = Family(
        "kconnect_worker_task_count", "gauge", "Tasks this worker runs, in any state."
    )
    task_count.add(len(tasks))
    out += [info, connector_count, task_count, *_per_connector_task_counts(tasks)]
    if view.rebalance is not None:
        out += _rebalance_families(view.rebalance)
    # A family with no series (sink metrics on a worker without sink tasks) is left out.
    return [family for family in out if family.samples]


def _per_connector_task_counts(tasks: Sequence[TaskView]) -> list[Family]:
    """`connect-worker-metrics`' per-connector task counts, for connectors with tasks here."""
    by_connector: dict[str, list[State]] = {}
    for t in tasks:
        by_connector.setdefault(t.id.connector, []).append(t.state)
    total = Family(
        "kconnect_worker_connector_total_task_count",
        "gauge",
        "The connector's tasks on this worker.",
        ("connector",),
    )
    for connector, states in sorted(by_connector.items()):
        total.add(len(states), connector=connector)
    out = [total]
    for state in _TASK_STATES:
        family = Family(
            f"kconnect_worker_connector_{_status(state)}_task_count",
            "gauge",
            f"The connector's tasks on this worker in state {state.value}.",
            ("connector",),
        )
        for connector, states in sorted(by_connector.items()):
            family.add(states.count(state), connector=connector)
        out.append(family)
    return out


def _rebalance_families(rebalance: RebalanceView) -> list[Family]:
    completed = Family(
        "kconnect_worker_rebalance_completed_rebalances_total",
        "counter",
        "Group rebalances this worker has completed (each new assignment, empty or not).",
    )
    completed.add(rebalance.completed)
    rebalancing = Family(
        "kconnect_worker_rebalance_rebalancing",
        "gauge",
        "1 while this worker is rebalancing: from joining, or from losing tasks, until the "
        "group's next assignment.",
    )
    rebalancing.add(1 if rebalance.rebalancing else 0)
    since = Family(
        "kconnect_worker_rebalance_time_since_last_rebalance_seconds",
        "gauge",
        "Seconds since the last completed rebalance; no sample before the first.",
    )
    if rebalance.seconds_since_last is not None:
        since.add(rebalance.seconds_since_last)
    return [completed, rebalancing, since]


# --- reading the running worker


def connector_state(runner: ConnectorRunner) -> State:
    """The state the connector runner last reported, from its flags."""
    if runner.failed:
        return State.FAILED
    if runner.target is TargetState.STOPPED:
        return State.STOPPED
    if not runner.started:
        return State.UNASSIGNED
    return State.PAUSED if runner.target is TargetState.PAUSED else State.RUNNING


def _kind(runner: object) -> TaskKind | None:
    if isinstance(runner, SourceTaskRunner):
        return "source"
    if isinstance(runner, SinkTaskRunner):
        return "sink"
    return None


def read_worker(
    worker: Worker,
    *,
    mode: str,
    version: str,
    rebalance: RebalanceStats | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> WorkerView:
    """One read of the running worker, safe from any thread."""
    connectors = dict(worker.connectors)
    runners = dict(worker.tasks)
    tasks = [
        TaskView(
            task_id,
            _kind(runner),
            runner.state,
            runner.metrics,
            runner.transaction_metrics if isinstance(runner, ExactlyOnceSourceTaskRunner) else None,
        )
        for task_id, runner in runners.items()
    ]
    rebalance_view = None
    if rebalance is not None:
        last = rebalance.last_completed
        rebalance_view = RebalanceView(
            completed=rebalance.completed,
            rebalancing=rebalance.rebalancing,
            seconds_since_last=None if last is None else max(0.0, clock() - last),
        )
    return WorkerView(
        version=version,
        mode=mode,
        worker_id=worker.worker_id,
        connectors={name: connector_state(r) for name, r in connectors.items()},
        tasks=tasks,
        rebalance=rebalance_view,
    )


def worker_collector(
    worker: Worker,
    *,
    mode: str,
    version: str,
    rebalance: Callable[[], RebalanceStats] | None = None,
) -> Collector:
    """A collector that reads `worker` (and the rebalances `rebalance` gives) at each scrape."""

    def collect() -> list[Family]:
        stats = rebalance() if rebalance is not None else None
        return worker_families(read_worker(worker, mode=mode, version=version, rebalance=stats))

    return collect


def worker_registry(
    worker: Worker,
    *,
    mode: str,
    version: str,
    rebalance: Callable[[], RebalanceStats] | None = None,
) -> Registry:
    """The registry `/metrics` renders: the worker's metrics, read at each scrape."""
    registry = Registry()
    registry.register_collector(
        worker_collector(worker, mode=mode, version=version, rebalance=rebalance)
    )
    return registry
