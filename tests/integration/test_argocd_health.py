"""The Argo CD health checks the chart ships (`charts/kconnect/files/argocd/`: KafkaConnector,
StandaloneConnect, KConnectCluster), run by the Lua VM Argo CD embeds (gopher-lua, through
`argolua`: `kconnect_devenv.opstools`) against resources whose status the operator's own code
decided: Ready, Progressing (a roll, a generation not yet observed, no status yet), Degraded (a
failed task, an invalid config, a missing cluster) and Suspended (paused, stopped, scaled to
zero).

Also: every Ready reason the operator can give is classified on purpose (a new failure reason
must be added to the scripts' `degraded` table), and the argocd-cm patch file holds the scripts
exactly.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from kconnect_devenv import opstools
from kconnect_operator.core import status as core_status
from kconnect_operator.core.shapes import (
    ConnectorStatus,
    KafkaAccessReason,
    ReadyReason,
    TaskStatus,
)
from kconnect_operator.kafkaconnector import decide as kc_decide
from kconnect_operator.kafkaconnector.model import (
    KafkaConnectorSpec,
    KConnectClusterSpec,
    KConnectClusterStatus,
)
from kconnect_operator.standaloneconnect import decide as sc_decide
from kconnect_operator.standaloneconnect.model import StandaloneConnectSpec, StandaloneReadyReason

pytestmark = pytest.mark.integration

ARGOCD: Final = Path(__file__).resolve().parents[2] / "charts" / "kconnect" / "files" / "argocd"
KAFKACONNECTOR_LUA: Final = ARGOCD / "health-kafkaconnector.lua"
STANDALONE_LUA: Final = ARGOCD / "health-standaloneconnect.lua"
CLUSTER_LUA: Final = ARGOCD / "health-kconnectcluster.lua"
NOW: Final = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

# Reasons under which the resource is not failing but on its way (or deliberately idle).
NOT_FAILURES: Final = {
    "Running",
    "Paused",
    "Stopped",
    "ScaledToZero",
    "Pending",
    "WorkersNotReady",
    "Updating",
}


@pytest.fixture(scope="module")
def argolua() -> Path:
    return opstools.build() / "argolua"


def run_checks(argolua: Path, script: Path, objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    result = subprocess.run(
        [str(argolua), str(script)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [(h["status"], h["message"]) for h in json.loads(result.stdout)]


# --- KafkaConnector


def kc_spec(**overrides: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", "tasksMax": 2, **overrides}
    )


def connector(state: str, *tasks: str) -> ConnectorStatus:
    return ConnectorStatus(
        state=state,
        worker="10.0.0.1:8083",
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


def kafkaconnector(
    spec: KafkaConnectorSpec, generation: int = 3, **observation: Any
) -> dict[str, Any]:
    """A KafkaConnector as the API server holds it, its status decided by the operator's code
    from `observation` (observed at generation 3)."""
    fields: dict[str, Any] = {
        "generation": 3,
        "workers_ready": 2,
        "replicas": 2,
        "connector": connector("RUNNING", "RUNNING", "RUNNING"),
        **observation,
    }
    status = kc_decide.build_status(
        spec,
        kc_decide.Observation(**fields),
        selector="a=b",
        previous=None,
        auto_restart_status=None,
        now=NOW,
    )
    return {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "KafkaConnector",
        "metadata": {"name": "orders", "namespace": "ns", "generation": generation},
        "spec": spec.model_dump(by_alias=True, mode="json", exclude_none=True),
        "status": core_status.status_body(status),
    }


def test_kafkaconnector_health(argolua: Path) -> None:
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("ready", kafkaconnector(kc_spec()), "Healthy", "Running: the connector and 2 tasks"),
        (
            "a roll: one of two workers ready, a task unassigned",
            kafkaconnector(
                kc_spec(),
                workers_ready=1,
                connector=connector("RUNNING", "RUNNING", "UNASSIGNED"),
            ),
            "Progressing",
            "Pending: the connector is RUNNING, 1/2 tasks RUNNING",
        ),
        (
            "workers starting",
            kafkaconnector(kc_spec(), workers_ready=0, connector=None),
            "Progressing",
            "WorkersNotReady: 0/1 worker pods are ready",
        ),
        (
            "a new generation not yet observed",
            kafkaconnector(kc_spec(), generation=4),
            "Progressing",
            "Waiting for the kconnect operator to observe generation 4",
        ),
        (
            "a task FAILED",
            kafkaconnector(kc_spec(), connector=connector("RUNNING", "RUNNING", "FAILED")),
            "Degraded",
            "TaskFailed: 1 of 2 tasks FAILED (1); task 1 on 10.0.0.2:8083: org.Boom: broke",
        ),
        (
            "the connector FAILED",
            kafkaconnector(kc_spec(), connector=connector("FAILED", "RUNNING")),
            "Degraded",
            "ConnectorFailed: connector FAILED on 10.0.0.1:8083",
        ),
        (
            "an invalid config",
            kafkaconnector(
                kc_spec(),
                connector=None,
                config_error="invalid value 'many' for key 'max.records': expected an integer",
            ),
            "Degraded",
            "InvalidConfig: invalid value 'many' for key 'max.records'",
        ),
        (
            "paused",
            kafkaconnector(
                kc_spec(state="paused"), connector=connector("PAUSED", "PAUSED", "PAUSED")
            ),
            "Suspended",
            "Paused: the connector and 2 tasks are PAUSED",
        ),
        (
            "stopped",
            kafkaconnector(kc_spec(state="stopped"), connector=connector("STOPPED")),
            "Suspended",
            "Stopped: the connector is stopped",
        ),
        (
            "scaling to zero: a worker pod still runs",
            kafkaconnector(kc_spec(replicas=0), workers_ready=1, replicas=1, connector=None),
            "Progressing",
            "Pending: scaling to zero: 1 worker pods run",
        ),
        (
            "scaled to zero",
            kafkaconnector(kc_spec(replicas=0), workers_ready=0, replicas=0, connector=None),
            "Suspended",
            "ScaledToZero: scaled to zero: no worker runs",
        ),
    ]
    no_status = kafkaconnector(kc_spec())
    del no_status["status"]
    cases.append(
        (
            "no status yet",
            no_status,
            "Progressing",
            "Waiting for the kconnect operator to report a status",
        )
    )
    answers = run_checks(argolua, KAFKACONNECTOR_LUA, [obj for _, obj, _, _ in cases])
    for (what, _, status, message), (got_status, got_message) in zip(cases, answers, strict=True):
        assert (what, got_status) == (what, status), got_message
        assert got_message.startswith(message), (what, got_message)


# --- StandaloneConnect


SC_SPEC: Final = StandaloneConnectSpec.model_validate(
    {
        "bootstrapServers": "kafka:9092",
        "connectors": [{"name": "a", "class": "DataGen", "config": {"topic": "t"}}],
    }
)


def rest_body(state: str, *tasks: str) -> dict[str, Any]:
    return {
        "a": {
            "status": {
                "name": "a",
                "connector": {"state": state, "worker_id": "10.0.0.1:8083"},
                "tasks": [
                    {
                        "id": i,
                        "state": t,
                        "worker_id": "10.0.0.1:8083",
                        **({"trace": "org.Boom: broke\n\tat x"} if t == "FAILED" else {}),
                    }
                    for i, t in enumerate(tasks)
                ],
                "type": "source",
            }
        }
    }


def standalone(
    raw: dict[str, Any] | None, generation: int = 3, **observation: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "generation": 3,
        "workers_ready": 1,
        "current": True,
        "connectors": sc_decide.connector_statuses(raw) if raw is not None else None,
        **observation,
    }
    status = sc_decide.build_status(
        SC_SPEC, sc_decide.Observation(**fields), previous=None, now=NOW
    )
    return {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "StandaloneConnect",
        "metadata": {"name": "jobs", "namespace": "ns", "generation": generation},
        "spec": SC_SPEC.model_dump(by_alias=True, mode="json", exclude_none=True),
        "status": core_status.status_body(status),
    }


def test_standaloneconnect_health(argolua: Path) -> None:
    cases = [
        ("ready", standalone(rest_body("RUNNING", "RUNNING")), "Healthy", "Running: 1 connectors"),
        (
            "a roll: the pod runs an older config",
            standalone(rest_body("RUNNING", "RUNNING"), current=False),
            "Progressing",
            "Updating: the worker pod runs an older config",
        ),
        (
            "a new generation not yet observed",
            standalone(rest_body("RUNNING", "RUNNING"), generation=5),
            "Progressing",
            "Waiting for the kconnect operator to observe generation 5",
        ),
        (
            "a task FAILED",
            standalone(rest_body("RUNNING", "FAILED")),
            "Degraded",
            "TaskFailed: connector a: 1 of 1 tasks FAILED; task 0: org.Boom: broke",
        ),
        (
            "the worker refuses its config",
            standalone(None, workers_ready=0, worker_failure="kconnect: error: a.properties: x"),
            "Degraded",
            "WorkerFailed: kconnect: error: a.properties: x",
        ),
        (
            "an invalid worker config",
            standalone(None, workers_ready=0, config_error="spec.workerConfig: bad"),
            "Degraded",
            "InvalidConfig: spec.workerConfig: bad",
        ),
    ]
    answers = run_checks(argolua, STANDALONE_LUA, [obj for _, obj, _, _ in cases])
    for (what, _, status, message), (got_status, got_message) in zip(cases, answers, strict=True):
        assert (what, got_status) == (what, status), got_message
        assert got_message.startswith(message), (what, got_message)


# --- KConnectCluster


CLUSTER_SPEC: Final = KConnectClusterSpec.model_validate(
    {"bootstrapServers": "kafka:9092", "replicas": 3}
)


def kconnectcluster(generation: int = 3, **observation: Any) -> dict[str, Any]:
    """A KConnectCluster whose Ready condition the operator's `cluster_ready` decided."""
    fields: dict[str, Any] = {
        "workers_ready": 3,
        "spec_error": None,
        "spec_reason": None,
        "apply_error": None,
        "failure": None,
        "connectors": 2,
        **observation,
    }
    status, reason, message = kc_decide.cluster_ready(CLUSTER_SPEC, **fields)
    condition = core_status.ready(status, reason, message, previous=(), generation=3, now=NOW)
    body = KConnectClusterStatus(
        conditions=[condition], observed_generation=3, workers_ready=fields["workers_ready"]
    )
    return {
        "apiVersion": "kconnect.io/v1alpha1",
        "kind": "KConnectCluster",
        "metadata": {"name": "shared", "namespace": "ns", "generation": generation},
        "spec": CLUSTER_SPEC.model_dump(by_alias=True, mode="json", exclude_none=True),
        "status": core_status.status_body(body),
    }


