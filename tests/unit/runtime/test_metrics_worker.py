"""The worker's metrics: the exact exposition for a given worker, and reading a running worker."""

from __future__ import annotations

from collections.abc import Mapping

from kconnect.api.connector import SourceConnector
from kconnect.api.task import SourceTask
from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.config.worker import WorkerConfig
from kconnect.herder.membership import RebalanceStats
from kconnect.herder.worker_metrics import (
    RebalanceView,
    TaskView,
    WorkerView,
    connector_state,
    read_worker,
    worker_families,
    worker_registry,
)
from kconnect.plugins.registry import default_registry
from kconnect.prometheus import Family, Registry
from kconnect.storage.offsets import MemoryOffsetStore
from kconnect.storage.states import State, TargetState
from kconnect.storage.status import MemoryStatusStore
from kconnect.worker.connector import ConnectorRunner
from kconnect.worker.task import TaskRunner
from kconnect.worker.task_metrics import TaskMetrics
from kconnect.worker.worker import Worker

GEN_0 = TaskId(ConnectorName("gen"), TaskNumber(0))
OUT_1 = TaskId(ConnectorName("out"), TaskNumber(1))


def _render(families: list[Family], *names: str) -> str:
    """The exposition of the named families only, through a real registry."""
    registry = Registry()
    registry.register_collector(lambda: [f for f in families if f.name in names])
    return registry.render()


def _source_metrics() -> TaskMetrics:
    m = TaskMetrics()
    m.source_record_poll_total = 120
    m.source_record_write_total = 118
    m.batch(100)
    m.batch(20)
    m.commit(True, 0.25)
    m.commit(False, 0.5)
    m.poll_batch_seconds_sum = 1.5
    m.offset_commit_skip_total = 4
    return m


def _sink_metrics() -> TaskMetrics:
    m = TaskMetrics()
    m.sink_record_read_total = 118
    m.sink_record_send_total = 116
    m.batch(118)
    m.commit(True, 0.125)
    m.offset_commit_skip_total = 1
    m.put_batch_seconds_sum = 0.75
    m.records_lag = 42
    m.total_record_errors = 2
    m.total_record_failures = 5
    m.total_records_skipped = 2
    m.total_retries = 3
    m.total_errors_logged = 2
    m.deadletterqueue_produce_requests = 2
    m.deadletterqueue_produce_failures = 1
    m.last_error_timestamp_ms = 1_700_000_000_500
    return m


