"""A KafkaConnector's pass, its loop and its clean-up on deletion; `RESOURCE_KIND` registers them.

Handlers are thin: they read the resource, call the pure functions of `build`, `core.children`
and `decide`, and carry out the result through `io.kube` (the API server) and `io.worker_rest`
(the workers' REST API). `registration` starts, wakes and stops the loops, as for every kind.

One loop per KafkaConnector (`connector_loop`), started by the resource's first event and owned
by `Runtime` (not a kopf daemon: see `io.shell`). Each pass observes, decides, then acts:
- **observe**: the resource (claimed for this install first: one another install claimed is
  left alone, with an Event), its children, the referenced Secrets (read by name: `get`, never
  `list` or `watch`) and ConfigMaps, the worker pods, and over REST the connector's config and
  status;
- **decide**: the children the builders want, which of them to apply (`children.plan`: missing,
  drifted, or changed by the spec, a Secret or a ConfigMap), the connector's config and state
  commands, restarts, and the status (`decide.build_status`);
- **act**: apply the children, report repairs and rolls as Events, talk to the workers, write
  the status when it changed, and post a Warning Event when the Ready condition names a new
  cause.

A pass runs every `sync_interval_s` (every 2 s while not Ready) and at once when the resource,
one of its children, one of its pods or a referenced ConfigMap changes. Secrets are not watched
(the operator needs no cluster-wide read access to them): a changed Secret is seen by the next
pass. So a deleted Service, a Deployment scaled or edited by hand or an edited worker ConfigMap
is put back within a pass, and a changed Secret or ConfigMap rolls the pods. A change to the
connector's own fields never touches the Deployment.

The sink consumer group is recorded on the resource (`build.SINK_GROUP_ANNOTATION`) by its
first pass: `connect-<namespace>.<name>` for a new resource, Kafka Connect's `connect-<name>` for
one an earlier operator already ran (it has a status or kopf's last-handled record), so that its
committed offsets stay in use.

The loggers set from the spec are remembered in `status.appliedLoggers`, so that one removed from
the spec is reset on the workers once, and the workers' own loggers are never touched.

Failure handling: one resource's failure is logged, counted and retried on its own loop; it never
blocks another resource. A config the workers reject is not resent until it changes or the ready
workers run another worker config (their pods' config hash: a `workerConfig` change may make it
valid, e.g. allowing the file connectors); its message goes to the Ready condition (reason
InvalidConfig) and to a Warning Event. So do a worker config the worker would refuse
(InvalidConfig), a child the API server refuses (ApplyFailed) and workers that cannot start
(WorkerFailed, with what the pods, the workload or the API server say).

Deletion: only a resource with `deletionPolicy: Delete` carries kopf's finalizer (for
`delete_kafka_state`); kopf removes it from a resource whose policy became Retain. Any other
resource is deleted at once, operator or not, and the API server collects its children. The
clean-up keeps the topics and groups another KafkaConnector uses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import kopf
from pydantic import ValidationError

from kconnect.errors import ConfigError
from kconnect_operator.core import children, manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.shapes import API_VERSION, GROUP, READY, VERSION, ConnectorStatus
from kconnect_operator.io import operator_metrics
from kconnect_operator.io.kube import collection_path, object_path
from kconnect_operator.io.shell import (
    Applied,
    ResourceKind,
    Runtime,
    apply_plan,
    claim,
    connect_client,
    observe_children,
    parse_spec,
    refuse,
    report_cause,
    resource_path,
    run_loop,
    runtime_of,
    set_status,
    stored_status,
    sync_and_report_loggers,
    versions,
)
from kconnect_operator.io.worker_rest import WorkerRestClient, WorkerRestError
from kconnect_operator.kafkaconnector import build, cleanup, decide
from kconnect_operator.kafkaconnector.model import (
    KIND,
    PLURAL,
    AutoRestartStatus,
    DeletionPolicy,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    TargetState,
)

RESOURCE: Final = (GROUP, VERSION, PLURAL)
WORKERS_GONE_POLL_S: Final = 3.0
LAST_HANDLED: Final = "kconnect.io/last-handled-configuration"
"""kopf's record of the last handled spec, which an earlier operator wrote."""


# --- reading the resource


def _owner(body: Mapping[str, Any], sink_group: str | None = None) -> build.Owner:
    meta = body["metadata"]
    recorded = (meta.get("annotations") or {}).get(build.SINK_GROUP_ANNOTATION)
    return build.Owner(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        sink_group=sink_group or recorded,
    )


