"""A container's environment and command line, as the real kubelet computes them. Pure.

- ``$(VAR)`` expansion follows Kubernetes' own (``third_party/forked/golang/expansion``): a defined
  variable is replaced, an undefined one is left as written, ``$$`` is a literal ``$`` (so
  ``$$(VAR)`` stays ``$(VAR)``), and anything else after ``$`` is kept.
- Env is built in the kubelet's order: the ``kubernetes`` Service's variables, then ``envFrom``
  sources in order (with their ``prefix``), then ``env`` in order. An ``env`` value may refer to any
  variable defined before it and to the Service's variables; values from ConfigMaps, Secrets and
  the downward API are never expanded. ``command`` and ``args`` are expanded with the final env.
- A reference that cannot be resolved and is not ``optional`` raises :class:`ConfigError`, whose
  message is the real kubelet's (e.g. ``couldn't find key FOO in ConfigMap ns/cm``); the caller
  shows it as ``CreateContainerConfigError`` and tries again later, as the real kubelet does.

ConfigMaps and Secrets come from an :class:`ObjectSource`, so these functions never do I/O
themselves; the kubelet passes one that reads the API server, tests pass dicts.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Final, Protocol

from kconnect_devenv.kubelet.api import JsonObject


class ConfigError(Exception):
    """A container's configuration refers to something that does not exist (yet)."""


class ObjectSource(Protocol):
    """Where ConfigMaps and Secrets come from: None when the object does not exist."""

    def config_map(self, namespace: str, name: str) -> JsonObject | None: ...

    def secret(self, namespace: str, name: str) -> JsonObject | None: ...


# --------------------------------------------------------------------------------------------------
# $(VAR) expansion


def expand(text: str, *mappings: Mapping[str, str]) -> str:
    """``text`` with each ``$(NAME)`` defined in one of ``mappings`` (first wins) replaced."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            if following == "$":
                out.append("$")
                advance = 1
            elif following == "(":
                closer = text.find(")", cursor + 2)
                if closer == -1:
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : closer]
                    out.append(_lookup(name, mappings))
                    advance = closer - cursor
            else:
                out.append("$" + following)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _lookup(name: str, mappings: Sequence[Mapping[str, str]]) -> str:
    for mapping in mappings:
        if name in mapping:
            return mapping[name]
    return f"$({name})"


def command_line(container: JsonObject, env: Mapping[str, str]) -> list[str]:
    """The container's ``command`` + ``args``, expanded with its env."""
    command = [expand(str(part), env) for part in container.get("command") or []]
    args = [expand(str(part), env) for part in container.get("args") or []]
    return command + args


# --------------------------------------------------------------------------------------------------
# Quantities ("500m", "1Gi") for resourceFieldRef

_BINARY: Final = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL: Final = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY: Final = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)"
)


def parse_quantity(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity such as ``500m``, ``1.5Gi`` or ``2e3``."""
    match = _QUANTITY.fullmatch(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a quantity; expected e.g. 500m, 2, 1Gi or 1e3")
    number, exponent, suffix = match.groups()
    value = Fraction(number)
    if exponent:
        return value * Fraction(10) ** int(exponent[1:])
    suffix = suffix or ""
    return value * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def resource_value(
    pod: JsonObject,
    container_name: str,
    resource: str,
    divisor: str | None,
    node_allocatable: Mapping[str, str],
) -> str:
    """The downward API's ``resourceFieldRef``: a request or limit of a container, divided by
    ``divisor`` and rounded up; an unset limit is the node's allocatable amount."""
    kind, _, name = resource.partition(".")
    if kind not in {"limits", "requests"} or name not in {"cpu", "memory", "ephemeral-storage"}:
        raise ConfigError(f"unsupported container resource: {resource!r}")
    container = next(
        (
            c
            for c in [*pod["spec"].get("containers", []), *pod["spec"].get("initContainers", [])]
            if c.get("name") == container_name
        ),
        None,
    )
    if container is None:
        raise ConfigError(f"no container named {container_name!r} in the pod")
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    if kind == "limits":
        raw = limits.get(name) or node_allocatable.get(name, "0")
    else:
        raw = requests.get(name) or limits.get(name) or "0"
    value = parse_quantity(raw)
    scale = parse_quantity(divisor) if divisor else Fraction(1)
    if scale <= 0:
        raise ConfigError(f"divisor {divisor!r} of {resource} must be positive")
    return str(math.ceil(value / scale))


# --------------------------------------------------------------------------------------------------
# The downward API's fieldRef

_SUBSCRIPT: Final = re.compile(r"metadata\.(labels|annotations)\['(.*)'\]")

ENV_FIELDS: Final = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.serviceAccountName",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
VOLUME_FIELDS: Final = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.labels",
        "metadata.annotations",
    }
)


