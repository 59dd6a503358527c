"""`kconnect lint`: worker and connector configs checked offline, with the REST API's messages.

What it reads:
- a connector `.properties` or `.json` file, as `kconnect standalone` takes it;
- a worker `.properties` file (a `.properties` file without `connector.class`), or the one named
  by `--worker`, whose settings (converters, `file.connectors.enable`, override policy) the
  connector files are then checked against;
- a YAML file of `KafkaConnector`, `KConnectCluster` and `StandaloneConnect` resources (several
  documents; other kinds are skipped). A KafkaConnector that names a KConnectCluster
  (`spec.cluster`) is checked against that cluster's worker config when the same file holds it,
  else against a default one. A resource's `config` and `workerConfig` values may be YAML numbers
  and booleans, turned into text as the operator does (`kconnect.config.values`); the connector's
  `name`, `connector.class` and `tasks.max` come from the resource's fields, and the keys the
  operator manages are filled in, so its worker config is checked as the operator would run it.

A connector config is checked by `kconnect.herder.validation.validate_config`, the code behind
`PUT /connector-plugins/{p}/config/validate`, so each error is the endpoint's message on the same
key. Nothing here contacts Kafka or any other service.

Secrets: config provider variables (`${file:...}`, `${env:...}`) are never resolved. The worker's
`config.providers` are left out of what the checks see, so a variable stays as written (as Kafka
Connect leaves one whose provider is not configured), and an error on a key whose value holds
one is reported as a note, not an error: its value is only known where the worker runs. Values
are never printed, only keys and the checks' messages, which quote the value as written.

Exit codes: 0 when every config is valid, 1 when one is not, 2 for a usage error or an input
that cannot be read (a missing file, malformed YAML, JSON or `.properties`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

import yaml

from kconnect.api.types import JsonValue
from kconnect.cli.common import plugin_registry, worker_config_errors
from kconnect.cli.files import read_connector_config, read_properties
from kconnect.config.providers import PROVIDERS_KEY, VARIABLE
from kconnect.config.values import config_map_text
from kconnect.config.worker import DistributedConfig, StandaloneConfig, WorkerConfig
from kconnect.errors import ConfigError
from kconnect.herder.validation import validate_config

EXIT_OK: Final = 0
EXIT_INVALID: Final = 1
EXIT_UNREADABLE: Final = 2

GROUP: Final = "kconnect.io"
KAFKA_CONNECTOR: Final = "KafkaConnector"
STANDALONE_CONNECT: Final = "StandaloneConnect"
KCONNECT_CLUSTER: Final = "KConnectCluster"
RESOURCE_KEYS: Final = {
    "name": "metadata.name",
    "connector.class": "spec.class",
    "tasks.max": "spec.tasksMax",
}
"""Connector keys a resource sets from its own fields (the CRD refuses them in `config`)."""
STANDALONE_RESOURCE_KEYS: Final = {
    "name": "name",
    "connector.class": "class",
    "tasks.max": "tasksMax",
}

PLACEHOLDER_BOOTSTRAP: Final = "localhost:9092"
"""What a worker config without `bootstrap.servers` is checked with: lint never connects."""


class UnreadableInput(ConfigError):
    """An input that cannot be read or parsed at all: exit code 2."""


@dataclass(frozen=True)
class Finding:
    key: str
    message: str

    def to_json(self) -> dict[str, JsonValue]:
        return {"key": self.key, "message": self.message}


@dataclass
class Result:
    """What lint found in one config: a connector's or a worker's."""

    source: str
    """The file, and for a resource its kind and name: `app.yaml: KafkaConnector users`."""
    kind: str
    """`connector` or `worker`."""
    name: str | None = None
    plugin: str | None = None
    errors: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "source": self.source,
            "kind": self.kind,
            "name": self.name,
            "plugin": self.plugin,
            "valid": not self.errors,
            "error_count": len(self.errors),
            "errors": [e.to_json() for e in self.errors],
            "notes": [n.to_json() for n in self.notes],
        }


@dataclass(frozen=True)
class Target:
    """One connector config to check, and the worker config it runs under."""

    source: str
    config: dict[str, str]
    worker_props: dict[str, str]
    worker_model: type[WorkerConfig]
    exactly_once: bool = False


# --- the checks


def _without_providers(props: Mapping[str, str]) -> dict[str, str]:
    """`props` less its config providers: variables then stay as written, unresolved."""
    return {k: v for k, v in props.items() if not k.startswith(PROVIDERS_KEY)}


def _has_variable(value: str | None) -> bool:
    return value is not None and VARIABLE.search(value) is not None


def _split(
    findings: list[Finding], written: Mapping[str, str]
) -> tuple[list[Finding], list[Finding]]:
    """(errors, notes): an error on a key whose value holds a config provider variable is a
    note, since the value it stands for is only known where the worker runs."""
    errors: list[Finding] = []
    notes: list[Finding] = []
    for f in findings:
        if _has_variable(written.get(f.key)):
            notes.append(
                Finding(
                    f.key,
                    "not checked: its value holds a config provider variable, resolved only by "
                    "the worker",
                )
            )
        else:
            errors.append(f)
    return errors, notes


def lint_connector(target: Target) -> Result:
    """The REST validate endpoint's errors for `target.config`, key by key."""
    worker_props = _without_providers(target.worker_props)
    try:
        worker = target.worker_model.model_validate(worker_props)
    except ValueError:
        worker = target.worker_model.model_construct()
    registry = plugin_registry(worker)
    infos = validate_config(
        registry, worker_props, target.config, exactly_once_enabled=target.exactly_once
    )
    found = [Finding(c.value.name, e) for c in infos.configs for e in c.value.errors]
    errors, notes = _split(found, target.config)
    return Result(
        source=target.source,
        kind="connector",
        name=target.config.get("name"),
        plugin=infos.name or None,
        errors=errors,
        notes=notes,
    )


