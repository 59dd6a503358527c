"""The children of a `KafkaConnector`, as pure functions of its spec (shared: `core.manifests`).

Each builder returns a plain JSON-ready dict, the same for the same inputs (keys in a fixed order,
lists sorted where Kubernetes does not care about order), so the shell can apply it idempotently
and compare it with what is there. Every child carries a controller owner reference to the
KafkaConnector, so deleting the resource garbage-collects the workers.

What rolls the worker pods and what does not:
- The pod template carries `kconnect.io/config-hash`, a hash of the rendered worker properties,
  of the resourceVersions of the Secrets and ConfigMaps the spec references and of a log
  format other than `text`. A change to any of them changes the template, so the StatefulSet
  rolls the pods; nothing else feeds the hash. The log format reaches the worker as
  `KCONNECT_LOG_FORMAT` in its env.
- The connector's own fields (`class`, `tasksMax`, `config`, `state`) and the log levels
  (`logging.loggers`) appear in no child: they go to the workers over REST, and a change to them
  never touches the StatefulSet.

Stable worker identities: the workers run in a StatefulSet, and each pod's name is its worker's
`group.instance.id` (static group membership, set by the start script from the downward API's
`POD_NAME`: the `env` config provider is limited to the variables the spec declares, and a
`workerConfig` may replace the providers, so the operator does not depend on them). A roll
restarts one pod at a time, and each gets its own tasks back without a rebalance as long as it
is back within `session.timeout.ms` (`DEFAULT_SESSION_TIMEOUT_MS` unless `workerConfig` sets it).
`group.instance.id` is a managed key: one value shared by several pods would fence them off in
turn.

Config providers: unless `workerConfig` sets `config.providers` itself, the worker properties
declare `env`, `file` and `dir` (Kafka's EnvVarConfigProvider, FileConfigProvider and
DirectoryConfigProvider), the last two limited to `EXTERNAL_DIR`, so that a connector config can
name a mounted Secret as `${dir:/opt/kconnect/external-configuration/<volume>:<key>}` with no
further setup. `env` is limited (`allowlist.pattern`) to the variables the spec declares in
`externalConfiguration.env`: a connector config, which any REST caller can write, never reads the
rest of the worker's environment. Setting `config.providers` replaces all three: the user
declares what they list, and their limits.

The file connectors: the worker properties set `file.connectors.enable=false` unless
`workerConfig` sets it, so FileStreamSource and FileStreamSink (which read and write any file the
worker can) run only where a resource asks for them.

The pod IP in the worker's REST settings: `kconnect distributed FILE` reads a plain properties file
with no variable substitution, and the Kubernetes downward API can put the pod IP in env but not
in a file. So the container is a small `/bin/sh` step that copies the mounted worker.properties
into a private emptyDir, appends `listeners=http://$POD_IP:8083` and
`rest.advertised.host.name=$POD_IP`, and `exec`s `kconnect distributed` on the copy. The worker
then runs as the container's main process (it gets SIGTERM directly and drains), its worker id is
`<pod IP>:8083`, and requests forwarded between workers reach the right pod. The REST server binds
the pod IP rather than every address: probes, the operator and the other workers all use the pod
IP, and pods that share a network (a node without pod network namespaces, such as the test
kubelet's) never clash on the port. The root filesystem stays read-only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final

from kconnect.config.worker import DistributedConfig
from kconnect.errors import ConfigError
from kconnect_operator.core.children import CONFIG_SOURCES_ANNOTATION, config_sources
from kconnect_operator.core.kafka_security import SecretFacts
from kconnect_operator.core.manifests import (
    CONFIG_DIR,
    CONFIG_KEY,
    DEFAULT_OPERATOR_LABELS,
    DRAIN_MARGIN_S,
    FILE_CONNECTORS_KEY,
    NO_SECRETS,
    RUNTIME_MOUNT,
    RUNTIME_VOLUME,
    OwnerKind,
    ResourceOwner,
    default_properties,
    external_volumes,
    hash_of,
    hash_payload,
    leave_group_hook,
    metadata,
    network_policy,
    pod_template,
    render_properties,
    rest_service_port,
    selector_labels,
    start_script,
    with_kafka_security,
)
from kconnect_operator.core.shapes import (
    JsonObject,
)
from kconnect_operator.kafkaconnector.model import (
    CLUSTER_GROUP_PREFIX,
    CLUSTER_KIND,
    KIND,
    MAX_NAME_LENGTH,
    ExactlyOncePhase,
    KafkaConnectorSpec,
    KConnectClusterSpec,
    derived_names,
)

SELECTOR_LABEL: Final = "kconnect.io/connector"


CLUSTER_SELECTOR_LABEL: Final = "kconnect.io/cluster"
"""The label that names a KConnectCluster on its children and worker pods (Strimzi's
`strimzi.io/cluster`)."""


EXACTLY_ONCE_KEY: Final = "exactly.once.source.support"


EXACTLY_ONCE_ANNOTATION: Final = "kconnect.io/exactly-once-source-support"
"""On the StatefulSet: the `exactly.once.source.support` its pod template runs, so that the next
pass (of this operator or of one that restarted) knows which of the two rolls it is in."""


def exactly_once_annotation(phase: ExactlyOncePhase) -> dict[str, str]:
    """The StatefulSet's `EXACTLY_ONCE_ANNOTATION`: none for Disabled (the worker's default)."""
    if phase is ExactlyOncePhase.DISABLED:
        return {}
    return {EXACTLY_ONCE_ANNOTATION: phase.worker_value}


def default_phase(spec: Workers) -> ExactlyOncePhase:
    """The phase of workers made from scratch: Enabled or Disabled, as the spec says."""
    return ExactlyOncePhase.ENABLED if spec.exactly_once else ExactlyOncePhase.DISABLED


COMPONENT: Final = "connect-worker"


SESSION_TIMEOUT_KEY: Final = "session.timeout.ms"


DEFAULT_SESSION_TIMEOUT_MS: Final = "60000"
"""The workers' `session.timeout.ms` unless `workerConfig` sets it (`DEFAULT_WORKER_PROPERTIES`)."""


