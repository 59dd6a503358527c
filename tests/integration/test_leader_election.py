"""Leader election against the real API server: electors in-process, then the operator's CLI.

Each test uses its own Lease name, so tests sharing the session's control plane never compete
for one Lease. Durations are short (lease 3s, renew deadline 2s, retry 0.5s) so hand-overs
happen within seconds; every wait is bounded and nothing asserts how long a step took.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import kopf
import kubernetes
import pytest
from kubernetes.client import ApiClient, CoordinationV1Api, V1Lease

from kconnect_devenv import controlplane
from kconnect_devenv.cluster import Kubectl
from kconnect_devenv.processes import free_ports, parent_death_signal
from kconnect_operator.core.election import LeaseTiming
from kconnect_operator.io.kube import Kube, login
from kconnect_operator.io.leader import LeaderElector

REPO = Path(__file__).resolve().parents[2]
OPERATOR = REPO / ".venv" / "bin" / "kconnect-operator"
WAIT_S = 60.0
NAMESPACE = "default"
WATCHED_NAMESPACE = "kconnect-leader-test"
TIMING = LeaseTiming(lease_duration_s=3, renew_deadline_s=2.0, retry_period_s=0.5)
STANDBY_CHECK_S = 2 * TIMING.lease_duration_s
"""How long a standby is watched to stay a standby while the leader renews."""

T = TypeVar("T")

needs_binaries = pytest.mark.skipif(
    controlplane.built() is None and not os.environ.get("CI"),
    reason="the control plane binaries are not built: run `make cluster-build` (a long cold build)",
)

pytestmark = needs_binaries


def kubectl(plane: controlplane.ControlPlane, *args: str) -> str:
    return Kubectl(plane.kubectl, plane.kubeconfig).run(*args)


def unique_lease_name() -> str:
    return f"kconnect-test-{uuid.uuid4().hex[:10]}"


def connection_info(plane: controlplane.ControlPlane) -> kopf.ConnectionInfo:
    """The operator's login against the session's control plane (its kubeconfig)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KUBECONFIG", str(plane.kubeconfig))
        env.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        return login()


@asynccontextmanager
async def kube_client(
    plane: controlplane.ControlPlane, server: str | None = None
) -> AsyncIterator[Kube]:
    """The operator's API client for an elector; `server` overrides the API server's URL."""
    info = connection_info(plane)
    kube = Kube(info if server is None else dataclasses.replace(info, server=server))
    try:
        yield kube
    finally:
        await kube.close()


@contextmanager
def api_client(plane: controlplane.ControlPlane) -> Iterator[ApiClient]:
    """An independent reader of the Lease, through the official client."""
    client = kubernetes.config.new_client_from_config(config_file=str(plane.kubeconfig))
    try:
        yield client
    finally:
        client.close()


def read_lease(client: ApiClient, name: str) -> V1Lease:
    return CoordinationV1Api(client).read_namespaced_lease(name, NAMESPACE)


def holder_of(client: ApiClient, name: str) -> str:
    spec = read_lease(client, name).spec
    assert spec is not None
    return spec.holder_identity or ""


def transitions_of(client: ApiClient, name: str) -> int:
    spec = read_lease(client, name).spec
    assert spec is not None
    return spec.lease_transitions or 0


async def first_done(*tasks: asyncio.Task[T]) -> asyncio.Task[T]:
    done, _ = await asyncio.wait(tasks, timeout=WAIT_S, return_when=asyncio.FIRST_COMPLETED)
    assert done, f"none of {[t.get_name() for t in tasks]} finished within {WAIT_S:g}s"
    return done.pop()


async def stop_task(task: asyncio.Task[object]) -> None:
    task.cancel()
    await asyncio.wait({task}, timeout=WAIT_S)
    assert task.done()


async def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT_S:g}s"
        await asyncio.sleep(0.2)


# --------------------------------------------------------------------------------------------------
# Electors in-process.


