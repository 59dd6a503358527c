"""What the operator decides about a `StandaloneConnect`'s status, as pure functions.

The handlers observe the worker pod (from the API server) and `GET /connectors?expand=status`
(from the pod's REST API) and call `build_status`; nothing here does I/O or reads a clock.

Invariants:
- **Ready is True only when the ready pod runs the current config** (its `kconnect.io/config-hash`
  is the desired one), **runs exactly the listed connectors**, and every one of them and every
  task is RUNNING. While a roll is in progress the reason is Updating.
- **Ready is False while anything is FAILED,** with the first failure's summary.
- **A worker that does not run says why:** while no worker is ready and its container exits with
  an error, cannot start (a missing Secret or ConfigMap, an image that cannot be pulled) or its
  pod cannot be scheduled, the reason is WorkerFailed and the message is what the pod, the
  StatefulSet or the API server says (for an exit, the error the worker printed last).
- **A child the API server refuses** makes the reason ApplyFailed, with its message.
- **A condition's lastTransitionTime moves only when its status changes.**
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from kconnect.errors import ConfigError
from kconnect.storage.states import State
from kconnect_operator.core import children
from kconnect_operator.core.actions import Action, ApplyChildren, Outcome
from kconnect_operator.core.kafka_security import SecretFacts, SecretReferenceError
from kconnect_operator.core.manifests import (
    CONFIG_HASH_ANNOTATION,
    REST_PORT,
)
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import READY, ConditionStatus, JsonObject, KafkaAccessReason
from kconnect_operator.core.status import (
    connector_status,
    log_level_actions,
    ready,
    ready_workers,
    spec_workers_cause,
    trace_summary,
)
from kconnect_operator.standaloneconnect.build import (
    Owner,
    build_children,
    child_name,
    config_hash,
)
from kconnect_operator.standaloneconnect.model import (
    NamedConnectorStatus,
    StandaloneConnectSpec,
    StandaloneConnectStatus,
    StandaloneFailedTask,
    StandaloneReadyReason,
)


def connector_statuses(raw: Mapping[str, Any]) -> list[NamedConnectorStatus]:
    """The body of `GET /connectors?expand=status`, by connector name."""
    out = []
    for name, entry in sorted(raw.items()):
        status = connector_status((entry or {}).get("status") or {})
        out.append(
            NamedConnectorStatus(
                name=str(name),
                state=status.state,
                worker=status.worker,
                trace=status.trace,
                tasks=status.tasks,
            )
        )
    return out


def pod_config_hash(pod: JsonObject, annotation: str) -> str | None:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(annotation)
    return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Observation:
    """What the handlers saw in one pass."""

    generation: int | None
    workers_ready: int
    current: bool
    """The ready pod runs the desired config hash."""
    connectors: Sequence[NamedConnectorStatus] | None
    """From the ready pod's REST API; None when unknown."""
    config_error: str | None = None
    """Why the spec cannot become a worker (a worker config the worker would refuse)."""
    config_reason: StrEnum | None = None
    """The Ready reason of `config_error` when it is not InvalidConfig (a missing Secret)."""
    unreachable: str | None = None
    worker_failure: str | None = None
    """Why the worker does not run, when something says so (`core.status.workers_cause`)."""
    apply_error: str | None = None
    """Why the API server refused a child."""


def _healthy(connector: NamedConnectorStatus) -> bool:
    return (
        connector.state == State.RUNNING
        and bool(connector.tasks)
        and all(t.state == State.RUNNING for t in connector.tasks)
    )


def ready_condition(
    spec: StandaloneConnectSpec, obs: Observation
) -> tuple[ConditionStatus, StrEnum, str]:
    """The Ready condition's status, reason and message (`core.status.ready` names a worker,
    connector or task failure that is a Kafka access error more precisely)."""
    false, reason = ConditionStatus.FALSE, StandaloneReadyReason
    if obs.config_error is not None:
        return false, obs.config_reason or reason.INVALID_CONFIG, obs.config_error
    if obs.apply_error is not None:
        return false, reason.APPLY_FAILED, obs.apply_error
    if obs.workers_ready == 0:
        if obs.worker_failure is not None:
            return false, reason.WORKER_FAILED, obs.worker_failure
        return false, reason.WORKERS_NOT_READY, "the worker pod is not ready"
    if obs.connectors is None:
        return false, reason.PENDING, obs.unreachable or "the worker does not answer yet"
    for connector in obs.connectors:
        if connector.state == State.FAILED:
            return (
                false,
                reason.CONNECTOR_FAILED,
                f"connector {connector.name} FAILED: {trace_summary(connector.trace)}".rstrip(": "),
            )
        failed = [t for t in connector.tasks if t.state == State.FAILED]
        if failed:
            first = failed[0]
            return (
                false,
                reason.TASK_FAILED,
                (
                    f"connector {connector.name}: {len(failed)} of {len(connector.tasks)} tasks "
                    f"FAILED; task {first.id}: {trace_summary(first.trace)}"
                ).rstrip(": "),
            )
    if not obs.current:
        return false, reason.UPDATING, "the worker pod runs an older config; rolling it"
    wanted = [c.name for c in spec.connectors]
    running = {c.name: c for c in obs.connectors}
    missing = [n for n in wanted if n not in running]
    extra = sorted(set(running) - set(wanted))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"not running yet: {', '.join(missing)}")
        if extra:
            parts.append(f"running but not listed: {', '.join(extra)}")
        return false, reason.PENDING, "; ".join(parts)
    pending = [n for n in wanted if not _healthy(running[n])]
    if pending:
        return false, reason.PENDING, f"not RUNNING yet: {', '.join(pending)}"
    tasks = sum(len(c.tasks) for c in obs.connectors)
    return (
        ConditionStatus.TRUE,
        reason.RUNNING,
        f"{len(wanted)} connectors and {tasks} tasks are RUNNING",
    )


