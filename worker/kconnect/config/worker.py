"""The worker's own config: Apache Kafka's `connect-standalone.properties` and
`connect-distributed.properties` keys.

Keys fall in four sets. Keys the worker uses are fields of `WorkerConfig`. Prefixed keys
(`producer.`, `consumer.`, `admin.`, the converters' own keys) pass on to the clients and
converters, and the REST server's TLS keys (`listeners.https.`, `admin.listeners.https.`) to the
REST server. Keys Kafka Connect has but this worker has no use for (`plugin.path`, JMX metrics)
are *ignored*. Anything else is *unknown*. Ignored and unknown keys are warned about once at
start-up and are never fatal, so existing files run unchanged; but no key that protects the REST
API is ever ignored (`rest.extension.classes`, `admin.listeners`, the TLS keys): the REST server
either applies it or refuses to start.

`admin.listeners` starts with the admin client's prefix `admin.` but is the REST server's key, as
is everything under `admin.listeners.`: `admin_client_props` leaves them out of the admin client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kconnect.config.validation import validate_model

log = logging.getLogger(__name__)

PASSED_ON_PREFIXES = (
    "producer.",
    "consumer.",
    "admin.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "config.providers.",
    "listeners.https.",
    "admin.listeners.https.",
)

CLIENT_KEYS = frozenset({"security.protocol", "client.dns.lookup", "client.rack"})
"""Worker-level keys that every Kafka client of the worker inherits, as in Kafka Connect."""
CLIENT_PREFIXES = ("ssl.", "sasl.")

# Every name here is checked against Kafka Connect 4.1's own definitions by
# tests/integration/test_java_config_keys.py; the few older names are listed there.
IGNORED_KEYS = frozenset(
    {
        "plugin.path",
        "plugin.discovery",
        "metric.reporters",
        "metrics.num.samples",
        "metrics.recording.level",
        "metrics.sample.window.ms",
        "auto.include.jmx.reporter",  # Kafka 3.x; removed in 4.0
        "response.http.headers.config",
        "access.control.allow.origin",
        "access.control.allow.methods",
        "connections.max.idle.ms",
        "receive.buffer.bytes",
        "send.buffer.bytes",
        "reconnect.backoff.ms",
        "reconnect.backoff.max.ms",
        "retry.backoff.ms",
        "request.timeout.ms",
        "socket.connection.setup.timeout.ms",
        "socket.connection.setup.timeout.max.ms",
        "retry.backoff.max.ms",
        "internal.key.converter",  # Kafka 2.x
        "internal.value.converter",  # Kafka 2.x
        "topic.tracking.enable",
        "topic.tracking.allow.reset",
    }
)


class WorkerConfig(BaseModel):
    """Keys shared by standalone and distributed workers."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    bootstrap_servers: str = Field("localhost:9092", alias="bootstrap.servers")
    key_converter: str = Field("org.apache.kafka.connect.json.JsonConverter", alias="key.converter")
    value_converter: str = Field(
        "org.apache.kafka.connect.json.JsonConverter", alias="value.converter"
    )
    header_converter: str = Field(
        "org.apache.kafka.connect.storage.SimpleHeaderConverter", alias="header.converter"
    )
    offset_flush_interval_ms: int = Field(60_000, alias="offset.flush.interval.ms", ge=1)
    offset_flush_timeout_ms: int = Field(5_000, alias="offset.flush.timeout.ms", ge=1)
    task_shutdown_graceful_timeout_ms: int = Field(
        5_000, alias="task.shutdown.graceful.timeout.ms", ge=0
    )
    listeners: str = Field("http://:8083", alias="listeners")
    rest_host_name: str | None = Field(None, alias="rest.host.name")
    rest_port: int | None = Field(None, alias="rest.port", ge=0, le=65535)
    rest_advertised_host_name: str | None = Field(None, alias="rest.advertised.host.name")
    rest_advertised_port: int | None = Field(None, alias="rest.advertised.port", ge=0, le=65535)
    rest_advertised_listener: str | None = Field(None, alias="rest.advertised.listener")
    client_id: str | None = Field(None, alias="client.id")
    connector_client_config_override_policy: str = Field(
        "All", alias="connector.client.config.override.policy"
    )
    connector_client_config_override_allowed_urls: str = Field(
        "",
        alias="connector.client.config.override.allowed.urls",
        description=(
            "A kconnect key: the URLs (comma-separated, matched exactly) that a connector's "
            "client overrides may name in sasl.oauthbearer.token.endpoint.url, as Kafka's "
            "org.apache.kafka.sasl.oauthbearer.allowed.urls system property. Empty: none."
        ),
    )
    connector_client_config_override_allowed_files: str = Field(
        "",
        alias="connector.client.config.override.allowed.files",
        description=(
            "A kconnect key: the files (comma-separated; an entry ending in '/' admits the "
            "files under that directory) that a connector's client overrides may name in keys "
            "that read files (ssl.key.location, ssl.ca.location, ...), as Kafka's "
            "org.apache.kafka.sasl.oauthbearer.allowed.files. Empty: none."
        ),
    )
    connector_client_config_override_allowed_unsafe_keys: str = Field(
        "",
        alias="connector.client.config.override.allowed.unsafe.keys",
        description=(
            "A kconnect key: client keys (comma-separated, without the producer.override. "
            "prefix) that a connector's overrides may set with any value though they load "
            "code, run commands, reach URLs or read files (plugin.library.paths, "
            "sasl.kerberos.kinit.cmd, ...). Empty: none."
        ),
    )
    topic_creation_enable: bool = Field(True, alias="topic.creation.enable")
    config_providers: str = Field("", alias="config.providers")
    admin_listeners: str | None = Field(
        None,
        alias="admin.listeners",
        description=(
            "Where the /admin endpoints are served, in the form of `listeners`. Unset: on the "
            "REST listeners; empty: nowhere (404); else on these listeners only, and no longer "
            "on the REST listeners."
        ),
    )
    rest_extension_classes: str = Field("", alias="rest.extension.classes")
    jaas_config_file: str | None = Field(
        None,
        alias="java.security.auth.login.config",
        description=(
            "A kconnect key: the JAAS file that a JVM would get from "
            "-Djava.security.auth.login.config. When unset, the same option in the environment "
            "variable KAFKA_OPTS is read."
        ),
    )
    metrics_listener: str = Field(
        "",
        alias="metrics.listener",
        description=(
            "A kconnect key: one more listener, in the form of `listeners` "
            "(http://HOST:PORT, e.g. http://:9404), that serves only GET /metrics, so "
            "Prometheus can scrape a port the REST API's access rules need not open. "
            "Empty: /metrics is served on the REST listeners only (it always is)."
        ),
    )

    file_connectors_enable: bool = Field(
        True,
        alias="file.connectors.enable",
        description=(
            "A kconnect key: whether FileStreamSource and FileStreamSink may run. They read and "
            "write any file the worker can, so a worker reachable by untrusted REST callers "
            "should set it to false (Kafka removed them from its default classpath in 3.2, "
            "KAFKA-13748); the operator does unless workerConfig sets it."
        ),
    )

    @field_validator("connector_client_config_override_policy")
    @classmethod
    def _policy(cls, v: str) -> str:
        simple = v.rsplit(".", 1)[-1].removesuffix("ConnectorClientConfigOverridePolicy")
        if simple not in ("All", "None", "Principal"):
            raise ValueError("expected one of All, None, Principal")
        return simple

    @classmethod
    def parse(cls, props: Mapping[str, str], source: str | None = None) -> Self:
        return validate_model(cls, props, source)

    def listener_list(self) -> str:
        """`listeners`, or the deprecated `rest.host.name` / `rest.port` when only they are set."""
        if (self.rest_host_name or self.rest_port is not None) and "listeners" not in (
            self.model_fields_set
        ):
            return f"http://{self.rest_host_name or ''}:{self.rest_port or 8083}"
        return self.listeners