async def _record_sink_group(runtime: Runtime, body: kopf.Body) -> str:
    """The resource's recorded sink group, recorded now if it has none: a resource an earlier
    operator already handled (it has a status or kopf's last-handled record) keeps Kafka
    Connect's `connect-<name>` and its committed offsets; a new one gets its own group."""
    meta = body["metadata"]
    annotations = meta.get("annotations") or {}
    recorded = annotations.get(build.SINK_GROUP_ANNOTATION)
    if recorded:
        return str(recorded)
    existed = bool(body.get("status")) or LAST_HANDLED in annotations
    group = build.initial_sink_group(meta["namespace"], meta["name"], existed=existed)
    await runtime.kube.merge_patch(
        resource_path(KIND, body),
        {"metadata": {"annotations": {build.SINK_GROUP_ANNOTATION: group}}},
    )
    return group


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
    refused_by: str | None = None
    """The other install that holds the resource, while it does."""


def _referenced_config_maps(spec: Mapping[str, Any]) -> list[str]:
    try:
        parsed = KafkaConnectorSpec.model_validate(dict(spec))
    except ValidationError:
        return []
    return manifests.referenced_config_maps(parsed)


async def connector_loop(
    runtime: Runtime, namespace: str, name: str, uid: str, logger: kopf.Logger
) -> None:
    """The resource's loop (`run_loop`) of `sync_connector` passes, until it is gone."""
    state = LoopState()
    try:
        await run_loop(
            runtime,
            (namespace, RESOURCE_KIND.wake_key(name)),
            lambda: sync_connector(runtime, (namespace, name), uid, state, logger),
            kind=KIND,
            name=name,
            what="the connector",
            logger=logger,
        )
    finally:
        operator_metrics.forget_connector(namespace, name)


def _child_keys(owner: build.Owner) -> list[tuple[str, str, str]]:
    child = build.child_name(owner)
    return [
        ("v1", "ConfigMap", build.config_map_name(owner)),
        ("v1", "Service", child),
        ("policy/v1", "PodDisruptionBudget", child),
        ("networking.k8s.io/v1", "NetworkPolicy", child),
        ("apps/v1", "Deployment", child),
    ]


