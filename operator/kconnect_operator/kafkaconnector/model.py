"""The `KafkaConnector` custom resource (`kconnect.io/v1alpha1`), as pydantic models.

These models are the single source of the resource's shape: `crdgen` turns them into the CRD's
OpenAPI schema (field docstrings become its descriptions), and the operator parses resources with
them. The API server enforces the CRD, so a resource it stored already passed the same rules; the
pydantic validators repeat the rules that the CEL expressions in `crdgen` carry, so that a spec
checked here fails with a message naming the field, as it would on `kubectl apply`.

Names derived from a resource (the worker group and the three internal topics) embed the namespace
and the name, separated by dots. A namespace is a DNS-1123 label (no dots) and the names the CRD
admits are DNS-1035 labels, so the derivation is injective: two resources never share a group or
a topic. `derived_names` refuses names outside those rules rather than risk a collision.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kconnect.config.values import config_value_text
from kconnect_operator.core.kafka_security import (
    TLS_AUTH_NEEDS_TLS,
    ClientTls,
    KafkaClientAuthentication,
    authentication_field,
    check_tls_authentication,
    tls_field,
)
from kconnect_operator.core.shapes import (
    FORBIDDEN_CONFIG_KEYS,
    MAX_CONFIG_CHARS,
    MAX_WORKER_CONFIG_CHARS,
    NAME_PATTERN,
    RACK_RULE,
    Condition,
    ConfigValue,
    ConnectorStatus,
    ExternalConfiguration,
    FailedTask,
    Logging,
    NetworkPolicySpec,
    ObjectMeta,
    PodTemplate,
    Rack,
    ResourceRequirements,
    WorkerConfigValue,
    _immutable,
    _Model,
    applied_loggers_field,
    bootstrap_servers_field,
    cel_list,
    check_config_size,
    check_rack,
    check_resource_name,
    connector_config_field,
    external_configuration_field,
    image_field,
    logging_field,
    network_policy_field,
    no_keys,
    no_worker_keys,
    rack_field,
    resource_name_rule,
    resources_field,
    template_field,
    worker_config_field,
)

KIND: Final = "KafkaConnector"


PLURAL: Final = "kafkaconnectors"


SINGULAR: Final = "kafkaconnector"


SHORT_NAMES: Final = ("kctr",)


MAX_NAME_LENGTH: Final = 55
"""A KafkaConnector's name plus `-connect` must still be a valid Service name (63 characters)."""


_CONFIG_KEY_SOURCE: Final = {
    "name": "metadata.name",
    "connector.class": "spec.class",
    "tasks.max": "spec.tasksMax",
}


MANAGED_WORKER_KEYS: Final = (
    "bootstrap.servers",
    "group.id",
    "config.storage.topic",
    "offset.storage.topic",
    "status.storage.topic",
    "listeners",
    "rest.host.name",
    "rest.port",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    "group.instance.id",
    "exactly.once.source.support",
)
"""Worker keys the operator writes: from spec fields, or fixed because probes, the Service and the
NetworkPolicy depend on them, or per pod (`group.instance.id`: each worker pod's name).
`exactly.once.source.support` follows `spec.exactlyOnce` through Kafka's two rolls.
`workerConfig` may not set them."""


class TargetState(StrEnum):
    """The state the connector should be in; changed with pause, resume and stop."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class ExactlyOncePhase(StrEnum):
    """What the workers' `exactly.once.source.support` is set to (its value, capitalised)."""

    DISABLED = "Disabled"
    PREPARING = "Preparing"
    ENABLED = "Enabled"

    @property
    def worker_value(self) -> str:
        return self.value.lower()


class AutoRestart(_Model):
    enabled: bool = False
    """Restart a FAILED connector or task automatically, with a growing backoff."""
    max_restarts: int | None = Field(None, alias="maxRestarts", ge=0)
    """Give up after this many automatic restarts; unset means no limit."""


class ConfigMapName(_Model):
    name: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    """The ConfigMap's name, in the resource's namespace."""


