"""A pod's status as the kubelet reports it, computed from what the kubelet knows. Pure.

The pod worker keeps one :class:`ContainerView` per container; :func:`pod_status` turns them into
the ``status`` the API server gets, following the real kubelet (``getPhase``,
``GeneratePodReadyCondition`` and friends):

- **Phase.** Pending while an init container has not succeeded or a container has never started;
  Running once all have started and one runs (or all are restarting under ``Always``/``OnFailure``);
  Succeeded when all exited 0 and will not restart; Failed when all exited, one with an error,
  under ``Never`` (or an init container failed under ``Never``). A terminal phase never changes.
- **Conditions.** ``PodReadyToStartContainers``, ``Initialized``, ``ContainersReady`` and ``Ready``
  (with readiness gates) are computed; ``PodScheduled`` and every condition another component
  owns are kept as they are. ``lastTransitionTime`` changes only when a condition's status does.
- **Only a change is written.** :func:`status_patch` compares the fields the kubelet owns with
  the pod's current status and returns None when they agree, so an idle pod costs no writes.

A container that failed under ``terminationMessagePolicy: FallbackToLogsOnError`` gets the end of
its run's output as ``terminated.message`` (:func:`log_message`: the last 80 lines, at most their
last 2048 bytes, as the real kubelet's ``readLastStringFromContainerLogs``); the kubelet reads no
``terminationMessagePath`` file.

Times are whole seconds in RFC 3339, as the API server stores them.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Final

from kconnect_devenv.kubelet.api import JsonObject

RUNTIME: Final = "kconnect-test"
"""The container runtime's name in container and image IDs."""

KUBELET_CONDITIONS: Final = (
    "PodReadyToStartContainers",
    "Initialized",
    "ContainersReady",
    "Ready",
)
OWNED_FIELDS: Final = (
    "phase",
    "conditions",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "initContainerStatuses",
    "containerStatuses",
)
TERMINAL_PHASES: Final = frozenset({"Succeeded", "Failed"})


def timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class Waiting:
    reason: str
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Running:
    started_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Terminated:
    exit_code: int
    reason: str
    started_at: datetime.datetime | None
    finished_at: datetime.datetime
    message: str = ""
    signal: int | None = None
    pid: int | None = None  # the run's main process; the container ID is made from it


State = Waiting | Running | Terminated


@dataclasses.dataclass(frozen=True)
class ContainerView:
    """What the kubelet knows of one container, enough for its ``containerStatuses`` entry."""

    name: str
    image: str
    state: State
    last_state: Terminated | None = None
    restart_count: int = 0
    ready: bool = False
    started: bool = False
    pid: int | None = None  # of the current or last run; the container ID is made from it

    @property
    def has_run(self) -> bool:
        return self.last_state is not None or not isinstance(self.state, Waiting)


MESSAGE_LOG_LINES: Final = 80
MESSAGE_MAX_BYTES: Final = 2048
LOG_READ_BYTES: Final = 64 * 1024
"""How much of a log's end is read to find its last lines; more than 80 lines x 2 KiB is never
needed since only the last :data:`MESSAGE_MAX_BYTES` are kept."""


def wants_log_message(container: JsonObject, exit_code: int) -> bool:
    """``terminationMessagePolicy: FallbackToLogsOnError`` and the container failed."""
    policy = container.get("terminationMessagePolicy") or "File"
    return policy == "FallbackToLogsOnError" and exit_code != 0


def log_message(output: bytes) -> str:
    """A termination message from a run's output, as the real kubelet makes it: the last
    :data:`MESSAGE_LOG_LINES` lines, of which the last :data:`MESSAGE_MAX_BYTES` bytes."""
    lines = output.splitlines(keepends=True)[-MESSAGE_LOG_LINES:]
    tail = b"".join(lines)[-MESSAGE_MAX_BYTES:]
    return tail.decode("utf-8", errors="replace")


