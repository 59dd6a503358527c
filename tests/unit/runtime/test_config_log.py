"""The config log: Java's record format byte for byte, and the fold that every worker agrees on."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kconnect.api.types import ConnectorName, TaskId, TaskNumber
from kconnect.storage.config_log import (
    EMPTY,
    ClusterConfig,
    RestartRequest,
    connector_config_record,
    connector_deletion_records,
    fold,
    fold_all,
    restart_request_record,
    target_state_record,
    task_config_records,
    task_count_record,
)
from kconnect.storage.states import TargetState

Record = tuple[str | bytes | None, bytes | None]
C = ConnectorName("my-conn")


def log(
    *records: Record | Iterable[Record], start: int = 0
) -> list[tuple[str | bytes | None, bytes | None, int]]:
    """Records (or lists of them, as the record makers return) numbered from `start`."""
    flat: list[Record] = []
    for r in records:
        if isinstance(r, tuple):
            flat.append(r)
        else:
            flat.extend(r)
    return [(k, v, start + i) for i, (k, v) in enumerate(flat)]


def folded(*records: Record | Iterable[Record]) -> ClusterConfig:
    return fold_all(log(*records))


def tid(name: str, n: int) -> TaskId:
    return TaskId(ConnectorName(name), TaskNumber(n))


# --- the record format, as Java writes it ----------------------------------------------------


def test_connector_config_record_is_javas_bytes() -> None:
    assert connector_config_record(
        "my-conn", {"connector.class": "FileStreamSource", "tasks.max": "1"}
    ) == (
        "connector-my-conn",
        b'{"properties":{"connector.class":"FileStreamSource","tasks.max":"1"}}',
    )


def test_strings_are_escaped_as_jackson_does() -> None:
    # Only '"', '\\' and control characters are escaped (short forms where JSON has them, else
    # upper-case \\u00XX); '/' and DEL are not; non-ASCII is raw UTF-8, except characters outside
    # the BMP, which Jackson writes as an escaped surrogate pair.
    _, value = connector_config_record("c", {'q"b\\s/': "\b\t\n\f\r\x01\x1f\x7f é ✓ 😀"})
    assert value == (
        b'{"properties":{"q\\"b\\\\s/":"\\b\\t\\n\\f\\r\\u0001\\u001F\x7f '
        + "é ✓".encode()
        + b' \\uD83D\\uDE00"}}'
    )


def test_a_lone_surrogate_is_escaped_not_an_encoding_error() -> None:
    _, value = connector_config_record("c", {"k": "a\ud800b"})
    assert value == b'{"properties":{"k":"a\\uD800b"}}'


def test_config_values_must_be_strings() -> None:
    with pytest.raises(TypeError, match=r"'tasks.max'=1: expected string"):
        connector_config_record("c", {"tasks.max": 1})  # type: ignore[dict-item]


def test_task_config_records_are_tasks_then_commit() -> None:
    assert task_config_records("a-b", [{"x": "0"}, {"x": "1"}]) == [
        ("task-a-b-0", b'{"properties":{"x":"0"}}'),
        ("task-a-b-1", b'{"properties":{"x":"1"}}'),
        ("commit-a-b", b'{"tasks":2}'),
    ]
    assert task_config_records("c", []) == [("commit-c", b'{"tasks":0}')]


@pytest.mark.parametrize(
    ("state", "value"),
    [
        (TargetState.STARTED, b'{"state":"STARTED","state.v2":"STARTED"}'),
        (TargetState.PAUSED, b'{"state":"PAUSED","state.v2":"PAUSED"}'),
        (TargetState.STOPPED, b'{"state":"PAUSED","state.v2":"STOPPED"}'),
    ],
)
def test_target_state_record_writes_both_fields(state: TargetState, value: bytes) -> None:
    assert target_state_record("c-1", state) == ("target-state-c-1", value)


def test_restart_request_record() -> None:
    assert restart_request_record("c", include_tasks=True, only_failed=False) == (
        "restart-connector-c",
        b'{"include-tasks":true,"only-failed":false}',
    )


def test_deletion_is_two_tombstones() -> None:
    assert connector_deletion_records("c") == [("connector-c", None), ("target-state-c", None)]


# --- folding: each record kind ---------------------------------------------------------------


def test_empty_state() -> None:
    assert EMPTY.offset == -1
    assert not EMPTY.connectors
    assert EMPTY.target(C) is TargetState.STARTED
    assert EMPTY.task_ids(C) == []
    assert EMPTY.task_config(tid(C, 0)) is None
    assert fold_all([]) == EMPTY


def test_connector_config_is_applied_and_replaced() -> None:
    s = folded(connector_config_record(C, {"a": "1"}), connector_config_record(C, {"b": "2"}))
    assert s.connectors == {C: {"b": "2"}}
    assert s.offset == 1
    assert s.target(C) is TargetState.STARTED
    assert s.targets == {}


def test_records_written_by_java_read_back() -> None:
    # As Java's JsonConverter writes them; an older worker's target state has no "state.v2";
    # a null property value is Java's way of leaving the key unset.
    s = fold_all(
        [
            ("connector-j", b'{"properties":{"name":"j","topic":null}}', 0),
            ("target-state-j", b'{"state":"PAUSED"}', 1),
            ("task-j-0", b'{"properties":{"task":"0"}}', 2),
            ("commit-j", b'{"tasks":1}', 3),
            ("restart-connector-j", b'{"include-tasks":false,"only-failed":true}', 4),
        ]
    )
    j = ConnectorName("j")
    assert s.connectors == {j: {"name": "j"}}
    assert s.target(j) is TargetState.PAUSED
    assert s.task_ids(j) == [tid("j", 0)]
    assert s.task_config(tid("j", 0)) == {"task": "0"}
    assert s.restarts == {j: RestartRequest(j, include_tasks=False, only_failed=True, offset=4)}
    assert s.errors == ()


def test_task_configs_wait_for_their_commit() -> None:
    records = task_config_records(C, [{"t": "0"}, {"t": "1"}])
    s = folded(connector_config_record(C, {}), records[:-1])
    assert s.task_ids(C) == []
    assert s.pending == {C: {0: {"t": "0"}, 1: {"t": "1"}}}
    assert C not in s.generations

    s = fold(s, *records[-1], offset=s.offset + 1)
    assert s.task_ids(C) == [tid(C, 0), tid(C, 1)]
    assert s.tasks == {C: ({"t": "0"}, {"t": "1"})}
    assert s.task_config(tid(C, 1)) == {"t": "1"}
    assert s.task_config(tid(C, 2)) is None
    assert s.pending == {}
    assert s.generations == {C: 0}


def test_every_applied_commit_bumps_the_generation() -> None:
    s = folded(
        connector_config_record(C, {}),
        task_config_records(C, [{"t": "a"}]),
        task_config_records(C, [{"t": "b"}]),
        task_config_records(C, []),
    )
    assert s.generations == {C: 2}
    assert s.task_ids(C) == []
    assert s.tasks == {C: ()}


def test_fewer_tasks_drop_the_extra_ones() -> None:
    s = folded(
        connector_config_record(C, {}),
        task_config_records(C, [{"t": "0"}, {"t": "1"}, {"t": "2"}]),
        task_config_records(C, [{"t": "new"}]),
    )
    assert s.task_ids(C) == [tid(C, 0)]
    assert s.tasks[C] == ({"t": "new"},)
    assert s.task_config(tid(C, 2)) is None


def test_buffered_configs_beyond_the_commit_count_are_dropped() -> None:
    # After compaction a stale task-<c>-2 can precede a commit of fewer tasks (Java's own example).
    s = folded(
        connector_config_record(C, {}),
        ("task-my-conn-2", b'{"properties":{"t":"stale"}}'),
        ("task-my-conn-0", b'{"properties":{"t":"0"}}'),
        ("commit-my-conn", b'{"tasks":1}'),
    )
    assert s.tasks == {C: ({"t": "0"},)}
    assert s.pending == {}
    assert s.inconsistent == frozenset()


def test_incomplete_commit_marks_inconsistent_and_keeps_previous_configs() -> None:
    s = folded(
        connector_config_record(C, {}),
        task_config_records(C, [{"t": "old0"}, {"t": "old1"}]),
        ("task-my-conn-1", b'{"properties":{"t":"new1"}}'),  # task 0 compacted away
        ("commit-my-conn", b'{"tasks":2}'),
    )
    assert s.inconsistent == {C}
    # As Java: the committed configs stay, but no tasks are offered while inconsistent.
    assert s.tasks == {C: ({"t": "old0"}, {"t": "old1"})}
    assert s.task_config(tid(C, 1)) == {"t": "old1"}
    assert s.task_ids(C) == []
    assert s.generations == {C: 0}
    # The buffer is spent: a commit with nothing new stays inconsistent.
    assert s.pending == {}
    s = fold_all(log(("commit-my-conn", b'{"tasks":1}'), start=s.offset + 1), s)
    assert s.inconsistent == {C}

    # A later complete commit fixes it.
    s = fold_all(log(task_config_records(C, [{"t": "fixed"}]), start=s.offset + 1), s)
    assert s.inconsistent == frozenset()
    assert s.task_ids(C) == [tid(C, 0)]
    assert s.tasks[C] == ({"t": "fixed"},)
    assert s.generations == {C: 1}


def test_tasks_of_a_connector_without_config_are_not_offered() -> None:
    s = folded(task_config_records(C, [{"t": "0"}]))
    assert s.tasks == {C: ({"t": "0"},)}
    assert s.task_ids(C) == []


def test_deletion_removes_everything_but_the_generation() -> None:
    s = folded(
        connector_config_record(C, {"a": "1"}),
        target_state_record(C, TargetState.PAUSED),
        task_config_records(C, [{"t": "0"}]),
        ("task-my-conn-0", b'{"properties":{"t":"pending"}}'),
        restart_request_record(C, include_tasks=True, only_failed=True),
        ("connector-my-conn", None),
        connector_config_record("other", {"b": "2"}),
    )
    assert s.connectors == {"other": {"b": "2"}}
    assert s.targets == {}
    assert s.tasks == {}
    assert s.pending == {}
    assert s.restarts == {}
    assert s.generations == {C: 0}

    # Re-created, its first commit does not repeat a generation.
    s = fold_all(
        log(connector_config_record(C, {}), task_config_records(C, []), start=s.offset + 1), s
    )
    assert s.generations == {C: 1}


def test_deletion_clears_the_inconsistent_mark() -> None:
    s = folded(connector_config_record(C, {}), ("commit-my-conn", b'{"tasks":1}'))
    assert s.inconsistent == {C}
    s = fold(s, "connector-my-conn", None, s.offset + 1)
    assert s.inconsistent == frozenset()


def test_java_deletion_records_fold_to_nothing() -> None:
    s = folded(
        connector_config_record(C, {"a": "1"}),
        target_state_record(C, TargetState.STOPPED),
        connector_deletion_records(C),
    )
    assert s.connectors == {}
    assert s.targets == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'{"state":"STARTED"}', TargetState.STARTED),
        (b'{"state":"PAUSED"}', TargetState.PAUSED),
        (b'{"state":"PAUSED","state.v2":"STOPPED"}', TargetState.STOPPED),
        (b'{"state":"PAUSED","state.v2":"STARTED"}', TargetState.STARTED),
        # Java falls back on "state" when "state.v2" is not a string.
        (b'{"state":"PAUSED","state.v2":7}', TargetState.PAUSED),
    ],
)
def test_target_state_reads_v2_else_v1(value: bytes, expected: TargetState) -> None:
    s = folded(connector_config_record(C, {}), ("target-state-my-conn", value))
    assert s.target(C) is expected
    assert s.targets == {C: expected}
    assert s.errors == ()


@pytest.mark.parametrize("state", list(TargetState))
def test_target_state_round_trips(state: TargetState) -> None:
    assert folded(target_state_record(C, state)).target(C) is state


def test_target_state_tombstone_means_started() -> None:
    s = folded(
        connector_config_record(C, {}),
        target_state_record(C, TargetState.STOPPED),
        ("target-state-my-conn", None),
    )
    assert s.targets == {}
    assert s.target(C) is TargetState.STARTED
    assert s.connectors == {C: {}}


def test_restart_requests_keep_the_latest_with_its_offset() -> None:
    s = folded(
        connector_config_record(C, {}),
        restart_request_record(C, include_tasks=True, only_failed=True),
        restart_request_record("other", include_tasks=False, only_failed=False),
        restart_request_record(C, include_tasks=False, only_failed=True),
    )
    assert s.restarts == {
        C: RestartRequest(C, include_tasks=False, only_failed=True, offset=3),
        "other": RestartRequest(ConnectorName("other"), False, False, offset=2),
    }
    s = fold(s, "restart-connector-my-conn", None, s.offset + 1)
    assert set(s.restarts) == {"other"}


def test_restart_flags_of_the_wrong_type_read_as_false_and_are_reported() -> None:
    s = folded(("restart-connector-c", b'{"include-tasks":"yes","only-failed":true}'))
    assert s.restarts == {"c": RestartRequest(ConnectorName("c"), False, True, offset=0)}
    assert len(s.errors) == 1
    assert "'restart-connector-c' at offset 0" in s.errors[0]
    assert '"include-tasks"' in s.errors[0]


@pytest.mark.parametrize("key", ["session-key", "logger-cluster-org.apache", "mystery", ""])
def test_other_records_are_ignored_but_named(key: str) -> None:
    before = folded(connector_config_record(C, {"a": "1"}))
    after = fold(before, key, b"not even json", 1)
    assert after.ignored == {key}
    assert after.errors == ()
    assert after.offset == 1
    assert after.connectors == before.connectors
    # Seen again, nothing new to log.
    assert fold(after, key, b"{}", 2).ignored == {key}


# --- malformed records -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("connector-my-conn", b"{not json", "not JSON"),
        ("connector-my-conn", b"", "not JSON"),
        ("connector-my-conn", b"\xff\xfe\xfa", "not JSON"),
        ("connector-my-conn", b"[1,2]", "an array: expected a JSON object"),
        ("connector-my-conn", b'{"props":{}}', '"properties" is null/missing'),
        ("connector-my-conn", b'{"properties":"a=b"}', "\"properties\" is 'a=b'"),
        ("connector-my-conn", b'{"properties":{"tasks.max":1}}', "'tasks.max': 1"),
        ("connector-my-conn", b"[" * 100_000, "not JSON"),
        ("task-my-conn-0", None, "can't be null"),
        ("task-my-conn-0", b'{"properties":[]}', '"properties" is an array'),
        ("task-my-conn", b'{"properties":{}}', "not a task key"),
        ("task-my-conn-x", b'{"properties":{}}', "not a task key"),
        ("task-7", b'{"properties":{}}', "not a task key"),
        ("task-c-99999999999", b'{"properties":{}}', "not a task key"),
        ("commit-my-conn", b'{"tasks":"2"}', "\"tasks\" is '2'"),
        ("commit-my-conn", b'{"tasks":-1}', '"tasks" is -1'),
        ("commit-my-conn", b'{"tasks":1.0}', '"tasks" is 1.0'),
        ("commit-my-conn", b'{"tasks":true}', '"tasks" is True'),
        ("commit-my-conn", b"2", "a task commit is 2"),
        ("target-state-my-conn", b'{"state":"RUNNING"}', "'RUNNING': expected one of"),
        ("target-state-my-conn", b'{"state.v2":"FOO","state":"PAUSED"}', "'FOO'"),
        ("target-state-my-conn", b"{}", '"state" is null/missing'),
        ("target-state-my-conn", b'"PAUSED"', "a target state is 'PAUSED'"),
        ("restart-connector-my-conn", b"true", "a restart request is True"),
    ],
)
def test_malformed_records_are_skipped_and_reported(
    key: str, value: bytes | None, reason: str
) -> None:
    before = folded(
        connector_config_record(C, {"good": "1"}),
        target_state_record(C, TargetState.PAUSED),
        task_config_records(C, [{"t": "0"}]),
        ("task-my-conn-0", b'{"properties":{"t":"pending"}}'),
    )
    after = fold(before, key, value, 10)
    assert len(after.errors) == 1
    assert after.errors[0].startswith(f"config log record {key!r} at offset 10: ")
    assert reason in after.errors[0]
    assert after.offset == 10
    # Nothing else changed.
    assert after.connectors == before.connectors
    assert after.targets == before.targets
    assert after.tasks == before.tasks
    assert after.pending == before.pending
    assert after.generations == before.generations
    assert after.inconsistent == before.inconsistent
    assert after.restarts == before.restarts


def test_a_record_without_key_is_reported() -> None:
    s = fold(EMPTY, None, b"{}", 0)
    assert s.errors == ("config log record at offset 0 has no key; skipped",)


def test_errors_accumulate_in_log_order() -> None:
    s = fold_all(
        [("connector-a", b"x", 0), ("connector-b", b'{"properties":{}}', 1), ("commit-c", b"y", 2)]
    )
    assert [e.split(":")[0] for e in s.errors] == [
        "config log record 'connector-a' at offset 0",
        "config log record 'commit-c' at offset 2",
    ]
    assert set(s.connectors) == {"b"}


def test_a_redelivered_record_is_not_folded_twice() -> None:
    records = log(connector_config_record(C, {}), task_config_records(C, [{"t": "0"}]))
    s = fold_all(records)
    assert fold_all(records, s) == s
    assert s.generations == {C: 0}


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a-b-c", "ends-with-1", "-lead", "trail-", "dou--ble", "ünï-cödé ✓", "emoji-😀-9", ""]
)
def test_any_connector_name_round_trips(name: str) -> None:
    n = ConnectorName(name)
    s = folded(
        connector_config_record(n, {"name": name}),
        task_config_records(n, [{"t": "0"}, {"t": "1"}]),
        target_state_record(n, TargetState.PAUSED),
        restart_request_record(n, include_tasks=True, only_failed=False),
    )
    assert s.errors == ()
    assert s.connectors == {n: {"name": name}}
    assert s.task_ids(n) == [tid(name, 0), tid(name, 1)]
    assert s.target(n) is TargetState.PAUSED
    assert s.restarts[n].include_tasks


def test_the_task_number_is_split_off_the_end() -> None:
    s = folded(
        ("task-my-conn-1-12", b'{"properties":{"t":"12"}}'),
        ("task-my-conn-1-+0", b'{"properties":{"t":"0"}}'),  # Java's parseInt takes a '+'
    )
    assert s.pending == {"my-conn-1": {12: {"t": "12"}, 0: {"t": "0"}}}


def test_keys_may_come_as_bytes() -> None:
    s = fold_all(
        [
            ("connector-ü".encode(), b'{"properties":{}}', 0),
            (b"connector-\xff", b'{"properties":{}}', 1),  # as Java's StringDeserializer reads it
        ]
    )
    assert set(s.connectors) == {"ü", "\ufffd"}


# --- immutability ----------------------------------------------------------------------------


def test_fold_leaves_its_input_alone() -> None:
    s = folded(
        connector_config_record(C, {"a": "1"}),
        task_config_records(C, [{"t": "0"}]),
        ("task-my-conn-0", b'{"properties":{"t":"pending"}}'),
    )
    snapshot = repr(s)
    for key, value in [
        *task_config_records(C, [{"t": "x"}, {"t": "y"}]),
        *connector_deletion_records(C),
        ("task-my-conn-0", b'{"properties":{"t":"other"}}'),
        restart_request_record(C, include_tasks=False, only_failed=False),
        ("connector-my-conn", b"bad"),
    ]:
        fold(s, key, value, s.offset + 1)
    assert repr(s) == snapshot


def test_the_state_cannot_be_mutated() -> None:
    s = folded(connector_config_record(C, {"a": "1"}), task_config_records(C, [{"t": "0"}]))
    with pytest.raises(TypeError):
        s.connectors[C] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        s.connectors[C]["a"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        s.tasks[C][0]["t"] = "1"  # type: ignore[index]


def test_untouched_mappings_are_shared() -> None:
    s = folded(connector_config_record(C, {"a": "1"}), task_config_records(C, [{"t": "0"}]))
    t = fold(s, *target_state_record(C, TargetState.PAUSED), offset=s.offset + 1)
    assert t.connectors is s.connectors
    assert t.tasks is s.tasks
    assert t.targets is not s.targets


# --- properties ------------------------------------------------------------------------------

NAMES = ("a", "a-1", "b-c", "ü-😀", "a-1-2")
names = st.sampled_from(NAMES)
configs = st.dictionaries(
    st.sampled_from(["k", "tasks.max", "topic", "ü"]), st.text(max_size=5), max_size=3
)
states = st.sampled_from(list(TargetState))


@dataclass(frozen=True)
class Put:
    name: str
    config: dict[str, str]


@dataclass(frozen=True)
class Delete:
    name: str


@dataclass(frozen=True)
class Tasks:
    name: str
    configs: list[dict[str, str]]


@dataclass(frozen=True)
class Target:
    name: str
    state: TargetState


@dataclass(frozen=True)
class Restart:
    name: str
    include_tasks: bool
    only_failed: bool


Op = Put | Delete | Tasks | Target | Restart

ops = st.one_of(
    st.builds(Put, names, configs),
    st.builds(Delete, names),
    st.builds(Tasks, names, st.lists(configs, max_size=3)),
    st.builds(Target, names, states),
    st.builds(Restart, names, st.booleans(), st.booleans()),
)


def records_of(op: Op) -> list[Record]:
    match op:
        case Put(name, config):
            return [connector_config_record(name, config)]
        case Delete(name):
            return list(connector_deletion_records(name))
        case Tasks(name, task_configs):
            return list(task_config_records(name, task_configs))
        case Target(name, state):
            return [target_state_record(name, state)]
        case Restart(name, include_tasks, only_failed):
            return [restart_request_record(name, include_tasks, only_failed)]


garbage = st.one_of(
    st.tuples(
        st.sampled_from(["connector-a", "task-a-0", "task-a", "commit-a", "target-state-a", "x"]),
        st.one_of(st.none(), st.binary(max_size=8), st.just(b'{"tasks":3}')),
    ),
    st.tuples(st.none(), st.none()),
)
raw_logs = st.lists(st.one_of(ops.map(records_of), garbage.map(lambda r: [r])), max_size=30).map(
    lambda chunks: log(*chunks)
)


@settings(deadline=None)
@given(raw_logs, st.lists(st.integers(min_value=0, max_value=40), max_size=5))
def test_chunking_does_not_matter(
    records: list[tuple[str | bytes | None, bytes | None, int]], cuts: list[int]
) -> None:
    whole = fold_all(records)
    one_by_one = EMPTY
    for key, value, offset in records:
        one_by_one = fold(one_by_one, key, value, offset)
    assert one_by_one == whole

    chunked = EMPTY
    bounds = [0, *sorted(c for c in cuts if c <= len(records)), len(records)]
    for lo, hi in itertools.pairwise(bounds):
        chunked = fold_all(records[lo:hi], chunked)
    assert chunked == whole
    assert whole.offset == (records[-1][2] if records else -1)


@settings(deadline=None)
@given(raw_logs)
def test_two_workers_agree(records: list[tuple[str | bytes | None, bytes | None, int]]) -> None:
    first = fold_all(records)
    second = fold_all([(k, None if v is None else bytes(v), o) for k, v, o in records])
    assert first == second
    assert repr(first) == repr(second)


@dataclass
class Model:
    """What the operations mean, written as plainly as possible."""

    connectors: dict[str, dict[str, str]] = field(default_factory=dict)
    targets: dict[str, TargetState] = field(default_factory=dict)
    tasks: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    restarts: dict[str, tuple[bool, bool]] = field(default_factory=dict)

    def apply(self, op: Op) -> None:
        match op:
            case Put(name, config):
                self.connectors[name] = config
            case Delete(name):
                for d in (self.connectors, self.targets, self.tasks, self.restarts):
                    d.pop(name, None)
            case Tasks(name, task_configs):
                self.tasks[name] = task_configs
                self.generations[name] = self.generations.get(name, -1) + 1
            case Target(name, state):
                self.targets[name] = state
            case Restart(name, include_tasks, only_failed):
                self.restarts[name] = (include_tasks, only_failed)


def plain(m: Mapping[ConnectorName, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {k: dict(v) for k, v in m.items()}


@settings(deadline=None)
@given(st.lists(ops, max_size=40))
def test_the_fold_matches_a_model_of_the_operations(operations: Sequence[Op]) -> None:
    model = Model()
    for op in operations:
        model.apply(op)
    s = fold_all(log(*map(records_of, operations)))

    assert s.errors == ()
    assert s.inconsistent == frozenset()
    assert s.pending == {}
    assert plain(s.connectors) == model.connectors
    assert dict(s.targets) == model.targets
    assert {k: [dict(c) for c in v] for k, v in s.tasks.items()} == model.tasks
    assert dict(s.generations) == model.generations
    assert {k: (r.include_tasks, r.only_failed) for k, r in s.restarts.items()} == model.restarts
    for name in NAMES:
        n = ConnectorName(name)
        assert s.target(n) is model.targets.get(name, TargetState.STARTED)
        expected = len(model.tasks.get(name, [])) if name in model.connectors else 0
        assert s.task_ids(n) == [tid(name, i) for i in range(expected)]


def compact(
    records: list[tuple[str | bytes | None, bytes | None, int]],
) -> list[tuple[str | bytes | None, bytes | None, int]]:
    """The log after compaction: only each key's latest record, in offset order."""
    latest = {key: (key, value, offset) for key, value, offset in records}
    return sorted(latest.values(), key=lambda r: r[2])