MAX_WORKLOAD_NAME: Final = 52
"""The longest StatefulSet name whose pods can be created: the controller labels each pod with
`controller-revision-hash: <name>-<hash of up to 10 characters>`, and a label value holds at most
63 characters."""


DEFAULT_WORKER_PROPERTIES: Final[Mapping[str, str]] = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "header.converter": "org.apache.kafka.connect.storage.SimpleHeaderConverter",
    # The broker's default.replication.factor: right on a one-broker test cluster and in prod.
    "config.storage.replication.factor": "-1",
    "offset.storage.replication.factor": "-1",
    "status.storage.replication.factor": "-1",
    FILE_CONNECTORS_KEY: "false",
    # Static members (`group.instance.id` = the pod's name): how long a stopped worker's tasks
    # wait for its pod to come back. Covers a roll's stop, the pod's re-creation under the same
    # name, a new image's pull and the worker's start; Kafka's own consumer default is 45 s.
    SESSION_TIMEOUT_KEY: DEFAULT_SESSION_TIMEOUT_MS,
}
"""Worker defaults the operator writes; `workerConfig` overrides each."""


CONNECTOR_OWNER: Final = OwnerKind(
    kind=KIND,
    component=COMPONENT,
    selector_label=SELECTOR_LABEL,
    max_name_length=MAX_NAME_LENGTH,
)


CLUSTER_OWNER: Final = OwnerKind(
    kind=CLUSTER_KIND,
    component=COMPONENT,
    selector_label=CLUSTER_SELECTOR_LABEL,
    max_name_length=MAX_NAME_LENGTH,
)


@dataclass(frozen=True, slots=True)
class Owner(ResourceOwner):
    """The KafkaConnector that owns the children."""

    kind: ClassVar[OwnerKind] = CONNECTOR_OWNER
    suffix: ClassVar[str] = "connect"
    """What the children's names add to the owner's."""

    sink_group: str | None = None
    """The sink consumer group recorded on the resource (`SINK_GROUP_ANNOTATION`); None when
    none is recorded yet (the default, `default_sink_group`, then applies)."""


@dataclass(frozen=True, slots=True)
class ClusterOwner(ResourceOwner):
    """The KConnectCluster that owns the children: its names end in `-workers`, so a cluster and
    a KafkaConnector of one name in one namespace never share a child."""

    kind: ClassVar[OwnerKind] = CLUSTER_OWNER
    suffix: ClassVar[str] = "workers"


Workers = KafkaConnectorSpec | KConnectClusterSpec
"""The spec of a worker cluster: a KafkaConnector's dedicated one, or a KConnectCluster's. Every
builder below takes either, with its owner, so both kinds run the same code."""


AnyOwner = Owner | ClusterOwner


