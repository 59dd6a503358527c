"""Running a connector instance: start, stop, target state, and asking it for task configs.

The connector's own methods are called from the herder's thread; a connector may call
`request_task_reconfiguration` or `raise_error` from any thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Concatenate, ParamSpec, TypeVar

from kconnect.api.connector import Connector, ConnectorContext
from kconnect.api.types import ConnectorName
from kconnect.logcontext import log_context
from kconnect.storage.states import State, StateInfo, TargetState
from kconnect.storage.status import StatusStore
from kconnect.worker.task import format_trace, plugin_version

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def _in_log_context(
    method: Callable[Concatenate[ConnectorRunner, P], T],
) -> Callable[Concatenate[ConnectorRunner, P], T]:
    """Lines the connector logs while this runs carry its name (`[orders|worker]`)."""

    def wrapper(self: ConnectorRunner, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with log_context(self.name):
            return method(self, *args, **kwargs)

    wrapper.__doc__ = method.__doc__
    return wrapper


class _Context(ConnectorContext):
    def __init__(self, runner: ConnectorRunner) -> None:
        self._runner = runner

    def request_task_reconfiguration(self) -> None:
        self._runner.on_reconfigure()

    def raise_error(self, error: Exception) -> None:
        self._runner.fail(error)


class ConnectorRunner:
    def __init__(
        self,
        name: ConnectorName,
        connector: Connector,
        props: Mapping[str, str],
        *,
        status: StatusStore,
        worker_id: str,
        on_reconfigure: Callable[[], None],
        redact: Callable[[str], str] = str,
        generation: int = 0,
    ) -> None:
        self.name = name
        self._redact = redact  # puts config provider variables back into traces
        self.generation = generation
        """The group generation in which this worker was given the connector."""
        self.connector = connector
        self.version = plugin_version(connector)
        self.props = dict(props)
        self._status = status
        self._worker_id = worker_id
        self.on_reconfigure = on_reconfigure
        self.started = False
        self.failed = False
        self.target = TargetState.STOPPED

    @_in_log_context
    def set_target(self, target: TargetState) -> bool:
        """Move to `target`; returns whether the connector is healthy afterwards."""
        self.target = target
        if target is TargetState.STOPPED:
            self._stop()
            if not self.failed:
                self._report(State.STOPPED)
            return not self.failed
        if not self.started and not self.failed:
            try:
                self.connector.initialize(_Context(self))
                self.connector.start(self.props)
                self.started = True
            except Exception as e:  # noqa: BLE001 - connector code may raise anything
                self.fail(e)
                return False
        if self.failed:
            return False
        self._report(State.PAUSED if target is TargetState.PAUSED else State.RUNNING)
        return True

    @_in_log_context
    def task_configs(self, max_tasks: int) -> list[dict[str, str]] | None:
        if not self.started or self.failed:
            return None
        try:
            configs = self.connector.task_configs(max_tasks)
        except Exception as e:  # noqa: BLE001
            self.fail(e)
            return None
        return [dict(c) for c in configs]

    @_in_log_context
    def fail(self, error: BaseException) -> None:
        log.error("connector %s failed: %s", self.name, error, exc_info=error)
        self.failed = True
        self._report(State.FAILED, self._redact(format_trace(error)))

    @_in_log_context
    def shutdown(self) -> None:
        self._stop()
        if not self.failed:
            # As Kafka Connect (`putSafe`): not over a newer owner's state, since the connector
            # may already run elsewhere when this worker lost it.
            self._status.put_connector_safe(
                self.name,
                StateInfo(
                    State.UNASSIGNED, self._worker_id, None, self.generation, version=self.version
                ),
            )

    def _stop(self) -> None:
        if not self.started:
            return
        self.started = False
        try:
            self.connector.stop()
        except Exception as e:  # noqa: BLE001
            self.fail(e)

    def _report(self, state: State, trace: str | None = None) -> None:
        self._status.put_connector(
            self.name,
            StateInfo(state, self._worker_id, trace, self.generation, version=self.version),
        )
