"""The pieces of the children both resources make, as pure functions: names, labels, pod template.

Each builder returns a plain JSON-ready dict, the same for the same inputs (keys in a fixed order,
lists sorted where Kubernetes does not care about order), so the shell can apply it idempotently
and compare it with what is there. Every child carries a controller owner reference to its
`ResourceOwner` (each resource's subclass names its kind), so deleting the resource
garbage-collects it; the labels tell the two kinds' children and pods apart.

What rolls the worker pods: the pod template (`pod_template`) carries `kconnect.io/config-hash`
(`hash_of` a `hash_payload`: what the worker reads, the resourceVersions of the Secrets and
ConfigMaps the spec references, and a log format other than `text`). A change to any of them
changes the template and rolls the pods; nothing else feeds the hash.

Config providers: unless `workerConfig` sets `config.providers` itself, the worker properties
declare `env`, `file` and `dir` (`default_properties`), the last two limited to `EXTERNAL_DIR`;
`env` is limited (`allowlist.pattern`) to the variables the spec declares in
`externalConfiguration.env`, so a connector config, which any REST caller can write, never reads
the rest of the worker's environment.

The pod IP in the worker's REST settings: the container is a small `/bin/sh` step
(`start_script`) that copies the mounted worker file into a private emptyDir, appends
`listeners=http://$POD_IP:8083` and `rest.advertised.host.name=$POD_IP`, and `exec`s the worker on
the copy, which then runs as the container's main process and gets SIGTERM itself. The root
filesystem stays read-only.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final

from pydantic import BaseModel

from kconnect.config.properties import format_properties
from kconnect.errors import ConfigError
from kconnect.rest.listeners import parse_listener
from kconnect_operator.core import children, kafka_security
from kconnect_operator.core.kafka_security import SecretFacts
from kconnect_operator.core.shapes import (
    API_VERSION,
    RACK_KEY,
    JsonObject,
    LogFormat,
    NetworkPolicyPeer,
    PodTemplate,
    Rack,
    WorkerSpec,
    check_resource_name,
)

REST_PORT: Final = 8083


REST_PORT_NAME: Final = "rest"


METRICS_PORT_NAME: Final = "metrics"


METRICS_LISTENER_KEY: Final = "metrics.listener"


WORKER_CONTAINER: Final = "worker"


HEALTH_PATH: Final = "/health"


CONFIG_KEY: Final = "worker.properties"


CONFIG_DIR: Final = "/etc/kconnect"


RUNTIME_DIR: Final = "/var/run/kconnect"


EXTERNAL_DIR: Final = "/opt/kconnect/external-configuration"


WORKER_COMMAND: Final = ("kconnect", "distributed")


GROUP_INSTANCE_ID_KEY: Final = "group.instance.id"
"""The worker key of static group membership; the start script sets it per pod."""


RUN_AS_USER: Final = 1001
"""The worker image's unprivileged user."""


CONFIG_HASH_ANNOTATION: Final = children.CONFIG_HASH_ANNOTATION


APP_NAME: Final = "kconnect"


MANAGED_BY: Final = "kconnect-operator"


DEFAULT_OPERATOR_LABELS: Final[Mapping[str, str]] = {"app.kubernetes.io/name": MANAGED_BY}
"""The labels of the operator's pods, which the NetworkPolicy lets reach the REST port."""


FILE_CONNECTORS_KEY: Final = "file.connectors.enable"
"""The worker key that allows FileStreamSource and FileStreamSink; the operator writes `false`."""


CONFIG_PROVIDERS_KEY: Final = "config.providers"


DEFAULT_CONFIG_PROVIDERS: Final[Mapping[str, str]] = {
    CONFIG_PROVIDERS_KEY: "env,file,dir",
    "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
    "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
    "config.providers.file.param.allowed.paths": EXTERNAL_DIR,
    "config.providers.dir.class": (
        "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
    ),
    "config.providers.dir.param.allowed.paths": EXTERNAL_DIR,
}
"""The config providers the worker gets when `workerConfig` declares none (with `env` limited by
`env_allowlist`); `config.providers` in `workerConfig` replaces them all."""


ENV_ALLOWLIST_KEY: Final = "config.providers.env.param.allowlist.pattern"


