"""What the operator decides about a `KafkaConnector`, as pure functions over plain data.

The handlers observe (pods from the API server, the connector's config and status from a worker's
REST API), call these functions, and carry out what they return. Nothing here does I/O or reads
a clock: `now` is an argument, so every decision is reproducible in a unit test. What both kinds
decide alike (workers, conditions, log levels) is in `core.status`.

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
- **A scale-down's pods leave the group before they go.** When the StatefulSet runs more pods than
  `spec.replicas`, the pods it is about to remove (the highest ordinals) get the leave marker
  (`MarkLeaving`) before the lower count is applied, so their workers give their seats up and
  their tasks move at once. A roll, an eviction or a crash marks nothing: the pod comes back
  under its name and its worker gets its own tasks back.
- **The Deployment of an earlier operator goes only once the StatefulSet is up.** Until then both
  run in the one worker group, so the cluster keeps its tasks; then the Deployment (only one
  this resource owns) is deleted and its workers' tasks move to the StatefulSet's.
- **Exactly-once is turned on in two rolls** (`exactly_once_phase`). Running workers go first to
  `exactly.once.source.support=preparing`; only when the StatefulSet's roll has finished (every
  pod of the current revision is Ready, at `spec.replicas`, and no Deployment of an earlier
  operator still runs workers) do they go to `enabled`. Which roll the workers are in is read
  from the live StatefulSet (`EXACTLY_ONCE_ANNOTATION`), so an operator that restarts mid-way
  carries on where it was. A new cluster starts at `enabled`; turning it off is one roll.
- **An autoscaler never resumes a connector, nor scales up a paused or stopped one**
  (`scale_target`). `spec.replicas` is what the scale subresource sets; while the connector is
  paused or stopped the workers stay at the live StatefulSet's count (or go down with
  `spec.replicas`), and the Ready message says so. With `tasksPerReplica`, `tasks.max` follows
  the workers in effect, not the pods that happen to be ready, so a roll reconfigures nothing.
- **Zero workers is a state, not a failure:** Ready True, `ScaledToZero`, once no worker pod
  runs. Nothing is sent to workers that are to stop, so the config topic keeps the connector as
  it ran, and scaling up resumes it from its committed offsets.
- **Auto-restart backs off exponentially** (`base * 2^(n-1)` before the n-th restart after the
  first, capped) and its counter resets once the connector has stayed healthy for the backoff
  that would come next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol

from kconnect.errors import ConfigError
from kconnect.storage.states import State
from kconnect_operator.core import children
from kconnect_operator.core.actions import (
    Action,
    AlterOffsets,
    ApplyChildren,
    AutoRestartConnector,
    DeleteChild,
    DeleteConnector,
    MarkLeaving,
    Note,
    Outcome,
    RemoveAnnotations,
    Restart,
    RestartTask,
    SendCommand,
    SendConfig,
    Warn,
)
from kconnect_operator.core.kafka_security import SecretFacts, SecretReferenceError
from kconnect_operator.core.manifests import (
    CONFIG_HASH_ANNOTATION,
    REST_PORT,
    WORKER_CONTAINER,
    selector_string,
    selector_string_of,
)
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import (
    READY,
    Condition,
    ConditionStatus,
    ConnectorStatus,
    FailedTask,
    JsonObject,
    KafkaAccessReason,
    ReadyReason,
    TaskStatus,
)
from kconnect_operator.core.status import (
    Worker,
    is_terminating,
    log_level_actions,
    ready,
    ready_workers,
    rfc3339,
    spec_workers_cause,
    trace_summary,
)
from kconnect_operator.kafkaconnector.build import (
    CLUSTER_OWNER,
    EXACTLY_ONCE_ANNOTATION,
    EXACTLY_ONCE_KEY,
    AnyOwner,
    ClusterOwner,
    Owner,
    Workers,
    build_children,
    connector_sink_group,
    deployment_name,
    workload_name,
)
from kconnect_operator.kafkaconnector.model import (
    AutoRestart,
    AutoRestartStatus,
    ClusterConnector,
    ExactlyOncePhase,
    InitialOffsetsPhase,
    KafkaConnectorSpec,
    KafkaConnectorStatus,
    KConnectClusterSpec,
    KConnectClusterStatus,
    TargetState,
    TaskRestarts,
)
from kconnect_operator.kafkaconnector.offsets import (
    OFFSETS_CONDITION,
    OffsetsError,
    done_message,
    offsets_request,
    parse_offsets,
)

RESTART_ANNOTATION: Final = "kconnect.io/restart"
"""Restart the connector. The value is `true`, or a comma-separated subset of `includeTasks` and
`onlyFailed`, with the meaning of the REST API's query parameters."""


RESTART_TASK_ANNOTATION: Final = "kconnect.io/restart-task"
"""Restart one task: the value is its number."""


RESTART_FLAGS: Final = ("includeTasks", "onlyFailed")


SETTLED_STATES: Final = frozenset({State.RUNNING, State.PAUSED, State.STOPPED})


_REST_STATE: Final[Mapping[TargetState, str]] = {
    TargetState.RUNNING: State.RUNNING,
    TargetState.PAUSED: State.PAUSED,
    TargetState.STOPPED: State.STOPPED,
}


def rest_state(state: TargetState) -> str:
    """The state the workers report once `state` is in effect (RUNNING, PAUSED, STOPPED)."""
    return _REST_STATE[state]


def parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def tasks_max(spec: KafkaConnectorSpec) -> int:
    """The connector's `tasks.max`: `tasksPerReplica` times the workers when set (at least one
    worker's share: no config is sent to zero workers), else `tasksMax`."""
    if spec.tasks_per_replica is None:
        return spec.tasks_max
    return spec.tasks_per_replica * max(spec.replicas, 1)


