"""Workers against the secured broker (kconnect_devenv.secured_kafka): every listener and
mechanism with the keys a Java Kafka Connect user already has, and each failure a user can make,
told within seconds and naming which one it is.

The broker validates OAUTHBEARER tokens against the JWKS of an issuer this module serves on
loopback; the worker fetches its tokens from the same issuer's token endpoint.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError

from bench import javaconnect
from bench.procs import WorkerProcess, kill_all
from kconnect_devenv import kafka_pki, oidc_issuer, secured_kafka
from tests.support.cluster import Cluster, wait_all_running
from tests.support.workers import Standalone, Worker, wait_until, write_properties

pytestmark = pytest.mark.timeout(240)

PASSWORDS = (
    "worker-secret",
    "worker-client-secret",
    kafka_pki.STORE_PASSWORD,
    "pem-key-passphrase",
)
FAIL_WITHIN_S = 30.0
WRONG = "not-the-password"


def _jaas(mechanism: str, user: str = "worker", password: str | None = None) -> str:
    password = secured_kafka.USERS.get(user, "") if password is None else password
    module = {
        "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
        "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
        "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    }[mechanism]
    return f'{module} required username="{user}" password="{password}";'


def _oauth_jaas(client: str = "worker-client") -> str:
    secret = secured_kafka.oauth_clients()[client][0]
    return (
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        f'clientId="{client}" clientSecret="{secret}" scope="connect";'
    )


def _client_props(
    case: str, b: secured_kafka.SecuredBroker, issuer: oidc_issuer.Issuer
) -> dict[str, str]:
    """The worker's client keys for one listener and mechanism, as a Java user writes them."""
    pki = b.pki
    jks_trust = {
        "ssl.truststore.location": str(pki.truststore_jks),
        "ssl.truststore.password": kafka_pki.STORE_PASSWORD,
        "ssl.truststore.type": "JKS",
    }
    p12_trust = {
        "ssl.truststore.location": str(pki.truststore_p12),
        "ssl.truststore.password": kafka_pki.STORE_PASSWORD,
        "ssl.truststore.type": "PKCS12",
    }
    if case == "sasl_ssl-plain-pem":
        return {
            "bootstrap.servers": b.bootstrap("SASL_SSL"),
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": _jaas("PLAIN"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pki.ca),
        }
    if case == "sasl_ssl-scram256-jks":
        return {
            "bootstrap.servers": b.bootstrap("SASL_SSL"),
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.jaas.config": _jaas("SCRAM-SHA-256"),
            **jks_trust,
        }
    if case == "sasl_ssl-scram512-pkcs12":
        return {
            "bootstrap.servers": b.bootstrap("SASL_SSL"),
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": _jaas("SCRAM-SHA-512"),
            **p12_trust,
        }
    if case == "sasl_ssl-oauthbearer-pem-certificates":
        return {
            "bootstrap.servers": b.bootstrap("SASL_SSL"),
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.jaas.config": _oauth_jaas(),
            "sasl.oauthbearer.token.endpoint.url": issuer.token_url,
            "sasl.login.callback.handler.class": (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
            ),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": pki.ca.read_text(),
        }
    if case == "sasl_plaintext-scram512":
        return {
            "bootstrap.servers": b.bootstrap("SASL_PLAINTEXT"),
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.jaas.config": _jaas("SCRAM-SHA-512"),
        }
    if case == "ssl-mtls-jks":
        return {
            "bootstrap.servers": b.bootstrap("SSL"),
            "security.protocol": "SSL",
            **jks_trust,
            "ssl.keystore.type": "JKS",
            "ssl.keystore.location": str(pki.client_keystore("worker", "jks")),
            "ssl.keystore.password": kafka_pki.STORE_PASSWORD,
            "ssl.key.password": kafka_pki.KEY_PASSWORD,
        }
    if case == "ssl-mtls-pkcs12":
        return {
            "bootstrap.servers": b.bootstrap("SSL"),
            "security.protocol": "SSL",
            **p12_trust,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(pki.client_keystore("worker", "p12")),
            "ssl.keystore.password": kafka_pki.STORE_PASSWORD,
        }
    if case == "ssl-mtls-pem":
        return {
            "bootstrap.servers": b.bootstrap("SSL"),
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": pki.ca.read_text(),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": pki.client_cert("worker").read_text(),
            "ssl.keystore.key": pki.client_key("worker").read_text(),
        }
    if case == "ssl-mtls-pem-file-encrypted-key":
        return {
            "bootstrap.servers": b.bootstrap("SSL"),
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pki.ca),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(_encrypted_pem_keystore(pki)),
            "ssl.key.password": PEM_KEY_LOCK,
        }
    if case == "ssl-no-hostname-check":
        # The certificate names another host; an empty algorithm turns the check off, as in Java.
        return {
            "bootstrap.servers": b.bootstrap("WRONG_HOST"),
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pki.ca),
            "ssl.endpoint.identification.algorithm": "",
        }
    raise AssertionError(case)


