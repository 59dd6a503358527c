"""The operator's one Kubernetes API client: asynchronous, over aiohttp, speaking plain JSON.

The operator reads and writes a handful of object kinds as dicts, the same dicts its pure builders
return; a generated client would convert them to models and back. This shell adds only what the
operator needs: server-side apply under the operator's field manager, merge patches (including the
status subresource), create and replace (the leader-election Lease, compare-and-swap on its
resourceVersion), list by label selector, get and delete, and a command run in a container
(`exec`: the pods/exec API over a WebSocket, Kubernetes' `v5.channel.k8s.io` or
`v4.channel.k8s.io` stream protocol).

Login (`login`) resolves the credentials once, the way kopf logs in without a client library:
kopf's `login_with_service_account` in a pod (the API server addressed by
`KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`, as client-go does in a cluster), else kopf's
`login_with_kubeconfig` (`$KUBECONFIG`, else `~/.kube/config`; client certificates, a bearer token
or basic auth, embedded or as files). The same function is kopf's login handler (`cli`), so kopf's
watches and this client use the same credentials. Credential plugins (`exec`, `auth-provider`
refreshes) are not run: out of a cluster, use a kubeconfig with a token or certificates.

Invariants and failures:
- **One error type.** Every failure raises `KubeError`: a non-2xx answer with its status code and
  the API server's message; a transport failure or timeout with status 0; no usable credentials
  (`login`) with status 0 and what was tried. `get` maps 404 to None, `delete` to False.
- **A rotated token is picked up.** A 401 answer makes the client log in again (`relogin`) and
  retry that request once; a service account's projected token is re-read then.
- **Nothing secret is logged or raised:** messages carry the method, the path and the API
  server's message, never a header.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import aiohttp
import kopf

from kconnect_operator.core.shapes import JsonObject

FIELD_MANAGER: Final = "kconnect-operator"
HTTP_UNAUTHORIZED: Final = 401
HTTP_NOT_FOUND: Final = 404
HTTP_CONFLICT: Final = 409
EXEC_PROTOCOLS: Final = ("v5.channel.k8s.io", "v4.channel.k8s.io")
"""The pods/exec stream protocols spoken, preferred first: one byte of channel, then data."""
STDERR_CHANNEL: Final = 2
STATUS_CHANNEL: Final = 3
"""The channel of the command's outcome: a `Status` object (`Success`, or `Failure` with a
message such as the exit code)."""
EXEC_TIMEOUT_S: Final = 30.0

_PLURALS: Final[Mapping[str, str]] = {
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "Service": "services",
    "Pod": "pods",
    "Event": "events",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "NetworkPolicy": "networkpolicies",
    "KafkaConnector": "kafkaconnectors",
    "StandaloneConnect": "standaloneconnects",
    "KConnectCluster": "kconnectclusters",
    "Lease": "leases",
}


class KubeError(Exception):
    """Any failure to talk to the API server: `status` is the HTTP status, 0 when there was no
    answer (transport, timeout, no credentials)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


def collection_path(api_version: str, kind: str, namespace: str | None) -> str:
    """The URL path of a kind's collection, e.g. `/apis/apps/v1/namespaces/ns/deployments`."""
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    plural = _PLURALS[kind]
    return f"{root}/namespaces/{namespace}/{plural}" if namespace else f"{root}/{plural}"


def object_path(api_version: str, kind: str, namespace: str | None, name: str) -> str:
    return f"{collection_path(api_version, kind, namespace)}/{name}"


def path_of(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    return object_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])


def login(**kwargs: Any) -> kopf.ConnectionInfo:
    """The credentials to use: the pod's service account, else the kubeconfig. Also registered as
    kopf's login handler (kopf passes `settings` and more; they are ignored but for
    `settings.networking.trust_env`). Raises `KubeError` saying what was tried."""
    settings = kwargs.get("settings") or kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings)
    if info is not None:
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT")
        if host and port:
            server_host = f"[{host}]" if ":" in host else host
            info = dataclasses.replace(info, server=f"https://{server_host}:{port}")
        return info
    try:
        info = kopf.login_with_kubeconfig(settings=settings)
    except (OSError, ValueError, KeyError, TypeError, kopf.LoginError) as e:
        raise KubeError(
            0,
            "cannot configure the Kubernetes client: not in a cluster (no service account "
            f"token) and no usable kubeconfig ({type(e).__name__}: {e}); set KUBECONFIG or run "
            "in a pod",
        ) from e
    if info is None or not info.server:
        raise KubeError(
            0,
            "cannot configure the Kubernetes client: not in a cluster (no service account "
            "token) and no kubeconfig ($KUBECONFIG unset, no ~/.kube/config); set KUBECONFIG "
            "or run in a pod",
        )
    return info