def exit_reason(exit_code: int) -> str:
    return "Completed" if exit_code == 0 else "Error"


def state_json(state: State) -> JsonObject:
    if isinstance(state, Waiting):
        waiting: JsonObject = {"reason": state.reason}
        if state.message:
            waiting["message"] = state.message
        return {"waiting": waiting}
    if isinstance(state, Running):
        return {"running": {"startedAt": timestamp(state.started_at)}}
    terminated: JsonObject = {
        "exitCode": state.exit_code,
        "reason": state.reason,
        "finishedAt": timestamp(state.finished_at),
    }
    if state.started_at is not None:
        terminated["startedAt"] = timestamp(state.started_at)
    if state.message:
        terminated["message"] = state.message
    if state.signal is not None:
        terminated["signal"] = state.signal
    if state.pid is not None:
        terminated["containerID"] = container_id(state.pid)
    return {"terminated": terminated}


def container_id(pid: int) -> str:
    return f"{RUNTIME}://{pid}"


def container_status(view: ContainerView) -> JsonObject:
    status: JsonObject = {
        "name": view.name,
        "image": view.image,
        "imageID": f"{RUNTIME}://{view.image}",
        "ready": view.ready,
        "started": view.started,
        "restartCount": view.restart_count,
        "state": state_json(view.state),
        "lastState": state_json(view.last_state) if view.last_state is not None else {},
    }
    if view.pid is not None and not isinstance(view.state, Waiting):
        status["containerID"] = container_id(view.pid)
    return status


# --------------------------------------------------------------------------------------------------
# Phase


def init_failed(restart_policy: str, init_views: Sequence[ContainerView]) -> bool:
    """An init container failed and will not be retried (``restartPolicy: Never``)."""
    return restart_policy == "Never" and any(
        _last_exit(view) not in {None, 0} and not isinstance(view.state, Running)
        for view in init_views
    )


def initialized(init_views: Sequence[ContainerView]) -> bool:
    return all(
        isinstance(view.state, Terminated) and view.state.exit_code == 0 for view in init_views
    )


def _last_exit(view: ContainerView) -> int | None:
    if isinstance(view.state, Terminated):
        return view.state.exit_code
    if view.last_state is not None:
        return view.last_state.exit_code
    return None


def pod_phase(
    restart_policy: str,
    init_views: Sequence[ContainerView],
    views: Sequence[ContainerView],
) -> str:
    if init_failed(restart_policy, init_views):
        return "Failed"
    if not initialized(init_views):
        return "Pending"
    running = stopped = succeeded = waiting = 0
    for view in views:
        if isinstance(view.state, Running):
            running += 1
        elif isinstance(view.state, Terminated):
            stopped += 1
            succeeded += view.state.exit_code == 0
        elif view.last_state is not None:
            stopped += 1  # waiting to restart after a run
        else:
            waiting += 1
    if waiting:
        return "Pending"  # a container has never started
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"  # all are restarting
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"  # OnFailure: the failed ones are restarting
    return "Pending"


# --------------------------------------------------------------------------------------------------
# Conditions


def _condition(
    kind: str,
    ok: bool,
    now: datetime.datetime,
    previous: Mapping[str, JsonObject],
    reason: str = "",
    message: str = "",
) -> JsonObject:
    status = "True" if ok else "False"
    before = previous.get(kind)
    if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
        since = str(before["lastTransitionTime"])
    else:
        since = timestamp(now)
    condition: JsonObject = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if not ok and reason:
        condition["reason"] = reason
    if not ok and message:
        condition["message"] = message
    return condition


