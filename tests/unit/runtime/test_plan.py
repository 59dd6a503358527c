from hypothesis import given
from hypothesis import strategies as st

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.herder.plan import Running, desired, plan
from kconnect.storage.config_log import (
    EMPTY,
    ClusterConfig,
    connector_config_record,
    fold_all,
    target_state_record,
    task_config_records,
)
from kconnect.storage.states import TargetState

A = ConnectorName("a")
B = ConnectorName("b")
TOPICS = {"t-a": A, "t-b": B}


def cluster(*ops: list[tuple[str, bytes | None]]) -> ClusterConfig:
    records = [r for op in ops for r in op]
    return fold_all([(k, v, i) for i, (k, v) in enumerate(records)], EMPTY)


def config_with(tasks_a: int = 3, tasks_b: int = 2, **extra: str) -> ClusterConfig:
    return cluster(
        [connector_config_record("a", {"connector.class": "X", **extra})],
        task_config_records("a", [{"n": str(i)} for i in range(tasks_a)]),
        [connector_config_record("b", {"connector.class": "Y"})],
        task_config_records("b", [{"n": str(i)} for i in range(tasks_b)]),
    )


def tid(name: ConnectorName, n: int) -> TaskId:
    return TaskId(name, TaskNumber(n))


def run_all(config: ClusterConfig, assigned: frozenset[tuple[str, int]]) -> Running:
    """What runs after a plan from nothing is applied."""
    connectors, tasks = desired(assigned, TOPICS, config)
    return Running(
        connectors={n: config.connectors[n] for n in connectors},
        connector_targets={n: config.target(n) for n in connectors},
        tasks={t: (config.connectors[t.connector], config.task_config(t) or {}) for t in tasks},
        task_targets={t: config.target(t.connector) for t in tasks},
    )


NOTHING = Running({}, {}, {}, {})


def test_partition_zero_runs_the_connector_and_each_partition_a_task() -> None:
    config = config_with()
    connectors, tasks = desired(frozenset({("t-a", 0), ("t-a", 2), ("t-b", 1)}), TOPICS, config)
    assert connectors == {A}
    assert tasks == {tid(A, 0), tid(A, 2), tid(B, 1)}


def test_partitions_beyond_the_task_count_run_nothing() -> None:
    config = config_with(tasks_a=1)
    _, tasks = desired(frozenset({("t-a", 0), ("t-a", 3)}), TOPICS, config)
    assert tasks == {tid(A, 0)}


def test_a_stopped_connector_keeps_its_instance_but_no_tasks() -> None:
    config = cluster(
        [connector_config_record("a", {"connector.class": "X"})],
        task_config_records("a", [{"n": "0"}]),
        [target_state_record("a", TargetState.STOPPED)],
    )
    connectors, tasks = desired(frozenset({("t-a", 0)}), TOPICS, config)
    assert connectors == {A}
    assert tasks == frozenset()


def test_from_nothing_everything_assigned_starts() -> None:
    config = config_with()
    p = plan(frozenset({("t-a", 0), ("t-a", 1)}), TOPICS, config, NOTHING)
    assert p.start_connectors == (A,)
    assert p.start_tasks == (tid(A, 0), tid(A, 1))
    assert not p.stop_tasks


def test_revoking_one_partition_stops_only_that_task() -> None:
    config = config_with()
    before = frozenset({("t-a", 0), ("t-a", 1), ("t-b", 0)})
    running = run_all(config, before)
    p = plan(before - {("t-a", 1)}, TOPICS, config, running)
    assert p.stop_tasks == {tid(A, 1)}
    assert not p.stop_connectors
    assert not p.start_tasks


def test_a_config_change_restarts_that_connectors_tasks_only() -> None:
    assigned = frozenset({("t-a", 0), ("t-a", 1), ("t-b", 0), ("t-b", 1)})
    running = run_all(config_with(), assigned)
    changed = config_with(**{"batch.size": "5"})
    p = plan(assigned, TOPICS, changed, running)
    assert p.stop_connectors == {A}
    assert p.stop_tasks == {tid(A, 0), tid(A, 1)}
    assert p.start_tasks == (tid(A, 0), tid(A, 1))


def test_pause_retargets_without_restarting() -> None:
    assigned = frozenset({("t-a", 0), ("t-a", 1)})
    config = config_with()
    running = run_all(config, assigned)
    paused = cluster(
        [connector_config_record("a", {"connector.class": "X"})],
        task_config_records("a", [{"n": str(i)} for i in range(3)]),
        [connector_config_record("b", {"connector.class": "Y"})],
        task_config_records("b", [{"n": "0"}, {"n": "1"}]),
        [target_state_record("a", TargetState.PAUSED)],
    )
    p = plan(assigned, TOPICS, paused, running)
    assert not p.stop_tasks
    assert not p.start_tasks
    assert p.retarget_connectors == {A: TargetState.PAUSED}
    assert p.retarget_tasks == {tid(A, 0): TargetState.PAUSED, tid(A, 1): TargetState.PAUSED}


partitions = st.frozensets(
    st.tuples(st.sampled_from(["t-a", "t-b", "t-gone"]), st.integers(0, 4)), max_size=10
)


@given(partitions, partitions, st.integers(0, 4), st.integers(0, 4))
def test_plan_reaches_the_desired_state_and_spares_unaffected_tasks(
    before: frozenset[tuple[str, int]],
    after: frozenset[tuple[str, int]],
    tasks_a: int,
    tasks_b: int,
) -> None:
    config = config_with(tasks_a, tasks_b)
    running = run_all(config, before)
    p = plan(after, TOPICS, config, running)
    want_connectors, want_tasks = desired(after, TOPICS, config)
    now_tasks = (set(running.tasks) - p.stop_tasks) | set(p.start_tasks)
    now_connectors = (set(running.connectors) - p.stop_connectors) | set(p.start_connectors)
    assert now_tasks == want_tasks
    assert now_connectors == want_connectors
    # A task that stays assigned with the same config is never stopped.
    assert not (p.stop_tasks & (set(running.tasks) & want_tasks))
    assert not (set(p.start_tasks) & (set(running.tasks) - p.stop_tasks))
