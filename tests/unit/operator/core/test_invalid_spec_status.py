"""A spec the models refuse where the CRD could not shows in the status, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

from kconnect_operator.core.shapes import Condition, ConditionStatus, ConnectorStatus
from kconnect_operator.core.status import cause_event, invalid_spec_status
from kconnect_operator.kafkaconnector.model import KafkaConnectorStatus
from kconnect_operator.standaloneconnect.model import StandaloneConnectStatus

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
MESSAGE = (
    "invalid spec: spec.config.transforms: Value error, expected a string, number or boolean, "
    "got a list"
)


def test_a_new_resource_gets_ready_false_invalid_config() -> None:
    for model in (KafkaConnectorStatus, StandaloneConnectStatus):
        status = invalid_spec_status(model, None, MESSAGE, generation=3, now=NOW)
        [ready] = status.conditions
        assert (ready.type, ready.status, ready.reason) == ("Ready", "False", "InvalidConfig")
        assert ready.message == MESSAGE
        assert ready.observed_generation == 3
        assert status.observed_generation == 3
        assert cause_event((), status.conditions) == ("InvalidConfig", MESSAGE)


def test_the_workers_last_report_is_kept_and_the_event_is_posted_once() -> None:
    running = Condition(
        type="Ready",
        status=ConditionStatus.TRUE,
        reason="Running",
        message="",
        last_transition_time="2026-01-01T00:00:00Z",
        observed_generation=2,
    )
    stored = KafkaConnectorStatus(
        conditions=[running],
        observed_generation=2,
        connector_state=ConnectorStatus(state="RUNNING", worker="w:8083"),
        tasks_ready=2,
    )
    status = invalid_spec_status(KafkaConnectorStatus, stored, MESSAGE, generation=3, now=NOW)
    assert status.connector_state == stored.connector_state
    assert status.tasks_ready == 2
    [ready] = status.conditions
    assert ready.reason == "InvalidConfig"
    assert ready.last_transition_time == "2026-01-02T03:04:05Z"
    again = invalid_spec_status(KafkaConnectorStatus, status, MESSAGE, generation=3, now=NOW)
    assert again == status
    assert cause_event(status.conditions, again.conditions) is None