def make_elector(client: Kube, name: str, identity: str, events: list[bool]) -> LeaderElector:
    return LeaderElector(
        client,
        name=name,
        namespace=NAMESPACE,
        identity=identity,
        timing=TIMING,
        on_change=events.append,
    )


def test_one_of_two_leads_and_a_release_hands_over_at_once(
    control_plane: controlplane.ControlPlane,
) -> None:
    name = unique_lease_name()

    async def scenario(reader: ApiClient) -> None:
        async with kube_client(control_plane) as client_a, kube_client(control_plane) as client_b:
            await electing(client_a, client_b, reader)

    async def electing(client_a: Kube, client_b: Kube, reader: ApiClient) -> None:
        events: dict[str, list[bool]] = {"a": [], "b": []}
        electors = {
            "a": make_elector(client_a, name, "elector-a", events["a"]),
            "b": make_elector(client_b, name, "elector-b", events["b"]),
        }
        stops = {key: asyncio.Event() for key in electors}
        acquiring = {
            key: asyncio.create_task(elector.acquire(stops[key]), name=f"acquire {key}")
            for key, elector in electors.items()
        }
        renewal: asyncio.Task[None] | None = None
        try:
            won = await first_done(*acquiring.values())
            assert won.result() is True
            leader = "a" if won is acquiring["a"] else "b"
            standby = "b" if leader == "a" else "a"
            assert holder_of(reader, name) == f"elector-{leader}"
            assert transitions_of(reader, name) == 0
            renewal = asyncio.create_task(electors[leader].hold(), name="hold")

            # While the leader renews, the standby stays a standby, past several lease durations.
            done, _ = await asyncio.wait({acquiring[standby], renewal}, timeout=STANDBY_CHECK_S)
            assert not done, "the standby acquired, or the leader lost, a renewed lease"
            assert not electors[standby].is_leader
            assert electors[standby].holder == f"elector-{leader}"
            assert holder_of(reader, name) == f"elector-{leader}"

            await stop_task(renewal)
            assert await electors[leader].release(timeout_s=10.0) is True
            assert events[leader] == [True, False]

            assert await first_done(acquiring[standby]) is acquiring[standby]
            assert acquiring[standby].result() is True
            assert electors[standby].is_leader
            assert events[standby] == [True]
            assert holder_of(reader, name) == f"elector-{standby}"
            assert transitions_of(reader, name) == 1
            assert await electors[standby].release(timeout_s=10.0) is True
            assert holder_of(reader, name) == ""
        finally:
            for stop in stops.values():
                stop.set()
            for task in [*acquiring.values(), *([renewal] if renewal else [])]:
                await stop_task(task)

    with api_client(control_plane) as reader:
        asyncio.run(scenario(reader))


def test_a_leader_that_stops_renewing_is_replaced_once_its_lease_expires(
    control_plane: controlplane.ControlPlane,
) -> None:
    name = unique_lease_name()

    async def scenario(reader: ApiClient) -> None:
        async with kube_client(control_plane) as client_a, kube_client(control_plane) as client_b:
            await electing(client_a, client_b, reader)

    async def electing(client_a: Kube, client_b: Kube, reader: ApiClient) -> None:
        events_a: list[bool] = []
        a = make_elector(client_a, name, "elector-a", events_a)
        b = make_elector(client_b, name, "elector-b", [])
        stop = asyncio.Event()
        assert await a.acquire(stop) is True
        renewal = asyncio.create_task(a.hold(), name="hold a")
        acquiring = asyncio.create_task(b.acquire(stop), name="acquire b")
        try:
            await wait_for(lambda: b.holder == "elector-a", "b sees a as the holder")
            # a's process "hangs": it stops renewing without releasing.
            await stop_task(renewal)
            assert await first_done(acquiring) is acquiring
            assert acquiring.result() is True
            assert holder_of(reader, name) == "elector-b"
            assert transitions_of(reader, name) == 1

            # When a resumes renewing, it finds b holding the lease and gives up at once.
            renewal = asyncio.create_task(a.hold(), name="hold a again")
            assert await first_done(renewal) is renewal
            assert renewal.exception() is None
            assert not a.is_leader
            assert events_a == [True, False]
            assert await a.release(timeout_s=10.0) is False  # not ours to release
            assert holder_of(reader, name) == "elector-b"
        finally:
            stop.set()
            await stop_task(renewal)
            await stop_task(acquiring)

    with api_client(control_plane) as reader:
        asyncio.run(scenario(reader))