class Kube:
    """The API calls the operator makes. Owns its HTTP session; `close` it."""

    def __init__(
        self,
        info: kopf.ConnectionInfo,
        *,
        relogin: Callable[[], kopf.ConnectionInfo] | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        """`relogin` gives fresh credentials after a 401 (`login` in the operator)."""
        self._info = info
        self._relogin = relogin
        self._server = info.server.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=info.as_ssl_context()),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )

    @property
    def server(self) -> str:
        return self._server

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
        content_type: str = "application/json",
    ) -> JsonObject:
        """One API call; the answer's JSON object (a bare list as `{"items": [...]}`)."""
        try:
            return await self._request(method, path, params, body, content_type)
        except KubeError as e:
            if e.status != HTTP_UNAUTHORIZED or self._relogin is None:
                raise
            try:
                self._info = await asyncio.to_thread(self._relogin)
            except KubeError:
                raise e from None
            return await self._request(method, path, params, body, content_type)

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: object,
        content_type: str,
    ) -> JsonObject:
        headers = {**self._info.as_http_headers(), "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        try:
            async with self._session.request(
                method, self._server + path, params=params, data=data, headers=headers
            ) as response:
                text = await response.text()
                if response.status >= 300:
                    raise KubeError(response.status, _message(text) or response.reason or "")
                parsed = json.loads(text) if text else {}
                return parsed if isinstance(parsed, dict) else {"items": parsed}
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise KubeError(0, f"{method} {path}: {type(e).__name__}: {e}") from e

    async def get(self, path: str) -> JsonObject | None:
        try:
            return await self.request("GET", path)
        except KubeError as e:
            if e.status == HTTP_NOT_FOUND:
                return None
            raise

    async def list(self, path: str, *, label_selector: str | None = None) -> list[JsonObject]:
        params = {"labelSelector": label_selector} if label_selector else None
        items: list[JsonObject] = (await self.request("GET", path, params=params)).get(
            "items"
        ) or []
        return items

    async def create(self, path: str, obj: Mapping[str, Any]) -> JsonObject:
        """POST `obj` to the collection `path`; 409 when it exists."""
        return await self.request("POST", path, body=obj)

    async def replace(self, obj: Mapping[str, Any]) -> JsonObject:
        """PUT `obj`; with `metadata.resourceVersion` set, a compare-and-swap (409 when the
        object changed since it was read)."""
        return await self.request("PUT", path_of(obj), body=obj)

    async def apply(self, obj: Mapping[str, Any]) -> JsonObject:
        """Server-side apply `obj` as the operator's field manager, taking over conflicting
        fields (the operator owns its children)."""
        return await self.request(
            "PATCH",
            path_of(obj),
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=obj,
            content_type="application/apply-patch+yaml",
        )

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> JsonObject:
        return await self.request(
            "PATCH", path, body=patch, content_type="application/merge-patch+json"
        )

    async def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """Delete; False when it was already gone."""
        try:
            await self.request(
                "DELETE",
                path,
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": propagation,
                },
            )
        except KubeError as e:
            if e.status == HTTP_NOT_FOUND:
                return False
            raise
        return True

    async def exec(self, namespace: str, pod: str, container: str, command: Sequence[str]) -> None:
        """Run `command` (no stdin, no TTY) in the pod's `container` and wait for it to end.
        Raises `KubeError` when it cannot be run (the API server's status and message, e.g. 403
        without `create` on pods/exec) or did not succeed (status 0 with the API server's
        message, e.g. its exit code, and what it wrote to stderr)."""
        try:
            await self._exec(namespace, pod, container, command)
        except KubeError as e:
            if e.status != HTTP_UNAUTHORIZED or self._relogin is None:
                raise
            try:
                self._info = await asyncio.to_thread(self._relogin)
            except KubeError:
                raise e from None
            await self._exec(namespace, pod, container, command)

    async def _exec(self, namespace: str, pod: str, container: str, command: Sequence[str]) -> None:
        path = f"{object_path('v1', 'Pod', namespace, pod)}/exec"
        params = [
            ("container", container),
            ("stdout", "true"),
            ("stderr", "true"),
            *(("command", part) for part in command),
        ]
        status = b""
        stderr = b""
        try:
            async with asyncio.timeout(EXEC_TIMEOUT_S):
                async with self._session.ws_connect(
                    self._server + path,
                    method="GET",
                    params=params,
                    headers=self._info.as_http_headers(),
                    protocols=EXEC_PROTOCOLS,
                ) as ws:
                    async for message in ws:
                        if message.type is not aiohttp.WSMsgType.BINARY or not message.data:
                            continue
                        channel, data = message.data[0], message.data[1:]
                        if channel == STATUS_CHANNEL:
                            status += data
                        elif channel == STDERR_CHANNEL and len(stderr) < 1000:
                            stderr += data
        except aiohttp.WSServerHandshakeError as e:
            why = _REFUSED_EXEC.get(e.status, f"the API server refused the stream: {e.message}")
            raise KubeError(e.status, f"exec in pod {pod}: {why}") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            raise KubeError(0, f"exec in pod {pod}: {type(e).__name__}: {e}") from e
        outcome = _exec_status(status)
        if outcome is not None:
            err = stderr.decode(errors="replace").strip()[:300]
            raise KubeError(0, f"exec in pod {pod}: {outcome}" + (f" ({err})" if err else ""))


_REFUSED_EXEC: Final[Mapping[int, str]] = {
    403: "forbidden: the operator's service account needs get and create on pods/exec",
    404: "no such pod",
}
"""Why the API server refused an exec stream, by status (the refusal's body is not read)."""


def _exec_status(raw: bytes) -> str | None:
    """None when the exec stream's `Status` says Success, else its message. A stream that ended
    with no status (the container went away) is a failure too."""
    if not raw:
        return "the stream ended without the command's status"
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()[:300]
    if isinstance(parsed, dict) and parsed.get("status") == "Success":
        return None
    if isinstance(parsed, dict):
        return str(parsed.get("message") or parsed.get("reason") or "Failure")
    return "Failure"


def _message(text: str) -> str:
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    return text.strip()[:500]