class StandaloneConfig(WorkerConfig):
    offset_storage_file_filename: str = Field(alias="offset.storage.file.filename", min_length=1)


def known_keys(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(f.alias or name for name, f in model.model_fields.items())


def unexpected_keys(
    model: type[BaseModel], props: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """(ignored, unknown) keys of a worker config, each sorted."""
    known = known_keys(model)
    ignored: list[str] = []
    unknown: list[str] = []
    for key in sorted(props):
        if key in known or key.startswith(PASSED_ON_PREFIXES):
            continue
        if key in CLIENT_KEYS or key.startswith(CLIENT_PREFIXES):
            continue
        if (
            key in IGNORED_KEYS
            or key in DISTRIBUTED_IGNORED_KEYS
            or key.startswith(("metrics.", "listeners."))
        ):
            ignored.append(key)
        else:
            unknown.append(key)
    return ignored, unknown


def prefixed(props: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The keys under `prefix`, with the prefix removed."""
    n = len(prefix)
    return {k[n:]: v for k, v in props.items() if k.startswith(prefix) and len(k) > n}


ADMIN_LISTENERS = "admin.listeners"


def is_admin_listeners_key(key: str) -> bool:
    """`admin.listeners` and the `admin.listeners.` keys: the REST server's, not the admin
    client's, although they share its `admin.` prefix."""
    return key == ADMIN_LISTENERS or key.startswith(ADMIN_LISTENERS + ".")


def admin_client_props(props: Mapping[str, str]) -> dict[str, str]:
    """The worker's `admin.` keys for its admin client, prefix removed, without the REST
    server's `admin.listeners` keys."""
    return prefixed({k: v for k, v in props.items() if not is_admin_listeners_key(k)}, "admin.")


GROUP_INSTANCE_ID_MAX = 249
_INSTANCE_ID = re.compile(r"[a-zA-Z0-9._-]+")


class ExactlyOnceSourceSupport(StrEnum):
    """`exactly.once.source.support` (KIP-618)."""

    DISABLED = "disabled"
    PREPARING = "preparing"
    ENABLED = "enabled"


class DistributedConfig(WorkerConfig):
    """`connect-distributed.properties`: the cluster's group and internal topics."""

    group_id: str = Field(alias="group.id", min_length=1)
    config_storage_topic: str = Field(alias="config.storage.topic", min_length=1)
    offset_storage_topic: str = Field(alias="offset.storage.topic", min_length=1)
    status_storage_topic: str = Field(alias="status.storage.topic", min_length=1)
    config_storage_replication_factor: int = Field(3, alias="config.storage.replication.factor")
    offset_storage_replication_factor: int = Field(3, alias="offset.storage.replication.factor")
    status_storage_replication_factor: int = Field(3, alias="status.storage.replication.factor")
    offset_storage_partitions: int = Field(25, alias="offset.storage.partitions")
    status_storage_partitions: int = Field(5, alias="status.storage.partitions")
    group_instance_id: str | None = Field(
        None,
        alias="group.instance.id",
        description=(
            "A kconnect key (the Kafka consumer's key, KIP-345): this worker's stable identity in "
            "the worker group. A worker that stops and comes back with the same id within "
            "session.timeout.ms gets exactly its old tasks back, and no other worker's tasks "
            "move. Unique per worker: a second worker with the same id fences the first off, "
            "which then stops. Unset: dynamic membership, as in Kafka Connect."
        ),
    )
    session_timeout_ms: int = Field(10_000, alias="session.timeout.ms", ge=1)
    heartbeat_interval_ms: int = Field(3_000, alias="heartbeat.interval.ms", ge=1)
    rebalance_timeout_ms: int = Field(60_000, alias="rebalance.timeout.ms", ge=1)
    worker_sync_timeout_ms: int = Field(3_000, alias="worker.sync.timeout.ms", ge=1)
    exactly_once_source_support: ExactlyOnceSourceSupport = Field(
        ExactlyOnceSourceSupport.DISABLED,
        alias="exactly.once.source.support",
        description=(
            "Whether to enable exactly-once support for source connectors in the cluster by "
            "using transactions to write source records and their source offsets, and by "
            "proactively fencing out old task generations before bringing up new ones. To "
            "enable exactly-once source support on a new cluster, set this property to "
            "'enabled'. To enable support on an existing cluster, first set to 'preparing' on "
            "every worker in the cluster, then set to 'enabled'."
        ),
    )
    # The standalone key: accepted (Kafka's example files share keys) but unused here.
    offset_storage_file_filename: str | None = Field(None, alias="offset.storage.file.filename")

    @field_validator(
        "config_storage_replication_factor",
        "offset_storage_replication_factor",
        "status_storage_replication_factor",
    )
    @classmethod
    def _replication(cls, v: int) -> int:
        if v == 0 or v < -1:
            raise ValueError(
                "expected a positive replication factor, or -1 for the broker's default"
            )
        return v

    @field_validator("group_instance_id")
    @classmethod
    def _instance_id(cls, v: str | None) -> str | None:
        # Kafka's own rule for group.instance.id (JoinGroupRequest.validateGroupInstanceId).
        if v is None:
            return v
        if not v.strip():
            raise ValueError("expected a non-empty id, unique to this worker")
        if len(v) > GROUP_INSTANCE_ID_MAX:
            raise ValueError(f"expected at most {GROUP_INSTANCE_ID_MAX} characters, not {len(v)}")
        if not _INSTANCE_ID.fullmatch(v):
            raise ValueError("expected only ASCII letters, digits, '.', '_' and '-'")
        return v

    @field_validator("exactly_once_source_support", mode="before")
    @classmethod
    def _eos_lower(cls, v: object) -> object:
        # Java's ConfigDef.CaseInsensitiveValidString: any case, surrounding blanks trimmed.
        return v.strip().lower() if isinstance(v, str) else v

    @property
    def exactly_once_source_enabled(self) -> bool:
        """Tasks write records and offsets in transactions (`enabled` only)."""
        return self.exactly_once_source_support is ExactlyOnceSourceSupport.ENABLED

    @property
    def transactional_leader_enabled(self) -> bool:
        """Java's `transactionalLeaderEnabled`: `preparing` or `enabled`."""
        return self.exactly_once_source_support is not ExactlyOnceSourceSupport.DISABLED

    @field_validator("offset_storage_partitions", "status_storage_partitions")
    @classmethod
    def _partitions(cls, v: int) -> int:
        if v == 0 or v < -1:
            raise ValueError(
                "expected a positive number of partitions, or -1 for the broker's default"
            )
        return v


DISTRIBUTED_IGNORED_KEYS = frozenset(
    {
        "connect.protocol",
        "scheduled.rebalance.max.delay.ms",
        "inter.worker.key.generation.algorithm",
        "inter.worker.key.size",
        "inter.worker.key.ttl.ms",
        "inter.worker.signature.algorithm",
        "inter.worker.verification.algorithms",
        "metadata.max.age.ms",
    }
)
