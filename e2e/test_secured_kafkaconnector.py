"""KafkaConnectors against the secured broker, end to end on the real node: the operator from the
Helm chart, worker pods of the worker image, and `kconnect_devenv.secured_kafka` with its secured
listeners on the address the pods reach the host at.

- **SCRAM-SHA-512 over TLS** with `spec.tls` and `spec.authentication` naming Secrets shaped like a
  Strimzi cluster CA Secret and KafkaUser Secret: Ready, and records land in Kafka. **Rotating**
  the user's password (in Kafka, then in the Secret) rolls the worker pods, which come back Ready
  with the new password and keep moving records.
- **Mutual TLS** with the client certificate and key from a Secret: Ready, records land.
- **A StandaloneConnect** with the same fields (SCRAM-SHA-512 over TLS): Ready, records land.
- **A wrong password** is the Ready reason `KafkaAuthenticationFailed` and a Warning Event, and
  no password appears in the resource, its Events or the namespace's ConfigMaps.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # stubs lack re-exports
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from e2e.test_kafkaconnector import (
    connector_resource,
    events,
    record_count,
    unique,
    wait_condition,
    worker_pods,
)
from e2e.test_standaloneconnect import datagen, standalone, wait_ready
from kconnect_devenv import controlplane, nodenetwork, secured_kafka
from kconnect_devenv.cluster import JsonObject, Kubectl, wait_for

# In a distributed run, the module stays on one worker process, so its secured broker starts once.
pytestmark = [pytest.mark.timeout(600), pytest.mark.xdist_group("secured")]

CLUSTER_CA = "my-cluster-cluster-ca-cert"
ROLL_TIMEOUT_S = 180.0
FAIL_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
    control_plane: controlplane.ControlPlane,  # puts the pods' host address on lo
) -> Iterator[secured_kafka.SecuredBroker]:
    with secured_kafka.running(
        tmp_path_factory.mktemp("secured-e2e"), host=nodenetwork.HOST_ADDRESS, die_with_parent=True
    ) as (broker, _):
        yield broker


def secret(name: str, namespace: str, data: dict[str, str]) -> JsonObject:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": data,
    }


def ca_secret(b: secured_kafka.SecuredBroker, namespace: str) -> JsonObject:
    """The cluster CA as Strimzi publishes it (`<cluster>-cluster-ca-cert`, key `ca.crt`)."""
    return secret(CLUSTER_CA, namespace, {"ca.crt": b.pki.ca.read_text()})


TLS = {"trustedCertificates": [{"secretName": CLUSTER_CA, "certificate": "ca.crt"}]}


def scram_user_secret(name: str, namespace: str, user: str, password: str) -> JsonObject:
    """A Strimzi KafkaUser's Secret for `scram-sha-512`: `password` and `sasl.jaas.config`."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )
    return secret(name, namespace, {"password": password, "sasl.jaas.config": jaas})


def scram(secret_name: str, user: str) -> JsonObject:
    return {
        "type": "scram-sha-512",
        "username": user,
        "passwordSecret": {"secretName": secret_name, "password": "password"},
    }


def set_scram_password(b: secured_kafka.SecuredBroker, user: str, password: str) -> None:
    """Create or change `user`'s SCRAM-SHA-512 credential, as Kafka's admin API does."""
    admin = AdminClient({"bootstrap.servers": b.plaintext_bootstrap})
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout=30)


def moving(bootstrap: str, topic: str, more_than: int, what: str) -> int:
    return int(
        wait_for(
            f"{what}: more than {more_than} records in {topic}",
            lambda: (n := record_count(bootstrap, topic)) > more_than and n,
            90,
        )
    )


def no_value_in_namespace(
    kubectl: Kubectl, namespace: str, name: str, *values: str, kind: str = "kctr"
) -> None:
    """None of `values` is in the resource (its status included), the namespace's Events,
    ConfigMaps or workloads."""
    places = {
        "the resource": kubectl.run("-n", namespace, "get", kind, name, "-o", "json"),
        "the Events": kubectl.run("-n", namespace, "get", "events", "-o", "json"),
        "the ConfigMaps": kubectl.run("-n", namespace, "get", "configmaps", "-o", "json"),
        "the workloads": kubectl.run(
            "-n", namespace, "get", "deployments,statefulsets,pods", "-o", "json"
        ),
    }
    for where, text in places.items():
        for value in values:
            assert value not in text, f"a password is in {where}"


