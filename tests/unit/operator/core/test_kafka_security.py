"""The workers' Kafka security fields (`tls`, `authentication`): what the model admits, the worker
file and volumes they become (read back by the worker's own config providers and client
translation), the config hash that rolls the pods on a rotated Secret, the in-memory config of the
operator's cleanup client, and the status reasons of the failures the workers report."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kconnect.config.properties import parse_properties
from kconnect.config.providers import ConfigTransformer
from kconnect.errors import ConfigError
from kconnect.worker import clients
from kconnect_operator.core import kafka_security, status
from kconnect_operator.core.kafka_security import SecretFacts, SecretReferenceError, secret_facts
from kconnect_operator.core.manifests import CONFIG_KEY, render_properties
from kconnect_operator.core.options import OperatorOptions
from kconnect_operator.core.shapes import Condition, ConditionStatus, KafkaAccessReason, ReadyReason
from kconnect_operator.kafkaconnector import build as kc_build
from kconnect_operator.kafkaconnector import cleanup
from kconnect_operator.kafkaconnector.decide import Observed, decide
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec
from kconnect_operator.standaloneconnect import build as sa_build
from kconnect_operator.standaloneconnect import decide as sa_decide
from kconnect_operator.standaloneconnect.model import StandaloneConnectSpec
from tests.unit.operator.kafkaconnector.test_pass import observed

OWNER = kc_build.Owner(name="orders", namespace="shop", uid="u-1")
SA_OWNER = sa_build.Owner(name="files", namespace="shop", uid="u-2")
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

PASSWORD = "s3cr3t-Pa55word"  # noqa: S105 (a test value, looked for in what is built)
CLIENT_SECRET = "client-s3cr3t"  # noqa: S105
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIBVQ-private-key\n-----END PRIVATE KEY-----\n"
CA_PEM = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
USER_PEM = "-----BEGIN CERTIFICATE-----\nUSER\n-----END CERTIFICATE-----\n"

# A Strimzi KafkaUser's Secret and its cluster CA Secret, as the API serves them.
SECRETS: dict[str, dict[str, str]] = {
    "my-cluster-cluster-ca-cert": {"ca.crt": CA_PEM, "ca.p12": "p12", "ca.password": "x"},
    "connect": {
        "ca.crt": CA_PEM,
        "user.crt": USER_PEM,
        "user.key": KEY_PEM,
        "user.p12": "p12",
        "user.password": "p12-password",
        "password": PASSWORD,
        "sasl.jaas.config": f'... password="{PASSWORD}";',
    },
    "oauth": {"client-secret": CLIENT_SECRET, "idp.crt": CA_PEM},
}
UIDS = {"my-cluster-cluster-ca-cert": "uid-ca", "connect": "uid-user", "oauth": "uid-oauth"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def facts(secrets: dict[str, dict[str, str]] = SECRETS) -> dict[str, SecretFacts]:
    return {
        name: secret_facts(UIDS.get(name, "uid"), {k: b64(v) for k, v in data.items()})
        for name, data in secrets.items()
    }


TLS = {
    "trustedCertificates": [{"secretName": "my-cluster-cluster-ca-cert", "certificate": "ca.crt"}]
}
SCRAM = {
    "type": "scram-sha-512",
    "username": "connect",
    "passwordSecret": {"secretName": "connect", "password": "password"},
}
MTLS = {
    "type": "tls",
    "certificateAndKey": {"secretName": "connect", "certificate": "user.crt", "key": "user.key"},
}
OAUTH = {
    "type": "oauth",
    "clientId": "kconnect",
    "clientSecret": {"secretName": "oauth", "key": "client-secret"},
    "tokenEndpointUri": "https://idp.example/token",
    "scope": "kafka",
    "tlsTrustedCertificates": [{"secretName": "oauth", "certificate": "idp.crt"}],
}


def spec(**extra: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9093", **extra}
    )


def props(
    the_spec: KafkaConnectorSpec, secrets: dict[str, SecretFacts] | None = None
) -> dict[str, str]:
    return kc_build.worker_properties(the_spec, OWNER, facts() if secrets is None else secrets)


# -- the model


@pytest.mark.parametrize("auth", [SCRAM, MTLS, OAUTH, {**SCRAM, "type": "plain"}])
def test_each_authentication_type_is_admitted(auth: dict[str, Any]) -> None:
    assert spec(tls=TLS, authentication=auth).authentication is not None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"authentication": MTLS}, "authentication type tls (mutual TLS) needs tls"),
        ({"authentication": {"type": "scram-sha-256"}}, "needs username, passwordSecret"),
        (
            {"authentication": {**SCRAM, "clientId": "x"}},
            "authentication type scram-sha-512 does not take clientId",
        ),
        ({"authentication": {**MTLS, "username": "u"}, "tls": {}}, "does not take username"),
        ({"authentication": {"type": "kerberos"}}, "'tls', 'scram-sha-256'"),
        (
            {"tls": {"trustedCertificates": [{"secretName": "ca"}]}},
            "exactly one of certificate",
        ),
        (
            {
                "tls": {
                    "trustedCertificates": [
                        {"secretName": "ca", "certificate": "a", "pattern": "*"}
                    ]
                }
            },
            "exactly one of certificate",
        ),
        ({"authentication": {**SCRAM, "username": "a\nb"}}, "username"),
        (
            {
                "authentication": {
                    **SCRAM,
                    "passwordSecret": {"secretName": "Bad_Name", "password": "p"},
                }
            },
            "secretName",
        ),
        (
            {
                "authentication": {
                    **SCRAM,
                    "passwordSecret": {"secretName": "s", "password": "../x"},
                }
            },
            "password",
        ),
        (
            {"authentication": {**SCRAM, "passwordSecret": {"secretName": "s", "password": ".."}}},
            "'..' is not a Secret key",
        ),
        ({"authentication": {**OAUTH, "tokenEndpointUri": 'https://x/"t'}}, "tokenEndpointUri"),
        (
            {"authentication": {**OAUTH, "tokenEndpointUri": "file:///etc/passwd"}},
            "tokenEndpointUri",
        ),
        ({"tls": {"trustedCertificates": "ca.crt"}}, "trustedCertificates"),
    ],
)
def test_hostile_fields_are_refused_naming_them(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(
        ValidationError,
        match="(?s)" + message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*"),
    ):
        spec(**fields)


def test_standalone_has_the_same_fields() -> None:
    sa = StandaloneConnectSpec.model_validate(
        {"bootstrapServers": "kafka:9093", "tls": TLS, "authentication": SCRAM}
    )
    worker = sa_build.worker_properties(sa, SA_OWNER, facts())
    assert worker["producer.sasl.mechanism"] == "SCRAM-SHA-512"
    with pytest.raises(ValidationError, match="needs tls"):
        StandaloneConnectSpec.model_validate({"bootstrapServers": "k:1", "authentication": MTLS})


# -- the worker file and volumes


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"tls": TLS, "authentication": SCRAM},
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "SCRAM-SHA-512",
                "ssl.truststore.type": "PEM",
            },
        ),
        (
            {"tls": TLS, "authentication": MTLS},
            {"security.protocol": "SSL", "ssl.keystore.type": "PEM"},
        ),
        ({"tls": {}}, {"security.protocol": "SSL"}),
        (
            {"authentication": {**SCRAM, "type": "plain"}},
            {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"},
        ),
        (
            {"tls": TLS, "authentication": OAUTH},
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "OAUTHBEARER",
                "sasl.oauthbearer.token.endpoint.url": "https://idp.example/token",
                "https.ca.location": "/opt/kconnect/kafka-secrets/oauth/idp.crt",
            },
        ),
    ],
)
def test_every_client_prefix_gets_the_security_keys(
    fields: dict[str, Any], expected: dict[str, str]
) -> None:
    worker = props(spec(**fields))
    for prefix in ("", "producer.", "consumer.", "admin."):
        for key, value in expected.items():
            assert worker[prefix + key] == value
    assert worker["config.providers"].split(",")[-1] == "kafkasecrets"


def test_no_secret_value_reaches_a_child() -> None:
    for auth in (SCRAM, MTLS, OAUTH):
        children = kc_build.build_children(
            spec(tls=TLS, authentication=auth),
            OWNER,
            image="img",
            secret_versions={},
            operator_namespace="ops",
            kafka_secrets=facts(),
        )
        text = json.dumps(children)
        for value in (PASSWORD, CLIENT_SECRET, KEY_PEM, "MIIBVQ", b64(PASSWORD), b64(KEY_PEM)):
            assert value not in text


def test_the_secrets_are_mounted_read_only_and_nothing_else_is_new() -> None:
    deployment = kc_build.build_stateful_set(
        spec(tls=TLS, authentication=SCRAM),
        OWNER,
        image="img",
        secret_versions={},
        kafka_secrets=facts(),
    )
    pod = deployment["spec"]["template"]["spec"]
    secret_volumes = {v["secret"]["secretName"]: v for v in pod["volumes"] if "secret" in v}
    assert set(secret_volumes) == {"connect", "my-cluster-cluster-ca-cert"}
    assert all(v["secret"]["defaultMode"] == 0o440 for v in secret_volumes.values())
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/opt/kconnect/kafka-secrets/connect"]["readOnly"] is True
    env = json.dumps(pod["containers"][0]["env"])
    assert "secretKeyRef" not in env


def _materialize(worker: dict[str, str], root: Path) -> dict[str, str]:
    """The worker file as the worker reads it in the pod, with the Secret volumes under `root`:
    written, read back and resolved by the worker's own config providers."""
    for name, data in SECRETS.items():
        (root / name).mkdir(parents=True)
        for key, value in data.items():
            (root / name / key).write_text(value)
    text = render_properties(worker).replace(kafka_security.SECRETS_DIR, str(root))
    read = parse_properties(text, CONFIG_KEY)
    return ConfigTransformer.from_worker_props(read).transform(read)