class ListOffsets(_Model):
    to_config_map: ConfigMapName = Field(alias="toConfigMap")
    """Where the annotation `kconnect.io/connector-offsets: list` writes the connector's offsets
    (key `offsets.json`, the body of `GET /connectors/{name}/offsets`)."""


class AlterOffsets(_Model):
    from_config_map: ConfigMapName = Field(alias="fromConfigMap")
    """The ConfigMap whose key `offsets.json` holds the offsets to write, as the body of
    `PATCH /connectors/{name}/offsets`: `{"offsets": [{"partition": {...}, "offset": {...}}]}`."""


class InitialOffsetsPhase(StrEnum):
    """Where writing `spec.initialOffsets` stands: the connector was created stopped and waits
    for them (Pending), or they are written (Applied)."""

    PENDING = "Pending"
    APPLIED = "Applied"


class WorkersSpec(_Model):
    """The fields of a distributed worker cluster, shared by a KConnectCluster and by a
    KafkaConnector with dedicated workers (one model, one set of builders)."""

    replicas: int = Field(1, ge=0)
    """The number of worker pods. The scale subresource acts on it (`kubectl scale`, an HPA,
    KEDA). 0 stops every worker and keeps the connectors' configs and offsets in Kafka. A
    KafkaConnector's workers are not scaled up while its `state` is paused or stopped."""
    tls: ClientTls | None = tls_field()
    """TLS to the brokers, and the CA certificates (from Secrets) their certificates are checked
    against. Unset: no TLS. As in Strimzi's KafkaConnect."""
    authentication: KafkaClientAuthentication | None = authentication_field()
    """How the workers authenticate to Kafka: tls (client certificate), scram-sha-256,
    scram-sha-512, plain or oauth, with Secret references. Applied to every client the worker
    uses; a change to a referenced Secret rolls the worker pods. As in Strimzi's KafkaConnect."""
    image: str | None = image_field()
    """The worker image; the operator's default when unset."""
    worker_config: dict[str, WorkerConfigValue] = worker_config_field(MANAGED_WORKER_KEYS)
    """Extra worker properties (converters, client settings, config providers, replication
    factors). The keys the operator manages may not be set here."""
    group_id: str | None = Field(
        None, alias="groupId", min_length=1, json_schema_extra=_immutable("groupId")
    )
    """The worker group id; `kconnect.<namespace>.<name>` when unset (a KConnectCluster's:
    `kconnect-cluster.<namespace>.<name>`). Immutable."""
    config_storage_topic: str | None = Field(
        None,
        alias="configStorageTopic",
        min_length=1,
        json_schema_extra=_immutable("configStorageTopic"),
    )
    """The config topic; `<group>.configs` of the default group when unset. Immutable."""
    offset_storage_topic: str | None = Field(
        None,
        alias="offsetStorageTopic",
        min_length=1,
        json_schema_extra=_immutable("offsetStorageTopic"),
    )
    """The offset topic; `<group>.offsets` of the default group when unset. Immutable."""
    status_storage_topic: str | None = Field(
        None,
        alias="statusStorageTopic",
        min_length=1,
        json_schema_extra=_immutable("statusStorageTopic"),
    )
    """The status topic; `<group>.status` of the default group when unset. Immutable."""
    resources: ResourceRequirements = resources_field()
    """Compute resources of the worker container."""
    template: PodTemplate = template_field()
    """Overrides for the worker pods."""
    rack: Rack | None = rack_field()
    """Rack awareness: each worker's consumers get `consumer.client.rack` from the node label
    `topologyKey`. As in Strimzi's KafkaConnect."""
    external_configuration: ExternalConfiguration = external_configuration_field()
    """Secrets and ConfigMaps exposed to the workers as env or files. A change to a referenced
    Secret rolls the worker pods."""
    logging: Logging = logging_field()
    """The workers' log levels, changed at run time, and their log format."""
    network_policy: NetworkPolicySpec = network_policy_field()
    """What the workers' NetworkPolicy admits besides the operator and the workers."""
    exactly_once: bool = Field(False, alias="exactlyOnce")
    """Exactly-once delivery for source connectors (KIP-618): the workers'
    `exactly.once.source.support`. Turned on for running workers, the operator rolls them twice,
    as Kafka Connect requires: first to `preparing`, then, once every worker runs it, to
    `enabled`; a new cluster starts at `enabled`. Turned off: one roll to `disabled`. No effect on
    a sink connector. The connector's own keys (`exactly.once.support`, `transaction.boundary`)
    go in `config`."""

    @field_validator("worker_config")
    @classmethod
    def _worker_config(cls, v: dict[str, str]) -> dict[str, str]:
        no_worker_keys(v, MANAGED_WORKER_KEYS)
        return check_config_size("workerConfig", v, MAX_WORKER_CONFIG_CHARS)

    @model_validator(mode="after")
    def _tls_authentication(self) -> WorkersSpec:
        check_tls_authentication(self.tls, self.authentication)
        check_rack(self.rack, self.worker_config)
        return self


