"""The kopf handlers of the operator, registered on `registry`.

Handlers are thin: they read the resource, call the pure functions of `builders` and `reconcile`,
and carry out the result through `kube` (the API server) and `connect` (the workers' REST API).

Two loops per KafkaConnector:
- **Children** (`apply_children`): on create, on every spec change, on operator start, and when a
  referenced Secret changed (seen by the connector loop, below), every child is server-side
  applied. Applying an unchanged child is a no-op on the API server, so this is idempotent; a
  changed worker config or Secret changes the pod template's hash and rolls the pods, and
  nothing else does.
- **The connector** (`connector_loop`, a kopf daemon): it finds the ready workers, makes their
  connector config and target state match the spec over REST, carries out restart annotations and
  auto-restarts, sets each worker's log levels where they differ from `spec.logging.loggers`, and
  writes the status when it changed. When the spec references Secrets, each pass also reads them
  by name (`get`, never `list` or `watch`) and applies the children when their versions no longer
  match the pod template's hash, so the operator needs no cluster-wide read access to Secrets.
  It runs every `sync_interval_s` (every 2 s while not Ready), and at once when the resource or
  one of its pods changes.

The loggers set from the spec are remembered in `status.appliedLoggers`, so that one removed from
the spec is reset on the workers once, and the workers' own loggers are never touched.

Failure handling: one resource's failure is logged, counted and retried on its own loop; it never
blocks another resource. A config the workers reject is not resent until it changes or the ready
workers run another worker config (their pods' config hash: a `workerConfig` change may make it
valid, e.g. allowing the file connectors); its message goes to the Ready condition (reason
InvalidConfig) and to a Warning Event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
import kopf

from kconnect.errors import ConfigError
from kconnect_operator import builders, cleanup, metrics, reconcile
from kconnect_operator.connect import ConnectClient, ConnectError
from kconnect_operator.kube import Kube, collection_path, load_credentials, object_path
from kconnect_operator.models import (
    GROUP,
    KIND,
    PLURAL,
    READY,
    VERSION,
    AutoRestartStatus,
    ConnectorStatus,
    DeletionPolicy,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    TargetState,
)
from kconnect_operator.options import OperatorOptions
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

registry = kopf.OperatorRegistry()

RESOURCE: Final = (GROUP, VERSION, PLURAL)
PREFIX: Final = "kconnect.io"
FINALIZER: Final = f"{PREFIX}/finalizer"
WORKERS_GONE_POLL_S: Final = 3.0


def _options(memo: Any) -> OperatorOptions:
    options = getattr(memo, "options", None)
    return options if isinstance(options, OperatorOptions) else OperatorOptions()


@kopf.on.startup(registry=registry)
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # Events are posted explicitly; handler logs stay logs.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    options = _options(memo)
    memo.runtime = Runtime(
        options=options,
        kube=Kube(load_credentials()),
        http=aiohttp.ClientSession(),
    )


@kopf.on.cleanup(registry=registry)
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is not None:
        await runtime.http.close()
        await runtime.kube.close()


# --- reading the resource


def _owner(body: Mapping[str, Any], sink_group: str | None = None) -> builders.Owner:
    meta = body["metadata"]
    recorded = (meta.get("annotations") or {}).get(builders.SINK_GROUP_ANNOTATION)
    return builders.Owner(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        sink_group=sink_group or recorded,
    )


LAST_HANDLED: Final = f"{PREFIX}/last-handled-configuration"


async def _record_sink_group(runtime: Runtime, body: kopf.Body) -> str:
    """The resource's recorded sink group, recorded now if it has none: a resource an earlier
    operator already handled (it has a status or kopf's last-handled record) keeps Kafka
    Connect's `connect-<name>` and its committed offsets; a new one gets its own group."""
    meta = body["metadata"]
    annotations = meta.get("annotations") or {}
    recorded = annotations.get(builders.SINK_GROUP_ANNOTATION)
    if recorded:
        return str(recorded)
    existed = bool(body.get("status")) or LAST_HANDLED in annotations
    group = builders.initial_sink_group(meta["namespace"], meta["name"], existed=existed)
    await runtime.kube.merge_patch(
        resource_path(KIND, body),
        {"metadata": {"annotations": {builders.SINK_GROUP_ANNOTATION: group}}},
    )
    return group


# --- children


async def _apply_children(runtime: Runtime, body: kopf.Body) -> None:
    spec = parse_spec(KafkaConnectorSpec, body)
    owner = _owner(body, await _record_sink_group(runtime, body))
    options = runtime.options
    try:
        children = builders.build_children(
            spec,
            owner,
            image=options.image,
            secret_versions=await secret_versions(
                runtime, owner.namespace, builders.referenced_secrets(spec)
            ),
            operator_namespace=options.operator_namespace,
            operator_labels=options.operator_labels,
        )
    except ConfigError as e:
        await _reject(runtime, body, spec, str(e))
        raise kopf.PermanentError(str(e)) from e
    for child in children:
        await runtime.kube.apply(child)


async def _reject(
    runtime: Runtime, body: kopf.Body, spec: KafkaConnectorSpec, message: str
) -> None:
    """Record a spec the operator cannot turn into workers: Ready=False, InvalidConfig."""
    kopf.warn(body, reason="InvalidConfig", message=message)
    previous = stored_status(KafkaConnectorStatus, body)
    status = reconcile.build_status(
        spec,
        reconcile.Observation(
            generation=body["metadata"].get("generation"),
            workers_ready=0,
            replicas=0,
            connector=None,
            config_error=message,
        ),
        selector=builders.selector_string(_owner(body)),
        previous=previous,
        auto_restart_status=None,
        now=datetime.now(UTC),
        applied=previous.applied_loggers if previous else None,
    )
    await set_status(runtime, body, resource_path(KIND, body), status)


@kopf.on.resume(*RESOURCE, registry=registry)
@kopf.on.create(*RESOURCE, registry=registry)
@kopf.on.update(*RESOURCE, registry=registry, field="spec")
async def apply_children(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime = runtime_of(memo)
    holder = await claim(runtime, KIND, body)
    if holder is not None:
        refuse(body, KIND, holder, runtime.options.instance)
        return
    await apply_and_count(runtime, KIND, lambda: _apply_children(runtime, body))
    runtime.wake(body["metadata"]["namespace"], body["metadata"]["name"])


# --- events that wake a connector's loop


@kopf.on.event(*RESOURCE, registry=registry)
async def resource_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    runtime_of(memo).wake(namespace or "", name)


@kopf.on.event(
    "",
    "v1",
    "pods",
    registry=registry,
    labels={
        "app.kubernetes.io/managed-by": builders.MANAGED_BY,
        builders.SELECTOR_LABEL: kopf.PRESENT,
    },
)
async def worker_pod_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    runtime_of(memo).wake(namespace or "", labels[builders.SELECTOR_LABEL])


# --- the connector loop


@dataclass
class LoopState:
    """What one connector's loop remembers between passes."""

    last_sent_state: TargetState | None = None
    rejected: dict[str, str] | None = None
    """A config the workers rejected: not sent again while the spec asks for it of the same
    workers."""
    workers: frozenset[str] = frozenset()
    """The config hashes of the ready workers in this pass."""
    rejected_by: frozenset[str] = frozenset()
    """`workers` when the config was rejected: workers with another worker config (say, one
    that allows a plugin) are asked again."""
    config_error: str | None = None
    ready: bool = False
    refused_by: str | None = None
    """The other install that holds the resource, while it does."""


@kopf.daemon(*RESOURCE, registry=registry, cancellation_timeout=2.0)
async def connector_loop(
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    logger: kopf.Logger,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    runtime = runtime_of(memo)
    namespace = namespace or ""
    state = LoopState()

    async def one_pass() -> bool:
        await sync_connector(runtime, body, state, logger)
        return state.ready

    try:
        await run_loop(
            runtime,
            (namespace, name),
            stopped,
            one_pass,
            kind=KIND,
            name=name,
            what="the connector",
            logger=logger,
        )
    finally:
        metrics.forget_connector(namespace, name)


async def sync_connector(
    runtime: Runtime, body: kopf.Body, state: LoopState, logger: kopf.Logger
) -> None:
    """One pass: workers, config, target state, restarts, status."""
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return
    holder = await claim(runtime, KIND, body)
    if holder is not None:
        if state.refused_by != holder:
            refuse(body, KIND, holder, runtime.options.instance)
        state.refused_by, state.ready = holder, False
        return
    if state.refused_by is not None:
        # Handed over: the children were never applied by this install.
        state.refused_by = None
        await _apply_children(runtime, body)
    spec = parse_spec(KafkaConnectorSpec, body)
    owner = _owner(body, await _record_sink_group(runtime, body))
    await roll_if_secrets_changed(
        runtime,
        object_path("apps/v1", "Deployment", owner.namespace, builders.child_name(owner)),
        lambda versions: builders.config_hash(spec, owner, versions),
        builders.referenced_secrets(spec),
        lambda: _apply_children(runtime, body),
        logger,
    )
    namespace, name = owner.namespace, owner.name
    now = datetime.now(UTC)
    previous = stored_status(KafkaConnectorStatus, body)
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", namespace), label_selector=builders.selector_string(owner)
    )
    workers = reconcile.ready_workers(pods, builders.REST_PORT)
    ready_pods = {w.pod for w in workers}
    state.workers = frozenset(
        str((p["metadata"].get("annotations") or {}).get(builders.CONFIG_HASH_ANNOTATION))
        for p in pods
        if p["metadata"]["name"] in ready_pods
    )
    connector: ConnectorStatus | None = None
    unreachable: str | None = None
    auto_status = previous.auto_restart if previous else None
    if workers:
        client = connect_client(runtime, [w.url for w in workers])
        try:
            connector, auto_status = await _sync_over_rest(
                runtime, client, body, spec, state, now, auto_status, logger
            )
        except ConnectError as e:
            unreachable = f"the workers' REST API: {e.message}"
            logger.info("connector %s/%s: %s", namespace, name, unreachable)
    loggers = await sync_and_report_loggers(
        runtime,
        body,
        workers,
        spec.logging.loggers,
        previous.applied_loggers if previous else None,
        logger,
    )
    observation = reconcile.Observation(
        generation=meta.get("generation"),
        workers_ready=len(workers),
        replicas=reconcile.live_pods(pods),
        connector=connector,
        config_error=state.config_error,
        unreachable=unreachable,
    )
    status = reconcile.build_status(
        spec,
        observation,
        selector=builders.selector_string(owner),
        previous=previous,
        auto_restart_status=auto_status,
        now=now,
        applied=loggers.applied,
    )
    ready = next(c for c in status.conditions if c.type == READY)
    state.ready = ready.status == "True"
    _observe(namespace, name, status)
    await set_status(runtime, body, resource_path(KIND, body), status)


def _observe(namespace: str, name: str, status: KafkaConnectorStatus) -> None:
    ready = any(c.type == READY and c.status == "True" for c in status.conditions)
    metrics.CONNECTOR_READY.set(1 if ready else 0, namespace=namespace, name=name)
    metrics.CONNECTOR_WORKERS_READY.set(status.workers_ready, namespace=namespace, name=name)
    counts: dict[str, int] = {}
    for task in status.connector_state.tasks if status.connector_state else []:
        counts[task.state] = counts.get(task.state, 0) + 1
    metrics.CONNECTOR_TASKS.remove(namespace=namespace, name=name)
    for task_state, count in sorted(counts.items()):
        metrics.CONNECTOR_TASKS.set(count, namespace=namespace, name=name, state=task_state)


async def _sync_over_rest(
    runtime: Runtime,
    client: ConnectClient,
    body: kopf.Body,
    spec: KafkaConnectorSpec,
    state: LoopState,
    now: datetime,
    auto_status: AutoRestartStatus | None,
    logger: kopf.Logger,
) -> tuple[ConnectorStatus | None, AutoRestartStatus | None]:
    meta = body["metadata"]
    name = meta["name"]
    desired = reconcile.connector_config(spec, name)
    if state.rejected is not None and (
        state.rejected != desired or state.rejected_by != state.workers
    ):
        state.rejected = state.config_error = None
    if state.rejected is not None:
        return None, auto_status

    current = await client.config(name)
    if reconcile.config_differs(desired, current):
        try:
            if current is None and spec.state is not TargetState.RUNNING:
                await client.create(name, desired, reconcile.rest_state(spec.state))
                state.last_sent_state = spec.state
            else:
                await client.put_config(name, desired)
        except ConnectError as e:
            if e.status != 400:
                raise
            state.rejected, state.config_error = desired, e.message
            state.rejected_by = state.workers
            kopf.warn(body, reason="InvalidConfig", message=e.message)
            return None, auto_status
        verb = "created" if current is None else "updated"
        kopf.event(body, type="Normal", reason="ConfigApplied", message=f"connector config {verb}")
        logger.info("connector %s: config %s", name, verb)

    raw = await client.status(name)
    connector = reconcile.connector_status(raw) if raw is not None else None
    command = reconcile.state_command(
        spec.state, connector.state if connector else None, state.last_sent_state
    )
    if command is not None:
        await client.command(name, command.value)
        state.last_sent_state = spec.state
        kopf.event(body, type="Normal", reason="StateChanged", message=f"sent {command.value}")

    annotations = reconcile.restart_annotations(dict(meta.get("annotations") or {}))
    for request in annotations.requests:
        if request.task is None:
            await client.restart(
                name, include_tasks=request.include_tasks, only_failed=request.only_failed
            )
            message = (
                f"restarted the connector (includeTasks={str(request.include_tasks).lower()}, "
                f"onlyFailed={str(request.only_failed).lower()})"
            )
        else:
            try:
                await client.restart_task(name, request.task)
            except ConnectError as e:
                if e.status != 404:
                    raise
                kopf.warn(body, reason="RestartFailed", message=f"task {request.task}: {e}")
                continue
            message = f"restarted task {request.task}"
        kopf.event(body, type="Normal", reason="Restarted", message=message)
    for error in annotations.errors:
        kopf.warn(body, reason="InvalidAnnotation", message=error)
    if annotations.remove:
        await runtime.kube.merge_patch(
            resource_path(KIND, body),
            {"metadata": {"annotations": dict.fromkeys(annotations.remove)}},
        )

    decision = reconcile.auto_restart(
        spec.auto_restart,
        connector,
        auto_status,
        now,
        base_s=runtime.options.restart_backoff_s,
        max_s=runtime.options.restart_backoff_max_s,
    )
    if decision.restart and decision.status is not None:
        await client.restart(name, include_tasks=True, only_failed=True)
        metrics.AUTO_RESTARTS.inc(namespace=meta["namespace"], name=name)
        kopf.event(
            body,
            type="Normal",
            reason="AutoRestarted",
            message=f"restarted the failed connector and tasks (restart {decision.status.count})",
        )
    return connector, decision.status


# --- deletion


def _deletes_kafka_state(spec: kopf.Spec, **_: Any) -> bool:
    return spec.get("deletionPolicy") == DeletionPolicy.DELETE.value


@kopf.on.delete(*RESOURCE, registry=registry, when=_deletes_kafka_state)
async def delete_kafka_state(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    """With `deletionPolicy: Delete`: stop the workers, then delete the internal topics, the task
    topic and the consumer groups. Retried until it succeeds; the finalizer holds the resource."""
    runtime = runtime_of(memo)
    holder = await claim(runtime, KIND, body)
    if holder is not None:
        raise kopf.TemporaryError(
            f"reconciled by the operator install {holder!r}: waiting for it to clean up", delay=30
        )
    spec = parse_spec(KafkaConnectorSpec, body)
    owner = _owner(body)
    deployment = object_path("apps/v1", "Deployment", owner.namespace, builders.child_name(owner))
    await runtime.kube.delete(deployment, propagation="Foreground")
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", owner.namespace),
        label_selector=builders.selector_string(owner),
    )
    if pods:
        raise kopf.TemporaryError(
            f"waiting for {len(pods)} worker pods to stop", delay=WORKERS_GONE_POLL_S
        )
    state, kept = cleanup.shared(
        cleanup.kafka_state(spec, owner.namespace, owner.name, builders.sink_group(spec, owner)),
        await _kafka_state_of_others(runtime, body),
    )
    if kept:
        kopf.event(
            body,
            type="Normal",
            reason="KafkaStateKept",
            message=f"kept what other resources use: {', '.join(kept)}",
        )
    report = await asyncio.to_thread(cleanup.delete_kafka_state, cleanup.client_config(spec), state)
    if report.errors:
        raise kopf.TemporaryError("; ".join(report.errors), delay=10)
    message = (
        f"deleted topics {', '.join(report.deleted_topics) or '(none left)'} and consumer groups "
        f"{', '.join(report.deleted_groups) or '(none left)'}"
    )
    logger.info(message)
    kopf.event(body, type="Normal", reason="KafkaStateDeleted", message=message)


async def _kafka_state_of_others(
    runtime: Runtime, body: kopf.Body
) -> dict[str, cleanup.KafkaState]:
    """The topics and groups of every other KafkaConnector this operator serves, by
    `namespace/name`."""
    namespaces = runtime.options.namespaces or (None,)
    others: dict[str, cleanup.KafkaState] = {}
    for namespace in namespaces:
        for item in await runtime.kube.list(collection_path(f"{GROUP}/{VERSION}", KIND, namespace)):
            if item["metadata"].get("uid") == body["metadata"]["uid"]:
                continue
            try:
                spec = KafkaConnectorSpec.model_validate(item.get("spec") or {})
                owner = _owner(item)
                state = cleanup.kafka_state(
                    spec, owner.namespace, owner.name, builders.sink_group(spec, owner)
                )
            except (ValueError, KeyError):
                continue  # a resource the API server holds but no builder accepts uses nothing
            others[f"{owner.namespace}/{owner.name}"] = state
    return others


# StandaloneConnect's handlers register themselves on `registry` when imported.
from kconnect_operator import standalone_handlers  # noqa: E402, F401
