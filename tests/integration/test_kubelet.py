"""The test kubelet against the session's real control plane: pods run, serve, fail and go away.

Each test gets its own namespace. Waits are bounded by :data:`WAIT_S` and no test asserts a
duration. The kubelet and control plane are the session's (root conftest); the tests need the
control plane binaries (``make cluster-build``) and are skipped without them outside CI.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kconnect_devenv import controlplane
from kconnect_devenv import kubelet as test_kubelet

WAIT_S = 60.0
KUBECTL_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 5.0
POLL_S = 0.2

JsonObject = dict[str, Any]  # a Kubernetes object as kubectl prints it
T = TypeVar("T")

pytestmark = pytest.mark.skipif(
    controlplane.built() is None and not os.environ.get("CI"),
    reason="the control plane binaries are not built: run `make cluster-build` (a long cold build)",
)

# A web server bound to its pod IP (from args, through $(POD_IP)): GET / answers what the pod sees.
SERVER = textwrap.dedent(
    """
    import http.server, json, os, signal, sys
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    def read(path):
        with open(path) as handle:
            return handle.read()
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({
                "page": read("/etc/kubelet-test/page.txt"),
                "token": os.environ["TOKEN"],
                "greeting": os.environ["GREETING"],
                "namespace": read("/var/run/secrets/kubernetes.io/serviceaccount/namespace"),
            }).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    print("serving on", sys.argv[1], flush=True)
    http.server.ThreadingHTTPServer((sys.argv[1], 8080), Handler).serve_forever()
    """
)
# Sleeps, and exits 0 on SIGTERM (as pid 1 of its namespace it would ignore SIGTERM otherwise).
SLEEPER = textwrap.dedent(
    """
    import signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(3600)
    """
)


# --------------------------------------------------------------------------------------------------
# Helpers


class Cluster:
    """kubectl against the session's control plane."""

    def __init__(self, plane: controlplane.ControlPlane, kubelet: test_kubelet.Kubelet) -> None:
        self.plane = plane
        self.kubelet = kubelet

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(self.plane.kubectl), *args],
            env={**os.environ, "KUBECONFIG": str(self.plane.kubeconfig)},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=KUBECTL_TIMEOUT_S,
            check=False,
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def apply(self, namespace: str, *objects: JsonObject) -> None:
        items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        self.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(items))

    def get(self, kind: str, name: str, namespace: str) -> JsonObject | None:
        out = self.kubectl("-n", namespace, "get", kind, name, "-o", "json", "--ignore-not-found")
        return json.loads(out) if out.strip() else None

    def pods(self, namespace: str, selector: str | None = None) -> list[JsonObject]:
        args = ["-n", namespace, "get", "pods", "-o", "json"]
        if selector:
            args += ["-l", selector]
        items: list[JsonObject] = json.loads(self.kubectl(*args))["items"]
        return items


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float = WAIT_S,
    describe: Callable[[], object] | None = None,
) -> T:
    """The first truthy result of ``check``; fails after ``timeout`` saying what was seen."""
    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            seen = describe() if describe is not None else last
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; saw: {seen!r}")
        time.sleep(POLL_S)


def summary(pods: list[JsonObject]) -> list[object]:
    """What a person needs to see of pods that did not get where a test expected."""
    return [
        (
            p["metadata"]["name"],
            p.get("status", {}).get("phase"),
            p.get("status", {}).get("podIP"),
            [
                (c["type"], c["status"], c.get("reason"))
                for c in p.get("status", {}).get("conditions", [])
            ],
            [
                (s["name"], s.get("state"), s.get("restartCount"))
                for s in p.get("status", {}).get("containerStatuses", [])
            ],
        )
        for p in pods
    ]


def condition(pod: JsonObject, kind: str) -> JsonObject:
    for found in pod.get("status", {}).get("conditions", []):
        if found["type"] == kind:
            return dict(found)
    return {}


def is_ready(pod: JsonObject) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and (
        condition(pod, "Ready").get("status") == "True"
    )


def container_status(pod: JsonObject, name: str = "main") -> JsonObject:
    for status in pod.get("status", {}).get("containerStatuses", []):
        if status["name"] == name:
            return dict(status)
    return {}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def http_get(ip: str, path: str = "/") -> JsonObject:
    with urllib.request.urlopen(f"http://{ip}:8080{path}", timeout=HTTP_TIMEOUT_S) as response:
        body: JsonObject = json.loads(response.read())
    return body


