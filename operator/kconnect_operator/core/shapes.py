"""The spec and status shapes both custom resources are built from, as pydantic models.

The API group and version, the pieces of a spec both kinds have (resources, pod template,
external configuration, logging, network policy, worker and connector config maps with their size
limits), the CEL helpers `crdgen` turns into validation rules, and the status shapes (conditions,
connector and task states). `kafkaconnector.model` and `standaloneconnect.model` compose them, so
both CRDs read alike and the shared builders (`core.manifests`) read either spec through
`WorkerSpec`.

The pydantic validators repeat the rules that the CEL expressions in `crdgen` carry, so that a
spec checked here fails with a message naming the field, as it would on `kubectl apply`.
`check_resource_name` refuses names a kind's children could not be named after.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from kconnect.config.values import config_value_text

if TYPE_CHECKING:
    from kconnect_operator.core.kafka_security import ClientTls, KafkaClientAuthentication

GROUP: Final = "kconnect.io"


VERSION: Final = "v1alpha1"


API_VERSION: Final = f"{GROUP}/{VERSION}"


CATEGORIES: Final = ("kconnect",)


NAME_PATTERN: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
"""DNS-1035 label: the name becomes the worker Service's name."""


NAMESPACE_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


FORBIDDEN_CONFIG_KEYS: Final = ("name", "connector.class", "tasks.max")
"""Connector config keys the resource sets itself."""


MAX_CONFIG_ENTRIES: Final = 1_000
"""The most keys a `config` or `workerConfig` map may have."""


MAX_CONFIG_CHARS: Final = 512 * 1024
"""The most characters (keys and values together) a connector's `config` may have: it travels
to the workers as one record of the config topic, which Kafka caps at 1 MB by default."""


MAX_WORKER_CONFIG_CHARS: Final = 128 * 1024
"""The most characters (keys and values together) of `workerConfig`: it becomes the worker file
in a ConfigMap, which Kubernetes caps at 1 MiB."""


MAX_TRACE_CHARS: Final = 2_000
"""Traces in status are trimmed to this many characters, keeping the head (the exception)."""


JsonObject = dict[str, Any]
"""A JSON object: a Kubernetes manifest, a schema, or part of one."""


def cel(rule: str, message: str) -> JsonObject:
    """A CEL rule for the CRD (`x-kubernetes-validations`), kept beside the validator it mirrors."""
    return {"x-kubernetes-validations": [{"rule": rule, "message": message}]}


def cel_list(*rules: tuple[str, str]) -> JsonObject:
    return {"x-kubernetes-validations": [{"rule": r, "message": m} for r, m in rules]}


def config_size_rule(field: str, max_chars: int) -> tuple[str, str]:
    """The CEL rule (and its message) bounding a string map's keys and values together."""
    return (
        f"self.map(k, k.size() + self[k].size()).sum() <= {max_chars}",
        f"{field} is too large: its keys and values may have at most {max_chars} characters "
        "together; put large values in a Secret or ConfigMap and reference them with "
        "externalConfiguration and a config provider",
    )


def check_config_size(field: str, mapping: dict[str, str], max_chars: int) -> dict[str, str]:
    """`config_size_rule` in Python, with the API server's message and the size found."""
    size = sum(len(k) + len(v) for k, v in mapping.items())
    if size > max_chars:
        raise ValueError(f"{config_size_rule(field, max_chars)[1]} (it has {size})")
    return mapping


def _immutable(field: str) -> JsonObject:
    return cel("self == oldSelf", f"{field} is immutable")


FREE_FORM: Final[JsonObject] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


FreeFormObject = Annotated[dict[str, JsonValue], WithJsonSchema(FREE_FORM)]
"""A Kubernetes object the operator passes through unchanged (affinity, a toleration)."""


def _quantity_text(value: object) -> object:
    if isinstance(value, bool):
        return value  # rejected by the str field: a quantity is never a boolean
    if isinstance(value, int | float):
        return str(value)
    return value


