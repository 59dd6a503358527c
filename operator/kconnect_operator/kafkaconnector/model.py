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
    Condition,
    ConfigValue,
    ConnectorStatus,
    ExternalConfiguration,
    Logging,
    NetworkPolicySpec,
    ObjectMeta,
    PodTemplate,
    ResourceRequirements,
    WorkerConfigValue,
    _immutable,
    _Model,
    applied_loggers_field,
    bootstrap_servers_field,
    cel,
    check_config_size,
    check_resource_name,
    connector_config_field,
    external_configuration_field,
    image_field,
    logging_field,
    network_policy_field,
    no_keys,
    no_worker_keys,
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


class KafkaConnectorSpec(_Model):
    model_config = ConfigDict(json_schema_extra=cel(*TLS_AUTH_NEEDS_TLS))

    class_: str = Field(alias="class", min_length=1)
    """The connector class: a kconnect plugin alias or a Kafka Connect class name."""
    tasks_max: int = Field(1, alias="tasksMax", ge=1)
    """The most tasks the connector may create."""
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
    replicas: int = Field(1, ge=0)
    """The number of worker pods. The scale subresource acts on it (`kubectl scale`, an HPA,
    KEDA). 0 stops every worker and keeps the connector's config and offsets in Kafka. While
    `state` is paused or stopped, the workers are not scaled up."""
    tasks_per_replica: int | None = Field(None, alias="tasksPerReplica", ge=1)
    """When set, the connector's `tasks.max` is `replicas` times this, and follows `replicas`
    as it is scaled; `tasksMax` is then not used. Unset: `tasks.max` is `tasksMax`."""
    bootstrap_servers: str = bootstrap_servers_field()
    """The Kafka bootstrap servers the workers connect to."""
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
    """The worker group id; `kconnect.<namespace>.<name>` when unset. Immutable."""
    config_storage_topic: str | None = Field(
        None,
        alias="configStorageTopic",
        min_length=1,
        json_schema_extra=_immutable("configStorageTopic"),
    )
    """The config topic; `kconnect.<namespace>.<name>.configs` when unset. Immutable."""
    offset_storage_topic: str | None = Field(
        None,
        alias="offsetStorageTopic",
        min_length=1,
        json_schema_extra=_immutable("offsetStorageTopic"),
    )
    """The offset topic; `kconnect.<namespace>.<name>.offsets` when unset. Immutable."""
    status_storage_topic: str | None = Field(
        None,
        alias="statusStorageTopic",
        min_length=1,
        json_schema_extra=_immutable("statusStorageTopic"),
    )
    """The status topic; `kconnect.<namespace>.<name>.status` when unset. Immutable."""
    resources: ResourceRequirements = resources_field()
    """Compute resources of the worker container."""
    template: PodTemplate = template_field()
    """Overrides for the worker pods."""
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
    auto_restart: AutoRestart = Field(default_factory=AutoRestart, alias="autoRestart")
    """Automatic restarts of a failed connector or task."""
    deletion_policy: DeletionPolicy = Field(DeletionPolicy.RETAIN, alias="deletionPolicy")
    """Retain keeps the internal topics and consumer groups when the resource is deleted; Delete
    removes them too."""

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, str]) -> dict[str, str]:
        no_keys(
            v, FORBIDDEN_CONFIG_KEYS, "set them with metadata.name, spec.class and spec.tasksMax"
        )
        return check_config_size("config", v, MAX_CONFIG_CHARS)

    @field_validator("worker_config")
    @classmethod
    def _worker_config(cls, v: dict[str, str]) -> dict[str, str]:
        no_worker_keys(v, MANAGED_WORKER_KEYS)
        return check_config_size("workerConfig", v, MAX_WORKER_CONFIG_CHARS)

    @model_validator(mode="after")
    def _tls_authentication(self) -> KafkaConnectorSpec:
        check_tls_authentication(self.tls, self.authentication)
        return self


class AutoRestartStatus(_Model):
    count: int = Field(0, ge=0)
    """Automatic restarts since the connector last ran healthy."""
    last_restart_time: str | None = Field(None, alias="lastRestartTime")
    """When the last automatic restart happened (RFC 3339)."""


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
    auto_restart: AutoRestartStatus | None = Field(None, alias="autoRestart")
    """The automatic restart counter."""
    exactly_once: ExactlyOncePhase | None = Field(None, alias="exactlyOnce")
    """The workers' `exactly.once.source.support`: Disabled, Preparing (the first of the two rolls
    `spec.exactlyOnce` takes) or Enabled (the second roll may still be going; see
    `workersReady`)."""
    applied_loggers: list[str] | None = applied_loggers_field()
    """The loggers of `spec.logging.loggers` the operator has set on the workers. One removed
    from the spec stays listed until every ready worker has it back at the root's level."""


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


def derived_names(spec: KafkaConnectorSpec, namespace: str, name: str) -> DerivedNames:
    """The group id and internal topics: the spec's when set, else derived from namespace and
    name (`kconnect.<namespace>.<name>[.configs|.offsets|.status]`)."""
    check_resource_name(namespace, name, max_length=MAX_NAME_LENGTH)
    base = f"kconnect.{namespace}.{name}"
    return DerivedNames(
        group_id=spec.group_id or base,
        config_storage_topic=spec.config_storage_topic or f"{base}.configs",
        offset_storage_topic=spec.offset_storage_topic or f"{base}.offsets",
        status_storage_topic=spec.status_storage_topic or f"{base}.status",
    )
