"""Offsets from the resource: the annotation `kconnect.io/connector-offsets` (list, alter, reset),
the ConfigMaps it reads, and `spec.initialOffsets`, decided as tables of what was observed → the
actions and the `Offsets` condition; the fields in the model and the generated CRD."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from kconnect_operator import crdgen
from kconnect_operator.core.actions import (
    AlterOffsets,
    ListOffsets,
    Outcome,
    RemoveAnnotations,
    ResetOffsets,
    SendCommand,
    SendConfig,
    Warn,
)
from kconnect_operator.io.shell import _refused_for_good
from kconnect_operator.io.worker_rest import WorkerRestError
from kconnect_operator.kafkaconnector.build import connector_sink_group
from kconnect_operator.kafkaconnector.decide import connector_config, decide
from kconnect_operator.kafkaconnector.model import (
    InitialOffsetsPhase,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    TargetState,
)
from kconnect_operator.kafkaconnector.offsets import (
    OFFSETS_ANNOTATION,
    OffsetsError,
    config_maps_to_read,
    parse_offsets,
)
from tests.unit.operator.kafkaconnector.test_pass import (
    NAME,
    OWNER,
    observed,
    rest_actions,
    running,
    spec,
)

ANN = OFFSETS_ANNOTATION
REMOVE = RemoveAnnotations((ANN,))
OFFSETS = {"offsets": [{"partition": {"filename": "/data/in.txt"}, "offset": {"position": 42}}]}
GOOD = {"offsets.json": json.dumps(OFFSETS)}
STOPPED = running(state="STOPPED")
LIST = {"listOffsets": {"toConfigMap": {"name": "orders-offsets"}}}
ALTER = {"alterOffsets": {"fromConfigMap": {"name": "orders-new-offsets"}}}
INITIAL = {"initialOffsets": {"fromConfigMap": {"name": "orders-start"}}}


def offsets_condition(status: KafkaConnectorStatus) -> tuple[str, str, str] | None:
    found = [c for c in status.conditions if c.type == "Offsets"]
    return (found[0].status, found[0].reason, found[0].message) if found else None


def test_list_writes_the_offsets_and_removes_the_annotation_in_any_state() -> None:
    d = decide(observed(spec=spec(**LIST), annotations={ANN: "list"}))
    assert rest_actions(d.actions) == [ListOffsets(NAME, "orders-offsets"), REMOVE]
    assert offsets_condition(d.status) == (
        "True",
        "OffsetsListed",
        "offsets listed into ConfigMap orders-offsets",
    )


@pytest.mark.parametrize(
    ("extra", "value", "connector", "maps", "expected"),
    [
        # alter and reset on a stopped connector
        ({**ALTER, "state": "stopped"}, "alter", STOPPED, {"orders-new-offsets": GOOD},
         [AlterOffsets(NAME, OFFSETS, "orders-new-offsets"), REMOVE]),
        ({"state": "stopped"}, "Reset", STOPPED, {}, [ResetOffsets(NAME), REMOVE]),
        # stopping: the request waits, and nothing is removed
        ({**ALTER, "state": "stopped"}, "alter", running("RUNNING"), {},
         [SendCommand(NAME, "stop")]),
        ({"state": "stopped"}, "reset", None, {}, []),
        # list waits for the connector to be known
        (LIST, "list", None, {}, []),
    ],
)  # fmt: skip
def test_alter_and_reset_need_the_connector_stopped(
    extra: dict[str, Any], value: str, connector: Any, maps: Any, expected: list[Any]
) -> None:
    o = observed(
        spec=spec(**extra), annotations={ANN: value}, connector=connector, offsets_config_maps=maps
    )
    assert rest_actions(decide(o).actions) == expected


@pytest.mark.parametrize(
    ("extra", "value", "maps", "message"),
    [
        ({}, "rewind", {}, "expected list, alter or reset"),
        ({}, "list", {}, "spec.listOffsets.toConfigMap.name is not set"),
        ({"state": "stopped"}, "alter", {}, "spec.alterOffsets.fromConfigMap.name is not set"),
        (ALTER, "alter", {},
         "alter needs the connector stopped: set spec.state to stopped (it is running)"),
        ({"state": "paused"}, "reset", {}, "reset needs the connector stopped"),
        ({**ALTER, "state": "stopped"}, "alter", {"orders-new-offsets": None},
         "ConfigMap 'orders-new-offsets' (named by spec.alterOffsets.fromConfigMap) does not "
         "exist"),
        ({**ALTER, "state": "stopped"}, "alter",
         {"orders-new-offsets": {"offsets.json": "{no"}},
         "key offsets.json: not JSON"),
    ],
)  # fmt: skip
def test_a_request_that_cannot_be_carried_out_is_refused_once(
    extra: dict[str, Any], value: str, maps: Any, message: str
) -> None:
    connector = STOPPED if extra.get("state") == "stopped" else running("RUNNING")
    if extra.get("state") == "paused":
        connector = running("PAUSED", state="PAUSED")
    o = observed(
        spec=spec(**extra),
        annotations={ANN: value},
        connector=connector,
        offsets_config_maps=maps,
    )
    d = decide(o)
    actions = rest_actions(d.actions)
    assert actions[-1] == REMOVE, "the annotation goes, so the request is not retried"
    (warning,) = [a for a in actions if isinstance(a, Warn)]
    assert warning.reason == "OffsetsFailed"
    assert message in warning.message
    assert not any(isinstance(a, AlterOffsets | ResetOffsets | ListOffsets) for a in actions)
    condition = offsets_condition(d.status)
    assert condition is not None
    assert condition[:2] == ("False", "OffsetsFailed")
    assert message in condition[2]
    # the next pass, without the annotation, decides nothing about offsets and keeps the cause
    again = decide(observed(spec=spec(**extra), connector=connector, previous=d.status))
    assert offsets_condition(again.status) == condition
    assert not [a for a in again.actions if isinstance(a, Warn | RemoveAnnotations)]


def test_a_refusal_by_the_workers_is_reported_and_the_annotation_still_goes() -> None:
    o = observed(
        spec=spec(**ALTER, state="stopped"),
        annotations={ANN: "alter"},
        connector=STOPPED,
        offsets_config_maps={"orders-new-offsets": GOOD},
    )
    d = decide(o, Outcome(offsets_error="the workers refused it (HTTP 400): bad partition"))
    assert rest_actions(d.actions)[-1] == REMOVE
    assert offsets_condition(d.status) == (
        "False",
        "OffsetsFailed",
        "the workers refused it (HTTP 400): bad partition",
    )


def test_no_answer_keeps_the_annotation_for_the_next_pass() -> None:
    o = observed(spec=spec(state="stopped"), annotations={ANN: "reset"}, connector=STOPPED)
    d = decide(o, Outcome(rest_done=0, unreachable="no worker answered"))
    assert offsets_condition(d.status) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "does not exist"),
        ({"other": "x"}, "has no key 'offsets.json' (its keys: other)"),
        ({"offsets.json": "[1]"}, 'expected an object {"offsets": [...]}, got a list'),
        ({"offsets.json": "{}"}, "expected 'offsets' to be a list, got no key 'offsets'"),
        ({"offsets.json": '{"offsets": [1]}'}, "offsets[0]: expected an object, got a number"),
        ({"offsets.json": '{"offsets": [{"partition": "p", "offset": {}}]}'},
         "offsets[0].partition: expected an object, got a string"),
        ({"offsets.json": '{"offsets": [{"partition": {}}]}'}, "offsets[0]: missing 'offset'"),
        ({"offsets.json": '{"offsets": [{"partition": {}, "offset": 3}]}'},
         "offsets[0].offset: expected an object or null, got a number"),
        ({"offsets.json": '{"offsets": [{"partition": {}, "offset": {}, "x": 1}]}'},
         "offsets[0]: unknown key 'x'"),
    ],
)  # fmt: skip
def test_malformed_offsets_are_named(data: dict[str, str] | None, message: str) -> None:
    with pytest.raises(OffsetsError, match=r"ConfigMap 'src' \(named by spec\.f\)") as e:
        parse_offsets(data, "src", "spec.f")
    assert message in str(e.value)


def test_a_reset_offset_is_null_and_accepted() -> None:
    body = {"offsets": [{"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": None}]}
    assert parse_offsets({"offsets.json": json.dumps(body)}, "src", "spec.f") == body


# -- initial offsets


def test_a_new_connector_with_initial_offsets_is_created_stopped_then_started() -> None:
    o = observed(
        spec=spec(**INITIAL),
        config=None,
        connector=None,
        offsets_config_maps={"orders-start": GOOD},
    )
    d = decide(o)
    (create, alter, resume) = rest_actions(d.actions)
    assert isinstance(create, SendConfig)
    assert create.initial_state == "STOPPED"
    assert alter == AlterOffsets(NAME, OFFSETS, "orders-start", initial=True)
    assert resume == SendCommand(NAME, "resume")
    assert d.status.initial_offsets is InitialOffsetsPhase.APPLIED
    assert d.memory.last_sent_state is TargetState.RUNNING
    condition = offsets_condition(d.status)
    assert condition is not None
    assert condition[:2] == ("True", "InitialOffsetsApplied")


def test_a_new_stopped_connector_with_initial_offsets_stays_stopped() -> None:
    o = observed(
        spec=spec(**INITIAL, state="stopped"),
        config=None,
        connector=None,
        offsets_config_maps={"orders-start": GOOD},
    )
    assert [type(a) for a in rest_actions(decide(o).actions)] == [SendConfig, AlterOffsets]


def test_offsets_that_failed_after_creation_hold_the_connector_stopped_until_written() -> None:
    first = observed(
        spec=spec(**INITIAL),
        config=None,
        connector=None,
        offsets_config_maps={"orders-start": GOOD},
    )
    # created, then no worker answered the PATCH
    d = decide(first, Outcome(rest_done=1, unreachable="no worker answered"))
    assert d.status.initial_offsets is InitialOffsetsPhase.PENDING
    # next pass: the connector exists, STOPPED; the offsets are written, then it resumes
    second = observed(
        spec=spec(**INITIAL),
        connector=STOPPED,
        previous=d.status,
        memory=d.memory,
        offsets_config_maps={"orders-start": GOOD},
    )
    again = decide(second)
    assert rest_actions(again.actions) == [
        AlterOffsets(NAME, OFFSETS, "orders-start", initial=True),
        SendCommand(NAME, "resume"),
    ]
    # a refusal by the workers: no resume, not resent to the same offsets
    refused = decide(second, Outcome(offsets_error="HTTP 400: bad"))
    assert rest_actions(refused.actions) == [
        AlterOffsets(NAME, OFFSETS, "orders-start", initial=True)
    ]
    assert refused.status.initial_offsets is InitialOffsetsPhase.PENDING
    later = decide(
        observed(
            spec=spec(**INITIAL),
            connector=STOPPED,
            previous=refused.status,
            memory=refused.memory,
            offsets_config_maps={"orders-start": GOOD},
        )
    )
    assert rest_actions(later.actions) == []


def test_a_missing_initial_offsets_config_map_creates_nothing_and_says_why() -> None:
    o = observed(spec=spec(**INITIAL), config=None, connector=None, offsets_config_maps={})
    d = decide(o)
    assert rest_actions(d.actions) == []
    (ready,) = [c for c in d.status.conditions if c.type == "Ready"]
    assert ready.reason == "InvalidConfig"
    assert "ConfigMap 'orders-start' (named by spec.initialOffsets.fromConfigMap)" in ready.message


def test_initial_offsets_are_only_for_a_new_connector() -> None:
    o = observed(spec=spec(**INITIAL), offsets_config_maps={"orders-start": GOOD})
    assert rest_actions(decide(o).actions) == []
    assert config_maps_to_read(o.spec, {}, initial=False) == ()
    assert config_maps_to_read(o.spec, {ANN: "alter"}, initial=True) == ("orders-start",)


def test_a_shared_cluster_connector_takes_the_same_path() -> None:
    spec_shared = KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "cluster": "shared", "state": "stopped", **ALTER}
    )
    shared = observed(
        spec=spec_shared,
        config=connector_config(spec_shared, NAME, connector_sink_group(spec_shared, OWNER)),
        cluster_replicas=1,
        annotations={ANN: "alter"},
        connector=STOPPED,
        offsets_config_maps={"orders-new-offsets": GOOD},
    )
    actions = decide(shared).actions
    assert list(actions) == [AlterOffsets(NAME, OFFSETS, "orders-new-offsets"), REMOVE]


# -- the fields in the CRD


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("listOffsets", {"toConfigMap": {}}),
        ("alterOffsets", {"fromConfigMap": {"name": "Bad_Name"}}),
        ("initialOffsets", {"fromConfigMap": {"name": "x"}, "extra": 1}),
    ],
)
def test_offsets_fields_are_validated_by_name(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as e:
        spec(**{field: value})
    assert field in str(e.value)


def test_the_crd_holds_the_offsets_fields() -> None:
    schema = crdgen.openapi_schema()
    props = schema["properties"]["spec"]["properties"]
    assert props["listOffsets"]["properties"]["toConfigMap"]["required"] == ["name"]
    assert props["alterOffsets"]["properties"]["fromConfigMap"]["properties"]["name"]["pattern"]
    assert "initialOffsets" in props
    status = schema["properties"]["status"]["properties"]
    assert status["initialOffsets"]["enum"] == ["Pending", "Applied"]


@pytest.mark.parametrize(
    ("status", "for_good"),
    [(400, True), (403, True), (500, True), (404, False), (409, False), (0, False), (503, False)],
)
def test_which_worker_answers_end_an_offsets_request(status: int, for_good: bool) -> None:
    """A refusal the same request would get again removes the annotation; no answer, a
    rebalance or a connector the workers do not know (yet) leaves it for the next pass."""
    assert _refused_for_good(WorkerRestError(status, "x")) is for_good


def test_a_connector_created_by_a_pass_whose_status_was_lost_still_gets_its_offsets() -> None:
    """The operator was killed after creating the connector STOPPED and before writing the
    status: no Pending record, but the offsets are written before it moves, never skipped."""
    o = observed(
        spec=spec(**INITIAL),
        connector=STOPPED,
        previous=None,
        offsets_config_maps={"orders-start": GOOD},
    )
    d = decide(o)
    assert rest_actions(d.actions) == [
        AlterOffsets(NAME, OFFSETS, "orders-start", initial=True),
        SendCommand(NAME, "resume"),
    ]
    assert d.status.initial_offsets is InitialOffsetsPhase.APPLIED


def test_initial_offsets_added_to_a_reported_stopped_connector_are_not_written() -> None:
    reported = decide(observed(spec=spec(state="stopped"), connector=STOPPED)).status
    o = observed(
        spec=spec(**INITIAL, state="stopped"),
        connector=STOPPED,
        previous=reported,
        offsets_config_maps={"orders-start": GOOD},
    )
    assert not any(isinstance(a, AlterOffsets) for a in rest_actions(decide(o).actions))