PEM_KEY_LOCK = "pem-key-passphrase"


def _encrypted_pem_keystore(pki: kafka_pki.Pki) -> Path:
    """The worker's key, encrypted, and its certificate in one PEM file (Java's PEM key store)."""
    path = pki.root.parent / "worker-encrypted.pem"
    if not path.exists():
        encrypted = subprocess.run(
            ["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc",
             "-in", str(pki.client_key("worker")), "-passout", f"pass:{PEM_KEY_LOCK}"],
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip
        path.write_text(encrypted + pki.client_cert("worker").read_text())
    return path


CASES = (
    "sasl_ssl-plain-pem",
    "sasl_ssl-scram256-jks",
    "sasl_ssl-scram512-pkcs12",
    "sasl_ssl-oauthbearer-pem-certificates",
    "sasl_plaintext-scram512",
    "ssl-mtls-jks",
    "ssl-mtls-pkcs12",
    "ssl-mtls-pem",
    "ssl-mtls-pem-file-encrypted-key",
    "ssl-no-hostname-check",
)


def _worker_props(s: Standalone, client: Mapping[str, str]) -> dict[str, str]:
    return {**s.worker_props(), **client}


def _file_pipeline(tmp_path: Path, topic: str, lines: list[str]) -> list[dict[str, str]]:
    source_file = tmp_path / "in.txt"
    source_file.write_text("".join(f"{line}\n" for line in lines))
    return [
        {
            "name": "secured-source",
            "connector.class": "FileStreamSource",
            "file": str(source_file),
            "topic": topic,
        },
        {
            "name": "secured-sink",
            "connector.class": "FileStreamSink",
            "file": str(tmp_path / "out.txt"),
            "topics": topic,
        },
    ]


def _no_secret_in(text: str) -> None:
    for secret in PASSWORDS:
        assert secret not in text
    assert "PRIVATE KEY" not in text


@pytest.mark.parametrize("case", CASES)
def test_standalone_moves_records_over_each_listener(
    case: str,
    secured: secured_kafka.SecuredBroker,
    issuer: oidc_issuer.Issuer,
    tmp_path: Path,
) -> None:
    s = Standalone(tmp_path, secured.plaintext_bootstrap)
    try:
        lines = [f"{case}-{i}" for i in range(20)]
        worker = s.start(
            _file_pipeline(tmp_path, f"secured-{case}", lines),
            worker=_worker_props(s, _client_props(case, secured, issuer)),
        )
        out = tmp_path / "out.txt"
        wait_until(
            f"the records to pass through Kafka over {case}",
            lambda: out.exists() and out.read_text().splitlines() == lines,
        )
        for name in ("secured-source", "secured-sink"):
            status = worker.status(name)
            assert [t["state"] for t in status["tasks"]] == ["RUNNING"], status
            _no_secret_in(str(worker.get(f"/connectors/{name}/config")))
        _no_secret_in(worker.log())
    finally:
        s.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _failing(
    case: str, b: secured_kafka.SecuredBroker, issuer: oidc_issuer.Issuer
) -> dict[str, str]:
    pki = b.pki
    pem_trust = {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca)}
    if case == "wrong password":
        return {
            **_client_props("sasl_ssl-scram512-pkcs12", b, issuer),
            "sasl.jaas.config": _jaas("SCRAM-SHA-512", "worker", WRONG),
        }
    if case == "unknown user":
        return {**_client_props("sasl_ssl-plain-pem", b, issuer), "sasl.jaas.config": _jaas(
            "PLAIN", "nobody", secured_kafka.USERS["worker"]
        )}  # fmt: skip
    if case == "untrusted certificate":
        return {
            **_client_props("sasl_ssl-plain-pem", b, issuer),
            "ssl.truststore.location": str(pki.untrusted_ca),
        }
    if case == "hostname mismatch":
        return {
            "bootstrap.servers": b.bootstrap("WRONG_HOST"),
            "security.protocol": "SSL",
            **pem_trust,
        }
    if case == "expired certificate":
        return {
            "bootstrap.servers": b.bootstrap("EXPIRED"),
            "security.protocol": "SSL",
            **pem_trust,
        }
    if case == "unreachable token endpoint":
        return {
            **_client_props("sasl_ssl-oauthbearer-pem-certificates", b, issuer),
            "sasl.oauthbearer.token.endpoint.url": f"http://127.0.0.1:{_closed_port()}/token",
        }
    if case == "client certificate refused":
        return {
            **_client_props("ssl-mtls-pkcs12", b, issuer),
            "ssl.keystore.location": str(pki.client_keystore("untrusted-client", "p12")),
        }
    if case == "wrong trust store password":
        return {
            **_client_props("sasl_ssl-scram256-jks", b, issuer),
            "ssl.truststore.password": WRONG,
        }
    raise AssertionError(case)


