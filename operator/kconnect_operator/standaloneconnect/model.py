"""The `StandaloneConnect` custom resource (`kconnect.io/v1alpha1`), as pydantic models.

A StandaloneConnect is one `kconnect standalone` process: a worker file and one file per
connector, mounted from a ConfigMap, with source offsets in a local file on the `offsets` volume.
The shapes it shares with `KafkaConnector` (resources, pod template, external configuration,
conditions, connector and task states) are the same models (`core.shapes`), so both CRDs read
alike.

As in `kafkaconnector.model`, the pydantic validators repeat the CEL rules `crdgen` puts in the
CRD, so a spec checked here fails with a message naming the field, as `kubectl apply` would.

Names: the resource's name is a DNS-1035 label of at most `MAX_NAME_LENGTH` characters, so that
`<name>-standalone-headless` is a Service name and `<name>-standalone-0` a pod name. A connector's
name becomes a ConfigMap key and a file name (`<name>.properties`), so it is restricted to the
characters a ConfigMap key admits, and `worker` is taken by the worker file.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from kconnect_operator.core.kafka_security import (
    TLS_AUTH_NEEDS_TLS,
    ClientTls,
    KafkaClientAuthentication,
    authentication_field,
    check_tls_authentication,
    tls_field,
)
from kconnect_operator.core.shapes import (
    CATEGORIES,
    FORBIDDEN_CONFIG_KEYS,
    MAX_CONFIG_CHARS,
    MAX_WORKER_CONFIG_CHARS,
    RACK_RULE,
    Condition,
    ConfigValue,
    ExternalConfiguration,
    Logging,
    NetworkPolicySpec,
    ObjectMeta,
    PodTemplate,
    Quantity,
    Rack,
    ResourceRequirements,
    TaskStatus,
    WorkerConfigValue,
    _Model,
    applied_loggers_field,
    bootstrap_servers_field,
    cel,
    cel_list,
    check_config_size,
    check_rack,
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

KIND: Final = "StandaloneConnect"
PLURAL: Final = "standaloneconnects"
SINGULAR: Final = "standaloneconnect"
SHORT_NAMES: Final = ("ksc",)
STANDALONE_CATEGORIES: Final = CATEGORIES

MAX_NAME_LENGTH: Final = 40
"""`<name>-standalone-headless` must be a Service name and the StatefulSet's pod and revision
names must fit in 63 characters."""

CONNECTOR_NAME_PATTERN: Final = r"^[A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?$"
"""A connector name is a ConfigMap key and a file name."""
MAX_CONNECTOR_NAME_LENGTH: Final = 200
MAX_CONNECTORS: Final = 64
"""Bounds the cost of the CRD's uniqueness rule, which the API server estimates up front."""
RESERVED_CONNECTOR_NAMES: Final = ("worker",)
"""`worker.properties` is the worker file."""

MANAGED_WORKER_KEYS: Final = (
    "bootstrap.servers",
    "offset.storage.file.filename",
    "listeners",
    "rest.host.name",
    "rest.port",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
)
"""Worker keys the operator writes: from spec fields, or fixed because the offsets volume, the
probes and the Services depend on them. `workerConfig` may not set them."""


