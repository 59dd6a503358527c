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
pass. So a deleted Service, a StatefulSet scaled or edited by hand or an edited worker ConfigMap
is put back within a pass, and a changed Secret or ConfigMap rolls the pods. A change to the
connector's own fields never touches the StatefulSet.

The workers run in a StatefulSet (stable pod names, each its worker's `group.instance.id`). A
scale-down first writes the leave marker into the pods it removes (`io.shell.mark_leaving`, the
pods/exec API), so their workers give their seats up as they stop. A resource an earlier
operator ran with a Deployment keeps its group and topics: the StatefulSet joins the same
group, and the Deployment is deleted once the StatefulSet is up (`decide`).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import kopf
from pydantic import ValidationError

from kconnect.errors import ConfigError
from kconnect_operator.core import manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.manifests import REST_PORT
from kconnect_operator.core.shapes import GROUP, READY, VERSION, JsonObject
from kconnect_operator.io import operator_metrics
from kconnect_operator.io.kube import KubeError, collection_path, object_path
from kconnect_operator.io.shell import (
    Claim,
    Pass,
    ResourceKind,
    Runtime,
    claim,
    connect_client,
    kafka_secret_data,
    kafka_secret_facts,
    observe_loggers,
    observe_workload,
    parse_spec,
    resource_path,
    run_loop,
    runtime_of,
    stored_status,
    sync,
    validation_message,
)
from kconnect_operator.io.worker_rest import WorkerRestError
from kconnect_operator.kafkaconnector import build, cleanup, decide, offsets
from kconnect_operator.kafkaconnector.model import (
    CLUSTER_KIND,
    CLUSTER_PLURAL,
    KIND,
    PLURAL,
    DeletionPolicy,
    InitialOffsetsPhase,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    KConnectClusterSpec,
    owned_names_spec,
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

    memory: decide.Memory = field(default_factory=decide.Memory)
    claim: Claim = field(default_factory=Claim)


async def connector_loop(
    runtime: Runtime, namespace: str, name: str, uid: str, logger: kopf.Logger
) -> None:
    """The resource's loop (`run_loop`) of passes (`io.shell.sync`), until it is gone."""
    state = LoopState()

    async def observe_with_memory(runtime: Runtime, body: kopf.Body) -> decide.Observed:
        return await observe(runtime, body, state.memory)

    def decided(body: kopf.Body, observed: decide.Observed, decision: decide.Decision) -> None:
        state.memory = decision.memory
        _record_metrics(namespace, name, desired_workers(observed), decision.status)

    one = Pass(
        kind=KIND,
        what="connector",
        rest_api="the workers' REST API",
        observe=observe_with_memory,
        decide=decide.decide,
        status_model=KafkaConnectorStatus,
        decided=decided,
    )
    try:
        await run_loop(
            runtime,
            (namespace, RESOURCE_KIND.wake_key(name)),
            lambda: sync(runtime, one, namespace, name, uid, state.claim, logger),
            kind=KIND,
            name=name,
            what="the connector",
            logger=logger,
        )
    finally:
        operator_metrics.forget_connector(namespace, name)


def _child_keys(owner: build.Owner) -> list[tuple[str, str, str]]:
    # An earlier operator's worker Deployment too: deleted once the StatefulSet replaced it.
    return [
        *build.worker_child_keys(owner),
        ("apps/v1", "Deployment", build.deployment_name(owner)),
    ]


async def _observe_cluster(
    runtime: Runtime, namespace: str, cluster: str
) -> tuple[int | None, list[JsonObject]]:
    """The named KConnectCluster's `spec.replicas` (None when it does not exist) and its worker
    pods."""
    raw = await runtime.kube.get(
        object_path(f"{GROUP}/{VERSION}", CLUSTER_KIND, namespace, cluster)
    )
    if raw is None:
        return None, []
    replicas = (raw.get("spec") or {}).get("replicas", 1)
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", namespace),
        label_selector=manifests.selector_string_of(build.CLUSTER_OWNER, cluster),
    )
    return int(replicas) if isinstance(replicas, int) else 1, pods


async def observe(runtime: Runtime, body: kopf.Body, memory: decide.Memory) -> decide.Observed:
    """Everything a pass decides on: the spec, the referenced Secrets' and ConfigMaps' versions,
    the children, the worker pods and, from the ready workers, the connector's config and status
    and their log levels. A connector on a KConnectCluster has no children: its workers are the
    cluster's pods."""
    meta = body["metadata"]
    spec = parse_spec(KafkaConnectorSpec, body)
    owner = _owner(body, await _record_sink_group(runtime, body))
    previous = stored_status(KafkaConnectorStatus, body)
    cluster_replicas: int | None = None
    if spec.cluster is None:
        secret_versions, config_map_versions, live, pods = await observe_workload(
            runtime, body, spec, _child_keys(owner), manifests.selector_string(owner)
        )
    else:
        secret_versions, config_map_versions, live = {}, {}, {}
        cluster_replicas, pods = await _observe_cluster(runtime, owner.namespace, spec.cluster)
    workers = core_status.ready_workers(pods, REST_PORT)
    config: dict[str, str] | None = None
    connector = None
    rest_error: str | None = None
    if workers:
        client = connect_client(runtime, [w.url for w in workers])
        try:
            config = await client.config(owner.name)
            raw_status = await client.status(owner.name)
        except WorkerRestError as e:
            rest_error = e.message
        else:
            connector = core_status.connector_status(raw_status) if raw_status else None
    annotations = dict(meta.get("annotations") or {})
    pending = previous is not None and previous.initial_offsets is InitialOffsetsPhase.PENDING
    offsets_sources = await _offsets_config_maps(
        runtime,
        owner.namespace,
        offsets.config_maps_to_read(
            spec, annotations, initial=bool(workers) and (config is None or pending)
        ),
    )
    return decide.Observed(
        spec=spec,
        owner=owner,
        generation=meta.get("generation"),
        annotations=annotations,
        previous=previous,
        options=runtime.options,
        secret_versions=secret_versions,
        config_map_versions=config_map_versions,
        kafka_secrets=await kafka_secret_facts(runtime, meta["namespace"], spec),
        live=live,
        pods=pods,
        memory=memory,
        now=datetime.now(UTC),
        config=config,
        connector=connector,
        rest_error=rest_error,
        loggers=await observe_loggers(runtime, workers, spec, previous),
        cluster_replicas=cluster_replicas,
        offsets_config_maps=offsets_sources,
    )


async def _offsets_config_maps(
    runtime: Runtime, namespace: str, names: tuple[str, ...]
) -> dict[str, dict[str, str] | None]:
    """The data of the ConfigMaps offsets are read from, by name; None for a missing one."""
    found: dict[str, dict[str, str] | None] = {}
    for name in names:
        raw = await runtime.kube.get(object_path("v1", "ConfigMap", namespace, name))
        found[name] = (
            None if raw is None else {str(k): str(v) for k, v in (raw.get("data") or {}).items()}
        )
    return found


def desired_workers(observed: decide.Observed) -> int:
    """The worker pods a connector asks for: its own `spec.replicas`, or those of the
    KConnectCluster it runs on (0 while that does not exist)."""
    if observed.spec.cluster is None:
        return observed.spec.replicas
    return observed.cluster_replicas or 0


def _record_metrics(namespace: str, name: str, replicas: int, status: KafkaConnectorStatus) -> None:
    ready = any(c.type == READY and c.status == "True" for c in status.conditions)
    operator_metrics.CONNECTOR_READY.set(1 if ready else 0, namespace=namespace, name=name)
    operator_metrics.CONNECTOR_WORKERS_DESIRED.set(replicas, namespace=namespace, name=name)
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
    try:
        spec = owned_names_spec(dict(body.get("spec") or {}))
    except ValidationError as e:
        raise kopf.PermanentError(f"invalid spec: {validation_message(e)}") from e
    owner = _owner(body)
    await _leave_group_all(runtime, owner, logger)
    for kind, workload in (
        ("StatefulSet", build.workload_name(owner)),
        ("Deployment", build.deployment_name(owner)),
    ):
        path = object_path("apps/v1", kind, owner.namespace, workload)
        await runtime.kube.delete(path, propagation="Foreground")
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
    try:
        config = cleanup.client_config(
            spec, await kafka_secret_data(runtime, owner.namespace, spec)
        )
    except ConfigError as e:  # a missing Secret or key: said without any value
        raise kopf.TemporaryError(f"cannot reach Kafka to clean up: {e}", delay=30) from None
    report = await asyncio.to_thread(cleanup.delete_kafka_state, config, state)
    if report.errors:
        raise kopf.TemporaryError("; ".join(report.errors), delay=10)
    message = (
        f"deleted topics {', '.join(report.deleted_topics) or '(none left)'} and consumer groups "
        f"{', '.join(report.deleted_groups) or '(none left)'}"
    )
    logger.info(message)
    kopf.event(body, type="Normal", reason="KafkaStateDeleted", message=message)


async def _leave_group_all(runtime: Runtime, owner: build.Owner, logger: kopf.Logger) -> None:
    """Before the workers are deleted for good: write the leave marker into every running worker
    pod that is not stopping yet, so each worker gives its seat up and the group empties at once
    (a static member that keeps its seat holds the group, which the broker will not delete, for
    `session.timeout.ms`). A pod that cannot be reached only delays the group's deletion."""
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", owner.namespace),
        label_selector=manifests.selector_string(owner),
    )
    for pod in pods:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Running":
            continue
        try:
            await runtime.kube.exec(
                owner.namespace,
                meta["name"],
                manifests.WORKER_CONTAINER,
                list(manifests.MARK_LEAVING_COMMAND),
            )
        except KubeError as e:
            logger.info("pod %s keeps its group seat as it stops: %s", meta["name"], e.message)