def build_status(
    spec: StandaloneConnectSpec,
    obs: Observation,
    *,
    previous: StandaloneConnectStatus | None,
    now: datetime,
    applied: list[str] | None = None,
) -> StandaloneConnectStatus:
    status, reason, message = ready_condition(spec, obs)
    condition = ready(
        status,
        reason,
        message,
        previous=previous.conditions if previous else (),
        generation=obs.generation,
        now=now,
    )
    connectors = list(obs.connectors or [])
    failed = [
        StandaloneFailedTask(connector=c.name, id=t.id, message=trace_summary(t.trace))
        for c in connectors
        for t in c.tasks
        if t.state == State.FAILED
    ]
    return StandaloneConnectStatus(
        conditions=[condition],
        observed_generation=obs.generation,
        connectors=connectors,
        connectors_ready=sum(1 for c in connectors if _healthy(c)),
        tasks_ready=sum(1 for c in connectors for t in c.tasks if t.state == State.RUNNING),
        failed_tasks=failed,
        failed_tasks_count=len(failed),
        workers_ready=obs.workers_ready,
        applied_loggers=applied,
    )


# --------------------------------------------------------------------------------------------------
# One pass: what was observed, and the one decision over it.


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything one pass read before deciding."""

    spec: StandaloneConnectSpec
    owner: Owner
    generation: int | None
    previous: StandaloneConnectStatus | None
    options: OperatorOptions
    secret_versions: Mapping[str, str]
    config_map_versions: Mapping[str, str]
    live: Mapping[str, JsonObject | None]
    pods: Sequence[JsonObject]
    now: datetime
    connectors: Mapping[str, Any] | None = None
    kafka_secrets: Mapping[str, SecretFacts] = field(default_factory=dict)
    """What the Secrets `spec.tls` and `spec.authentication` name hold (keys and digests); a
    missing one is absent."""
    """The ready worker's `GET /connectors?expand=status`; None when unknown."""
    rest_error: str | None = None
    loggers: Mapping[str, Mapping[str, str | None] | str] = field(default_factory=dict)
    """Each ready worker's levels of the targeted loggers, or why they could not be read."""


@dataclass(frozen=True, slots=True)
class Decision:
    actions: tuple[Action, ...]
    status: StandaloneConnectStatus
    ready: bool


def decide(o: Observed, outcome: Outcome | None = None) -> Decision:
    """The actions of one pass (apply the children, set log levels) and the status they lead
    to; given what came of them (`outcome`), the status says what failed."""
    done = outcome or Outcome()
    spec, owner = o.spec, o.owner
    actions: list[Action] = []
    config_error: str | None = None
    config_reason: StrEnum | None = None
    desired = ""
    try:
        wanted = build_children(
            spec,
            owner,
            image=o.options.image,
            secret_versions=o.secret_versions,
            config_map_versions=o.config_map_versions,
            operator_namespace=o.options.operator_namespace,
            operator_labels=o.options.operator_labels,
            kafka_secrets=o.kafka_secrets,
        )
        desired = config_hash(
            spec, owner, o.secret_versions, o.config_map_versions, o.kafka_secrets
        )
    except ConfigError as e:
        config_error = str(e)
        if isinstance(e, SecretReferenceError):
            config_reason = KafkaAccessReason.SECRET_MISSING
    else:
        reconciled_before = o.previous is not None and bool(o.previous.conditions)
        plan = children.plan(wanted, o.live, reconciled_before=reconciled_before)
        actions.append(ApplyChildren(plan, "worker pod"))

    workers = ready_workers(o.pods, REST_PORT)
    by_name = {p["metadata"]["name"]: p for p in o.pods}
    current = bool(workers) and all(
        pod_config_hash(by_name[w.pod], CONFIG_HASH_ANNOTATION) == desired for w in workers
    )
    connectors = None
    unreachable = None
    if workers:
        if o.rest_error is not None:
            unreachable = f"the worker's REST API: {o.rest_error}"
        elif o.connectors is not None:
            connectors = connector_statuses(o.connectors)

    remembered = o.previous.applied_loggers if o.previous else None
    levels, applied = log_level_actions(workers, o.loggers, spec, remembered, done.logger_failures)
    actions.extend(levels)

    live = done.live if done.live is not None else o.live
    observation = Observation(
        generation=o.generation,
        workers_ready=len(workers),
        current=current,
        connectors=connectors,
        config_error=config_error,
        config_reason=config_reason,
        unreachable=unreachable,
        apply_error=done.apply_error,
        worker_failure=spec_workers_cause(
            o.pods,
            live.get(f"StatefulSet/{child_name(owner)}"),
            spec,
            o.secret_versions,
            o.config_map_versions,
        ),
    )
    status = build_status(spec, observation, previous=o.previous, now=o.now, applied=applied)
    ready_now = any(c.type == READY and c.status == "True" for c in status.conditions)
    return Decision(tuple(actions), status, ready_now)
