"""A StandaloneConnect's pass and its loop; `RESOURCE_KIND` registers them (`registration`).

Thin, as a KafkaConnector's are: they read the resource, call `build` and `decide`, and carry out
the result through `io.kube` and `io.worker_rest`.

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
`standaloneconnects/<name>` (`ResourceKind.wake_key`), so the two kinds never wake each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, cast

import kopf
from pydantic import ValidationError

from kconnect.errors import ConfigError
from kconnect_operator.core import children, manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.shapes import API_VERSION, GROUP, READY, VERSION
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
    set_status,
    stored_status,
    sync_and_report_loggers,
    versions,
)
from kconnect_operator.io.worker_rest import WorkerRestError
from kconnect_operator.standaloneconnect import build, decide
from kconnect_operator.standaloneconnect.model import (
    KIND,
    PLURAL,
    StandaloneConnectSpec,
    StandaloneConnectStatus,
)

RESOURCE: Final = (GROUP, VERSION, PLURAL)


def _owner(body: Mapping[str, Any]) -> build.Owner:
    meta = body["metadata"]
    return build.Owner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


def _referenced_config_maps(spec: Mapping[str, Any]) -> list[str]:
    try:
        parsed = StandaloneConnectSpec.model_validate(dict(spec))
    except ValidationError:
        return []
    return manifests.referenced_config_maps(parsed)


async def standalone_loop(
    runtime: Runtime, namespace: str, name: str, uid: str, logger: kopf.Logger
) -> None:
    refused: list[str | None] = [None]
    await run_loop(
        runtime,
        (namespace, RESOURCE_KIND.wake_key(name)),
        lambda: sync_standalone(runtime, namespace, name, uid, logger, refused),
        kind=KIND,
        name=name,
        what="the status",
        logger=logger,
    )


def _child_keys(owner: build.Owner) -> list[tuple[str, str, str]]:
    return [
        ("v1", "ConfigMap", build.config_map_name(owner)),
        ("v1", "Service", build.headless_service_name(owner)),
        ("v1", "Service", build.child_name(owner)),
        ("networking.k8s.io/v1", "NetworkPolicy", build.child_policy_name(owner)),
        ("apps/v1", "StatefulSet", build.child_name(owner)),
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

    secrets = manifests.referenced_secrets(spec)
    config_maps = manifests.referenced_config_maps(spec)
    secret_versions = await versions(runtime, "Secret", namespace, secrets)
    config_map_versions = await versions(runtime, "ConfigMap", namespace, config_maps)
    live = await observe_children(runtime, namespace, _child_keys(owner))
    pods = await runtime.kube.list(
        collection_path("v1", "Pod", owner.namespace),
        label_selector=manifests.selector_string(owner),
    )

    config_error: str | None = None
    desired = ""
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
        desired = build.config_hash(spec, owner, secret_versions, config_map_versions)
    except ConfigError as e:
        config_error = str(e)
    else:
        plan = children.plan(
            wanted, live, reconciled_before=previous is not None and bool(previous.conditions)
        )
        applied = await apply_plan(runtime, body, plan, live, workers="worker pod")

    workers = core_status.ready_workers(pods, manifests.REST_PORT)
    by_name = {p["metadata"]["name"]: p for p in pods}
    current = bool(workers) and all(
        decide.pod_config_hash(by_name[w.pod], manifests.CONFIG_HASH_ANNOTATION) == desired
        for w in workers
    )
    connectors = None
    unreachable = None
    if workers:
        client = connect_client(runtime, [w.url for w in workers])
        try:
            connectors = decide.connector_statuses(await client.connectors_status())
        except WorkerRestError as e:
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
    obs = decide.Observation(
        generation=meta.get("generation"),
        workers_ready=len(workers),
        current=current,
        connectors=connectors,
        config_error=config_error,
        unreachable=unreachable,
        apply_error=applied.error,
        worker_failure=core_status.workers_cause(
            pods,
            applied.live.get(f"StatefulSet/{build.child_name(owner)}"),
            manifests.WORKER_CONTAINER,
            core_status.missing_references(
                secrets, secret_versions, config_maps, config_map_versions
            ),
        ),
    )
    status = decide.build_status(
        spec, obs, previous=previous, now=datetime.now(UTC), applied=loggers.applied
    )
    report_cause(body, previous.conditions if previous else (), status)
    await set_status(runtime, body, resource_path(KIND, body), status)
    return any(c.type == READY and c.status == "True" for c in status.conditions)


RESOURCE_KIND: Final = ResourceKind(
    kind=KIND,
    plural=PLURAL,
    selector_label=build.SELECTOR_LABEL,
    referenced_config_maps=_referenced_config_maps,
    loop=standalone_loop,
)
