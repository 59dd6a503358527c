"""A KConnectCluster's pass and its loop; `RESOURCE_KIND` registers them.

A KConnectCluster is a KafkaConnector's worker cluster on its own: the same builders
(`build.build_children` with a `ClusterOwner`) and the same worker decisions
(`decide.decide_workers`: children, scale-down markers, exactly-once rolls) through the same
shell (`io.shell.sync`). Only what it adds is here and in `decide.decide_cluster`:

- **observe**: the connectors on its workers (`GET /connectors?expand=status`), then the
  KafkaConnectors in its namespace whose `spec.cluster` names it. In that order: a connector that
  a KafkaConnector's pass creates after the first read is not seen by it, and one created before
  it belongs to a resource that the second read lists.
- **decide**: a connector no KafkaConnector names any more is deleted from the workers (its
  resource was deleted: a KafkaConnector on a shared cluster needs no finalizer, and an operator
  that was down at the deletion removes it on its next pass), as Strimzi removes connectors a
  KafkaConnect with `use-connector-resources` has no KafkaConnector for.

Deleting the KConnectCluster garbage-collects its workers, as for a dedicated connector; Kafka
keeps its topics (there is no `deletionPolicy: Delete` for a cluster yet). The KafkaConnectors
that name it stay, Ready=False with reason `ClusterNotFound`, and come back with their configs
(kept in the config topic) when a cluster of the same name is created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import kopf

from kconnect_operator.core import manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.manifests import REST_PORT
from kconnect_operator.core.shapes import GROUP, VERSION, ConnectorStatus
from kconnect_operator.io.kube import collection_path
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
from kconnect_operator.kafkaconnector import build, decide
from kconnect_operator.kafkaconnector.model import (
    CLUSTER_KIND,
    CLUSTER_PLURAL,
    KIND,
    KConnectClusterSpec,
    KConnectClusterStatus,
)

RESOURCE: Final = (GROUP, VERSION, CLUSTER_PLURAL)


async def named_by(runtime: Runtime, namespace: str, cluster: str) -> frozenset[str]:
    """The KafkaConnectors in `namespace` whose `spec.cluster` is `cluster`."""
    items = await runtime.kube.list(collection_path(f"{GROUP}/{VERSION}", KIND, namespace))
    return frozenset(
        str(item["metadata"]["name"])
        for item in items
        if (item.get("spec") or {}).get("cluster") == cluster
    )


async def observe(runtime: Runtime, body: kopf.Body) -> decide.ClusterObserved:
    """The spec, the children and pods (as for a dedicated connector's workers), the connectors
    on the workers, then the KafkaConnectors that name the cluster."""
    meta = body["metadata"]
    spec = parse_spec(KConnectClusterSpec, body)
    owner = build.ClusterOwner(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
    previous = stored_status(KConnectClusterStatus, body)
    secret_versions, config_map_versions, live, pods = await observe_workload(
        runtime, body, spec, build.worker_child_keys(owner), manifests.selector_string(owner)
    )
    workers = core_status.ready_workers(pods, REST_PORT)
    connectors: dict[str, ConnectorStatus] | None = None
    rest_error: str | None = None
    if workers:
        client = connect_client(runtime, [w.url for w in workers])
        try:
            raw = await client.connectors_status()
        except WorkerRestError as e:
            rest_error = e.message
        else:
            connectors = {}
            for name, entry in raw.items():
                status = entry.get("status") if isinstance(entry, dict) else None
                if isinstance(status, dict):
                    connectors[str(name)] = core_status.connector_status(status)
    return decide.ClusterObserved(
        spec=spec,
        owner=owner,
        generation=meta.get("generation"),
        previous=previous,
        options=runtime.options,
        secret_versions=secret_versions,
        config_map_versions=config_map_versions,
        live=live,
        pods=pods,
        now=datetime.now(UTC),
        connectors=connectors,
        named=await named_by(runtime, owner.namespace, owner.name),
        rest_error=rest_error,
        loggers=await observe_loggers(runtime, workers, spec, previous),
        kafka_secrets=await kafka_secret_facts(runtime, meta["namespace"], spec),
    )


async def cluster_loop(
    runtime: Runtime, namespace: str, name: str, uid: str, logger: kopf.Logger
) -> None:
    """The cluster's loop (`run_loop`) of passes (`io.shell.sync`), until it is gone."""
    claim = Claim()
    one = Pass(
        kind=CLUSTER_KIND,
        what="cluster",
        rest_api="the workers' REST API",
        observe=observe,
        decide=decide.decide_cluster,
        status_model=KConnectClusterStatus,
    )
    await run_loop(
        runtime,
        (namespace, RESOURCE_KIND.wake_key(name)),
        lambda: sync(runtime, one, namespace, name, uid, claim, logger),
        kind=CLUSTER_KIND,
        name=name,
        what="the cluster",
        logger=logger,
    )


RESOURCE_KIND: Final = ResourceKind(
    kind=CLUSTER_KIND,
    plural=CLUSTER_PLURAL,
    selector_label=build.CLUSTER_SELECTOR_LABEL,
    parse_spec=KConnectClusterSpec.model_validate,
    loop=cluster_loop,
)
