"""The node object, its conditions and its Lease."""

from __future__ import annotations

import datetime

from kconnect_devenv.kubelet import node

T0 = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
T1 = T0 + datetime.timedelta(seconds=10)


def test_architecture_names_are_gos() -> None:
    assert node.architecture("x86_64") == "amd64"
    assert node.architecture("aarch64") == "arm64"


def test_capacity_comes_from_the_machine() -> None:
    capacity = node.machine_capacity("MemTotal:       16384000 kB\nMemFree: 1 kB\n", cpus=4)
    assert capacity == {
        "cpu": "4",
        "memory": "16384000Ki",
        "pods": "110",
        "ephemeral-storage": "100Gi",
    }


def test_labels_carry_hostname_os_and_arch_and_extras_win() -> None:
    labels = node.node_labels("node-a", {"disk": "ssd"})
    assert labels["kubernetes.io/hostname"] == "node-a"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["disk"] == "ssd"


def test_a_heartbeat_moves_heartbeat_times_but_not_transition_times() -> None:
    first = node.node_conditions(T0, [])
    ready = next(c for c in first if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert ready["reason"] == "KubeletReady"
    later = node.node_conditions(T1, first)
    ready = next(c for c in later if c["type"] == "Ready")
    assert ready["lastHeartbeatTime"] == "2025-01-02T03:04:15Z"
    assert ready["lastTransitionTime"] == "2025-01-02T03:04:05Z"
    pressure = {c["type"]: c["status"] for c in later}
    assert pressure == {
        "Ready": "True",
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }


def test_the_node_and_its_lease() -> None:
    created = node.node_object("node-a", {"a": "b"}, {"cpu": "2"}, T0)
    assert node.is_ready(created)
    assert created["status"]["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
    assert created["status"]["nodeInfo"]["kubeletVersion"].endswith("-kconnect-test")
    lease = node.lease_object({"metadata": {"name": "node-a", "uid": "n-1"}}, T0)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "n-1"
    assert lease["spec"] == {
        "holderIdentity": "node-a",
        "leaseDurationSeconds": 40,
        "renewTime": "2025-01-02T03:04:05.000000Z",
    }
