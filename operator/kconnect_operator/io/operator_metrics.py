"""The operator's metrics, on the registry it shares with the worker (`kconnect.prometheus`).

The operator's metrics are defined here at module level on `REGISTRY`, so a handler imports the
object it updates (`operator_metrics.RECONCILES`) and the health server renders the same registry
on `/metrics`. The registry itself (its invariants: exact label sets, counters that only go up,
deterministic and escaped output) lives in `kconnect.prometheus`; its names are re-exported here
so the operator has one module to import.
"""

from __future__ import annotations

from importlib import metadata
from typing import Final

from kconnect.prometheus import CONTENT_TYPE, Counter, Gauge, Registry

__all__ = [
    "AUTO_RESTARTS",
    "CONNECTOR_READY",
    "CONNECTOR_TASKS",
    "CONNECTOR_WORKERS_DESIRED",
    "CONNECTOR_WORKERS_READY",
    "CONTENT_TYPE",
    "INFO",
    "LEADER",
    "PER_CONNECTOR",
    "RECONCILES",
    "REGISTRY",
    "RESOURCE_SYNCS",
    "REST_REQUESTS",
    "RESULT_ERROR",
    "RESULT_OK",
    "Counter",
    "Gauge",
    "Registry",
    "forget_connector",
]

RESULT_OK: Final = "ok"
RESULT_ERROR: Final = "error"
"""The values of the `result` label of `RECONCILES`."""


def _version() -> str:
    try:
        return metadata.version("kconnect")
    except metadata.PackageNotFoundError:
        return "unknown"


# --------------------------------------------------------------------------------------------------
# The operator's metrics.

REGISTRY: Final = Registry()

LEADER: Final = Gauge(
    "kconnect_operator_leader",
    "1 when this replica holds the leader lease and runs the handlers, 0 while it stands by.",
    registry=REGISTRY,
)
INFO: Final = Gauge(
    "kconnect_operator_info",
    "Always 1; the version label says which kconnect operator runs.",
    ("version",),
    registry=REGISTRY,
)
RECONCILES: Final = Counter(
    "kconnect_operator_reconcile_total",
    "Reconciliations of a resource kind, by result (ok or error).",
    ("kind", "result"),
    registry=REGISTRY,
)
REST_REQUESTS: Final = Counter(
    "kconnect_operator_rest_requests_total",
    "Requests to the workers' REST APIs, by method and HTTP status code (0 when no response came).",
    ("method", "code"),
    registry=REGISTRY,
)
CONNECTOR_READY: Final = Gauge(
    "kconnect_operator_connector_ready",
    "1 when the connector's Ready condition is True, else 0.",
    ("namespace", "name"),
    registry=REGISTRY,
)
CONNECTOR_TASKS: Final = Gauge(
    "kconnect_operator_connector_tasks",
    "The connector's tasks, by state (RUNNING, PAUSED, FAILED, UNASSIGNED, ...).",
    ("namespace", "name", "state"),
    registry=REGISTRY,
)
CONNECTOR_WORKERS_READY: Final = Gauge(
    "kconnect_operator_connector_workers_ready",
    "The ready worker pods of the connector's cluster.",
    ("namespace", "name"),
    registry=REGISTRY,
)
CONNECTOR_WORKERS_DESIRED: Final = Gauge(
    "kconnect_operator_connector_workers_desired",
    "The worker pods the resource asks for (spec.replicas), to compare with the ready ones.",
    ("namespace", "name"),
    registry=REGISTRY,
)
AUTO_RESTARTS: Final = Counter(
    "kconnect_operator_auto_restarts_total",
    "Restarts of failed connectors or tasks that the operator made on its own.",
    ("namespace", "name"),
    registry=REGISTRY,
)

RESOURCE_SYNCS: Final = Counter(
    "kconnect_operator_resource_syncs_total",
    "Passes of the operator's loop over one resource (its workers, REST state and status), "
    "ok or not.",
    ("kind", "namespace", "name"),
    registry=REGISTRY,
)

PER_CONNECTOR: Final = (
    RESOURCE_SYNCS,
    CONNECTOR_READY,
    CONNECTOR_TASKS,
    CONNECTOR_WORKERS_READY,
    CONNECTOR_WORKERS_DESIRED,
    AUTO_RESTARTS,
)
"""The metrics with one or more series per connector, labelled by `namespace` and `name`."""

INFO.set(1, version=_version())


def forget_connector(namespace: str, name: str) -> None:
    """Drops every series of one connector, e.g. once the resource is deleted."""
    for metric in PER_CONNECTOR:
        metric.remove(namespace=namespace, name=name)
