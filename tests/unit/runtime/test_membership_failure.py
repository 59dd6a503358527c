"""A worker's group seat that the authorizer refuses says so at once (no broker needed: the
error reaches the membership as librdkafka would hand it over)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from kconnect.herder.membership import Membership


def _membership() -> Membership:
    def ignore(_: frozenset[tuple[str, int]]) -> None:
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
