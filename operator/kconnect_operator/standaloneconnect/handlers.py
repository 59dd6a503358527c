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
from typing import Any, Final

import kopf

from kconnect_operator.core import manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.manifests import REST_PORT
from kconnect_operator.core.shapes import GROUP, VERSION
from kconnect_operator.io.shell import (
    Claim,
    Pass,
    ResourceKind,
    Runtime,
    connect_client,
    kafka_secret_facts,
    observe_loggers,
    observe_workload,
    parse_spec,
    run_loop,
    stored_status,
    sync,
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


async def standalone_loop(
    runtime: Runtime, namespace: str, name: str, uid: str, logger: kopf.Logger
) -> None:
    """The resource's loop (`run_loop`) of passes (`io.shell.sync`), until it is gone."""
    claimed = Claim()
    await run_loop(
        runtime,
        (namespace, RESOURCE_KIND.wake_key(name)),
        lambda: sync(runtime, PASS, namespace, name, uid, claimed, logger),
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


async def observe(runtime: Runtime, body: kopf.Body) -> decide.Observed:
    """Everything a pass decides on: the spec, the referenced Secrets' and ConfigMaps' versions,
    the children, the worker pod and, from it when ready, its connectors' statuses and its log
    levels."""
    meta = body["metadata"]
    spec = parse_spec(StandaloneConnectSpec, body)
    owner = _owner(body)
    previous = stored_status(StandaloneConnectStatus, body)
    secret_versions, config_map_versions, live, pods = await observe_workload(
        runtime, body, spec, _child_keys(owner), manifests.selector_string(owner)
    )
    workers = core_status.ready_workers(pods, REST_PORT)
    connectors = None
    rest_error = None
    if workers:
        client = connect_client(runtime, [w.url for w in workers])
        try:
            connectors = await client.connectors_status()
        except WorkerRestError as e:
            rest_error = e.message
    return decide.Observed(
        spec=spec,
        owner=owner,
        generation=meta.get("generation"),
        previous=previous,
        options=runtime.options,
        secret_versions=secret_versions,
        config_map_versions=config_map_versions,
        kafka_secrets=await kafka_secret_facts(runtime, meta["namespace"], spec),
        live=live,
        pods=pods,
        now=datetime.now(UTC),
        connectors=connectors,
        rest_error=rest_error,
        loggers=await observe_loggers(runtime, workers, spec, previous),
    )


PASS: Final = Pass(
    kind=KIND,
    what="standalone",
    rest_api="the worker's REST API",
    observe=observe,
    decide=decide.decide,
    status_model=StandaloneConnectStatus,
)


RESOURCE_KIND: Final = ResourceKind(
    kind=KIND,
    plural=PLURAL,
    selector_label=build.SELECTOR_LABEL,
    parse_spec=StandaloneConnectSpec.model_validate,
    loop=standalone_loop,
)
