"""A KafkaConnector's pass, decided: tables of what was observed → the actions, the memory and the
status (`kafkaconnector.decide.decide`). No API server and no worker: `io.shell.act` carries the
actions out, and the e2e tests run them for real."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from kconnect_operator.core.actions import (
    Action,
    ApplyChildren,
    AutoRestartConnector,
    DeleteChild,
    MarkLeaving,
    Note,
    Outcome,
    RemoveAnnotations,
    Restart,
    RestartTask,
    SendCommand,
    SendConfig,
    SetLogLevels,
    Warn,
)
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import ConnectorStatus, LogLevel, ReadyReason, TaskStatus
from kconnect_operator.kafkaconnector.build import Owner
from kconnect_operator.kafkaconnector.decide import (
    Memory,
    Observed,
    connector_config,
    decide,
    leaving_pods,
    pod_ordinal,
)
from kconnect_operator.kafkaconnector.handlers import desired_workers
from kconnect_operator.kafkaconnector.model import (
    AutoRestartStatus,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    TargetState,
    TaskRestarts,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OWNER = Owner(name="orders", namespace="shop", uid="u-1")
NAME = OWNER.name


def spec(**extra: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", **extra}
    )


def pod(name: str, ip: str, *, config_hash: str = "h1") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "annotations": {"kconnect.io/config-hash": config_hash}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "podIP": ip},
    }


WORKER = pod("orders-connect-a", "10.0.0.1")


def running(*tasks: str, state: str = "RUNNING") -> ConnectorStatus:
    return ConnectorStatus(
        state=state,
        worker="10.0.0.1:8083",
        tasks=[TaskStatus(id=i, state=t, worker="10.0.0.1:8083") for i, t in enumerate(tasks)],
    )


def observed(**overrides: Any) -> Observed:
    the_spec = overrides.pop("spec", None) or spec()
    base: dict[str, Any] = {
        "spec": the_spec,
        "owner": OWNER,
        "generation": 1,
        "annotations": {},
        "previous": None,
        "options": OperatorOptions(),
        "secret_versions": {},
        "config_map_versions": {},
        "live": {},
        "pods": [WORKER],
        "memory": Memory(),
        "now": NOW,
        "config": connector_config(the_spec, NAME),
        "connector": running("RUNNING"),
    }
    base.update(overrides)
    return Observed(**base)


def rest_actions(actions: tuple[Action, ...]) -> list[Action]:
    """The actions after applying the children (every decision starts by applying them)."""
    assert isinstance(actions[0], ApplyChildren)
    return list(actions[1:])


def reason(status: KafkaConnectorStatus) -> str:
    (condition,) = status.conditions
    return condition.reason


# -- observation → actions


def test_no_ready_worker_only_applies_the_children() -> None:
    decision = decide(observed(pods=[], config=None, connector=None))
    assert [type(a) for a in decision.actions] == [ApplyChildren]
    assert not decision.ready
    assert reason(decision.status) == ReadyReason.WORKERS_NOT_READY


SENT = connector_config(spec(), NAME)


@pytest.mark.parametrize(
    ("overrides", "actions"),
    [
        # A settled connector that holds the spec: nothing to send.
        ({}, []),
        # Missing: created, running.
        ({"config": None, "connector": None}, [SendConfig(NAME, SENT, None, "created")]),
        # Missing and asked to stay paused: created with its initial state.
        (
            {"config": None, "connector": None, "spec": spec(state="paused")},
            [SendConfig(NAME, connector_config(spec(state="paused"), NAME), "PAUSED", "created")],
        ),
        # Running but asked to pause: the command only.
        ({"spec": spec(state="paused")}, [SendCommand(NAME, "pause")]),
        # A changed config is sent; the status read before it decides no command yet.
        (
            {"config": {**SENT, "tasks.max": "7"}, "spec": spec(state="paused")},
            [SendConfig(NAME, connector_config(spec(state="paused"), NAME), None, "updated")],
        ),
        # Restart requests, carried out and removed.
        (
            {
                "annotations": {
                    "kconnect.io/restart": "includeTasks",
                    "kconnect.io/restart-task": "2",
                }
            },
            [
                Restart(NAME, include_tasks=True, only_failed=False),
                RestartTask(NAME, 2),
                RemoveAnnotations(("kconnect.io/restart", "kconnect.io/restart-task")),
            ],
        ),
        # A bad request: a Warning, and removed.
        (
            {"annotations": {"kconnect.io/restart-task": "first"}},
            [
                Warn(
                    "InvalidAnnotation",
                    "annotation kconnect.io/restart-task='first': expected a task number such as 0",
                ),
                RemoveAnnotations(("kconnect.io/restart-task",)),
            ],
        ),
        # A failed task with auto-restart on: the first restart at once.
        (
            {
                "spec": spec(autoRestart={"enabled": True}),
                "connector": running("RUNNING", "FAILED"),
            },
            [AutoRestartConnector(NAME, 1)],
        ),
        # The workers' REST API did not answer the reads: nothing is sent.
        ({"rest_error": "connection refused", "config": None, "connector": None}, []),
    ],
)
def test_what_is_sent_to_the_workers(overrides: dict[str, Any], actions: list[Action]) -> None:
    assert rest_actions(decide(observed(**overrides)).actions) == actions


def test_a_rejected_config_is_not_sent_again_to_the_same_workers() -> None:
    held = {**SENT, "tasks.max": "9"}
    memory = Memory(rejected=SENT, rejected_by=frozenset({"h1"}), config_error="bad key")
    decision = decide(observed(config=held, memory=memory))
    assert rest_actions(decision.actions) == []
    assert reason(decision.status) == ReadyReason.INVALID_CONFIG
    # Workers with another worker config are asked again.
    again = decide(
        observed(config=held, memory=memory, pods=[pod("b", "10.0.0.2", config_hash="h2")])
    )
    assert rest_actions(again.actions) == [SendConfig(NAME, SENT, None, "updated")]
    assert again.memory.rejected is None


def test_log_levels_are_set_where_a_worker_differs() -> None:
    wanted = spec(logging={"loggers": {"kconnect.worker": "DEBUG"}})
    decision = decide(
        observed(
            spec=wanted,
            pods=[WORKER, pod("orders-connect-b", "10.0.0.2")],
            loggers={
                "orders-connect-a": {"kconnect.worker": "INFO"},
                "orders-connect-b": {"kconnect.worker": "DEBUG"},
            },
        )
    )
    assert rest_actions(decision.actions) == [
        SetLogLevels(
            "orders-connect-a", "http://10.0.0.1:8083", (("kconnect.worker", LogLevel.DEBUG),)
        )
    ]
    assert decision.status.applied_loggers == ["kconnect.worker"]


def test_a_worker_whose_levels_cannot_be_read_keeps_removed_loggers_remembered() -> None:
    previous = KafkaConnectorStatus(appliedLoggers=["kconnect.old"])
    decision = decide(
        observed(previous=previous, loggers={"orders-connect-a": "connection refused"})
    )
    assert rest_actions(decision.actions) == []
    assert decision.status.applied_loggers == ["kconnect.old"]


# -- what came of the actions → the status and the memory


def test_a_config_the_workers_reject_is_remembered_and_named_in_ready() -> None:
    o = observed(config=None, connector=None)
    decision = decide(o, Outcome(rest_done=0, config_rejected="Connector class Nope not found"))
    assert decision.memory == Memory(
        rejected=SENT, rejected_by=frozenset({"h1"}), config_error="Connector class Nope not found"
    )
    assert reason(decision.status) == ReadyReason.INVALID_CONFIG
    assert "Nope" in decision.status.conditions[0].message


def test_only_a_state_that_was_sent_is_remembered() -> None:
    paused = spec(state="paused")
    o = observed(spec=paused, config=None, connector=None)
    assert decide(o).memory.last_sent_state is TargetState.PAUSED
    failed = decide(o, Outcome(rest_done=0, unreachable="the workers' REST API: timed out"))
    assert failed.memory.last_sent_state is None
    assert reason(failed.status) == ReadyReason.PENDING
    assert failed.status.conditions[0].message == "the workers' REST API: timed out"


def test_an_auto_restart_that_failed_keeps_the_previous_record() -> None:
    record = AutoRestartStatus(count=1, lastRestartTime="2026-01-01T00:00:00Z")
    o = observed(
        spec=spec(autoRestart={"enabled": True}),
        connector=running("FAILED"),
        previous=KafkaConnectorStatus(autoRestart=record),
    )
    assert rest_actions(decide(o).actions) == [AutoRestartConnector(NAME, 2)]
    assert decide(o).status.auto_restart == AutoRestartStatus(
        count=2, lastRestartTime="2026-01-02T03:04:05Z", tasks=[TaskRestarts(id=0, count=1)]
    )
    assert [t.retry_count for t in decide(o).status.failed_tasks] == [1]
    failed = decide(o, Outcome(rest_done=0, unreachable="the workers' REST API: timed out"))
    assert failed.status.auto_restart == record


def test_a_refused_child_is_named_in_ready() -> None:
    decision = decide(
        observed(), Outcome(apply_error="the API server refused Deployment orders-connect: no")
    )
    assert reason(decision.status) == ReadyReason.APPLY_FAILED


def test_the_decision_is_a_function_of_what_was_observed() -> None:
    o = observed(spec=spec(state="paused"))
    assert decide(o) == decide(dataclasses.replace(o))


# -- stable identities: a scale-down's pods leave the group, an earlier Deployment is replaced


def stateful_set(replicas: int, *, ready: int | None = None, generation: int = 2) -> dict[str, Any]:
    ready = replicas if ready is None else ready
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "orders-connect", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": ready,
            "currentRevision": "orders-connect-1",
            "updateRevision": "orders-connect-1",
        },
    }


def stateful_pod(ordinal: int, *, phase: str = "Running", deleting: bool = False) -> dict[str, Any]:
    p = pod(f"orders-connect-{ordinal}", f"10.0.0.{ordinal + 1}")
    p["status"]["phase"] = phase
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-01-02T03:04:00Z"
    return p


def old_deployment(owner_uid: str = OWNER.uid) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "orders-connect",
            "ownerReferences": [{"uid": owner_uid, "controller": True, "kind": "KafkaConnector"}],
        },
    }


RECONCILED = KafkaConnectorStatus.model_validate(
    {"conditions": [{"type": "Ready", "status": "True", "reason": "Running", "message": "ok"}]}
)


def workload_actions(decision_actions: tuple[Action, ...]) -> list[Action]:
    return [a for a in decision_actions if isinstance(a, MarkLeaving | DeleteChild | Note)]


def test_a_scale_down_marks_the_pods_it_removes_before_the_lower_count_is_applied() -> None:
    pods = [stateful_pod(i) for i in range(4)]
    o = observed(
        spec=spec(replicas=2),
        pods=pods,
        live={"StatefulSet/orders-connect": stateful_set(4)},
    )
    actions = decide(o).actions
    assert actions[0] == MarkLeaving(("orders-connect-2", "orders-connect-3"), "worker")
    assert isinstance(actions[1], ApplyChildren)
    (applied,) = [c for c in actions[1].plan.apply if c["kind"] == "StatefulSet"]
    assert applied["spec"]["replicas"] == 2


@pytest.mark.parametrize(
    ("replicas", "live", "pods"),
    [
        # Not scaling down: a roll, a scale-up, or a StatefulSet at its count.
        (3, 3, [stateful_pod(i) for i in range(3)]),
        (3, 1, [stateful_pod(0)]),
        # No StatefulSet yet.
        (1, None, [stateful_pod(0)]),
        # The pods to remove are already stopping or not running: nothing to mark.
        (1, 3, [stateful_pod(0), stateful_pod(1, deleting=True), stateful_pod(2, phase="Pending")]),
    ],
)
def test_nothing_is_marked_unless_running_pods_are_about_to_be_removed(
    replicas: int, live: int | None, pods: list[dict[str, Any]]
) -> None:
    workloads = {} if live is None else {"StatefulSet/orders-connect": stateful_set(live)}
    o = observed(spec=spec(replicas=replicas), pods=pods, live=workloads)
    assert workload_actions(decide(o).actions) == []


def test_another_pod_whose_name_shares_the_prefix_is_never_marked() -> None:
    assert (
        leaving_pods(
            stateful_set(3), [pod("orders-connect-config-1", "1.2.3.4")], 1, "orders-connect"
        )
        == ()
    )
    assert pod_ordinal("orders-connect-01", "orders-connect") is None
    assert pod_ordinal("orders-connect-12", "orders-connect") == 12


def test_a_resource_an_earlier_operator_ran_moves_to_a_stateful_set_then_loses_its_deployment() -> (
    None
):
    # First pass: the StatefulSet is made next to the Deployment; that is no deleted child.
    first = decide(
        observed(
            spec=spec(replicas=2),
            previous=RECONCILED,
            live={"Deployment/orders-connect": old_deployment()},
        )
    )
    assert isinstance(first.actions[0], ApplyChildren)
    assert "StatefulSet/orders-connect" in [
        f"{c['kind']}/{c['metadata']['name']}" for c in first.actions[0].plan.apply
    ]
    assert all(key != "StatefulSet/orders-connect" for key, _ in first.actions[0].plan.repaired)
    (note,) = workload_actions(first.actions)
    assert isinstance(note, Note)
    assert note.reason == "Migrating"
    # While the StatefulSet's pods are not all ready, the Deployment stays: the cluster keeps
    # running its tasks in the one group.
    for workload in (
        stateful_set(2, ready=1),
        stateful_set(2, generation=3) | {"metadata": {"name": "orders-connect", "generation": 4}},
    ):
        waiting = decide(
            observed(
                spec=spec(replicas=2),
                previous=RECONCILED,
                live={
                    "Deployment/orders-connect": old_deployment(),
                    "StatefulSet/orders-connect": workload,
                },
            )
        )
        assert workload_actions(waiting.actions) == []
    # Up: the Deployment is deleted.
    done = decide(
        observed(
            spec=spec(replicas=2),
            previous=RECONCILED,
            live={
                "Deployment/orders-connect": old_deployment(),
                "StatefulSet/orders-connect": stateful_set(2),
            },
        )
    )
    (delete,) = workload_actions(done.actions)
    assert isinstance(delete, DeleteChild)
    assert (delete.api_version, delete.kind, delete.name) == (
        "apps/v1",
        "Deployment",
        "orders-connect",
    )
    assert delete.reason == "Migrated"


def test_a_deployment_of_the_same_name_that_the_resource_does_not_own_is_left_alone() -> None:
    o = observed(
        previous=RECONCILED,
        live={
            "Deployment/orders-connect": old_deployment(owner_uid="someone-else"),
            "StatefulSet/orders-connect": stateful_set(1),
        },
    )
    assert workload_actions(decide(o).actions) == []


def test_a_deleted_stateful_set_is_reported_as_such() -> None:
    decision = decide(observed(previous=RECONCILED, live={}))
    plan = decision.actions[0]
    assert isinstance(plan, ApplyChildren)
    assert (
        "StatefulSet/orders-connect",
        "StatefulSet orders-connect was deleted: recreated it",
    ) in plan.plan.repaired


def test_the_workers_a_connector_asks_for_are_its_own_or_its_clusters() -> None:
    """`kconnect_operator_connector_workers_desired`, which the KConnectWorkersBelowSpec alert
    compares with the ready workers."""
    assert desired_workers(observed(spec=spec(replicas=3))) == 3
    on_cluster = KafkaConnectorSpec.model_validate({"class": "DataGen", "cluster": "shared"})
    assert desired_workers(observed(spec=on_cluster, cluster_replicas=4)) == 4
    assert desired_workers(observed(spec=on_cluster, cluster_replicas=None)) == 0