Quantity = Annotated[
    str,
    BeforeValidator(_quantity_text),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A Kubernetes resource quantity (`500m`, `1Gi`, `2`), kept as its text."""


class _Model(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class ResourceRequirements(_Model):
    limits: dict[str, Quantity] = Field(default_factory=dict)
    """Resource limits of the worker container, for example `cpu: 1`, `memory: 512Mi`."""
    requests: dict[str, Quantity] = Field(default_factory=dict)
    """Resource requests of the worker container."""


class KeyRef(_Model):
    name: str = Field(min_length=1)
    """The Secret or ConfigMap name, in the resource's namespace."""
    key: str = Field(min_length=1)
    """The key within it."""


RESERVED_ENV_NAMES: Final = (
    "POD_IP",
    "POD_NAME",
    "POD_NAMESPACE",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "TMPDIR",
)
"""Environment variables the builders set in the worker container; `template.env` may not set
them, nor any `KCONNECT_` variable (the worker's own settings, such as its log format)."""


RESERVED_ENV_PREFIX: Final = "KCONNECT_"


RESERVED_VOLUME_NAMES: Final = ("worker-config", "runtime", "offsets")
"""Volume names the builders use; `template.volumes` may not use them, nor a name starting with
one of `RESERVED_VOLUME_PREFIXES` (externalConfiguration volumes, the security fields' Secrets)."""


RESERVED_VOLUME_PREFIXES: Final = ("ext-", "kafka-secret-")


RESERVED_MOUNT_PATHS: Final = (
    "/etc/kconnect",
    "/var/run/kconnect",
    "/opt/kconnect",
    "/var/lib/kconnect",
)
"""Where the builders mount the worker file, its private runtime directory, the external
configuration and Kafka Secrets, and the standalone offsets. A `template.volumeMounts` path may be
none of them, inside none of them, and contain none of them."""


MAX_TEMPLATE_ITEMS: Final = 64
"""The most entries each list of `template` may have (bounds the CEL rules' cost)."""


_LIST_MAP: Final[JsonObject] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
}
"""A list whose entries are keyed by name: the API server refuses a name given twice."""


