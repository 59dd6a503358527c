"""Pod phase, conditions and container statuses, as the real kubelet reports them."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from kconnect_devenv.kubelet import status
from kconnect_devenv.kubelet.status import ContainerView, Running, Terminated, Waiting

T0 = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(seconds=30)


def running(name: str = "main", **kw: Any) -> ContainerView:
    return ContainerView(name=name, image="img", state=Running(T0), pid=41, **kw)


def exited(code: int, name: str = "main") -> ContainerView:
    return ContainerView(
        name=name,
        image="img",
        state=Terminated(code, status.exit_reason(code), T0, T1, pid=41),
        pid=41,
    )


def restarting(code: int, name: str = "main") -> ContainerView:
    last = Terminated(code, status.exit_reason(code), T0, T1, pid=41)
    return ContainerView(
        name=name, image="img", state=Waiting("CrashLoopBackOff"), last_state=last, restart_count=1
    )


def waiting(name: str = "main") -> ContainerView:
    return ContainerView(name=name, image="img", state=Waiting("ContainerCreating"))


@pytest.mark.parametrize(
    ("policy", "views", "phase"),
    [
        ("Always", [waiting()], "Pending"),
        ("Always", [running(), waiting("b")], "Pending"),  # one has never started
        ("Always", [running()], "Running"),
        ("Always", [exited(0)], "Running"),  # about to restart
        ("Always", [restarting(1)], "Running"),
        ("OnFailure", [exited(0)], "Succeeded"),
        ("OnFailure", [restarting(1)], "Running"),
        ("OnFailure", [exited(0), running("b")], "Running"),
        ("Never", [exited(0)], "Succeeded"),
        ("Never", [exited(0), exited(2, "b")], "Failed"),
        ("Never", [exited(1), running("b")], "Running"),
    ],
)
def test_phase(policy: str, views: list[ContainerView], phase: str) -> None:
    assert status.pod_phase(policy, [], views) == phase


def test_init_containers_hold_the_pod_pending_or_fail_it() -> None:
    assert status.pod_phase("Always", [running("init")], [waiting()]) == "Pending"
    assert status.pod_phase("Always", [exited(0, "init")], [running()]) == "Running"
    assert status.pod_phase("Always", [restarting(1, "init")], [waiting()]) == "Pending"
    assert status.pod_phase("Never", [exited(1, "init")], [waiting()]) == "Failed"


def a_pod(conditions: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
        "spec": {"containers": [{"name": "main"}], **spec},
        "status": {"conditions": conditions or []},
    }


def by_type(conditions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in conditions}


def test_a_running_ready_pod_has_all_conditions_true() -> None:
    conditions = by_type(
        status.pod_conditions(
            a_pod(),
            phase="Running",
            sandbox_ready=True,
            init_views=[],
            views=[running(ready=True, started=True)],
            now=T0,
        )
    )
    assert list(conditions) == [
        "PodScheduled",
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
    ]
    assert all(c["status"] == "True" for c in conditions.values())
    assert conditions["Ready"]["lastTransitionTime"] == "2025-01-02T03:04:05Z"


def test_an_unready_container_names_itself_and_transitions_keep_their_time() -> None:
    earlier = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2024-12-31T00:00:00Z"},
        {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"},
        {"type": "Initialized", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"},
        {"type": "DisruptionTarget", "status": "True", "reason": "Someone else's"},
    ]
    conditions = status.pod_conditions(
        a_pod(earlier),
        phase="Running",
        sandbox_ready=True,
        init_views=[],
        views=[running(), running("b", ready=True)],
        now=T1,
    )
    found = by_type(conditions)
    assert found["Ready"] == {
        "type": "Ready",
        "status": "False",
        "reason": "ContainersNotReady",
        "message": "containers with unready status: [main]",
        "lastProbeTime": None,
        "lastTransitionTime": "2025-01-02T03:04:35Z",  # it changed: now
    }
    assert found["Initialized"]["lastTransitionTime"] == "2025-01-01T00:00:00Z"  # unchanged
    assert found["PodScheduled"] == earlier[0]  # the scheduler's, kept as it is
    assert found["DisruptionTarget"] == earlier[3]  # another component's, kept


def test_a_finished_pod_is_not_ready_because_it_completed() -> None:
    found = by_type(
        status.pod_conditions(
            a_pod(), phase="Succeeded", sandbox_ready=True, init_views=[], views=[exited(0)], now=T0
        )
    )
    assert found["Ready"]["reason"] == "PodCompleted"
    assert found["ContainersReady"]["status"] == "False"


def test_readiness_gates_hold_ready_back() -> None:
    pod = a_pod(readinessGates=[{"conditionType": "example.com/lb"}])
    views = [running(ready=True, started=True)]
    found = by_type(
        status.pod_conditions(
            pod, phase="Running", sandbox_ready=True, init_views=[], views=views, now=T0
        )
    )
    assert found["ContainersReady"]["status"] == "True"
    assert found["Ready"]["status"] == "False"
    assert found["Ready"]["reason"] == "ReadinessGatesNotReady"
    assert (
        found["Ready"]["message"]
        == 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'
    )
    gated = a_pod(
        [{"type": "example.com/lb", "status": "True"}],
        readinessGates=[{"conditionType": "example.com/lb"}],
    )
    found = by_type(
        status.pod_conditions(
            gated, phase="Running", sandbox_ready=True, init_views=[], views=views, now=T0
        )
    )
    assert found["Ready"]["status"] == "True"


def test_incomplete_init_containers_are_named() -> None:
    found = by_type(
        status.pod_conditions(
            a_pod(),
            phase="Pending",
            sandbox_ready=True,
            init_views=[exited(0, "a"), running("b")],
            views=[waiting()],
            now=T0,
        )
    )
    assert found["Initialized"]["message"] == "containers with incomplete status: [b]"
    assert found["Ready"]["reason"] == "ContainersNotInitialized"


def test_container_statuses() -> None:
    view = ContainerView(
        name="main",
        image="registry.invalid/x:1",
        state=Running(T1),
        last_state=Terminated(137, "Error", T0, T1, pid=40),
        restart_count=1,
        ready=True,
        started=True,
        pid=41,
    )
    assert status.container_status(view) == {
        "name": "main",
        "image": "registry.invalid/x:1",
        "imageID": "kconnect-test://registry.invalid/x:1",
        "containerID": "kconnect-test://41",
        "ready": True,
        "started": True,
        "restartCount": 1,
        "state": {"running": {"startedAt": "2025-01-02T03:04:35Z"}},
        "lastState": {
            "terminated": {
                "exitCode": 137,
                "reason": "Error",
                "startedAt": "2025-01-02T03:04:05Z",
                "finishedAt": "2025-01-02T03:04:35Z",
                "containerID": "kconnect-test://40",
            }
        },
    }
    fresh = status.container_status(
        ContainerView(name="main", image="i", state=Waiting("CreateContainerConfigError", "why"))
    )
    assert fresh["state"] == {"waiting": {"reason": "CreateContainerConfigError", "message": "why"}}
    assert "containerID" not in fresh
    assert fresh["lastState"] == {}


def test_only_a_change_is_written() -> None:
    pod = a_pod()
    desired = status.pod_status(
        pod,
        init_views=[],
        views=[running(ready=True, started=True)],
        sandbox_ready=True,
        pod_ip="127.0.1.2",
        host_ip="127.0.0.1",
        start_time=T0,
        now=T0,
    )
    assert desired["phase"] == "Running"
    assert desired["podIPs"] == [{"ip": "127.0.1.2"}]
    assert "initContainerStatuses" not in desired
    patch = status.status_patch({"phase": "Pending", "qosClass": "BestEffort"}, desired)
    assert patch is not None
    assert patch["phase"] == "Running"
    assert "qosClass" not in patch
    # As the API server echoes it back: empty lastState, null lastProbeTime.
    echoed = {
        **desired,
        "containerStatuses": [{**desired["containerStatuses"][0], "lastState": {}}],
        "qosClass": "BestEffort",
    }
    assert status.status_patch(echoed, desired) is None
    # A field the kubelet no longer reports is removed.
    assert status.status_patch({**echoed, "initContainerStatuses": [{"name": "x"}]}, desired) == {
        "initContainerStatuses": None
    }


def test_a_failed_container_under_fallback_to_logs_gets_its_log_tail_as_message() -> None:
    fallback = {"name": "main", "terminationMessagePolicy": "FallbackToLogsOnError"}
    assert status.wants_log_message(fallback, 1)
    assert not status.wants_log_message(fallback, 0)
    assert not status.wants_log_message({"name": "main"}, 1)  # File, the default
    assert not status.wants_log_message({**fallback, "terminationMessagePolicy": "File"}, 1)
    output = b"".join(f"line {i}\n".encode() for i in range(100))
    message = status.log_message(output)
    assert message.splitlines() == [f"line {i}" for i in range(20, 100)]  # the last 80 lines
    long_lines = b"".join(bytes([65 + i]) * 99 + b"\n" for i in range(26))
    message = status.log_message(long_lines)
    assert len(message.encode()) == 2048
    assert message.endswith("Z" * 99 + "\n")
    assert status.log_message(b"no newline at the end") == "no newline at the end"
    assert status.log_message(b"bad \xff byte\n") == "bad \ufffd byte\n"