def child_name(owner: AnyOwner) -> str:
    """The name of the Service, PodDisruptionBudget and NetworkPolicy (and of the Deployment an
    earlier operator made): `<name>-connect`, or `<name>-workers` for a KConnectCluster."""
    return f"{owner.name}-{owner.suffix}"


def workload_name(owner: AnyOwner) -> str:
    """The StatefulSet's name, and so its pods' prefix (`<name>-0`, `<name>-1`, ...), which are
    the workers' `group.instance.id`s: `<resource>-connect` when it fits in `MAX_WORKLOAD_NAME`,
    else the resource name cut short and a hash of the whole name (a hash holds no `-connect`, so
    it never equals another resource's short form)."""
    name = child_name(owner)
    if len(name) <= MAX_WORKLOAD_NAME:
        return name
    digest = hashlib.sha256(owner.name.encode()).hexdigest()[:8]
    return f"{owner.name[: MAX_WORKLOAD_NAME - len(digest) - 1].rstrip('-')}-{digest}"


def deployment_name(owner: AnyOwner) -> str:
    """The worker Deployment an earlier operator made, which the StatefulSet replaces."""
    return child_name(owner)


def config_map_name(owner: AnyOwner) -> str:
    return f"{owner.name}-{owner.suffix}-config"


def worker_child_keys(owner: AnyOwner) -> list[tuple[str, str, str]]:
    """(apiVersion, kind, name) of every child of a worker cluster, dedicated or shared."""
    child = child_name(owner)
    return [
        ("v1", "ConfigMap", config_map_name(owner)),
        ("v1", "Service", child),
        ("policy/v1", "PodDisruptionBudget", child),
        ("networking.k8s.io/v1", "NetworkPolicy", child),
        ("apps/v1", "StatefulSet", workload_name(owner)),
    ]


SINK_GROUP_ANNOTATION: Final = "kconnect.io/sink-group"
"""The sink consumer group the operator chose for a resource, recorded when it first applies the
children, so that the choice never changes under the resource's committed offsets."""


WORKER_GROUP_KEY: Final = "consumer.group.id"


CONNECTOR_GROUP_KEY: Final = "consumer.override.group.id"


def default_sink_group(namespace: str, name: str) -> str:
    """The sink group of a new resource: `connect-<namespace>.<name>`. A namespace holds no dot
    and a name neither, so two resources never share it."""
    return f"connect-{namespace}.{name}"


def initial_sink_group(namespace: str, name: str, *, existed: bool) -> str:
    """The group to record for a resource that has none recorded: Kafka Connect's
    `connect-<name>` for one an earlier operator already ran (`existed`: its committed offsets
    are there), `default_sink_group` for a new one."""
    return f"connect-{name}" if existed else default_sink_group(namespace, name)


def sink_group(spec: KafkaConnectorSpec, owner: Owner) -> str:
    """The group a sink's tasks commit to: the connector's `consumer.override.group.id`, else
    `workerConfig`'s `consumer.group.id`, else the recorded one, else the default."""
    return (
        spec.config.get(CONNECTOR_GROUP_KEY)
        or spec.worker_config.get(WORKER_GROUP_KEY)
        or owner.sink_group
        or default_sink_group(owner.namespace, owner.name)
    )


def connector_sink_group(spec: KafkaConnectorSpec, owner: Owner) -> dict[str, str]:
    """What a connector on a shared cluster adds to its config: its own sink group
    (`consumer.override.group.id`, `sink_group`) unless its config names one. The cluster's
    workers set no worker-wide `consumer.group.id`, and Kafka Connect's `connect-<name>` would
    be shared by same-named connectors of two clusters on one Kafka."""
    if CONNECTOR_GROUP_KEY in spec.config:
        return {}
    return {CONNECTOR_GROUP_KEY: sink_group(spec, owner)}


def _check_sink_group(spec: KafkaConnectorSpec, owner: Owner, worker_group: str) -> None:
    group = sink_group(spec, owner)
    if not group.strip() or group != group.strip():
        raise ConfigError(
            f"{owner.namespace}/{owner.name}: sink consumer group {group!r}: expected a "
            "non-empty group id without surrounding spaces"
        )
    if group == worker_group:
        raise ConfigError(
            f"{owner.namespace}/{owner.name}: sink consumer group {group!r} is the worker group "
            f"(spec.groupId): expected another group id in {CONNECTOR_GROUP_KEY} or "
            f"workerConfig {WORKER_GROUP_KEY}"
        )


