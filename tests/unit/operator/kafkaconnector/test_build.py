"""The child builders: every field the workers need, owner references, and the config hash."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kconnect.config.properties import parse_properties
from kconnect.config.providers import ConfigTransformer
from kconnect.config.worker import DistributedConfig
from kconnect.errors import ConfigError
from kconnect_operator.core import manifests
from kconnect_operator.core.manifests import (
    CONFIG_HASH_ANNOTATION,
    referenced_secrets,
    render_properties,
    selector_labels,
    selector_string,
)
from kconnect_operator.kafkaconnector import build as kc_build
from kconnect_operator.kafkaconnector.build import (
    Owner,
    build_children,
    build_config_map,
    build_network_policy,
    build_pod_disruption_budget,
    build_service,
    build_stateful_set,
    config_hash,
    worker_properties,
)
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec

OWNER = Owner(name="orders", namespace="team-a", uid="0f1e-uid")
IMAGE = "kconnect:test"
SECRET_ENV = {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}
CM_ENV = {"name": "REGION", "valueFrom": {"configMapKeyRef": {"name": "site", "key": "region"}}}
TLS_VOLUME = {"name": "tls", "secret": {"secretName": "kafka-tls"}}
CM_VOLUME = {"name": "schemas", "configMap": {"name": "avro"}}
PROVIDERS = "org.apache.kafka.common.config.provider"


def make_spec(**extra: object) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", **extra}
    )


def deployment(spec: KafkaConnectorSpec | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("image", IMAGE)
    kw.setdefault("secret_versions", {})
    return build_stateful_set(spec or make_spec(), OWNER, **kw)


def pod_spec(dep: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = dep["spec"]["template"]["spec"]
    return result


def container(dep: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(dep)["containers"]
    result: dict[str, Any] = only
    return result


def pod_hash(dep: dict[str, Any]) -> str:
    result: str = dep["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    return result


def children(spec: KafkaConnectorSpec | None = None) -> list[dict[str, Any]]:
    return build_children(
        spec or make_spec(),
        OWNER,
        image=IMAGE,
        secret_versions={"db": "1"},
        operator_namespace="kconnect-system",
    )


# --- every child


def test_children_in_apply_order() -> None:
    assert [c["kind"] for c in children()] == [
        "ConfigMap",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "StatefulSet",
    ]


def test_every_child_is_owned_labelled_and_namespaced() -> None:
    for child in children():
        meta = child["metadata"]
        assert meta["namespace"] == "team-a"
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "kconnect.io/v1alpha1",
                "kind": "KafkaConnector",
                "name": "orders",
                "uid": "0f1e-uid",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert meta["labels"]["kconnect.io/connector"] == "orders"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "kconnect-operator"
        assert len(meta["name"]) <= 63


def test_children_are_deterministic_json() -> None:
    spec = make_spec(
        externalConfiguration={"env": [SECRET_ENV, CM_ENV], "volumes": [TLS_VOLUME, CM_VOLUME]},
        template={"labels": {"z": "1", "a": "2"}, "tolerations": [{"key": "k"}]},
    )
    first = json.dumps(children(spec))
    assert first == json.dumps(children(spec))
    # Declaring external items in another order changes nothing.
    reordered = make_spec(
        externalConfiguration={"env": [CM_ENV, SECRET_ENV], "volumes": [CM_VOLUME, TLS_VOLUME]},
        template={"labels": {"a": "2", "z": "1"}, "tolerations": [{"key": "k"}]},
    )
    assert json.dumps(children(reordered)) == first


def test_owner_is_checked() -> None:
    with pytest.raises(ValueError, match=r"metadata\.uid"):
        Owner(name="a", namespace="b", uid="")
    with pytest.raises(ValueError, match=r"metadata\.name"):
        Owner(name="Not_A_Label", namespace="b", uid="u")


def test_selector() -> None:
    assert selector_labels(OWNER) == {
        "app.kubernetes.io/instance": "orders",
        "app.kubernetes.io/name": "kconnect",
        "kconnect.io/connector": "orders",
    }
    assert selector_string(OWNER) == (
        "app.kubernetes.io/instance=orders,app.kubernetes.io/name=kconnect,"
        "kconnect.io/connector=orders"
    )


# --- the worker ConfigMap


def test_config_map_holds_the_worker_properties() -> None:
    cm = build_config_map(make_spec(), OWNER)
    assert cm["apiVersion"] == "v1"
    assert cm["kind"] == "ConfigMap"
    assert cm["metadata"]["name"] == "orders-connect-config"
    props = parse_properties(cm["data"]["worker.properties"])
    assert props == {
        "bootstrap.servers": "kafka:9092",
        "group.id": "kconnect.team-a.orders",
        "config.storage.topic": "kconnect.team-a.orders.configs",
        "offset.storage.topic": "kconnect.team-a.orders.offsets",
        "status.storage.topic": "kconnect.team-a.orders.status",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "header.converter": "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "config.storage.replication.factor": "-1",
        "offset.storage.replication.factor": "-1",
        "status.storage.replication.factor": "-1",
        "config.providers": "env,file,dir",
        "config.providers.env.class": f"{PROVIDERS}.EnvVarConfigProvider",
        # No env declared: the env provider reads no variable of the worker's environment.
        "config.providers.env.param.allowlist.pattern": "(?!)",
        "config.providers.file.class": f"{PROVIDERS}.FileConfigProvider",
        "config.providers.file.param.allowed.paths": "/opt/kconnect/external-configuration",
        "config.providers.dir.class": f"{PROVIDERS}.DirectoryConfigProvider",
        "config.providers.dir.param.allowed.paths": "/opt/kconnect/external-configuration",
        # The file connectors run only where workerConfig allows them.
        "file.connectors.enable": "false",
        # The sink's consumer group is the resource's own: its namespace is in the name.
        "consumer.group.id": "connect-team-a.orders",
        # Static members: a rolled pod's tasks wait this long for it.
        "session.timeout.ms": "60000",
    }
    # The pod adds its own IP at start; the file never carries one.
    assert "rest.advertised.host.name" not in props


def test_worker_config_overrides_defaults_and_adds_keys() -> None:
    spec = make_spec(
        groupId="legacy",
        workerConfig={
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "config.storage.replication.factor": "1",
            "producer.linger.ms": "5",
            "config.providers": "env",
        },
    )
    props = worker_properties(spec, OWNER)
    assert props["value.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert props["config.storage.replication.factor"] == "1"
    assert props["producer.linger.ms"] == "5"
    assert props["config.providers"] == "env"
    assert props["group.id"] == "legacy"
    assert list(props) == sorted(props)


def test_config_providers_set_in_worker_config_replace_the_defaults() -> None:
    spec = make_spec(
        workerConfig={
            "config.providers": "vault",
            "config.providers.vault.class": "my_company.providers:Vault",
        }
    )
    props = worker_properties(spec, OWNER)
    assert props["config.providers"] == "vault"
    assert not [k for k in props if k.startswith(("config.providers.dir", "config.providers.env"))]


def test_the_default_providers_resolve_a_mounted_secret(tmp_path: Path) -> None:
    """The defaults are ones the worker loads, and `dir` reads a file of a mounted volume but
    nothing outside the external-configuration directory."""
    props = dict(worker_properties(make_spec(), OWNER))
    mounted = tmp_path / "opt" / "kconnect" / "external-configuration"
    (mounted / "db").mkdir(parents=True)
    (mounted / "db" / "password").write_text("s3cr3t", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "password").write_text("other", encoding="utf-8")
    for key in (
        "config.providers.dir.param.allowed.paths",
        "config.providers.file.param.allowed.paths",
    ):
        assert props[key] == manifests.EXTERNAL_DIR
        props[key] = str(mounted)
    transformer = ConfigTransformer.from_worker_props(props)
    resolved = transformer.transform({"connection.password": f"${{dir:{mounted}/db:password}}"})
    assert resolved == {"connection.password": "s3cr3t"}
    with pytest.raises(ConfigError, match=r"allowed\.paths"):
        transformer.transform({"p": f"${{dir:{tmp_path / 'elsewhere'}:password}}"})


def test_worker_config_the_worker_rejects_names_the_key() -> None:
    spec = make_spec(workerConfig={"offset.flush.timeout.ms": "soon"})
    with pytest.raises(ConfigError, match=r"offset\.flush\.timeout\.ms") as info:
        worker_properties(spec, OWNER)
    assert "spec.workerConfig" in str(info.value)


property_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x85\u2028\u2029"),
    max_size=20,
)


@given(st.dictionaries(property_text.filter(bool), property_text, max_size=6))
def test_rendered_properties_read_back_unchanged(props: dict[str, str]) -> None:
    assert parse_properties(render_properties(props)) == props


# --- the StatefulSet


def test_stateful_set_basics() -> None:
    dep = deployment(make_spec(replicas=3))
    assert dep["apiVersion"] == "apps/v1"
    assert dep["kind"] == "StatefulSet"
    assert dep["metadata"]["name"] == "orders-connect"
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"] == {"matchLabels": selector_labels(OWNER)}
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert selector_labels(OWNER).items() <= pod_labels.items()
    # The REST Service governs the pods; scaling starts and stops pods at once, a roll replaces
    # one pod at a time (the StatefulSet controller waits for each to be Ready again).
    assert dep["spec"]["serviceName"] == "orders-connect"
    assert dep["spec"]["podManagementPolicy"] == "Parallel"
    assert dep["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0},
    }
    assert "volumeClaimTemplates" not in dep["spec"]


def test_the_workload_name_leaves_room_for_the_revision_hash_label() -> None:
    # The controller labels each pod `controller-revision-hash: <name>-<up to 10 characters>`.
    assert kc_build.workload_name(OWNER) == "orders-connect"
    for length in (44, 45, 52, 55):
        long = Owner(name="a" * (length - 1) + "b", namespace="ns", uid="u")
        name = kc_build.workload_name(long)
        assert len(name) <= kc_build.MAX_WORKLOAD_NAME, (length, name)
        assert len(name) + 1 + 10 <= 63
        assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name), name
    at_limit = Owner(name="a" * 44, namespace="ns", uid="u")
    assert kc_build.workload_name(at_limit) == "a" * 44 + "-connect"
    # Two long names that share a prefix still get two StatefulSets.
    one = Owner(name="x" * 50 + "one", namespace="ns", uid="u")
    two = Owner(name="x" * 50 + "two", namespace="ns", uid="u")
    assert kc_build.workload_name(one) != kc_build.workload_name(two)
    assert kc_build.deployment_name(one) == "x" * 50 + "one-connect"


def test_each_worker_is_a_static_member_named_after_its_pod(tmp_path: Path) -> None:
    c = container(deployment())
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    config_dir, runtime_dir = tmp_path / "etc", tmp_path / "run"
    config_dir.mkdir()
    runtime_dir.mkdir()
    original = render_properties(worker_properties(make_spec(), OWNER))
    (config_dir / "worker.properties").write_text(original, encoding="utf-8")
    script = (
        c["command"][2]
        .replace(manifests.CONFIG_DIR, str(config_dir))
        .replace(manifests.RUNTIME_DIR, str(runtime_dir))
        .replace("exec kconnect distributed", "exec cat")
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        env={"POD_IP": "10.1.2.3", "POD_NAME": "orders-connect-2", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    props = parse_properties(result.stdout)
    assert props["group.instance.id"] == "orders-connect-2"
    # The worker accepts the file the pod runs, and reads its identity from it.
    config = DistributedConfig.parse(props)
    assert config.group_instance_id == "orders-connect-2"
    assert config.session_timeout_ms == 60_000


def test_session_timeout_defaults_for_static_workers_and_worker_config_overrides_it() -> None:
    assert worker_properties(make_spec(), OWNER)["session.timeout.ms"] == "60000"
    custom = make_spec(workerConfig={"session.timeout.ms": "120000"})
    assert worker_properties(custom, OWNER)["session.timeout.ms"] == "120000"


def test_worker_config_may_not_set_the_instance_id() -> None:
    with pytest.raises(ValidationError, match=r"group\.instance\.id"):
        make_spec(workerConfig={"group.instance.id": "shared"})


def test_the_pre_stop_hook_leaves_the_group_only_for_a_marked_pod(tmp_path: Path) -> None:
    hook = container(deployment())["lifecycle"]["preStop"]["exec"]["command"]
    assert hook[:2] == ["/bin/sh", "-c"]
    marker = tmp_path / "leave-group"
    # The hook signals PID 1 in the container; here a stand-in process records what it gets.
    catcher = subprocess.Popen(
        ["/bin/sh", "-c", "trap 'echo USR1; exit 0' USR1; echo up; while :; do sleep 0.1; done"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert catcher.stdout is not None
        assert catcher.stdout.readline().strip() == "up"
        script = (
            hook[2]
            .replace(manifests.LEAVE_MARKER, str(marker))
            .replace("kill -USR1 1", f"kill -USR1 {catcher.pid}")
        )
        subprocess.run(["/bin/sh", "-c", script], check=True, timeout=10)
        assert catcher.poll() is None  # no marker: a roll or an eviction keeps the seat
        mark = " ".join(manifests.MARK_LEAVING_COMMAND[2:]).replace(
            manifests.LEAVE_MARKER, str(marker)
        )
        subprocess.run(["/bin/sh", "-c", mark], check=True, timeout=10)
        assert marker.exists()
        subprocess.run(["/bin/sh", "-c", script], check=True, timeout=10)
        assert catcher.wait(10) == 0
        assert catcher.stdout.read().strip() == "USR1"
    finally:
        catcher.kill()
        catcher.wait()
        if catcher.stdout is not None:
            catcher.stdout.close()


def test_replicas_zero_is_allowed() -> None:
    assert deployment(make_spec(replicas=0))["spec"]["replicas"] == 0


def test_image_from_spec_or_default() -> None:
    assert container(deployment())["image"] == IMAGE
    assert container(deployment(make_spec(image="registry/kc:2")))["image"] == "registry/kc:2"


def test_the_worker_container_keeps_its_log_tail_as_termination_message() -> None:
    c = container(deployment())
    assert c["name"] == manifests.WORKER_CONTAINER
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_the_container_runs_kconnect_distributed_on_the_mounted_file() -> None:
    c = container(deployment())
    assert c["command"][:2] == ["/bin/sh", "-c"]
    script = c["command"][2]
    assert "exec kconnect distributed /var/run/kconnect/worker.properties" in script
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/etc/kconnect"] == {
        "name": "worker-config",
        "mountPath": "/etc/kconnect",
        "readOnly": True,
    }
    assert mounts["/var/run/kconnect"]["name"] == "runtime"
    volumes = {v["name"]: v for v in pod_spec(deployment())["volumes"]}
    assert volumes["worker-config"]["configMap"]["name"] == "orders-connect-config"
    assert "emptyDir" in volumes["runtime"]


def test_start_script_adds_the_pod_ip_and_execs_the_worker(tmp_path: Path) -> None:
    config_dir, runtime_dir = tmp_path / "etc", tmp_path / "run"
    config_dir.mkdir()
    runtime_dir.mkdir()
    original = render_properties(worker_properties(make_spec(), OWNER))
    (config_dir / "worker.properties").write_text(original, encoding="utf-8")
    script = (
        manifests.start_script()
        .replace(manifests.CONFIG_DIR, str(config_dir))
        .replace(manifests.RUNTIME_DIR, str(runtime_dir))
        .replace("exec kconnect distributed", "exec cat")
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        env={"POD_IP": "10.1.2.3", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    props = parse_properties(result.stdout)
    assert props == {
        **parse_properties(original),
        "listeners": "http://10.1.2.3:8083",
        "rest.advertised.host.name": "10.1.2.3",
    }


def test_start_script_brackets_an_ipv6_pod_ip_in_the_listener(tmp_path: Path) -> None:
    (tmp_path / "worker.properties").write_text("group.id=g\n", encoding="utf-8")
    (tmp_path / "run").mkdir()
    script = (
        manifests.start_script()
        .replace(manifests.CONFIG_DIR, str(tmp_path))
        .replace(manifests.RUNTIME_DIR, str(tmp_path / "run"))
        .replace("exec kconnect distributed", "exec cat")
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        env={"POD_IP": "fd00::7", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    props = parse_properties(result.stdout)
    assert props["group.id"] == "g"
    assert props["listeners"] == "http://[fd00::7]:8083"
    assert props["rest.advertised.host.name"] == "fd00::7"


def test_the_start_script_fails_without_a_pod_ip(tmp_path: Path) -> None:
    (tmp_path / "worker.properties").write_text("group.id=g\n", encoding="utf-8")
    script = (
        manifests.start_script()
        .replace(manifests.CONFIG_DIR, str(tmp_path))
        .replace(manifests.RUNTIME_DIR, str(tmp_path / "run"))
        .replace("exec kconnect distributed", "exec cat")
    )
    (tmp_path / "run").mkdir()
    result = subprocess.run(
        ["/bin/sh", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, check=False
    )
    assert result.returncode != 0


def test_env_has_the_downward_api_and_external_refs() -> None:
    spec = make_spec(externalConfiguration={"env": [SECRET_ENV, CM_ENV]})
    env = {e["name"]: e for e in container(deployment(spec))["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["DB_PASSWORD"] == SECRET_ENV
    assert env["REGION"] == CM_ENV
    assert env["TMPDIR"]["value"] == "/var/run/kconnect"


def test_external_volumes_are_mounted_read_only() -> None:
    spec = make_spec(externalConfiguration={"volumes": [TLS_VOLUME, CM_VOLUME]})
    dep = deployment(spec)
    volumes = {v["name"]: v for v in pod_spec(dep)["volumes"]}
    assert volumes["ext-tls"] == {"name": "ext-tls", "secret": {"secretName": "kafka-tls"}}
    assert volumes["ext-schemas"] == {"name": "ext-schemas", "configMap": {"name": "avro"}}
    mounts = {m["name"]: m for m in container(dep)["volumeMounts"]}
    assert mounts["ext-tls"] == {
        "name": "ext-tls",
        "mountPath": "/opt/kconnect/external-configuration/tls",
        "readOnly": True,
    }
    assert mounts["ext-schemas"]["mountPath"] == "/opt/kconnect/external-configuration/schemas"


def test_probes_use_health() -> None:
    c = container(deployment())
    assert c["ports"] == [{"name": "rest", "containerPort": 8083, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "rest", "scheme": "HTTP"}
    # Liveness waits for start-up (topics, group join) and tolerates more than readiness does.
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    assert (
        c["livenessProbe"]["periodSeconds"] * c["livenessProbe"]["failureThreshold"]
        > c["readinessProbe"]["periodSeconds"] * c["readinessProbe"]["failureThreshold"]
    )


def test_pods_are_hardened() -> None:
    dep = deployment()
    pod = pod_spec(dep)
    sc = container(dep)["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False


def test_termination_grace_covers_the_drain() -> None:
    # Defaults: 5 s graceful task stop + 5 s offset flush, plus the margin.
    assert pod_spec(deployment())["terminationGracePeriodSeconds"] == 40
    slow = make_spec(
        workerConfig={
            "task.shutdown.graceful.timeout.ms": "20000",
            "offset.flush.timeout.ms": "10500",
        }
    )
    assert pod_spec(deployment(slow))["terminationGracePeriodSeconds"] == 31 + 30


def test_resources() -> None:
    spec = make_spec(resources={"limits": {"memory": "1Gi", "cpu": 2}, "requests": {"cpu": "1"}})
    assert container(deployment(spec))["resources"] == {
        "limits": {"cpu": "2", "memory": "1Gi"},
        "requests": {"cpu": "1"},
    }
    assert container(deployment())["resources"] == {}


def test_template_overrides() -> None:
    toleration = {"key": "dedicated", "operator": "Equal", "value": "kafka", "effect": "NoSchedule"}
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}}
    spec = make_spec(
        template={
            "labels": {"team": "data", "kconnect.io/connector": "hijack"},
            "annotations": {"prometheus.io/scrape": "true", CONFIG_HASH_ANNOTATION: "forged"},
            "nodeSelector": {"pool": "connect"},
            "tolerations": [toleration],
            "affinity": affinity,
        }
    )
    dep = deployment(spec)
    meta = dep["spec"]["template"]["metadata"]
    assert meta["labels"]["team"] == "data"
    # The operator's labels and hash win, so the selector and the roll still work.
    assert meta["labels"]["kconnect.io/connector"] == "orders"
    assert meta["annotations"]["prometheus.io/scrape"] == "true"
    assert meta["annotations"][CONFIG_HASH_ANNOTATION] == pod_hash(deployment())
    pod = pod_spec(dep)
    assert pod["nodeSelector"] == {"pool": "connect"}
    assert pod["tolerations"] == [toleration]
    assert pod["affinity"] == affinity
    plain = pod_spec(deployment())
    assert "nodeSelector" not in plain
    assert "tolerations" not in plain
    assert "affinity" not in plain


# --- what rolls the pods


def test_connector_fields_never_touch_the_deployment() -> None:
    base = deployment()
    for change in (
        {"config": {"topic": "other", "max.interval": "10"}},
        {"class": "FileStreamSource"},
        {"tasksMax": 8},
        {"state": "paused"},
        {"autoRestart": {"enabled": True}},
        {"deletionPolicy": "Delete"},
    ):
        assert deployment(make_spec(**change)) == base, change


@pytest.mark.parametrize(
    "change",
    [
        {"workerConfig": {"offset.flush.interval.ms": "1000"}},
        {"bootstrapServers": "other:9092"},
        {"groupId": "explicit"},
        {"offsetStorageTopic": "explicit-offsets"},
    ],
)
def test_worker_config_changes_change_the_hash(change: dict[str, object]) -> None:
    assert pod_hash(deployment(make_spec(**change))) != pod_hash(deployment())


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"topic": "x"}},
        {"replicas": 5},
        {"image": "other:1"},
        {"template": {"labels": {"a": "b"}}},
        {"resources": {"limits": {"cpu": "1"}}},
        {"state": "stopped"},
    ],
)
def test_other_changes_keep_the_hash(change: dict[str, object]) -> None:
    assert pod_hash(deployment(make_spec(**change))) == pod_hash(deployment())


def test_referenced_secret_versions_change_the_hash() -> None:
    spec = make_spec(externalConfiguration={"env": [SECRET_ENV], "volumes": [TLS_VOLUME]})
    assert referenced_secrets(spec) == ["db", "kafka-tls"]
    versions = {"db": "10", "kafka-tls": "20", "unrelated": "1"}
    base = config_hash(spec, OWNER, versions)
    assert config_hash(spec, OWNER, {**versions, "db": "11"}) != base
    assert config_hash(spec, OWNER, {**versions, "kafka-tls": "21"}) != base
    missing = dict(versions)
    del missing["db"]
    assert config_hash(spec, OWNER, missing) != base
    # Secrets the spec does not reference never roll the pods.
    assert config_hash(spec, OWNER, {**versions, "unrelated": "2"}) == base
    with_cm = make_spec(
        externalConfiguration={"env": [SECRET_ENV, CM_ENV], "volumes": [TLS_VOLUME]}
    )
    # A ConfigMap is no Secret (its versions join the hash on their own: see below).
    assert referenced_secrets(with_cm) == ["db", "kafka-tls"]
    assert pod_hash(deployment(spec, secret_versions=versions)) == base


def test_referenced_config_map_versions_change_the_hash() -> None:
    spec = make_spec(externalConfiguration={"env": [CM_ENV], "volumes": [CM_VOLUME]})
    assert manifests.referenced_config_maps(spec) == ["avro", "site"]
    assert referenced_secrets(spec) == []
    cms = {"avro": "5", "site": "6", "unrelated": "7"}
    base = config_hash(spec, OWNER, {}, cms)
    assert config_hash(spec, OWNER, {}, {**cms, "site": "8"}) != base
    assert config_hash(spec, OWNER, {}, {**cms, "avro": "9"}) != base
    assert config_hash(spec, OWNER, {}, {"site": "6"}) != base
    assert config_hash(spec, OWNER, {}, {**cms, "unrelated": "1"}) == base
    dep = deployment(spec, config_map_versions=cms)
    assert pod_hash(dep) == base
    # What the hash covers is listed on the Deployment, so a roll names its cause.
    sources = json.loads(dep["metadata"]["annotations"]["kconnect.io/config-sources"])
    assert sources["configMaps/site"] == "6"
    assert sources["configMaps/avro"] == "5"
    assert set(sources) == {"properties", "configMaps/avro", "configMaps/site"}


def test_a_resource_without_config_map_references_keeps_its_hash() -> None:
    """The hash covers ConfigMaps only when the spec references one: upgrading the operator
    does not roll the pods of resources that reference none."""
    spec = make_spec(externalConfiguration={"env": [SECRET_ENV]})
    payload = {
        "properties": manifests.render_properties(kc_build.worker_properties(spec, OWNER)),
        "secrets": {"db": "1"},
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert config_hash(spec, OWNER, {"db": "1"}) == hashlib.sha256(text.encode()).hexdigest()[:32]


def test_referencing_a_new_secret_changes_the_hash() -> None:
    versions = {"db": "10"}
    before = config_hash(make_spec(), OWNER, versions)
    after = config_hash(make_spec(externalConfiguration={"env": [SECRET_ENV]}), OWNER, versions)
    assert before != after


def test_hash_is_per_resource() -> None:
    other = Owner(name="payments", namespace="team-a", uid="u2")
    assert config_hash(make_spec(), OWNER, {}) != config_hash(make_spec(), other, {})


# --- Service, PodDisruptionBudget, NetworkPolicy


def test_network_policy_admits_the_metrics_port_from_everywhere_by_default() -> None:
    np = build_network_policy(
        OWNER, make_spec(workerConfig={"metrics.listener": "http://:9404"}), operator_namespace="o"
    )
    rest, metrics = np["spec"]["ingress"]
    assert rest["ports"] == [{"protocol": "TCP", "port": 8083}]
    # No `from`: every source may scrape; the REST port keeps its own narrow rule.
    assert metrics == {"ports": [{"protocol": "TCP", "port": 9404}]}
    assert {"name": "metrics", "containerPort": 9404, "protocol": "TCP"} in container(
        deployment(make_spec(workerConfig={"metrics.listener": "http://:9404"}))
    )["ports"]


def test_network_policy_admits_the_metrics_port_from_the_configured_peers() -> None:
    peers = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
    ]
    np = build_network_policy(
        OWNER,
        make_spec(
            workerConfig={"metrics.listener": "http://0.0.0.0:9404"},
            networkPolicy={"metricsPeers": peers},
        ),
        operator_namespace="o",
    )
    assert np["spec"]["ingress"][1] == {
        "from": peers,
        "ports": [{"protocol": "TCP", "port": 9404}],
    }


def test_no_metrics_listener_no_metrics_rule_or_port() -> None:
    np = build_network_policy(OWNER, make_spec(), operator_namespace="o")
    assert len(np["spec"]["ingress"]) == 1
    assert [p["name"] for p in container(deployment())["ports"]] == ["rest"]


@pytest.mark.parametrize(
    ("listener", "message"),
    [
        ("http://:0", "expected a fixed port"),
        ("http://:8083", "port 8083 is the REST port"),
        ("nonsense", "metrics.listener='nonsense'"),
    ],
)
def test_a_metrics_listener_no_policy_can_admit_alone_is_refused(
    listener: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        children(make_spec(workerConfig={"metrics.listener": listener}))


@pytest.mark.parametrize(
    "peer",
    [
        {},
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
    ],
)
def test_a_metrics_peer_needs_an_ip_block_or_selectors(peer: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="a peer needs ipBlock alone"):
        make_spec(networkPolicy={"metricsPeers": [peer]})


def test_service() -> None:
    svc = build_service(OWNER)
    assert svc["metadata"]["name"] == "orders-connect"
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["selector"] == selector_labels(OWNER)
    assert svc["spec"]["ports"] == [
        {"name": "rest", "port": 8083, "targetPort": "rest", "protocol": "TCP"}
    ]


def test_pod_disruption_budget() -> None:
    pdb = build_pod_disruption_budget(OWNER)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(OWNER)}}


def test_network_policy_admits_only_the_operator_and_the_workers() -> None:
    np = build_network_policy(
        OWNER, make_spec(), operator_namespace="ops", operator_labels={"app": "kconnect-operator"}
    )
    spec = np["spec"]
    assert np["apiVersion"] == "networking.k8s.io/v1"
    assert spec["podSelector"] == {"matchLabels": selector_labels(OWNER)}
    assert spec["policyTypes"] == ["Ingress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8083}]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": selector_labels(OWNER)}},
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}},
            "podSelector": {"matchLabels": {"app": "kconnect-operator"}},
        },
    ]


def test_the_env_provider_reads_only_the_declared_variables() -> None:
    props = worker_properties(make_spec(externalConfiguration={"env": [SECRET_ENV, CM_ENV]}), OWNER)
    pattern = props["config.providers.env.param.allowlist.pattern"]
    transformer = ConfigTransformer.from_worker_props(props)
    environ = {"DB_PASSWORD": "pw", "REGION": "eu", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "x"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in environ.items():
            mp.setenv(key, value)
        resolved = transformer.transform(
            {"a": "${env:DB_PASSWORD}", "b": "${env:REGION}", "c": "${env:AWS_SECRET_ACCESS_KEY}"}
        )
    assert pattern == "DB_PASSWORD|REGION"
    assert resolved == {"a": "pw", "b": "eu", "c": "${env:AWS_SECRET_ACCESS_KEY}"}
    # Declaring nothing admits nothing; declaring providers of one's own keeps one's limits.
    none = worker_properties(make_spec(), OWNER)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", "/root")
        assert ConfigTransformer.from_worker_props(none).transform({"h": "${env:HOME}"}) == {
            "h": "${env:HOME}"
        }
    own = worker_properties(
        make_spec(workerConfig={"config.providers": "env", "config.providers.env.class": "x"}),
        OWNER,
    )
    assert "config.providers.env.param.allowlist.pattern" not in own


def test_the_file_connectors_are_allowed_only_where_worker_config_asks() -> None:
    assert worker_properties(make_spec(), OWNER)["file.connectors.enable"] == "false"
    allowed = make_spec(workerConfig={"file.connectors.enable": "true"})
    assert worker_properties(allowed, OWNER)["file.connectors.enable"] == "true"


# --- the sink consumer group


def test_two_resources_of_one_name_in_two_namespaces_get_two_sink_groups() -> None:
    a = Owner(name="orders", namespace="team-a", uid="a")
    b = Owner(name="orders", namespace="team-b", uid="b")
    groups = {worker_properties(make_spec(), o)["consumer.group.id"] for o in (a, b)}
    assert groups == {"connect-team-a.orders", "connect-team-b.orders"}
    assert kc_build.sink_group(make_spec(), a) == "connect-team-a.orders"


def test_a_recorded_sink_group_is_kept_and_an_existing_resource_keeps_kafka_connects() -> None:
    assert kc_build.initial_sink_group("team-a", "orders", existed=True) == "connect-orders"
    assert kc_build.initial_sink_group("team-a", "orders", existed=False) == (
        "connect-team-a.orders"
    )
    legacy = Owner(name="orders", namespace="team-a", uid="u", sink_group="connect-orders")
    assert worker_properties(make_spec(), legacy)["consumer.group.id"] == "connect-orders"
    assert kc_build.sink_group(make_spec(), legacy) == "connect-orders"


def test_an_explicit_sink_group_wins_and_is_checked() -> None:
    mine = make_spec(config={"consumer.override.group.id": "mine"})
    assert kc_build.sink_group(mine, OWNER) == "mine"
    worker = make_spec(workerConfig={"consumer.group.id": "ours"})
    assert kc_build.sink_group(worker, OWNER) == "ours"
    assert worker_properties(worker, OWNER)["consumer.group.id"] == "ours"
    for bad, message in (
        (
            make_spec(config={"consumer.override.group.id": "kconnect.team-a.orders"}),
            "worker group",
        ),
        (make_spec(workerConfig={"consumer.group.id": "mine", "x": "1"}, groupId="mine"), "worker"),
        (make_spec(config={"consumer.override.group.id": " padded"}), "surrounding spaces"),
    ):
        with pytest.raises(ConfigError, match=message):
            worker_properties(bad, OWNER)
