"""The kopf handlers of `StandaloneConnect`, registered on `handlers.registry`.

Thin, as `handlers` is: they read the resource, call `standalone_builders` and
`standalone_reconcile`, and carry out the result through `kube` and `connect`.

One loop per resource (`standalone_loop`, owned by `Runtime` as a KafkaConnector's is, so a
StandaloneConnect carries no finalizer). Each pass claims the resource for this install (one
another install claimed is left alone, with an Event, as for a KafkaConnector), observes the
resource, its children, the referenced Secrets (read by name, never listed or watched) and
ConfigMaps and the worker pod; applies the children that are missing, drifted or changed
(`children.plan`, reported as Events); reads `GET /connectors?expand=status` from the ready pod;
sets its log levels where they differ from `spec.logging.loggers` (remembered in
`status.appliedLoggers`); and writes the status only when it changed. A change to any file the
worker reads, or to a referenced Secret or ConfigMap, changes the pod template's hash, and the
StatefulSet rolls the pod; nothing else does. It runs every `sync_interval_s` (every 2 s while
not Ready) and at once when the resource, a child, its pod or a referenced ConfigMap changes; a
changed Secret is seen by the next pass.

The wake-up keys share `Runtime.wakeups` with KafkaConnectors; the name part is
`standaloneconnect/<name>`, which no Kubernetes name can be, so the two kinds never wake each
other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, cast

import kopf
from pydantic import ValidationError

from kconnect.errors import ConfigError
from kconnect_operator import builders, children, reconcile
from kconnect_operator import standalone_builders as sb
from kconnect_operator import standalone_reconcile as sr
from kconnect_operator.connect import ConnectError
from kconnect_operator.handlers import registry
from kconnect_operator.kube import collection_path, object_path
from kconnect_operator.models import API_VERSION, GROUP, READY, VERSION
from kconnect_operator.runtime import (
    Applied,
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
    wake_referencing,
    watch_children,
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


@kopf.index(*RESOURCE, registry=registry)
def standalone_config_map_references(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str], str]:
    """Which StandaloneConnects each ConfigMap feeds, so that a changed ConfigMap rolls their
    pod."""
    try:
        parsed = StandaloneConnectSpec.model_validate(dict(spec))
    except ValidationError:
        return {}
    return {(namespace or "", cm): name for cm in builders.referenced_config_maps(parsed)}


@kopf.on.event("", "v1", "configmaps", registry=registry)
async def standalone_config_map_changed(
    namespace: str | None, name: str, memo: kopf.Memo, **kwargs: Any
) -> None:
    wake_referencing(
        runtime_of(memo), namespace, name, kwargs["standalone_config_map_references"], wake_key
    )


async def standalone_child_changed(
    namespace: str | None, labels: Mapping[str, str], memo: kopf.Memo, **_: Any
) -> None:
    """A child that changed or went: its owner's next pass puts it back if it drifted."""
    runtime_of(memo).wake(namespace or "", wake_key(labels[sb.SELECTOR_LABEL]))


watch_children(registry, standalone_child_changed, sb.SELECTOR_LABEL, "standalone")


@kopf.on.event(*RESOURCE, registry=registry)
async def standalone_changed(
    type: str | None,
    body: kopf.Body,
    namespace: str | None,
    name: str,
    uid: str | None,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Start the resource's loop on its first event, wake it on every other, and stop it once
    the resource is gone or being deleted."""
    runtime = runtime_of(memo)
    key = (namespace or "", wake_key(name))
    if type == "DELETED" or body.get("metadata", {}).get("deletionTimestamp"):
        await runtime.stop_loop(key, uid)
        return
    runtime.start_loop(
        key, uid or "", lambda: standalone_loop(runtime, namespace or "", name, uid or "", logger)
    )
    runtime.wake(*key)


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


async def standalone_loop(
    runtime: Runtime, namespace: str, name: str, uid: str, logger: kopf.Logger
) -> None:
    refused: list[str | None] = [None]
    await run_loop(
        runtime,
        (namespace, wake_key(name)),
        lambda: sync_standalone(runtime, namespace, name, uid, logger, refused),
        kind=KIND,
        name=name,
        what="the status",
        logger=logger,
    )


def _child_keys(owner: sb.Owner) -> list[tuple[str, str, str]]:
    return [
        ("v1", "ConfigMap", sb.config_map_name(owner)),
        ("v1", "Service", sb.headless_service_name(owner)),
        ("v1", "Service", sb.child_name(owner)),
        ("networking.k8s.io/v1", "NetworkPolicy", sb.child_policy_name(owner)),
        ("apps/v1", "StatefulSet", sb.child_name(owner)),
    ]


async def sync_standalone(
    runtime: Runtime,
    namespace: str,
    name: str,
    uid: str,
    logger: kopf.Logger,
    refused: list[str | None],
) -> bool | None:
    """One pass: the children, the worker pod, its connectors, the status. True when Ready,
    None when the resource is gone or being deleted. `refused` holds the other install that
    holds the resource, while one does."""
    raw = await runtime.kube.get(object_path(API_VERSION, KIND, namespace, name))
    if raw is None or raw["metadata"].get("uid") != uid or raw["metadata"].get("deletionTimestamp"):
        return None
    body = kopf.Body(cast(kopf.RawBody, raw))
    meta = body["metadata"]
    holder = await claim(runtime, KIND, body)
    if holder is not None:
        if refused[0] != holder:
            refuse(body, KIND, holder, runtime.options.instance)
        refused[0] = holder
        return False
    refused[0] = None
    spec = parse_spec(StandaloneConnectSpec, body)
    owner = _owner(body)
    previous = stored_status(StandaloneConnectStatus, body)

    secrets = builders.referenced_secrets(spec)
    config_maps = builders.referenced_config_maps(spec)
    secret_versions = await versions(runtime, "Secret", namespace, secrets)
    config_map_versions = await versions(runtime, "ConfigMap", namespace, config_maps)
    live = await observe_children(runtime, namespace, _child_keys(owner))
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", owner.namespace),
        label_selector=builders.selector_string(owner),
    )

    config_error: str | None = None
    desired = ""
    applied = Applied(live)
    try:
        wanted = sb.build_children(
            spec,
            owner,
            image=runtime.options.image,
            secret_versions=secret_versions,
            config_map_versions=config_map_versions,
            operator_namespace=runtime.options.operator_namespace,
            operator_labels=runtime.options.operator_labels,
        )
        desired = sb.config_hash(spec, owner, secret_versions, config_map_versions)
    except ConfigError as e:
        config_error = str(e)
    else:
        plan = children.plan(
            wanted, live, reconciled_before=previous is not None and bool(previous.conditions)
        )
        applied = await apply_plan(runtime, body, plan, live, workers="worker pod")

    workers = reconcile.ready_workers(pods, builders.REST_PORT)
    by_name = {p["metadata"]["name"]: p for p in pods}
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
        apply_error=applied.error,
        worker_failure=reconcile.workers_cause(
            pods,
            applied.live.get(f"StatefulSet/{sb.child_name(owner)}"),
            builders.WORKER_CONTAINER,
            reconcile.missing_references(
                secrets, secret_versions, config_maps, config_map_versions
            ),
        ),
    )
    status = sr.build_status(
        spec, obs, previous=previous, now=datetime.now(UTC), applied=loggers.applied
    )
    report_cause(body, previous.conditions if previous else (), status)
    await set_status(runtime, body, resource_path(KIND, body), status)
    return any(c.type == READY and c.status == "True" for c in status.conditions)
