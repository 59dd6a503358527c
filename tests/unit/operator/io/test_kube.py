"""The operator's one API client: its login, its error type, and a token refreshed after a 401.

The API server here is a local aiohttp server that answers like one, to inject the faults a real
API server does not produce on demand (a rejected token, a refused connection). The client against
the real API server is covered by tests/integration/test_leader_election.py and the e2e tests.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import kopf
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kconnect_operator.io.kube import Kube, KubeError, login

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: local, user: dev, namespace: team}
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: CA}
users:
- name: dev
  user: {token: the-token}
"""

CA_PEM = b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"


def logged_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> kopf.ConnectionInfo:
    path = tmp_path / "kubeconfig"
    path.write_text(text, "utf-8")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return login()


def test_login_reads_the_kubeconfig_out_of_a_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = base64.b64encode(CA_PEM).decode()
    info = logged_in(monkeypatch, tmp_path, KUBECONFIG.replace("CA", ca))
    assert info.server == "https://127.0.0.1:6443"
    assert info.as_http_headers() == {"Authorization": "Bearer the-token"}
    assert info.default_namespace == "team"


def test_no_kubeconfig_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeError) as raised:
        login()
    assert raised.value.status == 0
    assert "cannot configure the Kubernetes client" in str(raised.value)
    assert "KUBECONFIG" in str(raised.value)


def test_a_kubeconfig_without_a_current_context_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(KubeError) as raised:
        logged_in(monkeypatch, tmp_path, "apiVersion: v1\nkind: Config\n")
    assert "no usable kubeconfig" in str(raised.value)


@asynccontextmanager
async def api_server(valid_token: str) -> AsyncIterator[str]:
    """A server answering GET /api/v1/namespaces/ns/configmaps/cm for `valid_token` only, with
    the API server's error shape otherwise."""

    async def configmap(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {valid_token}":
            return web.json_response({"kind": "Status", "message": "Unauthorized"}, status=401)
        return web.json_response({"kind": "ConfigMap", "metadata": {"name": "cm"}})

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/ns/configmaps/cm", configmap)
    server = TestServer(app)
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


PATH = "/api/v1/namespaces/ns/configmaps/cm"
FRESH, STALE = "fresh-token", "stale-token"


def test_a_rejected_token_is_refreshed_once_and_the_call_retried() -> None:
    async def scenario() -> None:
        async with api_server(FRESH) as url:
            logins: list[str] = []

            def relogin() -> kopf.ConnectionInfo:
                logins.append("again")
                return kopf.ConnectionInfo(server=url, token=FRESH)

            kube = Kube(kopf.ConnectionInfo(server=url, token=STALE), relogin=relogin)
            try:
                found = await kube.get(PATH)
                assert found is not None
                assert found["metadata"]["name"] == "cm"
                assert logins == ["again"]
                assert await kube.get(PATH) is not None
                assert logins == ["again"]  # the fresh token is kept
            finally:
                await kube.close()

    asyncio.run(scenario())


def test_api_failures_are_kube_errors_with_the_api_servers_message() -> None:
    async def scenario() -> None:
        async with api_server(FRESH) as url:
            kube = Kube(kopf.ConnectionInfo(server=url, token=STALE))
            try:
                with pytest.raises(KubeError) as raised:
                    await kube.get(PATH)
                assert raised.value.status == 401
                assert raised.value.message == "Unauthorized"
                assert STALE not in str(raised.value)
            finally:
                await kube.close()
        # The server is gone: no answer at all is a KubeError too, with status 0.
        kube = Kube(kopf.ConnectionInfo(server=url, token=FRESH))
        try:
            with pytest.raises(KubeError) as raised:
                await kube.get(PATH)
            assert raised.value.status == 0
            assert PATH in raised.value.message
        finally:
            await kube.close()

    asyncio.run(scenario())


EXEC_PATH = "/api/v1/namespaces/ns/pods/w-0/exec"
EXIT_1 = (
    b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: '
    b'error executing command [/bin/sh -c x], exit code 1","reason":"NonZeroExitCode"}'
)


@asynccontextmanager
async def exec_server(outcome: bytes | None, *, status: int = 101) -> AsyncIterator[str]:
    """An API server's pods/exec endpoint: a WebSocket with the v4 channel protocol, ending with
    `outcome` on the status channel (None: the stream ends without one, as when the container
    goes away); a `status` other than 101 refuses the upgrade with the API server's error."""
    seen: list[dict[str, object]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(
            {
                "command": request.query.getall("command"),
                "container": request.query.get("container"),
                "auth": request.headers.get("Authorization"),
            }
        )
        if status != 101:
            return web.json_response(
                {"kind": "Status", "message": 'pods "w-0" is forbidden'}, status=status
            )
        ws = web.WebSocketResponse(protocols=("v4.channel.k8s.io",))
        await ws.prepare(request)
        await ws.send_bytes(b"\x02oops")
        if outcome is not None:
            await ws.send_bytes(b"\x03" + outcome)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get(EXEC_PATH, handler)
    server = TestServer(app)
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()
        assert all(s["auth"] == f"Bearer {FRESH}" for s in seen)
        assert all(s["container"] == "worker" for s in seen)
        assert all(s["command"] == ["/bin/sh", "-c", "x"] for s in seen)
        assert seen


@pytest.mark.parametrize(
    ("outcome", "status", "error"),
    [
        (b'{"metadata":{},"status":"Success"}', 101, None),
        (EXIT_1, 101, "exit code 1 (oops)"),
        (None, 101, "the stream ended without the command's status"),
        (None, 403, "forbidden: the operator's service account needs get and create on pods/exec"),
        (None, 404, "no such pod"),
    ],
)
def test_exec_runs_a_command_and_says_why_it_did_not_succeed(
    outcome: bytes | None, status: int, error: str | None
) -> None:
    async def scenario() -> None:
        async with exec_server(outcome, status=status) as url:
            kube = Kube(kopf.ConnectionInfo(server=url, token=FRESH))
            try:
                if error is None:
                    await kube.exec("ns", "w-0", "worker", ["/bin/sh", "-c", "x"])
                    return
                with pytest.raises(KubeError) as raised:
                    await kube.exec("ns", "w-0", "worker", ["/bin/sh", "-c", "x"])
                assert raised.value.message.startswith("exec in pod w-0: ")
                assert error in raised.value.message
                assert raised.value.status == (status if status != 101 else 0)
            finally:
                await kube.close()

    asyncio.run(scenario())