def log_with(log: Path, text: str) -> str | None:
    """The log's content once it holds ``text``."""
    content = log.read_text() if log.exists() else ""
    return content if text in content else None


def python_container(script: str, *args: str, **extra: Any) -> JsonObject:
    """A container running ``python -c script args``; the image is ignored by the kubelet."""
    return {
        "name": "main",
        "image": "registry.invalid/kubelet-test:1",
        "command": ["python", "-c", script],
        "args": list(args),
        **extra,
    }


def pod(name: str, *containers: JsonObject, **spec: Any) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": list(containers), **spec},
    }


def running_pod(cluster: Cluster, namespace: str, name: str) -> JsonObject:
    def ready() -> JsonObject | None:
        found = cluster.get("pod", name, namespace)
        return found if found is not None and is_ready(found) else None

    def describe() -> object:
        found = cluster.get("pod", name, namespace)
        return summary([found]) if found else "no such pod"

    return wait_for(f"pod {namespace}/{name} Running and Ready", ready, describe=describe)


def ready_pods(cluster: Cluster, namespace: str, selector: str, count: int) -> list[JsonObject]:
    def ready() -> list[JsonObject] | None:
        found = [p for p in cluster.pods(namespace, selector) if is_ready(p)]
        return found if len(found) == count else None

    return wait_for(
        f"{count} Running and Ready pods with {selector}",
        ready,
        describe=lambda: summary(cluster.pods(namespace, selector)),
    )


def pod_in_phase(cluster: Cluster, namespace: str, name: str, phase: str) -> JsonObject:
    def in_phase() -> JsonObject | None:
        found = cluster.get("pod", name, namespace)
        return found if found is not None and found["status"]["phase"] == phase else None

    return wait_for(f"pod {namespace}/{name} {phase}", in_phase)


def wait_gone(cluster: Cluster, namespace: str, name: str, pid: int) -> None:
    wait_for(f"pid {pid} of {namespace}/{name} to end", lambda: not alive(pid))
    wait_for(
        f"pod {namespace}/{name} to be gone", lambda: cluster.get("pod", name, namespace) is None
    )


# --------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def cluster(control_plane: controlplane.ControlPlane, kubelet: test_kubelet.Kubelet) -> Cluster:
    return Cluster(control_plane, kubelet)


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false")


# --------------------------------------------------------------------------------------------------
# Tests


def test_a_deployment_runs_as_ready_pods_with_their_own_ips_volumes_and_env(
    cluster: Cluster, namespace: str
) -> None:
    page = f"hello from a ConfigMap {uuid.uuid4().hex}\n"
    cluster.apply(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "site"},
            "data": {"page.txt": page},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "stringData": {"token": "s3cr3t"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            python_container(
                                SERVER,
                                "$(POD_IP)",
                                env=[
                                    {
                                        "name": "POD_IP",
                                        "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                                    },
                                    {
                                        "name": "TOKEN",
                                        "valueFrom": {
                                            "secretKeyRef": {"name": "creds", "key": "token"}
                                        },
                                    },
                                    {"name": "GREETING", "value": "hello from $(POD_IP)"},
                                ],
                                ports=[{"name": "http", "containerPort": 8080}],
                                readinessProbe={
                                    "httpGet": {"path": "/", "port": "http"},
                                    "periodSeconds": 1,
                                },
                                volumeMounts=[{"name": "site", "mountPath": "/etc/kubelet-test"}],
                            )
                        ],
                        "volumes": [{"name": "site", "configMap": {"name": "site"}}],
                    },
                },
            },
        },
    )
    pods = ready_pods(cluster, namespace, "app=web", 2)
    ips = [p["status"]["podIP"] for p in pods]
    assert len(set(ips)) == 2, ips
    for item in pods:
        ip = item["status"]["podIP"]
        prefix = cluster.kubelet.pod_ip_prefix
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(f"{prefix}.0/24")
        assert item["status"]["podIPs"] == [{"ip": ip}]
        assert item["status"]["hostIP"] == "127.0.0.1"
        assert item["spec"]["nodeName"] == cluster.kubelet.node_name
        assert container_status(item)["containerID"].startswith("kconnect-test://")
        seen = http_get(ip)
        assert seen == {
            "page": page,
            "token": "s3cr3t",
            "greeting": f"hello from {ip}",
            "namespace": namespace,
        }
    # The mounts lived in the pods' own mount namespaces only.
    assert not Path("/etc/kubelet-test").exists()
    assert not Path("/var/run/secrets/kubernetes.io").exists()


