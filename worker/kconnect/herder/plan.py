"""What a distributed worker should run, and how to get there from what it runs now.

Pure functions over plain data. The group assigns this worker some partitions of the connectors'
task topics; partition n of a connector's topic is its task n, and the owner of partition 0 also
runs the connector instance. `plan` compares that with what is running and returns the smallest
set of changes: a task is stopped only when it is no longer assigned here, its connector is gone,
stopped or inconsistent, or its config (or its connector's) changed. Everything else keeps
running, which is what makes rebalances incremental.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.storage.config_log import ClusterConfig
from kconnect.storage.states import TargetState

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class Running:
    """What this worker runs now, with the configs each instance was started with."""

    connectors: Mapping[ConnectorName, Mapping[str, str]]
    connector_targets: Mapping[ConnectorName, TargetState]
    tasks: Mapping[TaskId, tuple[Mapping[str, str], Mapping[str, str]]]  # (connector, task) props
    task_targets: Mapping[TaskId, TargetState]


@dataclass(frozen=True)
class Plan:
    stop_tasks: frozenset[TaskId] = frozenset()
    stop_connectors: frozenset[ConnectorName] = frozenset()
    start_connectors: tuple[ConnectorName, ...] = ()
    start_tasks: tuple[TaskId, ...] = ()
    retarget_connectors: Mapping[ConnectorName, TargetState] = field(default_factory=dict)
    retarget_tasks: Mapping[TaskId, TargetState] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (
            self.stop_tasks
            or self.stop_connectors
            or self.start_connectors
            or self.start_tasks
            or self.retarget_connectors
            or self.retarget_tasks
        )


def desired(
    assigned: frozenset[TopicPartition],
    topics: Mapping[str, ConnectorName],
    config: ClusterConfig,
) -> tuple[frozenset[ConnectorName], frozenset[TaskId]]:
    """The connector instances and tasks this worker should run."""
    connectors: set[ConnectorName] = set()
    tasks: set[TaskId] = set()
    for topic, partition in assigned:
        name = topics.get(topic)
        if name is None or name not in config.connectors:
            continue
        if partition == 0:
            connectors.add(name)
        if (
            config.target(name) is not TargetState.STOPPED
            and name not in config.inconsistent
            and partition < len(config.tasks.get(name, ()))
        ):
            tasks.add(TaskId(name, TaskNumber(partition)))
    return frozenset(connectors), frozenset(tasks)


def plan(
    assigned: frozenset[TopicPartition],
    topics: Mapping[str, ConnectorName],
    config: ClusterConfig,
    running: Running,
) -> Plan:
    want_connectors, want_tasks = desired(assigned, topics, config)

    stop_connectors = {
        name
        for name, props in running.connectors.items()
        if name not in want_connectors or dict(props) != dict(config.connectors[name])
    }
    stop_tasks: set[TaskId] = set()
    for task_id, (connector_props, task_props) in running.tasks.items():
        current = config.task_config(task_id) if task_id in want_tasks else None
        if (
            current is None
            or dict(current) != dict(task_props)
            or dict(connector_props) != dict(config.connectors[task_id.connector])
        ):
            stop_tasks.add(task_id)

    kept_connectors = set(running.connectors) - stop_connectors
    kept_tasks = set(running.tasks) - stop_tasks
    start_connectors = tuple(sorted(want_connectors - kept_connectors))
    start_tasks = tuple(sorted(want_tasks - kept_tasks))
    retarget_connectors = {
        name: config.target(name)
        for name in kept_connectors
        if running.connector_targets.get(name) is not config.target(name)
    }
    retarget_tasks = {
        task_id: config.target(task_id.connector)
        for task_id in kept_tasks
        if running.task_targets.get(task_id) is not config.target(task_id.connector)
    }
    return Plan(
        frozenset(stop_tasks),
        frozenset(stop_connectors),
        start_connectors,
        start_tasks,
        retarget_connectors,
        retarget_tasks,
    )