CLUSTER_KIND: Final = "KConnectCluster"
"""The shared worker cluster's kind. Not Strimzi's `KafkaConnect`: both operators may run in one
Kubernetes cluster, and `kubectl get kafkaconnect` must not become ambiguous."""


DEDICATED_ONLY_FIELDS: Final[Mapping[str, str]] = {
    "bootstrapServers": "!has(self.bootstrapServers)",
    "replicas": "self.replicas == 1",
    "image": "!has(self.image)",
    "tls": "!has(self.tls)",
    "authentication": "!has(self.authentication)",
    "workerConfig": "!has(self.workerConfig)",
    "groupId": "!has(self.groupId)",
    "configStorageTopic": "!has(self.configStorageTopic)",
    "offsetStorageTopic": "!has(self.offsetStorageTopic)",
    "statusStorageTopic": "!has(self.statusStorageTopic)",
    "resources": "!has(self.resources)",
    "template": "!has(self.template)",
    "rack": "!has(self.rack)",
    "externalConfiguration": "!has(self.externalConfiguration)",
    "logging": "!has(self.logging)",
    "networkPolicy": "!has(self.networkPolicy)",
    "exactlyOnce": "!self.exactlyOnce",
    "deletionPolicy": "self.deletionPolicy == 'Retain'",
    "tasksPerReplica": "!has(self.tasksPerReplica)",
}
"""The fields of a KafkaConnector that only its dedicated workers use, and the CEL test that they
are left out (or at their defaults: the API server fills `replicas`, `exactlyOnce` and
`deletionPolicy` in before the rules run) when `spec.cluster` names a KConnectCluster."""


def dedicated_only_message(field: str) -> str:
    if field == "tasksPerReplica":
        return (
            "spec.tasksPerReplica must not be set when spec.cluster is set: it ties tasks.max to "
            f"the connector's own workers, and a {CLUSTER_KIND}'s are shared; set spec.tasksMax"
        )
    return (
        f"spec.{field} must not be set when spec.cluster is set: the connector runs on that "
        f"{CLUSTER_KIND}'s workers; set {field} on the {CLUSTER_KIND}"
        + (" (only the default 1 is allowed here)" if field == "replicas" else "")
    )


_CLUSTER_RULES: Final = (
    (
        "has(self.cluster) || has(self.bootstrapServers)",
        "spec.bootstrapServers is required unless spec.cluster names a KConnectCluster",
    ),
    *(
        (f"!has(self.cluster) || {test}", dedicated_only_message(field))
        for field, test in DEDICATED_ONLY_FIELDS.items()
    ),
    (
        "has(self.cluster) == has(oldSelf.cluster)",
        "spec.cluster cannot be set or removed after creation: a connector's offsets stay in "
        "the workers' offset topic; create a new KafkaConnector instead",
    ),
)


