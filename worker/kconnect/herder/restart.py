"""Which instances a restart request restarts: a pure function of the current states.

Kafka Connect's rules: a plain restart (neither `includeTasks` nor `onlyFailed`) restarts the
connector only and answers 204. Otherwise the connector is restarted unless `onlyFailed` is set
and it isn't FAILED, and tasks are included only with `includeTasks`, and then only the FAILED
ones under `onlyFailed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kconnect.api.types import TaskId
from kconnect.storage.states import State


@dataclass(frozen=True)
class RestartPlan:
    connector: bool
    tasks: frozenset[TaskId]
    plain: bool


def plan_restart(
    connector_state: State | None,
    task_states: Mapping[TaskId, State | None],
    *,
    include_tasks: bool,
    only_failed: bool,
) -> RestartPlan:
    plain = not include_tasks and not only_failed
    restart_connector = not only_failed or connector_state is State.FAILED
    tasks: frozenset[TaskId] = frozenset()
    if include_tasks:
        tasks = frozenset(t for t, s in task_states.items() if not only_failed or s is State.FAILED)
    return RestartPlan(restart_connector, tasks, plain)