def test_a_leader_whose_lease_is_taken_loses_leadership(
    control_plane: controlplane.ControlPlane,
) -> None:
    name = unique_lease_name()

    async def scenario(reader: ApiClient) -> None:
        async with kube_client(control_plane) as client:
            await electing(client, reader)

    async def electing(client: Kube, reader: ApiClient) -> None:
        events: list[bool] = []
        elector = make_elector(client, name, "elector-a", events)
        assert await elector.acquire(asyncio.Event()) is True
        renewal = asyncio.create_task(elector.hold(), name="hold")
        try:
            await asyncio.to_thread(
                kubectl,
                control_plane,
                "-n",
                NAMESPACE,
                "patch",
                "lease",
                name,
                "--type=merge",
                "-p",
                '{"spec": {"holderIdentity": "intruder"}}',
            )
            assert await first_done(renewal) is renewal
            assert renewal.exception() is None
            assert events == [True, False]
            assert holder_of(reader, name) == "intruder"
        finally:
            await stop_task(renewal)

    with api_client(control_plane) as reader:
        asyncio.run(scenario(reader))


class ApiServerProxy:
    """A TCP proxy to the API server that the test can cut, to make renewals fail for real."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuses new connections and aborts the open ones."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        self._writers |= {writer, upstream_writer}
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            for end in (writer, upstream_writer):
                self._writers.discard(end)
                end.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()


def test_a_leader_that_cannot_reach_the_api_server_gives_up_after_the_renew_deadline(
    control_plane: controlplane.ControlPlane,
) -> None:
    name = unique_lease_name()

    async def scenario(reader: ApiClient) -> None:
        proxy = ApiServerProxy(control_plane.apiserver_port)
        await proxy.start()
        async with kube_client(control_plane, f"https://127.0.0.1:{proxy.port}") as client:
            await electing(proxy, client, reader)

    async def electing(proxy: ApiServerProxy, client: Kube, reader: ApiClient) -> None:
        events: list[bool] = []
        elector = make_elector(client, name, "elector-a", events)
        renewal: asyncio.Task[None] | None = None
        try:
            assert await elector.acquire(asyncio.Event()) is True
            renewal = asyncio.create_task(elector.hold(), name="hold")
            done, _ = await asyncio.wait({renewal}, timeout=2 * TIMING.retry_period_s)
            assert not done, "the leader gave up while the API server was reachable"
            await proxy.cut()
            assert await first_done(renewal) is renewal
            assert renewal.exception() is None
            assert events == [True, False]
            assert not elector.is_leader
            # It gave up without writing: the lease still names it until it expires.
            assert holder_of(reader, name) == "elector-a"
        finally:
            await proxy.cut()
            if renewal is not None:
                await stop_task(renewal)

    with api_client(control_plane) as reader:
        asyncio.run(scenario(reader))


# --------------------------------------------------------------------------------------------------
# The operator's CLI as a process.


class Replica:
    """One `kconnect-operator` process with its own identity prefix and health port."""

    def __init__(
        self, plane: controlplane.ControlPlane, tmp_path: Path, pod_name: str, lease: str
    ) -> None:
        (self.port,) = free_ports(1)
        self.pod_name = pod_name
        self.log_path = tmp_path / f"{pod_name}.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"POD_NAMESPACE", "KUBERNETES_SERVICE_HOST", "KCONNECT_WORKER_IMAGE"}
        }
        env |= {"KUBECONFIG": str(plane.kubeconfig), "POD_NAME": pod_name}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(OPERATOR),
                    "--namespace", WATCHED_NAMESPACE,
                    "--health-host", "127.0.0.1",
                    "--health-port", str(self.port),
                    "--lease-name", lease,
                    "--lease-namespace", NAMESPACE,
                    "--lease-duration", str(TIMING.lease_duration_s),
                    "--renew-deadline", str(TIMING.renew_deadline_s),
                    "--retry-period", str(TIMING.retry_period_s),
                    "--verbose",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # If the session dies outright, the replica follows it.
                preexec_fn=parent_death_signal(signal.SIGTERM),  # noqa: PLW1509 - prctl only
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")

    def get(self, path: str) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def leader_metric(self) -> str | None:
        """The sample of `kconnect_operator_leader`, or None while the server does not answer."""
        try:
            status, body = self.get("/metrics")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None
        assert status == 200, body
        match = re.search(r"^kconnect_operator_leader (\S+)$", body, re.MULTILINE)
        assert match, body
        return match.group(1)

    def wait_leader_metric(self, value: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.leader_metric() != value:
            assert self.process.poll() is None, f"{self.pod_name} exited:\n{self.log()}"
            assert time.monotonic() < deadline, (
                f"{self.pod_name}: kconnect_operator_leader is not {value} within {WAIT_S:g}s; "
                f"log:\n{self.log()}"
            )
            time.sleep(0.2)

    def wait_standing_by(self, leader: str) -> None:
        """Waits until this replica is ready and has seen `leader`'s replica hold the lease."""
        deadline = time.monotonic() + WAIT_S
        while not (
            self.leader_metric() == "0"
            and self.get("/readyz") == (200, "ok")
            and f"The lease is held by {leader}_" in self.log()
        ):
            assert self.process.poll() is None, f"{self.pod_name} exited:\n{self.log()}"
            assert time.monotonic() < deadline, (
                f"{self.pod_name} is not standing by within {WAIT_S:g}s; log:\n{self.log()}"
            )
            time.sleep(0.2)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.pod_name} did not exit {WAIT_S:g}s after SIGTERM:\n{self.log()}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT_S)