def test_a_standalone_worker_with_one_source_task_renders_exactly() -> None:
    view = WorkerView(
        version="1.2.3",
        mode="standalone",
        worker_id="127.0.0.1:8083",
        connectors={ConnectorName("gen"): State.RUNNING},
        tasks=[TaskView(GEN_0, "source", State.RUNNING, _source_metrics())],
    )
    registry = Registry()
    registry.register_collector(lambda: worker_families(view))
    labels = '{connector="gen",task="0"}'
    assert registry.render() == (
        "# HELP kconnect_connector_status 1, with the state of a connector instance this "
        "worker runs in the status label.\n"
        "# TYPE kconnect_connector_status gauge\n"
        'kconnect_connector_status{connector="gen",status="running"} 1\n'
        "# HELP kconnect_connector_task_batch_size Records per batch the task processed "
        "(a source's poll(), a sink's put()); the average is rate(_sum) / rate(_count).\n"
        "# TYPE kconnect_connector_task_batch_size summary\n"
        f"kconnect_connector_task_batch_size_count{labels} 2\n"
        f"kconnect_connector_task_batch_size_sum{labels} 120\n"
        "# HELP kconnect_connector_task_batch_size_max The largest batch the task has "
        "processed, in records.\n"
        "# TYPE kconnect_connector_task_batch_size_max gauge\n"
        f"kconnect_connector_task_batch_size_max{labels} 100\n"
        "# HELP kconnect_connector_task_offset_commit_failure_total Offset commits that failed.\n"
        "# TYPE kconnect_connector_task_offset_commit_failure_total counter\n"
        f"kconnect_connector_task_offset_commit_failure_total{labels} 1\n"
        "# HELP kconnect_connector_task_offset_commit_max_time_seconds The longest offset "
        "commit, in seconds.\n"
        "# TYPE kconnect_connector_task_offset_commit_max_time_seconds gauge\n"
        f"kconnect_connector_task_offset_commit_max_time_seconds{labels} 0.5\n"
        "# HELP kconnect_connector_task_offset_commit_skip_total Offset commits skipped "
        "because there was nothing new to commit.\n"
        "# TYPE kconnect_connector_task_offset_commit_skip_total counter\n"
        f"kconnect_connector_task_offset_commit_skip_total{labels} 4\n"
        "# HELP kconnect_connector_task_offset_commit_success_total Offset commits that "
        "succeeded.\n"
        "# TYPE kconnect_connector_task_offset_commit_success_total counter\n"
        f"kconnect_connector_task_offset_commit_success_total{labels} 1\n"
        "# HELP kconnect_connector_task_offset_commit_time_seconds Time spent committing "
        "offsets, successful commits and failed ones.\n"
        "# TYPE kconnect_connector_task_offset_commit_time_seconds summary\n"
        f"kconnect_connector_task_offset_commit_time_seconds_count{labels} 2\n"
        f"kconnect_connector_task_offset_commit_time_seconds_sum{labels} 0.75\n"
        "# HELP kconnect_connector_task_status 1, with the task's state in the status label "
        "(running, paused, failed, ...).\n"
        "# TYPE kconnect_connector_task_status gauge\n"
        'kconnect_connector_task_status{connector="gen",task="0",status="running"} 1\n'
        "# HELP kconnect_info Always 1; the labels say which kconnect runs, in which mode, "
        "as which worker.\n"
        "# TYPE kconnect_info gauge\n"
        'kconnect_info{version="1.2.3",mode="standalone",worker_id="127.0.0.1:8083"} 1\n'
        "# HELP kconnect_source_task_poll_batch_time_seconds_total Time spent in the task's "
        "poll() calls that returned records.\n"
        "# TYPE kconnect_source_task_poll_batch_time_seconds_total counter\n"
        f"kconnect_source_task_poll_batch_time_seconds_total{labels} 1.5\n"
        "# HELP kconnect_source_task_source_record_poll_total Records the task's poll() "
        "returned, before transforms.\n"
        "# TYPE kconnect_source_task_source_record_poll_total counter\n"
        f"kconnect_source_task_source_record_poll_total{labels} 120\n"
        "# HELP kconnect_source_task_source_record_write_total Records handed to the producer, "
        "after transforms (a dropped record is not written).\n"
        "# TYPE kconnect_source_task_source_record_write_total counter\n"
        f"kconnect_source_task_source_record_write_total{labels} 118\n"
        "# HELP kconnect_task_error_deadletterqueue_produce_failures Records that could not be "
        "written to the dead letter queue topic.\n"
        "# TYPE kconnect_task_error_deadletterqueue_produce_failures counter\n"
        f"kconnect_task_error_deadletterqueue_produce_failures{labels} 0\n"
        "# HELP kconnect_task_error_deadletterqueue_produce_requests Records sent to the dead "
        "letter queue topic.\n"
        "# TYPE kconnect_task_error_deadletterqueue_produce_requests counter\n"
        f"kconnect_task_error_deadletterqueue_produce_requests{labels} 0\n"
        "# HELP kconnect_task_error_last_error_timestamp_seconds When the task last met an "
        "error, in seconds since the epoch; 0 if it never did.\n"
        "# TYPE kconnect_task_error_last_error_timestamp_seconds gauge\n"
        f"kconnect_task_error_last_error_timestamp_seconds{labels} 0\n"
        "# HELP kconnect_task_error_total_errors_logged Errors written to the log "
        "(errors.log.enable).\n"
        "# TYPE kconnect_task_error_total_errors_logged counter\n"
        f"kconnect_task_error_total_errors_logged{labels} 0\n"
        "# HELP kconnect_task_error_total_record_errors Records that met an error in any stage "
        "(converter, transform, put, produce).\n"
        "# TYPE kconnect_task_error_total_record_errors counter\n"
        f"kconnect_task_error_total_record_errors{labels} 0\n"
        "# HELP kconnect_task_error_total_record_failures Attempts at a record that failed, "
        "retries included.\n"
        "# TYPE kconnect_task_error_total_record_failures counter\n"
        f"kconnect_task_error_total_record_failures{labels} 0\n"
        "# HELP kconnect_task_error_total_records_skipped Records dropped because their error "
        "was tolerated (errors.tolerance=all).\n"
        "# TYPE kconnect_task_error_total_records_skipped counter\n"
        f"kconnect_task_error_total_records_skipped{labels} 0\n"
        "# HELP kconnect_task_error_total_retries Retries of a failed operation.\n"
        "# TYPE kconnect_task_error_total_retries counter\n"
        f"kconnect_task_error_total_retries{labels} 0\n"
        "# HELP kconnect_worker_connector_count Connector instances this worker runs, in any "
        "state.\n"
        "# TYPE kconnect_worker_connector_count gauge\n"
        "kconnect_worker_connector_count 1\n"
        "# HELP kconnect_worker_connector_destroyed_task_count The connector's tasks on this "
        "worker in state DESTROYED.\n"
        "# TYPE kconnect_worker_connector_destroyed_task_count gauge\n"
        'kconnect_worker_connector_destroyed_task_count{connector="gen"} 0\n'
        "# HELP kconnect_worker_connector_failed_task_count The connector's tasks on this "
        "worker in state FAILED.\n"
        "# TYPE kconnect_worker_connector_failed_task_count gauge\n"
        'kconnect_worker_connector_failed_task_count{connector="gen"} 0\n'
        "# HELP kconnect_worker_connector_paused_task_count The connector's tasks on this "
        "worker in state PAUSED.\n"
        "# TYPE kconnect_worker_connector_paused_task_count gauge\n"
        'kconnect_worker_connector_paused_task_count{connector="gen"} 0\n'
        "# HELP kconnect_worker_connector_restarting_task_count The connector's tasks on this "
        "worker in state RESTARTING.\n"
        "# TYPE kconnect_worker_connector_restarting_task_count gauge\n"
        'kconnect_worker_connector_restarting_task_count{connector="gen"} 0\n'
        "# HELP kconnect_worker_connector_running_task_count The connector's tasks on this "
        "worker in state RUNNING.\n"
        "# TYPE kconnect_worker_connector_running_task_count gauge\n"
        'kconnect_worker_connector_running_task_count{connector="gen"} 1\n'
        "# HELP kconnect_worker_connector_total_task_count The connector's tasks on this "
        "worker.\n"
        "# TYPE kconnect_worker_connector_total_task_count gauge\n"
        'kconnect_worker_connector_total_task_count{connector="gen"} 1\n'
        "# HELP kconnect_worker_connector_unassigned_task_count The connector's tasks on this "
        "worker in state UNASSIGNED.\n"
        "# TYPE kconnect_worker_connector_unassigned_task_count gauge\n"
        'kconnect_worker_connector_unassigned_task_count{connector="gen"} 0\n'
        "# HELP kconnect_worker_task_count Tasks this worker runs, in any state.\n"
        "# TYPE kconnect_worker_task_count gauge\n"
        "kconnect_worker_task_count 1\n"
    )


