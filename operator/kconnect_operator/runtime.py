"""The operator's shared clients, and the handler steps both kinds take with them.

`handlers` (KafkaConnector) and `standalone_handlers` (StandaloneConnect) differ in what they
decide, not in how they talk to the API server and the workers: this module holds that common
shell. It does I/O, so it is not part of the pure core.

A resource's loop (`run_loop`) wakes on its event or after its interval, whichever comes first,
and never runs two passes closer than `MIN_GAP_S`; one failed pass is logged and counted, and the
loop goes on. The loop removes its wake-up event when it ends, unless a newer loop replaced it.

Ownership (`claim`): each install names itself (`OperatorOptions.instance`) and claims a resource
before it acts on it, by setting the annotation `kconnect.io/operator` with a compare-and-swap
(the patch carries the resourceVersion read). A resource claimed by another install is left
alone, with a Warning Event, so two installs never fight over one resource; removing the
annotation hands it to whichever install claims it next.

Log levels (`sync_loggers`) are a per-worker setting, not a cluster one: each ready worker is read
and set on its own, and a worker that does not answer leaves the others unaffected; the removed
loggers it still has are reset on a later pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import aiohttp
import kopf
from pydantic import BaseModel, ValidationError

from kconnect.errors import ConfigError
from kconnect_operator import metrics, reconcile
from kconnect_operator.builders import CONFIG_HASH_ANNOTATION
from kconnect_operator.connect import ConnectClient, ConnectError
from kconnect_operator.kube import Kube, KubeError, object_path
from kconnect_operator.models import GROUP, VERSION, LogLevel
from kconnect_operator.options import OperatorOptions

OPERATOR_ANNOTATION: Final = "kconnect.io/operator"
"""The install that reconciles a resource (`OperatorOptions.instance`)."""
NOT_READY_INTERVAL_S: Final = 2.0
"""How often a resource that is not Ready is looked at, without an event."""
MIN_GAP_S: Final = 0.5
"""The shortest pause between two passes of one resource: a burst of events makes one pass."""


@dataclass
class Runtime:
    """The operator's shared clients, created at startup and closed at cleanup."""

    options: OperatorOptions
    kube: Kube
    http: aiohttp.ClientSession
    wakeups: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)

    def wake(self, namespace: str, name: str) -> None:
        event = self.wakeups.get((namespace, name))
        if event is not None:
            event.set()


def runtime_of(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime


M = TypeVar("M", bound=BaseModel)


def parse_spec(model: type[M], body: Mapping[str, Any]) -> M:
    """The resource's spec, or a PermanentError naming what is wrong (the CRD admits little that
    fails)."""
    try:
        return model.model_validate(dict(body.get("spec") or {}))
    except ValidationError as e:
        raise kopf.PermanentError(f"invalid spec: {validation_message(e)}") from e


def stored_status(model: type[M], body: Mapping[str, Any]) -> M | None:
    """The status the resource holds, read with `model`; None when absent or unreadable."""
    raw = body.get("status")
    if not raw:
        return None
    keys = reconcile.status_keys(model)
    try:
        return model.model_validate({k: v for k, v in dict(raw).items() if k in keys})
    except ValidationError:
        return None


def resource_path(kind: str, body: Mapping[str, Any]) -> str:
    """The API path of the kconnect.io resource `body` (of `kind`)."""
    meta = body["metadata"]
    return object_path(f"{GROUP}/{VERSION}", kind, meta["namespace"], meta["name"])


def validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"spec.{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
    )


async def set_status(
    runtime: Runtime, body: Mapping[str, Any], resource_path: str, status: BaseModel
) -> None:
    """Patch the resource's status to `status`, unless it already is."""
    patch = reconcile.status_patch(status, body.get("status"))
    if patch is not None:
        await runtime.kube.merge_patch(resource_path + "/status", patch)


def claimant(body: Mapping[str, Any]) -> str | None:
    """The install that claimed the resource, if any."""
    annotations = body.get("metadata", {}).get("annotations") or {}
    value = annotations.get(OPERATOR_ANNOTATION)
    return str(value) if value else None