def field_value(pod: JsonObject, field_path: str, *, allowed: frozenset[str] = ENV_FIELDS) -> str:
    """The value of a downward API ``fieldRef``, formatted as the kubelet formats it."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    subscript = _SUBSCRIPT.fullmatch(field_path)
    if subscript is not None:
        return str((metadata.get(subscript.group(1)) or {}).get(subscript.group(2), ""))
    if field_path not in allowed:
        raise ConfigError(f"unsupported fieldPath: {field_path}")
    simple = {
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
    }
    if field_path in simple:
        return str(simple[field_path] or "")
    if field_path in {"status.podIPs", "status.hostIPs"}:
        key = field_path.split(".")[1]
        return ",".join(str(entry.get("ip", "")) for entry in status.get(key) or [])
    # metadata.labels / metadata.annotations: one `key="value"` line per entry, sorted.
    entries = metadata.get(field_path.split(".")[1]) or {}
    return "\n".join(f"{key}={go_quote(str(entries[key]))}" for key in sorted(entries))


def go_quote(text: str) -> str:
    """Go's ``%q`` for printable text: double quotes, with ``"`` and ``\\`` and controls escaped."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# --------------------------------------------------------------------------------------------------
# The environment


def secret_value(data: str) -> str:
    return base64.b64decode(data).decode("utf-8", errors="replace")


def container_env(
    pod: JsonObject,
    container: JsonObject,
    source: ObjectSource,
    *,
    service_env: Mapping[str, str],
    node_allocatable: Mapping[str, str],
) -> dict[str, str]:
    """The variables Kubernetes defines for ``container`` (not the process's base environment).

    Raises :class:`ConfigError` when a non-optional reference cannot be resolved.
    """
    namespace = pod["metadata"]["namespace"]
    defined: dict[str, str] = {}
    for env_from in container.get("envFrom") or []:
        prefix = str(env_from.get("prefix") or "")
        if "configMapRef" in env_from:
            ref = env_from["configMapRef"]
            config_map = source.config_map(namespace, ref["name"])
            if config_map is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'configmap "{ref["name"]}" not found')
            values = dict(config_map.get("data") or {})
        elif "secretRef" in env_from:
            ref = env_from["secretRef"]
            secret = source.secret(namespace, ref["name"])
            if secret is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'secret "{ref["name"]}" not found')
            values = {k: secret_value(v) for k, v in (secret.get("data") or {}).items()}
        else:
            continue
        for key, value in values.items():
            if key and "=" not in prefix + key:
                defined[prefix + key] = str(value)
    for item in container.get("env") or []:
        name = item["name"]
        value_from = item.get("valueFrom")
        if value_from is None:
            defined[name] = expand(str(item.get("value") or ""), defined, service_env)
            continue
        value = _value_from(pod, container, value_from, source, node_allocatable)
        if value is not None:
            defined[name] = value
    return {**{k: v for k, v in service_env.items() if k not in defined}, **defined}


def _value_from(
    pod: JsonObject,
    container: JsonObject,
    value_from: JsonObject,
    source: ObjectSource,
    node_allocatable: Mapping[str, str],
) -> str | None:
    namespace = pod["metadata"]["namespace"]
    if "fieldRef" in value_from:
        return field_value(pod, value_from["fieldRef"]["fieldPath"])
    if "resourceFieldRef" in value_from:
        ref = value_from["resourceFieldRef"]
        return resource_value(
            pod,
            ref.get("containerName") or container["name"],
            ref["resource"],
            ref.get("divisor"),
            node_allocatable,
        )
    if "configMapKeyRef" in value_from:
        ref = value_from["configMapKeyRef"]
        config_map = source.config_map(namespace, ref["name"])
        if config_map is None:
            if ref.get("optional"):
                return None
            raise ConfigError(f'configmap "{ref["name"]}" not found')
        data = config_map.get("data") or {}
        if ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise ConfigError(
                f"couldn't find key {ref['key']} in ConfigMap {namespace}/{ref['name']}"
            )
        return str(data[ref["key"]])
    if "secretKeyRef" in value_from:
        ref = value_from["secretKeyRef"]
        secret = source.secret(namespace, ref["name"])
        if secret is None:
            if ref.get("optional"):
                return None
            raise ConfigError(f'secret "{ref["name"]}" not found')
        data = secret.get("data") or {}
        if ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise ConfigError(f"couldn't find key {ref['key']} in Secret {namespace}/{ref['name']}")
        return secret_value(data[ref["key"]])
    raise ConfigError(f"unsupported valueFrom: {sorted(value_from)}")


def service_env(host: str, port: int) -> dict[str, str]:
    """The ``kubernetes`` Service's variables, pointing at the real API server (the Service's
    ClusterIP is not routable here), so in-cluster clients in pods work."""
    return {
        "KUBERNETES_SERVICE_HOST": host,
        "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        "KUBERNETES_PORT": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP": f"tcp://{host}:{port}",
        f"KUBERNETES_PORT_{port}_TCP_PROTO": "tcp",
        f"KUBERNETES_PORT_{port}_TCP_PORT": str(port),
        f"KUBERNETES_PORT_{port}_TCP_ADDR": host,
    }


def process_env(
    base: Mapping[str, str], path_first: str, pod_name: str, defined: Mapping[str, str]
) -> dict[str, str]:
    """The process's whole environment: a few of the kubelet's own variables stand in for the
    image's, ``path_first`` (the venv's bin) leads PATH, and the pod's variables override all."""
    env = {key: base[key] for key in INHERITED_ENV if key in base}
    host_path = base.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env["PATH"] = f"{path_first}:{host_path}" if path_first else host_path
    env["HOSTNAME"] = pod_name
    env.update(defined)
    return env


INHERITED_ENV: Final = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME")
"""The kubelet's own variables a container gets, in place of an image's ENV."""
