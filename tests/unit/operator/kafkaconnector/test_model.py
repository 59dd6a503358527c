"""The KafkaConnector models: defaults, validation messages, and names derived per resource."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kconnect_operator.core.shapes import MAX_TRACE_CHARS, REST_SECURITY_KEYS, trim_trace
from kconnect_operator.kafkaconnector.model import (
    MANAGED_WORKER_KEYS,
    MAX_NAME_LENGTH,
    DeletionPolicy,
    KafkaConnector,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    TargetState,
    derived_names,
    owned_names_spec,
)

MINIMAL = {"class": "DataGen", "bootstrapServers": "kafka:9092"}


def spec(**extra: object) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate({**MINIMAL, **extra})


def error_text(**extra: object) -> str:
    with pytest.raises(ValidationError) as info:
        spec(**extra)
    return str(info.value)


def test_minimal_spec_defaults() -> None:
    s = spec()
    assert s.class_ == "DataGen"
    assert s.tasks_max == 1
    assert s.config == {}
    assert s.state is TargetState.RUNNING
    assert s.replicas == 1
    assert s.image is None
    assert s.worker_config == {}
    assert s.group_id is None
    assert s.auto_restart.enabled is False
    assert s.auto_restart.max_restarts is None
    assert s.deletion_policy is DeletionPolicy.RETAIN
    assert s.template.tolerations == []
    assert s.template.affinity is None


def test_camel_case_round_trip() -> None:
    doc = {
        **MINIMAL,
        "tasksMax": 3,
        "config": {"topic": "t"},
        "state": "paused",
        "replicas": 2,
        "image": "kconnect:1",
        "workerConfig": {"offset.flush.interval.ms": "1000"},
        "groupId": "g",
        "configStorageTopic": "c",
        "offsetStorageTopic": "o",
        "statusStorageTopic": "s",
        "resources": {"limits": {"cpu": 1, "memory": "512Mi"}, "requests": {"cpu": "250m"}},
        "template": {
            "labels": {"team": "data"},
            "annotations": {"a": "b"},
            "nodeSelector": {"zone": "a"},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"x": [1, 2]}},
        },
        "externalConfiguration": {
            "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}],
            "volumes": [{"name": "certs", "secret": {"secretName": "tls"}}],
        },
        "autoRestart": {"enabled": True, "maxRestarts": 5},
        "deletionPolicy": "Delete",
    }
    s = KafkaConnectorSpec.model_validate(doc)
    assert s.state is TargetState.PAUSED
    assert s.deletion_policy is DeletionPolicy.DELETE
    # A quantity written as a YAML number is kept as its text.
    assert s.resources.limits == {"cpu": "1", "memory": "512Mi"}
    dumped = s.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert dumped["resources"]["limits"]["cpu"] == "1"
    assert {k: dumped["template"][k] for k in doc["template"]} == doc["template"]
    assert dumped["externalConfiguration"] == doc["externalConfiguration"]
    assert dumped["autoRestart"] == {"enabled": True, "maxRestarts": 5}
    assert KafkaConnectorSpec.model_validate(dumped) == s


@pytest.mark.parametrize("key", ["name", "connector.class", "tasks.max"])
def test_config_rejects_keys_the_resource_sets(key: str) -> None:
    text = error_text(config={key: "x", "topic": "t"})
    assert "config" in text
    assert repr(key) in text


@pytest.mark.parametrize("key", MANAGED_WORKER_KEYS)
def test_worker_config_rejects_managed_keys(key: str) -> None:
    text = error_text(workerConfig={key: "x"})
    assert "workerConfig" in text
    assert repr(key) in text


@pytest.mark.parametrize("key", REST_SECURITY_KEYS)
def test_worker_config_rejects_rest_keys_that_lock_the_operator_out(key: str) -> None:
    """Basic auth or admin endpoints off the REST port: the operator's client and the probes
    could no longer reach the workers, so the resource is refused, not left never Ready."""
    text = error_text(workerConfig={key: "x"})
    assert repr(key) in text
    assert "without credentials" in text


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"replicas": -1}, "replicas"),
        ({"tasksMax": 0}, "tasksMax"),
        ({"state": "sleeping"}, "state"),
        ({"deletionPolicy": "Orphan"}, "deletionPolicy"),
        ({"autoRestart": {"maxRestarts": -1}}, "autoRestart.maxRestarts"),
        ({"class": ""}, "class"),
        ({"bootstrapServers": ""}, "bootstrapServers"),
        ({"config": {"topic": {"name": "t"}}}, "config.topic"),
        ({"config": {"topic": ["t"]}}, "config.topic"),
        ({"config": {"topic": None}}, "config.topic"),
        ({"workerConfig": {"key.converter": {"x": 1}}}, "key.converter"),
        ({"unknownField": 1}, "unknownField"),
        ({"resources": {"limits": {"cpu": True}}}, "resources.limits.cpu"),
    ],
)
def test_validation_errors_name_the_field(extra: dict[str, object], field: str) -> None:
    assert field in error_text(**extra)


def test_required_fields_are_named() -> None:
    with pytest.raises(ValidationError) as info:
        KafkaConnectorSpec.model_validate({})
    assert "class" in str(info.value)
    # Required unless spec.cluster names a KConnectCluster: checked once the fields parse.
    with pytest.raises(ValidationError) as info:
        KafkaConnectorSpec.model_validate({"class": "DataGen"})
    assert "spec.bootstrapServers is required unless spec.cluster" in str(info.value)


@pytest.mark.parametrize(
    "value_from",
    [
        {},
        {
            "secretKeyRef": {"name": "a", "key": "b"},
            "configMapKeyRef": {"name": "a", "key": "b"},
        },
    ],
)
def test_env_needs_exactly_one_source(value_from: dict[str, object]) -> None:
    text = error_text(externalConfiguration={"env": [{"name": "X", "valueFrom": value_from}]})
    assert "externalConfiguration.env.0" in text
    assert "exactly one of secretKeyRef or configMapKeyRef" in text


def test_volume_needs_exactly_one_source() -> None:
    text = error_text(externalConfiguration={"volumes": [{"name": "v"}]})
    assert "externalConfiguration.volumes.0" in text
    assert "exactly one of secret or configMap" in text


def test_duplicate_external_names_are_rejected() -> None:
    ref = {"secretKeyRef": {"name": "a", "key": "b"}}
    text = error_text(
        externalConfiguration={"env": [{"name": "X", "valueFrom": ref}] * 2},
    )
    assert "duplicate names X" in text


def test_full_resource_and_status_parse() -> None:
    resource = KafkaConnector.model_validate(
        {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": "KafkaConnector",
            "metadata": {"name": "demo", "namespace": "default", "uid": "u", "generation": 2},
            "spec": MINIMAL,
            "status": {
                "observedGeneration": 2,
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "TaskFailed", "message": "m"}
                ],
                "connectorState": {
                    "state": "RUNNING",
                    "worker": "10.0.0.1:8083",
                    "tasks": [{"id": 0, "state": "FAILED", "worker": "w", "trace": "boom"}],
                },
                "tasksReady": 0,
                "workersReady": 1,
                "replicas": 1,
                "selector": "a=b",
                "autoRestart": {"count": 2},
            },
        }
    )
    assert resource.metadata.generation == 2
    assert resource.status is not None
    assert resource.status.connector_state is not None
    assert resource.status.connector_state.tasks[0].trace == "boom"
    assert resource.status.auto_restart is not None
    assert resource.status.auto_restart.count == 2
    assert KafkaConnectorStatus().tasks_ready == 0


def test_wrong_kind_is_rejected() -> None:
    with pytest.raises(ValidationError, match="kind"):
        KafkaConnector.model_validate(
            {"kind": "Other", "metadata": {"name": "a", "namespace": "b"}, "spec": MINIMAL}
        )


# --- derived names


def test_names_derive_from_namespace_and_name() -> None:
    names = derived_names(spec(), "team-a", "orders")
    assert names.group_id == "kconnect.team-a.orders"
    assert names.config_storage_topic == "kconnect.team-a.orders.configs"
    assert names.offset_storage_topic == "kconnect.team-a.orders.offsets"
    assert names.status_storage_topic == "kconnect.team-a.orders.status"


def test_names_from_the_spec_win() -> None:
    names = derived_names(
        spec(groupId="g", configStorageTopic="c", offsetStorageTopic="o", statusStorageTopic="s"),
        "ns",
        "n",
    )
    assert (
        names.group_id,
        names.config_storage_topic,
        names.offset_storage_topic,
        names.status_storage_topic,
    ) == ("g", "c", "o", "s")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("ns", "Upper"),
        ("ns", "has.dot"),
        ("ns", "1starts-with-digit"),
        ("ns", "a" * (MAX_NAME_LENGTH + 1)),
        ("ns", ""),
        ("has.dot", "n"),
        ("n" * 64, "n"),
    ],
)
def test_names_the_api_server_would_refuse_are_refused(namespace: str, name: str) -> None:
    with pytest.raises(ValueError, match=r"metadata\.name|namespace"):
        derived_names(spec(), namespace, name)


LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"

# A small alphabet makes equal and nearly equal names likely; the wide one reaches the limits.
names_st = st.from_regex(r"\A[ab]([-ab]{0,3}[ab])?\Z") | st.from_regex(
    r"\A[a-z]([-a-z0-9]{0,53}[a-z0-9])?\Z"
)
namespaces_st = st.from_regex(r"\A[ab0]([-ab0]{0,3}[ab0])?\Z") | st.from_regex(
    r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z"
)
resources_st = st.tuples(namespaces_st, names_st)


@given(resources_st, resources_st)
def test_two_resources_never_share_a_group_or_topic(a: tuple[str, str], b: tuple[str, str]) -> None:
    names_a = derived_names(spec(), *a)
    names_b = derived_names(spec(), *b)
    topics_a = {
        names_a.config_storage_topic,
        names_a.offset_storage_topic,
        names_a.status_storage_topic,
    }
    topics_b = {
        names_b.config_storage_topic,
        names_b.offset_storage_topic,
        names_b.status_storage_topic,
    }
    assert len(topics_a) == 3
    for topic in topics_a:
        # Legal Kafka topic names, and never a group id or topic of the other resource.
        assert len(topic) <= 249
        assert set(topic) <= set(LABEL_CHARS + ".")
    if a != b:
        assert names_a.group_id != names_b.group_id
        assert not topics_a & topics_b
        # Kafka treats '.' and '_' alike in metric names; the names never contain '_'.
        assert "_" not in names_a.group_id + "".join(topics_a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("a-b", "c"), ("a", "b-c")),
        (("ns", "x"), ("ns", "x-configs")),
        (("ns", "configs"), ("ns", "status")),
        (("kconnect", "ns"), ("ns", "kconnect")),
    ],
)
def test_near_names_stay_apart(a: tuple[str, str], b: tuple[str, str]) -> None:
    names_a, names_b = derived_names(spec(), *a), derived_names(spec(), *b)
    all_a = set(names_a.model_dump().values())
    all_b = set(names_b.model_dump().values())
    assert not all_a & all_b


# --- traces


def test_trim_trace() -> None:
    assert trim_trace(None) is None
    assert trim_trace("short") == "short"
    long = "Traceback\n" + "x" * (MAX_TRACE_CHARS * 2)
    trimmed = trim_trace(long)
    assert trimmed is not None
    assert len(trimmed) == MAX_TRACE_CHARS
    assert trimmed.startswith("Traceback\n")
    assert trimmed.endswith("(trimmed)")


def test_config_and_worker_config_sizes_are_bounded_with_a_clear_message() -> None:
    from kconnect_operator.core.shapes import MAX_CONFIG_CHARS, MAX_WORKER_CONFIG_CHARS

    base = {"class": "DataGen", "bootstrapServers": "kafka:9092"}
    KafkaConnectorSpec.model_validate({**base, "config": {"k": "x" * (MAX_CONFIG_CHARS - 1)}})
    with pytest.raises(ValidationError) as failure:
        KafkaConnectorSpec.model_validate(
            {**base, "config": {"a": "x" * (MAX_CONFIG_CHARS // 2), "b": "y" * MAX_CONFIG_CHARS}}
        )
    assert "config is too large" in str(failure.value)
    with pytest.raises(ValidationError) as failure:
        KafkaConnectorSpec.model_validate(
            {**base, "workerConfig": {"a": "x" * MAX_WORKER_CONFIG_CHARS}}
        )
    assert "workerConfig is too large" in str(failure.value)


def test_yaml_numbers_and_booleans_become_kafka_connect_text() -> None:
    """As in a Strimzi manifest: YAML scalars, sent to the workers as Java would print them."""
    s = spec(
        config={
            "errors.tolerance": "all",
            "consumer.override.enable.auto.commit": False,
            "records.per.second": 10,
            "ratio": 0.5,
            "tiny": 1e-4,
        },
        workerConfig={"value.converter.schemas.enable": True, "offset.flush.interval.ms": 10000},
    )
    assert s.config == {
        "errors.tolerance": "all",
        "consumer.override.enable.auto.commit": "false",
        "records.per.second": "10",
        "ratio": "0.5",
        "tiny": "1.0E-4",
    }
    assert s.worker_config == {
        "value.converter.schemas.enable": "true",
        "offset.flush.interval.ms": "10000",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [({"a": 1}, "got an object"), ([1, 2], "got a list"), (None, "got null")],
)
def test_a_structure_in_config_is_refused_naming_the_key(value: object, expected: str) -> None:
    text = error_text(config={"topic": "t", "transforms": value})
    assert "config.transforms" in text
    assert "expected a string, number or boolean" in text
    assert expected in text


def test_a_forbidden_key_written_as_a_number_is_still_refused() -> None:
    assert "tasks.max" in error_text(config={"tasks.max": 2})


def test_the_names_a_refused_config_owns_are_still_known() -> None:
    """The API server holds config maps untyped: a spec the operator refuses for a config value
    or size still names its groups and topics, for cleanup and for other resources' cleanup."""
    raw = {
        **MINIMAL,
        "groupId": "theirs",
        "config": {
            "consumer.override.group.id": "sink-group",
            "transforms": ["a"],
            "padding": "x" * 600_000,
        },
        "workerConfig": {"offset.flush.interval.ms": 1000, "bad": {"x": 1}},
    }
    with pytest.raises(ValidationError):
        KafkaConnectorSpec.model_validate(raw)
    s = owned_names_spec(raw)
    assert s.group_id == "theirs"
    assert s.config["consumer.override.group.id"] == "sink-group"
    assert "transforms" not in s.config
    assert s.worker_config == {"offset.flush.interval.ms": "1000"}
    assert owned_names_spec({**MINIMAL, "config": {"topic": 1}}).config == {"topic": "1"}
    with pytest.raises(ValidationError):
        owned_names_spec({**raw, "tasksMax": 0})
