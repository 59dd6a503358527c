"""Startup, readiness and liveness probes: when they run, what a result means, and running one.

The decisions are pure (:func:`probe_spec`, :func:`initial_state`, :func:`observe`) and follow the
real kubelet's prober:

- A probe first runs ``initialDelaySeconds`` after the container started, then every
  ``periodSeconds``. Readiness and liveness wait until the startup probe (if any) has succeeded.
- A result flips only after ``successThreshold`` consecutive successes or ``failureThreshold``
  consecutive failures. Readiness starts as failed (not ready), liveness as succeeded, startup as
  not yet succeeded.
- The consequences are the pod worker's: readiness sets the container's ``ready``; a failed
  liveness or startup probe restarts the container.

:func:`run_action` performs one ``httpGet`` (host defaults to the pod IP, port by number or by the
container's port name, 200-399 is a success), ``tcpSocket`` or ``exec`` (through the caller's
``exec_in_container``, which runs the command in the container's mount namespace); each is bounded
by ``timeoutSeconds``. Its result never raises: an error is a failure with a message.
"""

from __future__ import annotations

import dataclasses
import enum
import http.client
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Final

from kconnect_devenv.kubelet.api import JsonObject

USER_AGENT: Final = "kube-probe/1.34"


class Kind(enum.Enum):
    STARTUP = "startupProbe"
    READINESS = "readinessProbe"
    LIVENESS = "livenessProbe"


@dataclasses.dataclass(frozen=True)
class ProbeSpec:
    kind: Kind
    action: JsonObject  # {"httpGet": ...} | {"tcpSocket": ...} | {"exec": ...} | {"grpc": ...}
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int


def probe_spec(kind: Kind, probe: JsonObject) -> ProbeSpec:
    """A probe of the container spec, with the API's defaults filled in."""
    action = {k: v for k, v in probe.items() if k in {"httpGet", "tcpSocket", "exec", "grpc"}}
    return ProbeSpec(
        kind=kind,
        action=action,
        initial_delay=float(probe.get("initialDelaySeconds") or 0),
        period=float(probe.get("periodSeconds") or 10),
        timeout=float(probe.get("timeoutSeconds") or 1),
        success_threshold=int(probe.get("successThreshold") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
    )


def container_probes(container: JsonObject) -> list[ProbeSpec]:
    return [probe_spec(kind, container[kind.value]) for kind in Kind if container.get(kind.value)]


@dataclasses.dataclass(frozen=True)
class ProbeState:
    ok: bool  # the current result: ready / alive / started
    successes: int = 0  # consecutive
    failures: int = 0  # consecutive
    message: str = ""  # of the last failure


def initial_state(kind: Kind) -> ProbeState:
    return ProbeState(ok=kind is Kind.LIVENESS)


def observe(state: ProbeState, spec: ProbeSpec, ok: bool, message: str = "") -> ProbeState:
    """The state after one probe result."""
    if ok:
        successes = state.successes + 1
        flips = successes >= spec.success_threshold
        return ProbeState(ok=state.ok or flips, successes=successes, failures=0)
    failures = state.failures + 1
    flips = failures >= spec.failure_threshold
    return ProbeState(ok=state.ok and not flips, successes=0, failures=failures, message=message)


# --------------------------------------------------------------------------------------------------
# Running one probe (or an httpGet/tcpSocket/exec lifecycle hook)

ExecInContainer = Callable[[Sequence[str], float], tuple[int | None, str]]
"""Runs a command in the container within a timeout: (exit code or None on timeout, output)."""


def run_action(
    action: JsonObject,
    *,
    pod_ip: str,
    container: JsonObject,
    timeout: float,
    exec_in_container: ExecInContainer,
) -> tuple[bool, str]:
    """(success, message) of one probe action. Never raises."""
    try:
        if "httpGet" in action:
            return _http_get(action["httpGet"], pod_ip, container, timeout)
        if "tcpSocket" in action:
            tcp = action["tcpSocket"]
            host = tcp.get("host") or pod_ip
            port = resolve_port(tcp["port"], container)
            with socket.create_connection((host, port), timeout=timeout):
                return True, ""
        if "exec" in action:
            command = list(action["exec"].get("command") or [])
            if not command:
                return False, "exec: no command"
            code, output = exec_in_container(command, timeout)
            if code is None:
                return False, f"command timed out after {timeout:g}s"
            if code == 0:
                return True, ""
            output = output.strip()[-500:]
            return False, f"exit code {code}" + (f": {output}" if output else "")
        if "grpc" in action:
            return False, "grpc probes are not supported by the test kubelet"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return False, f"no probe action in {sorted(action)}"


def resolve_port(port: int | str, container: JsonObject) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for entry in container.get("ports") or []:
        if entry.get("name") == port:
            return int(entry["containerPort"])
    raise ValueError(f"port {port!r} is not a number and no container port has that name")


def _http_get(
    get: JsonObject, pod_ip: str, container: JsonObject, timeout: float
) -> tuple[bool, str]:
    host = get.get("host") or pod_ip
    port = resolve_port(get.get("port", 80), container)
    path = get.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    for header in get.get("httpHeaders") or []:
        headers[str(header["name"])] = str(header["value"])
    connection: http.client.HTTPConnection
    if str(get.get("scheme") or "HTTP").upper() == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read(1024)
    finally:
        connection.close()
    if 200 <= response.status < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {response.status} {body[:200]!r}"
