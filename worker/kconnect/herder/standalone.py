"""The standalone herder: one worker, configs in memory (from files and the REST API).

Every change runs on the herder's single thread, one after another, so there is no interleaving
of starts and stops to reason about; the REST API awaits the result. Status reads don't go through
that thread: they read the status store, which tasks update as they change state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from confluent_kafka.admin import AdminClient

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.herder.common import CommonHerder
from kconnect.herder.errors import (
    AlreadyExistsError,
    NotFoundError,
)
from kconnect.herder.model import (
    ConnectorInfo,
    ConnectorStateInfo,
)
from kconnect.storage.offsets import OffsetStore
from kconnect.storage.states import State, StateInfo, TargetState
from kconnect.storage.status import StatusStore
from kconnect.worker.worker import Worker

log = logging.getLogger(__name__)

T = TypeVar("T")


class StandaloneHerder(CommonHerder):
    def __init__(
        self,
        worker: Worker,
        *,
        admin: AdminClient,
        kafka_cluster_id: str | None,
        version: str,
    ) -> None:
        self._worker = worker
        self._admin = admin
        self._registry = worker.registry
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="herder")
        self._configs: dict[ConnectorName, dict[str, str]] = {}
        self._targets: dict[ConnectorName, TargetState] = {}
        self._task_configs: dict[ConnectorName, list[dict[str, str]]] = {}
        self._cluster_id = kafka_cluster_id
        self._version = version
        self._ready = False
        self._closed = False
        self._worker_props = worker.worker_props

    def _connector_configs(self) -> Mapping[ConnectorName, Mapping[str, str]]:
        return self._configs

    def _task_config_list(self, name: ConnectorName) -> list[Mapping[str, str]]:
        return list(self._task_configs.get(name, []))

    @property
    def _statuses(self) -> StatusStore:
        return self._worker.status

    @property
    def _offset_store(self) -> OffsetStore:
        return self._worker.offsets

    def _is_stopped(self, name: ConnectorName) -> bool:
        return self._targets.get(name) is TargetState.STOPPED

    async def _blocking(self, fn: Callable[[], T]) -> T:
        return await self._call(fn)

    @property
    def worker_id(self) -> str:
        return self._worker.worker_id

    # --- running things on the herder thread
    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def run_sync(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the herder thread from a thread without an event loop."""
        return self._executor.submit(fn).result()

    def mark_ready(self) -> None:
        self._ready = True

    def stop(self) -> None:
        """Stop every task (drain, flush, commit) and connector, then the herder thread."""
        if self._closed:
            return
        self._closed = True
        self._ready = False
        self._executor.submit(self._worker.shutdown).result()
        self._executor.shutdown(wait=True)

    async def connectors(self) -> list[ConnectorName]:
        return sorted(self._configs)

    # --- writes
    async def put_connector_config(
        self,
        name: ConnectorName,
        config: Mapping[str, str],
        *,
        allow_replace: bool,
        initial_state: TargetState | None = None,
    ) -> tuple[bool, ConnectorInfo]:
        return await self._call(
            lambda: self.put_connector_config_sync(
                name, config, allow_replace=allow_replace, initial_state=initial_state
            )
        )

    def put_connector_config_sync(
        self,
        name: ConnectorName,
        config: Mapping[str, str],
        *,
        allow_replace: bool,
        initial_state: TargetState | None = None,
    ) -> tuple[bool, ConnectorInfo]:
        """Create or replace a connector (on the herder thread)."""
        config = {**config, "name": name}
        self._validated(config)
        exists = name in self._configs
        if exists and not allow_replace:
            raise AlreadyExistsError(f"Connector {name} already exists")
        if exists:
            if self._configs[name] == config:
                return False, self._info(name)
            self._shutdown_connector(name)
        else:
            self._targets[name] = initial_state or TargetState.STARTED
        self._configs[name] = config
        self._start_connector(name)
        return not exists, self._info(name)

    async def patch_connector_config(
        self, name: ConnectorName, patch: Mapping[str, str | None]
    ) -> ConnectorInfo:
        def run() -> ConnectorInfo:
            merged = self._merged_patch(name, patch)
            return self.put_connector_config_sync(name, merged, allow_replace=True)[1]

        return await self._call(run)

    async def delete_connector(self, name: ConnectorName) -> ConnectorInfo:
        def run() -> ConnectorInfo:
            info = self._info(name)
            self._shutdown_connector(name)
            del self._configs[name]
            self._targets.pop(name, None)
            self._task_configs.pop(name, None)
            self._worker.status.forget(name)
            return info

        return await self._call(run)

    async def set_target_state(self, name: ConnectorName, state: TargetState) -> None:
        await self._call(lambda: self._set_target(name, state))

    def _set_target(self, name: ConnectorName, state: TargetState) -> None:
        self._config(name)
        previous = self._targets.get(name, TargetState.STARTED)
        self._targets[name] = state
        if state is previous:
            return
        if state is TargetState.STOPPED:
            self._stop_tasks(name)
            self._task_configs[name] = []
            self._worker.set_connector_target(name, TargetState.STOPPED)
            return
        if name not in self._worker.connectors:
            self._start_connector(name)
            return
        healthy = self._worker.set_connector_target(name, state)
        for task_id in self._worker.connector_tasks(name):
            self._worker.set_task_target(task_id, state)
        # Tasks are made when the connector runs: after a stop, or when it was created PAUSED
        # and has none yet (as in Kafka Connect, a connector created PAUSED has no tasks).
        if healthy and (
            previous is TargetState.STOPPED
            or (state is TargetState.STARTED and not self._task_configs.get(name))
        ):
            self._reconfigure(name)

    async def restart_connector(
        self, name: ConnectorName, *, include_tasks: bool, only_failed: bool
    ) -> ConnectorStateInfo | None:
        def run() -> ConnectorStateInfo | None:
            plan, pending = self._restart_plan(
                name, include_tasks=include_tasks, only_failed=only_failed
            )
            if plan.tasks:
                self._restart_tasks(name, sorted(plan.tasks))
            if plan.connector:
                self._restart_connector_only(name)
            return None if plan.plain else pending

        return await self._call(run)

    async def restart_task(self, task: TaskId) -> None:
        def run() -> None:
            configs = self._task_configs.get(self._config_for_task(task), [])
            if task.task >= len(configs):
                raise NotFoundError(f"Task {task} not found")
            self._restart_tasks(task.connector, [task])

        await self._call(run)

    def _config_for_task(self, task: TaskId) -> ConnectorName:
        if task.connector not in self._configs:
            raise NotFoundError(f"Connector {task.connector} not found")
        return task.connector

    # Kafka Connect answers these for any name, known or not (an unknown one has no topics).
    async def connector_topics(self, name: ConnectorName) -> list[str]:
        return sorted(self._worker.active_topics(name))

    async def reset_connector_topics(self, name: ConnectorName) -> None:
        self._worker.reset_active_topics(name)

    # --- on the herder thread
    def _start_connector(self, name: ConnectorName) -> None:
        config = self._configs[name]
        target = self._targets.get(name, TargetState.STARTED)
        healthy = self._worker.start_connector(
            name, config, target, on_reconfigure=lambda: self._request_reconfigure(name)
        )
        if healthy and target is TargetState.STARTED:
            self._reconfigure(name)
        elif target is TargetState.STOPPED:
            self._task_configs[name] = []

    def _request_reconfigure(self, name: ConnectorName) -> None:
        if not self._closed:
            self._executor.submit(self._reconfigure_if_present, name)

    def _reconfigure_if_present(self, name: ConnectorName) -> None:
        if name in self._configs and self._targets.get(name) is not TargetState.STOPPED:
            self._reconfigure(name)

    def _reconfigure(self, name: ConnectorName) -> None:
        config = self._configs[name]
        configs = self._worker.generate_task_configs(name)
        if configs is None:
            return
        if configs == self._task_configs.get(name) and self._worker.connector_tasks(name):
            return
        self._stop_tasks(name)
        self._task_configs[name] = configs
        target = self._targets.get(name, TargetState.STARTED)
        for i, task_config in enumerate(configs):
            self._start_task(TaskId(name, TaskNumber(i)), config, task_config, target)

    def _start_task(
        self,
        task: TaskId,
        config: Mapping[str, str],
        task_config: Mapping[str, str],
        target: TargetState,
    ) -> None:
        if not self._worker.start_task(task, config, task_config, target):
            # Nothing retries here: say so in the status, and let a restart try again.
            self._worker.status.put_task(
                task,
                StateInfo(
                    State.FAILED,
                    self._worker.worker_id,
                    f"Task {task} was not started: its previous instance did not stop within "
                    "task.shutdown.graceful.timeout.ms and is still running in connector code. "
                    "Restart the task once it has returned.",
                ),
            )

    def _stop_tasks(self, name: ConnectorName) -> None:
        self._worker.stop_tasks(self._worker.connector_tasks(name))

    def _shutdown_connector(self, name: ConnectorName) -> None:
        self._stop_tasks(name)
        self._worker.stop_connector(name)

    def _restart_connector_only(self, name: ConnectorName) -> None:
        self._worker.stop_connector(name)
        self._start_connector(name)

    def _restart_tasks(self, name: ConnectorName, tasks: list[TaskId]) -> None:
        if self._targets.get(name) is TargetState.STOPPED:
            return
        configs = self._task_configs.get(name, [])
        config = self._configs[name]
        self._worker.stop_tasks([t for t in tasks if t in self._worker.tasks])
        target = self._targets.get(name, TargetState.STARTED)
        for t in tasks:
            if t.task < len(configs):
                self._start_task(t, config, configs[t.task], target)