def bootstrap_servers(spec: Workers) -> str:
    """`spec.bootstrapServers`, which a KafkaConnector with dedicated workers must set (the CRD
    requires it unless `spec.cluster` is set)."""
    if spec.bootstrap_servers is None:
        raise ConfigError(
            "spec.bootstrapServers is required unless spec.cluster names a KConnectCluster"
        )
    return spec.bootstrap_servers


def worker_properties(
    spec: Workers,
    owner: AnyOwner,
    kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS,
    phase: ExactlyOncePhase | None = None,
) -> dict[str, str]:
    """The worker's properties, sorted by key: defaults, then `workerConfig`, then the keys the
    operator manages (the REST listener is added per pod by `start_script`) and those of the
    security fields (`kafka_secrets`: what the referenced Secrets hold). `phase` is the
    `exactly.once.source.support` the decision chose (`decide.exactly_once_phase`);
    `default_phase` when None. Raises
    `kconnect.errors.ConfigError` naming the key when the worker would reject them."""
    sink: dict[str, str] = {}
    if isinstance(owner, ClusterOwner):
        # Each connector of a shared cluster names its own group (`connector_sink_group`).
        names = derived_names(spec, owner.namespace, owner.name, prefix=CLUSTER_GROUP_PREFIX)
    else:
        if not isinstance(spec, KafkaConnectorSpec):
            raise TypeError("a KafkaConnector's workers are built from its own spec")
        names = derived_names(spec, owner.namespace, owner.name)
        _check_sink_group(spec, owner, names.group_id)
        # One connector per worker cluster: the worker-wide sink group is the connector's.
        sink[WORKER_GROUP_KEY] = owner.sink_group or default_sink_group(owner.namespace, owner.name)
    props = {
        **default_properties(DEFAULT_WORKER_PROPERTIES, spec),
        **sink,
        **spec.worker_config,
        "bootstrap.servers": bootstrap_servers(spec),
        "group.id": names.group_id,
        "config.storage.topic": names.config_storage_topic,
        "offset.storage.topic": names.offset_storage_topic,
        "status.storage.topic": names.status_storage_topic,
    }
    phase = phase or default_phase(spec)
    if phase is not ExactlyOncePhase.DISABLED:
        # Disabled is the worker's default: left out, so that clusters that never turn it on
        # keep their config hash across an operator upgrade (no roll).
        props[EXACTLY_ONCE_KEY] = phase.worker_value
    props = with_kafka_security(props, spec, kafka_secrets)
    DistributedConfig.parse(props, source=f"{owner.namespace}/{owner.name} spec.workerConfig")
    return dict(sorted(props.items()))


def config_payload(
    spec: Workers,
    owner: AnyOwner,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None = None,
    kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS,
    phase: ExactlyOncePhase | None = None,
) -> JsonObject:
    """What the config hash covers: the rendered worker properties, the referenced Secrets' and
    ConfigMaps' resourceVersions, the security Secrets' digests and the log format (see
    `hash_payload`)."""
    return hash_payload(
        {"properties": render_properties(worker_properties(spec, owner, kafka_secrets, phase))},
        spec,
        secret_versions,
        config_map_versions,
        kafka_secrets,
    )


def config_hash(
    spec: Workers,
    owner: AnyOwner,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None = None,
    kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS,
    phase: ExactlyOncePhase | None = None,
) -> str:
    """A hash of `config_payload`. Versions of Secrets and ConfigMaps the spec does not reference
    are ignored."""
    return hash_of(
        config_payload(spec, owner, secret_versions, config_map_versions, kafka_secrets, phase)
    )


def termination_grace_seconds(
    spec: Workers, owner: AnyOwner, kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS
) -> int:
    """Long enough for the worker to stop its tasks gracefully and flush their offsets."""
    config = DistributedConfig.parse(worker_properties(spec, owner, kafka_secrets))
    drain_ms = config.task_shutdown_graceful_timeout_ms + config.offset_flush_timeout_ms
    return math.ceil(drain_ms / 1000) + DRAIN_MARGIN_S


def build_config_map(
    spec: Workers,
    owner: AnyOwner,
    kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS,
    phase: ExactlyOncePhase | None = None,
) -> JsonObject:
    """The worker file. The security fields put only config-provider variables in it."""
    props = worker_properties(spec, owner, kafka_secrets, phase)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(owner, config_map_name(owner)),
        "data": {CONFIG_KEY: render_properties(props)},
    }


