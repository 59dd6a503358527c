"""Leader election on a `coordination.k8s.io/v1` Lease: the API calls and the loops.

Several operator replicas may run; only the one holding the Lease runs the handlers. The others
stand by and take over when the leader releases the Lease or stops renewing it. The Lease's
fields mean what they mean to client-go's `leaderelection` package, so `kubectl get lease` reads
the same as for any controller:

- `holderIdentity`: the leader's identity; empty after a release.
- `leaseDurationSeconds`: how long a candidate waits, from when it saw the last change, before it
  takes the Lease over.
- `acquireTime` / `renewTime`: when the holder took the Lease and when it last renewed it.
- `leaseTransitions`: how many times the Lease changed holders.

The decision is a pure function, `core.election.decide`, of the observed record, the local time
at which this replica first saw that record, and the identity. `LeaderElector` is the shell
around it: it reads and writes the Lease as JSON through the operator's one API client
(`io.kube.Kube`).

Invariants:
- **Expiry is judged by local observation, not by the holder's clock.** A record is expired when
  it has not changed for `leaseDurationSeconds` of this replica's monotonic clock, counted from
  when this replica first saw it. `renewTime` itself is never compared with the local clock, so
  clock skew between nodes cannot make a live leader look expired, nor the other way round.
- **Writes are compare-and-swap.** Every update carries the resourceVersion that was read; a
  concurrent writer makes it fail with 409 and this replica does not lead on that round. Two
  candidates racing for a free Lease therefore end with one leader.
- **A leader that cannot renew gives up.** Renewal is tried every retry period; if no attempt
  succeeds within the renew deadline of a round, or another holder is seen, leadership is lost
  and `hold` returns. The renew deadline is shorter than the lease duration, so a leader stops
  believing it leads before any standby may take over (given the process acts on `hold`
  returning promptly).
- **The Lease can be owned.** Given an owner (the operator's Deployment), the Lease carries an
  owner reference to it, written on create and added on the next write to a Lease that lacks it,
  so deleting the Deployment (`helm uninstall`) garbage-collects the Lease too.
- **A release hands over at once.** `release` empties `holderIdentity` and sets
  `leaseDurationSeconds` to 1, the way client-go does, so a standby acquires on its next retry
  instead of waiting out the lease.

Failure modes: API errors, timeouts and conflicts count as a failed attempt and are logged; they
never raise out of `acquire` or `hold`. Only cancellation propagates.

The Lease's times are MicroTime: the API server parses exactly six fraction digits, so every
instant is written with six (`micro_time`), a whole second too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from kconnect_operator.core.election import (
    JITTER_FACTOR,
    Action,
    LeaderRecord,
    LeaseTiming,
    Observation,
    OwnerReference,
    decide,
    observe,
    record_from_spec,
    released,
    spec_from_record,
    with_owner,
)
from kconnect_operator.core.shapes import JsonObject
from kconnect_operator.io.kube import HTTP_CONFLICT, Kube, KubeError, collection_path, object_path

logger = logging.getLogger(__name__)


LEASE_API_VERSION: Final = "coordination.k8s.io/v1"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaderElector:
    """Acquires, holds and releases one Lease for one identity.

    `acquire` and `hold` are used in turn by one owner task; `release` after `hold` has been
    stopped. `on_change(True|False)` is called on the event loop whenever leadership starts or
    ends, e.g. to set the leader metric.
    """

    def __init__(
        self,
        kube: Kube,
        *,
        name: str,
        namespace: str,
        identity: str,
        timing: LeaseTiming,
        on_change: Callable[[bool], None] | None = None,
        owner: OwnerReference | None = None,
    ) -> None:
        """`owner`, when given, is written as the Lease's owner reference."""
        problems = timing.check()
        if problems:
            raise ValueError("; ".join(problems))
        if not identity:
            raise ValueError("the leader-election identity must not be empty")
        self._kube = kube
        self.name: Final = name
        self.namespace: Final = namespace
        self.identity: Final = identity
        self.timing: Final = timing
        self._on_change = on_change
        self._owner = owner
        self._observation: Observation | None = None
        self._leading = False

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def holder(self) -> str:
        """The holder this replica last saw; empty when none or when the Lease is free."""
        return self._observation.record.holder_identity if self._observation else ""

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Tries until this replica leads (True) or `stop` is set (False)."""
        logger.info(
            "Trying to acquire the lease %s/%s as %s.", self.namespace, self.name, self.identity
        )
        reported_holder: str | None = None
        while not stop.is_set():
            deadline = self.timing.renew_deadline_s
            if await self._try_acquire_or_renew(deadline):
                logger.info("Acquired the lease %s/%s.", self.namespace, self.name)
                return True
            if self.holder and self.holder != reported_holder:
                logger.info("The lease is held by %s; standing by.", self.holder)
                reported_holder = self.holder
            pause = self.timing.retry_period_s * (1 + random.random() * JITTER_FACTOR)
            try:
                async with asyncio.timeout(pause):
                    await stop.wait()
            except TimeoutError:
                pass
        return False

    async def hold(self) -> None:
        """Renews every retry period while this replica leads; returns once leadership is lost.

        Cancel it to stop renewing (without releasing).
        """
        while self._leading:
            await asyncio.sleep(self.timing.retry_period_s)
            round_deadline = time.monotonic() + self.timing.renew_deadline_s
            while True:
                remaining = round_deadline - time.monotonic()
                if remaining <= 0:
                    logger.error(
                        "Could not renew the lease %s/%s within %gs: leadership lost.",
                        self.namespace,
                        self.name,
                        self.timing.renew_deadline_s,
                    )
                    self._set_leading(False)
                    break
                if await self._try_acquire_or_renew(remaining):
                    break
                if self.holder and self.holder != self.identity:
                    logger.error(
                        "The lease %s/%s is now held by %s: leadership lost.",
                        self.namespace,
                        self.name,
                        self.holder,
                    )
                    self._set_leading(False)
                    break
                await asyncio.sleep(
                    min(self.timing.retry_period_s, max(0.0, round_deadline - time.monotonic()))
                )

    async def release(self, timeout_s: float) -> bool:
        """Hands the Lease over if this replica holds it; True when the release was written.

        Call it only after `hold` has stopped. Failures are logged: the Lease then simply
        expires.
        """
        was_leading = self._leading
        self._set_leading(False)
        if not was_leading:
            return False
        try:
            async with asyncio.timeout(timeout_s):
                lease = await self._read()
                if lease is None or record_from_spec(lease.get("spec")).holder_identity != (
                    self.identity
                ):
                    logger.warning(
                        "Not releasing the lease %s/%s: it is no longer ours.",
                        self.namespace,
                        self.name,
                    )
                    return False
                record = released(record_from_spec(lease.get("spec")), utc_now())
                await self._replace(lease, record)
        except (TimeoutError, KubeError) as error:
            logger.warning(
                "Could not release the lease %s/%s (%s); it expires in %ss instead.",
                self.namespace,
                self.name,
                _describe(error),
                self.timing.lease_duration_s,
            )
            return False
        logger.info("Released the lease %s/%s.", self.namespace, self.name)
        return True

    async def _try_acquire_or_renew(self, timeout_s: float) -> bool:
        """One round of client-go's tryAcquireOrRenew; True when this replica now leads."""
        try:
            async with asyncio.timeout(timeout_s):
                lease = await self._read()
                record = record_from_spec(lease.get("spec")) if lease is not None else None
                self._observation = observe(self._observation, record, time.monotonic())
                decision = decide(
                    self._observation,
                    identity=self.identity,
                    lease_duration_s=self.timing.lease_duration_s,
                    now=time.monotonic(),
                    wall=utc_now(),
                )
                if decision.action is Action.WAIT:
                    self._set_leading(False)
                    return False
                if lease is None:
                    await self._create(decision.record)
                else:
                    await self._replace(lease, decision.record)
        except KubeError as error:
            if error.status == HTTP_CONFLICT:
                logger.debug("Lost a race for the lease %s/%s.", self.namespace, self.name)
            else:
                logger.warning(
                    "Could not %s the lease %s/%s: %s",
                    "renew" if self._leading else "acquire",
                    self.namespace,
                    self.name,
                    _describe(error),
                )
            return False
        except TimeoutError as error:
            logger.warning(
                "Could not reach the API server for the lease %s/%s: %s",
                self.namespace,
                self.name,
                _describe(error),
            )
            return False
        self._observation = Observation(decision.record, time.monotonic())
        self._set_leading(True)
        return True

    async def _read(self) -> JsonObject | None:
        return await self._kube.get(
            object_path(LEASE_API_VERSION, "Lease", self.namespace, self.name)
        )

    async def _create(self, record: LeaderRecord) -> None:
        metadata: JsonObject = {"name": self.name, "namespace": self.namespace}
        owners = with_owner(None, self._owner)
        if owners:
            metadata["ownerReferences"] = owners
        body = {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec_from_record(record),
        }
        await self._kube.create(collection_path(LEASE_API_VERSION, "Lease", self.namespace), body)

    async def _replace(self, lease: Mapping[str, Any], record: LeaderRecord) -> None:
        """A compare-and-swap: the write carries the resourceVersion that was read."""
        current = lease.get("metadata") or {}
        metadata: JsonObject = {
            key: current[key]
            for key in ("resourceVersion", "labels", "annotations")
            if current.get(key) is not None
        }
        metadata |= {"name": self.name, "namespace": self.namespace}
        owners = with_owner(current.get("ownerReferences"), self._owner)
        if owners:
            metadata["ownerReferences"] = owners
        body = {
            "apiVersion": LEASE_API_VERSION,
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec_from_record(record),
        }
        await self._kube.replace(body)

    def _set_leading(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        if self._on_change is not None:
            self._on_change(leading)


def _describe(error: BaseException) -> str:
    if isinstance(error, KubeError):
        return f"HTTP {error.status}: {error.message}" if error.status else error.message
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"
