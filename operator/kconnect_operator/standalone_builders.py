"""The children of a `StandaloneConnect`, as pure functions of its spec.

A StandaloneConnect becomes:
- a ConfigMap `<name>-standalone-config` with `worker.properties` and `<connector>.properties` per
  connector;
- a StatefulSet `<name>-standalone` of one replica whose pod runs
  `kconnect standalone worker.properties <c1>.properties ...` with those files mounted at
  `/etc/kconnect`, and its source offsets in `offset.storage.file.filename` on the `offsets`
  volume: a claim from `volumeClaimTemplates` (persistentVolumeClaim), so they survive the pod,
  or an emptyDir (ephemeral), so they survive only container restarts;
- a headless Service `<name>-standalone-headless` (the StatefulSet's `serviceName`) and a
  Service `<name>-standalone` for the REST API.

What rolls the pod: the pod template carries `kconnect.io/config-hash`, a hash of the rendered
worker file, every connector file and the referenced Secrets' resourceVersions. A standalone worker
runs exactly the files it was started with, so any connector change (added, edited, removed) is a
roll, and the restarted worker no longer runs a removed connector.

The pod is hardened as a KafkaConnector's worker pod is (`builders`): the same start script binding
the pod IP, the same probes on /health, security contexts and termination grace. Builders return
plain JSON-ready dicts, the same for the same inputs, so the shell applies them idempotently.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from kconnect.config.worker import StandaloneConfig
from kconnect_operator import builders
from kconnect_operator.models import API_VERSION, NAMESPACE_PATTERN, JsonObject
from kconnect_operator.standalone_models import (
    KIND,
    MAX_NAME_LENGTH,
    OffsetStorageType,
    StandaloneConnector,
    StandaloneConnectSpec,
)

SELECTOR_LABEL: Final = "kconnect.io/standalone"
COMPONENT: Final = "standalone-worker"
OFFSETS_VOLUME: Final = "offsets"
OFFSETS_DIR: Final = "/var/lib/kconnect/offsets"
OFFSETS_FILE: Final = f"{OFFSETS_DIR}/offsets.dat"
STANDALONE_COMMAND: Final = ("kconnect", "standalone")
DEFAULT_CLAIM_SIZE: Final = "1Gi"

DEFAULT_WORKER_PROPERTIES: Final[Mapping[str, str]] = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "header.converter": "org.apache.kafka.connect.storage.SimpleHeaderConverter",
}
"""Worker defaults the operator writes; `workerConfig` overrides each."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The StandaloneConnect that owns the children."""

    name: str
    namespace: str
    uid: str

    def __post_init__(self) -> None:
        if not (len(self.namespace) <= 63 and re.fullmatch(NAMESPACE_PATTERN, self.namespace)):
            raise ValueError(f"namespace {self.namespace!r}: expected a DNS-1123 label")
        if not (
            len(self.name) <= MAX_NAME_LENGTH
            and re.fullmatch(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", self.name)
        ):
            raise ValueError(
                f"metadata.name {self.name!r}: expected a DNS-1035 label of at most "
                f"{MAX_NAME_LENGTH} characters"
            )
        if not self.uid:
            raise ValueError(f"{KIND} {self.namespace}/{self.name}: no metadata.uid")


def child_name(owner: Owner) -> str:
    """The StatefulSet's and the REST Service's name."""
    return f"{owner.name}-standalone"


def headless_service_name(owner: Owner) -> str:
    return f"{owner.name}-standalone-headless"


def config_map_name(owner: Owner) -> str:
    return f"{owner.name}-standalone-config"


def pod_name(owner: Owner) -> str:
    """The StatefulSet's one pod."""
    return f"{child_name(owner)}-0"


def selector_labels(owner: Owner) -> dict[str, str]:
    return {
        "app.kubernetes.io/instance": owner.name,
        "app.kubernetes.io/name": builders.APP_NAME,
        SELECTOR_LABEL: owner.name,
    }


def selector_string(owner: Owner) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector_labels(owner).items()))


def labels(owner: Owner) -> dict[str, str]:
    return dict(
        sorted(
            {
                **selector_labels(owner),
                "app.kubernetes.io/component": COMPONENT,
                "app.kubernetes.io/managed-by": builders.MANAGED_BY,
            }.items()
        )
    )


def owner_reference(owner: Owner) -> JsonObject:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(owner: Owner, name: str) -> JsonObject:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels(owner),
        "ownerReferences": [owner_reference(owner)],
    }


# --- the files


def worker_properties(spec: StandaloneConnectSpec, owner: Owner) -> dict[str, str]:
    """The worker's properties, sorted: defaults, then `workerConfig`, then the keys the operator
    manages (the REST listener is added in the pod by the start script). Raises
    `kconnect.errors.ConfigError` naming the key when the worker would reject them."""
    props = {
        **DEFAULT_WORKER_PROPERTIES,
        **spec.worker_config,
        "bootstrap.servers": spec.bootstrap_servers,
        "offset.storage.file.filename": OFFSETS_FILE,
    }
    StandaloneConfig.parse(props, source=f"{owner.namespace}/{owner.name} spec.workerConfig")
    return dict(sorted(props.items()))


