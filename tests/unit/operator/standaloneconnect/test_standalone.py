"""StandaloneConnect: models, CRD rules, builders and status, all pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from kconnect.errors import ConfigError
from kconnect_operator import crdgen
from kconnect_operator.core import manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.shapes import ConditionStatus
from kconnect_operator.standaloneconnect import build as sc_build
from kconnect_operator.standaloneconnect import decide as sc_decide
from kconnect_operator.standaloneconnect.model import (
    NamedConnectorStatus,
    StandaloneConnectSpec,
    StandaloneReadyReason,
)

OWNER = sc_build.Owner(name="jobs", namespace="data", uid="u-1")
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def spec(**extra: Any) -> StandaloneConnectSpec:
    raw: dict[str, Any] = {
        "bootstrapServers": "kafka:9092",
        "connectors": [
            {"name": "a", "class": "DataGen", "config": {"topic": "ta"}},
            {"name": "b.x", "class": "FileStreamSource", "tasksMax": 2},
        ],
        **extra,
    }
    return StandaloneConnectSpec.model_validate(raw)


# --- models and CRD


def test_connector_names_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="unique: a repeated"):
        StandaloneConnectSpec.model_validate(
            {"bootstrapServers": "k", "connectors": [{"name": "a", "class": "X"}] * 2}
        )


@pytest.mark.parametrize("key", ["name", "connector.class", "tasks.max"])
def test_connector_config_must_not_set_what_the_resource_sets(key: str) -> None:
    with pytest.raises(ValidationError, match=key):
        StandaloneConnectSpec.model_validate(
            {
                "bootstrapServers": "k",
                "connectors": [{"name": "a", "class": "X", "config": {key: "1"}}],
            }
        )


@pytest.mark.parametrize("key", ["rest.extension.classes", "admin.listeners"])
def test_worker_config_rejects_rest_keys_that_lock_the_operator_out(key: str) -> None:
    with pytest.raises(ValidationError, match=rf"{key}.*without credentials"):
        spec(workerConfig={key: "x"})


def test_worker_config_must_not_set_managed_keys_and_worker_is_reserved() -> None:
    with pytest.raises(ValidationError, match=r"offset\.storage\.file\.filename"):
        spec(workerConfig={"offset.storage.file.filename": "/x"})
    with pytest.raises(ValidationError, match="reserved"):
        StandaloneConnectSpec.model_validate(
            {"bootstrapServers": "k", "connectors": [{"name": "worker", "class": "X"}]}
        )


def test_ephemeral_storage_takes_no_claim_fields() -> None:
    with pytest.raises(ValidationError, match="only to type persistentVolumeClaim"):
        spec(offsetStorage={"type": "ephemeral", "size": "1Gi"})


def test_the_crd_carries_the_rules_and_columns() -> None:
    doc = crdgen.crd(crdgen.STANDALONE_CONNECT)
    assert doc["metadata"]["name"] == "standaloneconnects.kconnect.io"
    assert doc["spec"]["names"]["shortNames"] == ["ksc"]
    version = doc["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    props = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    rules = [r["rule"] for r in props["connectors"]["x-kubernetes-validations"]]
    assert rules == ["self.all(c, self.exists_one(d, d.name == c.name))"]
    assert props["connectors"]["maxItems"] == 64
    storage_rules = [r["rule"] for r in props["offsetStorage"]["x-kubernetes-validations"]]
    assert "self == oldSelf" in storage_rules
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Connectors",
        "Tasks ready",
        "Workers ready",
        "Ready",
        "Reason",
        "Age",
    ]


# --- builders


def test_config_map_has_the_worker_file_and_one_file_per_connector() -> None:
    cm = sc_build.build_config_map(spec(), OWNER)
    assert cm["metadata"]["name"] == "jobs-standalone-config"
    assert sorted(cm["data"]) == ["a.properties", "b.x.properties", "worker.properties"]
    assert (
        "offset.storage.file.filename=/var/lib/kconnect/offsets/offsets.dat\n"
        in cm["data"]["worker.properties"]
    )
    assert cm["data"]["a.properties"] == (
        "connector.class=DataGen\nname=a\ntasks.max=1\ntopic=ta\n"
    )
    assert "tasks.max=2\n" in cm["data"]["b.x.properties"]


def test_the_worker_file_has_the_default_config_providers_unless_it_sets_its_own() -> None:
    props = sc_build.worker_properties(spec(), OWNER)
    assert {k: v for k, v in props.items() if k.startswith("config.providers")} == {
        **manifests.DEFAULT_CONFIG_PROVIDERS,
        manifests.ENV_ALLOWLIST_KEY: manifests.NO_ENV,
    }
    assert props["file.connectors.enable"] == "false"
    own = sc_build.worker_properties(
        spec(workerConfig={"config.providers": "env", "config.providers.env.class": "EnvVar"}),
        OWNER,
    )
    assert {k: v for k, v in own.items() if k.startswith("config.providers")} == {
        "config.providers": "env",
        "config.providers.env.class": "EnvVar",
    }


def test_a_worker_config_the_worker_refuses_is_caught() -> None:
    with pytest.raises(ConfigError, match=r"offset\.flush\.interval\.ms"):
        sc_build.worker_properties(spec(workerConfig={"offset.flush.interval.ms": "soon"}), OWNER)


def _sts(s: StandaloneConnectSpec | None = None) -> dict[str, Any]:
    return sc_build.build_stateful_set(s or spec(), OWNER, image="img:1", secret_versions={})


def test_stateful_set_runs_the_standalone_worker_with_every_file() -> None:
    sts = _sts()
    assert sts["kind"] == "StatefulSet"
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == "jobs-standalone-headless"
    pod = sts["spec"]["template"]["spec"]
    script = pod["containers"][0]["command"][2]
    assert script.endswith(
        "exec kconnect standalone /var/run/kconnect/worker.properties "
        "/etc/kconnect/a.properties /etc/kconnect/b.x.properties\n"
    )
    assert 'printf "listeners=http://%s:8083\\n" "$host"' in script
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] == 5 + 5 + manifests.DRAIN_MARGIN_S
    assert {"name": "offsets", "emptyDir": {}} in pod["volumes"]
    assert {"name": "offsets", "mountPath": "/var/lib/kconnect/offsets"} in container[
        "volumeMounts"
    ]
    assert "volumeClaimTemplates" not in sts["spec"]
    assert sts["metadata"]["ownerReferences"][0]["kind"] == "StandaloneConnect"


def test_persistent_offsets_use_a_claim_template() -> None:
    sts = _sts(
        spec(offsetStorage={"type": "persistentVolumeClaim", "size": "2Gi", "storageClass": ""})
    )
    [claim] = sts["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "offsets"
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "2Gi"}},
        "storageClassName": "",
    }
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    assert all(v["name"] != "offsets" for v in sts["spec"]["template"]["spec"]["volumes"])
    kept = _sts(spec(offsetStorage={"type": "persistentVolumeClaim", "deleteClaim": False}))
    assert kept["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    assert kept["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"] == {
        "storage": "1Gi"
    }


def _hash(s: StandaloneConnectSpec) -> str:
    return str(
        _sts(s)["spec"]["template"]["metadata"]["annotations"][manifests.CONFIG_HASH_ANNOTATION]
    )


def test_connector_and_worker_changes_roll_the_pod_and_nothing_else_does() -> None:
    base = _hash(spec())
    assert _hash(spec()) == base
    assert _hash(spec(workerConfig={"offset.flush.interval.ms": "1000"})) != base
    assert _hash(spec(resources={"limits": {"cpu": "1"}})) == base
    one = StandaloneConnectSpec.model_validate(
        {
            "bootstrapServers": "kafka:9092",
            "connectors": [{"name": "a", "class": "DataGen", "config": {"topic": "ta"}}],
        }
    )
    assert _hash(one) != base
    secret = spec(
        externalConfiguration={"volumes": [{"name": "creds", "secret": {"secretName": "s"}}]}
    )
    first = sc_build.config_hash(secret, OWNER, {"s": "1"})
    assert sc_build.config_hash(secret, OWNER, {"s": "2"}) != first


def test_children_and_services() -> None:
    kinds = [
        (c["kind"], c["metadata"]["name"])
        for c in sc_build.build_children(
            spec(), OWNER, image="i", secret_versions={}, operator_namespace="ops"
        )
    ]
    assert kinds == [
        ("ConfigMap", "jobs-standalone-config"),
        ("Service", "jobs-standalone-headless"),
        ("Service", "jobs-standalone"),
        ("NetworkPolicy", "jobs-standalone"),
        ("StatefulSet", "jobs-standalone"),
    ]
    headless = sc_build.build_headless_service(OWNER)
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"][sc_build.SELECTOR_LABEL] == "jobs"


def test_owner_names_are_checked() -> None:
    with pytest.raises(ValueError, match="DNS-1035"):
        sc_build.Owner(name="x" * 41, namespace="ns", uid="u")


# --- status


def _connector(
    name: str, state: str = "RUNNING", tasks: tuple[str, ...] = ("RUNNING",)
) -> dict[str, Any]:
    return {
        "status": {
            "name": name,
            "connector": {"state": state, "worker_id": "10.0.0.1:8083"},
            "tasks": [
                {
                    "id": i,
                    "state": s,
                    "worker_id": "10.0.0.1:8083",
                    **({"trace": "Boom\n at x"} if s == "FAILED" else {}),
                }
                for i, s in enumerate(tasks)
            ],
            "type": "source",
        }
    }


def _obs(
    raw: dict[str, Any] | None, *, current: bool = True, ready: int = 1
) -> sc_decide.Observation:
    return sc_decide.Observation(
        generation=3,
        workers_ready=ready,
        current=current,
        connectors=sc_decide.connector_statuses(raw) if raw is not None else None,
    )


def _ready(raw: dict[str, Any] | None, **kw: Any) -> tuple[str, str, str]:
    status, reason, message = sc_decide.ready_condition(spec(), _obs(raw, **kw))
    return status.value, reason.value, message


def test_ready_when_exactly_the_listed_connectors_run() -> None:
    raw = {"a": _connector("a"), "b.x": _connector("b.x", tasks=("RUNNING", "RUNNING"))}
    assert _ready(raw)[:2] == ("True", "Running")
    status = sc_decide.build_status(spec(), _obs(raw), previous=None, now=NOW)
    assert status.connectors_ready == 2
    assert status.tasks_ready == 3
    assert status.workers_ready == 1
    assert status.observed_generation == 3
    assert [c.name for c in status.connectors] == ["a", "b.x"]


def test_not_ready_reasons() -> None:
    both = {"a": _connector("a"), "b.x": _connector("b.x")}
    assert _ready(None, ready=0)[1] == "WorkersNotReady"
    assert _ready(None)[1] == "Pending"
    assert _ready(both, current=False)[1] == "Updating"
    assert _ready({"a": _connector("a")}) == ("False", "Pending", "not running yet: b.x")
    extra = {**both, "old": _connector("old")}
    assert "running but not listed: old" in _ready(extra)[2]
    failed = {**both, "a": _connector("a", tasks=("FAILED",))}
    assert _ready(failed)[:2] == ("False", "TaskFailed")
    assert "Boom" in _ready(failed)[2]
    assert _ready({**both, "a": _connector("a", state="FAILED")})[1] == "ConnectorFailed"
    assert _ready({**both, "a": _connector("a", tasks=("UNASSIGNED",))})[1] == "Pending"
    obs = sc_decide.Observation(
        generation=1, workers_ready=0, current=False, connectors=None, config_error="bad"
    )
    assert sc_decide.ready_condition(spec(), obs)[1].value == "InvalidConfig"


def test_status_lists_the_failed_tasks_of_every_connector() -> None:
    raw = {
        "a": _connector("a", tasks=("RUNNING", "FAILED")),
        "b.x": _connector("b.x", tasks=("FAILED",)),
    }
    status = sc_decide.build_status(spec(), _obs(raw), previous=None, now=NOW)
    assert status.failed_tasks_count == 2
    body = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert body["failedTasks"] == [
        {"connector": "a", "id": 1, "message": "Boom"},
        {"connector": "b.x", "id": 0, "message": "Boom"},
    ]
    healthy = sc_decide.build_status(
        spec(), _obs({"a": _connector("a"), "b.x": _connector("b.x")}), previous=status, now=NOW
    )
    assert (healthy.failed_tasks, healthy.failed_tasks_count) == ([], 0)


def test_status_is_written_only_when_it_changed_and_transition_time_sticks() -> None:
    raw = {"a": _connector("a"), "b.x": _connector("b.x")}
    first = sc_decide.build_status(spec(), _obs(raw), previous=None, now=NOW)
    later = sc_decide.build_status(
        spec(), _obs(raw), previous=first, now=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert later == first
    stored = first.model_dump(by_alias=True, mode="json", exclude_none=True)
    assert core_status.status_patch(later, stored) is None
    down = sc_decide.build_status(
        spec(), _obs(None, ready=0), previous=first, now=datetime(2026, 2, 1, tzinfo=UTC)
    )
    patch = core_status.status_patch(down, stored)
    assert patch is not None
    assert patch["status"]["conditions"][0]["lastTransitionTime"] == "2026-02-01T00:00:00Z"
    assert patch["status"]["connectors"] == []


def test_named_status_parses_the_rest_body() -> None:
    [status] = sc_decide.connector_statuses({"a": _connector("a", tasks=("FAILED",))})
    assert status == NamedConnectorStatus(
        name="a",
        state="RUNNING",
        worker="10.0.0.1:8083",
        tasks=status.tasks,
    )
    assert status.tasks[0].trace == "Boom\n at x"


# --- a crash-looping worker


def _pod(state: dict[str, Any], last: dict[str, Any] | None = None, name: str = "worker") -> Any:
    status: dict[str, Any] = {"name": name, "state": state}
    if last is not None:
        status["lastState"] = last
    return {"metadata": {"name": "jobs-standalone-0"}, "status": {"containerStatuses": [status]}}


def _terminated(code: int, message: str | None = None) -> dict[str, Any]:
    terminated: dict[str, Any] = {"exitCode": code}
    if message is not None:
        terminated["message"] = message
    return {"terminated": terminated}


LOG_TAIL = (
    "starting\n"
    "kconnect: error: spec.a: first problem\n"
    "Traceback (most recent call last):\n"
    "kconnect: error: connector a: no plugin 'Nope'\n"
    "exiting\n\n"
)


def test_worker_failure_prefers_the_last_kconnect_error_line() -> None:
    backoff = {"waiting": {"reason": "CrashLoopBackOff"}}
    pod = _pod(backoff, _terminated(1, LOG_TAIL))
    assert (
        core_status.worker_failure([pod], "worker")
        == "kconnect: error: connector a: no plugin 'Nope'"
    )


def test_worker_failure_falls_back_to_the_last_line_then_the_exit_code() -> None:
    assert (
        core_status.worker_failure([_pod(_terminated(2, "a\nlast words\n\n"))], "worker")
        == "last words"
    )
    assert (
        core_status.worker_failure([_pod(_terminated(137, " \n"))], "worker")
        == "the worker exited with code 137"
    )
    assert (
        core_status.worker_failure([_pod(_terminated(3))], "worker")
        == "the worker exited with code 3"
    )


def test_worker_failure_ignores_clean_exits_running_workers_and_other_containers() -> None:
    running = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    assert core_status.worker_failure([_pod(running)], "worker") is None
    assert core_status.worker_failure([_pod(_terminated(0, "bye"))], "worker") is None
    assert core_status.worker_failure([_pod(running, _terminated(0))], "worker") is None
    assert core_status.worker_failure([_pod(_terminated(1, "x"), name="sidecar")], "worker") is None
    assert core_status.worker_failure([{"metadata": {"name": "p"}}], "worker") is None
    assert core_status.worker_failure([], "worker") is None


def test_a_crash_looping_worker_is_worker_failed_with_its_error() -> None:
    message = "kconnect: error: connector a: no plugin 'Nope'"
    obs = sc_decide.Observation(
        generation=1, workers_ready=0, current=False, connectors=None, worker_failure=message
    )
    assert sc_decide.ready_condition(spec(), obs) == (
        ConditionStatus.FALSE,
        StandaloneReadyReason.WORKER_FAILED,
        message,
    )
    # A worker that is ready again is judged by what it runs, not by its last crash.
    recovered = sc_decide.Observation(
        generation=1,
        workers_ready=1,
        current=True,
        connectors=sc_decide.connector_statuses(
            {"a": _connector("a"), "b.x": _connector("b.x", tasks=("RUNNING", "RUNNING"))}
        ),
        worker_failure=message,
    )
    assert sc_decide.ready_condition(spec(), recovered)[1] is StandaloneReadyReason.RUNNING


def test_the_worker_container_keeps_its_log_tail_as_termination_message() -> None:
    (container,) = _sts()["spec"]["template"]["spec"]["containers"]
    assert container["name"] == manifests.WORKER_CONTAINER
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_network_policy_admits_only_the_operator_to_the_rest_port() -> None:
    np = sc_build.build_network_policy(
        spec(), OWNER, operator_namespace="ops", operator_labels={"app": "op"}
    )
    assert np["metadata"]["name"] == "jobs-standalone"
    assert np["metadata"]["ownerReferences"][0]["kind"] == "StandaloneConnect"
    assert np["spec"]["podSelector"] == {"matchLabels": manifests.selector_labels(OWNER)}
    assert np["spec"]["policyTypes"] == ["Ingress"]
    assert np["spec"]["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}},
                    "podSelector": {"matchLabels": {"app": "op"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8083}],
        }
    ]


def test_network_policy_admits_the_metrics_port_from_the_configured_peers() -> None:
    monitoring = {"namespaceSelector": {"matchLabels": {"team": "monitoring"}}}
    s = spec(
        workerConfig={"metrics.listener": "http://:9404"},
        networkPolicy={"metricsPeers": [monitoring]},
    )
    np = sc_build.build_network_policy(s, OWNER, operator_namespace="ops")
    rest, metrics = np["spec"]["ingress"]
    assert rest["ports"] == [{"protocol": "TCP", "port": 8083}]
    assert metrics == {"from": [monitoring], "ports": [{"protocol": "TCP", "port": 9404}]}
    ports = sc_build.build_stateful_set(s, OWNER, image="i", secret_versions={})["spec"][
        "template"
    ]["spec"]["containers"][0]["ports"]
    assert {"name": "metrics", "containerPort": 9404, "protocol": "TCP"} in ports