async def _kafka_state_of_others(
    runtime: Runtime, body: kopf.Body
) -> dict[str, cleanup.KafkaState]:
    """The topics and groups of every other KafkaConnector this operator serves, by
    `namespace/name`, and of every KConnectCluster, by `KConnectCluster namespace/name`."""
    namespaces = runtime.options.namespaces or (None,)
    others: dict[str, cleanup.KafkaState] = {}
    for namespace in namespaces:
        for item in await runtime.kube.list(collection_path(f"{GROUP}/{VERSION}", KIND, namespace)):
            if item["metadata"].get("uid") == body["metadata"]["uid"]:
                continue
            try:
                spec = owned_names_spec(item.get("spec") or {})
                owner = _owner(item)
                state = cleanup.kafka_state(
                    spec, owner.namespace, owner.name, build.sink_group(spec, owner)
                )
            except (ValueError, KeyError):
                continue  # a resource the API server holds but no builder accepts uses nothing
            others[f"{owner.namespace}/{owner.name}"] = state
        for item in await runtime.kube.list(
            collection_path(f"{GROUP}/{VERSION}", CLUSTER_KIND, namespace)
        ):
            meta = item["metadata"]
            try:
                workers = KConnectClusterSpec.model_validate(item.get("spec") or {})
                state = cleanup.cluster_kafka_state(workers, meta["namespace"], meta["name"])
            except (ValueError, KeyError):
                continue
            others[f"KConnectCluster {meta['namespace']}/{meta['name']}"] = state
    return others


def register_deletion(registry: kopf.OperatorRegistry) -> None:
    """kopf's finalizer and `delete_kafka_state`, only on resources with `deletionPolicy:
    Delete`."""
    kopf.on.delete(*RESOURCE, registry=registry, when=_deletes_kafka_state)(delete_kafka_state)


def _cluster_key(body: Mapping[str, Any]) -> str | None:
    """The wake key of the KConnectCluster the resource names, if any."""
    cluster = (body.get("spec") or {}).get("cluster")
    return f"{CLUSTER_PLURAL}/{cluster}" if isinstance(cluster, str) and cluster else None


RESOURCE_KIND: Final = ResourceKind(
    kind=KIND,
    plural=PLURAL,
    selector_label=build.SELECTOR_LABEL,
    parse_spec=KafkaConnectorSpec.model_validate,
    loop=connector_loop,
    register_more=register_deletion,
    related=_cluster_key,
)
