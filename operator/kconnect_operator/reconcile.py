"""What the operator decides about a `KafkaConnector`, as pure functions over plain data.

The handlers observe (pods from the API server, the connector's config and status from a worker's
REST API), call these functions, and carry out what they return. Nothing here does I/O or reads
a clock: `now` is an argument, so every decision is reproducible in a unit test.

Invariants:
- **The connector config is the spec, completed.** `name`, `connector.class` and `tasks.max` come
  from the resource; the CRD forbids them inside `spec.config`. It is sent only when it differs
  from what the workers hold, so a resync never rewrites the config topic.
- **Target state follows the spec through pause, resume and stop,** never through a config PUT.
  A command is resent only when the workers report a settled state (RUNNING, PAUSED, STOPPED)
  other than the wanted one, or when the wanted state changed since it was last sent: a FAILED or
  UNASSIGNED connector is not flooded with commands.
- **Ready is False while anything is FAILED,** while no worker is ready, while the workers
  rejected the config, and until the connector and every task report the wanted state.
- **A condition's lastTransitionTime moves only when its status changes.**
- **Auto-restart backs off exponentially** (`base * 2^(n-1)` before the n-th restart after the
  first, capped) and its counter resets once the connector has stayed healthy for the backoff
  that would come next.
- **Log levels are sent only where a worker's differ,** each worker compared on its own, and in
  an order that leaves every logger at its wanted level although setting a logger also sets its
  descendants on the worker. A logger removed from the spec is set back to the root's wanted
  level once, and forgotten only after every ready worker has it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel

from kconnect_operator.models import (
    DEFAULT_LOG_LEVEL,
    READY,
    ROOT_LOGGER,
    AutoRestart,
    AutoRestartStatus,
    Condition,
    ConditionStatus,
    ConnectorStatus,
    JsonObject,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    LogLevel,
    ReadyReason,
    TargetState,
    TaskStatus,
    trim_trace,
)

RESTART_ANNOTATION: Final = "kconnect.io/restart"
"""Restart the connector. The value is `true`, or a comma-separated subset of `includeTasks` and
`onlyFailed`, with the meaning of the REST API's query parameters."""
RESTART_TASK_ANNOTATION: Final = "kconnect.io/restart-task"
"""Restart one task: the value is its number."""
RESTART_FLAGS: Final = ("includeTasks", "onlyFailed")

RUNNING: Final = "RUNNING"
PAUSED: Final = "PAUSED"
STOPPED: Final = "STOPPED"
FAILED: Final = "FAILED"
UNASSIGNED: Final = "UNASSIGNED"
SETTLED_STATES: Final = frozenset({RUNNING, PAUSED, STOPPED})

_REST_STATE: Final[Mapping[TargetState, str]] = {
    TargetState.RUNNING: RUNNING,
    TargetState.PAUSED: PAUSED,
    TargetState.STOPPED: STOPPED,
}


def rest_state(state: TargetState) -> str:
    """The state the workers report once `state` is in effect (RUNNING, PAUSED, STOPPED)."""
    return _REST_STATE[state]


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# --- the connector's config and target state


def connector_config(spec: KafkaConnectorSpec, name: str) -> dict[str, str]:
    """The config the workers should hold for the connector `name`."""
    return dict(
        sorted(
            {
                **spec.config,
                "name": name,
                "connector.class": spec.class_,
                "tasks.max": str(spec.tasks_max),
            }.items()
        )
    )


def config_differs(desired: Mapping[str, str], current: Mapping[str, str] | None) -> bool:
    """Whether `desired` must be sent: the connector is missing, or any key or value differs."""
    return current is None or dict(current) != dict(desired)


class StateCommand(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


_COMMAND: Final[Mapping[TargetState, StateCommand]] = {
    TargetState.RUNNING: StateCommand.RESUME,
    TargetState.PAUSED: StateCommand.PAUSE,
    TargetState.STOPPED: StateCommand.STOP,
}


def state_command(
    desired: TargetState, observed: str | None, last_sent: TargetState | None
) -> StateCommand | None:
    """The command that moves the connector to `desired`, or None when none is needed.

    `observed` is the connector's state from its status (None when unknown); `last_sent` is the
    target state this operator last sent (None when it sent none since it started)."""
    if observed is None:
        return None
    if observed in SETTLED_STATES:
        return None if observed == rest_state(desired) else _COMMAND[desired]
    # FAILED, UNASSIGNED or RESTARTING: the target state may still be wrong; send it once.
    if last_sent != desired and desired is not TargetState.RUNNING:
        return _COMMAND[desired]
    return None


# --- workers


@dataclass(frozen=True, slots=True)
class Worker:
    pod: str
    url: str
    """The base URL of the worker's REST API, e.g. `http://10.0.0.7:8083`."""


def _is_ready(pod: JsonObject) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _terminating(pod: JsonObject) -> bool:
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
        if _is_ready(pod) and not _terminating(pod) and pod.get("status", {}).get("podIP")
    ]
    return sorted(workers, key=lambda w: w.pod)