def test_sink_and_error_metrics_and_task_states_render_exactly() -> None:
    view = WorkerView(
        version="1.2.3",
        mode="standalone",
        worker_id="w",
        connectors={},
        tasks=[
            TaskView(OUT_1, "sink", State.FAILED, _sink_metrics()),
            TaskView(GEN_0, "source", State.PAUSED, TaskMetrics()),
        ],
    )
    families = worker_families(view)
    sink_names = [f.name for f in families if f.name.startswith("kconnect_sink_task_")]
    assert _render(families, *sink_names) == (
        "# HELP kconnect_sink_task_put_batch_time_seconds_total Time spent in the task's put().\n"
        "# TYPE kconnect_sink_task_put_batch_time_seconds_total counter\n"
        'kconnect_sink_task_put_batch_time_seconds_total{connector="out",task="1"} 0.75\n'
        "# HELP kconnect_sink_task_records_lag Records in the task's partitions after its "
        "consumer's position: each partition's end offset (from the last fetch, or asked of the "
        "broker while the partition is paused) minus the position, summed; updated every 10 s at "
        "most.\n"
        "# TYPE kconnect_sink_task_records_lag gauge\n"
        'kconnect_sink_task_records_lag{connector="out",task="1"} 42\n'
        "# HELP kconnect_sink_task_sink_record_read_total Records read from Kafka, before "
        "transforms.\n"
        "# TYPE kconnect_sink_task_sink_record_read_total counter\n"
        'kconnect_sink_task_sink_record_read_total{connector="out",task="1"} 118\n'
        "# HELP kconnect_sink_task_sink_record_send_total Records given to the task's put(), "
        "after transforms.\n"
        "# TYPE kconnect_sink_task_sink_record_send_total counter\n"
        'kconnect_sink_task_sink_record_send_total{connector="out",task="1"} 116\n'
    )
    samples = {
        (f.name, labels["connector"]): value
        for f in families
        if f.name.startswith("kconnect_task_error_")
        for labels, _, value in f.samples
    }
    assert {name: v for (name, c), v in samples.items() if c == "out"} == {
        "kconnect_task_error_total_record_errors": 2,
        "kconnect_task_error_total_record_failures": 5,
        "kconnect_task_error_total_records_skipped": 2,
        "kconnect_task_error_total_retries": 3,
        "kconnect_task_error_total_errors_logged": 2,
        "kconnect_task_error_deadletterqueue_produce_requests": 2,
        "kconnect_task_error_deadletterqueue_produce_failures": 1,
        "kconnect_task_error_last_error_timestamp_seconds": 1_700_000_000.5,
    }
    # Source families have no sink series and the other way round; statuses in lower case.
    assert "out" not in _render(families, "kconnect_source_task_source_record_poll_total")
    assert _render(families, "kconnect_connector_task_status").splitlines()[2:] == [
        'kconnect_connector_task_status{connector="gen",task="0",status="paused"} 1',
        'kconnect_connector_task_status{connector="out",task="1",status="failed"} 1',
    ]
    # A worker that runs no connector instance still counts its tasks per connector.
    assert "kconnect_worker_connector_count 0\n" in _render(
        families, "kconnect_worker_connector_count"
    )
    assert 'kconnect_worker_connector_failed_task_count{connector="out"} 1\n' in _render(
        families, "kconnect_worker_connector_failed_task_count"
    )