def pod_conditions(
    pod: JsonObject,
    *,
    phase: str,
    sandbox_ready: bool,
    init_views: Sequence[ContainerView],
    views: Sequence[ContainerView],
    now: datetime.datetime,
) -> list[JsonObject]:
    """All of the pod's conditions: the kubelet's own, then the others as they are."""
    current = list((pod.get("status") or {}).get("conditions") or [])
    previous = {str(c.get("type")): c for c in current}
    conditions: list[JsonObject] = []
    if "PodScheduled" in previous:
        conditions.append(previous["PodScheduled"])
    else:
        conditions.append(_condition("PodScheduled", True, now, previous))
    conditions.append(_condition("PodReadyToStartContainers", sandbox_ready, now, previous))
    incomplete = [
        view.name
        for view in init_views
        if not (isinstance(view.state, Terminated) and view.state.exit_code == 0)
    ]
    if phase == "Succeeded" and init_views:
        incomplete = []
    conditions.append(
        _condition(
            "Initialized",
            not incomplete,
            now,
            previous,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(incomplete)}]",
        )
    )
    if phase in TERMINAL_PHASES:
        ready, reason, message = False, "PodCompleted", ""
    else:
        unready = [view.name for view in views if not view.ready]
        ready = not unready and not incomplete
        reason = "ContainersNotReady"
        message = f"containers with unready status: [{' '.join(unready)}]"
        if incomplete:
            reason = "ContainersNotInitialized"
            message = f"containers with incomplete status: [{' '.join(incomplete)}]"
    conditions.append(_condition("ContainersReady", ready, now, previous, reason, message))
    gate_ready, gate_message = _readiness_gates(pod, previous)
    if ready and not gate_ready:
        conditions.append(
            _condition("Ready", False, now, previous, "ReadinessGatesNotReady", gate_message)
        )
    else:
        conditions.append(_condition("Ready", ready, now, previous, reason, message))
    owned = {"PodScheduled", *KUBELET_CONDITIONS}
    conditions.extend(c for c in current if c.get("type") not in owned)
    return conditions


def _readiness_gates(pod: JsonObject, previous: Mapping[str, JsonObject]) -> tuple[bool, str]:
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        kind = gate.get("conditionType")
        condition = previous.get(str(kind))
        if condition is None:
            return False, f'corresponding condition of pod readiness gate "{kind}" does not exist.'
        if condition.get("status") != "True":
            return False, (
                f'the status of pod readiness gate "{kind}" is not "True", '
                f"but {condition.get('status')}"
            )
    return True, ""


# --------------------------------------------------------------------------------------------------
# The whole status


def pod_status(
    pod: JsonObject,
    *,
    init_views: Sequence[ContainerView],
    views: Sequence[ContainerView],
    sandbox_ready: bool,
    pod_ip: str,
    host_ip: str,
    start_time: datetime.datetime,
    now: datetime.datetime,
    phase: str | None = None,
) -> JsonObject:
    """The fields of ``status`` the kubelet owns. ``phase`` overrides the computed one (a terminal
    phase is sticky: the pod worker passes it once reached)."""
    restart_policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    phase = phase or pod_phase(restart_policy, init_views, views)
    status: JsonObject = {
        "phase": phase,
        "conditions": pod_conditions(
            pod,
            phase=phase,
            sandbox_ready=sandbox_ready,
            init_views=init_views,
            views=views,
            now=now,
        ),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": timestamp(start_time),
        "containerStatuses": [container_status(view) for view in views],
    }
    if init_views:
        status["initContainerStatuses"] = [container_status(view) for view in init_views]
    return status


def status_patch(current: JsonObject, desired: JsonObject) -> JsonObject | None:
    """A merge patch of ``status`` that makes ``current`` agree with ``desired`` in the fields the
    kubelet owns, or None when they already agree. ``current`` is what the kubelet last wrote (at
    first, the pod's status as it found it), so fields other components add cause no writes."""
    patch = {
        key: desired.get(key)
        for key in OWNED_FIELDS
        if _normalized(current.get(key)) != _normalized(desired.get(key))
    }
    return patch or None


def _normalized(value: object) -> object:
    """JSON as the API server echoes it: null fields and empty objects are dropped."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value
