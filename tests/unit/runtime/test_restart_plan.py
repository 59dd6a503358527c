from hypothesis import given
from hypothesis import strategies as st

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.herder.restart import plan_restart
from kconnect.storage.states import State

C = ConnectorName("c")


def tid(n: int) -> TaskId:
    return TaskId(C, TaskNumber(n))


TASKS = {tid(0): State.RUNNING, tid(1): State.FAILED, tid(2): State.PAUSED}


def test_plain_restart_is_connector_only() -> None:
    plan = plan_restart(State.RUNNING, TASKS, include_tasks=False, only_failed=False)
    assert plan.plain
    assert plan.connector
    assert plan.tasks == frozenset()


def test_include_tasks_restarts_everything() -> None:
    plan = plan_restart(State.RUNNING, TASKS, include_tasks=True, only_failed=False)
    assert not plan.plain
    assert plan.connector
    assert plan.tasks == frozenset(TASKS)


def test_only_failed_with_tasks() -> None:
    plan = plan_restart(State.RUNNING, TASKS, include_tasks=True, only_failed=True)
    assert not plan.connector
    assert plan.tasks == {tid(1)}


def test_only_failed_connector() -> None:
    plan = plan_restart(State.FAILED, TASKS, include_tasks=False, only_failed=True)
    assert plan.connector
    assert plan.tasks == frozenset()


states = st.sampled_from(list(State))


@given(states, st.dictionaries(st.integers(0, 5).map(tid), states), st.booleans(), st.booleans())
def test_restart_plan_properties(
    connector: State, tasks: dict[TaskId, State], include: bool, only_failed: bool
) -> None:
    plan = plan_restart(connector, tasks, include_tasks=include, only_failed=only_failed)
    assert plan.tasks <= frozenset(tasks)
    if not include:
        assert not plan.tasks
    if only_failed:
        assert all(tasks[t] is State.FAILED for t in plan.tasks)
        assert plan.connector == (connector is State.FAILED)
    else:
        assert plan.connector
