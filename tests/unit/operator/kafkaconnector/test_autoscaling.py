"""Autoscaling a KafkaConnector: `tasks.max` following the workers (`tasksPerReplica`), scaling to
zero, and a paused or stopped connector held against an autoscaler's scale-ups
(`kafkaconnector.decide`). The scale subresource itself, with a real HorizontalPodAutoscaler, is
in `e2e/test_autoscaling.py`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kconnect_operator.core.actions import (
    Action,
    ApplyChildren,
    MarkLeaving,
    SendCommand,
    SendConfig,
)
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import ConnectorStatus, ReadyReason, TaskStatus
from kconnect_operator.crdgen import openapi_schema
from kconnect_operator.kafkaconnector.build import Owner, default_sink_group
from kconnect_operator.kafkaconnector.decide import (
    Decision,
    Memory,
    Observed,
    connector_config,
    decide,
    tasks_max,
)
from kconnect_operator.kafkaconnector.model import KafkaConnector, KafkaConnectorSpec

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OWNER = Owner(name="orders", namespace="shop", uid="u-1")
NAME = OWNER.name


def spec(**extra: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "FileStreamSink", "bootstrapServers": "kafka:9092", **extra}
    )


def running(*tasks: str, state: str = "RUNNING") -> ConnectorStatus:
    return ConnectorStatus(
        state=state,
        worker="10.0.0.1:8083",
        tasks=[TaskStatus(id=i, state=t, worker="10.0.0.1:8083") for i, t in enumerate(tasks)],
    )


def stateful_set(replicas: int) -> dict[str, Any]:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "orders-connect"},
        "spec": {"replicas": replicas},
    }


def stateful_pod(ordinal: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"orders-connect-{ordinal}",
            "annotations": {"kconnect.io/config-hash": "h1"},
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "podIP": f"10.0.0.{ordinal + 1}",
        },
    }


def observed(**overrides: Any) -> Observed:
    the_spec = overrides.pop("spec")
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
        "pods": [stateful_pod(0)],
        "memory": Memory(),
        "now": NOW,
        "config": connector_config(the_spec, NAME),
        "connector": running("RUNNING"),
    }
    base.update(overrides)
    return Observed(**base)


LIVE = "StatefulSet/orders-connect"


def applied_replicas(decision: Decision) -> int:
    (apply,) = [a for a in decision.actions if isinstance(a, ApplyChildren)]
    (workload,) = [c for c in apply.plan.apply if c["kind"] == "StatefulSet"]
    return int(workload["spec"]["replicas"])


def rest(decision: Decision) -> list[Action]:
    return [a for a in decision.actions if isinstance(a, SendConfig | SendCommand)]


def condition(decision: Decision) -> tuple[str, str, str]:
    (ready,) = decision.status.conditions
    return ready.status, ready.reason, ready.message


# -- tasks follow the workers


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tasksMax": 4, "replicas": 3}, 4),  # unset: tasksMax, whatever the workers
        ({"tasksMax": 4, "replicas": 3, "tasksPerReplica": 1}, 3),  # tasksMax is not used
        ({"replicas": 3, "tasksPerReplica": 2}, 6),
        ({"replicas": 0, "tasksPerReplica": 2}, 2),  # never 0, which Kafka Connect refuses
    ],
)
def test_tasks_max_follows_the_replicas_when_tasks_per_replica_is_set(
    fields: dict[str, Any], expected: int
) -> None:
    s = spec(**fields)
    assert tasks_max(s) == expected
    assert connector_config(s, NAME)["tasks.max"] == str(expected)


def test_a_scale_up_sends_the_new_tasks_max_with_the_new_worker_count() -> None:
    before = spec(replicas=1, tasksPerReplica=2)
    after = spec(replicas=3, tasksPerReplica=2)
    o = observed(
        spec=after,
        config=connector_config(before, NAME),
        live={LIVE: stateful_set(1)},
        pods=[stateful_pod(0)],
    )
    decision = decide(o)
    assert applied_replicas(decision) == 3
    assert rest(decision) == [SendConfig(NAME, connector_config(after, NAME), None, "updated")]
    assert connector_config(after, NAME)["tasks.max"] == "6"


def test_tasks_per_replica_is_checked_by_the_models_and_the_crd() -> None:
    with pytest.raises(ValidationError, match="tasksPerReplica"):
        spec(tasksPerReplica=0)
    schema = openapi_schema()
    field = schema["properties"]["spec"]["properties"]["tasksPerReplica"]
    assert field["type"] == "integer"
    assert field["minimum"] == 1
    assert "default" not in field


# -- scale to zero


def test_scaled_to_zero_applies_no_workers_and_is_ready_as_such() -> None:
    decision = decide(
        observed(
            spec=spec(replicas=0),
            pods=[],
            config=None,
            connector=None,
            live={LIVE: stateful_set(0)},
        )
    )
    assert applied_replicas(decision) == 0
    assert rest(decision) == []
    assert decision.ready
    status, why, message = condition(decision)
    assert (status, why) == ("True", ReadyReason.SCALED_TO_ZERO)
    assert "offsets stay in Kafka" in message
    assert decision.status.replicas == 0
    assert decision.status.connector_state is None


def test_scaling_to_zero_marks_the_workers_and_sends_them_nothing() -> None:
    # The connector's config differs (tasks.max would follow) and a worker is still ready: no
    # config goes to workers that are about to stop; the config in Kafka stays as it was.
    before = spec(replicas=2, tasksPerReplica=1)
    pods = [stateful_pod(0), stateful_pod(1)]
    decision = decide(
        observed(
            spec=spec(replicas=0, tasksPerReplica=1, state="running"),
            pods=pods,
            config=connector_config(before, NAME),
            connector=running("RUNNING", "RUNNING"),
            live={LIVE: stateful_set(2)},
        )
    )
    assert decision.actions[0] == MarkLeaving(("orders-connect-0", "orders-connect-1"), "worker")
    assert applied_replicas(decision) == 0
    assert rest(decision) == []
    status, why, _ = condition(decision)
    assert (status, why) == ("False", ReadyReason.PENDING)


# -- paused and stopped connectors are not scaled up


@pytest.mark.parametrize(("state", "settled"), [("paused", "PAUSED"), ("stopped", "STOPPED")])
def test_an_autoscaler_does_not_scale_up_a_paused_or_stopped_connector(
    state: str, settled: str
) -> None:
    wanted = spec(replicas=4, tasksPerReplica=1, state=state)
    at_one = spec(replicas=1, tasksPerReplica=1, state=state)
    decision = decide(
        observed(
            spec=wanted,
            pods=[stateful_pod(0)],
            config=connector_config(at_one, NAME),
            connector=running(*(["PAUSED"] if state == "paused" else []), state=settled),
            live={LIVE: stateful_set(1)},
        )
    )
    # The workers stay, tasks.max is not raised, and nothing resumes the connector.
    assert applied_replicas(decision) == 1
    assert rest(decision) == []
    status, why, message = condition(decision)
    assert status == "True"
    assert why in (ReadyReason.PAUSED, ReadyReason.STOPPED)
    assert f"spec.replicas 4 is held at 1 while the connector is {state}" in message


def test_a_paused_connector_may_be_scaled_down_and_stays_down() -> None:
    paused = spec(replicas=1, state="paused")
    pods = [stateful_pod(i) for i in range(3)]
    down = decide(observed(spec=paused, pods=pods, live={LIVE: stateful_set(3)}))
    assert down.actions[0] == MarkLeaving(("orders-connect-1", "orders-connect-2"), "worker")
    assert applied_replicas(down) == 1
    # Raised again while still paused: held at what runs.
    again = decide(observed(spec=spec(replicas=3, state="paused"), live={LIVE: stateful_set(1)}))
    assert applied_replicas(again) == 1


def test_resumed_the_workers_follow_the_replicas_again() -> None:
    decision = decide(
        observed(spec=spec(replicas=4, tasksPerReplica=1), live={LIVE: stateful_set(1)})
    )
    assert applied_replicas(decision) == 4
    assert "held" not in condition(decision)[2]


def test_a_paused_connector_without_workers_yet_gets_its_replicas() -> None:
    decision = decide(observed(spec=spec(replicas=2, state="paused"), pods=[], live={}))
    assert applied_replicas(decision) == 2


def test_paused_at_zero_stays_scaled_to_zero() -> None:
    decision = decide(
        observed(
            spec=spec(replicas=3, state="paused"),
            pods=[],
            config=None,
            connector=None,
            live={LIVE: stateful_set(0)},
        )
    )
    assert applied_replicas(decision) == 0
    status, why, message = condition(decision)
    assert (status, why) == ("True", ReadyReason.SCALED_TO_ZERO)
    assert "held at 0" in message


# -- the example


def test_the_keda_example_targets_the_resource_and_its_sink_group() -> None:
    path = Path(__file__).resolve().parents[4] / "examples" / "connector-autoscaled.yaml"
    connector, scaled = yaml.safe_load_all(path.read_text("utf-8"))
    resource = KafkaConnector.model_validate(connector)
    assert resource.spec.tasks_per_replica == 1
    assert "replicas" not in connector["spec"], "the autoscaler owns spec.replicas"
    meta = resource.metadata
    assert scaled["kind"] == "ScaledObject"
    assert scaled["metadata"]["namespace"] == meta.namespace
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": resource.api_version,
        "kind": "KafkaConnector",
        "name": meta.name,
    }
    assert scaled["spec"]["minReplicaCount"] == 0
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    settings = trigger["metadata"]
    assert settings["consumerGroup"] == default_sink_group(meta.namespace, meta.name)
    assert settings["topic"] == resource.spec.config["topics"]
    assert settings["bootstrapServers"] == resource.spec.bootstrap_servers
    assert settings["allowIdleConsumers"] == "false"
    assert settings["offsetResetPolicy"] == "earliest"
