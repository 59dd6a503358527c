"""The test kubelet's connection to the API server: JSON over HTTPS, and watches.

Everything the kubelet decides is a pure function over the JSON the API server sends (see the other
modules of this package), so objects go in and out as plain dicts, exactly as the server wrote
them. The generated ``kubernetes`` client would turn each one into a model and back; only its
kubeconfig loader is used here, so any kubeconfig kubectl accepts works (embedded or file
certificates, bearer tokens).

Invariants:

- **Every request is bounded.** A plain request has a socket timeout; a watch asks the server to end
  it after ``timeoutSeconds`` and has a socket timeout beyond that, and :meth:`Watch.close` ends it
  at once from another thread.
- **Failures are typed.** Any answer other than 2xx raises :class:`ApiError` with the status code
  and the server's own reason and message; a connection failure raises :class:`OSError` (or
  :class:`ssl.SSLError`). Nothing is retried here: the callers own their retry loops.
- **Thread-safe.** Each request opens its own connection (a loopback TLS handshake costs about a
  millisecond), so threads share an :class:`Api` freely.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

JsonObject = dict[str, Any]
"""A Kubernetes object, or a part of one, as the API server's JSON."""

REQUEST_TIMEOUT_S: Final = 15.0
WATCH_SLACK_S: Final = 30.0
USER_AGENT: Final = "kconnect-test-kubelet/0.1"

MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"


class ApiError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class Api:
    """A client of one API server, configured from a kubeconfig."""

    def __init__(self, kubeconfig: Path, temp_dir: Path) -> None:
        from kubernetes import client, config

        configuration = client.Configuration()
        # The loader writes embedded certificates to files; keep them in the kubelet's state dir.
        temp_dir.mkdir(parents=True, exist_ok=True)
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig),
            client_configuration=configuration,
            persist_config=False,
            temp_file_path=str(temp_dir),
        )
        url = urllib.parse.urlsplit(str(configuration.host))
        if url.scheme != "https" or url.hostname is None:
            raise ValueError(f"{kubeconfig}: server {configuration.host!r} is not an https:// URL")
        self.host: str = url.hostname
        self.port: int = url.port or 443
        self.base_path = url.path.rstrip("/")
        context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
        if not configuration.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if configuration.cert_file and configuration.key_file:
            context.load_cert_chain(configuration.cert_file, configuration.key_file)
        self._context = context
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        token = configuration.api_key.get("authorization") or configuration.api_key.get(
            "BearerToken"
        )
        if token:
            self._headers["Authorization"] = str(token)

    @property
    def server(self) -> str:
        return f"https://{self.host}:{self.port}{self.base_path}"

    def request(
        self,
        method: str,
        path: str,
        body: JsonObject | None = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> JsonObject:
        connection = self._connect(timeout)
        try:
            headers = dict(self._headers)
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = content_type
            connection.request(method, self._url(path, query), body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise _error(response.status, data)
        result = json.loads(data) if data else {}
        if not isinstance(result, dict):
            raise ApiError(response.status, "BadResponse", f"{method} {path}: not a JSON object")
        return result

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> JsonObject | None:
        """The object at ``path``, or None when it does not exist."""
        try:
            return self.request("GET", path, query=query)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    def watch(self, path: str, *, resource_version: str, timeout_s: int) -> Watch:
        """Events of the collection at ``path`` after ``resource_version``, with bookmarks."""
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_s),
        }
        connection = self._connect(timeout_s + WATCH_SLACK_S)
        try:
            connection.request("GET", self._url(path, query), headers=self._headers)
            response = connection.getresponse()
        except BaseException:
            connection.close()
            raise
        if response.status != 200:
            data = response.read()
            connection.close()
            raise _error(response.status, data)
        return Watch(connection, response)

    def _connect(self, timeout: float) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.host, self.port, timeout=timeout, context=self._context
        )

    def _url(self, path: str, query: Mapping[str, str] | None) -> str:
        url = self.base_path + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return url


class Watch:
    """One watch response: iterate for events; :meth:`close` ends it from any thread."""

    def __init__(
        self, connection: http.client.HTTPSConnection, response: http.client.HTTPResponse
    ) -> None:
        self._connection = connection
        self._response = response
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[JsonObject]:
        try:
            while not self._closed.is_set():
                try:
                    line = self._response.readline()
                except Exception:
                    # close() from another thread shuts the socket down under this read, which
                    # http.client reports in several ways; none of them is an error then.
                    if self._closed.is_set():
                        return
                    raise
                if not line:
                    return  # the server ended the watch (timeoutSeconds)
                if line.strip():
                    event = json.loads(line)
                    if isinstance(event, dict):
                        yield event
        finally:
            self._closed.set()
            self._connection.close()

    def close(self) -> None:
        """End the watch: the iterating thread sees its end at once."""
        self._closed.set()
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _error(status: int, data: bytes) -> ApiError:
    reason, message = http.client.responses.get(status, "Error"), data.decode(errors="replace")
    with contextlib.suppress(ValueError):
        body = json.loads(data)
        if isinstance(body, dict):
            reason = str(body.get("reason") or reason)
            message = str(body.get("message") or message)
    return ApiError(status, reason, message.strip())