def connector_file(connector: StandaloneConnector) -> str:
    return f"{connector.name}.properties"


def connector_properties(connector: StandaloneConnector) -> dict[str, str]:
    """The connector's file: its config completed with name, class and tasks.max."""
    return dict(
        sorted(
            {
                **connector.config,
                "name": connector.name,
                "connector.class": connector.class_,
                "tasks.max": str(connector.tasks_max),
            }.items()
        )
    )


def config_files(spec: StandaloneConnectSpec, owner: Owner) -> dict[str, str]:
    """The ConfigMap's data: the worker file and one file per connector."""
    files = {builders.CONFIG_KEY: builders.render_properties(worker_properties(spec, owner))}
    for connector in spec.connectors:
        files[connector_file(connector)] = builders.render_properties(
            connector_properties(connector)
        )
    return dict(sorted(files.items()))


def referenced_secrets(spec: StandaloneConnectSpec) -> list[str]:
    ext = spec.external_configuration
    names = {e.value_from.secret_key_ref.name for e in ext.env if e.value_from.secret_key_ref}
    names |= {v.secret.secret_name for v in ext.volumes if v.secret}
    return sorted(names)


def config_hash(
    spec: StandaloneConnectSpec, owner: Owner, secret_versions: Mapping[str, str]
) -> str:
    """A hash of every file the worker reads and of the referenced Secrets' resourceVersions."""
    secrets = {name: secret_versions.get(name) for name in referenced_secrets(spec)}
    payload = json.dumps(
        {"files": config_files(spec, owner), "secrets": secrets},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def termination_grace_seconds(spec: StandaloneConnectSpec, owner: Owner) -> int:
    config = StandaloneConfig.parse(worker_properties(spec, owner))
    drain_ms = config.task_shutdown_graceful_timeout_ms + config.offset_flush_timeout_ms
    return math.ceil(drain_ms / 1000) + builders.DRAIN_MARGIN_S


def build_config_map(spec: StandaloneConnectSpec, owner: Owner) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(owner, config_map_name(owner)),
        "data": config_files(spec, owner),
    }


# --- the StatefulSet


def start_script(spec: StandaloneConnectSpec) -> str:
    """`builders.start_script` running `kconnect standalone` with every connector file."""
    files = [f"{builders.CONFIG_DIR}/{connector_file(c)}" for c in spec.connectors]
    return builders.start_script(STANDALONE_COMMAND, files)


def _field_env(name: str, path: str) -> JsonObject:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def _env(spec: StandaloneConnectSpec) -> list[JsonObject]:
    env: list[JsonObject] = [
        _field_env("POD_IP", "status.podIP"),
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "TMPDIR", "value": builders.RUNTIME_DIR},
    ]
    for item in sorted(spec.external_configuration.env, key=lambda e: e.name):
        if item.value_from.secret_key_ref is not None:
            ref, kind = item.value_from.secret_key_ref, "secretKeyRef"
        else:
            assert item.value_from.config_map_key_ref is not None
            ref, kind = item.value_from.config_map_key_ref, "configMapKeyRef"
        env.append({"name": item.name, "valueFrom": {kind: {"name": ref.name, "key": ref.key}}})
    return env


def _volumes(
    spec: StandaloneConnectSpec, owner: Owner
) -> tuple[list[JsonObject], list[JsonObject]]:
    volumes: list[JsonObject] = [
        {"name": "worker-config", "configMap": {"name": config_map_name(owner)}},
        {"name": "runtime", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]
    if spec.offset_storage.type is OffsetStorageType.EPHEMERAL:
        volumes.append({"name": OFFSETS_VOLUME, "emptyDir": {}})
    mounts: list[JsonObject] = [
        {"name": "worker-config", "mountPath": builders.CONFIG_DIR, "readOnly": True},
        {"name": "runtime", "mountPath": builders.RUNTIME_DIR},
        {"name": OFFSETS_VOLUME, "mountPath": OFFSETS_DIR},
    ]
    for ext in sorted(spec.external_configuration.volumes, key=lambda v: v.name):
        volume_name = f"ext-{ext.name}"[:63]
        if ext.secret is not None:
            source: JsonObject = {"secret": {"secretName": ext.secret.secret_name}}
        else:
            assert ext.config_map is not None
            source = {"configMap": {"name": ext.config_map.name}}
        volumes.append({"name": volume_name, **source})
        mounts.append(
            {
                "name": volume_name,
                "mountPath": f"{builders.EXTERNAL_DIR}/{ext.name}",
                "readOnly": True,
            }
        )
    return volumes, mounts


def _probe(*, period: int, failures: int) -> JsonObject:
    return {
        "httpGet": {
            "path": builders.HEALTH_PATH,
            "port": builders.REST_PORT_NAME,
            "scheme": "HTTP",
        },
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
        "successThreshold": 1,
    }


def _resources(spec: StandaloneConnectSpec) -> JsonObject:
    out: JsonObject = {}
    if spec.resources.limits:
        out["limits"] = dict(sorted(spec.resources.limits.items()))
    if spec.resources.requests:
        out["requests"] = dict(sorted(spec.resources.requests.items()))
    return out


def _claim_template(spec: StandaloneConnectSpec, owner: Owner) -> JsonObject:
    storage = spec.offset_storage
    claim_spec: JsonObject = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size or DEFAULT_CLAIM_SIZE}},
    }
    if storage.storage_class is not None:
        claim_spec["storageClassName"] = storage.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": OFFSETS_VOLUME, "labels": labels(owner)},
        "spec": claim_spec,
    }