def test_kconnectcluster_health(argolua: Path) -> None:
    cases = [
        ("ready", kconnectcluster(), "Healthy", "Running: 3/3 worker pods are ready"),
        (
            "a roll or a scale-up",
            kconnectcluster(workers_ready=2),
            "Progressing",
            "WorkersNotReady: 2/3 worker pods are ready",
        ),
        (
            "a new generation not yet observed",
            kconnectcluster(generation=4),
            "Progressing",
            "Waiting for the kconnect operator to observe generation 4",
        ),
        (
            "workers crash-looping",
            kconnectcluster(workers_ready=0, failure="kconnect: error: group.id: x"),
            "Degraded",
            "WorkerFailed: kconnect: error: group.id: x",
        ),
        (
            "an invalid worker config",
            kconnectcluster(workers_ready=0, spec_error="spec.workerConfig: bad"),
            "Degraded",
            "InvalidConfig: spec.workerConfig: bad",
        ),
    ]
    answers = run_checks(argolua, CLUSTER_LUA, [obj for _, obj, _, _ in cases])
    for (what, _, status, message), (got_status, got_message) in zip(cases, answers, strict=True):
        assert (what, got_status) == (what, status), got_message
        assert got_message.startswith(message), (what, got_message)


def test_a_connector_whose_cluster_is_missing_is_degraded(argolua: Path) -> None:
    missing = kafkaconnector(
        KafkaConnectorSpec.model_validate({"class": "DataGen", "cluster": "shared"}),
        workers_ready=0,
        connector=None,
        config_error="spec.cluster: KConnectCluster shared does not exist",
        config_reason=ReadyReason.CLUSTER_NOT_FOUND,
    )
    [(status, message)] = run_checks(argolua, KAFKACONNECTOR_LUA, [missing])
    assert (status, message) == (
        "Degraded",
        "ClusterNotFound: spec.cluster: KConnectCluster shared does not exist",
    )


