"""`template`: every field reaches the worker StatefulSet's pod template, for a dedicated
KafkaConnector, a KConnectCluster and a StandaloneConnect alike (one builder), and what would break
the worker is refused, naming the field."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kconnect.config.properties import parse_properties
from kconnect.errors import ConfigError
from kconnect_operator.core import manifests
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.kafkaconnector import build as kc_build
from kconnect_operator.kafkaconnector import decide as kc_decide
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec, KConnectClusterSpec
from kconnect_operator.standaloneconnect import build as sc_build
from kconnect_operator.standaloneconnect.model import StandaloneConnectSpec

TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "connect", "effect": "NoSchedule"}
SPREAD = {
    "maxSkew": 1,
    "topologyKey": "topology.kubernetes.io/zone",
    "whenUnsatisfiable": "ScheduleAnyway",
    "labelSelector": {"matchLabels": {"team": "data"}},
}
AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["c"]}]}
            ]
        }
    }
}
TEMPLATE: dict[str, Any] = {
    "labels": {"team": "data"},
    "annotations": {"example.com/owner": "data"},
    "nodeSelector": {"pool": "c"},
    "tolerations": [TOLERATION],
    "affinity": AFFINITY,
    "topologySpreadConstraints": [SPREAD],
    "priorityClassName": "connect-high",
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccountName": "connect-workers",
    "terminationGracePeriodSeconds": 600,
    "securityContext": {"runAsUser": 2000, "fsGroup": 3000, "supplementalGroups": [4000]},
    "containerSecurityContext": {"runAsUser": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
    "env": [
        {"name": "PLAIN", "value": "1"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
        {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "site", "key": "zone"}}},
    ],
    "volumes": [
        {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "certs", "secret": {"secretName": "certs"}},
    ],
    "volumeMounts": [
        {"name": "scratch", "mountPath": "/scratch", "readOnly": False},
        {"name": "certs", "mountPath": "/certs"},
    ],
}


def _dedicated(**extra: Any) -> dict[str, Any]:
    spec = KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", **extra}
    )
    owner = kc_build.Owner(name="orders", namespace="shop", uid="u-1")
    return kc_build.build_stateful_set(spec, owner, image="img", secret_versions={})


def _cluster(**extra: Any) -> dict[str, Any]:
    spec = KConnectClusterSpec.model_validate({"bootstrapServers": "kafka:9092", **extra})
    owner = kc_build.ClusterOwner(name="shared", namespace="shop", uid="u-2")
    return kc_build.build_stateful_set(spec, owner, image="img", secret_versions={})


def _standalone(**extra: Any) -> dict[str, Any]:
    spec = StandaloneConnectSpec.model_validate(
        {
            "bootstrapServers": "kafka:9092",
            "connectors": [{"name": "a", "class": "DataGen", "config": {"topic": "t"}}],
            **extra,
        }
    )
    owner = sc_build.Owner(name="jobs", namespace="shop", uid="u-3")
    return sc_build.build_stateful_set(spec, owner, image="img", secret_versions={})


BUILDERS = pytest.mark.parametrize(
    "build", [_dedicated, _cluster, _standalone], ids=["dedicated", "cluster", "standalone"]
)


def _pod(sts: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = sts["spec"]["template"]
    return result


@BUILDERS
def test_every_field_reaches_the_pod_template(build: Any) -> None:
    plain = _pod(build())
    pod = _pod(build(template=TEMPLATE))
    meta, spec = pod["metadata"], pod["spec"]
    (worker,) = spec["containers"]
    assert meta["labels"]["team"] == "data"
    assert meta["annotations"]["example.com/owner"] == "data"
    assert spec["nodeSelector"] == {"pool": "c"}
    assert spec["tolerations"] == [TOLERATION]
    assert spec["affinity"] == AFFINITY
    assert spec["topologySpreadConstraints"] == [SPREAD]
    assert spec["priorityClassName"] == "connect-high"
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["serviceAccountName"] == "connect-workers"
    assert spec["automountServiceAccountToken"] is False
    assert spec["terminationGracePeriodSeconds"] == 600
    # The security contexts are merged: the overrides change the ids, the rest stays.
    assert spec["securityContext"] == {
        **plain["spec"]["securityContext"],
        "runAsUser": 2000,
        "fsGroup": 3000,
        "supplementalGroups": [4000],
    }
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert worker["securityContext"] == {
        **plain["spec"]["containers"][0]["securityContext"],
        "runAsUser": 2000,
    }
    assert worker["securityContext"]["readOnlyRootFilesystem"] is True
    assert worker["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e for e in worker["env"]}
    assert env["PLAIN"] == {"name": "PLAIN", "value": "1"}
    assert env["FROM_SECRET"]["valueFrom"] == {"secretKeyRef": {"name": "db", "key": "pw"}}
    assert env["FROM_CM"]["valueFrom"] == {"configMapKeyRef": {"name": "site", "key": "zone"}}
    # The builder's own variables stay, first.
    assert (
        worker["env"][: len(plain["spec"]["containers"][0]["env"])]
        == (plain["spec"]["containers"][0]["env"])
    )
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}}
    assert volumes["certs"] == {"name": "certs", "secret": {"secretName": "certs"}}
    assert spec["volumes"][: len(plain["spec"]["volumes"])] == plain["spec"]["volumes"]
    mounts = {m["name"]: m for m in worker["volumeMounts"]}
    assert mounts["scratch"] == {"name": "scratch", "mountPath": "/scratch", "readOnly": False}
    assert mounts["certs"] == {"name": "certs", "mountPath": "/certs", "readOnly": True}
    for absent in ("topologySpreadConstraints", "priorityClassName", "imagePullSecrets"):
        assert absent not in plain["spec"]
    assert "serviceAccountName" not in plain["spec"]


@BUILDERS
def test_a_template_change_is_in_the_pod_template(build: Any) -> None:
    """The StatefulSet controller rolls the pods on any pod-template change; the operator
    compares the template it builds with the live one."""
    assert _pod(build()) != _pod(build(template={"priorityClassName": "p"}))


@BUILDERS
def test_a_grace_period_shorter_than_the_drain_is_refused(build: Any) -> None:
    minimum = _pod(build())["spec"]["terminationGracePeriodSeconds"]
    ok = build(template={"terminationGracePeriodSeconds": minimum})
    assert _pod(ok)["spec"]["terminationGracePeriodSeconds"] == minimum
    with pytest.raises(ConfigError, match=r"template\.terminationGracePeriodSeconds=1: .*at least"):
        build(template={"terminationGracePeriodSeconds": 1})


@BUILDERS
def test_an_env_var_also_in_external_configuration_is_refused(build: Any) -> None:
    ext = {"env": [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]}
    with pytest.raises(ConfigError, match=r"template\.env 'DB': externalConfiguration\.env"):
        build(externalConfiguration=ext, template={"env": [{"name": "DB", "value": "x"}]})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"env": [{"name": "POD_IP", "value": "1"}]}, r"template\.env\[\]\.name must not be"),
        ({"env": [{"name": "KCONNECT_LOG_FORMAT", "value": "x"}]}, "start with KCONNECT_"),
        ({"env": [{"name": "A"}]}, "exactly one of value or valueFrom"),
        (
            {
                "env": [
                    {
                        "name": "A",
                        "value": "1",
                        "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                    }
                ]
            },
            "exactly one of value or valueFrom",
        ),
        ({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "appear once"),
        ({"volumes": [{"name": "runtime", "emptyDir": {}}]}, r"template\.volumes\[\]\.name"),
        ({"volumes": [{"name": "ext-x", "emptyDir": {}}]}, r"template\.volumes\[\]\.name"),
        ({"volumes": [{"name": "kafka-secret-x", "emptyDir": {}}]}, "kafka-secret-"),
        ({"volumes": [{"name": "v"}]}, "exactly one of secret"),
        ({"volumes": [{"name": "v", "emptyDir": {}, "secret": {}}]}, "exactly one of secret"),
        ({"volumes": [{"name": "v", "hostPath": {"path": "/"}}]}, "hostPath"),
        (
            {
                "volumes": [{"name": "v", "emptyDir": {}}],
                "volumeMounts": [{"name": "w", "mountPath": "/w"}],
            },
            r"must name one of template\.volumes",
        ),
        *(
            (
                {
                    "volumes": [{"name": "v", "emptyDir": {}}],
                    "volumeMounts": [{"name": "v", "mountPath": path}],
                },
                r"mountPath must not be",
            )
            for path in ("/etc/kconnect", "/var/run/kconnect/x", "/opt", "/var/lib/kconnect")
        ),
        ({"securityContext": {"runAsUser": 0}}, "runAsUser"),
        ({"securityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        ({"containerSecurityContext": {"runAsUser": 0}}, "runAsUser"),
        ({"containerSecurityContext": {"privileged": True}}, "privileged"),
        ({"containerSecurityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
        ({"containerSecurityContext": {"allowPrivilegeEscalation": True}}, "allowPrivilege"),
        ({"containerSecurityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}, "capabilities"),
        ({"containerSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}, "seccomp"),
        ({"terminationGracePeriodSeconds": 0}, "terminationGracePeriodSeconds"),
    ],
)
def test_what_would_break_the_worker_is_refused(template: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaConnectorSpec.model_validate(
            {"class": "DataGen", "bootstrapServers": "kafka:9092", "template": template}
        )


# --- rack awareness

RACK = {"topologyKey": "topology.kubernetes.io/zone"}


def _run_start_script(
    command: str, tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    config_dir, runtime_dir = tmp_path / "etc", tmp_path / "run"
    config_dir.mkdir(exist_ok=True)
    runtime_dir.mkdir(exist_ok=True)
    (config_dir / "worker.properties").write_text("bootstrap.servers=kafka:9092\n", "utf-8")
    script = command.replace(manifests.CONFIG_DIR, str(config_dir)).replace(
        manifests.RUNTIME_DIR, str(runtime_dir)
    )
    script = re.sub(r"exec kconnect \w+ (\S+).*", r"exec cat \1", script)
    return subprocess.run(
        ["/bin/sh", "-c", script],
        env={"POD_IP": "10.1.2.3", "POD_NAME": "w-0", "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


@BUILDERS
def test_rack_reads_the_zone_label_through_the_downward_api(build: Any, tmp_path: Path) -> None:
    (worker,) = _pod(build(rack=RACK))["spec"]["containers"]
    env = {e["name"]: e for e in worker["env"]}
    assert env["KCONNECT_RACK"]["valueFrom"]["fieldRef"] == {
        "apiVersion": "v1",
        "fieldPath": "metadata.labels['topology.kubernetes.io/zone']",
    }
    ran = _run_start_script(worker["command"][2], tmp_path, {"KCONNECT_RACK": "zone-b"})
    assert ran.returncode == 0, ran.stderr
    assert parse_properties(ran.stdout)["consumer.client.rack"] == "zone-b"
    # Without the label the worker does not start, and says why.
    missing = _run_start_script(worker["command"][2], tmp_path, {"KCONNECT_RACK": ""})
    assert missing.returncode == 1
    assert "spec.rack: this pod has no label topology.kubernetes.io/zone" in missing.stderr
    assert "PodTopologyLabelsAdmission" in missing.stderr
    # No rack: no variable, no key.
    (plain,) = _pod(build())["spec"]["containers"]
    assert "KCONNECT_RACK" not in {e["name"] for e in plain["env"]}
    ran = _run_start_script(plain["command"][2], tmp_path, {})
    assert "consumer.client.rack" not in parse_properties(ran.stdout)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"rack": {"topologyKey": "kubernetes.io/hostname"}}, "topologyKey"),
        (
            {"rack": RACK, "workerConfig": {"consumer.client.rack": "a"}},
            "workerConfig must not set consumer.client.rack when rack is set",
        ),
        ({"cluster": "shared", "rack": RACK}, r"spec\.rack must not be set when spec\.cluster"),
    ],
)
def test_rack_refusals(spec: dict[str, Any], message: str) -> None:
    raw = {"class": "DataGen", **spec}
    if "cluster" not in spec:
        raw["bootstrapServers"] = "kafka:9092"
    with pytest.raises(ValidationError, match=message):
        KafkaConnectorSpec.model_validate(raw)


@dataclass(frozen=True)
class _Observed:
    spec: KafkaConnectorSpec
    owner: kc_build.Owner = field(
        default_factory=lambda: kc_build.Owner(name="orders", namespace="shop", uid="u-1")
    )
    options: OperatorOptions = field(default_factory=OperatorOptions)
    secret_versions: Mapping[str, str] = field(default_factory=dict)
    config_map_versions: Mapping[str, str] = field(default_factory=dict)
    kafka_secrets: Mapping[str, Any] = field(default_factory=dict)
    live: Mapping[str, Any] = field(default_factory=dict)
    pods: Sequence[Any] = ()
    previous: Any = None


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"terminationGracePeriodSeconds": 1}, "template.terminationGracePeriodSeconds=1"),
        ({"env": [{"name": "DB", "value": "x"}]}, "externalConfiguration.env already sets it"),
    ],
)
def test_a_template_the_builder_refuses_applies_nothing_and_says_why(
    template: dict[str, Any], message: str
) -> None:
    ext = {"env": [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]}
    spec = KafkaConnectorSpec.model_validate(
        {
            "class": "DataGen",
            "bootstrapServers": "kafka:9092",
            "externalConfiguration": ext,
            "template": template,
        }
    )
    decision = kc_decide.decide_workers(_Observed(spec))
    assert decision.actions == ()
    assert decision.spec_error is not None
    assert message in decision.spec_error
    assert decision.spec_reason is None  # InvalidConfig