def test_the_worker_reads_the_secrets_through_its_config_provider(tmp_path: Path) -> None:
    scram = _materialize(props(spec(tls=TLS, authentication=SCRAM)), tmp_path / "scram")
    for conf in (
        clients.admin_config(scram),
        clients.producer_config(scram, {}, connector="c", task=0, policy="None"),
        clients.consumer_config(scram, {}, connector="c", task=0, policy="None"),
    ):
        assert conf["sasl.username"] == "connect"
        assert conf["sasl.password"] == PASSWORD
        assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
        assert conf["ssl.ca.pem"] == CA_PEM
    mtls = _materialize(props(spec(tls=TLS, authentication=MTLS)), tmp_path / "mtls")
    admin = clients.admin_config(mtls)
    assert admin["ssl.key.pem"] == KEY_PEM
    assert admin["ssl.certificate.pem"] == USER_PEM
    assert admin["security.protocol"] == "SSL"
    oauth = _materialize(props(spec(tls=TLS, authentication=OAUTH)), tmp_path / "oauth")
    admin = clients.admin_config(oauth)
    assert admin["sasl.oauthbearer.client.id"] == "kconnect"
    assert admin["sasl.oauthbearer.client.secret"] == CLIENT_SECRET
    assert admin["sasl.oauthbearer.method"] == "oidc"
    assert admin["https.ca.location"].endswith("/oauth/idp.crt")