async def claim(runtime: Runtime, kind: str, body: Mapping[str, Any]) -> str | None:
    """Claim the resource for this install: None when it is (now) this install's, else the other
    install that holds it. The claim is a compare-and-swap on the resourceVersion, so of two
    installs claiming at once one wins; the loser reads the winner back."""
    me = runtime.options.instance
    current: Mapping[str, Any] | None = body
    for _ in range(3):
        if current is None:
            return None  # gone: nothing to fight over
        holder = claimant(current)
        if holder is not None:
            return None if holder == me else holder
        meta = current["metadata"]
        patch = {
            "metadata": {
                "resourceVersion": meta["resourceVersion"],
                "annotations": {OPERATOR_ANNOTATION: me},
            }
        }
        try:
            await runtime.kube.merge_patch(resource_path(kind, current), patch)
        except KubeError as e:
            if e.status != 409:
                raise
            current = await runtime.kube.get(resource_path(kind, current))
            continue
        return None
    raise KubeError(409, f"could not claim {kind} {body['metadata']['name']}: it keeps changing")


def refuse(body: kopf.Body, kind: str, holder: str, me: str) -> None:
    """The Warning Event of a resource another install reconciles."""
    kopf.warn(
        body,
        reason="OwnedByAnotherOperator",
        message=(
            f"this {kind} is reconciled by the operator install {holder!r} "
            f"(annotation {OPERATOR_ANNOTATION}); the install {me!r} leaves it alone. "
            f"Remove the annotation to hand it over."
        ),
    )


async def secret_versions(runtime: Runtime, namespace: str, names: list[str]) -> dict[str, str]:
    """The resourceVersions of the named Secrets that exist."""
    versions: dict[str, str] = {}
    for secret in names:
        found = await runtime.kube.get(object_path("v1", "Secret", namespace, secret))
        if found is not None:
            versions[secret] = found["metadata"]["resourceVersion"]
    return versions


async def apply_and_count(
    runtime: Runtime, kind: str, apply: Callable[[], Awaitable[None]]
) -> None:
    """Apply the children, counting the result; an API error is retried by kopf."""
    try:
        await apply()
    except KubeError as e:
        metrics.RECONCILES.inc(kind=kind, result="error")
        raise kopf.TemporaryError(f"applying the children: {e}", delay=5) from e
    metrics.RECONCILES.inc(kind=kind, result="ok")


async def roll_if_secrets_changed(
    runtime: Runtime,
    workload_path: str,
    desired_hash: Callable[[Mapping[str, str]], str],
    secrets: Sequence[str],
    apply: Callable[[], Awaitable[None]],
    logger: kopf.Logger,
) -> bool:
    """Apply the children (and so roll the pods) when the referenced `secrets`, read by name,
    no longer match the config hash on the pod template of the workload at `workload_path`.
    Nothing is read when no Secret is referenced; a workload not there yet is `apply`'s to make,
    and a spec the builders refuse is reported by `apply` on its own path. True when applied."""
    if not secrets:
        return False
    versions = await secret_versions(runtime, namespace_of(workload_path), list(secrets))
    try:
        desired = desired_hash(versions)
    except ConfigError:
        return False
    workload = await runtime.kube.get(workload_path)
    if workload is None:
        return False
    template = workload.get("spec", {}).get("template", {}).get("metadata", {})
    if (template.get("annotations") or {}).get(CONFIG_HASH_ANNOTATION) == desired:
        return False
    logger.info("a referenced Secret changed: applying the children")
    await apply()
    return True


def namespace_of(path: str) -> str:
    """The namespace of a namespaced object's API path."""
    parts = path.split("/")
    return parts[parts.index("namespaces") + 1]


def connect_client(runtime: Runtime, urls: Sequence[str]) -> ConnectClient:
    """A REST client for the given workers, counting its responses."""
    return ConnectClient(
        runtime.http,
        list(urls),
        timeout_s=runtime.options.rest_timeout_s,
        on_response=lambda method, code: metrics.REST_REQUESTS.inc(method=method, code=str(code)),
    )


@dataclass(frozen=True, slots=True)
class LoggerSync:
    """What one pass over the workers' log levels did."""

    applied: list[str] | None
    """The loggers to remember as applied (`reconcile.applied_loggers`)."""
    changed: tuple[str, ...] = ()
    """`logger=LEVEL` for each level set, on any worker."""
    workers_changed: int = 0
    failures: tuple[str, ...] = ()
    """`<pod>: <why>` for each worker that could not be read or set."""


