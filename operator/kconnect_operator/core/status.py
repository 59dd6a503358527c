"""What the workers and their pods say, and the conditions built from it: pure, for both kinds.

The handlers observe (pods from the API server, a worker's REST answers), call these functions,
and carry out what they return. Nothing here does I/O or reads a clock: `now` is an argument, so
every decision is reproducible in a unit test. Connector and task states are the worker's own
enum (`kconnect.storage.states.State`).

Invariants:
- **A worker counts once it is Ready and not terminating** (`ready_workers`), reached at its pod
  IP on the REST port.
- **Why workers do not run is said in one line** (`workers_cause`): a missing Secret or
  ConfigMap, a crash-looping container's own message, what the workload or the pods report.
- **A Kafka access failure is named as such** (`refine_reason`): a worker, connector or task
  failure whose message is the worker's own authentication, TLS, ACL or token endpoint error
  (`kconnect.worker.client_errors`) gets the matching `KafkaAccessReason`, which, like every
  reason in `CAUSE_REASONS`, is also a Warning Event. The messages hold no secret: the worker's
  never do.
- **A condition's lastTransitionTime moves only when its status changes** (`ready`).
- **The status is written only when it changed** (`status_patch`), and a Warning Event is due
  only when the Ready condition names a new cause (`cause_event`).
- **Log levels are sent only where a worker's differ,** each worker compared on its own, and in
  an order that leaves every logger at its wanted level although setting a logger also sets its
  descendants on the worker. A logger removed from the spec is set back to the root's wanted
  level once, and forgotten only after every ready worker has it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from kconnect_operator.core.actions import SetLogLevels
from kconnect_operator.core.manifests import (
    WORKER_CONTAINER,
    referenced_config_maps,
    referenced_secrets,
)
from kconnect_operator.core.shapes import (
    DEFAULT_LOG_LEVEL,
    READY,
    ROOT_LOGGER,
    Condition,
    ConditionStatus,
    ConnectorStatus,
    JsonObject,
    KafkaAccessReason,
    LogLevel,
    ReadyReason,
    TaskStatus,
    WorkerSpec,
    trim_trace,
)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Worker:
    pod: str
    url: str
    """The base URL of the worker's REST API, e.g. `http://10.0.0.7:8083`."""


def _is_ready(pod: JsonObject) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def is_terminating(pod: JsonObject) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def _url(ip: str, port: int) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}"


def ready_workers(pods: Sequence[JsonObject], port: int) -> list[Worker]:
    """The ready endpoints of the workers' Service, as the EndpointSlice controller would list
    them: pods that are Ready, have an IP and are not terminating, by name."""
    workers = [
        Worker(pod=pod["metadata"]["name"], url=_url(pod["status"]["podIP"], port))
        for pod in pods
        if _is_ready(pod) and not is_terminating(pod) and pod.get("status", {}).get("podIP")
    ]
    return sorted(workers, key=lambda w: w.pod)


def _is_root(name: str) -> bool:
    return name.lower() == ROOT_LOGGER


def logger_targets(wanted: Mapping[str, LogLevel], applied: Collection[str]) -> dict[str, LogLevel]:
    """The level each logger must have on every worker: the wanted ones, and each one `applied`
    before but no longer wanted, back at the root's wanted level (INFO when the spec does not
    name `root`). Loggers the spec never named are left as the worker has them."""
    root = next((level for name, level in wanted.items() if _is_root(name)), DEFAULT_LOG_LEVEL)
    removed = {name: root for name in applied if name not in wanted}
    return {**removed, **wanted}


def _ancestor_first(name: str) -> tuple[int, int, str]:
    return (0 if _is_root(name) else 1, name.count("."), name)


def _below(name: str, ancestor: str) -> bool:
    """Whether setting `ancestor` on a worker also sets `name` (Kafka's `/admin/loggers` sets a
    logger and its descendants; the root, every logger)."""
    return name != ancestor and (_is_root(ancestor) or name.startswith(ancestor + "."))