def test_a_pattern_trusts_every_matching_key() -> None:
    worker = props(
        spec(tls={"trustedCertificates": [{"secretName": "connect", "pattern": "*.crt"}]})
    )
    variables = worker["ssl.truststore.certificates"].split("\n")
    assert variables == [
        "${kafkasecrets:/opt/kconnect/kafka-secrets/connect:ca.crt}",
        "${kafkasecrets:/opt/kconnect/kafka-secrets/connect:user.crt}",
    ]


@pytest.mark.parametrize(
    ("secrets", "fields", "message"),
    [
        (
            {},
            {"tls": TLS},
            "spec.tls.trustedCertificates: Secret 'my-cluster-cluster-ca-cert' does not exist",
        ),
        (
            {"connect": {"user.crt": USER_PEM}},
            {"tls": {}, "authentication": MTLS},
            "certificateAndKey.key: Secret 'connect' has no key 'user.key' (it has user.crt)",
        ),
        (
            {"connect": {"password": PASSWORD}},
            {"tls": {"trustedCertificates": [{"secretName": "connect", "pattern": "*.crt"}]}},
            "no key of Secret 'connect' matches pattern '*.crt'",
        ),
    ],
)
def test_a_missing_secret_or_key_is_named(
    secrets: dict[str, dict[str, str]], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(SecretReferenceError) as raised:
        props(spec(**fields), facts(secrets))
    assert message in str(raised.value)
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize(
    "key",
    [
        "sasl.jaas.config",
        "producer.sasl.jaas.config",
        "admin.security.protocol",
        "consumer.ssl.truststore.location",
        "ssl.keystore.location",
        "config.providers.kafkasecrets.class",
    ],
)
def test_worker_config_may_not_set_what_the_fields_manage(key: str) -> None:
    with pytest.raises(ConfigError, match=f"spec.workerConfig sets {key}"):
        props(spec(tls=TLS, authentication=SCRAM, workerConfig={key: "x"}))


def test_worker_config_keeps_tuning_and_its_own_providers() -> None:
    worker = props(
        spec(
            tls=TLS,
            authentication=SCRAM,
            workerConfig={
                "ssl.endpoint.identification.algorithm": "",
                "config.providers": "vault",
                "config.providers.vault.class": "mypkg.vault:Provider",
            },
        )
    )
    assert worker["ssl.endpoint.identification.algorithm"] == ""
    assert worker["config.providers"] == "vault,kafkasecrets"
    # Without the fields, a workerConfig with its own security keys is left alone.
    plain = props(spec(workerConfig={"sasl.jaas.config": "x", "security.protocol": "SASL_SSL"}))
    assert "config.providers.kafkasecrets.class" not in plain


def test_oauth_takes_one_token_endpoint_certificate() -> None:
    auth = {**OAUTH, "tlsTrustedCertificates": [{"secretName": "oauth", "pattern": "*"}]}
    with pytest.raises(ConfigError, match="expected one certificate"):
        props(spec(tls=TLS, authentication=auth))


# -- rolling on rotation


def _hash(secrets: dict[str, dict[str, str]], uids: dict[str, str] = UIDS) -> str:
    the_facts = {
        n: secret_facts(uids.get(n, "uid"), {k: b64(v) for k, v in d.items()})
        for n, d in secrets.items()
    }
    return kc_build.config_hash(spec(tls=TLS, authentication=SCRAM), OWNER, {}, None, the_facts)


def test_a_rotated_password_changes_the_hash_and_nothing_else_does() -> None:
    before = _hash(SECRETS)
    rotated = {**SECRETS, "connect": {**SECRETS["connect"], "password": "n3w-password"}}
    unrelated = {**SECRETS, "connect": {**SECRETS["connect"], "user.p12": "other"}}
    assert _hash(rotated) != before
    assert _hash(unrelated) == before
    assert _hash(SECRETS) == before
    # a digest is keyed by the Secret's uid: the same password elsewhere digests differently
    assert secret_facts("a", {"p": "x"}).digests != secret_facts("b", {"p": "x"}).digests


def test_a_resource_without_the_fields_keeps_its_hash() -> None:
    plain = spec()
    assert kc_build.config_hash(plain, OWNER, {}, None, facts()) == kc_build.config_hash(
        plain, OWNER, {}
    )


# -- the operator's own cleanup client


def test_the_cleanup_client_holds_the_secrets_in_memory() -> None:
    for auth, expected in (
        (SCRAM, {"sasl.username": "connect", "sasl.password": PASSWORD, "ssl.ca.pem": CA_PEM}),
        (MTLS, {"ssl.key.pem": KEY_PEM, "ssl.certificate.pem": USER_PEM}),
        (
            OAUTH,
            {"sasl.oauthbearer.client.secret": CLIENT_SECRET, "https.ca.pem": CA_PEM},
        ),
    ):
        conf = cleanup.client_config(spec(tls=TLS, authentication=auth), SECRETS)
        for key, value in expected.items():
            assert conf[key] == value
        assert not any("location" in key for key in conf)
    with pytest.raises(SecretReferenceError, match="Secret 'connect' does not exist"):
        cleanup.client_config(spec(authentication=SCRAM), {})


def test_a_quote_in_a_password_survives_the_jaas_config() -> None:
    secrets = {**SECRETS, "connect": {"password": 'a"b\\c'}}
    conf = cleanup.client_config(spec(authentication=SCRAM), secrets)
    assert conf["sasl.password"] == 'a"b\\c'


# -- failures in the status


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            "kconnect: error: cannot use Kafka at bootstrap.servers=k:1: authentication failed: "
            "wrong password or unknown user (check sasl.jaas.config and sasl.mechanism): x",
            KafkaAccessReason.AUTHENTICATION_FAILED,
        ),
        (
            "authentication failed: no OAuth token could be fetched from "
            "sasl.oauthbearer.token.endpoint.url (is it reachable?)",
            KafkaAccessReason.TOKEN_ENDPOINT_UNREACHABLE,
        ),
        (
            "TLS: the broker's certificate was not accepted: the certificate has expired",
            KafkaAccessReason.TLS_FAILED,
        ),
        (
            "TLS handshake refused by the broker (check security.protocol and ssl.*): alert",
            KafkaAccessReason.TLS_FAILED,
        ),
        (
            "missing ACL: the client's principal is not allowed to use a topic",
            KafkaAccessReason.AUTHORIZATION_FAILED,
        ),
        ("the worker exited with code 1", None),
    ],
)
def test_a_workers_kafka_error_names_its_reason(
    message: str, reason: KafkaAccessReason | None
) -> None:
    assert status.kafka_access_reason(message) == reason