def test_rebalance_metrics_only_for_a_distributed_worker() -> None:
    def view(rebalance: RebalanceView | None) -> WorkerView:
        return WorkerView("1", "distributed", "w", {}, [], rebalance)

    names = ("kconnect_worker_rebalance_completed_rebalances_total",)
    assert _render(worker_families(view(None)), *names) == ""
    families = worker_families(view(RebalanceView(3, False, 12.5)))
    assert _render(
        families,
        "kconnect_worker_rebalance_completed_rebalances_total",
        "kconnect_worker_rebalance_rebalancing",
        "kconnect_worker_rebalance_time_since_last_rebalance_seconds",
    ).splitlines()[2::3] == [
        "kconnect_worker_rebalance_completed_rebalances_total 3",
        "kconnect_worker_rebalance_rebalancing 0",
        "kconnect_worker_rebalance_time_since_last_rebalance_seconds 12.5",
    ]
    joining = worker_families(view(RebalanceView(0, True, None)))
    assert _render(joining, "kconnect_worker_rebalance_time_since_last_rebalance_seconds") == ""
    assert "kconnect_worker_rebalance_rebalancing 1\n" in _render(
        joining, "kconnect_worker_rebalance_rebalancing"
    )


def test_label_values_are_escaped() -> None:
    odd = TaskId(ConnectorName('a "quoted"\\name\n'), TaskNumber(3))
    view = WorkerView(
        "1", "standalone", "w", {}, [TaskView(odd, None, State.RUNNING, TaskMetrics())]
    )
    text = _render(worker_families(view), "kconnect_connector_task_status")
    assert 'connector="a \\"quoted\\"\\\\name\\n",task="3",status="running"} 1' in text