def test_scram_over_tls_moves_records_and_a_rotated_password_rolls_the_workers(
    system: Kubectl, namespace: str, secured: secured_kafka.SecuredBroker
) -> None:
    user, first = unique("connect"), f"p1-{uuid.uuid4().hex}"
    set_scram_password(secured, user, first)
    secured_kafka.grant(secured.plaintext_bootstrap, f"User:{user}", secured_kafka.ALL_ACLS)
    name, topic = unique("scram"), unique("scram-records")
    system.apply(ca_secret(secured, namespace), scram_user_secret(user, namespace, user, first))
    system.apply(
        connector_resource(
            name,
            namespace,
            secured.bootstrap("SASL_SSL"),
            config={"topic": topic, "records.per.second": "20"},
            tls=TLS,
            authentication=scram(user, user),
        )
    )
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    before = moving(secured.plaintext_bootstrap, topic, 0, "SCRAM over TLS")
    # The pods keep their names (a StatefulSet's); a rolled pod is a new pod, with a new uid.
    old_pods = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}

    second = f"p2-{uuid.uuid4().hex}"
    set_scram_password(secured, user, second)
    system.apply(scram_user_secret(user, namespace, user, second))

    def rolled() -> bool:
        pods = worker_pods(system, namespace, name)
        return bool(pods) and not ({p["metadata"]["uid"] for p in pods} & old_pods)

    wait_for("the worker pods rolled for the rotated Secret", rolled, ROLL_TIMEOUT_S)
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    after = moving(secured.plaintext_bootstrap, topic, before, "after the rotation")
    assert after > before
    rolls = [
        e
        for e in events(system, namespace, name)
        if e["reason"] == "Rolling" and f"Secret {user} changed" in e.get("message", "")
    ]
    assert rolls, "no Rolling Event names the Secret that rolled the workers"
    no_value_in_namespace(system, namespace, name, first, second)


def test_mutual_tls_moves_records(
    system: Kubectl, namespace: str, secured: secured_kafka.SecuredBroker
) -> None:
    name, topic = unique("mtls"), unique("mtls-records")
    key = secured.pki.client_key("worker").read_text()
    system.apply(
        ca_secret(secured, namespace),
        # A Strimzi KafkaUser's Secret for `tls`: ca.crt, user.crt, user.key (and stores).
        secret(
            "worker",
            namespace,
            {
                "ca.crt": secured.pki.ca.read_text(),
                "user.crt": secured.pki.client_cert("worker").read_text(),
                "user.key": key,
            },
        ),
    )
    system.apply(
        connector_resource(
            name,
            namespace,
            secured.bootstrap("SSL"),
            config={"topic": topic, "records.per.second": "20"},
            tls=TLS,
            authentication={
                "type": "tls",
                "certificateAndKey": {
                    "secretName": "worker",
                    "certificate": "user.crt",
                    "key": "user.key",
                },
            },
        )
    )
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    moving(secured.plaintext_bootstrap, topic, 0, "mutual TLS")
    key_body = "".join(key.strip().splitlines()[1:-1])
    no_value_in_namespace(system, namespace, name, key_body[:40])


def test_a_wrong_password_is_the_ready_reason_and_a_warning(
    system: Kubectl, namespace: str, secured: secured_kafka.SecuredBroker
) -> None:
    name, wrong = unique("wrong"), f"wrong-{uuid.uuid4().hex}"
    system.apply(
        ca_secret(secured, namespace), scram_user_secret("worker", namespace, "worker", wrong)
    )
    system.apply(
        connector_resource(
            name,
            namespace,
            secured.bootstrap("SASL_SSL"),
            config={"topic": unique("never")},
            tls=TLS,
            authentication=scram("worker", "worker"),
        )
    )
    found = wait_condition(
        system,
        namespace,
        name,
        status="False",
        reason="KafkaAuthenticationFailed",
        timeout=FAIL_TIMEOUT_S,
    )
    condition = next(c for c in found["status"]["conditions"] if c["type"] == "Ready")
    assert "wrong password or unknown user" in condition["message"], condition
    warnings = wait_for(
        "the KafkaAuthenticationFailed Warning Event",
        lambda: [
            e
            for e in events(system, namespace, name)
            if e["reason"] == "KafkaAuthenticationFailed" and e["type"] == "Warning"
        ],
        60,
    )
    assert "wrong password" in warnings[0]["message"], json.dumps(warnings[0])
    no_value_in_namespace(system, namespace, name, wrong)


def test_a_standalone_connect_takes_the_same_fields(
    system: Kubectl, namespace: str, secured: secured_kafka.SecuredBroker
) -> None:
    name, topic = unique("standalone"), unique("standalone-records")
    user, password = unique("solo"), f"p-{uuid.uuid4().hex}"
    set_scram_password(secured, user, password)
    secured_kafka.grant(secured.plaintext_bootstrap, f"User:{user}", secured_kafka.ALL_ACLS)
    system.apply(ca_secret(secured, namespace), scram_user_secret(user, namespace, user, password))
    resource = standalone(
        name, namespace, secured.bootstrap("SASL_SSL"), [datagen("gen", topic, 50)]
    )
    resource["spec"] |= {"tls": TLS, "authentication": scram(user, user)}
    system.apply(resource)
    wait_ready(system, namespace, name)
    wait_for(
        f"50 records in {topic}", lambda: record_count(secured.plaintext_bootstrap, topic) >= 50, 90
    )
    no_value_in_namespace(system, namespace, name, password, kind="ksc")