def _volumes(spec: Workers, owner: AnyOwner) -> tuple[list[JsonObject], list[JsonObject]]:
    volumes: list[JsonObject] = [
        {
            "name": "worker-config",
            "configMap": {
                "name": config_map_name(owner),
                "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}],
            },
        },
        RUNTIME_VOLUME,
    ]
    mounts: list[JsonObject] = [
        {"name": "worker-config", "mountPath": CONFIG_DIR, "readOnly": True},
        RUNTIME_MOUNT,
    ]
    ext_volumes, ext_mounts = external_volumes(spec)
    return volumes + ext_volumes, mounts + ext_mounts


def build_stateful_set(
    spec: Workers,
    owner: AnyOwner,
    *,
    image: str,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None = None,
    kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS,
    phase: ExactlyOncePhase | None = None,
) -> JsonObject:
    """The worker StatefulSet. `image` is used when the spec names none; `secret_versions` and
    `config_map_versions` map Secret and ConfigMap names to resourceVersions (see
    `config_hash`). Its `kconnect.io/config-sources` annotation lists what the hash covers, so
    a roll can be reported with its cause.

    Each pod's name is stable (`<workload_name>-<ordinal>`) and is its worker's
    `group.instance.id` (the start script sets it), so a restarted pod gets its own tasks back.
    `Parallel` creates and removes pods at once when scaling; a roll (`RollingUpdate`) still
    replaces one pod at a time, from the highest ordinal down, and the next only once the
    replaced one is Ready again (its worker has rejoined the group). The preStop hook makes a
    pod that a scale-down removes give its seat up (`manifests.leave_group_hook`)."""
    volumes, mounts = _volumes(spec, owner)
    payload = config_payload(
        spec, owner, secret_versions, config_map_versions, kafka_secrets, phase
    )
    template = pod_template(
        spec,
        owner,
        image=image,
        script=start_script(static_member=True, rack=spec.rack),
        config_hash=hash_of(payload),
        volumes=volumes,
        mounts=mounts,
        grace_seconds=termination_grace_seconds(spec, owner, kafka_secrets),
        lifecycle=leave_group_hook(),
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            **metadata(owner, workload_name(owner)),
            "annotations": {
                CONFIG_SOURCES_ANNOTATION: config_sources(payload),
                **exactly_once_annotation(phase or default_phase(spec)),
            },
        },
        "spec": {
            "replicas": spec.replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": selector_labels(owner)},
            "serviceName": child_name(owner),
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "template": template,
        },
    }


def build_service(owner: AnyOwner) -> JsonObject:
    """The workers' REST API; its ready endpoints are where the operator sends connector
    config."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(owner, child_name(owner)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner),
            "ports": [rest_service_port()],
        },
    }


def build_pod_disruption_budget(owner: AnyOwner) -> JsonObject:
    """At most one worker evicted at a time, so a drain moves tasks one worker at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(owner, child_name(owner)),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(owner)}},
    }


def build_network_policy(
    owner: AnyOwner,
    spec: Workers,
    *,
    operator_namespace: str,
    operator_labels: Mapping[str, str] = DEFAULT_OPERATOR_LABELS,
) -> JsonObject:
    """The workers' NetworkPolicy (`manifests.network_policy`): the operator's pods and the
    workers themselves (they forward requests to their leader) reach the REST port."""
    return network_policy(
        owner,
        spec,
        name=child_name(owner),
        operator_namespace=operator_namespace,
        operator_labels=operator_labels,
    )


def build_children(
    spec: Workers,
    owner: AnyOwner,
    *,
    image: str,
    secret_versions: Mapping[str, str],
    operator_namespace: str,
    operator_labels: Mapping[str, str] = DEFAULT_OPERATOR_LABELS,
    config_map_versions: Mapping[str, str] | None = None,
    kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS,
    phase: ExactlyOncePhase | None = None,
) -> list[JsonObject]:
    """Every child, in the order to apply them: config before the pods that mount it."""
    return [
        build_config_map(spec, owner, kafka_secrets, phase),
        build_service(owner),
        build_pod_disruption_budget(owner),
        build_network_policy(
            owner, spec, operator_namespace=operator_namespace, operator_labels=operator_labels
        ),
        build_stateful_set(
            spec,
            owner,
            image=image,
            secret_versions=secret_versions,
            config_map_versions=config_map_versions,
            kafka_secrets=kafka_secrets,
            phase=phase,
        ),
    ]
