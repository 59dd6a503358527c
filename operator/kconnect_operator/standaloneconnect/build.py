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
  Service `<name>-standalone` for the REST API;
- a NetworkPolicy `<name>-standalone` that lets only the operator reach the REST port (and, when
  `workerConfig` sets `metrics.listener`, `networkPolicy.metricsPeers` the metrics port), as a
  KafkaConnector's workers have.

What rolls the pod: the pod template carries `kconnect.io/config-hash`, a hash of the rendered
worker file, every connector file, the referenced Secrets' and ConfigMaps' resourceVersions and
the log format. A standalone worker runs exactly the files it was started with, so any connector
change (added, edited, removed) is a roll, and the restarted worker no longer runs a removed
connector. The log
levels are not in any file: they go to the worker over REST and never roll it.

The pod is hardened as a KafkaConnector's worker pod is (`core.manifests`): the same start
script binding the pod IP, the same probes on /health, security contexts and termination grace.
Builders return plain JSON-ready dicts, the same for the same inputs, so the shell applies them
idempotently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final

from kconnect.config.worker import StandaloneConfig
from kconnect_operator.core import manifests
from kconnect_operator.core.children import CONFIG_SOURCES_ANNOTATION, config_sources
from kconnect_operator.core.kafka_security import SecretFacts
from kconnect_operator.core.shapes import JsonObject
from kconnect_operator.standaloneconnect.model import (
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
    manifests.FILE_CONNECTORS_KEY: "false",
}
"""Worker defaults the operator writes; `workerConfig` overrides each."""


STANDALONE_OWNER: Final = manifests.OwnerKind(
    kind=KIND,
    component=COMPONENT,
    selector_label=SELECTOR_LABEL,
    max_name_length=MAX_NAME_LENGTH,
)


@dataclass(frozen=True, slots=True)
class Owner(manifests.ResourceOwner):
    """The StandaloneConnect that owns the children: `manifests.ResourceOwner` with its own
    kind, so the shared `manifests.labels`, `selector_labels` and `metadata` serve both."""

    kind: ClassVar[manifests.OwnerKind] = STANDALONE_OWNER


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


# --- the files


