"""The config log: its records, and the pure fold that turns them into the cluster's config state.

A distributed cluster keeps every connector config, target state, task config and restart request
in one single-partition, compacted topic. Every worker reads the whole log and folds it with
`fold` / `fold_all` into the same `ClusterConfig`; nobody else is asked. The record format is Apache
Kafka Connect's (`KafkaConfigBackingStore`), so a log written by either runtime reads in the other:

| key                         | value (JSON, compact, no schema envelope)                 |
|-----------------------------|-----------------------------------------------------------|
| `connector-<name>`          | `{"properties":{...}}`; null deletes the connector        |
| `task-<name>-<n>`           | `{"properties":{...}}`; waits for the next commit         |
| `commit-<name>`             | `{"tasks":N}`: task configs 0..N-1 apply together         |
| `target-state-<name>`       | `{"state":"PAUSED","state.v2":"STOPPED"}`; null removes   |
| `restart-connector-<name>`  | `{"include-tasks":false,"only-failed":false}`             |
| `tasks-fencing-<name>`      | `{"task-count":N}`: the previous task generation is fenced |

Values are written byte for byte as Java's `JsonConverter` (Jackson, `schemas.enable=false`) writes
them: compact, fields in schema order, maps in their iteration order (which no reader depends on),
UTF-8 with only `"`, `\\`, control characters (`\\b \\t \\n \\f \\r`, else `\\u00XX` in upper-case
hex) and UTF-16 surrogates escaped. Jackson writes a character outside the Basic Multilingual Plane
as its escaped surrogate pair (`\\uD83D\\uDE00`), and so do we.

Folding semantics follow Java's reader, with the differences noted where they are made:

- Task configs are buffered per connector until a commit. A commit of N applies the buffered
  configs 0..N-1 as one generation; buffered configs beyond N are dropped, as are committed ones
  beyond N. If any of 0..N-1 is missing (compaction, or a writer that died mid-write), the connector
  is marked inconsistent and keeps its previous committed configs until a later complete commit;
  either way the buffer is cleared. While inconsistent, `task_ids` is empty (Java's `tasks()`).
- Every applied commit bumps the connector's generation (the first makes it 0, as in Java). Unlike
  Java, the counter survives the connector's deletion, so a re-created connector never repeats a
  generation a worker may remember.
- A connector tombstone removes its config, committed and buffered task configs, target state,
  restart request and inconsistent mark. (Java's writer also tombstones `target-state-<name>`.)
- A restart request is remembered per connector, latest wins, with the offset it came at; a null
  value forgets it (Java never writes one).
- A task count record (exactly-once sources, KIP-618) says that the producers of every earlier
  generation of the connector's tasks are fenced, and how many tasks the latest one has, which
  is how many transactional ids the next fencing must cover. Every task commit puts the
  connector in `pending_fencing` (a new generation may not start before its zombies are fenced);
  a task count record takes it out. As in Java, neither is forgotten when the connector is
  deleted: a re-created connector fences the ids its predecessor may have left running.
- `session-key`, `logger-cluster-*` and unknown keys change nothing; their keys are collected in
  `ignored` so a caller can log each kind once.

The fold never raises on log content: a record it cannot read (not JSON, wrong shape, bad key) is
skipped and described in `errors` with its key, offset and reason, because one bad record in a
shared log must not stop every worker. A record at or below the folded offset is a re-delivery and
is skipped. The state is immutable; `fold` returns a new one, sharing what did not change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Generic, TypeVar

from kconnect.api.types import ConnectorName, JsonValue, TaskId, TaskNumber
from kconnect.storage.states import TargetState

CONNECTOR_PREFIX: Final = "connector-"
TASK_PREFIX: Final = "task-"
COMMIT_TASKS_PREFIX: Final = "commit-"
TARGET_STATE_PREFIX: Final = "target-state-"
RESTART_PREFIX: Final = "restart-connector-"
SESSION_KEY_KEY: Final = "session-key"
LOGGER_CLUSTER_PREFIX: Final = "logger-cluster-"
TASK_COUNT_RECORD_PREFIX: Final = "tasks-fencing-"

_INT32_MAX: Final = 2**31 - 1


def connector_key(name: str) -> str:
    return CONNECTOR_PREFIX + name


def task_key(name: str, task: int) -> str:
    return f"{TASK_PREFIX}{name}-{task}"


def commit_key(name: str) -> str:
    return COMMIT_TASKS_PREFIX + name


def target_state_key(name: str) -> str:
    return TARGET_STATE_PREFIX + name


def restart_key(name: str) -> str:
    return RESTART_PREFIX + name


def task_count_record_key(name: str) -> str:
    return TASK_COUNT_RECORD_PREFIX + name


# --- the state -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestartRequest:
    """`POST /connectors/<name>/restart` as read from the log.

    `offset` is where the request was read, so a worker can tell new requests from handled ones.
    """

    connector: ConnectorName
    include_tasks: bool
    only_failed: bool
    offset: int


@dataclass(frozen=True)
class ClusterConfig:
    """The cluster's config state after folding the log up to `offset`. Never mutated."""

    offset: int
    """Offset of the last record folded; -1 when nothing was."""
    connectors: Mapping[ConnectorName, Mapping[str, str]]
    targets: Mapping[ConnectorName, TargetState]
    """Only target states written to the log; `target(name)` gives the effective one."""
    tasks: Mapping[ConnectorName, tuple[Mapping[str, str], ...]]
    """Committed task configs, task n at index n."""
    generations: Mapping[ConnectorName, int]
    """Bumped by every applied task commit: 0 after the first."""
    restarts: Mapping[ConnectorName, RestartRequest]
    inconsistent: frozenset[ConnectorName]
    """Connectors whose latest commit found task configs missing: their tasks must be rewritten."""
    pending: Mapping[ConnectorName, Mapping[int, Mapping[str, str]]]
    """Task configs read but not committed yet."""
    errors: tuple[str, ...]
    """Records skipped because they could not be read: key, offset and reason, oldest first."""
    ignored: frozenset[str]
    """Keys of records that carry nothing for this state (session keys, logger levels, unknown)."""
    task_count_records: Mapping[ConnectorName, int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    """The latest task count record per connector: tasks of that many ids may still run."""
    pending_fencing: frozenset[ConnectorName] = frozenset()
    """Connectors whose latest task configs came after their latest task count record: their
    tasks may start only once older generations are fenced and a new record is written."""

    def target(self, name: ConnectorName) -> TargetState:
        """The connector's target state: STARTED unless the log says otherwise."""
        return self.targets.get(name, TargetState.STARTED)

    def task_ids(self, name: ConnectorName) -> list[TaskId]:
        """The tasks to run: none for an unknown or inconsistent connector."""
        if name not in self.connectors or name in self.inconsistent:
            return []
        return [TaskId(name, TaskNumber(n)) for n in range(len(self.tasks.get(name, ())))]

    def task_config(self, task: TaskId) -> Mapping[str, str] | None:
        """A committed task config (still the previous one while the connector is inconsistent)."""
        configs = self.tasks.get(task.connector, ())
        return configs[task.task] if 0 <= task.task < len(configs) else None


EMPTY: Final = ClusterConfig(
    offset=-1,
    connectors=MappingProxyType({}),
    targets=MappingProxyType({}),
    tasks=MappingProxyType({}),
    generations=MappingProxyType({}),
    restarts=MappingProxyType({}),
    inconsistent=frozenset(),
    pending=MappingProxyType({}),
    errors=(),
    ignored=frozenset(),
)
"""The state of an empty log."""


# --- folding ---------------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


class _Cow(Generic[K, V]):
    """A mapping copied on its first write, so a fold shares every mapping it did not touch."""

    __slots__ = ("_base", "_own")

    def __init__(self, base: Mapping[K, V]) -> None:
        self._base = base
        self._own: dict[K, V] | None = None

    @property
    def r(self) -> Mapping[K, V]:
        return self._base if self._own is None else self._own

    @property
    def w(self) -> dict[K, V]:
        if self._own is None:
            self._own = dict(self._base)
        return self._own

    def freeze(self) -> Mapping[K, V]:
        if self._own is not None:
            self._base = MappingProxyType(self._own)
            self._own = None
        return self._base


class _Skip(Exception):
    """A record that cannot be applied; the message says why."""


class _Builder:
    """The fold's working copy. Private: `fold` and `fold_all` freeze it before anyone sees it."""

    def __init__(self, state: ClusterConfig) -> None:
        self.offset = state.offset
        self.connectors = _Cow(state.connectors)
        self.targets = _Cow(state.targets)
        self.tasks = _Cow(state.tasks)
        self.generations = _Cow(state.generations)
        self.restarts = _Cow(state.restarts)
        self.pending = _Cow(state.pending)
        # Inner pending buffers this builder already copied (the proxies in `pending` view them).
        self.pending_own: dict[ConnectorName, dict[int, Mapping[str, str]]] = {}
        self.inconsistent = state.inconsistent
        self.errors_base = state.errors
        self.errors: list[str] = []
        self.ignored = state.ignored
        self.task_count_records = _Cow(state.task_count_records)
        self.pending_fencing = state.pending_fencing

    def freeze(self) -> ClusterConfig:
        self.pending_own = {}
        errors = self.errors_base + tuple(self.errors) if self.errors else self.errors_base
        self.errors_base, self.errors = errors, []
        return ClusterConfig(
            offset=self.offset,
            connectors=self.connectors.freeze(),
            targets=self.targets.freeze(),
            tasks=self.tasks.freeze(),
            generations=self.generations.freeze(),
            restarts=self.restarts.freeze(),
            inconsistent=self.inconsistent,
            pending=self.pending.freeze(),
            errors=errors,
            ignored=self.ignored,
            task_count_records=self.task_count_records.freeze(),
            pending_fencing=self.pending_fencing,
        )

    def apply(self, key: str | bytes | None, value: bytes | None, offset: int) -> None:
        if offset <= self.offset:
            return
        self.offset = offset
        if key is None:
            self.errors.append(f"config log record at offset {offset} has no key; skipped")
            return
        text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
        try:
            self._dispatch(text, value, offset)
        except _Skip as e:
            self.errors.append(f"config log record {text!r} at offset {offset}: {e}; skipped")

    def _dispatch(self, key: str, raw: bytes | None, offset: int) -> None:
        # Same order of prefix tests as Java's ConsumeCallback.
        if key.startswith(TARGET_STATE_PREFIX):
            self._target_state(ConnectorName(key[len(TARGET_STATE_PREFIX) :]), _decode(raw))
        elif key.startswith(CONNECTOR_PREFIX):
            self._connector(ConnectorName(key[len(CONNECTOR_PREFIX) :]), _decode(raw))
        elif key.startswith(TASK_PREFIX):
            self._task(key, _decode(raw))
        elif key.startswith(COMMIT_TASKS_PREFIX):
            self._commit(ConnectorName(key[len(COMMIT_TASKS_PREFIX) :]), _decode(raw))
        elif key.startswith(RESTART_PREFIX):
            self._restart(ConnectorName(key[len(RESTART_PREFIX) :]), _decode(raw), offset)
        elif key.startswith(TASK_COUNT_RECORD_PREFIX):
            self._task_count(ConnectorName(key[len(TASK_COUNT_RECORD_PREFIX) :]), _decode(raw))
        elif key not in self.ignored:
            self.ignored = self.ignored | {key}

    def _connector(self, name: ConnectorName, value: JsonValue) -> None:
        if value is None:
            self._remove(name)
            return
        self.connectors.w[name] = _properties(value)

    def _remove(self, name: ConnectorName) -> None:
        for cow in (self.connectors, self.targets, self.tasks, self.restarts, self.pending):
            if name in cow.r:
                del cow.w[name]
        self.pending_own.pop(name, None)
        if name in self.inconsistent:
            self.inconsistent = self.inconsistent - {name}

    def _task(self, key: str, value: JsonValue) -> None:
        name, number = _parse_task_key(key)
        if value is None:
            raise _Skip("a task config can't be null")
        config = _properties(value)
        buffer = self.pending_own.get(name)
        if buffer is None:
            buffer = dict(self.pending.r.get(name, {}))
            self.pending_own[name] = buffer
            self.pending.w[name] = MappingProxyType(buffer)
        buffer[number] = config

    def _commit(self, name: ConnectorName, value: JsonValue) -> None:
        count = _field(value, "tasks", "a task commit")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _INT32_MAX:
            raise _Skip(f'"tasks" is {count!r}: expected a task count (a non-negative integer)')
        buffered = self.pending.r.get(name, {})
        if all(n in buffered for n in range(count)):
            self.tasks.w[name] = tuple(buffered[n] for n in range(count))
            self.generations.w[name] = self.generations.r.get(name, -1) + 1
            if name in self.inconsistent:
                self.inconsistent = self.inconsistent - {name}
        elif name not in self.inconsistent:
            self.inconsistent = self.inconsistent | {name}
        # Complete or not, the buffer is spent: only a fresh set of task configs can follow.
        if name in self.pending.r:
            del self.pending.w[name]
        self.pending_own.pop(name, None)
        # As Java: whatever the commit applied, the connector needs a round of fencing.
        if name not in self.pending_fencing:
            self.pending_fencing = self.pending_fencing | {name}

    def _task_count(self, name: ConnectorName, value: JsonValue) -> None:
        count = _field(value, "task-count", "a task count record")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _INT32_MAX:
            raise _Skip(f'"task-count" is {count!r}: expected a non-negative integer')
        self.task_count_records.w[name] = count
        if name in self.pending_fencing:
            self.pending_fencing = self.pending_fencing - {name}

    def _target_state(self, name: ConnectorName, value: JsonValue) -> None:
        if value is None:
            if name in self.targets.r:
                del self.targets.w[name]
            return
        if not isinstance(value, dict):
            raise _Skip(f"a target state is {_kind(value)}: expected a JSON object")
        # As Java: "state.v2" when it is a string, else the older "state".
        state = value.get("state.v2")
        if not isinstance(state, str):
            state = value.get("state")
            if not isinstance(state, str):
                raise _Skip(f'"state" is {_kind(state)}: expected one of STARTED, PAUSED, STOPPED')
        try:
            self.targets.w[name] = TargetState(state)
        except ValueError:
            raise _Skip(
                f"target state {state!r}: expected one of STARTED, PAUSED, STOPPED"
            ) from None

    def _restart(self, name: ConnectorName, value: JsonValue, offset: int) -> None:
        if value is None:
            if name in self.restarts.r:
                del self.restarts.w[name]
            return
        if not isinstance(value, dict):
            raise _Skip(f"a restart request is {_kind(value)}: expected a JSON object")
        flags: dict[str, bool] = {}
        for flag in ("include-tasks", "only-failed"):
            got = value.get(flag)
            if isinstance(got, bool):
                flags[flag] = got
            else:
                # Java reads a missing or mistyped flag as false, with a warning; so do we.
                flags[flag] = False
                self.errors.append(
                    f"config log record {restart_key(name)!r} at offset {offset}: "
                    f'"{flag}" is {_kind(got)}, expected a boolean; read as false'
                )
        self.restarts.w[name] = RestartRequest(
            name, flags["include-tasks"], flags["only-failed"], offset
        )


def _decode(raw: bytes | None) -> JsonValue:
    if raw is None:
        return None
    try:
        value: JsonValue = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise _Skip(f"value {raw[:100]!r} is not JSON ({e})") from None
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null/missing"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def _field(value: JsonValue, name: str, what: str) -> JsonValue:
    if not isinstance(value, dict):
        raise _Skip(f"{what} is {_kind(value)}: expected a JSON object")
    return value.get(name)


def _properties(value: JsonValue) -> Mapping[str, str]:
    props = _field(value, "properties", "a config")
    if not isinstance(props, dict):
        raise _Skip(f'"properties" is {_kind(props)}: expected an object of strings')
    out: dict[str, str] = {}
    for k, v in props.items():
        if isinstance(v, str):
            out[k] = v
        elif v is not None:  # Java's map allows null values: the same as an absent key
            raise _Skip(f'"properties" has {k!r}: {_kind(v)}; expected a string or null')
    return MappingProxyType(out)


def _parse_task_key(key: str) -> tuple[ConnectorName, int]:
    """`task-<name>-<n>`, the name possibly holding '-'. Java's `parseTaskId` accepts the same."""
    name, sep, number = key[len(TASK_PREFIX) :].rpartition("-")
    digits = number.removeprefix("+")
    if not sep or not digits.isdecimal() or int(digits) > _INT32_MAX:
        raise _Skip("not a task key: expected task-<connector>-<task number>")
    return ConnectorName(name), int(digits)


def fold(
    state: ClusterConfig, key: str | bytes | None, value: bytes | None, offset: int
) -> ClusterConfig:
    """The state after one more record. `state` is unchanged; untouched mappings are shared."""
    builder = _Builder(state)
    builder.apply(key, value, offset)
    return builder.freeze()


def fold_all(
    records: Iterable[tuple[str | bytes | None, bytes | None, int]],
    state: ClusterConfig = EMPTY,
) -> ClusterConfig:
    """The state after `records`, in log order: as folding them one by one, in linear time."""
    builder = _Builder(state)
    for key, value, offset in records:
        builder.apply(key, value, offset)
    return builder.freeze()


# --- writing ---------------------------------------------------------------------------------

_ESCAPED: Final = re.compile('[\\x00-\\x1f"\\\\\\ud800-\\udfff\\U00010000-\\U0010ffff]')
_SHORT: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    short = _SHORT.get(c)
    if short is not None:
        return short
    cp = ord(c)
    if cp > 0xFFFF:
        cp -= 0x10000
        return f"\\u{0xD800 + (cp >> 10):04X}\\u{0xDC00 + (cp & 0x3FF):04X}"
    return f"\\u{cp:04X}"


def _jstr(s: str) -> str:
    """A JSON string literal as Jackson's UTF-8 generator writes it."""
    return '"' + _ESCAPED.sub(_escape, s) + '"'


def _properties_value(config: Mapping[str, str], what: str) -> bytes:
    parts = []
    for k, v in config.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{what}: {k!r}={v!r}: expected string keys and string values")
        parts.append(f"{_jstr(k)}:{_jstr(v)}")
    return ('{"properties":{' + ",".join(parts) + "}}").encode()


def connector_config_record(name: str, config: Mapping[str, str]) -> tuple[str, bytes]:
    """`connector-<name>` with `{"properties":{...}}`, keys in the mapping's order."""
    return connector_key(name), _properties_value(config, f"config of connector {name!r}")


def connector_deletion_records(name: str) -> list[tuple[str, bytes | None]]:
    """What Java writes to delete a connector: tombstones for its config and its target state."""
    return [(connector_key(name), None), (target_state_key(name), None)]


def task_config_records(name: str, configs: Sequence[Mapping[str, str]]) -> list[tuple[str, bytes]]:
    """`task-<name>-<n>` for each config, then `commit-<name>` with `{"tasks":N}`.

    Java reads its own task records back before it writes the commit; the writer should do the
    same, so that a commit is never read before its task configs.
    """
    out = [
        (task_key(name, n), _properties_value(config, f"config of task {name}-{n}"))
        for n, config in enumerate(configs)
    ]
    out.append((commit_key(name), b'{"tasks":%d}' % len(configs)))
    return out


def target_state_record(name: str, state: TargetState) -> tuple[str, bytes]:
    """`target-state-<name>`: `state.v2`, and `state` for readers older than STOPPED (as PAUSED)."""
    legacy = TargetState.PAUSED if state is TargetState.STOPPED else state
    value = f'{{"state":"{legacy.value}","state.v2":"{state.value}"}}'
    return target_state_key(name), value.encode()


def task_count_record(name: str, count: int) -> tuple[str, bytes]:
    """`tasks-fencing-<name>` with `{"task-count":N}`: Java's task count record."""
    return task_count_record_key(name), b'{"task-count":%d}' % count


def restart_request_record(name: str, include_tasks: bool, only_failed: bool) -> tuple[str, bytes]:
    """`restart-connector-<name>` with `{"include-tasks":…,"only-failed":…}`."""
    value = f'{{"include-tasks":{_jbool(include_tasks)},"only-failed":{_jbool(only_failed)}}}'
    return restart_key(name), value.encode()


def _jbool(b: bool) -> str:
    return "true" if b else "false"