def build_stateful_set(
    spec: StandaloneConnectSpec,
    owner: Owner,
    *,
    image: str,
    secret_versions: Mapping[str, str],
) -> JsonObject:
    """The worker StatefulSet: one replica. `image` is used when the spec names none."""
    template = spec.template
    volumes, mounts = _volumes(spec, owner)
    pod_labels = dict(sorted({**template.labels, **labels(owner)}.items()))
    pod_annotations = dict(
        sorted(
            {
                **template.annotations,
                builders.CONFIG_HASH_ANNOTATION: config_hash(spec, owner, secret_versions),
            }.items()
        )
    )
    container: JsonObject = {
        "name": "worker",
        "image": spec.image or image,
        "command": ["/bin/sh", "-c", start_script(spec)],
        "env": _env(spec),
        "ports": [
            {
                "name": builders.REST_PORT_NAME,
                "containerPort": builders.REST_PORT,
                "protocol": "TCP",
            }
        ],
        "startupProbe": _probe(period=5, failures=60),
        "readinessProbe": _probe(period=5, failures=3),
        "livenessProbe": _probe(period=10, failures=6),
        "resources": _resources(spec),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": builders.RUN_AS_USER,
            "runAsGroup": builders.RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }
    pod_spec: JsonObject = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [container],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": builders.RUN_AS_USER,
            "runAsGroup": builders.RUN_AS_USER,
            "fsGroup": builders.RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": termination_grace_seconds(spec, owner),
        "volumes": volumes,
    }
    if template.node_selector:
        pod_spec["nodeSelector"] = dict(sorted(template.node_selector.items()))
    if template.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in template.tolerations]
    if template.affinity is not None:
        pod_spec["affinity"] = dict(template.affinity)
    sts_spec: JsonObject = {
        "replicas": 1,
        "revisionHistoryLimit": 3,
        "serviceName": headless_service_name(owner),
        "podManagementPolicy": "OrderedReady",
        "selector": {"matchLabels": selector_labels(owner)},
        "updateStrategy": {"type": "RollingUpdate"},
        "template": {
            "metadata": {"labels": pod_labels, "annotations": pod_annotations},
            "spec": pod_spec,
        },
    }
    if spec.offset_storage.type is OffsetStorageType.PERSISTENT_VOLUME_CLAIM:
        sts_spec["volumeClaimTemplates"] = [_claim_template(spec, owner)]
        sts_spec["persistentVolumeClaimRetentionPolicy"] = {
            "whenDeleted": "Delete" if spec.offset_storage.delete_claim else "Retain",
            "whenScaled": "Retain",
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _metadata(owner, child_name(owner)),
        "spec": sts_spec,
    }


def _rest_port() -> JsonObject:
    return {
        "name": builders.REST_PORT_NAME,
        "port": builders.REST_PORT,
        "targetPort": builders.REST_PORT_NAME,
        "protocol": "TCP",
    }


def build_headless_service(owner: Owner) -> JsonObject:
    """The StatefulSet's governing Service: a stable DNS name for the pod."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(owner, headless_service_name(owner)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector_labels(owner),
            "ports": [_rest_port()],
        },
    }


def build_service(owner: Owner) -> JsonObject:
    """The worker's REST API."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(owner, child_name(owner)),
        "spec": {"type": "ClusterIP", "selector": selector_labels(owner), "ports": [_rest_port()]},
    }


def build_children(
    spec: StandaloneConnectSpec,
    owner: Owner,
    *,
    image: str,
    secret_versions: Mapping[str, str],
) -> list[JsonObject]:
    """Every child, in the order to apply them: config and Services before the pod."""
    return [
        build_config_map(spec, owner),
        build_headless_service(owner),
        build_service(owner),
        build_stateful_set(spec, owner, image=image, secret_versions=secret_versions),
    ]