def worker_properties(
    spec: StandaloneConnectSpec,
    owner: Owner,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> dict[str, str]:
    """The worker's properties, sorted: defaults, then `workerConfig`, then the keys the operator
    manages (the REST listener is added in the pod by the start script) and those of the
    security fields (`kafka_secrets`: what the referenced Secrets hold). Raises
    `kconnect.errors.ConfigError` naming the key when the worker would reject them."""
    props = {
        **manifests.default_properties(DEFAULT_WORKER_PROPERTIES, spec),
        **spec.worker_config,
        "bootstrap.servers": spec.bootstrap_servers,
        "offset.storage.file.filename": OFFSETS_FILE,
    }
    props = manifests.with_kafka_security(props, spec, kafka_secrets)
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


def config_files(
    spec: StandaloneConnectSpec,
    owner: Owner,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> dict[str, str]:
    """The ConfigMap's data: the worker file and one file per connector."""
    worker = worker_properties(spec, owner, kafka_secrets)
    files = {manifests.CONFIG_KEY: manifests.render_properties(worker)}
    for connector in spec.connectors:
        files[connector_file(connector)] = manifests.render_properties(
            connector_properties(connector)
        )
    return dict(sorted(files.items()))


def config_payload(
    spec: StandaloneConnectSpec,
    owner: Owner,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None = None,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> JsonObject:
    """What the config hash covers: every file the worker reads, the referenced Secrets' and
    ConfigMaps' resourceVersions, the security Secrets' digests and the log format (see
    `manifests.hash_payload`)."""
    return manifests.hash_payload(
        {"files": config_files(spec, owner, kafka_secrets)},
        spec,
        secret_versions,
        config_map_versions,
        kafka_secrets,
    )


def config_hash(
    spec: StandaloneConnectSpec,
    owner: Owner,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None = None,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> str:
    """A hash of `config_payload`."""
    return manifests.hash_of(
        config_payload(spec, owner, secret_versions, config_map_versions, kafka_secrets)
    )


def termination_grace_seconds(
    spec: StandaloneConnectSpec,
    owner: Owner,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> int:
    config = StandaloneConfig.parse(worker_properties(spec, owner, kafka_secrets))
    drain_ms = config.task_shutdown_graceful_timeout_ms + config.offset_flush_timeout_ms
    return math.ceil(drain_ms / 1000) + manifests.DRAIN_MARGIN_S


def build_config_map(
    spec: StandaloneConnectSpec,
    owner: Owner,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> JsonObject:
    """The worker's and connectors' files. The security fields put only config-provider
    variables in them."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": manifests.metadata(owner, config_map_name(owner)),
        "data": config_files(spec, owner, kafka_secrets),
    }


# --- the StatefulSet


def start_script(spec: StandaloneConnectSpec) -> str:
    """`manifests.start_script` running `kconnect standalone` with every connector file."""
    files = [f"{manifests.CONFIG_DIR}/{connector_file(c)}" for c in spec.connectors]
    return manifests.start_script(STANDALONE_COMMAND, files, rack=spec.rack)


def _volumes(
    spec: StandaloneConnectSpec, owner: Owner
) -> tuple[list[JsonObject], list[JsonObject]]:
    volumes: list[JsonObject] = [
        {"name": "worker-config", "configMap": {"name": config_map_name(owner)}},
        manifests.RUNTIME_VOLUME,
    ]
    if spec.offset_storage.type is OffsetStorageType.EPHEMERAL:
        volumes.append({"name": OFFSETS_VOLUME, "emptyDir": {}})
    mounts: list[JsonObject] = [
        {"name": "worker-config", "mountPath": manifests.CONFIG_DIR, "readOnly": True},
        manifests.RUNTIME_MOUNT,
        {"name": OFFSETS_VOLUME, "mountPath": OFFSETS_DIR},
    ]
    ext_volumes, ext_mounts = manifests.external_volumes(spec)
    return volumes + ext_volumes, mounts + ext_mounts


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
        "metadata": {"name": OFFSETS_VOLUME, "labels": manifests.labels(owner)},
        "spec": claim_spec,
    }


def build_stateful_set(
    spec: StandaloneConnectSpec,
    owner: Owner,
    *,
    image: str,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None = None,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> JsonObject:
    """The worker StatefulSet: one replica. `image` is used when the spec names none. Its
    `kconnect.io/config-sources` annotation lists what the config hash covers."""
    volumes, mounts = _volumes(spec, owner)
    payload = config_payload(spec, owner, secret_versions, config_map_versions, kafka_secrets)
    template = manifests.pod_template(
        spec,
        owner,
        image=image,
        script=start_script(spec),
        config_hash=manifests.hash_of(payload),
        volumes=volumes,
        mounts=mounts,
        grace_seconds=termination_grace_seconds(spec, owner, kafka_secrets),
    )
    sts_spec: JsonObject = {
        "replicas": 1,
        "revisionHistoryLimit": 3,
        "serviceName": headless_service_name(owner),
        "podManagementPolicy": "OrderedReady",
        "selector": {"matchLabels": manifests.selector_labels(owner)},
        "updateStrategy": {"type": "RollingUpdate"},
        "template": template,
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
        "metadata": {
            **manifests.metadata(owner, child_name(owner)),
            "annotations": {CONFIG_SOURCES_ANNOTATION: config_sources(payload)},
        },
        "spec": sts_spec,
    }


def build_headless_service(owner: Owner) -> JsonObject:
    """The StatefulSet's governing Service: a stable DNS name for the pod."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": manifests.metadata(owner, headless_service_name(owner)),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": manifests.selector_labels(owner),
            "ports": [manifests.rest_service_port()],
        },
    }


def build_service(owner: Owner) -> JsonObject:
    """The worker's REST API."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": manifests.metadata(owner, child_name(owner)),
        "spec": {
            "type": "ClusterIP",
            "selector": manifests.selector_labels(owner),
            "ports": [manifests.rest_service_port()],
        },
    }


def child_policy_name(owner: Owner) -> str:
    """The NetworkPolicy's name: the StatefulSet's."""
    return child_name(owner)


def build_network_policy(
    spec: StandaloneConnectSpec,
    owner: Owner,
    *,
    operator_namespace: str,
    operator_labels: Mapping[str, str] = manifests.DEFAULT_OPERATOR_LABELS,
) -> JsonObject:
    """`manifests.build_network_policy` for the one worker: only the operator reaches its REST
    port (a standalone worker forwards to no one), and the metrics port as for a
    KafkaConnector."""
    return manifests.network_policy(
        owner,
        spec,
        name=child_policy_name(owner),
        operator_namespace=operator_namespace,
        operator_labels=operator_labels,
        workers_talk=False,
    )


def build_children(
    spec: StandaloneConnectSpec,
    owner: Owner,
    *,
    image: str,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None = None,
    operator_namespace: str,
    operator_labels: Mapping[str, str] = manifests.DEFAULT_OPERATOR_LABELS,
    kafka_secrets: Mapping[str, SecretFacts] = manifests.NO_SECRETS,
) -> list[JsonObject]:
    """Every child, in the order to apply them: config, Services and the NetworkPolicy before
    the pod."""
    return [
        build_config_map(spec, owner, kafka_secrets),
        build_headless_service(owner),
        build_service(owner),
        build_network_policy(
            spec, owner, operator_namespace=operator_namespace, operator_labels=operator_labels
        ),
        build_stateful_set(
            spec,
            owner,
            image=image,
            secret_versions=secret_versions,
            config_map_versions=config_map_versions,
            kafka_secrets=kafka_secrets,
        ),
    ]