def _cel_strings(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


ENV_NAME_RULE: Final = (
    f"!(self in {_cel_strings(RESERVED_ENV_NAMES)}) && !self.startsWith('{RESERVED_ENV_PREFIX}')",
    f"template.env[].name must not be one the operator sets ({', '.join(RESERVED_ENV_NAMES)}) "
    f"nor start with {RESERVED_ENV_PREFIX}",
)


VOLUME_NAME_RULE: Final = (
    f"!(self in {_cel_strings(RESERVED_VOLUME_NAMES)}) && "
    f"!{_cel_strings(RESERVED_VOLUME_PREFIXES)}.exists(p, self.startsWith(p))",
    f"template.volumes[].name must not be one the operator uses "
    f"({', '.join(RESERVED_VOLUME_NAMES)}) nor start with "
    f"{' or '.join(RESERVED_VOLUME_PREFIXES)}",
)


MOUNT_PATH_RULE: Final = (
    f"!{_cel_strings(RESERVED_MOUNT_PATHS)}.exists(p, self == p || self.startsWith(p + '/') "
    "|| p.startsWith(self + '/'))",
    "template.volumeMounts[].mountPath must not be, be inside or contain a directory the "
    f"operator mounts ({', '.join(RESERVED_MOUNT_PATHS)})",
)


MOUNT_VOLUME_RULE: Final = (
    "!has(self.volumeMounts) || self.volumeMounts.all(m, "
    "has(self.volumes) && self.volumes.exists(v, v.name == m.name))",
    "template.volumeMounts[].name must name one of template.volumes",
)


def _check_rule(ok: bool, rule: tuple[str, str], value: str) -> None:
    if not ok:
        raise ValueError(f"{rule[1]} (got {value!r})")


class LocalObjectReference(_Model):
    name: str = Field(min_length=1, max_length=253)
    """The object's name, in the resource's namespace."""


class EnvSource(_Model):
    model_config = ConfigDict(
        json_schema_extra=cel(
            "has(self.secretKeyRef) != has(self.configMapKeyRef)",
            "valueFrom needs exactly one of secretKeyRef or configMapKeyRef",
        )
    )

    secret_key_ref: KeyRef | None = Field(None, alias="secretKeyRef")
    """A key of a Secret."""
    config_map_key_ref: KeyRef | None = Field(None, alias="configMapKeyRef")
    """A key of a ConfigMap."""

    def container_value_from(self) -> JsonObject:
        """The container's ``valueFrom`` for this key."""
        if self.secret_key_ref is not None:
            ref, kind = self.secret_key_ref, "secretKeyRef"
        else:
            assert self.config_map_key_ref is not None
            ref, kind = self.config_map_key_ref, "configMapKeyRef"
        return {kind: {"name": ref.name, "key": ref.key}}


class TemplateEnvSource(EnvSource):
    """`EnvSource` under `template.env`, whose rule names that place."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            "has(self.secretKeyRef) != has(self.configMapKeyRef)",
            "template.env[].valueFrom needs exactly one of secretKeyRef or configMapKeyRef",
        )
    )


class ContainerEnvVar(_Model):
    model_config = ConfigDict(
        json_schema_extra=cel(
            "has(self.value) != has(self.valueFrom)",
            "template.env[] needs exactly one of value or valueFrom",
        )
    )

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=253, json_schema_extra=cel(*ENV_NAME_RULE)
    )
    """The variable's name in the worker container. Connector configs cannot read it through
    the `env` config provider (only `externalConfiguration.env` variables are allowed there)."""
    value: str | None = Field(None, max_length=32_768)
    """A literal value."""
    value_from: TemplateEnvSource | None = Field(None, alias="valueFrom")
    """Exactly one of secretKeyRef or configMapKeyRef."""

    @model_validator(mode="after")
    def _check(self) -> ContainerEnvVar:
        _check_rule(
            self.name not in RESERVED_ENV_NAMES and not self.name.startswith(RESERVED_ENV_PREFIX),
            ENV_NAME_RULE,
            self.name,
        )
        if (self.value is None) == (self.value_from is None):
            raise ValueError(f"template.env {self.name!r}: needs exactly one of value or valueFrom")
        if self.value_from is not None and (self.value_from.secret_key_ref is None) == (
            self.value_from.config_map_key_ref is None
        ):
            raise ValueError(
                f"template.env {self.name!r}: valueFrom needs exactly one of secretKeyRef or "
                "configMapKeyRef"
            )
        return self


_VOLUME_SOURCES: Final = ("secret", "configMap", "emptyDir", "persistentVolumeClaim", "csi")


class AdditionalVolume(_Model):
    model_config = ConfigDict(
        json_schema_extra=cel(
            "[" + ", ".join(f"has(self.{s})" for s in _VOLUME_SOURCES) + "].exists_one(x, x)",
            "template.volumes[] needs exactly one of " + ", ".join(_VOLUME_SOURCES),
        )
    )

    name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
        json_schema_extra=cel(*VOLUME_NAME_RULE),
    )
    """The volume's name, which `volumeMounts` refer to."""
    secret: FreeFormObject | None = None
    """A Secret volume source, as in a Pod spec."""
    config_map: FreeFormObject | None = Field(None, alias="configMap")
    """A ConfigMap volume source, as in a Pod spec."""
    empty_dir: FreeFormObject | None = Field(None, alias="emptyDir")
    """An emptyDir volume source, as in a Pod spec."""
    persistent_volume_claim: FreeFormObject | None = Field(None, alias="persistentVolumeClaim")
    """A persistentVolumeClaim volume source, as in a Pod spec."""
    csi: FreeFormObject | None = None
    """A CSI volume source, as in a Pod spec."""

    @model_validator(mode="after")
    def _check(self) -> AdditionalVolume:
        _check_rule(
            self.name not in RESERVED_VOLUME_NAMES
            and not self.name.startswith(RESERVED_VOLUME_PREFIXES),
            VOLUME_NAME_RULE,
            self.name,
        )
        sources = [self.secret, self.config_map, self.empty_dir]
        sources += [self.persistent_volume_claim, self.csi]
        if sum(s is not None for s in sources) != 1:
            raise ValueError(
                f"template.volumes {self.name!r}: needs exactly one of "
                + ", ".join(_VOLUME_SOURCES)
            )
        return self


def _mount_path_ok(path: str) -> bool:
    return not any(
        path == p or path.startswith(p + "/") or p.startswith(path + "/")
        for p in RESERVED_MOUNT_PATHS
    )


class VolumeMount(_Model):
    name: str = Field(min_length=1, max_length=63)
    """One of `template.volumes`."""
    mount_path: str = Field(
        alias="mountPath",
        pattern=r"^(/[^/]+)+$",
        max_length=1024,
        json_schema_extra=cel(*MOUNT_PATH_RULE),
    )
    """An absolute path without a trailing slash."""
    sub_path: str | None = Field(None, alias="subPath", max_length=1024)
    """A path within the volume to mount instead of its root."""
    read_only: bool = Field(True, alias="readOnly")
    """Read-only unless set to false."""

    @model_validator(mode="after")
    def _check(self) -> VolumeMount:
        _check_rule(_mount_path_ok(self.mount_path), MOUNT_PATH_RULE, self.mount_path)
        return self


class SeccompProfile(_Model):
    type: Literal["RuntimeDefault", "Localhost"]
    """RuntimeDefault or Localhost (Unconfined is refused)."""
    localhost_profile: str | None = Field(None, alias="localhostProfile", max_length=4096)
    """The profile's path on the node, with type Localhost."""


class PodSecurityContext(_Model):
    run_as_user: int | None = Field(None, alias="runAsUser", ge=1)
    """The pods' user; never root (runAsNonRoot stays true)."""
    run_as_group: int | None = Field(None, alias="runAsGroup", ge=0)
    """The pods' primary group."""
    fs_group: int | None = Field(None, alias="fsGroup", ge=0)
    """The group that owns the pods' volumes."""
    fs_group_change_policy: Literal["OnRootMismatch", "Always"] | None = Field(
        None, alias="fsGroupChangePolicy"
    )
    """When the kubelet changes volumes' ownership."""
    supplemental_groups: list[Annotated[int, Field(ge=0)]] = Field(
        default_factory=list, alias="supplementalGroups", max_length=MAX_TEMPLATE_ITEMS
    )
    """Extra groups of the pods' processes."""
    se_linux_options: FreeFormObject | None = Field(None, alias="seLinuxOptions")
    """SELinux options, as in a Pod spec."""
    seccomp_profile: SeccompProfile | None = Field(None, alias="seccompProfile")
    """The pods' seccomp profile (RuntimeDefault unless set)."""
    sysctls: list[FreeFormObject] = Field(default_factory=list, max_length=MAX_TEMPLATE_ITEMS)
    """Namespaced sysctls, as in a Pod spec."""


def _fixed(field: str, *, value: bool) -> WithJsonSchema:
    text = "true" if value else "false"
    return WithJsonSchema(
        {
            "type": "boolean",
            **cel(
                f"self == {text}",
                f"template.containerSecurityContext.{field} may only be {text}: the worker "
                "runs non-root, unprivileged, with a read-only root filesystem",
            ),
        }
    )


class ContainerSecurityContext(_Model):
    run_as_user: int | None = Field(None, alias="runAsUser", ge=1)
    """The worker's user; never root."""
    run_as_group: int | None = Field(None, alias="runAsGroup", ge=0)
    """The worker's primary group."""
    se_linux_options: FreeFormObject | None = Field(None, alias="seLinuxOptions")
    """SELinux options, as in a container spec."""
    seccomp_profile: SeccompProfile | None = Field(None, alias="seccompProfile")
    """The worker's seccomp profile (RuntimeDefault unless set)."""
    app_armor_profile: FreeFormObject | None = Field(None, alias="appArmorProfile")
    """The worker's AppArmor profile, as in a container spec."""
    run_as_non_root: Annotated[Literal[True], _fixed("runAsNonRoot", value=True)] = Field(
        True, alias="runAsNonRoot"
    )
    """Always true: the worker never runs as root."""
    read_only_root_filesystem: Annotated[
        Literal[True], _fixed("readOnlyRootFilesystem", value=True)
    ] = Field(True, alias="readOnlyRootFilesystem")
    """Always true: the worker writes only to its volumes."""
    allow_privilege_escalation: Annotated[
        Literal[False], _fixed("allowPrivilegeEscalation", value=False)
    ] = Field(False, alias="allowPrivilegeEscalation")
    """Always false."""
    privileged: Annotated[Literal[False], _fixed("privileged", value=False)] = False
    """Always false; the worker also keeps no capabilities."""


class PodTemplate(_Model):
    model_config = ConfigDict(json_schema_extra=cel(*MOUNT_VOLUME_RULE))

    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on the worker pods; the operator's own labels take precedence."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Extra annotations on the worker pods; the operator's own annotations take precedence."""
    node_selector: dict[str, str] = Field(default_factory=dict, alias="nodeSelector")
    """The worker pods' nodeSelector."""
    tolerations: list[FreeFormObject] = Field(default_factory=list)
    """The worker pods' tolerations, as in a Pod spec."""
    affinity: FreeFormObject | None = None
    """The worker pods' affinity, as in a Pod spec."""
    topology_spread_constraints: list[FreeFormObject] = Field(
        default_factory=list, alias="topologySpreadConstraints", max_length=MAX_TEMPLATE_ITEMS
    )
    """The worker pods' topologySpreadConstraints, as in a Pod spec."""
    priority_class_name: str | None = Field(
        None, alias="priorityClassName", min_length=1, max_length=253
    )
    """The worker pods' PriorityClass."""
    image_pull_secrets: list[LocalObjectReference] = Field(
        default_factory=list, alias="imagePullSecrets", max_length=MAX_TEMPLATE_ITEMS
    )
    """Secrets to pull the worker image with."""
    service_account_name: str | None = Field(
        None, alias="serviceAccountName", min_length=1, max_length=253
    )
    """The worker pods' ServiceAccount (its token is still not mounted)."""
    termination_grace_period_seconds: int | None = Field(
        None, alias="terminationGracePeriodSeconds", ge=1, le=86_400
    )
    """A longer grace period than the operator's (the worker's task shutdown and offset flush
    timeouts plus a margin); a shorter one is refused."""
    security_context: PodSecurityContext | None = Field(None, alias="securityContext")
    """Changes to the pods' security context; runAsNonRoot stays true."""
    container_security_context: ContainerSecurityContext | None = Field(
        None, alias="containerSecurityContext"
    )
    """Changes to the worker container's security context; it stays non-root, with a read-only
    root filesystem, no privilege escalation and no capabilities."""
    env: list[ContainerEnvVar] = Field(
        default_factory=list, max_length=MAX_TEMPLATE_ITEMS, json_schema_extra=_LIST_MAP
    )
    """Extra environment variables of the worker container: a value, or a key of a Secret or
    ConfigMap."""
    volumes: list[AdditionalVolume] = Field(
        default_factory=list, max_length=MAX_TEMPLATE_ITEMS, json_schema_extra=_LIST_MAP
    )
    """Extra volumes of the worker pods."""
    volume_mounts: list[VolumeMount] = Field(
        default_factory=list, alias="volumeMounts", max_length=MAX_TEMPLATE_ITEMS
    )
    """Where the worker container mounts `volumes`."""

    @model_validator(mode="after")
    def _check(self) -> PodTemplate:
        names = [v.name for v in self.volumes]
        if len(set(names)) != len(names):
            raise ValueError("template.volumes: each name may appear once")
        env_names = [e.name for e in self.env]
        if len(set(env_names)) != len(env_names):
            raise ValueError("template.env: each name may appear once")
        for m in self.volume_mounts:
            if m.name not in names:
                raise ValueError(f"{MOUNT_VOLUME_RULE[1]} (got {m.name!r})")
        return self


class ExternalEnv(_Model):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable's name in the worker container."""
    value_from: EnvSource = Field(alias="valueFrom")
    """Exactly one of secretKeyRef or configMapKeyRef."""

    @model_validator(mode="after")
    def _one_source(self) -> ExternalEnv:
        if (self.value_from.secret_key_ref is None) == (self.value_from.config_map_key_ref is None):
            raise ValueError(
                f"env {self.name!r}: valueFrom needs exactly one of secretKeyRef or configMapKeyRef"
            )
        return self


class SecretVolume(_Model):
    secret_name: str = Field(alias="secretName", min_length=1)
    """The Secret to mount; every key becomes a file."""


class ConfigMapVolume(_Model):
    name: str = Field(min_length=1)
    """The ConfigMap to mount; every key becomes a file."""


class ExternalVolume(_Model):
    model_config = ConfigDict(
        json_schema_extra=cel(
            "has(self.secret) != has(self.configMap)",
            "a volume needs exactly one of secret or configMap",
        )
    )

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    """Mounted read-only at /opt/kconnect/external-configuration/<name> in the worker container."""
    secret: SecretVolume | None = None
    """A Secret as files."""
    config_map: ConfigMapVolume | None = Field(None, alias="configMap")
    """A ConfigMap as files."""

    @model_validator(mode="after")
    def _one_source(self) -> ExternalVolume:
        if (self.secret is None) == (self.config_map is None):
            raise ValueError(f"volume {self.name!r}: needs exactly one of secret or configMap")
        return self


class LogLevel(StrEnum):
    """A log level, under the Kafka (log4j) name the workers' `/admin/loggers` speaks."""

    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    FATAL = "FATAL"
    OFF = "OFF"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


ROOT_LOGGER: Final = "root"
"""The root logger's name in `/admin/loggers`, as in Kafka Connect."""


DEFAULT_LOG_LEVEL: Final = LogLevel.INFO
"""The level a logger removed from `spec.logging.loggers` returns to when `root` is not listed."""


MAX_LOGGERS: Final = 64
"""Bounds the loggers the operator compares on every worker in every pass."""


class Logging(_Model):
    loggers: dict[str, LogLevel] = Field(
        default_factory=dict,
        max_length=MAX_LOGGERS,
        json_schema_extra=cel(
            "self.all(n, n.size() > 0 && !n.contains('/'))",
            "logging.loggers: a logger name must be non-empty and contain no '/'",
        ),
    )
    """Log levels by logger name (`root` is the root logger): TRACE, DEBUG, INFO, WARN, ERROR,
    FATAL or OFF. They are applied to every ready worker at run time through the REST API's
    `/admin/loggers`, without restarting it; a new worker gets them within one sync. A logger
    removed from here is set back to the level of `root` (INFO when `root` is not listed)."""
    format: LogFormat = LogFormat.TEXT
    """`text` (the default: Kafka Connect's layout) or `json` (one JSON object per line). A
    change restarts the worker pods."""

    @field_validator("loggers")
    @classmethod
    def _loggers(cls, v: dict[str, LogLevel]) -> dict[str, LogLevel]:
        for name in v:
            if not name or "/" in name:
                raise ValueError(
                    f"logger name {name!r}: expected a non-empty name without '/', "
                    "such as 'root' or 'kconnect.worker'"
                )
        return v


class ExternalConfiguration(_Model):
    env: list[ExternalEnv] = Field(default_factory=list)
    """Environment variables from Secret or ConfigMap keys, for config providers such as `env`."""
    volumes: list[ExternalVolume] = Field(default_factory=list)
    """Secrets or ConfigMaps mounted as files, for config providers such as `file` or
    `directory`."""

    @model_validator(mode="after")
    def _unique(self) -> ExternalConfiguration:
        for what, names in (
            ("env", [e.name for e in self.env]),
            ("volumes", [v.name for v in self.volumes]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{what}: duplicate names {', '.join(dupes)}")
        return self


class IPBlock(_Model):
    cidr: str = Field(min_length=1)
    """The CIDR admitted, for example `10.0.0.0/8`."""
    except_: list[str] = Field(default_factory=list, alias="except")
    """CIDRs within `cidr` that are not admitted."""


class NetworkPolicyPeer(_Model):
    """A source a NetworkPolicy admits, as in its `ingress[].from`."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            "has(self.ipBlock) ? !has(self.podSelector) && !has(self.namespaceSelector)"
            " : has(self.podSelector) || has(self.namespaceSelector)",
            "a peer needs ipBlock alone, or podSelector and/or namespaceSelector",
        )
    )

    pod_selector: FreeFormObject | None = Field(None, alias="podSelector")
    """A label selector of pods (in the worker's namespace unless namespaceSelector is set)."""
    namespace_selector: FreeFormObject | None = Field(None, alias="namespaceSelector")
    """A label selector of namespaces; `{}` selects every namespace."""
    ip_block: IPBlock | None = Field(None, alias="ipBlock")
    """A CIDR range."""

    @model_validator(mode="after")
    def _one_kind(self) -> NetworkPolicyPeer:
        selectors = self.pod_selector is not None or self.namespace_selector is not None
        if (self.ip_block is not None) == selectors:
            raise ValueError("a peer needs ipBlock alone, or podSelector and/or namespaceSelector")
        return self


class NetworkPolicySpec(_Model):
    metrics_peers: list[NetworkPolicyPeer] = Field(default_factory=list, alias="metricsPeers")
    """Who may reach the metrics port when `workerConfig` sets `metrics.listener` (Prometheus, for
    example `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}`), as
    NetworkPolicy peers. Empty (the default): every source, as the metrics port serves nothing
    but metrics. The REST port stays open only to the operator and the workers."""


def network_policy_field() -> Any:
    return Field(default_factory=NetworkPolicySpec, alias="networkPolicy")


def no_keys(mapping: dict[str, str], keys: tuple[str, ...], why: str) -> dict[str, str]:
    present = [k for k in keys if k in mapping]
    if present:
        raise ValueError(f"must not contain {', '.join(repr(k) for k in present)}: {why}")
    return mapping


def bootstrap_servers_field() -> Any:
    return Field(alias="bootstrapServers", min_length=1)


def image_field() -> Any:
    return Field(None, min_length=1)


REST_SECURITY_KEYS: Final = ("rest.extension.classes", "admin.listeners")
"""Worker keys that would lock the operator out of its workers: basic authentication (the
operator's REST client and the kubelet's probes carry no credentials) and admin endpoints moved
off the REST port (the operator sets log levels there). The NetworkPolicy protects the API."""


REST_SECURITY_WHY: Final = (
    "the operator and the kubelet's probes reach the workers' REST API without credentials and "
    "set log levels on its /admin endpoints; the NetworkPolicy restricts who reaches it"
)


def _config_text(value: object) -> str:
    """A config value written as a YAML scalar, as the text Kafka Connect expects
    (`kconnect.config.values`); an object, a list or a null is refused."""
    return config_value_text(value)


ConfigValue = Annotated[str, BeforeValidator(_config_text), Field(max_length=MAX_CONFIG_CHARS)]
"""A connector config value: a string, or a YAML number or boolean turned into its text."""


WorkerConfigValue = Annotated[
    str, BeforeValidator(_config_text), Field(max_length=MAX_WORKER_CONFIG_CHARS)
]
"""A worker config value, likewise."""


def scalar_map_schema(refused: dict[str, str]) -> JsonObject:
    """The CRD schema of a config map whose values may be strings, numbers or booleans.

    Kubernetes types every node of a structural schema, and a value node that admits several
    scalar types can only be untyped (`x-kubernetes-preserve-unknown-fields`), which CEL cannot
    read: a rule over the map's keys or sizes no longer compiles. So the map preserves its
    unknown fields, and each key in `refused` is declared as a property whose only rule fails
    with the message it maps to, naming the key. The values' types and the map's size are
    checked by the models (the operator sets Ready=False, `InvalidConfig`, on a spec they refuse,
    and `kconnect lint` refuses it too); the API server still bounds the number of keys
    (`maxProperties`)."""
    return {
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {
            key: {
                "description": f"Refused: {message}",
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                **cel("false", message),
            }
            for key, message in refused.items()
        },
    }


def worker_config_field(managed_keys: tuple[str, ...]) -> Any:
    """`workerConfig`, whose schema refuses the keys the operator manages and the REST security
    keys that would lock the operator out (`scalar_map_schema`)."""
    managed = "workerConfig must not set the keys the operator manages: " + ", ".join(managed_keys)
    security = f"workerConfig must not set {' or '.join(REST_SECURITY_KEYS)}: " + REST_SECURITY_WHY
    schema = scalar_map_schema(
        {
            **dict.fromkeys(managed_keys, managed),
            **dict.fromkeys(REST_SECURITY_KEYS, security),
        }
    )
    # Declared so that the spec's `RACK_RULE` can see it; allowed unless `rack` is set.
    schema["properties"][RACK_KEY] = {
        "description": f"Refused when rack is set, which sets it per worker: {RACK_RULE[1]}",
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    return Field(
        default_factory=dict,
        alias="workerConfig",
        max_length=MAX_CONFIG_ENTRIES,
        json_schema_extra=schema,
    )


def no_worker_keys(mapping: dict[str, str], managed_keys: tuple[str, ...]) -> dict[str, str]:
    """`workerConfig` without the keys the operator manages or that would lock it out."""
    no_keys(mapping, managed_keys, "the operator manages these keys")
    return no_keys(mapping, REST_SECURITY_KEYS, REST_SECURITY_WHY)


def connector_config_field(refused: dict[str, str]) -> Any:
    """A connector's `config`, whose schema refuses the keys in `refused` with their messages
    (`scalar_map_schema`)."""
    return Field(
        default_factory=dict,
        max_length=MAX_CONFIG_ENTRIES,
        json_schema_extra=scalar_map_schema(refused),
    )


def resources_field() -> Any:
    return Field(default_factory=ResourceRequirements)


def template_field() -> Any:
    return Field(default_factory=PodTemplate)


RACK_KEY: Final = "consumer.client.rack"
"""The worker key rack awareness sets per pod (as Strimzi does): the consumers fetch from the
closest replica (KIP-392) when the brokers run a rack-aware replica selector."""


RACK_TOPOLOGY_KEYS: Final = ("topology.kubernetes.io/zone", "topology.kubernetes.io/region")
"""The node labels the API server copies onto a pod when it is bound to a node (KEP-4742, the
`PodTopologyLabels` admission plugin), so the downward API can read them."""


class Rack(_Model):
    topology_key: Literal["topology.kubernetes.io/zone", "topology.kubernetes.io/region"] = Field(
        alias="topologyKey"
    )
    """The node label whose value becomes each worker's `consumer.client.rack`. The API server
    copies it from the node onto the pod (`PodTopologyLabelsAdmission`: beta and on by default
    from Kubernetes 1.35, a feature gate on 1.33 and 1.34); a worker whose pod lacks it does not
    start, and says why."""


RACK_RULE: Final = (
    "!has(self.rack) || !has(self.workerConfig) || "
    f"!has(self.workerConfig.{RACK_KEY.replace('.', '__dot__')})",
    f"workerConfig must not set {RACK_KEY} when rack is set: rack sets it from each worker's node",
)


def rack_field() -> Any:
    return Field(None)


def check_rack(rack: Rack | None, worker_config: dict[str, str]) -> None:
    if rack is not None and RACK_KEY in worker_config:
        raise ValueError(RACK_RULE[1])


def external_configuration_field() -> Any:
    return Field(default_factory=ExternalConfiguration, alias="externalConfiguration")


def logging_field() -> Any:
    return Field(default_factory=Logging)


def resource_name_rule(max_length: int, names: str) -> JsonObject:
    """The CEL rule on a resource's `metadata.name`: a DNS-1035 label of at most `max_length`
    characters, because it `names` the children that embed it."""
    return cel(
        f"self.metadata.name.size() <= {max_length}"
        f" && self.metadata.name.matches({NAME_PATTERN!r})",
        f"metadata.name must be a DNS-1035 label of at most {max_length} characters: "
        f"it names {names}",
    )


class WorkerSpec(Protocol):
    """What the shared builders read from either kind's spec."""

    @property
    def image(self) -> str | None: ...
    @property
    def resources(self) -> ResourceRequirements: ...
    @property
    def template(self) -> PodTemplate: ...
    @property
    def rack(self) -> Rack | None: ...
    @property
    def external_configuration(self) -> ExternalConfiguration: ...
    @property
    def logging(self) -> Logging: ...
    @property
    def worker_config(self) -> dict[str, str]: ...
    @property
    def network_policy(self) -> NetworkPolicySpec: ...
    @property
    def tls(self) -> ClientTls | None: ...
    @property
    def authentication(self) -> KafkaClientAuthentication | None: ...


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ReadyReason(StrEnum):
    """Why the Ready condition has its status."""

    RUNNING = "Running"
    PAUSED = "Paused"
    STOPPED = "Stopped"
    SCALED_TO_ZERO = "ScaledToZero"
    """`spec.replicas` is 0 and no worker pod runs: wanted (an autoscaler's idle state), not a
    failure."""
    PENDING = "Pending"
    """Workers are ready, but the connector or a task has not reached the wanted state yet."""
    WORKERS_NOT_READY = "WorkersNotReady"
    WORKER_FAILED = "WorkerFailed"
    """No worker is ready and the pods, the workload or a missing Secret or ConfigMap say why."""
    APPLY_FAILED = "ApplyFailed"
    """The API server refused a child (the StatefulSet, the worker ConfigMap, ...)."""
    CONNECTOR_FAILED = "ConnectorFailed"
    TASK_FAILED = "TaskFailed"
    INVALID_CONFIG = "InvalidConfig"
    CLUSTER_NOT_FOUND = "ClusterNotFound"
    """The KConnectCluster a KafkaConnector names in spec.cluster does not exist."""


class KafkaAccessReason(StrEnum):
    """Ready reasons, for both kinds, that say why the workers cannot use Kafka: read from the
    worker's own error text (`core.status.kafka_access_reason`) or from the Secrets the security
    fields name."""

    AUTHENTICATION_FAILED = "KafkaAuthenticationFailed"
    """A wrong password, an unknown user, or an OAuth token the broker refused."""
    TOKEN_ENDPOINT_UNREACHABLE = "TokenEndpointUnreachable"  # noqa: S105 (a reason)
    """No OAuth token could be fetched from the token endpoint."""
    TLS_FAILED = "KafkaTlsFailed"
    """An untrusted, expired or misnamed broker certificate, or a refused client certificate."""
    AUTHORIZATION_FAILED = "KafkaAuthorizationFailed"
    """The principal lacks an ACL."""
    SECRET_MISSING = "KafkaSecretMissing"  # noqa: S105 (a reason)
    """A Secret or key named by spec.tls or spec.authentication does not exist."""


READY: Final = "Ready"


class Condition(_Model):
    type: str
    """The condition's type, for example Ready."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: str = ""
    """A CamelCase reason, for example WorkersNotReady, WorkerFailed, ApplyFailed,
    ConnectorFailed, TaskFailed, InvalidConfig, KafkaAuthenticationFailed,
    TokenEndpointUnreachable, KafkaTlsFailed, KafkaAuthorizationFailed, KafkaSecretMissing."""
    message: str = ""
    """A message for people."""
    last_transition_time: str | None = Field(None, alias="lastTransitionTime")
    """When the status last changed (RFC 3339)."""
    observed_generation: int | None = Field(None, alias="observedGeneration")
    """The generation the condition was computed from."""


class TaskStatus(_Model):
    id: int = Field(ge=0)
    """The task number."""
    state: str
    """UNASSIGNED, RUNNING, PAUSED, STOPPED, FAILED or RESTARTING."""
    worker: str = ""
    """The worker (pod IP and port) running the task."""
    trace: str | None = None
    """The failure's trace, trimmed."""


class FailedTask(_Model):
    """A task the workers report FAILED, in the shape Confluent for Kubernetes' `failedTasks`
    has (`id`, `retryCount`), with the worker and the failure's summary line."""

    id: int = Field(ge=0)
    """The task number."""
    worker: str = ""
    """The worker (pod IP and port) the task failed on."""
    message: str = ""
    """The line of the trace that says what failed; the whole trace (trimmed) is in the task's
    entry of the connector's state."""
    retry_count: int = Field(0, alias="retryCount", ge=0)
    """Automatic restarts (`spec.autoRestart`) that included this task since the connector last
    ran healthy: the counter `autoRestart.tasks` keeps. 0 without `autoRestart`; a restart asked
    for by annotation or through the workers' REST API is not counted."""


class ConnectorStatus(_Model):
    state: str
    """The connector's state as the workers report it."""
    worker: str = ""
    """The worker running the connector."""
    trace: str | None = None
    """The failure's trace, trimmed."""
    tasks: list[TaskStatus] = Field(default_factory=list)
    """Each task's state and worker."""
    type: str | None = None
    """source or sink, as the workers report it; unset when they do not say."""


def applied_loggers_field() -> Any:
    return Field(None, alias="appliedLoggers")


class ObjectMeta(BaseModel):
    """The parts of metadata the operator reads; the rest passes through."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    name: str
    namespace: str
    uid: str = ""
    generation: int | None = None


def check_resource_name(namespace: str, name: str, *, max_length: int) -> None:
    """Raise ValueError unless `namespace` and `name` are ones the API server would admit for a
    kind whose names have at most `max_length` characters."""
    if not (len(namespace) <= 63 and re.fullmatch(NAMESPACE_PATTERN, namespace)):
        raise ValueError(f"namespace {namespace!r}: expected a DNS-1123 label")
    if not (len(name) <= max_length and re.fullmatch(NAME_PATTERN, name)):
        raise ValueError(
            f"metadata.name {name!r}: expected a DNS-1035 label of at most {max_length} characters"
        )


def trim_trace(trace: str | None, limit: int = MAX_TRACE_CHARS) -> str | None:
    """A trace short enough for status: its head, where the exception is, and a marker."""
    if trace is None or len(trace) <= limit:
        return trace
    marker = "\n... (trimmed)"
    return trace[: max(0, limit - len(marker))] + marker