class StandaloneConnector(_Model):
    name: str = Field(
        min_length=1,
        max_length=MAX_CONNECTOR_NAME_LENGTH,
        pattern=CONNECTOR_NAME_PATTERN,
        json_schema_extra=cel(
            f"!({list(RESERVED_CONNECTOR_NAMES)!r}.exists(n, n == self))",
            "connector name 'worker' is reserved: worker.properties is the worker file",
        ),
    )
    """The connector's name; its file is `<name>.properties`. Unique within the resource."""
    class_: str = Field(alias="class", min_length=1)
    """The connector class: a kconnect plugin alias or a Kafka Connect class name."""
    tasks_max: int = Field(1, alias="tasksMax", ge=1)
    """The most tasks the connector may create."""
    config: dict[str, ConfigValue] = connector_config_field(
        dict.fromkeys(
            FORBIDDEN_CONFIG_KEYS,
            "config must not contain 'name', 'connector.class' or 'tasks.max': "
            "set them with name, class and tasksMax",
        )
    )
    """The connector's config. `name`, `connector.class` and `tasks.max` come from `name`,
    `class` and `tasksMax`."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v in RESERVED_CONNECTOR_NAMES:
            raise ValueError(f"connector name {v!r} is reserved: worker.properties is the worker")
        return v

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, str]) -> dict[str, str]:
        no_keys(v, FORBIDDEN_CONFIG_KEYS, "set them with name, class and tasksMax")
        return check_config_size("config", v, MAX_CONFIG_CHARS)


class OffsetStorageType(StrEnum):
    PERSISTENT_VOLUME_CLAIM = "persistentVolumeClaim"
    EPHEMERAL = "ephemeral"


class OffsetStorage(_Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "offsetStorage is immutable"},
                {
                    "rule": "self.type == 'persistentVolumeClaim' || "
                    "(!has(self.size) && !has(self.storageClass))",
                    "message": "size and storageClass apply only to type persistentVolumeClaim",
                },
            ]
        }
    )

    type: OffsetStorageType = OffsetStorageType.EPHEMERAL
    """persistentVolumeClaim keeps the source offsets across pod restarts and rescheduling;
    ephemeral (an emptyDir) keeps them across container restarts only."""
    size: Quantity | None = None
    """The claim's size (persistentVolumeClaim only); 1Gi when unset."""
    storage_class: str | None = Field(None, alias="storageClass")
    """The claim's storage class (persistentVolumeClaim only); the cluster default when unset,
    and "" for none (a statically provisioned volume)."""
    delete_claim: bool = Field(True, alias="deleteClaim")
    """Delete the claim, and the offsets on it, when the resource is deleted."""

    @model_validator(mode="after")
    def _claim_fields(self) -> OffsetStorage:
        if self.type is OffsetStorageType.EPHEMERAL and (
            self.size is not None or self.storage_class is not None
        ):
            raise ValueError("size and storageClass apply only to type persistentVolumeClaim")
        return self


class StandaloneConnectSpec(_Model):
    model_config = ConfigDict(json_schema_extra=cel_list(TLS_AUTH_NEEDS_TLS, RACK_RULE))

    connectors: list[StandaloneConnector] = Field(
        default_factory=list,
        max_length=MAX_CONNECTORS,
        json_schema_extra=cel_list(
            (
                "self.all(c, self.exists_one(d, d.name == c.name))",
                "connector names must be unique",
            ),
        ),
    )
    """The connectors the worker runs, each from its own file."""
    bootstrap_servers: str = bootstrap_servers_field()
    """The Kafka bootstrap servers the worker connects to."""
    tls: ClientTls | None = tls_field()
    """TLS to the brokers, and the CA certificates (from Secrets) their certificates are checked
    against. Unset: no TLS. As in Strimzi's KafkaConnect."""
    authentication: KafkaClientAuthentication | None = authentication_field()
    """How the worker authenticates to Kafka: tls (client certificate), scram-sha-256,
    scram-sha-512, plain or oauth, with Secret references. Applied to every client the worker
    uses; a change to a referenced Secret rolls the worker pods. As in Strimzi's KafkaConnect."""
    image: str | None = image_field()
    """The worker image; the operator's default when unset."""
    worker_config: dict[str, WorkerConfigValue] = worker_config_field(MANAGED_WORKER_KEYS)
    """Extra worker properties (converters, client settings, config providers, the offset flush
    interval). The keys the operator manages may not be set here."""
    offset_storage: OffsetStorage = Field(default_factory=OffsetStorage, alias="offsetStorage")
    """Where the source offsets live. Immutable."""
    resources: ResourceRequirements = resources_field()
    """Compute resources of the worker container."""
    template: PodTemplate = template_field()
    """Overrides for the worker pod."""
    rack: Rack | None = rack_field()
    """Rack awareness: the worker's consumers get `consumer.client.rack` from the node label
    `topologyKey`. As in Strimzi's KafkaConnect."""
    external_configuration: ExternalConfiguration = external_configuration_field()
    """Secrets and ConfigMaps exposed to the worker as env or files. A change to a referenced
    Secret rolls the worker pod."""
    logging: Logging = logging_field()
    """The worker's log levels, changed at run time, and its log format."""
    network_policy: NetworkPolicySpec = network_policy_field()
    """What the worker's NetworkPolicy admits besides the operator."""

    @field_validator("connectors")
    @classmethod
    def _unique(cls, v: list[StandaloneConnector]) -> list[StandaloneConnector]:
        names = [c.name for c in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"connector names must be unique: {', '.join(dupes)} repeated")
        size = sum(len(k) + len(x) for c in v for k, x in c.config.items())
        if size > MAX_CONFIG_CHARS:
            raise ValueError(
                "the connectors' configs are too large: their keys and values may have at most "
                f"{MAX_CONFIG_CHARS} characters together (they have {size})"
            )
        return v

    @field_validator("worker_config")
    @classmethod
    def _worker_config(cls, v: dict[str, str]) -> dict[str, str]:
        no_worker_keys(v, MANAGED_WORKER_KEYS)
        return check_config_size("workerConfig", v, MAX_WORKER_CONFIG_CHARS)

    @model_validator(mode="after")
    def _tls_authentication(self) -> StandaloneConnectSpec:
        check_tls_authentication(self.tls, self.authentication)
        check_rack(self.rack, self.worker_config)
        return self


