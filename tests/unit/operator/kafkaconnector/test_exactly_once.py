"""`spec.exactlyOnce` carried out as Kafka Connect's two rolls (`decide.exactly_once_phase`): each
step of a pass is decided from what was observed (the live StatefulSet), with no memory of its
own, so an operator that restarts mid-way carries on where it was."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from kconnect_operator.core.actions import ApplyChildren, Note
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.kafkaconnector.build import (
    EXACTLY_ONCE_ANNOTATION,
    Owner,
    build_children,
    worker_properties,
)
from kconnect_operator.kafkaconnector.decide import (
    Memory,
    Observed,
    connector_config,
    decide,
    exactly_once_phase,
    roll_finished,
)
from kconnect_operator.kafkaconnector.model import ExactlyOncePhase, KafkaConnectorSpec

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OWNER = Owner(name="orders", namespace="shop", uid="u-1")
KEY = "exactly.once.source.support"
DISABLED, PREPARING, ENABLED = (
    ExactlyOncePhase.DISABLED,
    ExactlyOncePhase.PREPARING,
    ExactlyOncePhase.ENABLED,
)


def spec(**extra: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", "replicas": 2, **extra}
    )


def stateful_set(
    running: str | None,
    replicas: int = 2,
    *,
    ready: int | None = None,
    updated: int | None = None,
    rolled: bool = True,
    generation: int = 3,
    observed_generation: int | None = None,
) -> dict[str, Any]:
    """A live StatefulSet whose template runs `running` (its annotation; None: none, as an
    earlier operator's or a disabled one)."""
    annotations = {} if running is None else {EXACTLY_ONCE_ANNOTATION: running}
    return {
        "kind": "StatefulSet",
        "metadata": {
            "name": "orders-connect",
            "generation": generation,
            "annotations": annotations,
        },
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": generation
            if observed_generation is None
            else observed_generation,
            "replicas": replicas,
            "readyReplicas": replicas if ready is None else ready,
            "updatedReplicas": replicas if updated is None else updated,
            "currentRevision": "orders-connect-a" if rolled else "orders-connect-b",
            "updateRevision": "orders-connect-a",
        },
    }


OLD_DEPLOYMENT = {
    "kind": "Deployment",
    "metadata": {
        "name": "orders-connect",
        "ownerReferences": [{"uid": OWNER.uid, "controller": True, "kind": "KafkaConnector"}],
    },
}


def observed(the_spec: KafkaConnectorSpec, live: dict[str, Any]) -> Observed:
    return Observed(
        spec=the_spec,
        owner=OWNER,
        generation=1,
        annotations={},
        previous=None,
        options=OperatorOptions(),
        secret_versions={},
        config_map_versions={},
        live=live,
        pods=[],
        memory=Memory(),
        now=NOW,
        config=connector_config(the_spec, OWNER.name),
    )


def applied(the_spec: KafkaConnectorSpec, workload: dict[str, Any] | None) -> dict[str, Any]:
    """What one pass decides: the worker key in the ConfigMap and the StatefulSet it applies, the
    phase in the status, and the Event."""
    live = {} if workload is None else {"StatefulSet/orders-connect": workload}
    decision = decide(observed(the_spec, live))
    apply = next(a for a in decision.actions if isinstance(a, ApplyChildren))
    by_kind = {c["kind"]: c for c in apply.plan.apply}
    config_map = by_kind.get("ConfigMap")
    sts = by_kind.get("StatefulSet")
    return {
        "worker": (
            None
            if config_map is None
            else next(
                (
                    line.split("=", 1)[1]
                    for line in config_map["data"]["worker.properties"].splitlines()
                    if line.startswith(f"{KEY}=")
                ),
                "(unset)",
            )
        ),
        "annotation": (
            None if sts is None else sts["metadata"]["annotations"].get(EXACTLY_ONCE_ANNOTATION)
        ),
        "status": decision.status.exactly_once,
        "notes": [a.reason for a in decision.actions if isinstance(a, Note)],
    }


# -- the phase, step by step