WORKER_FAILURES = {
    "wrong password": "wrong password or unknown user",
    "unknown user": "wrong password or unknown user",
    "untrusted certificate": "untrusted certificate",
    "hostname mismatch": "hostname mismatch",
    "expired certificate": "the certificate has expired",
    "unreachable token endpoint": "no OAuth token could be fetched",
    "wrong trust store password": "the JKS store's password is wrong",
    "client certificate refused": "the broker refused this client's certificate",
}


@pytest.mark.parametrize("case", sorted(WORKER_FAILURES))
def test_a_worker_that_cannot_use_the_cluster_says_why(
    case: str,
    secured: secured_kafka.SecuredBroker,
    issuer: oidc_issuer.Issuer,
    tmp_path: Path,
) -> None:
    s = Standalone(tmp_path, secured.plaintext_bootstrap)
    props = _worker_props(s, _failing(case, secured, issuer))
    props["listeners"] = "http://127.0.0.1:0"
    worker_file = tmp_path / "worker.properties"
    write_properties(worker_file, props)
    began = time.monotonic()
    result = s.run_to_exit(["standalone", str(worker_file)], timeout=FAIL_WITHIN_S + 30)
    took = time.monotonic() - began
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert WORKER_FAILURES[case] in output, output
    print(next(line for line in output.splitlines() if line.startswith("kconnect: error")))
    assert took < FAIL_WITHIN_S + 15, f"took {took:.0f}s:\n{output}"
    _no_secret_in(output.replace(WRONG, ""))


TASK_FAILURES = {
    # The worker itself may use the cluster; the connector's own client may not.
    "missing ACL": (("stranger", None), ("missing ACL", "AUTHORIZATION_FAILED")),
    "wrong password": (("worker", WRONG), ("wrong password or unknown user",)),
}


@pytest.mark.parametrize("kind", ["source", "sink"])
@pytest.mark.parametrize("case", sorted(TASK_FAILURES))
def test_a_task_whose_own_client_cannot_use_the_cluster_fails_saying_why(
    kind: str,
    case: str,
    secured: secured_kafka.SecuredBroker,
    issuer: oidc_issuer.Issuer,
    tmp_path: Path,
) -> None:
    s = Standalone(tmp_path, secured.plaintext_bootstrap)
    try:
        client = _client_props("sasl_ssl-scram256-jks", secured, issuer)
        source, sink = _file_pipeline(
            tmp_path, f"secured-task-{kind}-{case.replace(' ', '-')}", ["a"]
        )
        connector = source if kind == "source" else sink
        (user, password), expected = TASK_FAILURES[case]
        client_kind = "producer" if kind == "source" else "consumer"
        connector[f"{client_kind}.override.sasl.jaas.config"] = _jaas(
            "SCRAM-SHA-256", user, password
        )
        worker = s.start([connector], worker=_worker_props(s, client))
        name = connector["name"]
        trace = wait_until(
            f"the {kind} task to fail",
            lambda: next(
                (t.get("trace", "") for t in worker.status(name).get("tasks", [])
                 if t["state"] == "FAILED"),
                None,
            ),
            timeout=FAIL_WITHIN_S,
        )  # fmt: skip
        for phrase in expected:
            assert phrase in trace, trace
        assert WRONG not in worker.log()
        assert "stranger-secret" not in worker.log()
    finally:
        s.close()


