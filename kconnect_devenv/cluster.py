"""Driving a whole local system for e2e tests and `make demo-k8s`: kubectl, the operator process.

`Kubectl` runs the pinned kubectl against one kubeconfig and parses JSON; `Operator` runs
`kconnect-operator` as a process (the way its Deployment runs it) and waits until it leads.
Every wait is bounded and fails with what it saw last.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from kconnect_devenv import processes

REPO: Final = Path(__file__).resolve().parents[1]
CRDS: Final = REPO / "crds"
KUBECTL_TIMEOUT_S: Final = 60.0
OPERATOR_READY_TIMEOUT_S: Final = 60.0
OPERATOR_STOP_TIMEOUT_S: Final = 30.0

JsonObject = dict[str, Any]
"""A Kubernetes object as kubectl prints it."""


class WaitTimeout(AssertionError):
    pass


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy; raise naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def as_list(objects: Sequence[Mapping[str, Any]]) -> str:
    """``objects`` as one ``List`` document, as kubectl reads from its standard input."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})


class KubectlError(AssertionError):
    def __init__(self, args: Sequence[str], stderr: str) -> None:
        super().__init__(f"kubectl {' '.join(args)}: {stderr.strip()}")
        self.stderr = stderr


class Kubectl:
    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [str(self.binary), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=KUBECTL_TIMEOUT_S,
            check=False,
        )
        if check and result.returncode != 0:
            raise KubectlError(args, result.stderr)
        return result.stdout if result.returncode == 0 else result.stderr

    def json(self, *args: str) -> JsonObject:
        parsed: JsonObject = json.loads(self.run(*args, "-o", "json"))
        return parsed

    def get(self, kind: str, name: str, namespace: str) -> JsonObject | None:
        result = subprocess.run(
            [str(self.binary), "-n", namespace, "get", kind, name, "-o", "json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=KUBECTL_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            if "NotFound" in result.stderr:
                return None
            raise KubectlError(["get", kind, name], result.stderr)
        parsed: JsonObject = json.loads(result.stdout)
        return parsed

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[JsonObject]:
        args = ["-n", namespace, "get", kind]
        if selector:
            args += ["-l", selector]
        items: list[JsonObject] = self.json(*args)["items"]
        return items

    def apply(self, *objects: Mapping[str, Any], namespace: str | None = None) -> str:
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.run(*args, stdin=as_list(objects))

    def create(self, *objects: Mapping[str, Any]) -> str:
        """Creates ``objects``; unlike :meth:`apply` it takes ``generateName``."""
        return self.run("create", "-f", "-", stdin=as_list(objects))

    def logs(self, namespace: str, pod: str, container: str) -> str:
        """The container's log as the kubelet keeps it (``kubectl logs``); empty if it has none."""
        return self.run("-n", namespace, "logs", pod, "-c", container, check=False)

    def apply_files(self, *paths: Path) -> str:
        args = ["apply"]
        for path in paths:
            args += ["-f", str(path)]
        return self.run(*args)


class OperatorMetrics:
    """What the tests read from an operator's metrics, wherever it runs: a subclass says where
    the metrics are (`metrics`) and how long a wait may take (`wait_timeout`)."""

    wait_timeout: float = OPERATOR_READY_TIMEOUT_S

    def metrics(self) -> str:
        """The operator's metrics text; empty when it does not answer."""
        raise NotImplementedError

    def syncs(self, namespace: str, name: str, kind: str = "KafkaConnector") -> float:
        """Passes the operator has completed over one resource, ok or not."""
        series = (
            f'kconnect_operator_resource_syncs_total{{kind="{kind}",'
            f'namespace="{namespace}",name="{name}"}} '
        )
        for line in self.metrics().splitlines():
            if line.startswith(series):
                return float(line[len(series) :])
        return 0.0

    def wait_passes(
        self, namespace: str, name: str, passes: int, timeout: float | None = None
    ) -> None:
        """Wait until the operator has looked at a resource `passes` more times: long enough for
        it to act on what it saw, e.g. to prove that it did not."""
        target = self.syncs(namespace, name) + passes
        wait_for(
            f"{passes} more operator passes over {namespace}/{name}",
            lambda: self.syncs(namespace, name) >= target,
            self.wait_timeout if timeout is None else timeout,
        )


class Operator(OperatorMetrics):
    """`kconnect-operator` as a process, logging to a file."""

    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        *,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        detached: bool = False,
    ) -> None:
        """With `detached`, the operator outlives this process (for `make demo-k8s`); else it
        gets SIGTERM when this process dies."""
        self.health_port = processes.free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.health_port}"
        self.log_path = log_path
        command = [
            str(Path(sys.executable).with_name("kconnect-operator")),
            "--all-namespaces",
            "--health-host",
            "127.0.0.1",
            "--health-port",
            str(self.health_port),
            "--lease-namespace",
            "default",
            *extra_args,
        ]
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {}), "KUBECONFIG": str(kubeconfig)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=detached,
            preexec_fn=(None if detached else processes.parent_death_signal(signal.SIGTERM)),  # noqa: PLW1509 - prctl only
        )

    def metrics(self) -> str:
        try:
            with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:  # noqa: S310
                text: str = response.read().decode()
                return text
        except (urllib.error.URLError, OSError):
            return ""

    def wait_leading(self, timeout: float = OPERATOR_READY_TIMEOUT_S) -> None:
        def leading() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"kconnect-operator exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            return "\nkconnect_operator_leader 1" in "\n" + self.metrics()

        wait_for("the operator to lead", leading, timeout)

    def log_tail(self, lines: int = 60) -> str:
        return processes.tail_text(self.log_path.read_text("utf-8", "replace"), lines)

    def stop(self, timeout: float = OPERATOR_STOP_TIMEOUT_S) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._log.close()
        return self.process.returncode