@settings(deadline=None)
@given(st.lists(ops, max_size=40))
def test_compaction_keeps_connectors_and_target_states(operations: Sequence[Op]) -> None:
    records = log(*map(records_of, operations))
    full, compacted = fold_all(records), fold_all(compact(records))
    assert plain(compacted.connectors) == plain(full.connectors)
    assert compacted.targets == full.targets
    # Task configs either survive whole or the connector is flagged for new ones.
    for name in full.connectors:
        if name not in compacted.inconsistent and name in full.tasks:
            assert compacted.tasks.get(name) == full.tasks[name]


# --- task count records (exactly-once sources, KIP-618)


def test_a_task_count_record_is_written_as_java_writes_it() -> None:
    assert task_count_record("my-conn", 3) == ("tasks-fencing-my-conn", b'{"task-count":3}')


def test_every_task_commit_needs_a_fencing_and_a_task_count_record_ends_it() -> None:
    s = folded(
        connector_config_record(C, {"a": "1"}),
        *task_config_records(C, [{"t": "0"}, {"t": "1"}]),
    )
    assert s.pending_fencing == {C}
    assert s.task_count_records == {}
    s = fold(s, *task_count_record(C, 2), s.offset + 1)
    assert s.pending_fencing == frozenset()
    assert s.task_count_records == {C: 2}
    # New task configs: pending again; the record still says how many ids to fence.
    s = fold_all(
        [(k, v, s.offset + 1 + i) for i, (k, v) in enumerate(task_config_records(C, [{"t": "0"}]))],
        s,
    )
    assert s.pending_fencing == {C}
    assert s.task_count_records == {C: 2}


def test_an_inconsistent_commit_needs_a_fencing_too_as_in_java() -> None:
    s = folded(connector_config_record(C, {"a": "1"}), ("commit-my-conn", b'{"tasks":2}'))
    assert C in s.inconsistent
    assert s.pending_fencing == {C}


def test_task_count_records_outlive_the_connector_as_in_java() -> None:
    s = folded(
        connector_config_record(C, {"a": "1"}),
        *task_config_records(C, [{"t": "0"}]),
        task_count_record(C, 1),
        *connector_deletion_records(C),
    )
    assert s.task_count_records == {C: 1}


@pytest.mark.parametrize("value", [b'{"task-count":-1}', b'{"task-count":"2"}', b"{}", b"[1]"])
def test_an_unreadable_task_count_record_is_skipped_and_reported(value: bytes) -> None:
    s = folded(("tasks-fencing-c", value))
    assert s.task_count_records == {}
    assert len(s.errors) == 1
    assert "'tasks-fencing-c' at offset 0" in s.errors[0]
