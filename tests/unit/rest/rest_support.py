"""An in-memory `Herder` that records its calls, and a way to drive the REST app over HTTP.

The fake answers like a herder would (configs, statuses, offsets kept in dicts) so each test can
check what the REST layer sent it and how the answer was rendered. `fail` makes a method raise,
to check the error mapping; the real herders are tested elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient, TestServer

from kconnect.api.types import ConnectorName, JsonValue, TaskId, TaskNumber
from kconnect.herder.base import Herder
from kconnect.herder.errors import AlreadyExistsError, NotFoundError
from kconnect.herder.model import (
    ConfigInfo,
    ConfigInfos,
    ConfigKeyInfo,
    ConfigValueInfo,
    ConnectorInfo,
    ConnectorOffset,
    ConnectorOffsets,
    ConnectorStateInfo,
    ConnectorType,
    PluginInfo,
    PluginType,
    ServerInfo,
    TaskInfo,
    TaskStateInfo,
)
from kconnect.rest import build_app
from kconnect.rest.loggers import PythonLoggers
from kconnect.storage.states import State, StateInfo, TargetState

WORKER = "worker-1:8083"
T = TypeVar("T")

PLUGINS = [
    PluginInfo("kconnect.connectors.file.FileStreamSinkConnector", PluginType.SINK, "0.1.0"),
    PluginInfo("kconnect.connectors.file.FileStreamSourceConnector", PluginType.SOURCE, "0.1.0"),
    PluginInfo("kconnect.converters.json.JsonConverter", PluginType.CONVERTER, "0.1.0"),
]
TOPICS_KEY = ConfigKeyInfo("topics", "LIST", True, None, "HIGH", "Topics to read")


class FakeHerder(Herder):
    def __init__(self) -> None:
        self.configs: dict[ConnectorName, dict[str, str]] = {}
        self.states: dict[ConnectorName, TargetState] = {}
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail: dict[str, Exception] = {}
        self.ready = True
        self.health_message = ""
        self.restart_answer: ConnectorStateInfo | None = None
        self.vanish_on_status: set[ConnectorName] = set()

    # --- bookkeeping

    def _record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, args, kwargs))
        if method in self.fail:
            raise self.fail[method]

    def called(self, method: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for name, args, kwargs in self.calls if name == method]

    def _config(self, name: ConnectorName) -> dict[str, str]:
        if name not in self.configs:
            raise NotFoundError(f"Connector {name} not found")
        return self.configs[name]

    def _info(self, name: ConnectorName) -> ConnectorInfo:
        config = self._config(name)
        tasks = [TaskId(name, TaskNumber(n)) for n in range(int(config.get("tasks.max", "1")))]
        return ConnectorInfo(name, dict(config), tasks, ConnectorType.SOURCE)

    def add(self, name: str, **config: str) -> None:
        self.configs[ConnectorName(name)] = {"name": name, "connector.class": "X", **config}
        self.states[ConnectorName(name)] = TargetState.STARTED

    # --- Herder

    @property
    def worker_id(self) -> str:
        return WORKER

    def server_info(self) -> ServerInfo:
        self._record("server_info")
        return ServerInfo("4.0.0", "abc123", "cluster-1")

    def health(self) -> tuple[bool, str]:
        self._record("health")
        return self.ready, self.health_message

    async def connectors(self) -> list[ConnectorName]:
        self._record("connectors")
        return sorted(self.configs)

    async def connector_info(self, name: ConnectorName) -> ConnectorInfo:
        self._record("connector_info", name)
        return self._info(name)

    async def connector_config(self, name: ConnectorName) -> dict[str, str]:
        self._record("connector_config", name)
        return dict(self._config(name))

    async def put_connector_config(
        self,
        name: ConnectorName,
        config: Mapping[str, str],
        *,
        allow_replace: bool,
        initial_state: TargetState | None = None,
    ) -> tuple[bool, ConnectorInfo]:
        self._record(
            "put_connector_config",
            name,
            dict(config),
            allow_replace=allow_replace,
            initial_state=initial_state,
        )
        created = name not in self.configs
        if not created and not allow_replace:
            raise AlreadyExistsError(f"Connector {name} already exists")
        self.configs[name] = dict(config)
        self.states[name] = initial_state or TargetState.STARTED
        return created, self._info(name)

    async def patch_connector_config(
        self, name: ConnectorName, patch: Mapping[str, str | None]
    ) -> ConnectorInfo:
        self._record("patch_connector_config", name, dict(patch))
        config = self._config(name)
        for key, value in patch.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        return self._info(name)

    async def delete_connector(self, name: ConnectorName) -> ConnectorInfo:
        self._record("delete_connector", name)
        info = self._info(name)
        del self.configs[name]
        return info

    async def connector_status(self, name: ConnectorName) -> ConnectorStateInfo:
        self._record("connector_status", name)
        if name in self.vanish_on_status:
            raise NotFoundError(f"Connector {name} not found")
        self._config(name)
        state = {
            TargetState.STARTED: State.RUNNING,
            TargetState.PAUSED: State.PAUSED,
            TargetState.STOPPED: State.STOPPED,
        }[self.states[name]]
        return ConnectorStateInfo(
            name,
            StateInfo(state, WORKER),
            [TaskStateInfo(0, StateInfo(State.FAILED, WORKER, "Traceback: boom"))],
            ConnectorType.SOURCE,
        )

    async def task_status(self, task: TaskId) -> TaskStateInfo:
        self._record("task_status", task)
        self._config(task.connector)
        if task.task != 0:
            raise NotFoundError(f"Task {task} not found")
        return TaskStateInfo(0, StateInfo(State.RUNNING, WORKER))

    async def task_configs(self, name: ConnectorName) -> list[TaskInfo]:
        self._record("task_configs", name)
        return [TaskInfo(t, {"task.class": "XTask"}) for t in self._info(name).tasks]

    async def restart_connector(
        self, name: ConnectorName, *, include_tasks: bool, only_failed: bool
    ) -> ConnectorStateInfo | None:
        self._record(
            "restart_connector", name, include_tasks=include_tasks, only_failed=only_failed
        )
        self._config(name)
        return self.restart_answer

    async def restart_task(self, task: TaskId) -> None:
        self._record("restart_task", task)
        self._config(task.connector)

    async def set_target_state(self, name: ConnectorName, state: TargetState) -> None:
        self._record("set_target_state", name, state)
        self._config(name)
        self.states[name] = state

    async def connector_offsets(self, name: ConnectorName) -> ConnectorOffsets:
        self._record("connector_offsets", name)
        self._config(name)
        return ConnectorOffsets([ConnectorOffset({"filename": "/tmp/in"}, {"position": 42})])

    async def alter_connector_offsets(
        self, name: ConnectorName, offsets: list[dict[str, JsonValue]]
    ) -> str:
        self._record("alter_connector_offsets", name, offsets)
        self._config(name)
        return "The offsets for this connector have been altered successfully"

    async def reset_connector_offsets(self, name: ConnectorName) -> str:
        self._record("reset_connector_offsets", name)
        self._config(name)
        return "The offsets for this connector have been reset successfully"

    async def connector_topics(self, name: ConnectorName) -> list[str]:
        self._record("connector_topics", name)
        self._config(name)
        return ["orders", "payments"]

    async def reset_connector_topics(self, name: ConnectorName) -> None:
        self._record("reset_connector_topics", name)
        self._config(name)

    def connector_plugins(self, connectors_only: bool) -> list[PluginInfo]:
        self._record("connector_plugins", connectors_only)
        if connectors_only:
            return [p for p in PLUGINS if p.type in (PluginType.SINK, PluginType.SOURCE)]
        return list(PLUGINS)

    def plugin_config(self, plugin: str, version: str | None = None) -> list[ConfigKeyInfo]:
        self._record("plugin_config", plugin, version)
        if plugin not in ("FileStreamSink", "kconnect.connectors.file.FileStreamSinkConnector"):
            raise NotFoundError(f"Unknown plugin {plugin}.")
        return [TOPICS_KEY]

    async def validate_connector_config(
        self, config: Mapping[str, str], plugin: str | None = None
    ) -> ConfigInfos:
        self._record("validate_connector_config", dict(config), plugin)
        errors = [] if "topics" in config else ["Missing required configuration"]
        value = ConfigValueInfo("topics", config.get("topics"), errors=errors)
        return ConfigInfos(plugin or "", len(errors), ["Common"], [ConfigInfo(TOPICS_KEY, value)])


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    text: str
    body: JsonValue = field(default=None)


async def _send(client: TestClient[Any, Any], method: str, path: str, **kwargs: Any) -> Reply:
    # Raw bytes go as JSON, as Kafka Connect's clients send them, unless a test says otherwise.
    if "data" in kwargs and "headers" not in kwargs:
        kwargs["headers"] = {"Content-Type": "application/json"}
    async with client.request(method, path, **kwargs) as response:
        text = await response.text()
        body: JsonValue = json.loads(text) if text else None
        return Reply(response.status, dict(response.headers), text, body)


def with_client(
    herder: Herder,
    scenario: Callable[[TestClient[Any, Any]], Awaitable[T]],
    loggers: PythonLoggers | None = None,
) -> T:
    """Serve the app over a real socket for the length of `scenario`."""

    async def main() -> T:
        async with TestClient(TestServer(build_app(herder, loggers=loggers))) as client:
            return await scenario(client)

    return asyncio.run(main())


def call(
    herder: Herder,
    method: str,
    path: str,
    *,
    loggers: PythonLoggers | None = None,
    **kwargs: Any,
) -> Reply:
    """One request against a fresh server; `json=` or `data=` as for aiohttp's client."""
    return with_client(herder, lambda client: _send(client, method, path, **kwargs), loggers)


async def send(client: TestClient[Any, Any], method: str, path: str, **kwargs: Any) -> Reply:
    return await _send(client, method, path, **kwargs)


def error_of(reply: Reply) -> str:
    """The message of an error reply, after checking it has Kafka Connect's error shape."""
    assert isinstance(reply.body, dict), reply.text
    assert set(reply.body) == {"error_code", "message"}, reply.body
    assert reply.body["error_code"] == reply.status
    assert reply.headers["Content-Type"].startswith("application/json")
    message = reply.body["message"]
    assert isinstance(message, str)
    return message