async def sync_loggers(
    runtime: Runtime,
    workers: Sequence[reconcile.Worker],
    wanted: Mapping[str, LogLevel],
    previous: Collection[str],
) -> LoggerSync:
    """Bring every ready worker's log levels to the spec's: read `GET /admin/loggers` (and
    `GET /admin/loggers/{name}` for a target the listing leaves out), then send only the PUTs
    `reconcile.logger_changes` decides. Nothing is requested when the spec names no logger and
    none is left to reset."""
    targets = reconcile.logger_targets(wanted, previous)
    changed: set[str] = set()
    workers_changed = 0
    failures: list[str] = []
    for worker in workers if targets else ():
        client = connect_client(runtime, [worker.url])
        try:
            listed = await client.loggers()
            observed: dict[str, str | None] = {}
            for name in targets:
                observed[name] = listed.get(name)
                if observed[name] is None:
                    observed[name] = await client.logger(name)
            changes = reconcile.logger_changes(targets, observed)
            for name, level in changes:
                await client.set_logger(name, level.value)
                changed.add(f"{name}={level.value}")
        except ConnectError as e:
            failures.append(f"{worker.pod}: {e.message}")
        else:
            workers_changed += 1 if changes else 0
    synced = bool(workers) and not failures
    return LoggerSync(
        applied=reconcile.applied_loggers(wanted, previous, synced=synced),
        changed=tuple(sorted(changed)),
        workers_changed=workers_changed,
        failures=tuple(failures),
    )


async def sync_and_report_loggers(
    runtime: Runtime,
    body: kopf.Body,
    workers: Sequence[reconcile.Worker],
    wanted: Mapping[str, LogLevel],
    previous_applied: Collection[str] | None,
    logger: kopf.Logger,
) -> LoggerSync:
    """`sync_loggers` against the loggers the status remembers as applied (none when it remembers
    none), then `report_loggers`."""
    result = await sync_loggers(runtime, workers, wanted, previous_applied or [])
    report_loggers(body, result, logger)
    return result


def report_loggers(body: kopf.Body, result: LoggerSync, logger: kopf.Logger) -> None:
    """An Event for levels that were set, and a log line for workers that were not reached."""
    if result.changed:
        workers = "1 worker" if result.workers_changed == 1 else f"{result.workers_changed} workers"
        message = f"log levels set on {workers}: {', '.join(result.changed)}"
        kopf.event(body, type="Normal", reason="LogLevelsSet", message=message)
        logger.info(message)
    for failure in result.failures:
        logger.warning("setting log levels: %s", failure)


async def run_loop(
    runtime: Runtime,
    key: tuple[str, str],
    stopped: kopf.DaemonStopped,
    one_pass: Callable[[], Awaitable[bool]],
    *,
    kind: str,
    name: str,
    what: str,
    logger: kopf.Logger,
) -> None:
    """Run `one_pass` (True when the resource is Ready) until `stopped`, on wake-ups under `key`
    and every `sync_interval_s` (every `NOT_READY_INTERVAL_S` while not Ready)."""
    wake = runtime.wakeups.setdefault(key, asyncio.Event())
    ready = False
    try:
        while not stopped:
            wake.clear()
            try:
                ready = await one_pass()
                metrics.RECONCILES.inc(kind=kind, result="ok")
            except (KubeError, ConnectError, kopf.PermanentError) as e:
                metrics.RECONCILES.inc(kind=kind, result="error")
                logger.warning("syncing %s: %s", what, e)
            metrics.RESOURCE_SYNCS.inc(kind=kind, namespace=key[0], name=name)
            interval = (
                runtime.options.sync_interval_s
                if ready
                else min(NOT_READY_INTERVAL_S, runtime.options.sync_interval_s)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
            await asyncio.sleep(MIN_GAP_S)
    finally:
        if runtime.wakeups.get(key) is wake:
            del runtime.wakeups[key]
        metrics.RESOURCE_SYNCS.remove(kind=kind, namespace=key[0], name=name)
