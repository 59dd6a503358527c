import pytest
from confluent_kafka import KafkaError, KafkaException

from kconnect.worker.client_errors import Failures, exception_hint, unrecoverable


@pytest.mark.parametrize(
    ("code", "text", "conf", "expected"),
    [
        (
            KafkaError._AUTHENTICATION,
            "SASL authentication error: Authentication failed during authentication due to "
            "invalid credentials with SASL mechanism SCRAM-SHA-512",
            {"sasl.mechanism": "SCRAM-SHA-512"},
            "wrong password or unknown user",
        ),
        (
            KafkaError._AUTHENTICATION,
            "Failed to acquire SASL OAUTHBEARER token: Connection refused",
            {"sasl.mechanism": "OAUTHBEARER"},
            "no OAuth token could be fetched",
        ),
        (
            KafkaError._AUTHENTICATION,
            'SASL authentication error: {"status":"invalid_token"}',
            {"sasl.mechanism": "OAUTHBEARER"},
            "the OAuth token was refused",
        ),
        (
            KafkaError._TRANSPORT,
            "Receive failed: error:0A000412:SSL routines::ssl/tls alert bad certificate",
            {},
            "the broker refused this client's certificate",
        ),
        (
            KafkaError.TOPIC_AUTHORIZATION_FAILED,
            "Broker: Topic authorization failed",
            {},
            "missing ACL: the client's principal is not allowed to use a topic",
        ),
    ],
)
def test_errors_no_retry_fixes_say_which_they_are(
    code: int, text: str, conf: dict[str, object], expected: str
) -> None:
    message = unrecoverable(KafkaError(code, text), conf)
    assert message is not None
    assert expected in message
    assert text in message


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (KafkaError._TRANSPORT, "Connect to ipv4#127.0.0.1:9092 failed: Connection refused"),
        (KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"),
        (KafkaError._TIMED_OUT, "Timed out"),
    ],
)
def test_errors_that_pass_on_their_own_are_not_failures(code: int, text: str) -> None:
    assert unrecoverable(KafkaError(code, text), {}) is None


def test_failures_keeps_the_first_reason() -> None:
    failures = Failures()
    failures(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    assert failures.reason is None
    failures(KafkaError(KafkaError._AUTHENTICATION, "invalid credentials"))
    failures(KafkaError(KafkaError._TRANSPORT, "ssl/tls alert bad certificate"))
    assert failures.reason is not None
    assert "wrong password" in failures.reason


def test_a_fatal_authorization_exception_gets_a_hint() -> None:
    error = KafkaException(
        KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED, "Failed to acquire idempotence PID")
    )
    hint = exception_hint(error)
    assert hint is not None
    assert "IdempotentWrite" in hint
    assert exception_hint(ValueError("x")) is None


def test_a_task_rides_out_a_short_token_endpoint_outage() -> None:
    now = [0.0]
    failures = Failures({"sasl.mechanism": "OAUTHBEARER"}, token_grace_s=60, clock=lambda: now[0])
    token_failure = KafkaError(
        KafkaError._AUTHENTICATION, "Failed to acquire SASL OAUTHBEARER token: Could not connect"
    )
    for now[0] in (0.0, 10.0, 20.0):  # an outage of 20 s, then tokens again
        failures(token_failure)
    assert failures.reason is None
    for now[0] in (100.0, 110.0, 120.0, 130.0, 140.0, 150.0):  # a new outage, under the grace
        failures(token_failure)
    assert failures.reason is None
    now[0] = 160.0  # the same outage has lasted 60 s
    failures(token_failure)
    assert failures.reason is not None
    assert "no OAuth token could be fetched" in failures.reason


def test_other_failures_need_no_grace() -> None:
    failures = Failures({}, token_grace_s=60, clock=lambda: 0.0)
    failures(KafkaError(KafkaError._AUTHENTICATION, "invalid credentials"))
    assert failures.reason is not None
