"""Leader election's decision, with client-go's semantics: pure, over the Lease's record.

Several operator replicas may run; only the one holding the Lease runs the handlers. The fields
mean what they mean to client-go's `leaderelection` package, so `kubectl get lease` reads the same
as for any controller: `holderIdentity` (empty after a release), `leaseDurationSeconds`,
`acquireTime` / `renewTime`, `leaseTransitions`.

`decide` is a function of the observed record, the local time at which this replica first saw
that record (`observe`), and the identity; `io.leader.LeaderElector` reads and writes the Lease
around it.

Invariants:
- **Expiry is judged by local observation, not by the holder's clock.** A record is expired when
  it has not changed for `leaseDurationSeconds` of this replica's monotonic clock, counted from
  when this replica first saw it. `renewTime` itself is never compared with the local clock, so
  clock skew between nodes cannot make a live leader look expired, nor the other way round.
- **A release hands over at once** (`released`): an empty `holderIdentity` and a
  `leaseDurationSeconds` of 1, the way client-go writes it.
- **The Lease's times are MicroTime:** the API server parses exactly six fraction digits, so
  every instant is written with six (`micro_time`), a whole second too.
- **An owner is added once** (`with_owner`): other owner references are kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kconnect_operator.core.shapes import JsonObject

JITTER_FACTOR: Final = 1.2
"""client-go's jitter of the acquire loop: a standby waits between 1 and 2.2 retry
periods between tries."""


RELEASED_LEASE_DURATION_S: Final = 1
"""The `leaseDurationSeconds` of a released Lease, as client-go writes it."""


OwnerReference = JsonObject
"""An owner reference as the API server writes it: apiVersion, kind, name, uid."""


@dataclass(frozen=True, slots=True)
class LeaderRecord:
    """The leader-election fields of a Lease's spec."""

    holder_identity: str
    """The holder; empty when nobody holds the Lease."""
    lease_duration_s: int
    acquire_time: dt.datetime | None
    renew_time: dt.datetime | None
    lease_transitions: int


@dataclass(frozen=True, slots=True)
class Observation:
    """A record as this replica saw it, and the monotonic time it first saw it unchanged."""

    record: LeaderRecord
    observed_at: float


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """client-go's three durations. `check` says what is wrong with a combination."""

    lease_duration_s: int = 15
    """How long a standby waits, after the last change it saw, before taking the Lease."""
    renew_deadline_s: float = 10.0
    """How long the leader keeps retrying a renewal before it gives up leadership."""
    retry_period_s: float = 2.0
    """How often the leader renews and a standby tries to acquire."""

    def check(self) -> list[str]:
        """The problems of this timing, as messages naming the durations; empty when valid."""
        problems = []
        if self.lease_duration_s < 1:
            problems.append(f"lease duration must be at least 1s, got {self.lease_duration_s}")
        if self.renew_deadline_s <= 0:
            problems.append(f"renew deadline must be positive, got {self.renew_deadline_s:g}")
        if self.retry_period_s <= 0:
            problems.append(f"retry period must be positive, got {self.retry_period_s:g}")
        if not self.lease_duration_s > self.renew_deadline_s:
            problems.append(
                f"lease duration ({self.lease_duration_s}s) must be greater than the renew "
                f"deadline ({self.renew_deadline_s:g}s)"
            )
        if not self.renew_deadline_s > JITTER_FACTOR * self.retry_period_s:
            problems.append(
                f"renew deadline ({self.renew_deadline_s:g}s) must be greater than "
                f"{JITTER_FACTOR:g} times the retry period ({self.retry_period_s:g}s)"
            )
        return problems


class Action(enum.StrEnum):
    CREATE = "create"
    """No Lease exists: create it, holding it."""
    ACQUIRE = "acquire"
    """Another holder's Lease expired, or it was released: take it over."""
    RENEW = "renew"
    """This replica holds the Lease: renew it."""
    WAIT = "wait"
    """Another holder's Lease is live: stand by."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    record: LeaderRecord
    """The record to write; for `WAIT`, the observed record."""
    expires_in_s: float = 0.0
    """For `WAIT`: how long until the observed record expires, if nobody renews it."""


def observe(
    previous: Observation | None, record: LeaderRecord | None, now: float
) -> Observation | None:
    """The observation after reading `record` at monotonic time `now`.

    The observation time moves only when the record changed; an unchanged record keeps the time
    it was first seen, which is what expiry counts from.
    """
    if record is None:
        return None
    if previous is not None and previous.record == record:
        return previous
    return Observation(record, now)


def decide(
    observation: Observation | None,
    *,
    identity: str,
    lease_duration_s: int,
    now: float,
    wall: dt.datetime,
) -> Decision:
    """What to do with the Lease, given what was observed.

    `now` is the monotonic time (for expiry); `wall` is the UTC time written into the record.
    A record without `leaseDurationSeconds` is judged with this replica's own lease duration.
    """
    if observation is None:
        return Decision(
            Action.CREATE,
            LeaderRecord(identity, lease_duration_s, wall, wall, lease_transitions=0),
        )
    current = observation.record
    if current.holder_identity == identity:
        renewed = dataclasses.replace(current, lease_duration_s=lease_duration_s, renew_time=wall)
        return Decision(Action.RENEW, renewed)
    duration = current.lease_duration_s if current.lease_duration_s > 0 else lease_duration_s
    expires_at = observation.observed_at + duration
    if current.holder_identity and now < expires_at:
        return Decision(Action.WAIT, current, expires_in_s=expires_at - now)
    taken = LeaderRecord(identity, lease_duration_s, wall, wall, current.lease_transitions + 1)
    return Decision(Action.ACQUIRE, taken)


def released(record: LeaderRecord, wall: dt.datetime) -> LeaderRecord:
    """The record a leader writes to hand the Lease over at once."""
    return LeaderRecord(
        holder_identity="",
        lease_duration_s=RELEASED_LEASE_DURATION_S,
        acquire_time=wall,
        renew_time=wall,
        lease_transitions=record.lease_transitions,
    )


def record_from_spec(spec: Mapping[str, Any] | None) -> LeaderRecord:
    """The record a Lease's spec holds; absent fields read as empty, zero or None."""
    spec = spec or {}
    return LeaderRecord(
        holder_identity=spec.get("holderIdentity") or "",
        lease_duration_s=spec.get("leaseDurationSeconds") or 0,
        acquire_time=_parse_time(spec.get("acquireTime")),
        renew_time=_parse_time(spec.get("renewTime")),
        lease_transitions=spec.get("leaseTransitions") or 0,
    )


def spec_from_record(record: LeaderRecord) -> JsonObject:
    """The Lease spec holding `record`."""
    return {
        "holderIdentity": record.holder_identity,
        "leaseDurationSeconds": record.lease_duration_s,
        "acquireTime": micro_time(record.acquire_time),
        "renewTime": micro_time(record.renew_time),
        "leaseTransitions": record.lease_transitions,
    }


def micro_time(instant: dt.datetime | None) -> str | None:
    """`instant` as a MicroTime: UTC, with the six fraction digits the API server requires."""
    if instant is None:
        return None
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def with_owner(
    current: list[OwnerReference] | None, owner: OwnerReference | None
) -> list[OwnerReference] | None:
    """The Lease's owner references: `current`, plus `owner` unless one with its uid is there."""
    refs = list(current or [])
    if owner is not None and all(ref.get("uid") != owner.get("uid") for ref in refs):
        refs.append(owner)
    return refs or None