def test_volumes_are_mounted_read_only_with_sub_paths_and_modes(
    cluster: Cluster, namespace: str
) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        def show(path):
            with open(path) as handle:
                print(f"{path}={handle.read()!r}", flush=True)
        show("/opt/kubelet-test/conf/app.conf")
        show("/var/run/kubelet-info/labels")
        show("/var/run/kubelet-info/name")
        print("mode", oct(os.stat("/etc/kubelet-secret/key").st_mode & 0o777), flush=True)
        try:
            open("/etc/kubelet-secret/new", "w")
        except OSError as exc:
            print("write:", exc.strerror, flush=True)
        with open("/var/lib/kubelet-test/scratch/note", "w") as handle:
            handle.write("written")
        show("/var/lib/kubelet-test/scratch/note")
        time.sleep(3600)
        """
    )
    cluster.apply(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "conf"},
            "data": {"app.conf": "level=debug\n", "other": "x"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "key"},
            "stringData": {"private": "k"},
        },
        pod(
            "volumes",
            python_container(
                script,
                volumeMounts=[
                    {
                        "name": "conf",
                        "mountPath": "/opt/kubelet-test/conf/app.conf",
                        "subPath": "app.conf",
                    },
                    {"name": "info", "mountPath": "/var/run/kubelet-info"},
                    {"name": "key", "mountPath": "/etc/kubelet-secret"},
                    {"name": "scratch", "mountPath": "/var/lib/kubelet-test/scratch"},
                ],
            ),
            volumes=[
                {"name": "conf", "configMap": {"name": "conf"}},
                {
                    "name": "info",
                    "downwardAPI": {
                        "items": [
                            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        ]
                    },
                },
                {
                    "name": "key",
                    "secret": {
                        "secretName": "key",
                        "defaultMode": 0o400,
                        "items": [{"key": "private", "path": "key"}],
                    },
                },
                {"name": "scratch", "emptyDir": {}},
            ],
        ),
    )
    running_pod(cluster, namespace, "volumes")
    log = cluster.kubelet.container_log(namespace, "volumes", "main")
    text = wait_for("the pod's report", lambda: log_with(log, "note="))
    assert "/opt/kubelet-test/conf/app.conf='level=debug\\n'" in text
    assert "/var/run/kubelet-info/labels='app=\"volumes\"'" in text
    assert "/var/run/kubelet-info/name='volumes'" in text
    assert "mode 0o400" in text
    assert "write: Read-only file system" in text
    assert "/var/lib/kubelet-test/scratch/note='written'" in text
    assert not Path("/opt/kubelet-test").exists()
    assert not Path("/var/lib/kubelet-test").exists()


def test_a_failing_readiness_probe_makes_the_pod_unready(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        namespace,
        pod(
            "probed",
            python_container(
                SLEEPER,
                readinessProbe={
                    "exec": {"command": ["sh", "-c", "test ! -e /var/run/kubelet-test/unready"]},
                    "periodSeconds": 1,
                    "failureThreshold": 1,
                },
                volumeMounts=[{"name": "state", "mountPath": "/var/run/kubelet-test"}],
            ),
            volumes=[{"name": "state", "emptyDir": {}}],
        ),
    )
    ready = running_pod(cluster, namespace, "probed")
    flag = cluster.kubelet.volume_dir(namespace, "probed", "state", ready["metadata"]["uid"])
    (flag / "unready").write_text("")

    def unready() -> JsonObject | None:
        found = cluster.get("pod", "probed", namespace)
        if found and condition(found, "Ready").get("status") == "False":
            return found
        return None

    found = wait_for("Ready=False", unready)
    assert found["status"]["phase"] == "Running"
    assert condition(found, "ContainersReady")["reason"] == "ContainersNotReady"
    assert container_status(found)["ready"] is False
    assert container_status(found)["restartCount"] == 0
    (flag / "unready").unlink()
    running_pod(cluster, namespace, "probed")


def test_a_startup_probe_holds_the_other_probes_back(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        namespace,
        pod(
            "slow",
            python_container(
                SLEEPER,
                startupProbe={
                    "exec": {"command": ["test", "-e", "/state/started"]},
                    "periodSeconds": 1,
                    "failureThreshold": 600,
                },
                readinessProbe={"exec": {"command": ["true"]}, "periodSeconds": 1},
                volumeMounts=[{"name": "state", "mountPath": "/state"}],
            ),
            volumes=[{"name": "state", "emptyDir": {}}],
        ),
    )

    def running_not_started() -> JsonObject | None:
        found = cluster.get("pod", "slow", namespace)
        status = container_status(found or {})
        return found if "running" in status.get("state", {}) else None

    found = wait_for("the container to run", running_not_started)
    assert container_status(found)["started"] is False
    assert container_status(found)["ready"] is False
    assert condition(found, "Ready")["status"] == "False"
    flag = cluster.kubelet.volume_dir(namespace, "slow", "state", found["metadata"]["uid"])
    (flag / "started").write_text("")
    ready = running_pod(cluster, namespace, "slow")
    assert container_status(ready)["started"] is True
    assert container_status(ready)["restartCount"] == 0


def test_a_killed_container_is_restarted(cluster: Cluster, namespace: str) -> None:
    cluster.apply(namespace, pod("crashy", python_container(SLEEPER)))
    before = running_pod(cluster, namespace, "crashy")
    pid = cluster.kubelet.container_pid(namespace, "crashy", "main")
    assert pid is not None
    assert container_status(before)["containerID"] == f"kconnect-test://{pid}"
    os.kill(pid, signal.SIGKILL)

    def restarted() -> JsonObject | None:
        found = cluster.get("pod", "crashy", namespace)
        if found and container_status(found).get("restartCount") == 1 and is_ready(found):
            return found
        return None

    after = wait_for("restartCount 1 and Ready", restarted)
    status = container_status(after)
    assert status["lastState"]["terminated"]["exitCode"] == 128 + signal.SIGKILL
    assert status["lastState"]["terminated"]["containerID"] == f"kconnect-test://{pid}"
    new_pid = cluster.kubelet.container_pid(namespace, "crashy", "main")
    assert new_pid is not None
    assert new_pid != pid
    assert status["containerID"] == f"kconnect-test://{new_pid}"


def test_a_crashing_container_backs_off(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        namespace, pod("loop", python_container("import sys; print('crash'); sys.exit(3)"))
    )

    def backing_off() -> JsonObject | None:
        found = cluster.get("pod", "loop", namespace)
        status = container_status(found or {})
        waiting = status.get("state", {}).get("waiting", {})
        if waiting.get("reason") == "CrashLoopBackOff" and status["restartCount"] >= 2:
            return found
        return None

    found = wait_for("CrashLoopBackOff", backing_off)
    status = container_status(found)
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert found["status"]["phase"] == "Running"  # restartPolicy Always: restarting, not failed
    assert condition(found, "Ready")["status"] == "False"
    log = cluster.kubelet.container_log(namespace, "loop", "main").read_text()
    assert log.count("crash") >= 3


def test_restart_policy_never_ends_in_succeeded_or_failed(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        namespace,
        pod("done", python_container("print('ok')"), restartPolicy="Never"),
        pod("failed", python_container("raise SystemExit(7)"), restartPolicy="Never"),
        pod("retried", python_container("print('ok')"), restartPolicy="OnFailure"),
    )
    for name, phase, code in (
        ("done", "Succeeded", 0),
        ("failed", "Failed", 7),
        ("retried", "Succeeded", 0),
    ):
        found = pod_in_phase(cluster, namespace, name, phase)
        status = container_status(found)
        assert status["state"]["terminated"]["exitCode"] == code
        assert status["restartCount"] == 0
        assert condition(found, "Ready")["reason"] == "PodCompleted"


def test_init_containers_run_first_in_order(cluster: Cluster, namespace: str) -> None:
    def step(name: str, text: str) -> JsonObject:
        return {
            "name": name,
            "image": "registry.invalid/kubelet-test:1",
            "command": ["sh", "-c", f"echo {text} >> /work/steps"],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
        }

    script = "print(open('/work/steps').read().split(), flush=True)\n" + SLEEPER
    cluster.apply(
        namespace,
        pod(
            "ordered",
            python_container(script, volumeMounts=[{"name": "work", "mountPath": "/work"}]),
            initContainers=[step("first", "one"), step("second", "two")],
            volumes=[{"name": "work", "emptyDir": {}}],
        ),
    )
    found = running_pod(cluster, namespace, "ordered")
    init = found["status"]["initContainerStatuses"]
    assert [s["name"] for s in init] == ["first", "second"]
    assert all(s["state"]["terminated"]["reason"] == "Completed" for s in init)
    assert condition(found, "Initialized")["status"] == "True"
    log = cluster.kubelet.container_log(namespace, "ordered", "main")
    wait_for("the steps in the log", lambda: "['one', 'two']" in log.read_text())


def test_a_missing_config_map_key_waits_until_it_exists(cluster: Cluster, namespace: str) -> None:
    env = [
        {
            "name": "LEVEL",
            "valueFrom": {"configMapKeyRef": {"name": "late", "key": "level"}},
        },
        {
            "name": "MAYBE",
            "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x", "optional": True}},
        },
    ]
    script = "import os\nprint('level', os.environ['LEVEL'], 'MAYBE' in os.environ, flush=True)\n"
    cluster.apply(namespace, pod("patient", python_container(script + SLEEPER, env=env)))

    def waiting() -> JsonObject | None:
        status = container_status(cluster.get("pod", "patient", namespace) or {})
        state = status.get("state", {}).get("waiting", {})
        return state if state.get("reason") == "CreateContainerConfigError" else None

    state = wait_for("CreateContainerConfigError", waiting)
    assert state["message"] == 'configmap "late" not found'
    cluster.apply(
        namespace,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}, "data": {"x": "1"}},
    )

    def about_the_key() -> JsonObject | None:
        state = waiting()
        return state if state and "couldn't find key" in state.get("message", "") else None

    state = wait_for("the message about the key", about_the_key)
    assert state["message"] == f"couldn't find key level in ConfigMap {namespace}/late"
    cluster.kubectl(
        "-n", namespace, "patch", "configmap", "late", "--type=merge", "-p",
        json.dumps({"data": {"level": "debug"}}),
    )  # fmt: skip
    running_pod(cluster, namespace, "patient")
    log = cluster.kubelet.container_log(namespace, "patient", "main")
    wait_for("the env in the log", lambda: "level debug False" in log.read_text())


def test_a_failing_liveness_probe_restarts_the_container(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        namespace,
        pod(
            "lively",
            python_container(
                SLEEPER,
                livenessProbe={
                    "exec": {"command": ["sh", "-c", "test ! -e /state/dead"]},
                    "periodSeconds": 1,
                    "failureThreshold": 2,
                },
                volumeMounts=[{"name": "state", "mountPath": "/state"}],
            ),
            volumes=[{"name": "state", "emptyDir": {}}],
        ),
    )
    found = running_pod(cluster, namespace, "lively")
    flag = cluster.kubelet.volume_dir(namespace, "lively", "state", found["metadata"]["uid"])
    (flag / "dead").write_text("")

    def restarted() -> bool:
        found = cluster.get("pod", "lively", namespace) or {}
        return int(container_status(found).get("restartCount", 0)) >= 1

    wait_for("a restart", restarted)
    (flag / "dead").unlink()
    after = running_pod(cluster, namespace, "lively")
    # The container got SIGTERM (its handler exits 0); restartPolicy Always restarts it anyway.
    assert container_status(after)["lastState"]["terminated"]["exitCode"] == 0


def test_deleting_a_pod_stops_its_process_and_removes_it(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    cluster.apply(
        namespace,
        pod(
            "graceful",
            python_container(
                SLEEPER,
                lifecycle={
                    "preStop": {"exec": {"command": ["sh", "-c", "echo bye > /hooks/prestop"]}}
                },
                volumeMounts=[{"name": "hooks", "mountPath": "/hooks"}],
            ),
            volumes=[{"name": "hooks", "hostPath": {"path": str(hooks), "type": "Directory"}}],
        ),
        # pid 1 without a SIGTERM handler ignores SIGTERM: it is killed when the grace ends.
        pod(
            "stubborn",
            python_container("import time; time.sleep(3600)"),
            terminationGracePeriodSeconds=2,
        ),
    )
    pids = {}
    for name in ("graceful", "stubborn"):
        running_pod(cluster, namespace, name)
        pids[name] = cluster.kubelet.container_pid(namespace, name, "main")
        assert pids[name] is not None
    cluster.kubectl("-n", namespace, "delete", "pod", "graceful", "stubborn", "--wait=false")
    for name, pid in pids.items():
        assert pid is not None
        wait_gone(cluster, namespace, name, pid)
    assert (hooks / "prestop").read_text() == "bye\n"


def test_a_pod_whose_node_selector_does_not_match_stays_pending(
    cluster: Cluster, namespace: str
) -> None:
    cluster.apply(
        namespace,
        pod(
            "nowhere", python_container(SLEEPER), nodeSelector={"kconnect.io/kubelet-test": "none"}
        ),
        pod(
            "here",
            python_container(SLEEPER),
            nodeSelector={"kubernetes.io/hostname": cluster.kubelet.node_name},
        ),
    )

    def unschedulable() -> JsonObject | None:
        found = cluster.get("pod", "nowhere", namespace)
        scheduled = condition(found or {}, "PodScheduled")
        return found if scheduled.get("reason") == "Unschedulable" else None

    found = wait_for("PodScheduled=False Unschedulable", unschedulable)
    scheduled = condition(found, "PodScheduled")
    assert scheduled["status"] == "False"
    assert "didn't match Pod's node affinity/selector" in scheduled["message"]
    running_pod(cluster, namespace, "here")
    later = cluster.get("pod", "nowhere", namespace)
    assert later is not None
    assert later["status"]["phase"] == "Pending"
    assert "nodeName" not in later["spec"]


def test_deleting_a_deployment_garbage_collects_its_pods(cluster: Cluster, namespace: str) -> None:
    cluster.apply(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "owned"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "owned"}},
                "template": {
                    "metadata": {"labels": {"app": "owned"}},
                    "spec": {"containers": [python_container(SLEEPER)]},
                },
            },
        },
    )
    pods = ready_pods(cluster, namespace, "app=owned", 2)
    pids = [cluster.kubelet.container_pid(namespace, p["metadata"]["name"], "main") for p in pods]
    assert all(pid is not None for pid in pids), pids
    cluster.kubectl("-n", namespace, "delete", "deployment", "owned", "--wait=false")
    wait_for("the pods to be gone", lambda: not cluster.pods(namespace, "app=owned"))
    assert not [pid for pid in pids if pid is not None and alive(pid)]


def test_the_node_is_ready_and_holds_its_lease(cluster: Cluster) -> None:
    name = cluster.kubelet.node_name
    node = json.loads(cluster.kubectl("get", "node", name, "-o", "json"))
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == name
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "True"
    assert set(node["status"]["allocatable"]) >= {"cpu", "memory", "pods"}
    assert not [t for t in node["spec"].get("taints", []) if t["effect"] == "NoExecute"]
    lease = json.loads(cluster.kubectl("-n", "kube-node-lease", "get", "lease", name, "-o", "json"))
    assert lease["spec"]["holderIdentity"] == name


# Appends its pod's UID to /data/visits and prints who visited before it, then sleeps.
VISITOR = (
    textwrap.dedent(
        """
        import os
        path = "/data/visits"
        before = open(path).read().split() if os.path.exists(path) else []
        with open(path, "a") as handle:
            handle.write(os.environ["POD_UID"] + "\\n")
        print("visited before:", " ".join(before) or "-", flush=True)
        """
    )
    + SLEEPER
)


def test_a_stateful_set_keeps_its_claim_across_pods_and_the_volume_goes_with_the_claim(
    cluster: Cluster, namespace: str
) -> None:
    container = python_container(
        VISITOR,
        env=[{"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
        volumeMounts=[{"name": "data", "mountPath": "/data"}],
    )
    cluster.apply(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "16Mi"}},
                        },
                    }
                ],
            },
        },
    )
    first = running_pod(cluster, namespace, "web-0")
    first_uid = first["metadata"]["uid"]
    claim = cluster.get("pvc", "data-web-0", namespace)
    assert claim is not None
    # No storageClassName in the template: the default class was filled in at admission.
    assert claim["spec"]["storageClassName"] == "kconnect-local"
    assert claim["status"]["phase"] == "Bound"
    volume_name = claim["spec"]["volumeName"]
    volume = json.loads(cluster.kubectl("get", "pv", volume_name, "-o", "json"))
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert volume["spec"]["capacity"] == {"storage": "16Mi"}
    directory = Path(volume["spec"]["hostPath"]["path"])
    assert directory.is_relative_to(cluster.kubelet.state_dir)
    wait_for("the first visit", (directory / "visits").exists)
    first_log = cluster.kubelet.container_log(namespace, "web-0", "main", uid=first_uid)
    wait_for("the first pod's greeting", lambda: log_with(first_log, "visited before: -"))

    cluster.kubectl("-n", namespace, "delete", "pod", "web-0", "--wait=false")

    def replaced() -> JsonObject | None:
        found = cluster.get("pod", "web-0", namespace)
        new = found is not None and found["metadata"]["uid"] != first_uid
        return found if new and is_ready(found) else None

    second = wait_for("web-0 recreated and Ready", replaced)
    second_uid = second["metadata"]["uid"]
    second_log = cluster.kubelet.container_log(namespace, "web-0", "main", uid=second_uid)
    assert wait_for("the second pod's greeting", lambda: log_with(second_log, "visited before:"))
    assert f"visited before: {first_uid}" in second_log.read_text()
    assert (directory / "visits").read_text().split() == [first_uid, second_uid]

    cluster.kubectl("-n", namespace, "delete", "statefulset", "web", "--wait=false")
    wait_for("web-0 gone", lambda: cluster.get("pod", "web-0", namespace) is None)
    cluster.kubectl("-n", namespace, "delete", "pvc", "data-web-0", "--wait=false")
    wait_for(
        f"{volume_name} deleted",
        lambda: not cluster.kubectl("get", "pv", volume_name, "--ignore-not-found").strip(),
    )
    assert not directory.exists()


def test_a_pod_waits_for_its_claim_to_exist_and_mounts_it_read_only(
    cluster: Cluster, namespace: str
) -> None:
    script = "import os; print('writable:', os.access('/data', os.W_OK), flush=True)\n" + SLEEPER
    cluster.apply(
        namespace,
        pod(
            "reader",
            python_container(script, volumeMounts=[{"name": "data", "mountPath": "/data"}]),
            volumes=[
                {"name": "data", "persistentVolumeClaim": {"claimName": "later", "readOnly": True}}
            ],
        ),
    )

    def unschedulable() -> JsonObject | None:
        found = cluster.get("pod", "reader", namespace)
        return found if condition(found or {}, "PodScheduled").get("reason") else None

    found = wait_for("PodScheduled=False Unschedulable", unschedulable)
    scheduled = condition(found, "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert 'persistentvolumeclaim "later" not found' in scheduled["message"]
    assert "nodeName" not in found["spec"]

    cluster.apply(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "later"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Mi"}},
            },
        },
    )
    running = running_pod(cluster, namespace, "reader")
    log = cluster.kubelet.container_log(namespace, "reader", "main", uid=running["metadata"]["uid"])
    assert wait_for("the pod's report", lambda: log_with(log, "writable:"))
    assert "writable: False" in log.read_text()


def test_a_failed_container_falls_back_to_its_log_for_the_termination_message(
    cluster: Cluster, namespace: str
) -> None:
    script = (
        "import sys\n"
        "for i in range(200): print('line', i, flush=True)\n"
        "print('goodbye', file=sys.stderr, flush=True); sys.exit(3)"
    )
    fallback = {"terminationMessagePolicy": "FallbackToLogsOnError"}
    cluster.apply(
        namespace,
        pod(
            "once",
            python_container(script, **fallback),
            {**python_container(script), "name": "plain"},
            {**python_container("print('fine')", **fallback), "name": "fine"},
            restartPolicy="Never",
        ),
        pod("again", python_container(script, **fallback)),
    )
    found = pod_in_phase(cluster, namespace, "once", "Failed")
    message = container_status(found)["state"]["terminated"]["message"]
    lines = message.splitlines()
    assert lines[-1] == "goodbye"
    assert lines[0] == "line 121"  # the last 80 lines
    plain = container_status(found, "plain")["state"]["terminated"]
    fine = container_status(found, "fine")["state"]["terminated"]
    assert (plain["exitCode"], fine["exitCode"]) == (3, 0)
    assert "message" not in plain  # the default policy, File, reads no log
    assert "message" not in fine  # it did not fail

    def restarted() -> JsonObject | None:
        status = container_status(cluster.get("pod", "again", namespace) or {})
        return status if status.get("restartCount", 0) >= 2 else None

    status = wait_for("a restart of again", restarted)
    last = status["lastState"]["terminated"]
    assert last["exitCode"] == 3
    # Only the last run's output, though the log file holds every run's.
    assert last["message"].count("goodbye") == 1
    assert last["message"].splitlines()[0] == "line 121"