@pytest.mark.parametrize(
    "case",
    [
        "sasl_ssl-plain-pem",
        "sasl_ssl-scram256-jks",
        "sasl_ssl-scram512-pkcs12",
        "sasl_ssl-oauthbearer-pem-certificates",
        "sasl_plaintext-scram512",
        "ssl-mtls-jks",
    ],
)
def test_distributed_workers_move_records_and_dead_letters_over_a_secured_listener(
    case: str,
    secured: secured_kafka.SecuredBroker,
    issuer: oidc_issuer.Issuer,
    tmp_path: Path,
) -> None:
    """Two workers: internal topics, membership, task producers and consumers, the admin client
    and a sink's dead-letter queue producer, all over one secured listener."""
    cluster = Cluster(tmp_path, secured.plaintext_bootstrap, **_client_props(case, secured, issuer))
    try:
        first, second = cluster.start(), cluster.start()
        topic, dlq = f"secured-dist-{case}", f"secured-dlq-{case}"
        lines = ["plain text", '{"json": true}', "more text"]
        source, sink = _file_pipeline(tmp_path, topic, lines)
        for config in (source, sink):
            name = config.pop("name")
            status, body = first.request("POST", "/connectors", {"name": name, "config": config})
            assert status == 201, body
        status, body = second.request(
            "POST",
            "/connectors",
            {
                "name": "secured-dlq-sink",
                "config": {
                    "connector.class": "FileStreamSink",
                    "file": str(tmp_path / "json.txt"),
                    "topics": topic,
                    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                    "value.converter.schemas.enable": "false",
                    "errors.tolerance": "all",
                    "errors.deadletterqueue.topic.name": dlq,
                    "errors.deadletterqueue.topic.replication.factor": "1",
                },
            },
        )
        assert status == 201, body
        out = tmp_path / "out.txt"
        wait_until(
            f"the records to pass through Kafka over {case}",
            lambda: out.exists() and out.read_text().splitlines() == lines,
            90,
        )
        for name in ("secured-source", "secured-sink", "secured-dlq-sink"):
            wait_all_running(second, name, 1)
        consumer = Consumer(
            {
                "bootstrap.servers": secured.plaintext_bootstrap,
                "group.id": f"check-{case}",
                "auto.offset.reset": "earliest",
            }
        )
        try:
            consumer.subscribe([dlq])
            dead: list[bytes] = []

            def read_dead() -> bool:
                msg = consumer.poll(0.5)
                value = None if msg is None or msg.error() is not None else msg.value()
                if value is not None:
                    dead.append(value)
                return len(dead) >= 2

            wait_until("the two non-JSON records in the dead-letter queue", read_dead, 60)
        finally:
            consumer.close()
        assert sorted(dead) == [b"more text", b"plain text"]
        for w in (first, second):
            _no_secret_in(w.log())
            _no_secret_in(str(w.get("/connectors?expand=info")))
    finally:
        cluster.close()


@pytest.mark.parametrize(
    "case", ["sasl_ssl-scram256-jks", "ssl-mtls-pkcs12", "sasl_ssl-oauthbearer-pem-certificates"]
)
def test_the_same_worker_config_runs_java_kafka_connect(
    case: str,
    secured: secured_kafka.SecuredBroker,
    issuer: oidc_issuer.Issuer,
    tmp_path: Path,
) -> None:
    """One worker config, written as a Java user must write it, runs both Apache Kafka Connect and
    kconnect. Java Connect gives task producers and consumers only `producer.` / `consumer.` keys
    (the top-level keys serve the worker's own clients), so the security keys appear three times;
    kconnect reads the same file. The JVM also needs the token endpoint allowed by a system
    property, which kconnect has no use for."""
    libs = javaconnect.fetched()
    if libs is None:
        pytest.fail(
            f"Kafka Connect's jars are not in {javaconnect.libs_dir()}: fetch them with "
            "`make bench-java-fetch`"
        )
    client = _client_props(case, secured, issuer)
    security = {k: v for k, v in client.items() if k != "bootstrap.servers"}
    props = {
        **Standalone(tmp_path, secured.plaintext_bootstrap).worker_props(),
        **client,
        **{f"producer.{k}": v for k, v in security.items()},
        **{f"consumer.{k}": v for k, v in security.items()},
    }
    jvm_options = [
        *javaconnect.LIGHT_JVM_OPTIONS,
        f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={issuer.token_url}",
    ]
    for runtime in ("java", "kconnect"):
        workdir = tmp_path / runtime
        workdir.mkdir()
        lines = [f"{runtime}-{case}-{i}" for i in range(10)]
        connectors = _file_pipeline(workdir, f"secured-{runtime}-{case}", lines)
        for c in connectors:
            c["name"] = f"{c['name']}-{runtime}"
        # The one difference: each runtime keeps standalone offsets in its own file format.
        own = {**props, "offset.storage.file.filename": str(workdir / "connect.offsets")}
        worker = (
            javaconnect.JavaWorker(
                workdir, runtime, own, connectors, libs=libs, jvm_options=jvm_options
            )
            if runtime == "java"
            else WorkerProcess(workdir, runtime, own, list(connectors))
        )
        out = workdir / "out.txt"

        def moved(
            worker: WorkerProcess = worker, out: Path = out, lines: list[str] = lines
        ) -> bool:
            worker.check_alive()
            return out.exists() and out.read_text().splitlines() == lines

        try:
            wait_until(f"{runtime} to pass the records through Kafka over {case}", moved, 120)
        finally:
            worker.stop()
            kill_all()


