"""The actions a pass decides and `io.shell.act` carries out, in order, and what came of them.

A resource's pass observes everything first, then one pure function (its `decide.decide`) turns
what was observed into a list of these actions and the status; the shell executes the list.
Actions are plain data: a decision is tested by comparing lists, with no API server or worker.

Order and failure, as `act` keeps them:
- `MarkLeaving` before `ApplyChildren`: the pods a scale-down removes get their leave marker
  (through the pods/exec API) before the lower replica count reaches the StatefulSet; a pod that
  cannot be reached is reported in `Outcome.leave_failures` and the scale-down goes on (its
  worker's tasks then wait for its session to expire, as for a killed worker).
- `ApplyChildren` next: a child the API server refuses stops the plan (the rest of it is not
  applied) and is reported in `Outcome.apply_error`; the workers are still talked to.
- `DeleteChild` (the Deployment a StatefulSet replaced) and `Note` after the children; a
  failure raises, as below, and the next pass tries again.
- The workers' REST actions (`SendConfig` ... `AutoRestartConnector`) in order: the first that
  fails stops the ones after it, a config the workers reject (400) as `Outcome.config_rejected`,
  any other failure as `Outcome.unreachable`; `Outcome.rest_done` counts the ones that
  succeeded. A task restart for a task that does not exist (404) is reported as an Event and the
  rest go on. An offsets operation the workers refuse (a 4xx but 404 and 409, or a 500: offsets
  they cannot take, a connector not stopped) or a ConfigMap the list cannot write is reported in
  `Outcome.offsets_error` and the rest go on, so the annotation that asked for it is removed and
  not retried; no answer, a 404 or a 409 (rebalancing) stops the sequence, and the next pass
  retries.
- `SetLogLevels` per worker: a worker that fails is reported in `Outcome.logger_failures` and the
  other workers are still set.
- An API server error other than a refused child raises out of `act`: the pass fails, is counted,
  and the next one starts over from what it observes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from kconnect_operator.core.children import ChildrenPlan
from kconnect_operator.core.shapes import JsonObject, LogLevel


@dataclass(frozen=True, slots=True)
class ApplyChildren:
    """Server-side apply the plan's children; report repairs and the roll as Events."""

    plan: ChildrenPlan
    workers: str
    """What the pods are called in the roll's Event: `worker pods`, `worker pod`."""


@dataclass(frozen=True, slots=True)
class MarkLeaving:
    """Write the leave marker (`manifests.MARK_LEAVING_COMMAND`) into each of `pods` through the
    pods/exec API: the pods a scale-down is about to remove, so that their workers give their
    group seats up when they stop."""

    pods: tuple[str, ...]
    container: str


@dataclass(frozen=True, slots=True)
class DeleteConnector:
    """`DELETE /connectors/{name}` on a shared cluster's workers: a connector that no
    KafkaConnector names any more (its resource was deleted); then a Normal Event."""

    name: str


@dataclass(frozen=True, slots=True)
class DeleteChild:
    """Delete a child the builders no longer make, then post a Normal Event."""

    api_version: str
    kind: str
    name: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Note:
    """A Normal Event."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class SendConfig:
    """`PUT /connectors/{name}/config`, or `POST /connectors` with `initial_state` when
    `initial_state` is set (a new connector that must not start running)."""

    name: str
    config: Mapping[str, str]
    initial_state: str | None
    verb: str
    """`created` or `updated`, for the Event."""


@dataclass(frozen=True, slots=True)
class SendCommand:
    """`PUT /connectors/{name}/pause|resume|stop`."""

    name: str
    command: str


@dataclass(frozen=True, slots=True)
class Restart:
    """`POST /connectors/{name}/restart` with the annotation's flags."""

    name: str
    include_tasks: bool
    only_failed: bool


@dataclass(frozen=True, slots=True)
class RestartTask:
    """`POST /connectors/{name}/tasks/{task}/restart`."""

    name: str
    task: int


@dataclass(frozen=True, slots=True)
class Warn:
    """A Warning Event."""

    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class RemoveAnnotations:
    """Remove the resource's annotations `keys` (restart requests that were carried out)."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AutoRestartConnector:
    """Restart the failed connector and tasks; `count` is the restart's number."""

    name: str
    count: int


OFFSETS_KEY: Final = "offsets.json"
"""The ConfigMap key that holds a connector's offsets, as in Strimzi."""


@dataclass(frozen=True, slots=True)
class ListOffsets:
    """`GET /connectors/{name}/offsets`, written to the ConfigMap `config_map` (key
    `offsets.json`): created with an owner reference to the resource, or only that key updated
    in one that exists (refused for one another object controls)."""

    name: str
    config_map: str


@dataclass(frozen=True, slots=True)
class AlterOffsets:
    """`PATCH /connectors/{name}/offsets` with `offsets` (read from the ConfigMap `source`)."""

    name: str
    offsets: JsonObject
    source: str
    initial: bool = False
    """Written for `spec.initialOffsets`, to a connector just created stopped."""


@dataclass(frozen=True, slots=True)
class ResetOffsets:
    """`DELETE /connectors/{name}/offsets`."""

    name: str


OffsetsAction = ListOffsets | AlterOffsets | ResetOffsets


@dataclass(frozen=True, slots=True)
class SetLogLevels:
    """`PUT /admin/loggers/{name}` on one worker, in order."""

    pod: str
    url: str
    changes: tuple[tuple[str, LogLevel], ...]


Action = (
    ApplyChildren
    | MarkLeaving
    | DeleteChild
    | Note
    | SendConfig
    | SendCommand
    | Restart
    | RestartTask
    | Warn
    | RemoveAnnotations
    | AutoRestartConnector
    | SetLogLevels
    | DeleteConnector
    | ListOffsets
    | AlterOffsets
    | ResetOffsets
)

REST_ACTIONS = (
    SendConfig,
    SendCommand,
    Restart,
    RestartTask,
    Warn,
    RemoveAnnotations,
    AutoRestartConnector,
    DeleteConnector,
    ListOffsets,
    AlterOffsets,
    ResetOffsets,
)
"""The actions that run in the workers' REST sequence (`Outcome.rest_done` counts them)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of carrying out a pass's actions, where it changes the status."""

    apply_error: str | None = None
    live: Mapping[str, JsonObject | None] | None = None
    """The children after applying (the applied ones as the API server answered); None when
    nothing was applied."""
    rest_done: int | None = None
    """How many REST actions succeeded; None when all did."""
    config_rejected: str | None = None
    """The workers' message for a config they rejected (400)."""
    unreachable: str | None = None
    logger_failures: tuple[str, ...] = ()
    """`<pod>: <why>` for each worker whose log levels could not be set."""
    log_levels_set: tuple[str, ...] = field(default=())
    """`logger=LEVEL` for each level set, on any worker."""
    workers_changed: int = 0
    leave_failures: tuple[str, ...] = ()
    """`<pod>: <why>` for each pod the leave marker could not be written to."""
    offsets_error: str | None = None
    """Why an offsets operation (`ListOffsets`, `AlterOffsets`, `ResetOffsets`) failed for good."""
