"""A secured Kafka broker for tests: TLS, mutual TLS, SASL (PLAIN, SCRAM, OAUTHBEARER) and ACLs.

It is the plain broker of :mod:`kconnect_devenv.kafka` (same jars, state directory and lifecycle)
with more listeners, on 127.0.0.1 (or, with ``start(host=...)``, on the address the real node's
pods reach the host at):

============== =============== ====================================================================
listener       protocol        what it checks
============== =============== ====================================================================
PLAINTEXT      PLAINTEXT       nothing; the broker's own traffic and the tests' admin client
                               (principal ``User:ANONYMOUS``, a super user)
SASL_SSL       SASL_SSL        PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER over TLS
SASL_PLAINTEXT SASL_PLAINTEXT  the same mechanisms without TLS
SSL            SSL             mutual TLS: a client certificate signed by the CA is required
WRONG_HOST     SSL             TLS with a certificate for ``wrong-host.invalid`` (hostname checks)
EXPIRED        SSL             TLS with a certificate that expired in 2000
============== =============== ====================================================================

Principals: SASL users and OAuth subjects are their names; a client certificate's principal is its
CN (``ssl.principal.mapping.rules``). :data:`USERS` lists who exists: ``worker`` is granted the
ACLs :func:`start` is given (everything, or :func:`connect_worker_acls`, the least a Connect worker
needs); ``stranger`` authenticates but is granted nothing, so it fails the way a worker with
missing ACLs does in production (``StandardAuthorizer``, ``allow.everyone.if.no.acl.found=false``).

SCRAM credentials are written by ``kafka-storage format --add-scram``, as Kafka documents for
KRaft. OAUTHBEARER tokens are validated by Kafka's own ``OAuthBearerValidatorCallbackHandler``
against the JWKS of an :class:`kconnect_devenv.oidc_issuer.Issuer` that the caller runs (the URL
must be allowed by the ``org.apache.kafka.sasl.oauthbearer.allowed.urls`` system property, which
:func:`start` sets). The issuer must be serving before :func:`start`: the broker reads the JWKS
when it starts.

``python -m kconnect_devenv.secured_kafka`` runs the broker and an issuer in the foreground, for
trying it by hand, and writes example client configs next to its state.

Failures are those of :func:`kconnect_devenv.kafka.start` (a failed start leaves nothing
running and shows the broker's log tail), plus :class:`~kconnect_devenv.kafka_pki.PkiError`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect.config.properties import format_properties
from kconnect_devenv import kafka, kafka_pki, oidc_issuer, processes
from kconnect_devenv.lifecycle import cache_root

MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
SASL_LISTENERS: Final = ("SASL_SSL", "SASL_PLAINTEXT")
TLS_LISTENERS: Final = {"SSL": "broker", "WRONG_HOST": "wrong-host", "EXPIRED": "expired"}

# name → SASL password; OAuth client ids are "<name>-client" with secret "<name>-client-secret".
USERS: Final = {"worker": "worker-secret", "stranger": "stranger-secret"}
GRANTED: Final = "worker"

# (resource type, name, pattern type, operation)
Acl = tuple[str, str, str, str]
# Everything: for a session that tests something other than ACLs.
ALL_ACLS: Final[tuple[Acl, ...]] = (
    ("TOPIC", "*", "LITERAL", "ALL"),
    ("GROUP", "*", "LITERAL", "ALL"),
    ("TRANSACTIONAL_ID", "*", "LITERAL", "ALL"),
)
ACL_TIMEOUT_S: Final = 30.0


def connect_worker_acls(group_prefix: str, topic_prefix: str) -> tuple[Acl, ...]:
    """The ACLs docs/security.md lists for a kconnect worker, with prefixed patterns: for
    clusters whose ``group.id`` starts with ``group_prefix`` (their internal topics are named
    ``<group.id>-configs`` ... and their task topics start with the group id too) and connectors
    whose topics (and dead-letter queues) start with ``topic_prefix``."""
    return (
        # Internal topics (created, read, written) and task topics (also grown and deleted).
        *(
            ("TOPIC", group_prefix, "PREFIXED", op)
            for op in ("CREATE", "READ", "WRITE", "ALTER", "DELETE")
        ),
        # The cluster's own group, and each sink connector's group `connect-<name>`.
        ("GROUP", group_prefix, "PREFIXED", "READ"),
        ("GROUP", "connect-", "PREFIXED", "READ"),
        # Connectors' topics: sources write, sinks read, dead-letter queues are created.
        *(("TOPIC", topic_prefix, "PREFIXED", op) for op in ("READ", "WRITE", "CREATE")),
    )


def oauth_clients() -> dict[str, tuple[str, str]]:
    """The issuer's clients: id → (secret, the subject its tokens carry)."""
    return {f"{name}-client": (f"{name}-client-secret", name) for name in USERS}