class HasLogTail(Protocol):
    """An operator, as a process or as a pod: whatever shows the end of its log."""

    def log_tail(self, lines: int = 60) -> str: ...


FAILURE_TAIL_LINES: Final = 60
FAILURE_POD_LOG_LINES: Final = 30
FAILURE_PODS: Final = 6
FAILURE_POD_LOG_READ: Final = 2000
"""Lines read of a pod's log, so that its tail can be shown without the REST access lines."""


REQUEST_LOG_MARK: Final = "(aiohttp.access:"
"""How a worker's REST access-log line ends: probes and the operator's polls, many a second."""


def log_tail_without_requests(log: str, lines: int = FAILURE_POD_LOG_LINES) -> str:
    """The last ``lines`` of a worker's log that are not REST access lines, which would
    otherwise fill any tail of a running worker's log."""
    kept = [line for line in log.splitlines() if REQUEST_LOG_MARK not in line]
    return "\n".join(kept[-lines:])


def failure_report(
    kubectl: Kubectl, namespace: str | None, operator: HasLogTail | None
) -> list[tuple[str, str]]:
    """What a failed test's report shows of the cluster, as (title, text) sections: the objects
    and the events of its namespace (where a pod waits for a node or a volume, what the
    controllers and the kubelet did), the log tails of its first pods without their REST access
    lines (each container's current run and, after a restart, its previous one) and the
    operator's log tail."""
    sections: list[tuple[str, str]] = []
    if namespace is not None:
        objects = kubectl.run(
            "-n", namespace, "get", "pods,statefulsets,deployments,pvc", "-o", "wide", check=False
        )
        events = kubectl.run(
            "-n", namespace, "get", "events", "--sort-by=.lastTimestamp", check=False
        )
        sections.append((f"objects in {namespace}", objects))
        sections.append((f"events in {namespace}", processes.tail_text(events, FAILURE_TAIL_LINES)))
        names = kubectl.run("-n", namespace, "get", "pods", "-o", "name", check=False).split()
        for pod in [n for n in names if n.startswith("pod/")][:FAILURE_PODS]:
            for previous in (False, True):
                log = kubectl.run(
                    "-n", namespace, "logs", pod, "--all-containers", "--prefix",
                    f"--previous={str(previous).lower()}", f"--tail={FAILURE_POD_LOG_READ}",
                    check=False,
                )  # fmt: skip
                if log.strip() and "previous terminated container" not in log:
                    title = f"{pod} {'previous run' if previous else 'log'}"
                    sections.append((title, log_tail_without_requests(log)))
    if operator is not None:
        sections.append(("operator log", operator.log_tail(FAILURE_TAIL_LINES)))
    return sections
