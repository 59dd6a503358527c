"""The kopf handlers of `StandaloneConnect`, registered on `handlers.registry`.

Thin, as `handlers` is: they read the resource, call `standalone_builders` and
`standalone_reconcile`, and carry out the result through `kube` and `connect`.

Two loops per resource:
- **Children** (`apply_standalone_children`): on create, on every spec change, on operator start,
  and when a referenced Secret changed (read by name in each status pass, as for a
  KafkaConnector), every child is server-side applied. A change to any file
  the worker reads (or to a referenced Secret) changes the pod template's hash, and the
  StatefulSet rolls the pod; nothing else does.
- **Status** (`standalone_loop`, a kopf daemon): it finds the ready worker pod, reads
  `GET /connectors?expand=status` from it, sets its log levels where they differ from
  `spec.logging.loggers` (remembered in `status.appliedLoggers`, as for a KafkaConnector), and
  writes the status only when it changed. It runs every `sync_interval_s` (every 2 s while not
  Ready) and at once when the resource or its pod changes.

The wake-up keys share `Runtime.wakeups` with KafkaConnectors; the name part is
`standaloneconnect/<name>`, which no Kubernetes name can be, so the two kinds never wake each
other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import kopf

from kconnect.errors import ConfigError
from kconnect_operator import builders, reconcile
from kconnect_operator import standalone_builders as sb
from kconnect_operator import standalone_reconcile as sr
from kconnect_operator.connect import ConnectError
from kconnect_operator.handlers import registry
from kconnect_operator.kube import collection_path, object_path
from kconnect_operator.models import GROUP, READY, VERSION
from kconnect_operator.runtime import (
    Runtime,
    apply_and_count,
    claim,
    connect_client,
    parse_spec,
    refuse,
    resource_path,
    roll_if_secrets_changed,
    run_loop,
    runtime_of,
    secret_versions,
    set_status,
    stored_status,
    sync_and_report_loggers,
)
from kconnect_operator.standalone_models import (
    KIND,
    PLURAL,
    StandaloneConnectSpec,
    StandaloneConnectStatus,
)

RESOURCE: Final = (GROUP, VERSION, PLURAL)


def wake_key(name: str) -> str:
    return f"{PLURAL.removesuffix('s')}/{name}"


def _owner(body: Mapping[str, Any]) -> sb.Owner:
    meta = body["metadata"]
    return sb.Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


async def _desired_hash(runtime: Runtime, spec: StandaloneConnectSpec, owner: sb.Owner) -> str:
    versions = await secret_versions(runtime, owner.namespace, builders.referenced_secrets(spec))
    return sb.config_hash(spec, owner, versions)


async def _apply_children(runtime: Runtime, body: kopf.Body) -> None:
    spec = parse_spec(StandaloneConnectSpec, body)
    owner = _owner(body)
    try:
        children = sb.build_children(
            spec,
            owner,
            image=runtime.options.image,
            secret_versions=await secret_versions(
                runtime, owner.namespace, builders.referenced_secrets(spec)
            ),
            operator_namespace=runtime.options.operator_namespace,
            operator_labels=runtime.options.operator_labels,
        )
    except ConfigError as e:
        message = str(e)
        kopf.warn(body, reason="InvalidConfig", message=message)
        obs = sr.Observation(
            generation=body["metadata"].get("generation"),
            workers_ready=0,
            current=False,
            connectors=None,
            config_error=message,
        )
        previous = stored_status(StandaloneConnectStatus, body)
        status = sr.build_status(
            spec,
            obs,
            previous=previous,
            now=datetime.now(UTC),
            applied=previous.applied_loggers if previous else None,
        )
        await set_status(runtime, body, resource_path(KIND, body), status)
        raise kopf.PermanentError(str(e)) from e
    for child in children:
        await runtime.kube.apply(child)


@kopf.on.resume(*RESOURCE, registry=registry)
@kopf.on.create(*RESOURCE, registry=registry)
@kopf.on.update(*RESOURCE, registry=registry, field="spec")
async def apply_standalone_children(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime = runtime_of(memo)
    holder = await claim(runtime, KIND, body)
    if holder is not None:
        refuse(body, KIND, holder, runtime.options.instance)
        return
    await apply_and_count(runtime, KIND, lambda: _apply_children(runtime, body))
    meta = body["metadata"]
    runtime.wake(meta["namespace"], wake_key(meta["name"]))


@kopf.on.event(*RESOURCE, registry=registry)
async def standalone_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(namespace or "", wake_key(name))


@kopf.on.event(
    "",
    "v1",
    "pods",
    registry=registry,
    labels={
        "app.kubernetes.io/managed-by": builders.MANAGED_BY,
        sb.SELECTOR_LABEL: kopf.PRESENT,
    },
)
async def standalone_pod_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    runtime_of(memo).wake(namespace or "", wake_key(labels[sb.SELECTOR_LABEL]))


@kopf.daemon(*RESOURCE, registry=registry, cancellation_timeout=2.0)
async def standalone_loop(
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    logger: kopf.Logger,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    runtime = runtime_of(memo)
    refused: list[str | None] = [None]
    await run_loop(
        runtime,
        (namespace or "", wake_key(name)),
        stopped,
        lambda: sync_standalone(runtime, body, logger, refused),
        kind=KIND,
        name=name,
        what="the status",
        logger=logger,
    )


async def sync_standalone(
    runtime: Runtime, body: kopf.Body, logger: kopf.Logger, refused: list[str | None]
) -> bool:
    """One pass: the worker pod, its connectors, the status. True when Ready. `refused` holds
    the other install that holds the resource, while one does."""
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return False
    holder = await claim(runtime, KIND, body)
    if holder is not None:
        if refused[0] != holder:
            refuse(body, KIND, holder, runtime.options.instance)
        refused[0] = holder
        return False
    if refused[0] is not None:
        refused[0] = None  # handed over: the children were never applied by this install
        await _apply_children(runtime, body)
    spec = parse_spec(StandaloneConnectSpec, body)
    owner = _owner(body)
    await roll_if_secrets_changed(
        runtime,
        object_path("apps/v1", "StatefulSet", owner.namespace, sb.child_name(owner)),
        lambda versions: sb.config_hash(spec, owner, versions),
        builders.referenced_secrets(spec),
        lambda: _apply_children(runtime, body),
        logger,
    )
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", owner.namespace),
        label_selector=builders.selector_string(owner),
    )
    workers = reconcile.ready_workers(pods, builders.REST_PORT)
    by_name = {p["metadata"]["name"]: p for p in pods}
    config_error: str | None = None
    try:
        desired = await _desired_hash(runtime, spec, owner)
    except ConfigError as e:
        desired, config_error = "", str(e)
    current = bool(workers) and all(
        sr.pod_config_hash(by_name[w.pod], builders.CONFIG_HASH_ANNOTATION) == desired
        for w in workers
    )
    connectors = None
    unreachable = None
    if workers:
        client = connect_client(runtime, [w.url for w in workers])
        try:
            connectors = sr.connector_statuses(await client.connectors_status())
        except ConnectError as e:
            unreachable = f"the worker's REST API: {e.message}"
            logger.info("standalone %s/%s: %s", owner.namespace, owner.name, unreachable)
    previous = stored_status(StandaloneConnectStatus, body)
    loggers = await sync_and_report_loggers(
        runtime,
        body,
        workers,
        spec.logging.loggers,
        previous.applied_loggers if previous else None,
        logger,
    )
    obs = sr.Observation(
        generation=meta.get("generation"),
        workers_ready=len(workers),
        current=current,
        connectors=connectors,
        config_error=config_error,
        unreachable=unreachable,
        worker_failure=sr.worker_failure(pods, builders.WORKER_CONTAINER),
    )
    status = sr.build_status(
        spec, obs, previous=previous, now=datetime.now(UTC), applied=loggers.applied
    )
    await set_status(runtime, body, resource_path(KIND, body), status)
    return any(c.type == READY and c.status == "True" for c in status.conditions)