class KafkaConnectorSpec(WorkersSpec):
    model_config = ConfigDict(
        json_schema_extra=cel_list(TLS_AUTH_NEEDS_TLS, RACK_RULE, *_CLUSTER_RULES)
    )

    class_: str = Field(alias="class", min_length=1)
    """The connector class: a kconnect plugin alias or a Kafka Connect class name."""
    tasks_max: int = Field(1, alias="tasksMax", ge=1)
    """The most tasks the connector may create."""
    tasks_per_replica: int | None = Field(None, alias="tasksPerReplica", ge=1)
    """When set, the connector's `tasks.max` is `replicas` times this, and follows `replicas`
    as it is scaled; `tasksMax` is then not used. Unset: `tasks.max` is `tasksMax`. Dedicated
    workers only."""
    config: dict[str, ConfigValue] = connector_config_field(
        {
            key: f"config must not contain {key!r}: {_CONFIG_KEY_SOURCE[key]} sets it"
            for key in FORBIDDEN_CONFIG_KEYS
        }
    )
    """The connector's config. `name`, `connector.class` and `tasks.max` come from the resource's
    name, `class` and `tasksMax`."""
    state: TargetState = TargetState.RUNNING
    """running, paused or stopped."""
    cluster: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        pattern=NAME_PATTERN,
        json_schema_extra=_immutable("cluster"),
    )
    """The KConnectCluster in the resource's namespace that runs the connector (as Strimzi's
    label `strimzi.io/cluster` names a KafkaConnect). Unset: the connector gets its own
    dedicated workers. Set: the worker fields (`bootstrapServers`, `replicas`, `image`,
    `workerConfig`, ...) belong to the cluster and are refused here. Immutable."""
    bootstrap_servers: str | None = Field(None, alias="bootstrapServers", min_length=1)
    """The Kafka bootstrap servers the workers connect to. Required unless `cluster` is set."""
    auto_restart: AutoRestart = Field(default_factory=AutoRestart, alias="autoRestart")
    """Automatic restarts of a failed connector or task."""
    deletion_policy: DeletionPolicy = Field(DeletionPolicy.RETAIN, alias="deletionPolicy")
    """Retain keeps the internal topics and consumer groups when the resource is deleted; Delete
    removes them too."""
    list_offsets: ListOffsets | None = Field(None, alias="listOffsets")
    """Where the annotation `kconnect.io/connector-offsets: list` writes the offsets."""
    alter_offsets: AlterOffsets | None = Field(None, alias="alterOffsets")
    """Where the annotation `kconnect.io/connector-offsets: alter` reads the offsets from; the
    connector must be stopped (`state: stopped`)."""
    initial_offsets: AlterOffsets | None = Field(None, alias="initialOffsets")
    """Offsets for a new connector: it is created stopped, these offsets are written, then it
    moves to `state`. Read only when the operator creates the connector."""

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, str]) -> dict[str, str]:
        no_keys(
            v, FORBIDDEN_CONFIG_KEYS, "set them with metadata.name, spec.class and spec.tasksMax"
        )
        return check_config_size("config", v, MAX_CONFIG_CHARS)

    @model_validator(mode="after")
    def _cluster(self) -> KafkaConnectorSpec:
        if self.cluster is None:
            if self.bootstrap_servers is None:
                raise ValueError(_CLUSTER_RULES[0][1])
            return self
        fields = type(self).model_fields
        given = {fields[f].alias or f for f in self.model_fields_set}
        defaults = {
            "replicas": self.replicas == 1,
            "exactlyOnce": not self.exactly_once,
            "deletionPolicy": self.deletion_policy is DeletionPolicy.RETAIN,
        }
        for field in DEDICATED_ONLY_FIELDS:
            if field in given and not defaults.get(field, False):
                raise ValueError(dedicated_only_message(field))
        return self

    @property
    def shared(self) -> bool:
        """Whether the connector runs on a KConnectCluster rather than its own workers."""
        return self.cluster is not None