@pytest.mark.parametrize(
    ("want", "workload", "replicas", "migrating", "phase"),
    [
        # Off: disabled, whatever runs, at once (one roll).
        (False, None, 2, False, DISABLED),
        (False, stateful_set("enabled"), 2, False, DISABLED),
        (False, stateful_set("preparing", rolled=False), 2, False, DISABLED),
        # A new cluster has nothing to prepare.
        (True, None, 2, False, ENABLED),
        # Running workers without it: the first roll.
        (True, stateful_set(None), 2, False, PREPARING),
        # The first roll under way: a pod still on the old revision, one not ready, one not
        # updated, the controller behind the spec.
        (True, stateful_set("preparing", rolled=False), 2, False, PREPARING),
        (True, stateful_set("preparing", ready=1), 2, False, PREPARING),
        (True, stateful_set("preparing", updated=1), 2, False, PREPARING),
        (True, stateful_set("preparing", observed_generation=2), 2, False, PREPARING),
        # Every worker runs preparing: the second roll.
        (True, stateful_set("preparing"), 2, False, ENABLED),
        # Enabled stays enabled through a scale change or a roll for another cause.
        (True, stateful_set("enabled", rolled=False), 3, False, ENABLED),
        # A scale change during the first roll: wait for the new count to be up and ready.
        (True, stateful_set("preparing", 2), 3, False, PREPARING),
        (True, stateful_set("preparing", 3, ready=2), 3, False, PREPARING),
        (True, stateful_set("preparing", 3), 3, False, ENABLED),
        (True, stateful_set("preparing", 3), 1, False, PREPARING),
        (True, stateful_set("preparing", 1), 1, False, ENABLED),
        # An earlier operator's Deployment still runs workers without it.
        (True, None, 2, True, PREPARING),
        (True, stateful_set("preparing"), 2, True, PREPARING),
        # Turned on again while a roll to disabled is under way: prepare again.
        (True, stateful_set(None, rolled=False), 2, False, PREPARING),
        # An unknown annotation value counts as disabled: prepare.
        (True, stateful_set("maybe"), 2, False, PREPARING),
    ],
)
def test_the_phase_of_each_step(
    want: bool,
    workload: dict[str, Any] | None,
    replicas: int,
    migrating: bool,
    phase: ExactlyOncePhase,
) -> None:
    assert exactly_once_phase(want, workload, replicas, migrating=migrating) is phase


def test_a_roll_is_finished_only_with_every_count_at_replicas_and_one_revision() -> None:
    assert roll_finished(stateful_set("preparing"), 2)
    assert not roll_finished(None, 2)
    assert not roll_finished(stateful_set("preparing", rolled=False), 2)
    assert not roll_finished(stateful_set("preparing", ready=1), 2)
    assert not roll_finished(stateful_set("preparing", updated=3), 2)
    missing_revision = stateful_set("preparing")
    del missing_revision["status"]["updateRevision"]
    assert not roll_finished(missing_revision, 2)


# -- the whole change, pass by pass


def test_turned_on_for_running_workers_takes_two_rolls_with_an_event_each() -> None:
    on = spec(exactlyOnce=True)
    # The workers run without it: the first roll.
    first = applied(on, stateful_set(None))
    assert first == {
        "worker": "preparing",
        "annotation": "preparing",
        "status": PREPARING,
        "notes": ["ExactlyOncePreparing"],
    }
    # Under way: the same children again, no new Event.
    during = applied(on, stateful_set("preparing", ready=1, rolled=False))
    assert during == {**first, "notes": []}
    # Every worker runs preparing: the second roll.
    second = applied(on, stateful_set("preparing"))
    assert second == {
        "worker": "enabled",
        "annotation": "enabled",
        "status": ENABLED,
        "notes": ["ExactlyOnceEnabled"],
    }
    # Done: nothing more.
    assert applied(on, stateful_set("enabled")) == {**second, "notes": []}


def test_each_roll_changes_the_pod_template() -> None:
    on = spec(exactlyOnce=True)
    hashes = set()
    for phase in (DISABLED, PREPARING, ENABLED):
        children = build_children(
            on, OWNER, image="img", secret_versions={}, operator_namespace="ops", phase=phase
        )
        sts = children[-1]
        hashes.add(sts["spec"]["template"]["metadata"]["annotations"]["kconnect.io/config-hash"])
    assert len(hashes) == 3


