"""A small asynchronous Kubernetes API client over aiohttp, speaking plain JSON.

The operator reads and writes a handful of object kinds as dicts, the same dicts its pure builders
return; a generated client would convert them to models and back. This shell adds only what the
handlers need: server-side apply under the operator's field manager, merge patches (including the
status subresource), list by label selector, get and delete.

Credentials come from the pod's service account when running in a cluster (the token file is
re-read on every request, so a rotated token is picked up), else from the kubeconfig the
`kubernetes` package resolves (`$KUBECONFIG` or `~/.kube/config`), with client certificates or a
bearer token.

Errors: every non-2xx answer raises `KubeError` with the status code and the API server's message;
`get` maps 404 to None. Transport failures raise `KubeError` with status 0.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
from kubernetes import client, config

from kconnect_operator.models import JsonObject

FIELD_MANAGER: Final = "kconnect-operator"
SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")

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
    "Lease": "leases",
}


class KubeError(Exception):
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


@dataclass(frozen=True, slots=True)
class Credentials:
    server: str
    ssl_context: ssl.SSLContext
    token: str | None = None
    token_file: Path | None = None

    def headers(self) -> dict[str, str]:
        token = self.token
        if self.token_file is not None:
            token = self.token_file.read_text("utf-8").strip()
        return {"Authorization": f"Bearer {token}"} if token else {}


def load_credentials() -> Credentials:
    """In-cluster credentials when the service account is mounted, else the kubeconfig's."""
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    token_file = SERVICE_ACCOUNT_DIR / "token"
    if host and port and token_file.exists():
        context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT_DIR / "ca.crt"))
        server_host = f"[{host}]" if ":" in host else host
        return Credentials(f"https://{server_host}:{port}", context, token_file=token_file)
    return _kubeconfig_credentials()


def _kubeconfig_credentials(path: Path | None = None) -> Credentials:
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(path) if path else None, client_configuration=configuration
    )
    if configuration.verify_ssl:
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    else:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    keys = configuration.api_key or {}
    auth = keys.get("authorization") or keys.get("BearerToken")
    token = auth.removeprefix("Bearer ").strip() if auth else None
    return Credentials(configuration.host.rstrip("/"), context, token=token)


def credentials_from_kubeconfig(path: Path) -> Credentials:
    """Credentials of one kubeconfig file, for tests and tools."""
    return _kubeconfig_credentials(path)


class Kube:
    """The API calls the operator makes. Owns its HTTP session; `close` it."""

    def __init__(self, credentials: Credentials, *, timeout_s: float = 30.0) -> None:
        self._credentials = credentials
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=credentials.ssl_context),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )

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
        headers = {**self._credentials.headers(), "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        try:
            async with self._session.request(
                method, self._credentials.server + path, params=params, data=data, headers=headers
            ) as response:
                text = await response.text()
                if response.status >= 300:
                    raise KubeError(response.status, _message(text) or response.reason or "")
                parsed = json.loads(text) if text else {}
                return parsed if isinstance(parsed, dict) else {"items": parsed}
        except (aiohttp.ClientError, TimeoutError) as e:
            raise KubeError(0, f"{method} {path}: {type(e).__name__}: {e}") from e

    async def get(self, path: str) -> JsonObject | None:
        try:
            return await self.request("GET", path)
        except KubeError as e:
            if e.status == 404:
                return None
            raise

    async def list(self, path: str, *, label_selector: str | None = None) -> list[JsonObject]:
        params = {"labelSelector": label_selector} if label_selector else None
        items: list[JsonObject] = (await self.request("GET", path, params=params)).get(
            "items"
        ) or []
        return items

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
            if e.status == 404:
                return False
            raise
        return True


def _message(text: str) -> str:
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    return text.strip()[:500]