def live_pods(pods: Sequence[JsonObject]) -> int:
    """Worker pods that exist and are not terminating: the scale subresource's replicas."""
    return sum(1 for pod in pods if not _terminating(pod))


# --- log levels


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


# --- restart annotations


@dataclass(frozen=True, slots=True)
class RestartRequest:
    task: int | None
    """The task to restart; None restarts the connector."""
    include_tasks: bool = False
    only_failed: bool = False


@dataclass(frozen=True, slots=True)
class RestartAnnotations:
    requests: tuple[RestartRequest, ...]
    remove: tuple[str, ...]
    """The annotations to remove once the requests are done (or were rejected)."""
    errors: tuple[str, ...]
    """Why an annotation was rejected, for an Event."""


def restart_annotations(annotations: Mapping[str, str]) -> RestartAnnotations:
    requests: list[RestartRequest] = []
    remove: list[str] = []
    errors: list[str] = []
    if RESTART_ANNOTATION in annotations:
        remove.append(RESTART_ANNOTATION)
        value = annotations[RESTART_ANNOTATION].strip()
        words = [] if value.lower() in ("", "true") else [w.strip() for w in value.split(",")]
        unknown = [w for w in words if w not in RESTART_FLAGS]
        if unknown:
            errors.append(
                f"annotation {RESTART_ANNOTATION}={value!r}: unknown {', '.join(unknown)}; "
                f"expected 'true' or a comma-separated subset of {', '.join(RESTART_FLAGS)}"
            )
        else:
            requests.append(
                RestartRequest(
                    task=None,
                    include_tasks="includeTasks" in words,
                    only_failed="onlyFailed" in words,
                )
            )
    if RESTART_TASK_ANNOTATION in annotations:
        remove.append(RESTART_TASK_ANNOTATION)
        value = annotations[RESTART_TASK_ANNOTATION].strip()
        if value.isdigit():
            requests.append(RestartRequest(task=int(value)))
        else:
            errors.append(
                f"annotation {RESTART_TASK_ANNOTATION}={value!r}: expected a task number such as 0"
            )
    return RestartAnnotations(tuple(requests), tuple(remove), tuple(errors))


# --- why the workers are not ready

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
        if _terminating(pod):
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


# --- the connector's reported status


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
    )


def _summary(trace: str | None) -> str:
    """The line of a trace that says what failed: the first line of a Java trace (the exception),
    the last line of a Python traceback."""
    lines = [line for line in (trace or "").strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].strip() if lines[0].startswith("Traceback") else lines[0].strip()


# --- auto-restart


def backoff(restarts: int, base_s: float, max_s: float) -> timedelta:
    """The wait before the next automatic restart after `restarts` of them: none before the
    first, then `base`, `2 base`, `4 base`, ... up to `max`."""
    if restarts <= 0:
        return timedelta(0)
    return timedelta(seconds=min(max_s, base_s * 2 ** (restarts - 1)))


def is_failed(status: ConnectorStatus) -> bool:
    return status.state == FAILED or any(t.state == FAILED for t in status.tasks)


def is_healthy(status: ConnectorStatus) -> bool:
    return (
        status.state == RUNNING
        and bool(status.tasks)
        and all(t.state == RUNNING for t in status.tasks)
    )


@dataclass(frozen=True, slots=True)
class AutoRestartDecision:
    restart: bool
    status: AutoRestartStatus | None
    exhausted: bool = False
    """The connector is failed and `maxRestarts` is used up."""


def auto_restart(
    policy: AutoRestart,
    observed: ConnectorStatus | None,
    previous: AutoRestartStatus | None,
    now: datetime,
    *,
    base_s: float,
    max_s: float,
) -> AutoRestartDecision:
    """Whether to restart the failed parts of the connector now, and the counter to record."""
    if not policy.enabled or observed is None:
        return AutoRestartDecision(restart=False, status=previous)
    count = previous.count if previous else 0
    last = (
        parse_rfc3339(previous.last_restart_time)
        if previous and previous.last_restart_time
        else None
    )
    wait = backoff(count, base_s, max_s)
    if is_healthy(observed):
        if count and last is not None and now - last >= backoff(count + 1, base_s, max_s):
            return AutoRestartDecision(
                restart=False, status=AutoRestartStatus(count=0, last_restart_time=rfc3339(last))
            )
        return AutoRestartDecision(restart=False, status=previous)
    if not is_failed(observed):
        return AutoRestartDecision(restart=False, status=previous)
    if policy.max_restarts is not None and count >= policy.max_restarts:
        return AutoRestartDecision(restart=False, status=previous, exhausted=True)
    if last is not None and now - last < wait:
        return AutoRestartDecision(restart=False, status=previous)
    return AutoRestartDecision(
        restart=True, status=AutoRestartStatus(count=count + 1, last_restart_time=rfc3339(now))
    )


# --- status and conditions