NO_ENV: Final = "(?!)"
"""An `allowlist.pattern` no name matches: the env provider reads nothing."""


LOG_FORMAT_ENV: Final = "KCONNECT_LOG_FORMAT"
"""The worker's log format (`text` or `json`), read by `kconnect` at start."""


DRAIN_MARGIN_S: Final = 30
"""Grace beyond the worker's own stop timeouts: leaving the group, closing clients and REST."""


@dataclass(frozen=True, slots=True)
class OwnerKind:
    """What tells one kind of owner's children apart: the owner's kind, the children's component
    label and the label that selects its worker pods (one label per kind, so that the two kinds'
    pods never match each other's selectors)."""

    kind: str
    component: str
    selector_label: str
    max_name_length: int


@dataclass(frozen=True, slots=True)
class ResourceOwner:
    """The resource that owns the children; each resource's subclass sets `kind`."""

    kind: ClassVar[OwnerKind]

    name: str
    namespace: str
    uid: str

    def __post_init__(self) -> None:
        check_resource_name(self.namespace, self.name, max_length=self.kind.max_name_length)
        if not self.uid:
            raise ValueError(f"{self.kind.kind} {self.namespace}/{self.name}: no metadata.uid")


def selector_labels_of(kind: OwnerKind, name: str) -> dict[str, str]:
    """The labels that select the worker pods of the `kind` resource `name` (and only them)."""
    return {
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/name": APP_NAME,
        kind.selector_label: name,
    }


def selector_labels(owner: ResourceOwner) -> dict[str, str]:
    """The labels that select an owner's worker pods (and only them)."""
    return selector_labels_of(owner.kind, owner.name)


def selector_string_of(kind: OwnerKind, name: str) -> str:
    """`selector_labels_of` as a label selector string."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector_labels_of(kind, name).items()))


def selector_string(owner: ResourceOwner) -> str:
    """`selector_labels` as a label selector string, for the status and the scale subresource."""
    return selector_string_of(owner.kind, owner.name)


def labels(owner: ResourceOwner) -> dict[str, str]:
    """The labels on every child."""
    return dict(
        sorted(
            {
                **selector_labels(owner),
                "app.kubernetes.io/component": owner.kind.component,
                "app.kubernetes.io/managed-by": MANAGED_BY,
            }.items()
        )
    )


def owner_reference(owner: ResourceOwner) -> JsonObject:
    return {
        "apiVersion": API_VERSION,
        "kind": owner.kind.kind,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(owner: ResourceOwner, name: str) -> JsonObject:
    """A child's metadata: its name, the owner's namespace, `labels` and the owner reference."""
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": labels(owner),
        "ownerReferences": [owner_reference(owner)],
    }


def env_allowlist(spec: WorkerSpec) -> str:
    """The env provider's `allowlist.pattern` (a whole-name regex): the variables the spec
    declares in `externalConfiguration.env`, and nothing else (`NO_ENV` when it declares none)."""
    names = sorted(e.name for e in spec.external_configuration.env)
    return "|".join(re.escape(n) for n in names) or NO_ENV


def default_properties(defaults: Mapping[str, str], spec: WorkerSpec) -> dict[str, str]:
    """`defaults`, plus `DEFAULT_CONFIG_PROVIDERS` (with the env provider's allow-list) unless
    the spec's `workerConfig` declares its own providers: the providers' keys go together, never
    mixed with the user's."""
    if CONFIG_PROVIDERS_KEY in spec.worker_config:
        return dict(defaults)
    return {**defaults, **DEFAULT_CONFIG_PROVIDERS, ENV_ALLOWLIST_KEY: env_allowlist(spec)}


NO_SECRETS: Final[Mapping[str, SecretFacts]] = MappingProxyType({})


def with_kafka_security(
    props: Mapping[str, str], spec: WorkerSpec, kafka_secrets: Mapping[str, SecretFacts]
) -> dict[str, str]:
    """`props` with what `spec.tls` and `spec.authentication` add (`kafka_security`): their
    client keys under every client prefix, and their config provider added to
    `config.providers`. Raises `kconnect.errors.ConfigError` for a `workerConfig` key they
    manage, and `kafka_security.SecretReferenceError` for a missing Secret or key."""
    extra = kafka_security.security_properties(spec, kafka_secrets, spec.worker_config)
    if not extra:
        return dict(props)
    return {
        **props,
        **extra,
        CONFIG_PROVIDERS_KEY: kafka_security.with_provider(props.get(CONFIG_PROVIDERS_KEY, "")),
    }


def render_properties(props: Mapping[str, str]) -> str:
    """A `.properties` file that `java.util.Properties` (and kconnect) read back as `props`: the
    worker's one writer, `kconnect.config.properties.format_properties` (keys sorted, ASCII)."""
    return format_properties(props)


def referenced_secrets(spec: WorkerSpec) -> list[str]:
    """The Secrets `externalConfiguration` gives the worker pods, sorted: their versions feed
    the config hash. (The security fields' Secrets: `kafka_security.secret_names`.)"""
    ext = spec.external_configuration
    names = {e.value_from.secret_key_ref.name for e in ext.env if e.value_from.secret_key_ref}
    names |= {v.secret.secret_name for v in ext.volumes if v.secret}
    return sorted(names)


def referenced_config_maps(spec: WorkerSpec) -> list[str]:
    """The ConfigMaps the worker pods use, sorted: their versions feed the config hash."""
    ext = spec.external_configuration
    names = {
        e.value_from.config_map_key_ref.name for e in ext.env if e.value_from.config_map_key_ref
    }
    names |= {v.config_map.name for v in ext.volumes if v.config_map}
    return sorted(names)


def hash_payload(
    payload: JsonObject,
    spec: WorkerSpec,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str] | None,
    kafka_secrets: Mapping[str, SecretFacts] = NO_SECRETS,
) -> JsonObject:
    """`payload` (what the worker reads) with the versions of the referenced Secrets and
    ConfigMaps (one missing from the versions counts as absent), the digests of the security
    fields' Secrets (`kafka_security.secrets_digest`) and the log format when it is not `text`.
    ConfigMaps and the security Secrets join only when the spec references one, so a resource
    that references none keeps the hash it had before they counted."""
    out: JsonObject = {
        **payload,
        "secrets": {name: secret_versions.get(name) for name in referenced_secrets(spec)},
    }
    config_maps = referenced_config_maps(spec)
    if config_maps:
        versions = config_map_versions or {}
        out["configMaps"] = {name: versions.get(name) for name in config_maps}
    digests = kafka_security.secrets_digest(spec, kafka_secrets)
    if digests is not None:
        out["kafkaSecrets"] = digests
    if spec.logging.format is not LogFormat.TEXT:
        out["logFormat"] = spec.logging.format.value
    return out