def connector_config(
    spec: KafkaConnectorSpec, name: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The config the workers should hold for the connector `name`; `extra` is what the operator
    adds (a shared cluster's connector: its sink group, `build.connector_sink_group`)."""
    return dict(
        sorted(
            {
                **(extra or {}),
                **spec.config,
                "name": name,
                "connector.class": spec.class_,
                "tasks.max": str(tasks_max(spec)),
            }.items()
        )
    )


def scale_target(spec: KafkaConnectorSpec, workload: JsonObject | None) -> int:
    """The workers to run: `spec.replicas`, except that a paused or stopped connector is not
    scaled up. An autoscaler raises `spec.replicas` on a paused sink's growing lag; the workers
    stay as the live StatefulSet runs them (or fewer, if `spec.replicas` goes down) until the
    connector runs again. A resource with no StatefulSet yet gets `spec.replicas`."""
    if spec.state is TargetState.RUNNING or workload is None:
        return spec.replicas
    running = int((workload.get("spec") or {}).get("replicas", spec.replicas))
    return min(spec.replicas, running)


def held_message(spec: KafkaConnectorSpec, target: int) -> str | None:
    """What the status says while `spec.replicas` is held back (`scale_target`)."""
    if target >= spec.replicas:
        return None
    return (
        f"spec.replicas {spec.replicas} is held at {target} while the connector is "
        f"{spec.state.value}: a {spec.state.value} connector is not scaled up; the workers follow "
        "spec.replicas once it runs again"
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


def pod_ordinal(pod_name: str, workload: str) -> int | None:
    """The ordinal of the StatefulSet `workload`'s pod `pod_name`, None for another pod."""
    prefix = f"{workload}-"
    rest = pod_name[len(prefix) :] if pod_name.startswith(prefix) else ""
    return int(rest) if rest.isdigit() and str(int(rest)) == rest else None


def leaving_pods(
    workload: JsonObject | None, pods: Sequence[JsonObject], replicas: int, name: str
) -> tuple[str, ...]:
    """The pods of the StatefulSet `name` that lowering its replicas to `replicas` removes: its
    live pods with an ordinal at or above `replicas`, while it still runs more. Empty when it is
    not scaling down."""
    if workload is None or int((workload.get("spec") or {}).get("replicas", 0)) <= replicas:
        return ()
    leaving = []
    for pod in pods:
        pod_name = str(pod["metadata"]["name"])
        number = pod_ordinal(pod_name, name)
        running = (pod.get("status") or {}).get("phase") == "Running"
        if number is not None and number >= replicas and running and not is_terminating(pod):
            leaving.append((number, pod_name))
    return tuple(pod_name for _, pod_name in sorted(leaving))


def migrating_from(o: WorkersObserved) -> bool:
    """Whether a Deployment of an earlier operator, owned by this resource, still runs workers."""
    return owned_by(o.live.get(f"Deployment/{deployment_name(o.owner)}"), o.owner.uid)


def owned_by(obj: JsonObject | None, uid: str) -> bool:
    """Whether `obj` has a controller owner reference to the object `uid`."""
    refs = ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == uid and r.get("controller") for r in refs)


def roll_finished(workload: JsonObject | None, replicas: int) -> bool:
    """Whether every pod of the StatefulSet runs its current template and is Ready, at `replicas`:
    the controller has seen the latest spec, `updatedReplicas == replicas == readyReplicas` and
    `currentRevision == updateRevision`."""
    if workload is None:
        return False
    generation = (workload.get("metadata") or {}).get("generation")
    status = workload.get("status") or {}
    if generation is not None and int(status.get("observedGeneration") or 0) < int(generation):
        return False
    if int((workload.get("spec") or {}).get("replicas", 0)) != replicas:
        return False
    counts = (int(status.get(key) or 0) for key in ("replicas", "readyReplicas", "updatedReplicas"))
    if any(count != replicas for count in counts):
        return False
    return bool(status.get("updateRevision")) and (
        status.get("currentRevision") == status.get("updateRevision")
    )


def running_phase(workload: JsonObject | None) -> ExactlyOncePhase | None:
    """The `exactly.once.source.support` the StatefulSet's template runs
    (`EXACTLY_ONCE_ANNOTATION`); None without a StatefulSet. One without the annotation (made
    disabled, or by an earlier operator, which never set the key) runs `disabled`."""
    if workload is None:
        return None
    value = ((workload.get("metadata") or {}).get("annotations") or {}).get(EXACTLY_ONCE_ANNOTATION)
    phases = {p.worker_value: p for p in ExactlyOncePhase}
    return phases.get(str(value), ExactlyOncePhase.DISABLED)


def exactly_once_phase(
    want: bool, workload: JsonObject | None, replicas: int, *, migrating: bool
) -> ExactlyOncePhase:
    """The `exactly.once.source.support` to give the workers, from `spec.exactlyOnce` (`want`) and
    the live StatefulSet. Off: `disabled` at once (one roll). On: a new cluster (no StatefulSet,
    no earlier Deployment) starts at `enabled`; running workers go to `preparing` first, and to
    `enabled` once the roll to `preparing` has finished (`roll_finished`) and no Deployment of
    an earlier operator (`migrating`) still runs workers with another setting."""
    if not want:
        return ExactlyOncePhase.DISABLED
    running = running_phase(workload)
    if running is None and not migrating:
        return ExactlyOncePhase.ENABLED
    if running is ExactlyOncePhase.ENABLED:
        return ExactlyOncePhase.ENABLED
    if (
        running is ExactlyOncePhase.PREPARING
        and not migrating
        and roll_finished(workload, replicas)
    ):
        return ExactlyOncePhase.ENABLED
    return ExactlyOncePhase.PREPARING


def exactly_once_note(
    phase: ExactlyOncePhase, running: ExactlyOncePhase | None, replicas: int
) -> Note | None:
    """The Event of a change of phase; None when the workers already run `phase`."""
    if phase is running or (phase is ExactlyOncePhase.DISABLED and running is None):
        return None
    key = f"{EXACTLY_ONCE_KEY}={phase.worker_value}"
    if phase is ExactlyOncePhase.PREPARING:
        message = (
            f"exactly-once turned on: rolling the {replicas} workers to {key}; once every worker "
            "runs it, a second roll sets enabled"
        )
    elif phase is ExactlyOncePhase.ENABLED and running is None:
        message = f"exactly-once: the new workers start with {key}"
    elif phase is ExactlyOncePhase.ENABLED:
        message = f"every worker runs preparing: rolling the {replicas} workers to {key}"
    else:
        message = f"exactly-once turned off: rolling the {replicas} workers to {key}"
    return Note(f"ExactlyOnce{phase.value}", message)


EXACTLY_ONCE_CONDITION: Final = "ExactlyOnce"


def exactly_once_condition(
    spec: KafkaConnectorSpec,
    connector: ConnectorStatus | None,
    previous: KafkaConnectorStatus | None,
    generation: int | None,
    now: datetime,
) -> tuple[Condition, ...]:
    """`ExactlyOnce` False (reason `SinkConnector`) while `spec.exactlyOnce` is set on a connector
    the workers report as a sink: the setting is accepted (the workers still roll) but governs
    source tasks only. No condition otherwise."""
    if not spec.exactly_once or connector is None or connector.type != "sink":
        return ()
    old = next(
        (c for c in (previous.conditions if previous else ()) if c.type == EXACTLY_ONCE_CONDITION),
        None,
    )
    since = old.last_transition_time if old is not None and old.status == "False" else None
    return (
        Condition(
            type=EXACTLY_ONCE_CONDITION,
            status=ConditionStatus.FALSE,
            reason="SinkConnector",
            message=(
                f"spec.exactlyOnce has no effect on {spec.class_}, a sink connector: "
                f"{EXACTLY_ONCE_KEY} governs source tasks only; a sink's delivery follows its "
                "consumer group's committed offsets"
            ),
            last_transition_time=since or rfc3339(now),
            observed_generation=generation,
        ),
    )


def live_pods(pods: Sequence[JsonObject]) -> int:
    """Worker pods that exist and are not terminating: the scale subresource's replicas."""
    return sum(1 for pod in pods if not is_terminating(pod))


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


RESTART_SETTLE: Final = timedelta(seconds=5)
"""The least time between two automatic restarts, whatever the backoff. A restart shows in the
status seconds after it is asked for, not at once: the workers read the request from the config
topic, stop and start what failed, and write the new states to the status topic; until then they
still report the old FAILED, which must not be taken for a new failure and restarted again."""


def backoff(restarts: int, base_s: float, max_s: float) -> timedelta:
    """The wait before the next automatic restart after `restarts` of them: none before the
    first, then `base`, `2 base`, `4 base`, ... up to `max`."""
    if restarts <= 0:
        return timedelta(0)
    return timedelta(seconds=min(max_s, base_s * 2 ** (restarts - 1)))


def is_failed(status: ConnectorStatus) -> bool:
    return status.state == State.FAILED or any(t.state == State.FAILED for t in status.tasks)


def is_healthy(status: ConnectorStatus) -> bool:
    return (
        status.state == State.RUNNING
        and bool(status.tasks)
        and all(t.state == State.RUNNING for t in status.tasks)
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
    wait = max(backoff(count, base_s, max_s), RESTART_SETTLE) if count else timedelta(0)
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
        restart=True,
        status=AutoRestartStatus(
            count=count + 1,
            last_restart_time=rfc3339(now),
            tasks=task_restarts(previous, observed),
        ),
    )


def task_restarts(
    previous: AutoRestartStatus | None, observed: ConnectorStatus
) -> list[TaskRestarts]:
    """The per-task counters after one more automatic restart: +1 for each task FAILED now (the
    restart's `onlyFailed` includes exactly those); the others keep theirs."""
    counts = {t.id: t.count for t in (previous.tasks if previous else ())}
    for task in observed.tasks:
        if task.state == State.FAILED:
            counts[task.id] = counts.get(task.id, 0) + 1
    return [TaskRestarts(id=n, count=c) for n, c in sorted(counts.items())]


def failed_tasks(
    connector: ConnectorStatus | None, restarts: AutoRestartStatus | None
) -> list[FailedTask]:
    """The FAILED tasks for `status.failedTasks`, each with its automatic restarts."""
    counts = {t.id: t.count for t in (restarts.tasks if restarts else ())}
    return [
        FailedTask(
            id=t.id,
            worker=t.worker,
            message=trace_summary(t.trace),
            retry_count=counts.get(t.id, 0),
        )
        for t in (connector.tasks if connector else ())
        if t.state == State.FAILED
    ]


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
    config_reason: StrEnum | None = None
    """The Ready reason of `config_error` when it is not InvalidConfig (a missing Secret)."""
    unreachable: str | None = None
    """Why no worker's REST API answered."""
    apply_error: str | None = None
    """Why the API server refused a child."""
    workers_failure: str | None = None
    """Why no worker is ready, when something says so (`workers_cause`)."""
    wanted_workers: int | None = None
    """The worker pods wanted: the named KConnectCluster's `spec.replicas` for a connector that
    runs on one; None for the resource's own `spec.replicas`."""


def ready_condition(
    spec: KafkaConnectorSpec, obs: Observation
) -> tuple[ConditionStatus, StrEnum, str]:
    """The Ready condition's status, reason and message (`core.status.ready` names a worker,
    connector or task failure that is a Kafka access error more precisely)."""
    false = ConditionStatus.FALSE
    if obs.config_error is not None:
        return false, obs.config_reason or ReadyReason.INVALID_CONFIG, obs.config_error
    if obs.apply_error is not None:
        return false, ReadyReason.APPLY_FAILED, obs.apply_error
    replicas = spec.replicas if obs.wanted_workers is None else obs.wanted_workers
    where = f"KConnectCluster {spec.cluster}'s " if spec.cluster else ""
    if replicas == 0:
        if obs.replicas > 0:
            return (
                false,
                ReadyReason.PENDING,
                f"scaling to zero: {obs.replicas} {where}worker pods run",
            )
        return (
            ConditionStatus.TRUE,
            ReadyReason.SCALED_TO_ZERO,
            f"scaled to zero: no {where}worker runs; the connector's config and offsets stay in "
            "Kafka, and scaling up resumes it from its committed offsets",
        )
    if obs.workers_ready == 0 and obs.workers_failure is not None:
        return false, ReadyReason.WORKER_FAILED, obs.workers_failure
    if obs.workers_ready == 0:
        return false, ReadyReason.WORKERS_NOT_READY, f"0/{replicas} {where}worker pods are ready"
    if obs.connector is None:
        reason = obs.unreachable or "the workers do not report the connector yet"
        return false, ReadyReason.PENDING, reason
    connector = obs.connector
    if connector.state == State.FAILED:
        return (
            false,
            ReadyReason.CONNECTOR_FAILED,
            (
                f"connector FAILED on {connector.worker or 'an unknown worker'}: "
                f"{trace_summary(connector.trace)}"
            ).rstrip(": "),
        )
    failed = [t for t in connector.tasks if t.state == State.FAILED]
    if failed:
        first = failed[0]
        ids = ", ".join(str(t.id) for t in failed)
        return (
            false,
            ReadyReason.TASK_FAILED,
            (
                f"{len(failed)} of {len(connector.tasks)} tasks FAILED ({ids}); task {first.id} on "
                f"{first.worker or 'an unknown worker'}: {trace_summary(first.trace)}"
            ).rstrip(": "),
        )
    want = rest_state(spec.state)
    if spec.state is TargetState.STOPPED:
        if connector.state == State.STOPPED:
            return ConditionStatus.TRUE, ReadyReason.STOPPED, "the connector is stopped"
        return false, ReadyReason.PENDING, f"stopping: the connector is {connector.state}"
    in_state = sum(1 for t in connector.tasks if t.state == want)
    if connector.state == want and connector.tasks and in_state == len(connector.tasks):
        reason = ReadyReason.RUNNING if want == State.RUNNING else ReadyReason.PAUSED
        return ConditionStatus.TRUE, reason, (f"the connector and {in_state} tasks are {want}")
    if want == State.PAUSED and connector.state == State.PAUSED and not connector.tasks:
        # Created paused: as in Kafka Connect, no tasks exist until the connector is resumed.
        return (
            ConditionStatus.TRUE,
            ReadyReason.PAUSED,
            "the connector is PAUSED and has no tasks (created paused: its tasks are made when it "
            "is resumed)",
        )
    if connector.state == State.UNASSIGNED:
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


def build_status(
    spec: KafkaConnectorSpec,
    obs: Observation,
    *,
    selector: str,
    previous: KafkaConnectorStatus | None,
    auto_restart_status: AutoRestartStatus | None,
    now: datetime,
    applied: list[str] | None = None,
    exactly_once: ExactlyOncePhase | None = None,
    held: str | None = None,
    offsets: OffsetsReport | None = None,
) -> KafkaConnectorStatus:
    status, reason, message = ready_condition(spec, obs)
    if held is not None:
        message = f"{message}; {held}"
    extra = (
        *exactly_once_condition(spec, obs.connector, previous, obs.generation, now),
        *offsets_condition(offsets, previous, obs.generation, now),
    )
    condition = ready(
        status,
        reason,
        message,
        previous=previous.conditions if previous else (),
        generation=obs.generation,
        now=now,
    )
    tasks_ready = (
        sum(1 for t in obs.connector.tasks if t.state == State.RUNNING) if obs.connector else 0
    )
    failed = failed_tasks(obs.connector, auto_restart_status)
    return KafkaConnectorStatus(
        conditions=[condition, *extra],
        observed_generation=obs.generation,
        connector_state=obs.connector,
        tasks_ready=tasks_ready,
        workers_ready=obs.workers_ready,
        replicas=obs.replicas,
        selector=selector,
        failed_tasks=failed,
        failed_tasks_count=len(failed),
        auto_restart=auto_restart_status,
        exactly_once=exactly_once,
        applied_loggers=applied,
        initial_offsets=offsets.phase if offsets else None,
    )


@dataclass(frozen=True, slots=True)
class OffsetsReport:
    """Where the connector's offsets stand after a pass: `status.initialOffsets`, and the
    outcome of an offsets operation carried out (or refused) in it, if any."""

    phase: InitialOffsetsPhase | None = None
    done: tuple[bool, str, str] | None = None
    """(succeeded, reason, message)."""


def offsets_condition(
    report: OffsetsReport | None,
    previous: KafkaConnectorStatus | None,
    generation: int | None,
    now: datetime,
) -> tuple[Condition, ...]:
    """The `Offsets` condition: the last offsets operation's outcome (True with `OffsetsListed`,
    `OffsetsAltered`, `OffsetsReset` or `InitialOffsetsApplied`; False with `OffsetsFailed` and
    what is wrong), kept until the next one."""
    old = next(
        (c for c in (previous.conditions if previous else ()) if c.type == OFFSETS_CONDITION),
        None,
    )
    if report is None or report.done is None:
        return () if old is None else (old,)
    ok, reason, message = report.done
    status = ConditionStatus.TRUE if ok else ConditionStatus.FALSE
    same = old is not None and old.status == status
    return (
        Condition(
            type=OFFSETS_CONDITION,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=(old.last_transition_time if same and old else None)
            or rfc3339(now),
            observed_generation=generation,
        ),
    )


# --------------------------------------------------------------------------------------------------
# One pass: what was observed, and the one decision over it.


@dataclass(frozen=True, slots=True)
class Memory:
    """What a resource's loop remembers between passes about the connector's config and state."""

    last_sent_state: TargetState | None = None
    """The target state this operator last sent (None when it sent none since it started)."""
    rejected: Mapping[str, str] | None = None
    """A config the workers rejected: not sent again while the spec asks for it of the same
    workers."""
    rejected_by: frozenset[str] = frozenset()
    """The ready workers' config hashes when the config was rejected: workers with another
    worker config (say, one that allows a plugin) are asked again."""
    config_error: str | None = None
    initial_failed: JsonObject | None = None
    """`spec.initialOffsets` the workers refused: not sent again until the ConfigMap changes."""


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything one pass read before deciding: the resource, its children and pods, and what
    the workers said."""

    spec: KafkaConnectorSpec
    owner: Owner
    generation: int | None
    annotations: Mapping[str, str]
    previous: KafkaConnectorStatus | None
    options: OperatorOptions
    secret_versions: Mapping[str, str]
    config_map_versions: Mapping[str, str]
    live: Mapping[str, JsonObject | None]
    """The children, by `children.child_key`; None for a missing one."""
    pods: Sequence[JsonObject]
    memory: Memory
    now: datetime
    config: Mapping[str, str] | None = None
    """The connector's config on the workers; None when it does not exist there."""
    connector: ConnectorStatus | None = None
    """The connector's status on the workers; None when unknown or missing."""
    rest_error: str | None = None
    """Why the workers' REST API did not answer the reads (config, status)."""
    loggers: Mapping[str, Mapping[str, str | None] | str] = field(default_factory=dict)
    """Each ready worker's levels of the targeted loggers, or why they could not be read."""
    kafka_secrets: Mapping[str, SecretFacts] = field(default_factory=dict)
    """What the Secrets `spec.tls` and `spec.authentication` name hold (keys and digests); a
    missing one is absent."""
    cluster_replicas: int | None = None
    """The `spec.replicas` of the KConnectCluster that `spec.cluster` names (its pods are
    `pods`); None when the connector has dedicated workers or the cluster does not exist."""
    offsets_config_maps: Mapping[str, Mapping[str, str] | None] = field(default_factory=dict)
    """The data of the ConfigMaps offsets are read from (`offsets.config_maps_to_read`), by
    name; None for a missing one."""


@dataclass(frozen=True, slots=True)
class Decision:
    actions: tuple[Action, ...]
    status: KafkaConnectorStatus
    memory: Memory
    ready: bool


def ready_hashes(pods: Sequence[JsonObject], workers: Sequence[Worker]) -> frozenset[str]:
    """The config hashes of the ready workers' pods."""
    ready_pods = {w.pod for w in workers}
    return frozenset(
        str((p["metadata"].get("annotations") or {}).get(CONFIG_HASH_ANNOTATION))
        for p in pods
        if p["metadata"]["name"] in ready_pods
    )


class WorkersObserved(Protocol):
    """What the worker part of a pass reads, for either kind (`decide_workers`)."""

    @property
    def spec(self) -> Workers: ...
    @property
    def owner(self) -> AnyOwner: ...
    @property
    def options(self) -> OperatorOptions: ...
    @property
    def secret_versions(self) -> Mapping[str, str]: ...
    @property
    def config_map_versions(self) -> Mapping[str, str]: ...
    @property
    def kafka_secrets(self) -> Mapping[str, SecretFacts]: ...
    @property
    def live(self) -> Mapping[str, JsonObject | None]: ...
    @property
    def pods(self) -> Sequence[JsonObject]: ...
    @property
    def previous(self) -> KafkaConnectorStatus | KConnectClusterStatus | None: ...


@dataclass(frozen=True, slots=True)
class WorkersDecision:
    """The worker part of a pass: the children's actions, the exactly-once phase, and why the
    spec cannot become workers."""

    actions: tuple[Action, ...]
    phase: ExactlyOncePhase
    spec_error: str | None = None
    spec_reason: StrEnum | None = None


def decide_workers(o: WorkersObserved) -> WorkersDecision:
    """The worker cluster's actions, the same for a KafkaConnector's dedicated workers and a
    KConnectCluster's: the children to apply (with a scale-down's leave markers and the move
    from an earlier operator's Deployment) and the exactly-once roll's Event."""
    spec, owner = o.spec, o.owner
    workload = o.live.get(f"StatefulSet/{workload_name(owner)}")
    migrating = migrating_from(o)
    phase = exactly_once_phase(spec.exactly_once, workload, spec.replicas, migrating=migrating)
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
            phase=phase,
        )
    except ConfigError as e:
        reason = KafkaAccessReason.SECRET_MISSING if isinstance(e, SecretReferenceError) else None
        return WorkersDecision((), phase, str(e), reason)
    actions = _workload_actions(o, wanted)
    note = exactly_once_note(phase, running_phase(workload), spec.replicas)
    if note is not None:
        actions.append(note)
    return WorkersDecision(tuple(actions), phase)


def workers_failure(o: WorkersObserved, live: Mapping[str, JsonObject | None]) -> str | None:
    """Why no worker is ready, from the pods, the workload and the references
    (`spec_workers_cause`)."""
    return spec_workers_cause(
        o.pods,
        live.get(f"StatefulSet/{workload_name(o.owner)}")
        or live.get(f"Deployment/{deployment_name(o.owner)}"),
        o.spec,
        o.secret_versions,
        o.config_map_versions,
    )


def decide(o: Observed, outcome: Outcome | None = None) -> Decision:
    """The actions of one pass, in order, and the status they lead to.

    Without `outcome`, the status is the one the actions lead to when they all succeed. Given
    what came of carrying them out (`io.shell.act`), the status and the memory say what failed:
    the status of a pass is `decide(observed, outcome).status`, the same function over what was
    observed, the API server's and the workers' answers included.

    A connector that names a KConnectCluster (`spec.cluster`) has no children: `pods` are the
    cluster's, and only its config, state and restarts are decided here. A cluster that does not
    exist (`cluster_replicas` None) is Ready=False, `ClusterNotFound`, and nothing is sent.
    """
    done = outcome or Outcome()
    held: str | None = None
    if o.spec.cluster is None:
        target = scale_target(o.spec, o.live.get(f"StatefulSet/{workload_name(o.owner)}"))
        held = held_message(o.spec, target)
        if target != o.spec.replicas:
            o = replace(o, spec=o.spec.model_copy(update={"replicas": target}))
    spec, owner, name = o.spec, o.owner, o.owner.name
    actions: list[Action] = []
    extra: dict[str, str] = {}
    spec_error: str | None = None
    spec_reason: StrEnum | None = None
    phase: ExactlyOncePhase | None = None
    if spec.cluster is None:
        part = decide_workers(o)
        actions.extend(part.actions)
        phase, spec_error, spec_reason = part.phase, part.spec_error, part.spec_reason
    else:
        extra = connector_sink_group(spec, owner)
        if o.cluster_replicas is None:
            spec_error = (
                f"KConnectCluster {spec.cluster!r} does not exist in namespace "
                f"{owner.namespace!r} (named by spec.cluster): create it, or the connector "
                "waits for it"
            )
            spec_reason = ReadyReason.CLUSTER_NOT_FOUND

    workers = (
        [] if spec_reason is ReadyReason.CLUSTER_NOT_FOUND else ready_workers(o.pods, REST_PORT)
    )
    hashes = ready_hashes(o.pods, workers)
    memory = o.memory
    desired = connector_config(spec, name, extra)
    if memory.rejected is not None and (memory.rejected != desired or memory.rejected_by != hashes):
        memory = replace(memory, rejected=None, config_error=None)

    connector: ConnectorStatus | None = None
    unreachable: str | None = None
    auto_status = o.previous.auto_restart if o.previous else None
    # No worker is asked anything once the workers are to stop: a pod still ready while it
    # stops would only be sent a config or command for no one.
    wanted_workers = spec.replicas if spec.cluster is None else (o.cluster_replicas or 0)
    offsets_report = OffsetsReport(o.previous.initial_offsets if o.previous else None)
    initial: AlterOffsets | None = None
    if workers and wanted_workers > 0 and o.rest_error is None and initial_offsets_wanted(o):
        assert spec.initial_offsets is not None
        source = spec.initial_offsets.from_config_map.name
        try:
            body = parse_offsets(
                o.offsets_config_maps.get(source), source, "spec.initialOffsets.fromConfigMap"
            )
        except OffsetsError as e:
            spec_error, spec_reason = str(e), None
        else:
            initial = AlterOffsets(name, body, source, initial=True)
    if workers and memory.rejected is None and spec_error is None and wanted_workers > 0:
        if o.rest_error is not None:
            unreachable = f"the workers' REST API: {o.rest_error}"
        else:
            connector, auto_status, memory, offsets_report = _decide_rest(
                o, desired, memory, done, actions, initial
            )
            if done.unreachable is not None:
                connector, unreachable = None, done.unreachable
                auto_status = o.previous.auto_restart if o.previous else None
            if done.config_rejected is not None:
                connector = None
                auto_status = o.previous.auto_restart if o.previous else None
                offsets_report = OffsetsReport(offsets_report.phase)
                memory = replace(
                    memory,
                    rejected=desired,
                    config_error=done.config_rejected,
                    rejected_by=hashes,
                )

    applied: list[str] | None = None
    if spec.cluster is None:  # a shared cluster's log levels are the cluster's
        remembered = o.previous.applied_loggers if o.previous else None
        levels, applied = log_level_actions(
            workers, o.loggers, spec, remembered, done.logger_failures
        )
        actions.extend(levels)

    live = done.live if done.live is not None else o.live
    observation = Observation(
        generation=o.generation,
        workers_ready=len(workers),
        replicas=live_pods(o.pods),
        connector=connector,
        config_error=spec_error or memory.config_error,
        config_reason=spec_reason,
        unreachable=unreachable,
        apply_error=done.apply_error,
        workers_failure=workers_failure(o, live) if spec.cluster is None else None,
        wanted_workers=o.cluster_replicas,
    )
    status = build_status(
        spec,
        observation,
        selector=(
            selector_string(owner)
            if spec.cluster is None
            else selector_string_of(CLUSTER_OWNER, spec.cluster)
        ),
        previous=o.previous,
        auto_restart_status=auto_status,
        now=o.now,
        applied=applied,
        exactly_once=phase,
        held=held,
        offsets=offsets_report,
    )
    ready_now = any(c.type == READY and c.status == "True" for c in status.conditions)
    return Decision(tuple(actions), status, memory, ready_now)


def _workload_actions(o: WorkersObserved, wanted: Sequence[JsonObject]) -> list[Action]:
    """The children to apply, with what a scale-down and the move from an earlier operator's
    Deployment add around them."""
    owner, replicas = o.owner, o.spec.replicas
    name = workload_name(owner)
    workload_key = f"StatefulSet/{name}"
    workload = o.live.get(workload_key)
    migrating = migrating_from(o)
    reconciled_before = o.previous is not None and bool(o.previous.conditions)
    plan = children.plan(wanted, o.live, reconciled_before=reconciled_before)
    actions: list[Action] = []
    leaving = leaving_pods(workload, o.pods, replicas, name)
    if leaving:
        actions.append(MarkLeaving(leaving, WORKER_CONTAINER))
    if migrating and workload is None:
        # Not a deleted child: the StatefulSet replaces the Deployment an earlier operator made.
        plan = replace(plan, repaired=tuple(r for r in plan.repaired if r[0] != workload_key))
        actions.append(ApplyChildren(plan, "worker pods"))
        actions.append(
            Note(
                "Migrating",
                f"the workers move from Deployment {deployment_name(owner)} to StatefulSet "
                f"{name}, whose pods keep their names (stable group.instance.id); both run in "
                f"the one worker group until the StatefulSet's {replicas} pods are ready, then "
                "the Deployment is deleted",
            )
        )
        return actions
    actions.append(ApplyChildren(plan, "worker pods"))
    if migrating and roll_finished(workload, replicas):
        actions.append(
            DeleteChild(
                "apps/v1",
                "Deployment",
                deployment_name(owner),
                "Migrated",
                f"StatefulSet {name} runs the workers ({replicas} ready): deleted Deployment "
                f"{deployment_name(owner)}, whose workers' tasks move to it",
            )
        )
    return actions


def initial_offsets_wanted(o: Observed) -> bool:
    """Whether `spec.initialOffsets` may be written in this pass: the connector does not exist
    yet, or was created for them and still waits (`status.initialOffsets` Pending).

    A pass that created the connector STOPPED and then ended before its status was written
    (the operator killed) leaves no Pending record. A resource whose status was never written
    and whose connector exists STOPPED is that case: its offsets are written before it moves,
    never skipped."""
    if o.spec.initial_offsets is None:
        return False
    pending = o.previous is not None and o.previous.initial_offsets is InitialOffsetsPhase.PENDING
    never_reported = o.previous is None or not o.previous.conditions
    created_then_lost = (
        never_reported and o.connector is not None and o.connector.state == State.STOPPED
    )
    return o.config is None or pending or created_then_lost


def _decide_rest(
    o: Observed,
    desired: Mapping[str, str],
    memory: Memory,
    done: Outcome,
    actions: list[Action],
    initial: AlterOffsets | None = None,
) -> tuple[ConnectorStatus | None, AutoRestartStatus | None, Memory, OffsetsReport]:
    """The workers' REST actions (appended to `actions`): config, initial offsets, target state,
    offsets requests, restart requests, auto-restart; the connector's status, the auto-restart
    record, the memory and the offsets report they lead to. An action's effect on the memory
    counts only if it succeeded (`done.rest_done`).

    With `initial` (`spec.initialOffsets`, read), a new connector is created STOPPED, its
    offsets are written, and only then is it moved to `spec.state`; until they are written
    (`status.initialOffsets` Pending) no state command is sent."""
    spec, name = o.spec, o.owner.name
    first = len(actions)
    phase = o.previous.initial_offsets if o.previous else None
    if initial is not None and o.config is not None:
        phase = InitialOffsetsPhase.PENDING  # also when the pass that created it lost its status
    report: tuple[bool, str, str] | None = None

    def succeeded(action: Action) -> bool:
        actions.append(action)
        index = len(actions) - 1 - first
        return done.rest_done is None or index < done.rest_done

    config_sent = config_differs(desired, o.config)
    created = False
    if config_sent and o.config is None and initial is not None:
        send = SendConfig(name, desired, State.STOPPED, "created")
        if succeeded(send):
            memory = replace(memory, last_sent_state=TargetState.STOPPED)
            phase, created = InitialOffsetsPhase.PENDING, True
    elif config_sent:
        verb = "created" if o.config is None else "updated"
        if o.config is None and spec.state is not TargetState.RUNNING:
            send = SendConfig(name, desired, rest_state(spec.state), verb)
            if succeeded(send):
                memory = replace(memory, last_sent_state=spec.state)
        else:
            succeeded(SendConfig(name, desired, None, verb))
    # The status was read before the config was sent: it says nothing of the new config, so no
    # command or automatic restart is decided on it until the next pass reads it again.
    connector = o.connector
    judged = None if config_sent else connector
    if spec.initial_offsets is None and phase is InitialOffsetsPhase.PENDING:
        phase = None  # the field was removed while the offsets waited: the state goes on
    hold = initial is not None and phase is InitialOffsetsPhase.PENDING
    if hold and initial is not None:
        stopped = created or (judged is not None and judged.state == State.STOPPED)
        if judged is not None and judged.state in SETTLED_STATES and not stopped:
            # Moved by hand before its offsets were written: they are not written now.
            phase, hold = None, False
            report = (
                False,
                "OffsetsFailed",
                f"spec.initialOffsets were not written: the connector is {judged.state}, "
                "not STOPPED as it was created",
            )
        elif stopped and memory.initial_failed != initial.offsets and succeeded(initial):
            if done.offsets_error is not None:
                memory = replace(memory, initial_failed=initial.offsets)
                report = (False, "OffsetsFailed", f"spec.initialOffsets: {done.offsets_error}")
            else:
                phase, hold = InitialOffsetsPhase.APPLIED, False
                report = (True, *done_message(initial))
                if spec.state is not TargetState.STOPPED and succeeded(
                    SendCommand(name, _COMMAND[spec.state].value)
                ):
                    memory = replace(memory, last_sent_state=spec.state)
                judged = None  # the state changes now: nothing more is decided on it
    command = (
        None
        if hold
        else state_command(spec.state, judged.state if judged else None, memory.last_sent_state)
    )
    if command is not None and succeeded(SendCommand(name, command.value)):
        memory = replace(memory, last_sent_state=spec.state)
    asked = offsets_request(
        o.annotations, spec, name, None if hold else judged, o.offsets_config_maps
    )
    for action in asked.actions:
        if succeeded(action) and action is asked.operation:
            error = done.offsets_error
            report = (
                (True, *done_message(action))
                if error is None
                else (
                    False,
                    "OffsetsFailed",
                    error,
                )
            )
    if asked.error is not None:
        report = (False, "OffsetsFailed", asked.error)
    requests = restart_annotations(o.annotations)
    for request in requests.requests:
        if request.task is None:
            succeeded(Restart(name, request.include_tasks, request.only_failed))
        else:
            succeeded(RestartTask(name, request.task))
    for error in requests.errors:
        succeeded(Warn("InvalidAnnotation", error))
    if requests.remove:
        succeeded(RemoveAnnotations(requests.remove))
    auto = auto_restart(
        spec.auto_restart,
        judged,
        o.previous.auto_restart if o.previous else None,
        o.now,
        base_s=o.options.restart_backoff_s,
        max_s=o.options.restart_backoff_max_s,
    )
    if auto.restart and auto.status is not None:
        succeeded(AutoRestartConnector(name, auto.status.count))
    return connector, auto.status, memory, OffsetsReport(phase, report)


# --------------------------------------------------------------------------------------------------
# A KConnectCluster's pass: its workers (the same decisions as a dedicated connector's), the
# connectors it runs, and the ones no KafkaConnector names any more.


@dataclass(frozen=True, slots=True)
class ClusterObserved:
    """Everything a KConnectCluster's pass read before deciding."""

    spec: KConnectClusterSpec
    owner: ClusterOwner
    generation: int | None
    previous: KConnectClusterStatus | None
    options: OperatorOptions
    secret_versions: Mapping[str, str]
    config_map_versions: Mapping[str, str]
    live: Mapping[str, JsonObject | None]
    pods: Sequence[JsonObject]
    now: datetime
    connectors: Mapping[str, ConnectorStatus] | None = None
    """The connectors on the workers and their status (read before `named`); None when no worker
    answered."""
    named: frozenset[str] = frozenset()
    """The KafkaConnectors in the namespace whose `spec.cluster` names this cluster (read after
    `connectors`, so a connector created meanwhile is in it)."""
    rest_error: str | None = None
    loggers: Mapping[str, Mapping[str, str | None] | str] = field(default_factory=dict)
    kafka_secrets: Mapping[str, SecretFacts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClusterDecision:
    actions: tuple[Action, ...]
    status: KConnectClusterStatus
    ready: bool


def orphaned_connectors(
    connectors: Mapping[str, ConnectorStatus] | None, named: frozenset[str]
) -> tuple[str, ...]:
    """The connectors on the workers that no KafkaConnector names: deleted, as Strimzi deletes
    connectors a KafkaConnect with `use-connector-resources` has no KafkaConnector for."""
    return tuple(sorted(set(connectors or {}) - named))


def cluster_connectors(
    connectors: Mapping[str, ConnectorStatus] | None, deleted: Sequence[str]
) -> list[ClusterConnector] | None:
    """The status's list of connectors, by name, without those being deleted."""
    if connectors is None:
        return None
    return [
        ClusterConnector(
            name=name,
            state=status.state,
            tasks=len(status.tasks),
            tasks_running=sum(1 for t in status.tasks if t.state == State.RUNNING),
        )
        for name, status in sorted(connectors.items())
        if name not in deleted
    ]


def cluster_ready(
    spec: KConnectClusterSpec,
    *,
    workers_ready: int,
    spec_error: str | None,
    spec_reason: StrEnum | None,
    apply_error: str | None,
    failure: str | None,
    connectors: int | None,
) -> tuple[ConditionStatus, StrEnum, str]:
    """The cluster's Ready condition: True once `spec.replicas` workers are ready."""
    false = ConditionStatus.FALSE
    if spec_error is not None:
        return false, spec_reason or ReadyReason.INVALID_CONFIG, spec_error
    if apply_error is not None:
        return false, ReadyReason.APPLY_FAILED, apply_error
    if workers_ready == 0 and spec.replicas > 0 and failure is not None:
        return false, ReadyReason.WORKER_FAILED, failure
    if workers_ready < spec.replicas:
        return (
            false,
            ReadyReason.WORKERS_NOT_READY,
            f"{workers_ready}/{spec.replicas} worker pods are ready",
        )
    running = "" if connectors is None else f", running {connectors} connectors"
    return (
        ConditionStatus.TRUE,
        ReadyReason.RUNNING,
        f"{workers_ready}/{spec.replicas} worker pods are ready{running}",
    )


def decide_cluster(o: ClusterObserved, outcome: Outcome | None = None) -> ClusterDecision:
    """A KConnectCluster's actions and status: its workers (`decide_workers`, as for a
    dedicated connector), log levels, and the deletion of connectors no KafkaConnector names."""
    done = outcome or Outcome()
    part = decide_workers(o)
    actions: list[Action] = list(part.actions)
    workers = ready_workers(o.pods, REST_PORT)
    orphans: tuple[str, ...] = ()
    if workers and o.rest_error is None:
        orphans = orphaned_connectors(o.connectors, o.named)
        actions.extend(DeleteConnector(name) for name in orphans)
    remembered = o.previous.applied_loggers if o.previous else None
    levels, applied = log_level_actions(
        workers, o.loggers, o.spec, remembered, done.logger_failures
    )
    actions.extend(levels)
    live = done.live if done.live is not None else o.live
    listed = cluster_connectors(o.connectors if o.rest_error is None else None, orphans)
    status_, reason, message = cluster_ready(
        o.spec,
        workers_ready=len(workers),
        spec_error=part.spec_error,
        spec_reason=part.spec_reason,
        apply_error=done.apply_error,
        failure=workers_failure(o, live),
        connectors=None if listed is None else len(listed),
    )
    condition = ready(
        status_,
        reason,
        message,
        previous=o.previous.conditions if o.previous else (),
        generation=o.generation,
        now=o.now,
    )
    status = KConnectClusterStatus(
        conditions=[condition],
        observed_generation=o.generation,
        workers_ready=len(workers),
        replicas=live_pods(o.pods),
        selector=selector_string(o.owner),
        connectors=listed,
        exactly_once=part.phase,
        applied_loggers=applied,
    )
    return ClusterDecision(tuple(actions), status, condition.status == ConditionStatus.TRUE)
