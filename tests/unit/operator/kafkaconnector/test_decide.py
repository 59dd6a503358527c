"""The operator's decisions: config and state commands, restarts, readiness and status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kconnect_operator.core import status as core_status
from kconnect_operator.core.shapes import (
    ConditionStatus,
    ConnectorStatus,
    FailedTask,
    ReadyReason,
    TaskStatus,
)
from kconnect_operator.kafkaconnector import build as kc_build
from kconnect_operator.kafkaconnector import cleanup
from kconnect_operator.kafkaconnector import decide as kc_decide
from kconnect_operator.kafkaconnector.decide import Observation, StateCommand
from kconnect_operator.kafkaconnector.model import (
    AutoRestart,
    AutoRestartStatus,
    KafkaConnectorSpec,
    TargetState,
    TaskRestarts,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def spec(**overrides: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", "tasksMax": 2, **overrides}
    )


def connector(state: str = "RUNNING", *tasks: str, trace: str | None = None) -> ConnectorStatus:
    return ConnectorStatus(
        state=state,
        worker="10.0.0.1:8083",
        trace=trace,
        tasks=[
            TaskStatus(
                id=i,
                state=t,
                worker="10.0.0.2:8083",
                trace="org.Boom: broke\n\tat x" if t == "FAILED" else None,
            )
            for i, t in enumerate(tasks)
        ],
    )


def observe(**overrides: Any) -> Observation:
    fields: dict[str, Any] = {
        "generation": 3,
        "workers_ready": 2,
        "replicas": 2,
        "connector": connector("RUNNING", "RUNNING", "RUNNING"),
    }
    fields.update(overrides)
    return Observation(**fields)


# --- config


def test_connector_config_completes_the_spec_with_name_class_and_tasks() -> None:
    s = spec(config={"topic": "users", "max.records": "10"})
    assert kc_decide.connector_config(s, "orders") == {
        "connector.class": "DataGen",
        "max.records": "10",
        "name": "orders",
        "tasks.max": "2",
        "topic": "users",
    }


def test_config_is_sent_only_when_missing_or_different() -> None:
    desired = {"a": "1", "name": "x"}
    assert kc_decide.config_differs(desired, None)
    assert kc_decide.config_differs(desired, {"a": "2", "name": "x"})
    assert kc_decide.config_differs(desired, {"a": "1", "name": "x", "b": "3"})
    assert not kc_decide.config_differs(desired, {"name": "x", "a": "1"})


# --- target state


@pytest.mark.parametrize(
    ("desired", "observed", "last_sent", "expected"),
    [
        (TargetState.RUNNING, "RUNNING", None, None),
        (TargetState.PAUSED, "RUNNING", None, StateCommand.PAUSE),
        (TargetState.PAUSED, "RUNNING", TargetState.PAUSED, StateCommand.PAUSE),
        (TargetState.PAUSED, "PAUSED", TargetState.PAUSED, None),
        (TargetState.RUNNING, "PAUSED", TargetState.PAUSED, StateCommand.RESUME),
        (TargetState.RUNNING, "STOPPED", None, StateCommand.RESUME),
        (TargetState.STOPPED, "RUNNING", None, StateCommand.STOP),
        (TargetState.STOPPED, "STOPPED", None, None),
        # Unsettled: sent once per wanted state, never repeated, and RUNNING needs no command.
        (TargetState.PAUSED, "FAILED", None, StateCommand.PAUSE),
        (TargetState.PAUSED, "FAILED", TargetState.PAUSED, None),
        (TargetState.STOPPED, "UNASSIGNED", TargetState.PAUSED, StateCommand.STOP),
        (TargetState.RUNNING, "FAILED", TargetState.PAUSED, None),
        (TargetState.PAUSED, None, None, None),
    ],
)
def test_state_command(
    desired: TargetState,
    observed: str | None,
    last_sent: TargetState | None,
    expected: StateCommand | None,
) -> None:
    assert kc_decide.state_command(desired, observed, last_sent) == expected


# --- workers


def pod(name: str, ip: str | None, *, ready: bool = True, terminating: bool = False) -> Any:
    meta: dict[str, Any] = {"name": name}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": str(ready)}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "status": status}


def test_ready_workers_are_ready_addressed_and_not_terminating() -> None:
    pods = [
        pod("w-b", "10.0.0.2"),
        pod("w-a", "10.0.0.1"),
        pod("w-c", "10.0.0.3", ready=False),
        pod("w-d", None),
        pod("w-e", "10.0.0.5", terminating=True),
        pod("w-f", "fd00::6"),
    ]
    workers = core_status.ready_workers(pods, 8083)
    assert [(w.pod, w.url) for w in workers] == [
        ("w-a", "http://10.0.0.1:8083"),
        ("w-b", "http://10.0.0.2:8083"),
        ("w-f", "http://[fd00::6]:8083"),
    ]
    assert kc_decide.live_pods(pods) == 5


# --- restart annotations


@pytest.mark.parametrize(
    ("value", "include_tasks", "only_failed"),
    [
        ("true", False, False),
        ("", False, False),
        ("includeTasks", True, False),
        ("includeTasks,onlyFailed", True, True),
        (" onlyFailed , includeTasks ", True, True),
    ],
)
def test_restart_annotation(value: str, include_tasks: bool, only_failed: bool) -> None:
    parsed = kc_decide.restart_annotations({kc_decide.RESTART_ANNOTATION: value, "other": "x"})
    assert parsed.requests == (
        kc_decide.RestartRequest(task=None, include_tasks=include_tasks, only_failed=only_failed),
    )
    assert parsed.remove == (kc_decide.RESTART_ANNOTATION,)
    assert parsed.errors == ()


def test_restart_task_annotation_and_bad_values_are_removed_with_a_reason() -> None:
    parsed = kc_decide.restart_annotations({kc_decide.RESTART_TASK_ANNOTATION: "1"})
    assert parsed.requests == (kc_decide.RestartRequest(task=1),)
    bad = kc_decide.restart_annotations(
        {kc_decide.RESTART_ANNOTATION: "includeTask", kc_decide.RESTART_TASK_ANNOTATION: "one"}
    )
    assert bad.requests == ()
    assert set(bad.remove) == {kc_decide.RESTART_ANNOTATION, kc_decide.RESTART_TASK_ANNOTATION}
    assert "unknown includeTask" in bad.errors[0]
    assert "expected a task number" in bad.errors[1]
    assert kc_decide.restart_annotations({}).remove == ()


# --- auto-restart


POLICY = AutoRestart(enabled=True, maxRestarts=3)


def decide(
    observed: ConnectorStatus | None,
    previous: AutoRestartStatus | None,
    now: datetime = NOW,
    policy: AutoRestart = POLICY,
) -> kc_decide.AutoRestartDecision:
    return kc_decide.auto_restart(policy, observed, previous, now, base_s=10, max_s=60)


def test_backoff_grows_and_is_capped() -> None:
    assert [kc_decide.backoff(n, 10, 60).total_seconds() for n in range(6)] == [
        0,
        10,
        20,
        40,
        60,
        60,
    ]


def test_a_failed_task_is_restarted_at_once_then_with_backoff() -> None:
    failed = connector("RUNNING", "RUNNING", "FAILED")
    first = decide(failed, None)
    assert first.restart
    assert first.status == AutoRestartStatus(
        count=1, last_restart_time="2026-01-02T03:04:05Z", tasks=[TaskRestarts(id=1, count=1)]
    )
    too_soon = decide(failed, first.status, NOW + timedelta(seconds=9))
    assert not too_soon.restart
    assert too_soon.status == first.status
    second = decide(failed, first.status, NOW + timedelta(seconds=10))
    assert second.restart
    assert second.status is not None
    assert second.status.count == 2


def test_a_short_backoff_never_restarts_before_the_last_restart_can_show() -> None:
    # The FAILED read a second after a restart is the old failure: the workers have not yet
    # restarted the task and written its new state.
    failed = connector("RUNNING", "FAILED")
    first = kc_decide.auto_restart(POLICY, failed, None, NOW, base_s=1, max_s=60)
    assert first.restart

    def after(seconds: float) -> kc_decide.AutoRestartDecision:
        later = NOW + timedelta(seconds=seconds)
        return kc_decide.auto_restart(POLICY, failed, first.status, later, base_s=1, max_s=60)

    settle = kc_decide.RESTART_SETTLE.total_seconds()
    assert settle > 1
    assert not after(1).restart
    assert not after(settle - 0.1).restart
    assert after(settle).restart


def test_each_automatic_restart_counts_the_tasks_it_included() -> None:
    # Task 1 fails, is restarted, fails again with task 0: the second restart includes both.
    first = decide(connector("RUNNING", "RUNNING", "FAILED"), None)
    second = decide(
        connector("RUNNING", "FAILED", "FAILED"), first.status, NOW + timedelta(seconds=10)
    )
    assert second.restart
    assert second.status is not None
    assert second.status.count == 2
    assert second.status.tasks == [TaskRestarts(id=0, count=1), TaskRestarts(id=1, count=2)]
    # A failed connector whose tasks run: the connector's count moves, no task's does.
    third = decide(connector("FAILED", "RUNNING", "RUNNING"), second.status, NOW + timedelta(1))
    assert third.status is not None
    assert (third.status.count, third.status.tasks) == (3, second.status.tasks)
    # Healthy for long enough: both counters go back to none.
    healthy = decide(connector("RUNNING", "RUNNING", "RUNNING"), third.status, NOW + timedelta(2))
    assert healthy.status is not None
    assert (healthy.status.count, healthy.status.tasks) == (0, [])


def test_status_lists_failed_tasks_with_their_automatic_restarts() -> None:
    restarts = AutoRestartStatus(
        count=3,
        last_restart_time="2026-01-02T03:04:05Z",
        tasks=[TaskRestarts(id=0, count=1), TaskRestarts(id=2, count=3)],
    )
    obs = observe(connector=connector("RUNNING", "RUNNING", "FAILED", "FAILED"))
    status = kc_decide.build_status(
        spec(), obs, selector="a=b", previous=None, auto_restart_status=restarts, now=NOW
    )
    assert status.failed_tasks_count == 2
    assert status.failed_tasks == [
        FailedTask(id=1, worker="10.0.0.2:8083", message="org.Boom: broke", retry_count=0),
        FailedTask(id=2, worker="10.0.0.2:8083", message="org.Boom: broke", retry_count=3),
    ]
    body = core_status.status_body(status)
    assert body["failedTasks"][1] == {
        "id": 2,
        "worker": "10.0.0.2:8083",
        "message": "org.Boom: broke",
        "retryCount": 3,
    }
    assert body["autoRestart"]["tasks"] == [{"id": 0, "count": 1}, {"id": 2, "count": 3}]
    # Once none is FAILED, the list empties (and the patch says so).
    healthy = build(observe(), status)
    assert (healthy.failed_tasks, healthy.failed_tasks_count) == ([], 0)
    patch = core_status.status_patch(healthy, body)
    assert patch is not None
    assert (patch["status"]["failedTasks"], patch["status"]["failedTasksCount"]) == ([], 0)


def test_auto_restart_stops_at_max_restarts() -> None:
    used_up = AutoRestartStatus(count=3, last_restart_time="2026-01-01T00:00:00Z")
    decision = decide(connector("FAILED"), used_up)
    assert not decision.restart
    assert decision.exhausted
    assert decision.status == used_up


def test_the_counter_resets_after_staying_healthy() -> None:
    previous = AutoRestartStatus(count=2, last_restart_time="2026-01-02T03:04:05Z")
    healthy = connector("RUNNING", "RUNNING")
    assert decide(healthy, previous, NOW + timedelta(seconds=39)).status == previous
    reset = decide(healthy, previous, NOW + timedelta(seconds=40)).status
    assert reset == AutoRestartStatus(count=0, last_restart_time="2026-01-02T03:04:05Z")


def test_auto_restart_disabled_or_unknown_does_nothing() -> None:
    off = AutoRestart(enabled=False)
    assert not decide(connector("FAILED"), None, policy=off).restart
    assert not decide(None, None).restart
    assert not decide(connector("UNASSIGNED", "UNASSIGNED"), None).restart


# --- readiness and status


def test_ready_when_connector_and_all_tasks_run() -> None:
    status, reason, message = kc_decide.ready_condition(spec(), observe())
    assert (status, reason) == (ConditionStatus.TRUE, ReadyReason.RUNNING)
    assert "2 tasks are RUNNING" in message


@pytest.mark.parametrize(
    ("obs", "reason", "needle"),
    [
        (observe(workers_ready=0), ReadyReason.WORKERS_NOT_READY, "0/1 worker pods"),
        (observe(config_error="topic: missing"), ReadyReason.INVALID_CONFIG, "topic: missing"),
        (
            observe(connector=connector("FAILED", trace="java.lang.X: no\n\tat y")),
            ReadyReason.CONNECTOR_FAILED,
            "java.lang.X: no",
        ),
        (
            observe(connector=connector("RUNNING", "RUNNING", "FAILED")),
            ReadyReason.TASK_FAILED,
            "1 of 2 tasks FAILED (1); task 1 on 10.0.0.2:8083: org.Boom: broke",
        ),
        (
            observe(
                connector=connector(
                    "FAILED",
                    trace='Traceback (most recent call last):\n  File "x.py"\nValueError: bad',
                )
            ),
            ReadyReason.CONNECTOR_FAILED,
            "10.0.0.1:8083: ValueError: bad",
        ),
        (
            observe(connector=connector("RUNNING", "RUNNING", "UNASSIGNED")),
            ReadyReason.PENDING,
            "1/2 tasks RUNNING",
        ),
        (observe(connector=connector("RUNNING")), ReadyReason.PENDING, "0/0 tasks"),
        (observe(connector=None), ReadyReason.PENDING, "do not report"),
        (observe(connector=None, unreachable="no worker answered"), ReadyReason.PENDING, "no w"),
    ],
)
def test_not_ready(obs: Observation, reason: ReadyReason, needle: str) -> None:
    status, got_reason, message = kc_decide.ready_condition(spec(), obs)
    assert status is ConditionStatus.FALSE
    assert got_reason is reason
    assert needle in message


def test_paused_and_stopped_connectors_are_ready_once_settled() -> None:
    paused = spec(state="paused")
    assert kc_decide.ready_condition(paused, observe(connector=connector("PAUSED", "PAUSED")))[
        :2
    ] == (ConditionStatus.TRUE, ReadyReason.PAUSED)
    assert kc_decide.ready_condition(paused, observe())[:2] == (
        ConditionStatus.FALSE,
        ReadyReason.PENDING,
    )
    # Created paused: as in Kafka Connect, the connector has no tasks until it is resumed, and
    # is settled as it is.
    created_paused = kc_decide.ready_condition(paused, observe(connector=connector("PAUSED")))
    assert created_paused[:2] == (ConditionStatus.TRUE, ReadyReason.PAUSED)
    assert "no tasks" in created_paused[2]
    # A running connector with no tasks yet is not settled.
    assert kc_decide.ready_condition(spec(), observe(connector=connector("RUNNING")))[1] is (
        ReadyReason.PENDING
    )
    stopped = spec(state="stopped")
    assert kc_decide.ready_condition(stopped, observe(connector=connector("STOPPED")))[:2] == (
        ConditionStatus.TRUE,
        ReadyReason.STOPPED,
    )
    # A failed task outranks the wanted state.
    failing = observe(connector=connector("PAUSED", "FAILED"))
    assert kc_decide.ready_condition(paused, failing)[1] is ReadyReason.TASK_FAILED


def test_scaled_to_zero_is_ready_once_no_worker_pod_runs() -> None:
    status, why, message = kc_decide.ready_condition(
        spec(replicas=0), observe(workers_ready=0, replicas=0, connector=None)
    )
    assert (status, why) == (ConditionStatus.TRUE, ReadyReason.SCALED_TO_ZERO)
    assert "scaled to zero" in message
    # Pods still running: on the way, not there.
    stopping = kc_decide.ready_condition(spec(replicas=0), observe(workers_ready=1, replicas=1))
    assert stopping[:2] == (ConditionStatus.FALSE, ReadyReason.PENDING)
    # A failure to apply the children still outranks it.
    refused = kc_decide.ready_condition(
        spec(replicas=0), observe(workers_ready=0, replicas=0, apply_error="refused")
    )
    assert refused[1] is ReadyReason.APPLY_FAILED


def build(obs: Observation, previous: Any = None, now: datetime = NOW) -> Any:
    return kc_decide.build_status(
        spec(),
        obs,
        selector="a=b",
        previous=previous,
        auto_restart_status=None,
        now=now,
    )


def test_status_counts_and_the_transition_time_moves_only_on_change() -> None:
    first = build(observe(connector=connector("RUNNING", "RUNNING", "UNASSIGNED")))
    assert (first.tasks_ready, first.workers_ready, first.replicas) == (1, 2, 2)
    assert first.observed_generation == 3
    assert first.selector == "a=b"
    later = NOW + timedelta(minutes=1)
    still_pending = build(
        observe(connector=connector("UNASSIGNED", "UNASSIGNED", "UNASSIGNED")), first, later
    )
    assert still_pending.conditions[0].last_transition_time == "2026-01-02T03:04:05Z"
    ready = build(observe(), still_pending, later)
    assert ready.conditions[0].status is ConditionStatus.TRUE
    assert ready.conditions[0].last_transition_time == "2026-01-02T03:05:05Z"


def test_status_patch_is_none_when_unchanged_and_removes_stale_keys() -> None:
    status = build(observe())
    body = core_status.status_body(status)
    assert core_status.status_patch(status, body) is None
    # Keys the operator does not own (none are written, but a stale one may exist) are ignored.
    assert core_status.status_patch(status, {**body, "kopf": {"x": 1}}) is None
    gone = build(observe(workers_ready=0, connector=None))
    patch = core_status.status_patch(gone, body)
    assert patch is not None
    assert patch["status"]["connectorState"] is None
    assert patch["status"]["workersReady"] == 0


def test_connector_status_from_the_rest_body_trims_traces() -> None:
    raw = {
        "name": "x",
        "connector": {"state": "RUNNING", "worker_id": "w1:8083"},
        "tasks": [
            {"id": 1, "state": "FAILED", "worker_id": "w2:8083", "trace": "E" * 5000},
            {"id": 0, "state": "RUNNING", "worker_id": "w1:8083"},
        ],
        "type": "source",
    }
    parsed = core_status.connector_status(raw)
    assert parsed.state == "RUNNING"
    assert [t.id for t in parsed.tasks] == [0, 1]
    assert parsed.tasks[1].trace is not None
    assert len(parsed.tasks[1].trace) <= 2000
    assert parsed.tasks[1].trace.endswith("(trimmed)")


# --- what deletionPolicy Delete removes


def test_kafka_state_names_the_topics_and_groups() -> None:
    owner = kc_build.Owner(name="orders", namespace="team-a", uid="u")
    state = cleanup.kafka_state(spec(), "team-a", "orders", kc_build.sink_group(spec(), owner))
    assert state.topics[:3] == (
        "kconnect.team-a.orders.configs",
        "kconnect.team-a.orders.offsets",
        "kconnect.team-a.orders.status",
    )
    assert state.topics[3].startswith("kconnect_team-a_orders-tasks-orders-")
    assert state.groups == ("kconnect.team-a.orders", "connect-team-a.orders")
    overridden = spec(config={"consumer.override.group.id": "mine"})
    group = kc_build.sink_group(overridden, owner)
    assert cleanup.kafka_state(overridden, "team-a", "orders", group).groups[1] == "mine"


def test_the_cleanup_client_uses_the_workers_security_settings() -> None:
    s = spec(workerConfig={"security.protocol": "SSL", "offset.flush.interval.ms": "100"})
    config = cleanup.client_config(s)
    assert config["bootstrap.servers"] == "kafka:9092"
    assert config["security.protocol"] == "SSL"
    assert "offset.flush.interval.ms" not in config


def test_deletion_keeps_what_another_resource_uses() -> None:
    mine = cleanup.KafkaState(topics=("a.configs", "shared.topic"), groups=("w", "connect-x"))
    others = {
        "ns2/x": cleanup.KafkaState(topics=("b.configs",), groups=("w2", "connect-x")),
        "ns3/y": cleanup.KafkaState(topics=("shared.topic",), groups=("w3",)),
    }
    left, kept = cleanup.shared(mine, others)
    assert left == cleanup.KafkaState(topics=("a.configs",), groups=("w",))
    assert kept == [
        "topic shared.topic (used by ns3/y)",
        "consumer group connect-x (used by ns2/x)",
    ]
    assert cleanup.shared(mine, {}) == (mine, [])


# --- why the workers are not ready (item: status names the cause)


def _worker_pod(name: str = "w-1", **container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {"containerStatuses": [{"name": "worker", **container}]},
    }


def test_a_container_that_cannot_start_says_why() -> None:
    missing = _worker_pod(
        state={
            "waiting": {
                "reason": "CreateContainerConfigError",
                "message": 'secret "db" not found',
            }
        }
    )
    assert core_status.worker_failure([missing], "worker") == (
        'pod w-1: CreateContainerConfigError: secret "db" not found'
    )
    pull = _worker_pod(state={"waiting": {"reason": "ImagePullBackOff", "message": "nope:1"}})
    assert core_status.worker_failure([pull], "worker") == "pod w-1: ImagePullBackOff: nope:1"
    # Waiting while it starts is no failure.
    creating = _worker_pod(state={"waiting": {"reason": "ContainerCreating"}})
    assert core_status.worker_failure([creating], "worker") is None


def test_a_crash_looping_worker_names_its_error_line() -> None:
    crashing = _worker_pod(
        state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={
            "terminated": {
                "exitCode": 1,
                "message": "starting\nkconnect: error: value.converter: no plugin 'Nope'\n",
            }
        },
    )
    assert core_status.worker_failure([crashing], "worker") == (
        "kconnect: error: value.converter: no plugin 'Nope'"
    )


def test_an_unschedulable_or_failed_pod_says_why() -> None:
    pending = {
        "metadata": {"name": "w-2"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient cpu.",
                }
            ],
        },
    }
    assert core_status.worker_failure([pending], "worker") == (
        "pod w-2 cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu."
    )
    evicted = {
        "metadata": {"name": "w-3"},
        "status": {"phase": "Failed", "reason": "Evicted", "message": "low on memory"},
    }
    assert (
        core_status.worker_failure([evicted], "worker") == "pod w-3 failed: Evicted: low on memory"
    )


def test_a_workload_that_cannot_create_pods_says_why() -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "c-connect"},
        "status": {
            "conditions": [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "message": 'pods "c-connect-1" is forbidden: exceeded quota',
                }
            ]
        },
    }
    assert core_status.workload_failure(deployment) == (
        'Deployment c-connect cannot create pods: pods "c-connect-1" is forbidden: exceeded quota'
    )
    assert core_status.workload_failure({"kind": "Deployment", "metadata": {"name": "x"}}) is None
    assert core_status.workload_failure(None) is None


def test_missing_references_are_named() -> None:
    assert core_status.missing_references(["db"], {}, ["site"], {"site": "1"}) == (
        "Secret db does not exist (referenced by spec.externalConfiguration)"
    )
    assert core_status.missing_references(["db"], {}, ["site"], {}) == (
        "Secret db, ConfigMap site do not exist (referenced by spec.externalConfiguration)"
    )
    assert core_status.missing_references(["db"], {"db": "1"}, [], {}) is None


def test_a_pod_failure_comes_before_a_missing_reference_and_the_workload() -> None:
    crashing = _worker_pod(state={"terminated": {"exitCode": 2, "message": "boom"}})
    assert (
        core_status.workers_cause([crashing], None, "worker", "Secret db does not exist") == "boom"
    )
    assert core_status.workers_cause([], None, "worker", "Secret db does not exist") == (
        "Secret db does not exist"
    )
    assert core_status.workers_cause([], None, "worker", None) is None


def test_the_ready_condition_names_the_cause() -> None:
    failing = observe(workers_ready=0, connector=None, workers_failure="kconnect: error: bad")
    assert kc_decide.ready_condition(spec(), failing) == (
        ConditionStatus.FALSE,
        ReadyReason.WORKER_FAILED,
        "kconnect: error: bad",
    )
    refused = observe(apply_error="the API server refused Deployment x: invalid")
    assert kc_decide.ready_condition(spec(), refused)[1:] == (
        ReadyReason.APPLY_FAILED,
        "the API server refused Deployment x: invalid",
    )
    # An invalid worker config outranks the workers it leaves not ready.
    invalid = observe(workers_ready=0, connector=None, config_error="spec.workerConfig: bad")
    assert kc_decide.ready_condition(spec(), invalid)[1] is ReadyReason.INVALID_CONFIG
    # Without a cause, the count.
    plain = observe(workers_ready=0, connector=None)
    assert kc_decide.ready_condition(spec(replicas=2), plain)[2] == "0/2 worker pods are ready"


def test_an_unassigned_connector_does_not_pass_stale_task_states_off_as_running() -> None:
    obs = observe(connector=connector("UNASSIGNED", *["RUNNING"] * 6))
    status, reason, message = kc_decide.ready_condition(spec(tasksMax=6), obs)
    assert (status, reason) == (ConditionStatus.FALSE, ReadyReason.PENDING)
    assert "UNASSIGNED: no worker runs it" in message
    assert "(6 RUNNING) are stale" in message
    assert "6/6 tasks RUNNING" not in message


def test_a_new_cause_is_one_warning_event() -> None:
    first = build(observe(workers_ready=0, connector=None, workers_failure="boom"))
    assert core_status.cause_event([], first.conditions) == ("WorkerFailed", "boom")
    # The same cause on the next pass: no second Event.
    assert core_status.cause_event(first.conditions, first.conditions) is None
    other = build(observe(workers_ready=0, connector=None, workers_failure="bang"), first)
    assert core_status.cause_event(first.conditions, other.conditions) == ("WorkerFailed", "bang")
    # Reasons that are no one's fault (still starting) are no Event.
    pending = build(observe(connector=None))
    assert core_status.cause_event([], pending.conditions) is None