@dataclasses.dataclass(frozen=True)
class SecuredBroker:
    broker: kafka.Broker
    ports: Mapping[str, int]  # listener name → port
    pki: kafka_pki.Pki
    host: str = kafka.HOST
    """The address the secured listeners listen on and advertise."""

    def bootstrap(self, listener: str) -> str:
        return f"{self.host}:{self.ports[listener]}"

    @property
    def plaintext_bootstrap(self) -> str:
        return self.broker.bootstrap


def _jaas(mechanism: str) -> str:
    if mechanism == "PLAIN":
        users = " ".join(f'user_{name}="{password}"' for name, password in USERS.items())
        return f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};"
    if mechanism == "OAUTHBEARER":
        return "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
    return "org.apache.kafka.common.security.scram.ScramLoginModule required;"


def secured_config(pki: kafka_pki.Pki, *, jwks_url: str, issuer: str) -> dict[str, str]:
    """The ``server.properties`` entries that secure the extra listeners (pure)."""
    config = {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]*).*$/$1/,DEFAULT",
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(pki.broker_keystore()),
        "ssl.keystore.password": kafka_pki.STORE_PASSWORD,
        "ssl.key.password": kafka_pki.KEY_PASSWORD,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki.ca),
        "listener.name.ssl.ssl.client.auth": "required",
        "sasl.oauthbearer.jwks.endpoint.url": jwks_url,
        "sasl.oauthbearer.expected.issuer": issuer,
        "sasl.oauthbearer.expected.audience": "kafka",
        # Kafka 4.1's default, DefaultJwtValidator, built reflectively as it is here, has no key
        # resolver and falls back to ClientJwtValidator, which checks no signature at all.
        "sasl.oauthbearer.jwt.validator.class": (
            "org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator"
        ),
    }
    for name, kind in TLS_LISTENERS.items():
        if kind != "broker":
            prefix = f"listener.name.{name.lower()}."
            config[prefix + "ssl.keystore.type"] = "PKCS12"
            config[prefix + "ssl.keystore.location"] = str(pki.broker_keystore(kind))
            config[prefix + "ssl.keystore.password"] = kafka_pki.STORE_PASSWORD
            config[prefix + "ssl.key.password"] = kafka_pki.KEY_PASSWORD
    for listener in SASL_LISTENERS:
        prefix = f"listener.name.{listener.lower()}."
        config[prefix + "sasl.enabled.mechanisms"] = ",".join(MECHANISMS)
        for mechanism in MECHANISMS:
            config[f"{prefix}{mechanism.lower()}.sasl.jaas.config"] = _jaas(mechanism)
        config[prefix + "oauthbearer.sasl.server.callback.handler.class"] = (
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
        )
    return config


def scram_format_args() -> list[str]:
    """``kafka-storage format`` arguments that create every user for both SCRAM mechanisms."""
    args = []
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        for name, password in USERS.items():
            args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
    return args