def test_an_operator_that_restarts_mid_way_carries_on_from_the_stateful_set() -> None:
    on = spec(exactlyOnce=True)
    # A fresh decision (no memory, no previous status) over a StatefulSet in its first roll
    # keeps it there, then moves on once the roll has finished.
    assert applied(on, stateful_set("preparing", rolled=False))["worker"] == "preparing"
    assert applied(on, stateful_set("preparing"))["worker"] == "enabled"
    # And over one in its second roll, it never goes back to preparing.
    assert applied(on, stateful_set("enabled", ready=1, rolled=False))["worker"] == "enabled"


def test_turned_off_during_the_first_roll_goes_to_disabled_at_once() -> None:
    off = spec(exactlyOnce=False)
    result = applied(off, stateful_set("preparing", ready=1, rolled=False))
    assert result == {
        "worker": "(unset)",
        "annotation": None,
        "status": DISABLED,
        "notes": ["ExactlyOnceDisabled"],
    }


def test_a_scale_change_during_the_first_roll_waits_for_the_new_count() -> None:
    on = spec(exactlyOnce=True, replicas=3)
    # The StatefulSet still has 2 replicas: the 3rd pod is yet to start with preparing.
    assert applied(on, stateful_set("preparing", 2))["worker"] == "preparing"
    assert applied(on, stateful_set("preparing", 3, ready=2, updated=2))["worker"] == "preparing"
    assert applied(on, stateful_set("preparing", 3))["worker"] == "enabled"


def test_a_new_cluster_starts_enabled_and_one_that_never_turns_it_on_keeps_its_config() -> None:
    assert applied(spec(exactlyOnce=True), None) == {
        "worker": "enabled",
        "annotation": "enabled",
        "status": ENABLED,
        "notes": ["ExactlyOnceEnabled"],
    }
    # Disabled is the worker's default: the key is left out, so the config hash of clusters that
    # never turn it on does not change, and no Event is sent.
    assert applied(spec(), None) == {
        "worker": "(unset)",
        "annotation": None,
        "status": DISABLED,
        "notes": [],
    }
    assert KEY not in worker_properties(spec(), OWNER)


def test_the_worker_key_is_the_operators() -> None:
    with pytest.raises(ValidationError, match=KEY):
        spec(workerConfig={KEY: "enabled"})
    with pytest.raises(ValidationError, match="exactlyOnce"):
        spec(exactlyOnce="sometimes")


# -- a sink connector: accepted, and said so


def test_a_sink_connector_gets_an_exactly_once_condition_saying_it_has_no_effect() -> None:
    from kconnect_operator.core.status import connector_status

    def conditions(the_spec: KafkaConnectorSpec, kind: str | None) -> list[tuple[str, str, str]]:
        body = {
            "name": "orders",
            "connector": {"state": "RUNNING", "worker_id": "10.0.0.1:8083"},
            "tasks": [],
            **({} if kind is None else {"type": kind}),
        }
        o = observed(the_spec, {"StatefulSet/orders-connect": stateful_set("enabled")})
        worker = {
            "metadata": {"name": "orders-connect-0", "annotations": {}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "podIP": "10.0.0.1"},
        }
        o = dataclasses.replace(o, pods=[worker], connector=connector_status(body))
        return [(c.type, c.status, c.reason) for c in decide(o).status.conditions]

    sink = spec(exactlyOnce=True, **{"class": "FileStreamSink"})
    assert conditions(sink, "sink")[1:] == [("ExactlyOnce", "False", "SinkConnector")]
    # A source, a sink without exactlyOnce, or workers that do not say: no such condition.
    assert [c[0] for c in conditions(spec(exactlyOnce=True), "source")] == ["Ready"]
    assert [c[0] for c in conditions(spec(**{"class": "FileStreamSink"}), "sink")] == ["Ready"]
    assert [c[0] for c in conditions(sink, None)] == ["Ready"]
    assert connector_status({"connector": {"state": "RUNNING"}, "type": "other"}).type is None