def logger_changes(
    targets: Mapping[str, LogLevel], observed: Mapping[str, str | None]
) -> list[tuple[str, LogLevel]]:
    """The `PUT /admin/loggers/{name}` requests, in order, that bring one worker's loggers to
    `targets`.

    `observed` is each target logger's level as the worker reports it (None when it reports
    none, e.g. a logger that does not exist yet). A PUT on a logger also sets its descendants on
    the worker, so loggers are visited ancestors first, and after a PUT every target below it is
    taken to be at the ancestor's level: a child whose level the parent's PUT overwrote is set
    again, and a child that already had its level but is about to be overwritten is set too."""
    predicted: dict[str, str | None] = {name: observed.get(name) for name in targets}
    changes: list[tuple[str, LogLevel]] = []
    for name in sorted(targets, key=_ancestor_first):
        level = targets[name]
        if predicted[name] == level.value:
            continue
        changes.append((name, level))
        predicted[name] = level.value
        for other in targets:
            if _below(other, name):
                predicted[other] = level.value
    return changes


def applied_loggers(
    wanted: Mapping[str, LogLevel], previous: Collection[str], *, synced: bool
) -> list[str] | None:
    """The loggers to remember as applied (None for none): the wanted ones once every ready
    worker has its targets (`synced`); until then also the previously applied ones, so a
    removed logger is reset on a later pass."""
    names = set(wanted) if synced else set(wanted) | set(previous)
    return sorted(names) or None


ERROR_PREFIX: Final = "kconnect: error:"
"""How the kconnect CLI starts the line that says why it exits."""


WAITING_FAILURES: Final = frozenset(
    {
        "CreateContainerConfigError",
        "CreateContainerError",
        "ErrImagePull",
        "ErrImageNeverPull",
        "ImagePullBackOff",
        "InvalidImageName",
        "RunContainerError",
    }
)
"""Reasons a container waits that the kubelet will not resolve by itself."""


def _exit_message(terminated: Mapping[str, Any]) -> str:
    lines = [line.strip() for line in str(terminated.get("message") or "").splitlines()]
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    if errors:
        return errors[-1]
    filled = [line for line in lines if line]
    if filled:
        return filled[-1]
    return f"the worker exited with code {terminated.get('exitCode')}"


def _pod_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name") or "a worker pod")


def worker_failure(pods: Sequence[JsonObject], container: str) -> str | None:
    """Why the `container` of the first failing pod does not run, or None when none fails.

    A container crash-loops when it is waiting in CrashLoopBackOff, or when its current or last
    run ended with a non-zero exit code. The message is the last `kconnect: error:` line of the
    termination message (the log tail, with `terminationMessagePolicy: FallbackToLogsOnError`),
    else its last non-empty line, else the exit code. A container that cannot start (a missing
    Secret or ConfigMap key, an image that cannot be pulled) says so with the kubelet's reason
    and message, and a pod that cannot be scheduled with the scheduler's."""
    for pod in pods:
        if is_terminating(pod):
            continue
        status = pod.get("status") or {}
        for cs in status.get("containerStatuses") or []:
            if cs.get("name") != container:
                continue
            state = cs.get("state") or {}
            last = cs.get("lastState") or {}
            waiting = state.get("waiting") or {}
            terminated = [t for t in (state.get("terminated"), last.get("terminated")) if t]
            failed = [t for t in terminated if t.get("exitCode", 0) != 0]
            if waiting.get("reason") in WAITING_FAILURES:
                message = str(waiting.get("message") or "").strip()
                return f"pod {_pod_name(pod)}: {waiting['reason']}" + (
                    f": {message}" if message else ""
                )
            if failed:
                return _exit_message(failed[0])
            if waiting.get("reason") == "CrashLoopBackOff":
                return _exit_message(terminated[0] if terminated else {"exitCode": "unknown"})
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                message = str(condition.get("message") or condition.get("reason") or "").strip()
                return f"pod {_pod_name(pod)} cannot be scheduled: {message}".rstrip(": ")
        if status.get("phase") == "Failed":
            why = ": ".join(str(x) for x in (status.get("reason"), status.get("message")) if x)
            return f"pod {_pod_name(pod)} failed" + (f": {why}" if why else "")
    return None