def hash_of(payload: JsonObject) -> str:
    """The config hash of a `hash_payload`. The log format joins the payload only when it is not
    `text`, so a resource that never set it keeps the hash it had before the format existed, and
    its pods do not roll for it."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def start_script(
    command: Sequence[str] = WORKER_COMMAND,
    arguments: Sequence[str] = (),
    *,
    static_member: bool = False,
    rack: Rack | None = None,
) -> str:
    """The container's shell step: a per-pod copy of the worker file whose REST listener binds the
    pod IP and advertises it, then `exec` into the worker (`command` on the copy, then
    `arguments`) so it receives SIGTERM itself. An IPv6 pod IP is bracketed in the listener
    URL. `arguments` must need no shell quoting. With `static_member`, the copy also sets
    `group.instance.id` to the pod's name (`POD_NAME`, from the downward API): a StatefulSet's
    pod keeps its name across restarts, so the worker keeps its seat in the group."""
    source = f"{CONFIG_DIR}/{CONFIG_KEY}"
    target = f"{RUNTIME_DIR}/{CONFIG_KEY}"
    instance = f'  printf "{GROUP_INSTANCE_ID_KEY}=%s\\n" "$POD_NAME"\n' if static_member else ""
    rack_check = rack_line = ""
    if rack is not None:
        rack_check = (
            f'if [ -z "${{{RACK_ENV}:-}}" ]; then\n'
            f"  echo {shlex.quote(_missing_rack(rack))} >&2\n"
            "  exit 1\n"
            "fi\n"
        )
        rack_line = f'  printf "{RACK_KEY}=%s\\n" "${RACK_ENV}"\n'
    return (
        "set -eu\n"
        f"{rack_check}"
        'case "$POD_IP" in *:*) host="[$POD_IP]" ;; *) host="$POD_IP" ;; esac\n'
        f"{{ cat {source}\n"
        f'  printf "listeners=http://%s:{REST_PORT}\\n" "$host"\n'
        '  printf "rest.advertised.host.name=%s\\n" "$POD_IP"\n'
        f"{instance}"
        f"{rack_line}"
        f"}} > {target}\n"
        f"exec {' '.join([*command, target, *arguments])}\n"
    )


LEAVE_MARKER: Final = f"{RUNTIME_DIR}/leave-group"
"""A file in the pod's private emptyDir that makes the worker give its group seat up when the pod
stops (`leave_group_hook`). The operator writes it (`MARK_LEAVING_COMMAND`, through the pods/exec
API) into the pods a scale-down removes, just before it lowers the replicas."""


MARK_LEAVING_COMMAND: Final = ("/bin/sh", "-c", f": > {LEAVE_MARKER}")
"""What the operator runs in a pod that a scale-down removes: it writes `LEAVE_MARKER`, nothing
else (the worker runs on undisturbed until its pod is deleted)."""


def leave_group_hook() -> JsonObject:
    """The worker container's `lifecycle`: a preStop hook that sends the worker SIGUSR1 (stop
    gracefully and leave the group, so its tasks move at once) when `LEAVE_MARKER` exists, and
    does nothing otherwise (SIGTERM then keeps the seat: a roll, an eviction). The worker is
    PID 1 (the start script `exec`s it); the SIGTERM the kubelet sends after the hook finds it
    already stopping, and changes nothing."""
    script = f"if [ -e {LEAVE_MARKER} ]; then kill -USR1 1; fi"
    return {"preStop": {"exec": {"command": ["/bin/sh", "-c", script]}}}


RACK_ENV: Final = "KCONNECT_RACK"
"""The worker container's variable holding its node's `rack.topologyKey` label (downward API)."""


def _missing_rack(rack: Rack) -> str:
    return (
        f"spec.rack: this pod has no label {rack.topology_key}. The API server copies it from "
        "the node when the pod is bound (the PodTopologyLabelsAdmission feature gate: on by "
        "default from Kubernetes 1.35, to be enabled on 1.33 and 1.34), and only when the "
        "node has it"
    )


def _field_env(name: str, path: str) -> JsonObject:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def _env(spec: WorkerSpec) -> list[JsonObject]:
    env: list[JsonObject] = [
        _field_env("POD_IP", "status.podIP"),
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "TMPDIR", "value": RUNTIME_DIR},
    ]
    if spec.logging.format is not LogFormat.TEXT:
        env.append({"name": LOG_FORMAT_ENV, "value": spec.logging.format.value})
    if spec.rack is not None:
        env.append(_field_env(RACK_ENV, f"metadata.labels['{spec.rack.topology_key}']"))
    for item in sorted(spec.external_configuration.env, key=lambda e: e.name):
        env.append({"name": item.name, "valueFrom": item.value_from.container_value_from()})
    return env


RUNTIME_VOLUME: Final[JsonObject] = {
    "name": "runtime",
    "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"},
}
"""The private emptyDir the start script writes the per-pod worker file to."""


RUNTIME_MOUNT: Final[JsonObject] = {"name": "runtime", "mountPath": RUNTIME_DIR}


def external_volumes(spec: WorkerSpec) -> tuple[list[JsonObject], list[JsonObject]]:
    """The volumes and mounts of `externalConfiguration.volumes`, sorted by name, then those of
    the security fields' Secrets (`kafka_security.security_volumes`)."""
    volumes: list[JsonObject] = []
    mounts: list[JsonObject] = []
    for ext in sorted(spec.external_configuration.volumes, key=lambda v: v.name):
        volume_name = f"ext-{ext.name}"[:63]
        if ext.secret is not None:
            source: JsonObject = {"secret": {"secretName": ext.secret.secret_name}}
        else:
            assert ext.config_map is not None
            source = {"configMap": {"name": ext.config_map.name}}
        volumes.append({"name": volume_name, **source})
        mounts.append(
            {"name": volume_name, "mountPath": f"{EXTERNAL_DIR}/{ext.name}", "readOnly": True}
        )
    security_volumes, security_mounts = kafka_security.security_volumes(spec)
    return volumes + security_volumes, mounts + security_mounts