@pytest.fixture(scope="module")
def operator_cluster(control_plane: controlplane.ControlPlane) -> controlplane.ControlPlane:
    """The session's control plane with the CRDs installed and the watched namespace present."""
    kubectl(control_plane, "apply", "-f", str(REPO / "crds"))
    namespaces = kubectl(control_plane, "get", "namespaces", "-o", "name").split()
    if f"namespace/{WATCHED_NAMESPACE}" not in namespaces:
        kubectl(control_plane, "create", "namespace", WATCHED_NAMESPACE)
    return control_plane


@pytest.fixture
def replicas(
    operator_cluster: controlplane.ControlPlane, tmp_path: Path
) -> Iterator[Callable[[str, str], Replica]]:
    started: list[Replica] = []

    def start(pod_name: str, lease: str) -> Replica:
        replica = Replica(operator_cluster, tmp_path, pod_name, lease)
        started.append(replica)
        return replica

    try:
        yield start
    finally:
        for replica in started:
            replica.close()


def lease_renewed_at(spec: dict[str, Any]) -> float:
    """The lease's renewTime (RFC 3339 with microseconds) in seconds since the epoch."""
    return datetime.fromisoformat(spec["renewTime"].replace("Z", "+00:00")).timestamp()


def lease_spec(plane: controlplane.ControlPlane, name: str) -> dict[str, Any]:
    lease = json.loads(kubectl(plane, "-n", NAMESPACE, "get", "lease", name, "-o", "json"))
    spec: dict[str, Any] = lease["spec"]
    return spec


