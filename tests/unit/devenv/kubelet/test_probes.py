"""Probe thresholds, defaults and actions."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator, Sequence

import pytest

from kconnect_devenv.kubelet import probes
from kconnect_devenv.kubelet.probes import Kind, ProbeState

CONTAINER = {"name": "main", "ports": [{"name": "http", "containerPort": 8080}]}


def test_defaults_are_the_apis() -> None:
    spec = probes.probe_spec(Kind.READINESS, {"tcpSocket": {"port": 1}})
    assert (spec.initial_delay, spec.period, spec.timeout) == (0.0, 10.0, 1.0)
    assert (spec.success_threshold, spec.failure_threshold) == (1, 3)
    assert spec.action == {"tcpSocket": {"port": 1}}


def test_only_probes_the_container_has_are_run() -> None:
    kinds = [
        p.kind for p in probes.container_probes({"livenessProbe": {"exec": {"command": ["true"]}}})
    ]
    assert kinds == [Kind.LIVENESS]


def test_results_flip_after_consecutive_thresholds() -> None:
    spec = probes.probe_spec(
        Kind.READINESS, {"exec": {}, "successThreshold": 2, "failureThreshold": 2}
    )
    state = probes.initial_state(Kind.READINESS)
    assert not state.ok
    state = probes.observe(state, spec, True)
    assert not state.ok  # one success of two
    state = probes.observe(state, spec, True)
    assert state.ok
    state = probes.observe(state, spec, False, "boom")
    assert state == ProbeState(ok=True, successes=0, failures=1, message="boom")
    state = probes.observe(state, spec, True)
    state = probes.observe(state, spec, False)
    assert state.ok  # the failures were not consecutive
    state = probes.observe(state, spec, False)
    assert not state.ok


def test_liveness_starts_alive_and_startup_not_started() -> None:
    assert probes.initial_state(Kind.LIVENESS).ok
    assert not probes.initial_state(Kind.STARTUP).ok


def test_ports_by_number_or_name() -> None:
    assert probes.resolve_port(8080, CONTAINER) == 8080
    assert probes.resolve_port("9000", CONTAINER) == 9000
    assert probes.resolve_port("http", CONTAINER) == 8080
    with pytest.raises(ValueError, match="no container port has that name"):
        probes.resolve_port("admin", CONTAINER)


def never_exec(command: Sequence[str], timeout: float) -> tuple[int | None, str]:
    raise AssertionError("not an exec probe")


def test_exec_probes_go_through_the_container() -> None:
    seen: list[tuple[list[str], float]] = []

    def exec_in(command: Sequence[str], timeout: float) -> tuple[int | None, str]:
        seen.append((list(command), timeout))
        return {"ok": 0, "bad": 3}.get(command[0]), "output"

    def run(command: str) -> tuple[bool, str]:
        action = {"exec": {"command": [command]}}
        return probes.run_action(
            action, pod_ip="127.0.1.2", container=CONTAINER, timeout=2, exec_in_container=exec_in
        )

    assert run("ok") == (True, "")
    assert run("bad") == (False, "exit code 3: output")
    assert run("slow") == (False, "command timed out after 2s")
    assert seen[0] == (["ok"], 2)


@pytest.fixture
def server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_http_and_tcp_probes(server: int) -> None:
    def run(action: dict[str, object]) -> tuple[bool, str]:
        return probes.run_action(
            action, pod_ip="127.0.0.1", container=CONTAINER, timeout=2, exec_in_container=never_exec
        )

    assert run({"httpGet": {"path": "/ok", "port": server}}) == (True, "")
    ok, message = run({"httpGet": {"path": "/bad", "port": server}})
    assert not ok
    assert "statuscode: 503" in message
    assert run({"tcpSocket": {"port": server}}) == (True, "")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    ok, message = run({"tcpSocket": {"port": closed}})
    assert not ok
    assert "ConnectionRefusedError" in message
    assert run({"grpc": {"port": 1}})[0] is False