class StandaloneReadyReason(StrEnum):
    """Why the Ready condition has its status."""

    RUNNING = "Running"
    PENDING = "Pending"
    """The worker is ready, but a connector or task has not reached RUNNING yet."""
    UPDATING = "Updating"
    """The ready worker pod still runs an older config; the new one is rolling out."""
    WORKERS_NOT_READY = "WorkersNotReady"
    CONNECTOR_FAILED = "ConnectorFailed"
    TASK_FAILED = "TaskFailed"
    INVALID_CONFIG = "InvalidConfig"
    WORKER_FAILED = "WorkerFailed"
    APPLY_FAILED = "ApplyFailed"
    """The API server refused a child (the StatefulSet, the ConfigMap, ...)."""
    """The worker container exits with an error (it is crash-looping)."""


class NamedConnectorStatus(_Model):
    name: str
    """The connector's name."""
    state: str
    """The connector's state as the worker reports it."""
    worker: str = ""
    """The worker running the connector."""
    trace: str | None = None
    """The failure's trace, trimmed."""
    tasks: list[TaskStatus] = Field(default_factory=list)
    """Each task's state."""


class StandaloneFailedTask(_Model):
    """A task the worker reports FAILED. A StandaloneConnect has no automatic restarts, so unlike
    a KafkaConnector's it has no `retryCount`."""

    connector: str
    """The connector's name."""
    id: int = Field(ge=0)
    """The task number."""
    message: str = ""
    """The line of the trace that says what failed; the whole trace (trimmed) is in the task's
    entry of `connectors`."""


class StandaloneConnectStatus(_Model):
    conditions: list[Condition] = Field(default_factory=list)
    """Ready, with a reason when False."""
    observed_generation: int | None = Field(None, alias="observedGeneration")
    """The spec generation this status reflects."""
    connectors: list[NamedConnectorStatus] = Field(default_factory=list)
    """Each running connector's and its tasks' states, from the worker's REST API."""
    connectors_ready: int = Field(0, alias="connectorsReady", ge=0)
    """Connectors that are RUNNING with every task RUNNING."""
    tasks_ready: int = Field(0, alias="tasksReady", ge=0)
    """Tasks in the RUNNING state, over all connectors."""
    failed_tasks: list[StandaloneFailedTask] = Field(default_factory=list, alias="failedTasks")
    """The tasks the worker reports FAILED, over all connectors, with the line of each one's
    trace that says what failed."""
    failed_tasks_count: int = Field(0, alias="failedTasksCount", ge=0)
    """How many tasks are FAILED, over all connectors."""
    workers_ready: int = Field(0, alias="workersReady", ge=0)
    """Worker pods that are ready (0 or 1)."""
    applied_loggers: list[str] | None = applied_loggers_field()
    """The loggers of `spec.logging.loggers` the operator has set on the worker. One removed
    from the spec stays listed until the ready worker has it back at the root's level."""


class StandaloneConnect(_Model):
    """A standalone Kafka Connect worker running a fixed list of connectors from files."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra=resource_name_rule(
            MAX_NAME_LENGTH, "the worker StatefulSet and Services"
        ),
    )

    api_version: Literal["kconnect.io/v1alpha1"] = Field("kconnect.io/v1alpha1", alias="apiVersion")
    kind: Literal["StandaloneConnect"] = KIND
    metadata: ObjectMeta
    spec: StandaloneConnectSpec
    status: StandaloneConnectStatus | None = None