def _crashing(message: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "orders-connect-a"},
        "status": {
            "containerStatuses": [
                {
                    "name": "worker",
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "message": message}},
                }
            ]
        },
    }


def _observed(the_spec: KafkaConnectorSpec, **overrides: Any) -> Observed:
    """A pass over a resource with no ready worker (`test_pass.observed`'s defaults otherwise),
    whose Secrets exist."""
    fields: dict[str, Any] = {
        "spec": the_spec,
        "owner": OWNER,
        "pods": [],
        "connector": None,
        "kafka_secrets": facts(),
    }
    return observed(**{**fields, **overrides})


def test_a_wrong_password_is_a_ready_reason_and_a_warning() -> None:
    crash = _crashing(
        "INFO starting\nkconnect: error: cannot use Kafka at bootstrap.servers=kafka:9093: "
        "authentication failed: wrong password or unknown user (check sasl.jaas.config and "
        "sasl.mechanism): SASL authentication error"
    )
    decision = decide(_observed(spec(tls=TLS, authentication=SCRAM), pods=[crash]))
    (condition,) = decision.status.conditions
    assert condition.status == ConditionStatus.FALSE
    assert condition.reason == "KafkaAuthenticationFailed"
    assert "wrong password" in condition.message
    event = status.cause_event([], decision.status.conditions)
    assert event is not None
    assert event[0] == "KafkaAuthenticationFailed"
    # the same cause on the next pass is not a new Event
    assert status.cause_event(decision.status.conditions, decision.status.conditions) is None