def workload_failure(workload: Mapping[str, Any] | None) -> str | None:
    """Why the Deployment or StatefulSet cannot make its pods (its ReplicaFailure condition, or
    a Progressing condition that gave up), or None."""
    if workload is None:
        return None
    kind, name = workload.get("kind", "the workload"), _pod_name(workload)
    for condition in (workload.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "ReplicaFailure" and condition.get("status") == "True":
            return f"{kind} {name} cannot create pods: {condition.get('message', '')}".rstrip(": ")
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            return f"{kind} {name}: {condition.get('message', '')}".rstrip(": ")
    return None


def missing_references(
    secrets: Sequence[str],
    secret_versions: Mapping[str, str],
    config_maps: Sequence[str],
    config_map_versions: Mapping[str, str],
) -> str | None:
    """The referenced Secrets and ConfigMaps that do not exist, or None."""
    missing = [f"Secret {n}" for n in secrets if n not in secret_versions]
    missing += [f"ConfigMap {n}" for n in config_maps if n not in config_map_versions]
    if not missing:
        return None
    verb = "does" if len(missing) == 1 else "do"
    return f"{', '.join(missing)} {verb} not exist (referenced by spec.externalConfiguration)"


def workers_cause(
    pods: Sequence[JsonObject],
    workload: Mapping[str, Any] | None,
    container: str,
    missing: str | None,
) -> str | None:
    """Why no worker is ready, as the pods, the workload and the API server tell it: a pod's
    failure first (it is the most precise), then a missing reference, then the workload's."""
    return worker_failure(pods, container) or missing or workload_failure(workload)


def spec_workers_cause(
    pods: Sequence[JsonObject],
    workload: Mapping[str, Any] | None,
    spec: WorkerSpec,
    secret_versions: Mapping[str, str],
    config_map_versions: Mapping[str, str],
) -> str | None:
    """`workers_cause` of a spec's worker container, with the Secrets and ConfigMaps it names
    that do not exist."""
    missing = missing_references(
        referenced_secrets(spec),
        secret_versions,
        referenced_config_maps(spec),
        config_map_versions,
    )
    return workers_cause(pods, workload, WORKER_CONTAINER, missing)


def log_level_actions(
    workers: Sequence[Worker],
    observed: Mapping[str, Mapping[str, str | None] | str],
    spec: WorkerSpec,
    remembered: Collection[str] | None,
    failed: Collection[str] = (),
) -> tuple[list[SetLogLevels], list[str] | None]:
    """The log levels to set on each ready worker whose `observed` levels differ from the
    spec's, and the loggers to remember as applied (`remembered`: the ones the status
    remembers). `observed` holds a worker's levels of the targets, or why they could not be
    read; `failed` names the workers whose levels could not be set (after acting): a removed
    logger is forgotten only once every ready worker was reached."""
    wanted, previous = spec.logging.loggers, remembered or []
    targets = logger_targets(wanted, previous)
    actions: list[SetLogLevels] = []
    for worker in workers if targets else ():
        levels = observed.get(worker.pod)
        if not isinstance(levels, str) and levels is not None:
            changes = logger_changes(targets, levels)
            if changes:
                actions.append(SetLogLevels(worker.pod, worker.url, tuple(changes)))
    unread = any(isinstance(levels, str) for levels in observed.values())
    synced = bool(workers) and not unread and not failed
    return actions, applied_loggers(wanted, previous, synced=synced)


def connector_status(raw: Mapping[str, Any]) -> ConnectorStatus:
    """The REST API's `GET /connectors/{c}/status` body, trimmed for the resource's status."""
    connector = raw.get("connector") or {}
    tasks = [
        TaskStatus(
            id=int(task["id"]),
            state=str(task.get("state", "UNASSIGNED")),
            worker=str(task.get("worker_id", "")),
            trace=trim_trace(task.get("trace")),
        )
        for task in raw.get("tasks") or []
    ]
    return ConnectorStatus(
        state=str(connector.get("state", "UNASSIGNED")),
        worker=str(connector.get("worker_id", "")),
        trace=trim_trace(connector.get("trace")),
        tasks=sorted(tasks, key=lambda t: t.id),
        type=raw["type"] if raw.get("type") in ("source", "sink") else None,
    )


def trace_summary(trace: str | None) -> str:
    """The line of a trace that says what failed: the first line of a Java trace (the exception),
    the last line of a Python traceback."""
    lines = [line for line in (trace or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].strip() if lines[0].startswith("Traceback") else lines[0].strip()


_KAFKA_ACCESS: Final[tuple[tuple[str, KafkaAccessReason], ...]] = (
    # The worker's own words (kconnect.worker.client_errors), most specific first.
    ("no OAuth token could be fetched", KafkaAccessReason.TOKEN_ENDPOINT_UNREACHABLE),
    ("authentication failed:", KafkaAccessReason.AUTHENTICATION_FAILED),
    ("missing ACL:", KafkaAccessReason.AUTHORIZATION_FAILED),
    ("TLS: ", KafkaAccessReason.TLS_FAILED),
    ("TLS handshake refused", KafkaAccessReason.TLS_FAILED),
)


FAILURE_REASONS: Final = frozenset({"WorkerFailed", "ConnectorFailed", "TaskFailed"})
"""Ready reasons whose message may be a worker's Kafka access error."""


def kafka_access_reason(message: str) -> KafkaAccessReason | None:
    """The reason a worker's, connector's or task's failure `message` names when it is one of
    the worker's Kafka authentication, TLS, authorization or token endpoint errors."""
    for marker, reason in _KAFKA_ACCESS:
        if marker in message:
            return reason
    return None


def refine_reason(reason: StrEnum, message: str) -> StrEnum:
    """`reason`, or the Kafka access reason its failure message names (a `FAILURE_REASONS`
    failure that is an authentication, TLS, ACL or token endpoint error)."""
    if reason.value not in FAILURE_REASONS:
        return reason
    return kafka_access_reason(message) or reason


def ready(
    status: ConditionStatus,
    reason: StrEnum,
    message: str,
    *,
    previous: Sequence[Condition],
    generation: int | None,
    now: datetime,
) -> Condition:
    """The Ready condition, keeping the previous one's lastTransitionTime while its status
    stays the same."""
    reason = refine_reason(reason, message)
    old = next((c for c in previous if c.type == READY), None)
    since = old.last_transition_time if old is not None and old.status == status else None
    return Condition(
        type=READY,
        status=status,
        reason=reason.value,
        message=message,
        last_transition_time=since or rfc3339(now),
        observed_generation=generation,
    )


CAUSE_REASONS: Final = frozenset(
    {
        ReadyReason.INVALID_CONFIG.value,
        ReadyReason.APPLY_FAILED.value,
        ReadyReason.WORKER_FAILED.value,
        ReadyReason.CLUSTER_NOT_FOUND.value,
        *(reason.value for reason in KafkaAccessReason),
    }
)
"""Ready reasons that name a cause someone must act on: each new one is also a Warning Event."""


S = TypeVar("S", bound=BaseModel)


def invalid_spec_status(
    model: type[S], stored: S | None, message: str, *, generation: int | None, now: datetime
) -> S:
    """The status of a resource whose spec the models refuse where the CRD could not (a config
    value that is not a setting, a config too large): the stored status, kept as the workers last
    reported it, with Ready False for `InvalidConfig` and `message`, which names the field."""
    base = stored if stored is not None else model()
    previous: Sequence[Condition] = getattr(base, "conditions", ())
    condition = ready(
        ConditionStatus.FALSE,
        ReadyReason.INVALID_CONFIG,
        message,
        previous=previous,
        generation=generation,
        now=now,
    )
    others = [c for c in previous if c.type != READY]
    return base.model_copy(
        update={"conditions": [*others, condition], "observed_generation": generation}
    )


def cause_event(
    previous: Sequence[Condition], current: Sequence[Condition]
) -> tuple[str, str] | None:
    """The Warning Event (reason, message) to post when the Ready condition newly names a cause
    (`CAUSE_REASONS`): one per cause, not one per pass."""
    new = next((c for c in current if c.type == READY), None)
    old = next((c for c in previous if c.type == READY), None)
    if new is None or new.status != ConditionStatus.FALSE or new.reason not in CAUSE_REASONS:
        return None
    if old is not None and (old.reason, old.message) == (new.reason, new.message):
        return None
    return new.reason, new.message


def status_body(status: BaseModel) -> JsonObject:
    """The status as the resource stores it: unset fields are absent."""
    return status.model_dump(by_alias=True, mode="json", exclude_none=True)


def status_keys(model: type[BaseModel]) -> frozenset[str]:
    """The keys of a status model, as the resource stores them."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def status_patch(new: BaseModel, current: Mapping[str, Any] | None) -> JsonObject | None:
    """A merge patch that makes `current` (the stored status) equal `new` (either kind's
    status), or None when it already is. Keys the new status lacks are removed, so stale state
    never lingers."""
    keys = status_keys(type(new))
    body = status_body(new)
    current = dict(current or {})
    if {k: v for k, v in current.items() if k in keys} == body:
        return None
    patch: JsonObject = {k: None for k in current if k in keys and k not in body}
    patch.update(body)
    return {"status": patch}
