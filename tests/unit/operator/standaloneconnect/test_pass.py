"""A StandaloneConnect's pass, decided: what was observed → the actions and the status
(`standaloneconnect.decide.decide`), with no API server and no worker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kconnect_operator.core.actions import ApplyChildren, Outcome, SetLogLevels
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import LogLevel
from kconnect_operator.standaloneconnect.build import Owner, config_hash
from kconnect_operator.standaloneconnect.decide import Observed, decide
from kconnect_operator.standaloneconnect.model import StandaloneConnectSpec

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OWNER = Owner(name="jobs", namespace="data", uid="u-1")


def spec(**extra: Any) -> StandaloneConnectSpec:
    return StandaloneConnectSpec.model_validate(
        {
            "bootstrapServers": "kafka:9092",
            "connectors": [{"name": "a", "class": "DataGen", "config": {"topic": "ta"}}],
            **extra,
        }
    )


def pod(config_hash: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "jobs-standalone-0",
            "annotations": {"kconnect.io/config-hash": config_hash},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "podIP": "10.0.0.1"},
    }


RUNNING = {
    "a": {
        "status": {
            "name": "a",
            "connector": {"state": "RUNNING", "worker_id": "10.0.0.1:8083"},
            "tasks": [{"id": 0, "state": "RUNNING", "worker_id": "10.0.0.1:8083"}],
        }
    }
}


def observed(the_spec: StandaloneConnectSpec | None = None, **overrides: Any) -> Observed:
    the_spec = the_spec or spec()
    base: dict[str, Any] = {
        "spec": the_spec,
        "owner": OWNER,
        "generation": 1,
        "previous": None,
        "options": OperatorOptions(),
        "secret_versions": {},
        "config_map_versions": {},
        "live": {},
        "pods": [pod(config_hash(the_spec, OWNER, {}, {}))],
        "now": NOW,
        "connectors": RUNNING,
    }
    base.update(overrides)
    return Observed(**base)


def test_a_current_pod_running_every_connector_is_ready_with_nothing_to_set() -> None:
    decision = decide(observed())
    assert [type(a) for a in decision.actions] == [ApplyChildren]
    assert decision.ready


def test_a_pod_running_an_older_config_is_not_ready() -> None:
    decision = decide(observed(pods=[pod("older")]))
    assert not decision.ready


def test_log_levels_are_set_on_the_worker_where_they_differ() -> None:
    wanted = spec(logging={"loggers": {"kconnect": "DEBUG"}})
    decision = decide(observed(wanted, loggers={"jobs-standalone-0": {"kconnect": "INFO"}}))
    assert decision.actions[1:] == (
        SetLogLevels("jobs-standalone-0", "http://10.0.0.1:8083", (("kconnect", LogLevel.DEBUG),)),
    )
    assert decision.status.applied_loggers == ["kconnect"]


def test_a_removed_logger_is_forgotten_only_once_the_worker_was_reset() -> None:
    from kconnect_operator.standaloneconnect.model import StandaloneConnectStatus

    previous = StandaloneConnectStatus(appliedLoggers=["kconnect.old"])
    seen = {"jobs-standalone-0": {"kconnect.old": "DEBUG", "root": "INFO"}}
    reset = decide(observed(previous=previous, loggers=seen))
    assert [type(a) for a in reset.actions] == [ApplyChildren, SetLogLevels]
    assert reset.status.applied_loggers is None
    failed = decide(
        observed(previous=previous, loggers=seen),
        Outcome(logger_failures=("jobs-standalone-0: timed out",)),
    )
    assert failed.status.applied_loggers == ["kconnect.old"]


def test_an_unreachable_worker_and_a_refused_child_say_so_in_ready() -> None:
    unreachable = decide(observed(connectors=None, rest_error="connection refused"))
    assert "the worker's REST API: connection refused" in unreachable.status.conditions[0].message
    refused = decide(observed(), Outcome(apply_error="the API server refused StatefulSet x: no"))
    assert refused.status.conditions[0].reason == "ApplyFailed"