def test_a_missing_secret_is_its_own_reason_and_nothing_is_applied() -> None:
    decision = decide(_observed(spec(tls=TLS, authentication=SCRAM), kafka_secrets={}))
    (condition,) = decision.status.conditions
    assert condition.reason == "KafkaSecretMissing"
    assert (
        "Secret 'connect' does not exist" in condition.message
        or "does not exist" in condition.message
    )
    assert decision.actions == ()
    sa = StandaloneConnectSpec.model_validate(
        {"bootstrapServers": "kafka:9093", "tls": TLS, "authentication": SCRAM}
    )
    sa_decision = sa_decide.decide(
        sa_decide.Observed(
            spec=sa,
            owner=SA_OWNER,
            generation=1,
            previous=None,
            options=OperatorOptions(),
            secret_versions={},
            config_map_versions={},
            live={},
            pods=[],
            now=NOW,
        )
    )
    assert sa_decision.status.conditions[0].reason == "KafkaSecretMissing"


def test_a_failed_task_for_a_missing_acl_is_named() -> None:
    condition = status.ready(
        ConditionStatus.FALSE,
        ReadyReason.TASK_FAILED,
        "1 of 1 tasks FAILED (0); task 0 on w: missing ACL: the client's principal is not "
        "allowed to use a topic",
        previous=[],
        generation=1,
        now=NOW,
    )
    assert condition.reason == "KafkaAuthorizationFailed"
    pending: list[Condition] = [
        status.ready(
            ConditionStatus.FALSE,
            ReadyReason.PENDING,
            "authentication failed: in a message that is not a failure",
            previous=[],
            generation=1,
            now=NOW,
        )
    ]
    assert pending[0].reason == "Pending"


@pytest.mark.parametrize("password", [f"{PASSWORD}\n", 'a"b', "a\\b"])
def test_a_password_a_jaas_config_cannot_quote_is_refused_without_it(password: str) -> None:
    secrets = {**SECRETS, "connect": {"password": password}}
    with pytest.raises(ConfigError, match="key 'password' in Secret 'connect' is not text") as e:
        props(spec(tls=TLS, authentication=SCRAM), facts(secrets))
    assert password.strip() not in str(e.value)
    # a certificate may end with a line break
    props(spec(tls=TLS), facts({**SECRETS, "my-cluster-cluster-ca-cert": {"ca.crt": CA_PEM}}))