class _Idle(TaskRunner):
    def initialize(self) -> None:
        pass

    def iterate(self) -> None:
        pass

    def close(self, commit: bool) -> None:
        pass


class _Source(SourceConnector):
    def start(self, props: Mapping[str, str]) -> None:
        pass

    def stop(self) -> None:
        pass

    def task_class(self) -> type[SourceTask]:
        raise NotImplementedError

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return []

    def version(self) -> str:
        return "1"


def _runner(name: str) -> ConnectorRunner:
    return ConnectorRunner(
        ConnectorName(name),
        _Source(),
        {},
        status=MemoryStatusStore(),
        worker_id="w",
        on_reconfigure=lambda: None,
    )


def test_the_connector_state_is_the_one_its_runner_reported() -> None:
    runner = _runner("c")
    assert connector_state(runner) is State.STOPPED  # made, not yet moved to a target
    assert runner.set_target(TargetState.STARTED)
    assert connector_state(runner) is State.RUNNING
    assert runner.set_target(TargetState.PAUSED)
    assert connector_state(runner) is State.PAUSED
    assert runner.set_target(TargetState.STOPPED)
    assert connector_state(runner) is State.STOPPED
    runner.fail(RuntimeError("boom"))
    assert connector_state(runner) is State.FAILED
    fresh = _runner("d")
    fresh.target = TargetState.STARTED
    assert connector_state(fresh) is State.UNASSIGNED


def test_a_scrape_reads_the_running_worker_each_time() -> None:
    status = MemoryStatusStore()
    worker = Worker(
        "127.0.0.1:8083", {}, WorkerConfig(), default_registry(), MemoryOffsetStore(), status
    )
    registry = worker_registry(worker, mode="standalone", version="9.9")
    assert "kconnect_worker_task_count 0\n" in registry.render()

    runner = _Idle(GEN_0, {}, TargetState.STARTED, status, worker.worker_id)
    worker.tasks[GEN_0] = runner
    connector = _runner("gen")
    connector.set_target(TargetState.STARTED)
    worker.connectors[ConnectorName("gen")] = connector
    runner.state = State.RUNNING
    runner.metrics.batch(5)
    text = registry.render()
    assert "kconnect_worker_task_count 1\n" in text
    assert 'kconnect_connector_status{connector="gen",status="running"} 1\n' in text
    assert 'kconnect_connector_task_batch_size_sum{connector="gen",task="0"} 5\n' in text
    # A runner that is neither a source nor a sink has only the metrics every task has.
    assert "kconnect_source_task_source_record_poll_total{" not in text

    runner.metrics.batch(7)
    runner.state = State.PAUSED
    worker.worker_id = "10.0.0.1:8083"
    text = registry.render()
    assert 'kconnect_connector_task_batch_size_sum{connector="gen",task="0"} 12\n' in text
    assert 'task="0",status="paused"} 1\n' in text
    assert 'mode="standalone",worker_id="10.0.0.1:8083"} 1\n' in text

    del worker.tasks[GEN_0]
    assert 'task="0"' not in registry.render()


def test_rebalance_stats_are_read_with_the_time_since_the_last_one() -> None:
    worker = Worker(
        "w", {}, WorkerConfig(), default_registry(), MemoryOffsetStore(), MemoryStatusStore()
    )
    stats = RebalanceStats()
    view = read_worker(worker, mode="distributed", version="1", rebalance=stats)
    assert view.rebalance == RebalanceView(0, True, None)
    stats.finished()
    assert stats.last_completed is not None
    view = read_worker(
        worker,
        mode="distributed",
        version="1",
        rebalance=stats,
        clock=lambda: stats.last_completed + 4.0,  # type: ignore[operator]
    )
    assert view.rebalance == RebalanceView(1, False, 4.0)
    stats.started()
    again = read_worker(worker, mode="distributed", version="1", rebalance=stats).rebalance
    assert again is not None
    assert (again.completed, again.rebalancing) == (1, True)