@dataclass(frozen=True, slots=True)
class Observation:
    """What the handlers saw in one pass."""

    generation: int | None
    workers_ready: int
    replicas: int
    """Worker pods that exist."""
    connector: ConnectorStatus | None
    """The connector's status from the workers; None when it is unknown or missing."""
    config_error: str | None = None
    """Why the spec cannot become workers, or why the workers rejected the connector config."""
    unreachable: str | None = None
    """Why no worker's REST API answered."""
    apply_error: str | None = None
    """Why the API server refused a child."""
    workers_failure: str | None = None
    """Why no worker is ready, when something says so (`workers_cause`)."""


def ready_condition(
    spec: KafkaConnectorSpec, obs: Observation
) -> tuple[ConditionStatus, ReadyReason, str]:
    """The Ready condition's status, reason and message."""
    false = ConditionStatus.FALSE
    if obs.config_error is not None:
        return false, ReadyReason.INVALID_CONFIG, obs.config_error
    if obs.apply_error is not None:
        return false, ReadyReason.APPLY_FAILED, obs.apply_error
    if obs.workers_ready == 0 and spec.replicas > 0 and obs.workers_failure is not None:
        return false, ReadyReason.WORKER_FAILED, obs.workers_failure
    if obs.workers_ready == 0:
        message = (
            "spec.replicas is 0: no worker runs the connector"
            if spec.replicas == 0
            else f"0/{spec.replicas} worker pods are ready"
        )
        return false, ReadyReason.WORKERS_NOT_READY, message
    if obs.connector is None:
        reason = obs.unreachable or "the workers do not report the connector yet"
        return false, ReadyReason.PENDING, reason
    connector = obs.connector
    if connector.state == FAILED:
        return (
            false,
            ReadyReason.CONNECTOR_FAILED,
            (
                f"connector FAILED on {connector.worker or 'an unknown worker'}: "
                f"{_summary(connector.trace)}"
            ).rstrip(": "),
        )
    failed = [t for t in connector.tasks if t.state == FAILED]
    if failed:
        first = failed[0]
        ids = ", ".join(str(t.id) for t in failed)
        return (
            false,
            ReadyReason.TASK_FAILED,
            (
                f"{len(failed)} of {len(connector.tasks)} tasks FAILED ({ids}); task {first.id} on "
                f"{first.worker or 'an unknown worker'}: {_summary(first.trace)}"
            ).rstrip(": "),
        )
    want = rest_state(spec.state)
    if spec.state is TargetState.STOPPED:
        if connector.state == STOPPED:
            return ConditionStatus.TRUE, ReadyReason.STOPPED, "the connector is stopped"
        return false, ReadyReason.PENDING, f"stopping: the connector is {connector.state}"
    in_state = sum(1 for t in connector.tasks if t.state == want)
    if connector.state == want and connector.tasks and in_state == len(connector.tasks):
        reason = ReadyReason.RUNNING if want == RUNNING else ReadyReason.PAUSED
        return ConditionStatus.TRUE, reason, (f"the connector and {in_state} tasks are {want}")
    if want == PAUSED and connector.state == PAUSED and not connector.tasks:
        # Created paused: as in Kafka Connect, no tasks exist until the connector is resumed.
        return (
            ConditionStatus.TRUE,
            ReadyReason.PAUSED,
            "the connector is PAUSED and has no tasks (created paused: its tasks are made when it "
            "is resumed)",
        )
    if connector.state == UNASSIGNED:
        return (
            false,
            ReadyReason.PENDING,
            (
                f"the connector is UNASSIGNED: no worker runs it (a worker that lost its Kafka "
                f"group membership, e.g. while a broker is unreachable, holds no assignment), "
                f"so its tasks' last reported states ({_states(connector.tasks)}) are stale"
            ),
        )
    return (
        false,
        ReadyReason.PENDING,
        (f"the connector is {connector.state}, {in_state}/{len(connector.tasks)} tasks {want}"),
    )


def _states(tasks: Sequence[TaskStatus]) -> str:
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.state] = counts.get(task.state, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no tasks"


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
    }
)
"""Ready reasons that name a cause someone must act on: each new one is also a Warning Event."""


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


def build_status(
    spec: KafkaConnectorSpec,
    obs: Observation,
    *,
    selector: str,
    previous: KafkaConnectorStatus | None,
    auto_restart_status: AutoRestartStatus | None,
    now: datetime,
    applied: list[str] | None = None,
) -> KafkaConnectorStatus:
    status, reason, message = ready_condition(spec, obs)
    condition = ready(
        status,
        reason,
        message,
        previous=previous.conditions if previous else (),
        generation=obs.generation,
        now=now,
    )
    tasks_ready = sum(1 for t in obs.connector.tasks if t.state == RUNNING) if obs.connector else 0
    return KafkaConnectorStatus(
        conditions=[condition],
        observed_generation=obs.generation,
        connector_state=obs.connector,
        tasks_ready=tasks_ready,
        workers_ready=obs.workers_ready,
        replicas=obs.replicas,
        selector=selector,
        auto_restart=auto_restart_status,
        applied_loggers=applied,
    )


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
