"""A worker's group seat that the authorizer refuses, or that another worker took (a duplicate
`group.instance.id`), says so at once (no broker needed: the error reaches the membership as
librdkafka would hand it over)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from kconnect.herder.membership import Membership, seat_holder_warning


def _membership(instance_id: str | None = None) -> Membership:
    def ignore(_: object) -> None:
        return None

    return Membership(
        {"bootstrap.servers": "127.0.0.1:1"},
        group_id="g",
        client_id="c",
        anchor_topic="g-configs",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        rebalance_timeout_ms=60_000,
        on_assign=ignore,
        on_revoke=ignore,
        on_lost=ignore,
        on_fatal=ignore,
        group_instance_id=instance_id,
    )


@pytest.mark.timeout(60)
def test_a_refused_group_ends_the_wait_to_join_naming_the_acl() -> None:
    """Without the early end the wait would last 10 minutes; the test's timeout would stop it."""
    m = _membership()
    m._on_error(KafkaError(KafkaError.GROUP_AUTHORIZATION_FAILED, "Group authorization failed"))
    assert m.wait_joined(600.0) is False
    assert m.failure is not None
    assert "missing ACL" in m.failure
    assert "consumer group" in m.failure


def test_other_errors_leave_the_wait_to_its_timeout() -> None:
    m = _membership()
    m._on_error(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    assert m.failure is None
    assert m.wait_joined(0.3) is False


FENCED = "Fatal error: Broker: Static consumer fenced by other consumer with same group.instance.id"


def test_a_fenced_static_member_names_the_key_and_the_id() -> None:
    """librdkafka hands a fenced static member a fatal error (code _FATAL); the worker's
    message says which id is used twice and what to do."""
    m = _membership("connect-1")
    m._on_error(KafkaError(KafkaError._FATAL, FENCED, fatal=True))
    assert m.wait_joined(600.0) is False
    assert m.failure is not None
    assert m.failure.startswith("group.instance.id='connect-1' is in use by another worker")
    assert "(FENCED_INSTANCE_ID)" in m.failure
    assert "Give each worker its own group.instance.id" in m.failure


def test_a_static_member_warns_when_another_process_holds_its_seat() -> None:
    members = [
        ("w-0", "connect-10.0.0.1:8083", "/10.0.0.1"),
        ("w-1", "connect-10.0.0.2:8083", "/10.0.0.2"),
        (None, "connect-10.0.0.3:8083", "/10.0.0.3"),
    ]
    # Its own previous run (the same worker id): nothing to say.
    assert seat_holder_warning(members, "w-1", "connect-10.0.0.2:8083") is None
    # Nobody holds the seat.
    assert seat_holder_warning(members, "w-2", "connect-10.0.0.9:8083") is None
    warning = seat_holder_warning(members, "w-1", "connect-10.0.0.9:8083")
    assert warning is not None
    assert warning.startswith("group.instance.id='w-1' is held by another member")
    assert "'connect-10.0.0.2:8083'" in warning
    assert "give each worker its own group.instance.id" in warning


def test_a_session_timeout_the_broker_refuses_names_the_key() -> None:
    m = _membership()
    m._on_error(KafkaError(KafkaError.INVALID_SESSION_TIMEOUT, "Broker: Invalid session timeout"))
    assert m.wait_joined(600.0) is False
    assert m.failure is not None
    assert m.failure.startswith("session.timeout.ms=10000 is outside the range the broker accepts")
