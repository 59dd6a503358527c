"""The pure core of leader election: observation, the decision, release and the Lease spec."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kconnect_operator.core.election import (
    Action,
    LeaderRecord,
    LeaseTiming,
    Observation,
    decide,
    observe,
    record_from_spec,
    released,
    spec_from_record,
    with_owner,
)

ME = "replica-a_1"
OTHER = "replica-b_2"
T0 = dt.datetime(2030, 5, 1, 12, 0, 0, 250_000, tzinfo=dt.UTC)
WALL = dt.datetime(2030, 5, 1, 12, 0, 30, 500_000, tzinfo=dt.UTC)
DURATION = 15


def held_by(holder: str, *, duration: int = DURATION, transitions: int = 3) -> LeaderRecord:
    return LeaderRecord(holder, duration, T0, T0, transitions)


def test_an_absent_lease_is_created_held_by_us() -> None:
    decision = decide(None, identity=ME, lease_duration_s=DURATION, now=100.0, wall=WALL)
    assert decision.action is Action.CREATE
    assert decision.record == LeaderRecord(ME, DURATION, WALL, WALL, 0)


def test_a_fresh_lease_of_another_holder_makes_us_wait() -> None:
    observation = Observation(held_by(OTHER), observed_at=100.0)
    decision = decide(observation, identity=ME, lease_duration_s=DURATION, now=110.0, wall=WALL)
    assert decision.action is Action.WAIT
    assert decision.record == held_by(OTHER)
    assert decision.expires_in_s == pytest.approx(5.0)


def test_expiry_counts_from_when_we_saw_the_record_not_from_its_renew_time() -> None:
    # The holder's renewTime is far in the past by our wall clock (clock skew, or a record
    # written long ago): what counts is that we saw it change only 1s ago.
    ancient = LeaderRecord(OTHER, DURATION, T0 - dt.timedelta(days=1), T0 - dt.timedelta(days=1), 3)
    just_seen = Observation(ancient, observed_at=99.0)
    decision = decide(just_seen, identity=ME, lease_duration_s=DURATION, now=100.0, wall=WALL)
    assert decision.action is Action.WAIT
    # And a renewTime in our future does not keep a record alive once we saw it unchanged long
    # enough.
    future = LeaderRecord(OTHER, DURATION, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=1), 3)
    seen_long_ago = Observation(future, observed_at=100.0)
    decision = decide(
        seen_long_ago, identity=ME, lease_duration_s=DURATION, now=100.0 + DURATION, wall=WALL
    )
    assert decision.action is Action.ACQUIRE


def test_an_expired_lease_is_taken_over_and_counts_a_transition() -> None:
    observation = Observation(held_by(OTHER, transitions=3), observed_at=100.0)
    decision = decide(observation, identity=ME, lease_duration_s=10, now=116.0, wall=WALL)
    assert decision.action is Action.ACQUIRE
    assert decision.record == LeaderRecord(ME, 10, WALL, WALL, 4)


def test_the_records_own_duration_decides_its_expiry() -> None:
    # The holder wrote 30s; our own configured 15s does not shorten its lease.
    observation = Observation(held_by(OTHER, duration=30), observed_at=100.0)
    decision = decide(observation, identity=ME, lease_duration_s=15, now=120.0, wall=WALL)
    assert decision.action is Action.WAIT
    assert decision.expires_in_s == pytest.approx(10.0)
    # A record without a duration is judged with ours.
    observation = Observation(held_by(OTHER, duration=0), observed_at=100.0)
    decision = decide(observation, identity=ME, lease_duration_s=15, now=116.0, wall=WALL)
    assert decision.action is Action.ACQUIRE


def test_our_own_lease_is_renewed_keeping_acquire_time_and_transitions() -> None:
    # Even when expired by observation: we still hold it, so we renew rather than re-acquire.
    observation = Observation(held_by(ME, duration=5, transitions=7), observed_at=100.0)
    decision = decide(observation, identity=ME, lease_duration_s=DURATION, now=500.0, wall=WALL)
    assert decision.action is Action.RENEW
    assert decision.record == LeaderRecord(ME, DURATION, T0, WALL, 7)


def test_a_released_lease_is_acquired_at_once() -> None:
    free = released(held_by(OTHER, transitions=2), T0)
    assert free == LeaderRecord("", 1, T0, T0, 2)
    just_seen = Observation(free, observed_at=100.0)
    decision = decide(just_seen, identity=ME, lease_duration_s=DURATION, now=100.0, wall=WALL)
    assert decision.action is Action.ACQUIRE
    assert decision.record == LeaderRecord(ME, DURATION, WALL, WALL, 3)


def test_observation_time_moves_only_when_the_record_changes() -> None:
    first = observe(None, held_by(OTHER), now=10.0)
    assert first == Observation(held_by(OTHER), 10.0)
    assert observe(first, held_by(OTHER), now=20.0) == first
    renewed = LeaderRecord(OTHER, DURATION, T0, WALL, 3)
    assert observe(first, renewed, now=30.0) == Observation(renewed, 30.0)
    assert observe(first, None, now=40.0) is None


@given(
    holder=st.sampled_from(["", OTHER]),
    seen=st.integers(min_value=0, max_value=10**6).map(float),
    elapsed=st.integers(min_value=0, max_value=100_000).map(lambda ms: ms / 1000),
    duration=st.integers(min_value=1, max_value=60),
)
def test_another_holder_never_loses_its_lease_before_it_expires(
    holder: str, seen: float, elapsed: float, duration: int
) -> None:
    observation = Observation(held_by(holder, duration=duration), observed_at=seen)
    decision = decide(
        observation, identity=ME, lease_duration_s=DURATION, now=seen + elapsed, wall=WALL
    )
    if holder and elapsed < duration:
        assert decision.action is Action.WAIT
    else:
        assert decision.action is Action.ACQUIRE
        assert decision.record.holder_identity == ME


def test_records_round_trip_through_the_lease_spec() -> None:
    record = LeaderRecord(ME, DURATION, T0, WALL, 4)
    assert record_from_spec(spec_from_record(record)) == record
    assert record_from_spec(None) == LeaderRecord("", 0, None, None, 0)


def test_a_whole_second_is_written_with_a_fraction_the_api_server_accepts() -> None:
    whole = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    spec = spec_from_record(LeaderRecord(ME, DURATION, whole, whole, 0))
    assert spec["renewTime"] == "2030-01-01T00:00:00.000000Z"
    assert record_from_spec(spec).renew_time == whole


def test_timing_checks_name_what_is_wrong() -> None:
    assert LeaseTiming().check() == []
    assert LeaseTiming(3, 2, 0.5).check() == []
    (problem,) = LeaseTiming(10, 10, 2).check()
    assert "lease duration (10s) must be greater than the renew deadline (10s)" in problem
    (problem,) = LeaseTiming(15, 2, 2).check()
    assert "renew deadline (2s) must be greater than 1.2 times the retry period (2s)" in problem


def test_the_owner_is_added_once_and_other_owners_are_kept() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "op", "uid": "u1"}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u2"}
    assert with_owner(None, None) is None
    assert with_owner(None, owner) == [owner]
    assert with_owner([other], owner) == [other, owner]
    assert with_owner([owner], owner) == [owner]
    assert with_owner([other], None) == [other]