# --- every reason classified, the patch file in step


def degraded_reasons(script: Path) -> set[str]:
    table = re.search(r"local degraded = \{(.*?)\n\}", script.read_text("utf-8"), re.S)
    assert table is not None, script
    return set(re.findall(r"(\w+) = true", table.group(1)))


@pytest.mark.parametrize(
    ("script", "reasons"),
    [
        (KAFKACONNECTOR_LUA, {r.value for r in (*ReadyReason, *KafkaAccessReason)}),
        (STANDALONE_LUA, {r.value for r in (*StandaloneReadyReason, *KafkaAccessReason)}),
        (CLUSTER_LUA, {r.value for r in (*ReadyReason, *KafkaAccessReason)}),
    ],
    ids=["KafkaConnector", "StandaloneConnect", "KConnectCluster"],
)
def test_every_failure_reason_is_degraded(script: Path, reasons: set[str]) -> None:
    assert degraded_reasons(script) == reasons - NOT_FAILURES


def test_the_argocd_cm_patch_holds_the_scripts() -> None:
    data = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text("utf-8"))["data"]
    assert data == {
        "resource.customizations.health.kconnect.io_KafkaConnector": KAFKACONNECTOR_LUA.read_text(
            "utf-8"
        ),
        "resource.customizations.health.kconnect.io_StandaloneConnect": STANDALONE_LUA.read_text(
            "utf-8"
        ),
        "resource.customizations.health.kconnect.io_KConnectCluster": CLUSTER_LUA.read_text(
            "utf-8"
        ),
    }


def test_a_script_error_is_reported_not_hidden(argolua: Path, tmp_path: Path) -> None:
    """The runner itself: a check that fails to run answers Error, so a case cannot pass by a
    crash."""
    broken = tmp_path / "broken.lua"
    broken.write_text("return obj.status.nothing.here\n", "utf-8")
    [(status, message)] = run_checks(argolua, broken, [{"status": {}}])
    assert status == "Error"
    assert "nothing" in message or "attempt to index" in message
