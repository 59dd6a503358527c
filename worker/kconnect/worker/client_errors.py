"""Kafka client errors that no retry fixes, told to people as what to fix.

librdkafka reports a failed SASL authentication or TLS handshake to `error_cb` and then retries
forever; a task would sit RUNNING with nothing in its status. Java's clients throw instead, and
the task fails. `unrecoverable` picks out these errors so a task fails the same way, with a
message that says which problem it is:

- a wrong password or unknown user (SASL PLAIN or SCRAM);
- an OAuth token that could not be fetched (token endpoint unreachable, client refused) or that
  the broker refused;
- a broker certificate that is not trusted, has expired, or was not issued for the host name
  (found by `tls_verify_reason`, which repeats the handshake with Python's `ssl` module and the
  same CA, since librdkafka's message does not say why verification failed);
- a client certificate the broker refused (mutual TLS);
- a missing ACL (authorization errors name the resource type).

Messages hold no secret: neither librdkafka's error text nor the checks here include one.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping

from confluent_kafka import KafkaError, KafkaException

_TLS_CHECK_TIMEOUT_S = 5.0
_BROKER = re.compile(r"\b(?:ssl|sasl_ssl)://([^:/\s]+):(\d+)")

# TLS alerts a server sends when it refuses the client's certificate, or got none.
_REFUSED_CERTIFICATE = re.compile(
    r"alert (?:bad certificate|certificate required|unknown ca|certificate expired|"
    r"certificate revoked|certificate unknown|unsupported certificate)",
    re.IGNORECASE,
)

_AUTHORIZATION = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED: "a topic",
    KafkaError.GROUP_AUTHORIZATION_FAILED: "a consumer group",
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: (
        "the cluster (an idempotent producer needs Write on a topic or IdempotentWrite on the "
        "cluster)"
    ),
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED: "a transactional id",
}


def authorization_hint(code: int) -> str | None:
    """What the principal lacks an ACL on, for an authorization error code."""
    what = _AUTHORIZATION.get(code)
    if what is None:
        return None
    return (
        f"missing ACL: the client's principal is not allowed to use {what}; grant it the ACLs "
        "a Connect worker needs (see docs/security.md)"
    )


def exception_hint(error: BaseException) -> str | None:
    """The authorization hint for a client's exception (a fatal error raised by `poll`)."""
    if isinstance(error, KafkaException) and error.args and isinstance(error.args[0], KafkaError):
        return authorization_hint(error.args[0].code())
    return None


def unrecoverable(err: KafkaError, conf: Mapping[str, object]) -> str | None:
    """A message for people if `err` (from a client built with `conf`) is an authentication,
    TLS or authorization failure; None for errors that pass on their own."""
    text = err.str()
    code = err.code()
    hint = authorization_hint(code)
    if hint is not None:
        return f"{hint} ({text})"
    if code == KafkaError._AUTHENTICATION:
        mechanism = str(conf.get("sasl.mechanism", "")).upper()
        if mechanism == "OAUTHBEARER" or "OAUTHBEARER" in text or "token" in text.lower():
            if "invalid_token" in text or "invalid_client" in text:
                why = "the OAuth token was refused (check the client id, secret and scope)"
            else:
                why = (
                    "no OAuth token could be fetched from sasl.oauthbearer.token.endpoint.url "
                    "(is the token endpoint reachable, and the client id and secret right?)"
                )
            return f"authentication failed: {why}: {text}"
        return (
            "authentication failed: wrong password or unknown user "
            f"(check sasl.jaas.config and sasl.mechanism): {text}"
        )
    if code in (KafkaError._SSL, KafkaError._TRANSPORT) and _REFUSED_CERTIFICATE.search(text):
        return (
            "TLS: the broker refused this client's certificate (mutual TLS): is it signed by a CA "
            f"the broker trusts, unexpired, and sent at all? check ssl.keystore.*: {text}"
        )
    if code == KafkaError._SSL and "certificate verify failed" in text:
        reason = tls_verify_reason(text, conf)
        return f"TLS: the broker's certificate was not accepted: {reason}: {text}"
    if code == KafkaError._SSL and "alert" in text:
        return f"TLS handshake refused by the broker (check security.protocol and ssl.*): {text}"
    return None


# librdkafka retries a failed token fetch every 10 s; failures further apart than this are separate
# episodes, with a working token in between.
_TOKEN_EPISODE_GAP_S = 30.0
TASK_TOKEN_GRACE_S = 60.0
"""How long a running task's client may fail to refresh its OAuth token before the task fails:
the token it holds stays valid meanwhile, so a short outage of the identity provider is ridden out,
as Java's login refresh thread rides it out."""


def is_token_fetch_failure(err: KafkaError) -> bool:
    return err.code() == KafkaError._AUTHENTICATION and "OAUTHBEARER token" in err.str()


class Failures:
    """An `error_cb` that notes the first error no retry fixes (`reason`), for a client made with
    `conf`. With `token_grace_s`, failures to fetch an OAuth token count only once they have gone
    on that long (a worker's start needs none: nothing works without a token)."""

    def __init__(
        self,
        conf: Mapping[str, object] | None = None,
        *,
        token_grace_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conf: dict[str, object] = dict(conf or {})
        self.reason: str | None = None
        self._grace = token_grace_s
        self._clock = clock
        self._token_since: float | None = None
        self._token_last = 0.0

    def __call__(self, err: KafkaError) -> None:
        if self.reason is not None:
            return
        reason = unrecoverable(err, self.conf)
        if reason is None:
            return
        if self._grace > 0 and is_token_fetch_failure(err):
            now = self._clock()
            if self._token_since is None or now - self._token_last > _TOKEN_EPISODE_GAP_S:
                self._token_since = now
            self._token_last = now
            if now - self._token_since < self._grace:
                return
        self.reason = reason


def tls_verify_reason(text: str, conf: Mapping[str, object]) -> str:
    """Why the broker named in `text` fails certificate verification with `conf`'s CA:
    untrusted, expired or issued for another host name."""
    match = _BROKER.search(text)
    fallback = "untrusted, expired or issued for another host name"
    if match is None:
        return fallback
    host, port = match.group(1), int(match.group(2))
    context = ssl.create_default_context()
    try:
        if conf.get("ssl.ca.pem"):
            context = ssl.create_default_context(cadata=str(conf["ssl.ca.pem"]))
        elif conf.get("ssl.ca.location"):
            context = ssl.create_default_context(cafile=str(conf["ssl.ca.location"]))
    except (OSError, ssl.SSLError, ValueError):
        return f"the CA in ssl.truststore.* cannot be loaded ({fallback})"
    context.check_hostname = (
        str(conf.get("ssl.endpoint.identification.algorithm", "https")) != "none"
    )
    try:
        with (
            socket.create_connection((host, port), timeout=_TLS_CHECK_TIMEOUT_S) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            return fallback
    except ssl.SSLCertVerificationError as e:
        reason = str(e.verify_message or e)
        if "expired" in reason:
            return f"the certificate has expired ({reason})"
        if "mismatch" in reason.lower() or "not valid for" in reason:
            return (
                f"hostname mismatch: the certificate was not issued for {host} ({reason}); "
                "ssl.endpoint.identification.algorithm= turns the check off"
            )
        if "issuer" in reason or "self-signed" in reason or "self signed" in reason:
            return f"untrusted certificate: no CA in ssl.truststore.* signed it ({reason})"
        return reason
    except (OSError, ssl.SSLError):
        return fallback