def metrics_port(worker_config: Mapping[str, str]) -> int | None:
    """The port of the worker's `metrics.listener`, None when it sets none. It must be a fixed
    port other than the REST port, or the NetworkPolicy could not admit it alone: a
    `ConfigError` says so."""
    value = worker_config.get(METRICS_LISTENER_KEY, "").strip()
    if not value:
        return None
    try:
        port = parse_listener(value).port
    except ConfigError as e:
        raise ConfigError(f"workerConfig {METRICS_LISTENER_KEY}={value!r}: {e}") from None
    if port == 0:
        raise ConfigError(
            f"workerConfig {METRICS_LISTENER_KEY}={value!r}: expected a fixed port such as "
            "http://:9404; port 0 is chosen at bind time, so no NetworkPolicy can admit it"
        )
    if port == REST_PORT:
        raise ConfigError(
            f"workerConfig {METRICS_LISTENER_KEY}={value!r}: port {REST_PORT} is the REST "
            "port; expected another port such as http://:9404"
        )
    return port


def _container_ports(spec: WorkerSpec) -> list[JsonObject]:
    ports: list[JsonObject] = [
        {"name": REST_PORT_NAME, "containerPort": REST_PORT, "protocol": "TCP"}
    ]
    port = metrics_port(spec.worker_config)
    if port is not None:
        ports.append({"name": METRICS_PORT_NAME, "containerPort": port, "protocol": "TCP"})
    return ports