class KConnectClusterSpec(WorkersSpec):
    """A distributed worker cluster that runs the connectors of the KafkaConnectors naming it."""

    model_config = ConfigDict(json_schema_extra=cel_list(TLS_AUTH_NEEDS_TLS, RACK_RULE))

    bootstrap_servers: str = bootstrap_servers_field()
    """The Kafka bootstrap servers the workers connect to."""


class TaskRestarts(_Model):
    id: int = Field(ge=0)
    """The task number."""
    count: int = Field(ge=1)
    """Automatic restarts that included the task (it was FAILED when the restart was made)."""


class AutoRestartStatus(_Model):
    count: int = Field(0, ge=0)
    """Automatic restarts since the connector last ran healthy."""
    last_restart_time: str | None = Field(None, alias="lastRestartTime")
    """When the last automatic restart happened (RFC 3339)."""
    tasks: list[TaskRestarts] = Field(default_factory=list)
    """For each task that was FAILED when an automatic restart was made, how many of them
    included it since the connector last ran healthy; reset with `count`."""


class KafkaConnectorStatus(_Model):
    conditions: list[Condition] = Field(default_factory=list)
    """Ready, with a reason when False."""
    observed_generation: int | None = Field(None, alias="observedGeneration")
    """The spec generation this status reflects."""
    connector_state: ConnectorStatus | None = Field(None, alias="connectorState")
    """The connector's and its tasks' states, from the workers' REST API."""
    tasks_ready: int = Field(0, alias="tasksReady", ge=0)
    """Tasks in the RUNNING state."""
    workers_ready: int = Field(0, alias="workersReady", ge=0)
    """Worker pods that are ready."""
    replicas: int = Field(0, ge=0)
    """Worker pods that exist, for the scale subresource."""
    selector: str = ""
    """The worker pods' label selector, for the scale subresource."""
    failed_tasks: list[FailedTask] = Field(default_factory=list, alias="failedTasks")
    """The tasks the workers report FAILED: each one's worker, the line of its trace that says
    what failed, and `retryCount`, the automatic restarts that included it."""
    failed_tasks_count: int = Field(0, alias="failedTasksCount", ge=0)
    """How many tasks are FAILED."""
    auto_restart: AutoRestartStatus | None = Field(None, alias="autoRestart")
    """The automatic restart counters: of the connector, and per task."""
    exactly_once: ExactlyOncePhase | None = Field(None, alias="exactlyOnce")
    """The workers' `exactly.once.source.support`: Disabled, Preparing (the first of the two rolls
    `spec.exactlyOnce` takes) or Enabled (the second roll may still be going; see
    `workersReady`)."""
    applied_loggers: list[str] | None = applied_loggers_field()
    """The loggers of `spec.logging.loggers` the operator has set on the workers. One removed
    from the spec stays listed until every ready worker has it back at the root's level."""
    initial_offsets: InitialOffsetsPhase | None = Field(None, alias="initialOffsets")
    """Pending while a connector created for `spec.initialOffsets` waits, stopped, for them to
    be written; Applied once they are."""


class KafkaConnector(_Model):
    """A Kafka Connect connector, with the dedicated distributed worker cluster that runs it."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra=resource_name_rule(MAX_NAME_LENGTH, "the worker Service"),
    )

    api_version: Literal["kconnect.io/v1alpha1"] = Field("kconnect.io/v1alpha1", alias="apiVersion")
    kind: Literal["KafkaConnector"] = KIND
    metadata: ObjectMeta
    spec: KafkaConnectorSpec
    status: KafkaConnectorStatus | None = None


CLUSTER_PLURAL: Final = "kconnectclusters"


CLUSTER_SINGULAR: Final = "kconnectcluster"


CLUSTER_SHORT_NAMES: Final = ("kcc",)


class ClusterConnector(_Model):
    name: str
    """The connector's name on the workers (the KafkaConnector's name)."""
    state: str | None = None
    """The connector's state as the workers report it."""
    tasks: int = Field(0, ge=0)
    """Its tasks."""
    tasks_running: int = Field(0, alias="tasksRunning", ge=0)
    """Its tasks in the RUNNING state."""


