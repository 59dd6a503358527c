"""The states a connector or task is in, and the state it was asked to be in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kconnect.api.types import JsonValue


class State(StrEnum):
    """The state a connector or task is in, as shown in its status."""

    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    RESTARTING = "RESTARTING"
    DESTROYED = "DESTROYED"


class TargetState(StrEnum):
    """The state a connector was asked to be in (the config log's `target-state-*`)."""

    STARTED = "STARTED"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"

    @classmethod
    def from_initial_state(cls, value: str) -> TargetState:
        """`POST /connectors`'s `initial_state`: RUNNING, PAUSED or STOPPED (any case)."""
        upper = value.upper()
        if upper == "RUNNING":
            return cls.STARTED
        if upper in ("PAUSED", "STOPPED"):
            return cls(upper)
        raise ValueError(
            f"invalid initial_state {value!r}: expected one of RUNNING, PAUSED, STOPPED"
        )


@dataclass(frozen=True)
class StateInfo:
    """One connector's or task's state: what the status store holds for it."""

    state: State
    worker_id: str
    trace: str | None = None
    generation: int = 0
    version: str | None = None
    """The connector's or task's `version()` (KIP-891), when the worker running it knew it."""

    def to_json(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"state": self.state.value, "worker_id": self.worker_id}
        if self.trace:
            out["trace"] = self.trace
        if self.version is not None:
            out["version"] = self.version
        return out