def _probe(*, period: int, failures: int) -> JsonObject:
    return {
        "httpGet": {"path": HEALTH_PATH, "port": REST_PORT_NAME, "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
        "successThreshold": 1,
    }


def _resources(spec: WorkerSpec) -> JsonObject:
    out: JsonObject = {}
    if spec.resources.limits:
        out["limits"] = dict(sorted(spec.resources.limits.items()))
    if spec.resources.requests:
        out["requests"] = dict(sorted(spec.resources.requests.items()))
    return out


def pod_template(
    spec: WorkerSpec,
    owner: ResourceOwner,
    *,
    image: str,
    script: str,
    config_hash: str,
    volumes: list[JsonObject],
    mounts: list[JsonObject],
    grace_seconds: int,
    lifecycle: JsonObject | None = None,
) -> JsonObject:
    """The worker pod template both kinds use: one `worker` container running `script`, the
    spec's image (`image` when it names none), resources and template overrides, and the config
    hash that rolls the pods. The container's termination message falls back to its log tail, so
    the operator can say why a crash-looping worker exits. `lifecycle` is the container's hooks
    (`leave_group_hook`)."""
    template = spec.template
    pod_labels = dict(sorted({**template.labels, **labels(owner)}.items()))
    pod_annotations = dict(
        sorted({**template.annotations, CONFIG_HASH_ANNOTATION: config_hash}.items())
    )
    container: JsonObject = {
        "name": WORKER_CONTAINER,
        "image": spec.image or image,
        "command": ["/bin/sh", "-c", script],
        "env": _env(spec),
        "ports": _container_ports(spec),
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
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }
    if lifecycle is not None:
        container["lifecycle"] = lifecycle
    pod_spec: JsonObject = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [container],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": _grace_seconds(template, grace_seconds),
        "volumes": volumes,
    }
    _apply_template(spec, pod_spec, container)
    return {
        "metadata": {"labels": pod_labels, "annotations": pod_annotations},
        "spec": pod_spec,
    }


def _grace_seconds(template: PodTemplate, minimum: int) -> int:
    wanted = template.termination_grace_period_seconds
    if wanted is None:
        return minimum
    if wanted < minimum:
        raise ConfigError(
            f"template.terminationGracePeriodSeconds={wanted}: expected at least {minimum}, the "
            "time the worker needs to stop its tasks and flush their offsets "
            "(task.shutdown.graceful.timeout.ms plus offset.flush.timeout.ms, plus a margin)"
        )
    return wanted