class KConnectClusterStatus(_Model):
    conditions: list[Condition] = Field(default_factory=list)
    """Ready (every worker pod of spec.replicas is ready), with a reason when False."""
    observed_generation: int | None = Field(None, alias="observedGeneration")
    """The spec generation this status reflects."""
    workers_ready: int = Field(0, alias="workersReady", ge=0)
    """Worker pods that are ready."""
    replicas: int = Field(0, ge=0)
    """Worker pods that exist, for the scale subresource."""
    selector: str = ""
    """The worker pods' label selector, for the scale subresource."""
    connectors: list[ClusterConnector] | None = None
    """The connectors the workers run, by name (None while no worker answers)."""
    exactly_once: ExactlyOncePhase | None = Field(None, alias="exactlyOnce")
    """The workers' `exactly.once.source.support`: Disabled, Preparing or Enabled."""
    applied_loggers: list[str] | None = applied_loggers_field()
    """The loggers of `spec.logging.loggers` the operator has set on the workers."""


class KConnectCluster(_Model):
    """A distributed worker cluster shared by the KafkaConnectors that name it in `spec.cluster`
    (Strimzi's KafkaConnect, under a name that does not clash with it)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra=resource_name_rule(MAX_NAME_LENGTH, "the worker Service"),
    )

    api_version: Literal["kconnect.io/v1alpha1"] = Field("kconnect.io/v1alpha1", alias="apiVersion")
    kind: Literal["KConnectCluster"] = CLUSTER_KIND
    metadata: ObjectMeta
    spec: KConnectClusterSpec
    status: KConnectClusterStatus | None = None


class DerivedNames(_Model):
    """The worker group and internal topics of one resource."""

    group_id: str
    config_storage_topic: str
    offset_storage_topic: str
    status_storage_topic: str


def _settings(value: object) -> dict[str, str]:
    """The entries of a config map that are settings (a scalar each), as text."""
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        try:
            out[str(key)] = config_value_text(item)
        except ValueError:
            continue
    return out


def owned_names_spec(raw: Mapping[str, Any]) -> KafkaConnectorSpec:
    """The spec as far as the names it owns go (its group, topics and sink group), even when its
    `config` or `workerConfig` is refused: a value that is not a setting is left out and their
    sizes are not checked. The API server cannot refuse those (its schema holds them untyped),
    and a resource the operator refuses them in must still be cleaned up and must still keep
    another resource from deleting what it uses. Any other invalid field raises, as
    `model_validate` does."""
    try:
        return KafkaConnectorSpec.model_validate(raw)
    except ValidationError:
        base = KafkaConnectorSpec.model_validate({**raw, "config": {}, "workerConfig": {}})
    return base.model_copy(
        update={
            "config": _settings(raw.get("config")),
            "worker_config": _settings(raw.get("workerConfig")),
        }
    )


CLUSTER_GROUP_PREFIX: Final = "kconnect-cluster"
"""The first part of a KConnectCluster's derived group: never `kconnect`, a KafkaConnector's, so
a cluster and a connector of one name never share a group or a topic."""


def derived_names(
    spec: WorkersSpec, namespace: str, name: str, *, prefix: str = "kconnect"
) -> DerivedNames:
    """The group id and internal topics: the spec's when set, else derived from namespace and
    name (`<prefix>.<namespace>.<name>[.configs|.offsets|.status]`; `prefix` is
    `CLUSTER_GROUP_PREFIX` for a KConnectCluster)."""
    check_resource_name(namespace, name, max_length=MAX_NAME_LENGTH)
    base = f"{prefix}.{namespace}.{name}"
    return DerivedNames(
        group_id=spec.group_id or base,
        config_storage_topic=spec.config_storage_topic or f"{base}.configs",
        offset_storage_topic=spec.offset_storage_topic or f"{base}.offsets",
        status_storage_topic=spec.status_storage_topic or f"{base}.status",
    )