def test_the_operator_leads_serves_probes_and_releases_on_sigterm(
    operator_cluster: controlplane.ControlPlane, replicas: Callable[[str, str], Replica]
) -> None:
    lease = unique_lease_name()
    replica = replicas("replica-a", lease)
    replica.wait_leader_metric("1")
    assert replica.get("/healthz") == (200, "ok")
    assert replica.get("/readyz") == (200, "ok")
    status, body = replica.get("/metrics")
    assert status == 200
    assert "# TYPE kconnect_operator_reconcile_total counter" in body
    assert re.search(r'^kconnect_operator_info\{version="[^"]+"\} 1$', body, re.MULTILINE)
    spec = lease_spec(operator_cluster, lease)
    assert spec["holderIdentity"].startswith("replica-a_"), spec

    assert replica.terminate() == 0, replica.log()
    assert lease_spec(operator_cluster, lease)["holderIdentity"] == "", replica.log()
    assert "Released the lease" in replica.log()


def test_a_second_replica_stands_by_and_takes_over_after_sigterm(
    operator_cluster: controlplane.ControlPlane, replicas: Callable[[str, str], Replica]
) -> None:
    lease = unique_lease_name()
    first = replicas("replica-a", lease)
    first.wait_leader_metric("1")
    second = replicas("replica-b", lease)
    second.wait_standing_by("replica-a")
    assert second.get("/healthz") == (200, "ok")

    # The standby stays one while the leader renews: until the leader has renewed the lease
    # across two lease durations, long enough for an unrenewed lease to expire twice.
    start = lease_renewed_at(lease_spec(operator_cluster, lease))
    deadline = time.monotonic() + WAIT_S
    while True:
        assert second.leader_metric() == "0", second.log()
        current = lease_spec(operator_cluster, lease)
        assert current["holderIdentity"].startswith("replica-a_"), current
        if lease_renewed_at(current) - start >= STANDBY_CHECK_S:
            break
        assert time.monotonic() < deadline, f"the leader stopped renewing: {current}"
        time.sleep(TIMING.retry_period_s)
    assert first.leader_metric() == "1", first.log()
    before = lease_spec(operator_cluster, lease)
    assert before["holderIdentity"].startswith("replica-a_"), before

    assert first.terminate() == 0, first.log()
    second.wait_leader_metric("1")
    after = lease_spec(operator_cluster, lease)
    assert after["holderIdentity"].startswith("replica-b_"), after
    assert after["leaseTransitions"] == before.get("leaseTransitions", 0) + 1

    assert second.terminate() == 0, second.log()
    assert lease_spec(operator_cluster, lease)["holderIdentity"] == ""


def test_a_standby_exits_0_on_sigterm_without_touching_the_lease(
    operator_cluster: controlplane.ControlPlane, replicas: Callable[[str, str], Replica]
) -> None:
    lease = unique_lease_name()
    leader = replicas("replica-a", lease)
    leader.wait_leader_metric("1")
    standby = replicas("replica-b", lease)
    standby.wait_standing_by("replica-a")
    before = lease_spec(operator_cluster, lease)

    assert standby.terminate() == 0, standby.log()
    after = lease_spec(operator_cluster, lease)
    assert after["holderIdentity"] == before["holderIdentity"]
    assert after["holderIdentity"].startswith("replica-a_")
    assert leader.leader_metric() == "1"
    assert leader.terminate() == 0, leader.log()


def test_a_leader_that_loses_its_lease_stops_and_exits_1(
    operator_cluster: controlplane.ControlPlane, replicas: Callable[[str, str], Replica]
) -> None:
    lease = unique_lease_name()
    replica = replicas("replica-a", lease)
    replica.wait_leader_metric("1")
    kubectl(
        operator_cluster,
        "-n",
        NAMESPACE,
        "patch",
        "lease",
        lease,
        "--type=merge",
        "-p",
        '{"spec": {"holderIdentity": "intruder"}}',
    )
    try:
        code = replica.process.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the replica still runs {WAIT_S:g}s after losing its lease:\n{replica.log()}")
    assert code == 1, replica.log()
    assert "leadership lost" in replica.log()
    # A replica that lost the lease leaves it to its new holder.
    assert lease_spec(operator_cluster, lease)["holderIdentity"] == "intruder"
