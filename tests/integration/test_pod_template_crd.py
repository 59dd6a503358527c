"""The CRDs' rules on `template`, run by this session's real API server (the ``control_plane``
fixture): a full template is accepted for each worker kind, and what would break the worker is
refused with a message naming the field."""

from __future__ import annotations

import json
from typing import Any, Final

import pytest

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import CRDS, Kubectl, KubectlError
from tests.unit.operator.core.test_pod_template import TEMPLATE

NAMESPACE: Final = "podtpl"

pytestmark = pytest.mark.skipif(
    controlplane.built() is None,
    reason="the control plane binaries are not built: run `make cluster-build` (a long cold build)",
)


@pytest.fixture(scope="module")
def kubectl(control_plane: controlplane.ControlPlane) -> Kubectl:
    kubectl = Kubectl(control_plane.kubectl, control_plane.kubeconfig)
    manifest = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"
    kubectl.run("apply", "-f", "-", stdin=manifest)
    kubectl.apply_files(CRDS)
    kubectl.run("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    return kubectl


def _resource(kind: str, template: dict[str, Any]) -> str:
    spec: dict[str, Any] = {"bootstrapServers": "kafka:9092", "template": template}
    if kind == "KafkaConnector":
        spec["class"] = "DataGen"
    if kind == "StandaloneConnect":
        spec["connectors"] = [{"name": "a", "class": "DataGen"}]
    return json.dumps(
        {
            "apiVersion": "kconnect.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": "tpl"},
            "spec": spec,
        }
    )


def _apply(kubectl: Kubectl, manifest: str) -> str:
    return kubectl.run("apply", "--dry-run=server", "-n", NAMESPACE, "-f", "-", stdin=manifest)


KINDS = pytest.mark.parametrize("kind", ["KafkaConnector", "KConnectCluster", "StandaloneConnect"])


@KINDS
def test_the_api_server_accepts_a_full_template(kubectl: Kubectl, kind: str) -> None:
    out = _apply(kubectl, _resource(kind, TEMPLATE))
    assert "(server dry run)" in out


VOLUME: Final = {"name": "v", "emptyDir": {}}


@KINDS
@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"env": [{"name": "POD_IP", "value": "1"}]},
            "template.env[].name must not be one the operator sets",
        ),
        (
            {"env": [{"name": "KCONNECT_LOG_FORMAT", "value": "json"}]},
            "nor start with KCONNECT_",
        ),
        ({"env": [{"name": "A"}]}, "template.env[] needs exactly one of value or valueFrom"),
        (
            {"env": [{"name": "A", "valueFrom": {}}]},
            "template.env[].valueFrom needs exactly one of secretKeyRef or configMapKeyRef",
        ),
        ({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "Duplicate value"),
        (
            {"volumes": [{"name": "runtime", "emptyDir": {}}]},
            "template.volumes[].name must not be one the operator uses",
        ),
        (
            {"volumes": [{"name": "kafka-secret-abc", "emptyDir": {}}]},
            "template.volumes[].name must not be one the operator uses",
        ),
        ({"volumes": [{"name": "v"}]}, "template.volumes[] needs exactly one of secret"),
        (
            {"volumes": [VOLUME], "volumeMounts": [{"name": "w", "mountPath": "/w"}]},
            "template.volumeMounts[].name must name one of template.volumes",
        ),
        (
            {"volumes": [VOLUME], "volumeMounts": [{"name": "v", "mountPath": "/etc/kconnect"}]},
            "template.volumeMounts[].mountPath must not be, be inside or contain",
        ),
        (
            {"volumes": [VOLUME], "volumeMounts": [{"name": "v", "mountPath": "/opt"}]},
            "template.volumeMounts[].mountPath must not be, be inside or contain",
        ),
        (
            {"containerSecurityContext": {"privileged": True}},
            "template.containerSecurityContext.privileged may only be false",
        ),
        (
            {"containerSecurityContext": {"readOnlyRootFilesystem": False}},
            "template.containerSecurityContext.readOnlyRootFilesystem may only be true",
        ),
        (
            {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
            "template.containerSecurityContext.allowPrivilegeEscalation may only be false",
        ),
        (
            {"containerSecurityContext": {"runAsNonRoot": False}},
            "template.containerSecurityContext.runAsNonRoot may only be true",
        ),
        ({"containerSecurityContext": {"runAsUser": 0}}, "containerSecurityContext.runAsUser"),
        ({"securityContext": {"runAsUser": 0}}, "spec.template.securityContext.runAsUser"),
        (
            {"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
            "spec.template.securityContext.seccompProfile.type",
        ),
        ({"terminationGracePeriodSeconds": 0}, "spec.template.terminationGracePeriodSeconds"),
    ],
)
def test_the_api_server_refuses_what_would_break_the_worker(
    kubectl: Kubectl, kind: str, template: dict[str, Any], message: str
) -> None:
    with pytest.raises(KubectlError) as refused:
        _apply(kubectl, _resource(kind, template))
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"containerSecurityContext": {"capabilities": {"add": ["NET_ADMIN"]}}},
        {"securityContext": {"runAsNonRoot": False}},
        {"volumes": [{"name": "v", "hostPath": {"path": "/"}}]},
    ],
)
def test_fields_the_template_does_not_offer_are_refused_not_dropped(
    kubectl: Kubectl, fields: dict[str, Any]
) -> None:
    """kubectl's strict field validation refuses what the schema does not declare, so no
    capability, root user or host path is pruned away silently either."""
    with pytest.raises(KubectlError) as refused:
        _apply(kubectl, _resource("KafkaConnector", fields))
    assert "unknown field" in str(refused.value)


RACK: Final = {"topologyKey": "topology.kubernetes.io/zone"}


def _with_rack(kind: str, **spec: Any) -> str:
    resource = json.loads(_resource(kind, {}))
    resource["spec"].update(spec)
    return json.dumps(resource)


@KINDS
def test_the_api_server_checks_rack(kubectl: Kubectl, kind: str) -> None:
    assert "(server dry run)" in _apply(kubectl, _with_rack(kind, rack=RACK))
    with pytest.raises(KubectlError) as refused:
        _apply(kubectl, _with_rack(kind, rack={"topologyKey": "kubernetes.io/hostname"}))
    assert "spec.rack.topologyKey" in str(refused.value)
    with pytest.raises(KubectlError) as refused:
        _apply(kubectl, _with_rack(kind, rack=RACK, workerConfig={"consumer.client.rack": "a"}))
    assert "workerConfig must not set consumer.client.rack when rack is set" in str(refused.value)