def _template_env(spec: WorkerSpec) -> list[JsonObject]:
    external = {e.name for e in spec.external_configuration.env}
    env: list[JsonObject] = []
    for item in sorted(spec.template.env, key=lambda e: e.name):
        if item.name in external:
            raise ConfigError(
                f"template.env {item.name!r}: externalConfiguration.env already sets it; "
                "set each variable in one of them"
            )
        if item.value is not None:
            env.append({"name": item.name, "value": item.value})
            continue
        assert item.value_from is not None
        env.append({"name": item.name, "valueFrom": item.value_from.container_value_from()})
    return env


def _dump(model: BaseModel) -> JsonObject:
    return model.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True, mode="json")


def _apply_template(spec: WorkerSpec, pod_spec: JsonObject, container: JsonObject) -> None:
    """`template`'s pod and container fields over the builder's. The security contexts are
    merged key by key: an override changes the user, groups, SELinux, seccomp or AppArmor
    profile, never runAsNonRoot, the read-only root filesystem, privilege escalation or the
    dropped capabilities (the spec's shape has no way to say otherwise)."""
    template = spec.template
    if template.node_selector:
        pod_spec["nodeSelector"] = dict(sorted(template.node_selector.items()))
    if template.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in template.tolerations]
    if template.affinity is not None:
        pod_spec["affinity"] = dict(template.affinity)
    if template.topology_spread_constraints:
        pod_spec["topologySpreadConstraints"] = [
            dict(t) for t in template.topology_spread_constraints
        ]
    if template.priority_class_name is not None:
        pod_spec["priorityClassName"] = template.priority_class_name
    if template.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": s.name} for s in template.image_pull_secrets]
    if template.service_account_name is not None:
        pod_spec["serviceAccountName"] = template.service_account_name
    if template.security_context is not None:
        pod_spec["securityContext"] = dict(
            sorted({**pod_spec["securityContext"], **_dump(template.security_context)}.items())
        )
    if template.container_security_context is not None:
        container["securityContext"] = dict(
            sorted(
                {
                    **container["securityContext"],
                    **_dump(template.container_security_context),
                }.items()
            )
        )
    container["env"] = [*container["env"], *_template_env(spec)]
    if template.volumes:
        pod_spec["volumes"] = [
            *pod_spec["volumes"],
            *(_dump(v) for v in sorted(template.volumes, key=lambda v: v.name)),
        ]
        container["volumeMounts"] = [
            *container["volumeMounts"],
            *(
                _dump(m) | {"readOnly": m.read_only}
                for m in sorted(template.volume_mounts, key=lambda m: m.mount_path)
            ),
        ]


def rest_service_port() -> JsonObject:
    """The REST port as a Service exposes it."""
    return {
        "name": REST_PORT_NAME,
        "port": REST_PORT,
        "targetPort": REST_PORT_NAME,
        "protocol": "TCP",
    }


def _peer(peer: NetworkPolicyPeer) -> JsonObject:
    return peer.model_dump(by_alias=True, exclude_none=True, mode="json")


def network_policy(
    owner: ResourceOwner,
    spec: WorkerSpec,
    *,
    name: str,
    operator_namespace: str,
    operator_labels: Mapping[str, str] = DEFAULT_OPERATOR_LABELS,
    workers_talk: bool = True,
) -> JsonObject:
    """Only the operator's pods and, with `workers_talk`, the owner's own workers (which forward
    requests to their leader) reach the REST port. When `workerConfig` sets `metrics.listener`,
    its port is admitted too: from `networkPolicy.metricsPeers`, or from everywhere when it
    lists none. Egress is not restricted: workers need Kafka and whatever their connectors talk
    to."""
    rest_from: list[JsonObject] = []
    if workers_talk:
        rest_from.append({"podSelector": {"matchLabels": selector_labels(owner)}})
    rest_from.append(
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": operator_namespace}
            },
            "podSelector": {"matchLabels": dict(sorted(operator_labels.items()))},
        }
    )
    ingress: list[JsonObject] = [
        {"from": rest_from, "ports": [{"protocol": "TCP", "port": REST_PORT}]}
    ]
    port = metrics_port(spec.worker_config)
    if port is not None:
        rule: JsonObject = {"ports": [{"protocol": "TCP", "port": port}]}
        peers = [_peer(p) for p in spec.network_policy.metrics_peers]
        if peers:
            rule = {"from": peers, **rule}
        ingress.append(rule)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(owner, name),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(owner)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }
