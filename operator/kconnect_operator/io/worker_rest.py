"""The operator's client of a worker cluster's REST API (Kafka Connect's paths and bodies).

Any worker of a kconnect cluster accepts writes, so the client talks to one ready worker and moves
to the next only when a worker does not answer at all. Status codes keep their REST meaning:
`WorkerRestError.status` is 400 when the workers rejected a config (its message is the worker's own,
naming the key), 404 when the connector is unknown, 409 while the cluster is rebalancing, and 0
when no worker could be reached.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import aiohttp

from kconnect_operator.core.shapes import JsonObject

ResponseHook = Callable[[str, int], None]
"""Called with the method and status code (0 for no answer) of every request."""

_NO_ANSWER: Final = 0


class WorkerRestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WorkerRestClient:
    """Requests to the first worker of `urls` that answers."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: Sequence[str],
        *,
        timeout_s: float,
        on_response: ResponseHook | None = None,
    ) -> None:
        if not urls:
            raise ValueError("no worker URL")
        self._session = session
        self._urls = list(urls)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._on_response = on_response

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: object = None,
    ) -> Any:
        failures: list[str] = []
        for url in self._urls:
            try:
                async with self._session.request(
                    method,
                    url + path,
                    params=params,
                    json=body,
                    timeout=self._timeout,
                ) as response:
                    text = await response.text()
                    self._record(method, response.status)
                    if response.status >= 300:
                        raise WorkerRestError(response.status, _message(text, response.status))
                    return json.loads(text) if text.strip() else None
            except (aiohttp.ClientError, TimeoutError) as e:
                self._record(method, _NO_ANSWER)
                failures.append(f"{url}: {type(e).__name__}: {e}".rstrip(": "))
        raise WorkerRestError(_NO_ANSWER, "no worker answered: " + "; ".join(failures))

    def _record(self, method: str, status: int) -> None:
        if self._on_response is not None:
            self._on_response(method, status)

    async def config(self, name: str) -> dict[str, str] | None:
        """The connector's config, or None when the cluster has no such connector."""
        try:
            raw = await self._request("GET", f"/connectors/{_seg(name)}/config")
        except WorkerRestError as e:
            if e.status == 404:
                return None
            raise
        return {str(k): str(v) for k, v in (raw or {}).items()}

    async def put_config(self, name: str, config: Mapping[str, str]) -> None:
        await self._request("PUT", f"/connectors/{_seg(name)}/config", body=dict(config))

    async def delete(self, name: str) -> None:
        """`DELETE /connectors/{name}`; a connector that is already gone is no error."""
        try:
            await self._request("DELETE", f"/connectors/{_seg(name)}")
        except WorkerRestError as e:
            if e.status != 404:
                raise

    async def create(self, name: str, config: Mapping[str, str], initial_state: str) -> None:
        """Create the connector in `initial_state` (RUNNING, PAUSED or STOPPED)."""
        await self._request(
            "POST",
            "/connectors",
            body={"name": name, "config": dict(config), "initial_state": initial_state},
        )

    async def status(self, name: str) -> JsonObject | None:
        try:
            raw = await self._request("GET", f"/connectors/{_seg(name)}/status")
        except WorkerRestError as e:
            if e.status == 404:
                return None
            raise
        return raw if isinstance(raw, dict) else None

    async def connectors_status(self) -> JsonObject:
        """`GET /connectors?expand=status`: every connector's status, by name."""
        raw = await self._request("GET", "/connectors", params={"expand": "status"})
        return raw if isinstance(raw, dict) else {}

    async def command(self, name: str, command: str) -> None:
        """`pause`, `resume` or `stop`."""
        await self._request("PUT", f"/connectors/{_seg(name)}/{command}")

    async def restart(self, name: str, *, include_tasks: bool, only_failed: bool) -> None:
        await self._request(
            "POST",
            f"/connectors/{_seg(name)}/restart",
            params={
                "includeTasks": str(include_tasks).lower(),
                "onlyFailed": str(only_failed).lower(),
            },
        )

    async def restart_task(self, name: str, task: int) -> None:
        await self._request("POST", f"/connectors/{_seg(name)}/tasks/{task}/restart")

    async def offsets(self, name: str) -> JsonObject:
        """`GET /connectors/{name}/offsets`: `{"offsets": [{"partition": ..., "offset": ...}]}`."""
        raw = await self._request("GET", f"/connectors/{_seg(name)}/offsets")
        return raw if isinstance(raw, dict) else {"offsets": []}

    async def alter_offsets(self, name: str, offsets: JsonObject) -> None:
        """`PATCH /connectors/{name}/offsets` (the connector must be stopped)."""
        await self._request("PATCH", f"/connectors/{_seg(name)}/offsets", body=dict(offsets))

    async def reset_offsets(self, name: str) -> None:
        """`DELETE /connectors/{name}/offsets` (the connector must be stopped)."""
        await self._request("DELETE", f"/connectors/{_seg(name)}/offsets")

    async def loggers(self) -> dict[str, str]:
        """`GET /admin/loggers`: the level of the root and of every logger with a level of its
        own, by name (Kafka leaves loggers at OFF out)."""
        raw = await self._request("GET", "/admin/loggers")
        out: dict[str, str] = {}
        for name, entry in (raw or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("level"), str):
                out[str(name)] = str(entry["level"])
        return out

    async def logger(self, name: str) -> str | None:
        """`GET /admin/loggers/{name}`: the logger's effective level, or None when the worker
        has no such logger."""
        try:
            raw = await self._request("GET", f"/admin/loggers/{_seg(name)}")
        except WorkerRestError as e:
            if e.status == 404:
                return None
            raise
        level = raw.get("level") if isinstance(raw, dict) else None
        return str(level) if isinstance(level, str) else None

    async def set_logger(self, name: str, level: str) -> None:
        """`PUT /admin/loggers/{name}`: set the logger and its descendants on this worker."""
        await self._request("PUT", f"/admin/loggers/{_seg(name)}", body={"level": level})


def _seg(name: str) -> str:
    return quote(name, safe="")


def _message(text: str, status: int) -> str:
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip()[:2000] or f"HTTP {status}"
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    return text.strip()[:2000]
