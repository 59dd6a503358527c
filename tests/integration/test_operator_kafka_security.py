"""The worker config the operator writes for `tls` and `authentication`, run by a real worker
against the secured broker, and the operator's cleanup client with the same credentials.

A worker pod reads the referenced Secrets from volumes under `kafka_security.SECRETS_DIR`; here
the same keys are files under a test directory, and the rendered worker file points there
instead. Everything else is what the operator writes: the keys under every client prefix and the
`kafkasecrets` config provider, which the worker resolves itself.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kconnect.config.properties import parse_properties
from kconnect_devenv import oidc_issuer, secured_kafka
from kconnect_operator.core import kafka_security
from kconnect_operator.core.manifests import CONFIG_KEY, render_properties
from kconnect_operator.kafkaconnector import cleanup
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec
from kconnect_operator.standaloneconnect import build as sa_build
from kconnect_operator.standaloneconnect.model import StandaloneConnectSpec
from tests.support.workers import Standalone, wait_until

pytestmark = pytest.mark.timeout(240)

OWNER = sa_build.Owner(name="secured", namespace="test", uid="uid-1")
CA = {"trustedCertificates": [{"secretName": "cluster-ca", "certificate": "ca.crt"}]}


@pytest.fixture(scope="module")
def secured_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[secured_kafka.SecuredBroker, oidc_issuer.Issuer]]:
    with secured_kafka.running(tmp_path_factory.mktemp("secured"), die_with_parent=True) as both:
        yield both


@pytest.fixture(scope="module")
def secured(
    secured_session: tuple[secured_kafka.SecuredBroker, oidc_issuer.Issuer],
) -> secured_kafka.SecuredBroker:
    return secured_session[0]


@pytest.fixture(scope="module")
def issuer(
    secured_session: tuple[secured_kafka.SecuredBroker, oidc_issuer.Issuer],
) -> oidc_issuer.Issuer:
    return secured_session[1]


def secrets(b: secured_kafka.SecuredBroker) -> dict[str, dict[str, str]]:
    """The Secrets a Strimzi cluster and KafkaUser would have for the `worker` user."""
    return {
        "cluster-ca": {"ca.crt": b.pki.ca.read_text()},
        "worker": {
            "password": secured_kafka.USERS["worker"],
            "user.crt": b.pki.client_cert("worker").read_text(),
            "user.key": b.pki.client_key("worker").read_text(),
        },
        "oauth": {"client-secret": secured_kafka.oauth_clients()["worker-client"][0]},
    }


def facts(data: dict[str, dict[str, str]]) -> dict[str, kafka_security.SecretFacts]:
    return {
        name: kafka_security.secret_facts(
            f"uid-{name}", {k: base64.b64encode(v.encode()).decode() for k, v in keys.items()}
        )
        for name, keys in data.items()
    }


def fields(case: str, b: secured_kafka.SecuredBroker, issuer: oidc_issuer.Issuer) -> dict[str, Any]:
    password = {"secretName": "worker", "password": "password"}
    if case == "scram-sha-512 over TLS":
        auth = {"type": "scram-sha-512", "username": "worker", "passwordSecret": password}
        return {"bootstrapServers": b.bootstrap("SASL_SSL"), "tls": CA, "authentication": auth}
    if case == "plain over TLS":
        auth = {"type": "plain", "username": "worker", "passwordSecret": password}
        return {"bootstrapServers": b.bootstrap("SASL_SSL"), "tls": CA, "authentication": auth}
    if case == "scram-sha-256 without TLS":
        auth = {"type": "scram-sha-256", "username": "worker", "passwordSecret": password}
        return {"bootstrapServers": b.bootstrap("SASL_PLAINTEXT"), "authentication": auth}
    if case == "mutual TLS":
        auth = {
            "type": "tls",
            "certificateAndKey": {
                "secretName": "worker",
                "certificate": "user.crt",
                "key": "user.key",
            },
        }
        return {"bootstrapServers": b.bootstrap("SSL"), "tls": CA, "authentication": auth}
    if case == "oauth over TLS":
        auth = {
            "type": "oauth",
            "clientId": "worker-client",
            "clientSecret": {"secretName": "oauth", "key": "client-secret"},
            "tokenEndpointUri": issuer.token_url,
            "scope": "connect",
        }
        return {"bootstrapServers": b.bootstrap("SASL_SSL"), "tls": CA, "authentication": auth}
    raise AssertionError(case)


CASES = (
    "scram-sha-512 over TLS",
    "plain over TLS",
    "scram-sha-256 without TLS",
    "mutual TLS",
    "oauth over TLS",
)


def pod_worker_file(
    spec: StandaloneConnectSpec, data: dict[str, dict[str, str]], root: Path
) -> dict[str, str]:
    """The worker file the operator writes, as the pod reads it, with the Secret volumes as
    files under `root`."""
    for name, keys in data.items():
        (root / name).mkdir(parents=True)
        for key, value in keys.items():
            (root / name / key).write_text(value)
    text = render_properties(sa_build.worker_properties(spec, OWNER, facts(data)))
    for keys in data.values():
        for value in keys.values():
            assert value not in text
    return parse_properties(text.replace(kafka_security.SECRETS_DIR, str(root)), CONFIG_KEY)


@pytest.mark.parametrize("case", CASES)
def test_the_operators_worker_config_moves_records(
    case: str, secured: secured_kafka.SecuredBroker, issuer: oidc_issuer.Issuer, tmp_path: Path
) -> None:
    data = secrets(secured)
    spec = StandaloneConnectSpec.model_validate(fields(case, secured, issuer))
    worker_file = pod_worker_file(spec, data, tmp_path / "secrets")
    s = Standalone(tmp_path, secured.plaintext_bootstrap)
    topic = f"secured-op-{uuid.uuid4().hex[:8]}"
    lines = [f"{case}-{i}" for i in range(10)]
    (tmp_path / "in.txt").write_text("".join(f"{line}\n" for line in lines))
    connectors = [
        {
            "name": "source",
            "connector.class": "FileStreamSource",
            "file": str(tmp_path / "in.txt"),
            "topic": topic,
        },
        {
            "name": "sink",
            "connector.class": "FileStreamSink",
            "file": str(tmp_path / "out.txt"),
            "topics": topic,
        },
    ]
    try:
        worker = s.start(
            connectors,
            worker={
                **worker_file,
                **s.worker_props(),
                "bootstrap.servers": spec.bootstrap_servers,
                "file.connectors.enable": "true",
            },
        )
        out = tmp_path / "out.txt"
        wait_until(
            f"the records to pass through Kafka with {case}",
            lambda: out.exists() and out.read_text().splitlines() == lines,
        )
        log = worker.log()
        for keys in data.values():
            for value in keys.values():
                assert value.strip() not in log
    finally:
        s.close()


def test_cleanup_deletes_with_the_same_credentials(secured: secured_kafka.SecuredBroker) -> None:
    topic = f"secured-cleanup-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": secured.plaintext_bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    spec = KafkaConnectorSpec.model_validate(
        {
            "class": "DataGen",
            "bootstrapServers": secured.bootstrap("SASL_SSL"),
            "tls": CA,
            "authentication": {
                "type": "scram-sha-512",
                "username": "worker",
                "passwordSecret": {"secretName": "worker", "password": "password"},
            },
        }
    )
    config = cleanup.client_config(spec, secrets(secured))
    report = cleanup.delete_kafka_state(config, cleanup.KafkaState(topics=(topic,), groups=()))
    assert report.errors == ()
    assert report.deleted_topics == (topic,)