def start(
    state_dir: Path,
    pki_root: Path,
    *,
    jwks_url: str,
    issuer: str,
    worker_acls: Sequence[Acl] = ALL_ACLS,
    die_with_parent: bool = False,
    host: str = kafka.HOST,
) -> SecuredBroker:
    """Start the secured broker for ``state_dir`` with the certificates in ``pki_root`` (made
    there unless present), and grant ``worker_acls`` to ``worker`` (``stranger`` gets none).

    ``host`` is where the secured listeners listen and what they advertise: loopback, or
    :data:`kconnect_devenv.nodenetwork.HOST_ADDRESS` for the real node's pods (the broker's
    certificate names both; the address must be up, as a control plane started for a node puts
    it). The PLAINTEXT listener of the super user stays on loopback."""
    pki = kafka_pki.ensure(pki_root)
    names = [*SASL_LISTENERS, *TLS_LISTENERS]
    ports = dict(zip(names, processes.free_ports(len(names)), strict=True))
    listeners = [kafka.Listener(name, _protocol(name), port, host) for name, port in ports.items()]
    broker = kafka.start(
        state_dir,
        overrides=secured_config(pki, jwks_url=jwks_url, issuer=issuer),
        extra_listeners=listeners,
        format_args=scram_format_args(),
        jvm_options=[f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={jwks_url}"],
        die_with_parent=die_with_parent,
    )
    try:
        grant(broker.bootstrap, f"User:{GRANTED}", worker_acls)
    except BaseException:
        kafka.stop(state_dir)
        raise
    return SecuredBroker(broker=broker, ports=ports, pki=pki, host=host)


@contextlib.contextmanager
def running(
    root: Path,
    *,
    worker_acls: Sequence[Acl] = ALL_ACLS,
    host: str = kafka.HOST,
    die_with_parent: bool = False,
) -> Iterator[tuple[SecuredBroker, oidc_issuer.Issuer]]:
    """The secured broker and the OIDC issuer whose tokens it accepts, under ``root``
    (``oidc/``, ``pki/``, ``broker/``), both stopped on exit. A broker left in ``root`` by an
    earlier run is stopped first: it knows another issuer's keys."""
    stop(root / "broker")
    with oidc_issuer.Issuer(root / "oidc", oauth_clients()) as issuer:
        broker = start(
            root / "broker",
            root / "pki",
            jwks_url=issuer.jwks_url,
            issuer=issuer.url,
            worker_acls=worker_acls,
            host=host,
            die_with_parent=die_with_parent,
        )
        try:
            yield broker, issuer
        finally:
            stop(root / "broker")


def _protocol(listener: str) -> str:
    return "SSL" if listener in TLS_LISTENERS else listener


def grant(
    plaintext_bootstrap: str,
    principal: str,
    acls: Sequence[Acl],
) -> None:
    """Allow ``principal`` each of ``acls`` from any host, through the super user's listener."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack re-exports
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": plaintext_bootstrap})
    bindings = [
        AclBinding(
            ResourceType[resource],
            name,
            ResourcePatternType[pattern],
            principal,
            "*",
            AclOperation[operation],
            AclPermissionType.ALLOW,
        )
        for resource, name, pattern, operation in acls
    ]
    for future in admin.create_acls(bindings, request_timeout=ACL_TIMEOUT_S).values():
        future.result(timeout=ACL_TIMEOUT_S)


def stop(state_dir: Path) -> None:
    kafka.stop(state_dir)


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.secured_kafka [--state-dir DIR]


def example_clients(b: SecuredBroker, token_url: str) -> dict[str, dict[str, str]]:
    """Client settings, as a Kafka Connect user writes them, for a few listeners (for people
    trying the broker by hand)."""
    trust = {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(b.pki.ca)}
    scram = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{GRANTED}" password="{USERS[GRANTED]}";'
    )
    client_id = f"{GRANTED}-client"
    oauth = (
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        f'clientId="{client_id}" clientSecret="{oauth_clients()[client_id][0]}";'
    )
    return {
        "sasl-ssl-scram": {
            "bootstrap.servers": b.bootstrap("SASL_SSL"),
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": scram,
            **trust,
        },
        "sasl-ssl-oauthbearer": {
            "bootstrap.servers": b.bootstrap("SASL_SSL"),
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.oauthbearer.token.endpoint.url": token_url,
            "sasl.jaas.config": oauth,
            **trust,
        },
        "mutual-tls": {
            "bootstrap.servers": b.bootstrap("SSL"),
            "security.protocol": "SSL",
            **trust,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(b.pki.client_keystore(GRANTED, "p12")),
            "ssl.keystore.password": kafka_pki.STORE_PASSWORD,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kconnect_devenv.secured_kafka",
        description="Run the secured test broker and its OIDC issuer in the foreground until "
        "Ctrl-C or SIGTERM; writes example client configs next to the state.",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=cache_root() / "run" / "secured-kafka",
        help="where the broker, certificates and example configs live "
        "(default: $KCONNECT_CACHE/run/secured-kafka)",
    )
    state = parser.parse_args(argv).state_dir
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    try:
        with running(state, die_with_parent=True) as (broker, issuer):
            print(f"PLAINTEXT (super user): {broker.plaintext_bootstrap}")
            for name, port in broker.ports.items():
                print(f"{name}: {kafka.HOST}:{port}")
            print(f"OIDC token endpoint: {issuer.token_url}; JWKS: {issuer.jwks_url}")
            for name, props in example_clients(broker, issuer.token_url).items():
                path = state / f"{name}.properties"
                path.write_text(format_properties(props), "ascii")
                print(f"client config: {path}")
            print("Ctrl-C stops the broker.", flush=True)
            done.wait()
    except (kafka.KafkaServiceError, kafka_pki.PkiError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