async def sync_connector(
    runtime: Runtime, key: tuple[str, str], uid: str, state: LoopState, logger: kopf.Logger
) -> bool | None:
    """One pass: children, workers, config, target state, restarts, status. True when Ready,
    None when the resource is gone or being deleted."""
    namespace, name = key
    raw = await runtime.kube.get(object_path(API_VERSION, KIND, namespace, name))
    if raw is None or raw["metadata"].get("uid") != uid or raw["metadata"].get("deletionTimestamp"):
        return None
    body = kopf.Body(cast(kopf.RawBody, raw))
    meta = body["metadata"]
    holder = await claim(runtime, KIND, body)
    if holder is not None:
        if state.refused_by != holder:
            refuse(body, KIND, holder, runtime.options.instance)
        state.refused_by = holder
        return False
    state.refused_by = None
    spec = parse_spec(KafkaConnectorSpec, body)
    owner = _owner(body, await _record_sink_group(runtime, body))
    now = datetime.now(UTC)
    previous = stored_status(KafkaConnectorStatus, body)

    # observe the inputs of the children, and the children
    secrets = manifests.referenced_secrets(spec)
    config_maps = manifests.referenced_config_maps(spec)
    secret_versions = await versions(runtime, "Secret", namespace, secrets)
    config_map_versions = await versions(runtime, "ConfigMap", namespace, config_maps)
    live = await observe_children(runtime, namespace, _child_keys(owner))
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", namespace), label_selector=manifests.selector_string(owner)
    )

    # decide and apply the children
    spec_error: str | None = None
    applied = Applied(live)
    try:
        wanted = build.build_children(
            spec,
            owner,
            image=runtime.options.image,
            secret_versions=secret_versions,
            config_map_versions=config_map_versions,
            operator_namespace=runtime.options.operator_namespace,
            operator_labels=runtime.options.operator_labels,
        )
    except ConfigError as e:
        spec_error = str(e)
    else:
        plan = children.plan(
            wanted, live, reconciled_before=previous is not None and bool(previous.conditions)
        )
        applied = await apply_plan(runtime, body, plan, live, workers="worker pods")

    # the workers and the connector
    workers = core_status.ready_workers(pods, manifests.REST_PORT)
    ready_pods = {w.pod for w in workers}
    state.workers = frozenset(
        str((p["metadata"].get("annotations") or {}).get(manifests.CONFIG_HASH_ANNOTATION))
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
        except WorkerRestError as e:
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
    workload = applied.live.get(f"Deployment/{build.child_name(owner)}")
    observation = decide.Observation(
        generation=meta.get("generation"),
        workers_ready=len(workers),
        replicas=decide.live_pods(pods),
        connector=connector,
        config_error=spec_error or state.config_error,
        unreachable=unreachable,
        apply_error=applied.error,
        workers_failure=core_status.workers_cause(
            pods,
            workload,
            manifests.WORKER_CONTAINER,
            core_status.missing_references(
                secrets, secret_versions, config_maps, config_map_versions
            ),
        ),
    )
    status = decide.build_status(
        spec,
        observation,
        selector=manifests.selector_string(owner),
        previous=previous,
        auto_restart_status=auto_status,
        now=now,
        applied=loggers.applied,
    )
    ready = next(c for c in status.conditions if c.type == READY)
    _observe(namespace, name, status)
    report_cause(body, previous.conditions if previous else (), status)
    await set_status(runtime, body, resource_path(KIND, body), status)
    return ready.status == "True"


def _observe(namespace: str, name: str, status: KafkaConnectorStatus) -> None:
    ready = any(c.type == READY and c.status == "True" for c in status.conditions)
    operator_metrics.CONNECTOR_READY.set(1 if ready else 0, namespace=namespace, name=name)
    operator_metrics.CONNECTOR_WORKERS_READY.set(
        status.workers_ready, namespace=namespace, name=name
    )
    counts: dict[str, int] = {}
    for task in status.connector_state.tasks if status.connector_state else []:
        counts[task.state] = counts.get(task.state, 0) + 1
    operator_metrics.CONNECTOR_TASKS.remove(namespace=namespace, name=name)
    for task_state, count in sorted(counts.items()):
        operator_metrics.CONNECTOR_TASKS.set(
            count, namespace=namespace, name=name, state=task_state
        )


async def _sync_over_rest(
    runtime: Runtime,
    client: WorkerRestClient,
    body: kopf.Body,
    spec: KafkaConnectorSpec,
    state: LoopState,
    now: datetime,
    auto_status: AutoRestartStatus | None,
    logger: kopf.Logger,
) -> tuple[ConnectorStatus | None, AutoRestartStatus | None]:
    meta = body["metadata"]
    name = meta["name"]
    desired = decide.connector_config(spec, name)
    if state.rejected is not None and (
        state.rejected != desired or state.rejected_by != state.workers
    ):
        state.rejected = state.config_error = None
    if state.rejected is not None:
        return None, auto_status

    current = await client.config(name)
    if decide.config_differs(desired, current):
        try:
            if current is None and spec.state is not TargetState.RUNNING:
                await client.create(name, desired, decide.rest_state(spec.state))
                state.last_sent_state = spec.state
            else:
                await client.put_config(name, desired)
        except WorkerRestError as e:
            if e.status != 400:
                raise
            state.rejected, state.config_error = desired, e.message
            state.rejected_by = state.workers
            return None, auto_status
        verb = "created" if current is None else "updated"
        kopf.event(body, type="Normal", reason="ConfigApplied", message=f"connector config {verb}")
        logger.info("connector %s: config %s", name, verb)

    raw = await client.status(name)
    connector = core_status.connector_status(raw) if raw is not None else None
    command = decide.state_command(
        spec.state, connector.state if connector else None, state.last_sent_state
    )
    if command is not None:
        await client.command(name, command.value)
        state.last_sent_state = spec.state
        kopf.event(body, type="Normal", reason="StateChanged", message=f"sent {command.value}")

    annotations = decide.restart_annotations(dict(meta.get("annotations") or {}))
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
            except WorkerRestError as e:
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

    decision = decide.auto_restart(
        spec.auto_restart,
        connector,
        auto_status,
        now,
        base_s=runtime.options.restart_backoff_s,
        max_s=runtime.options.restart_backoff_max_s,
    )
    if decision.restart and decision.status is not None:
        await client.restart(name, include_tasks=True, only_failed=True)
        operator_metrics.AUTO_RESTARTS.inc(namespace=meta["namespace"], name=name)
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
    deployment = object_path("apps/v1", "Deployment", owner.namespace, build.child_name(owner))
    await runtime.kube.delete(deployment, propagation="Foreground")
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", owner.namespace),
        label_selector=manifests.selector_string(owner),
    )
    if pods:
        raise kopf.TemporaryError(
            f"waiting for {len(pods)} worker pods to stop", delay=WORKERS_GONE_POLL_S
        )
    state, kept = cleanup.shared(
        cleanup.kafka_state(spec, owner.namespace, owner.name, build.sink_group(spec, owner)),
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
                    spec, owner.namespace, owner.name, build.sink_group(spec, owner)
                )
            except (ValueError, KeyError):
                continue  # a resource the API server holds but no builder accepts uses nothing
            others[f"{owner.namespace}/{owner.name}"] = state
    return others


def register_deletion(registry: kopf.OperatorRegistry) -> None:
    """kopf's finalizer and `delete_kafka_state`, only on resources with `deletionPolicy:
    Delete`."""
    kopf.on.delete(*RESOURCE, registry=registry, when=_deletes_kafka_state)(delete_kafka_state)


RESOURCE_KIND: Final = ResourceKind(
    kind=KIND,
    plural=PLURAL,
    selector_label=build.SELECTOR_LABEL,
    referenced_config_maps=_referenced_config_maps,
    loop=connector_loop,
    register_more=register_deletion,
)