def lint_worker(source: str, props: Mapping[str, str], model: type[WorkerConfig]) -> Result:
    checked = _without_providers(props)
    found = [Finding(k, m) for k, m in worker_config_errors(model, checked)]
    errors, notes = _split(found, props)
    mode = "standalone" if model is StandaloneConfig else "distributed"
    return Result(source=source, kind="worker", name=mode, errors=errors, notes=notes)


def _exactly_once(model: type[WorkerConfig], props: Mapping[str, str]) -> bool:
    """The worker delivers sources exactly once (as its herder tells the validation)."""
    if model is not DistributedConfig:
        return False
    try:
        return DistributedConfig.model_validate(
            _without_providers(props)
        ).exactly_once_source_enabled
    except ValueError:
        return False


def worker_model(props: Mapping[str, str]) -> type[WorkerConfig]:
    """Distributed when the file names a group, else standalone (as the two scripts take)."""
    return DistributedConfig if "group.id" in props else StandaloneConfig


# --- reading the inputs


def _read_yaml(path: str) -> list[object]:
    try:
        with open(path, encoding="utf-8") as f:
            return [doc for doc in yaml.safe_load_all(f) if doc is not None]
    except FileNotFoundError:
        raise UnreadableInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UnreadableInput(f"{path}: is a directory, expected a config file") from None
    except UnicodeDecodeError as e:
        raise UnreadableInput(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise UnreadableInput(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise UnreadableInput(f"{path}: not valid YAML{where}: {problem}") from None


def _mapping(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object")
    return value


def _tasks_max(value: object, where: str) -> str:
    if value is None:
        return "1"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected an integer of at least 1, got {value!r}")
    return str(value)


def _connector_config(
    raw: object, where: str, name: str, cls: object, tasks_max: object, keys: Mapping[str, str]
) -> dict[str, str]:
    config = config_map_text(raw, f"{where}.config")
    present = [k for k in keys if k in config]
    if present:
        raise ConfigError(
            f"{where}.config must not contain {', '.join(repr(k) for k in present)}: set "
            + ", ".join(keys[k] for k in present)
            + " instead"
        )
    if not isinstance(cls, str) or not cls:
        raise ConfigError(f"{where}.class: expected the connector class, got {cls!r}")
    return {
        **config,
        "name": name,
        "connector.class": cls,
        "tasks.max": _tasks_max(tasks_max, f"{where}.tasksMax"),
    }


def _distributed_worker(spec: Mapping[str, Any], base: str) -> dict[str, str]:
    """The worker properties of a distributed cluster's spec (a dedicated KafkaConnector's or a
    KConnectCluster's), with the keys the operator manages; `base` is the default group id."""
    worker = config_map_text(spec.get("workerConfig"), "spec.workerConfig")
    bootstrap = spec.get("bootstrapServers")
    worker["bootstrap.servers"] = bootstrap if isinstance(bootstrap, str) else PLACEHOLDER_BOOTSTRAP
    worker.setdefault("group.id", spec.get("groupId") or base)
    for key, field_name, suffix in (
        ("config.storage.topic", "configStorageTopic", "configs"),
        ("offset.storage.topic", "offsetStorageTopic", "offsets"),
        ("status.storage.topic", "statusStorageTopic", "status"),
    ):
        worker.setdefault(key, spec.get(field_name) or f"{base}.{suffix}")
    return worker


def _resource_targets(
    doc: dict[str, Any],
    path: str,
    index: int,
    clusters: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> tuple[str, list[Target], dict[str, str] | None, type[WorkerConfig]]:
    """(source, connector targets, worker props, worker model) of one resource; the worker
    props are None for a KafkaConnector on a KConnectCluster (`clusters`: the file's, by
    namespace and name), whose worker config is the cluster's."""
    kind = doc.get("kind")
    meta = _mapping(doc.get("metadata"), "metadata")
    name = meta.get("name")
    source = f"{path}: {kind} {name if isinstance(name, str) else f'#{index + 1}'}"
    spec = _mapping(doc.get("spec"), "spec")
    namespace = meta.get("namespace") or "default"
    targets: list[Target] = []
    if kind == KCONNECT_CLUSTER:
        if not isinstance(name, str) or not name:
            raise ConfigError("metadata.name: expected the resource's name")
        worker = _distributed_worker(spec, f"kconnect-cluster.{namespace}.{name}")
        return source, [], worker, DistributedConfig
    if kind == KAFKA_CONNECTOR:
        if not isinstance(name, str) or not name:
            raise ConfigError("metadata.name: expected the resource's name")
        cluster = spec.get("cluster")
        own: dict[str, str] | None
        if isinstance(cluster, str) and cluster:
            cluster_spec = (clusters or {}).get((namespace, cluster)) or {}
            worker = _distributed_worker(cluster_spec, f"kconnect-cluster.{namespace}.{cluster}")
            exactly_once = cluster_spec.get("exactlyOnce") is True
            own = None
        else:
            worker = _distributed_worker(spec, f"kconnect.{namespace}.{name}")
            exactly_once = spec.get("exactlyOnce") is True
            own = worker
        config = _connector_config(
            spec.get("config"), "spec", name, spec.get("class"), spec.get("tasksMax"), RESOURCE_KEYS
        )
        model: type[WorkerConfig] = DistributedConfig
        targets.append(Target(source, config, worker, model, exactly_once))
        return source, targets, own, model
    worker = config_map_text(spec.get("workerConfig"), "spec.workerConfig")
    bootstrap = spec.get("bootstrapServers")
    worker["bootstrap.servers"] = bootstrap if isinstance(bootstrap, str) else PLACEHOLDER_BOOTSTRAP
    worker.setdefault("offset.storage.file.filename", "/var/lib/kconnect/offsets")
    model = StandaloneConfig
    connectors = spec.get("connectors") or []
    if not isinstance(connectors, list):
        raise ConfigError("spec.connectors: expected a list")
    for i, item in enumerate(connectors):
        entry = _mapping(item, f"spec.connectors[{i}]")
        cname = entry.get("name")
        if not isinstance(cname, str) or not cname:
            raise ConfigError(f"spec.connectors[{i}].name: expected the connector's name")
        config = _connector_config(
            entry.get("config"),
            f"spec.connectors[{i}]",
            cname,
            entry.get("class"),
            entry.get("tasksMax"),
            STANDALONE_RESOURCE_KEYS,
        )
        targets.append(Target(source, config, worker, model))
    return source, targets, worker, model


def _resources(path: str) -> list[tuple[int, dict[str, Any]]]:
    """The kconnect.io resources of a YAML file, with their document index."""
    found: list[tuple[int, dict[str, Any]]] = []
    for index, doc in enumerate(_read_yaml(path)):
        if not isinstance(doc, dict):
            raise UnreadableInput(f"{path}: document {index + 1} is not a YAML mapping")
        api_version = str(doc.get("apiVersion", ""))
        kinds = (KAFKA_CONNECTOR, STANDALONE_CONNECT, KCONNECT_CLUSTER)
        if doc.get("kind") in kinds and api_version.startswith(GROUP + "/"):
            found.append((index, doc))
    if not found:
        raise UnreadableInput(
            f"{path}: holds no {KAFKA_CONNECTOR}, {KCONNECT_CLUSTER} or {STANDALONE_CONNECT} "
            "resource "
            f"(apiVersion {GROUP}/...)"
        )
    return found


def _clusters(resources: list[tuple[int, dict[str, Any]]]) -> dict[tuple[str, str], Any]:
    """The KConnectClusters' specs among `resources`, by namespace and name."""
    found: dict[tuple[str, str], Any] = {}
    for _, doc in resources:
        meta = doc.get("metadata")
        if doc.get("kind") == KCONNECT_CLUSTER and isinstance(meta, dict):
            namespace = meta.get("namespace") or "default"
            found[(str(namespace), str(meta.get("name")))] = doc.get("spec") or {}
    return found


def manifest_targets(path: str) -> list[Target]:
    """Every connector of the resources in `path`; a ConfigError names a spec lint refuses."""
    targets: list[Target] = []
    resources = _resources(path)
    clusters = _clusters(resources)
    for index, doc in resources:
        targets += _resource_targets(doc, path, index, clusters)[1]
    return targets


def _manifest_results(path: str) -> Iterator[Result]:
    resources = _resources(path)
    clusters = _clusters(resources)
    for index, doc in resources:
        try:
            source, targets, worker, model = _resource_targets(doc, path, index, clusters)
        except ConfigError as e:
            name = _mapping(doc.get("metadata"), "metadata").get("name")
            where = f"{path}: {doc.get('kind')} {name}"
            yield Result(where, "resource", str(name), errors=[Finding("spec", str(e))])
            continue
        if worker is not None:
            yield lint_worker(source, worker, model)
        for target in targets:
            yield lint_connector(target)


def read_config(path: str) -> dict[str, str]:
    try:
        if path.endswith(".json"):
            return read_connector_config(path)
        return read_properties(path)
    except ConfigError as e:
        raise UnreadableInput(str(e)) from None


def lint_paths(paths: list[str], worker_path: str | None) -> list[Result]:
    """Every config in `paths`; UnreadableInput for the first input that cannot be read."""
    results: list[Result] = []
    worker_props: dict[str, str] = {"bootstrap.servers": PLACEHOLDER_BOOTSTRAP}
    model: type[WorkerConfig] = StandaloneConfig
    exactly_once = False
    if worker_path is not None:
        worker_props = read_config(worker_path)
        model = worker_model(worker_props)
        results.append(lint_worker(worker_path, worker_props, model))
        exactly_once = _exactly_once(model, worker_props)
    names: dict[str, str] = {}
    for path in paths:
        if path.endswith((".yaml", ".yml")):
            results.extend(_manifest_results(path))
            continue
        config = read_config(path)
        if "connector.class" not in config and not path.endswith(".json"):
            results.append(lint_worker(path, config, worker_model(config)))
            continue
        result = lint_connector(Target(path, config, worker_props, model, exactly_once))
        name = config.get("name")
        if name is not None and name in names:
            result.errors.append(
                Finding("name", f"connector name {name!r} is already used by {names[name]}")
            )
        if name is not None:
            names.setdefault(name, path)
        results.append(result)
    return results


# --- output


def render_text(results: list[Result], out: TextIO) -> None:
    for r in results:
        if r.kind == "worker":
            what = f"worker ({r.name})"
        else:
            what = r.kind if r.name is None else f"{r.kind} {r.name!r}"
        if r.plugin:
            what += f" ({r.plugin})"
        verdict = "ok" if not r.errors else f"{len(r.errors)} error(s)"
        print(f"{r.source}: {what}: {verdict}", file=out)
        for e in r.errors:
            print(f"  error: {e.key}: {e.message}", file=out)
        for n in r.notes:
            print(f"  note: {n.key}: {n.message}", file=out)
    invalid = sum(1 for r in results if r.errors)
    print(
        f"{len(results)} config(s) checked, {invalid} invalid"
        if invalid
        else f"{len(results)} config(s) checked, all valid",
        file=out,
    )


def render_json(results: list[Result], out: TextIO) -> None:
    doc = {
        "valid": not any(r.errors for r in results),
        "error_count": sum(len(r.errors) for r in results),
        "results": [r.to_json() for r in results],
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


def run_lint(paths: list[str], worker_path: str | None, output: str) -> int:
    try:
        results = lint_paths(paths, worker_path)
    except UnreadableInput as e:
        print(f"kconnect lint: error: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    (render_json if output == "json" else render_text)(results, sys.stdout)
    return EXIT_INVALID if any(r.errors for r in results) else EXIT_OK