def test_a_distributed_worker_that_cannot_authenticate_says_why(
    secured: secured_kafka.SecuredBroker, issuer: oidc_issuer.Issuer, tmp_path: Path
) -> None:
    client = _failing("wrong password", secured, issuer)
    cluster = Cluster(tmp_path, secured.plaintext_bootstrap, **client)
    try:
        worker = cluster.start(wait=False)
        code = worker.proc.wait(FAIL_WITHIN_S + 15)
        assert code != 0
        assert "wrong password or unknown user" in worker.log(), worker.log()
        assert WRONG not in worker.log()
    finally:
        cluster.close()


@pytest.mark.parametrize("case", sorted(set(WORKER_FAILURES) - {"wrong password"}))
def test_a_distributed_worker_that_cannot_use_the_cluster_says_why(
    case: str,
    secured: secured_kafka.SecuredBroker,
    issuer: oidc_issuer.Issuer,
    tmp_path: Path,
) -> None:
    cluster = Cluster(tmp_path, secured.plaintext_bootstrap, **_failing(case, secured, issuer))
    try:
        worker = cluster.start(wait=False)
        try:
            code = worker.proc.wait(FAIL_WITHIN_S + 15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker still runs after {FAIL_WITHIN_S + 15:.0f}s:\n{worker.log()}")
        assert code != 0
        assert WORKER_FAILURES[case] in worker.log(), worker.log()
        _no_secret_in(worker.log().replace(WRONG, ""))
    finally:
        cluster.close()


def _overridden(kind: str, tmp_path: Path, topic: str) -> tuple[str, dict[str, str], str]:
    """A connector whose own `kind` client (producer, consumer or admin) logs in differently
    from the worker: with a wrong password (producer, admin) or as a user without ACLs
    (consumer); its name and config, and the phrase its task's trace must hold."""
    source, sink = _file_pipeline(tmp_path, topic, ["a"])
    if kind == "producer":
        connector, user, password = source, "worker", WRONG
        expected = "wrong password or unknown user"
    elif kind == "consumer":
        connector, user, password = sink, "stranger", None
        expected = "missing ACL"
    else:
        # A sink's admin client creates its dead-letter queue.
        connector, user, password = sink, "worker", WRONG
        connector["errors.tolerance"] = "all"
        connector["errors.deadletterqueue.topic.name"] = f"{topic}-dlq"
        connector["errors.deadletterqueue.topic.replication.factor"] = "1"
        expected = "wrong password or unknown user"
    connector[f"{kind}.override.sasl.jaas.config"] = _jaas("SCRAM-SHA-256", user, password)
    name = connector.pop("name")
    return name, connector, expected


def _failed_trace(worker: Worker, name: str) -> str | None:
    return next(
        (
            t.get("trace", "")
            for t in worker.status(name).get("tasks", [])
            if t["state"] == "FAILED"
        ),
        None,
    )


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
@pytest.mark.parametrize("kind", ["producer", "consumer", "admin"])
def test_a_connectors_client_override_reaches_its_client_in_either_mode(
    mode: str,
    kind: str,
    secured: secured_kafka.SecuredBroker,
    issuer: oidc_issuer.Issuer,
    tmp_path: Path,
) -> None:
    """`producer.override.`, `consumer.override.` and `admin.override.` security keys are the
    ones that connector's own client logs in with: the worker's own clients may use the cluster,
    the connector's may not, and its task fails saying why."""
    client = _client_props("sasl_ssl-scram256-jks", secured, issuer)
    name, connector, expected = _overridden(kind, tmp_path, f"secured-override-{mode}-{kind}")
    if mode == "standalone":
        s = Standalone(tmp_path, secured.plaintext_bootstrap)
        close = s.close
        worker = s.start([{"name": name, **connector}], worker=_worker_props(s, client))
    else:
        cluster = Cluster(tmp_path, secured.plaintext_bootstrap, **client)
        close = cluster.close
        worker = cluster.start()
        status, body = worker.request("POST", "/connectors", {"name": name, "config": connector})
        assert status == 201, body
    try:
        trace = wait_until(
            f"the {kind} override's task to fail",
            lambda: _failed_trace(worker, name),
            timeout=FAIL_WITHIN_S,
        )
        assert expected in trace, trace
        assert WRONG not in worker.log()
        assert "stranger-secret" not in worker.log()
    finally:
        close()


def _provided(secrets: Path, b: secured_kafka.SecuredBroker) -> dict[str, str]:
    """Worker keys whose password comes from a file config provider: SCRAM-SHA-512 over TLS."""
    (secrets / "kafka.properties").write_text(
        "jaas=" + _jaas("SCRAM-SHA-512").replace("\\", "\\\\") + "\n"
    )
    return {
        "config.providers": "file",
        "config.providers.file.class": (
            "org.apache.kafka.common.config.provider.FileConfigProvider"
        ),
        "bootstrap.servers": b.bootstrap("SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": f"${{file:{secrets}/kafka.properties:jaas}}",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(b.pki.ca),
    }


def _config_topic_records(bootstrap: str, topic: str) -> list[bytes]:
    """Every record of the config topic, read as the super user."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    records: list[bytes] = []
    try:
        consumer.subscribe([topic])

        def at_end() -> bool:
            msg = consumer.poll(0.5)
            if msg is None:
                return False
            err = msg.error()
            if err is not None:
                return bool(err.code() == KafkaError._PARTITION_EOF)
            records.append((msg.key() or b"") + b"=" + (msg.value() or b""))
            return False

        wait_until(f"the end of {topic}", at_end, 60)
    finally:
        consumer.close()
    return records


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_a_password_from_a_config_provider_is_never_shown_in_clear(
    mode: str, secured: secured_kafka.SecuredBroker, tmp_path: Path
) -> None:
    """The worker's and a connector's producer's SCRAM password come from a file provider: the
    records move, and the password is in no log line, REST answer, status or (distributed) config
    topic record; the config topic holds the variable as written."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    worker_keys = _provided(secrets, secured)
    topic = f"secured-provided-{mode}"
    source, sink = _file_pipeline(tmp_path, topic, ["x", "y"])
    variable = worker_keys["sasl.jaas.config"]
    source["producer.override.sasl.jaas.config"] = variable
    if mode == "standalone":
        s = Standalone(tmp_path, secured.plaintext_bootstrap)
        close = s.close
        worker = s.start([source, sink], worker=_worker_props(s, worker_keys))
    else:
        cluster = Cluster(tmp_path, secured.plaintext_bootstrap, **worker_keys)
        close = cluster.close
        worker = cluster.start()
        for config in (source, sink):
            name = config.pop("name")
            status, body = worker.request("POST", "/connectors", {"name": name, "config": config})
            assert status == 201, body
    try:
        out = tmp_path / "out.txt"
        wait_until(
            "the records to pass through Kafka",
            lambda: out.exists() and out.read_text().splitlines() == ["x", "y"],
            90,
        )
        assert (
            worker.get("/connectors/secured-source/config")["producer.override.sasl.jaas.config"]
            == variable
        )
        answers = [
            worker.get("/connectors?expand=info&expand=status"),
            worker.get("/connectors/secured-source/status"),
            worker.get("/connectors/secured-source/tasks"),
        ]
        shown = [worker.log(), *map(str, answers)]
        if mode == "distributed":
            records = _config_topic_records(secured.plaintext_bootstrap, f"{cluster.group}-configs")
            assert any(variable.encode() in r for r in records), records
            shown += [r.decode(errors="replace") for r in records]
        for text in shown:
            _no_secret_in(text)
    finally:
        close()
