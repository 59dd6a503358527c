import pytest

from kconnect.errors import ConfigError
from kconnect.worker.clients import (
    admin_config,
    connector_admin_config,
    consumer_config,
    group_protocol_chosen,
    max_poll_records,
    override_errors,
    producer_config,
    translate,
    with_group_protocol,
)

WORKER = {
    "bootstrap.servers": "127.0.0.1:9092",
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanism": "PLAIN",
    "producer.linger.ms": "20",
    "producer.buffer.memory": "33554432",
    "consumer.max.partition.fetch.bytes": "2097152",
    "offset.flush.interval.ms": "1000",
}


def test_producer_precedence_and_translation() -> None:
    conf = producer_config(
        WORKER,
        {"producer.override.linger.ms": "50"},
        connector="c",
        task=3,
        policy="All",
    )
    assert conf["bootstrap.servers"] == "127.0.0.1:9092"
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert conf["linger.ms"] == "50"  # the connector's override wins
    assert conf["client.id"] == "connector-producer-c-3"
    assert conf["acks"] == "all"
    assert conf["partitioner"] == "murmur2_random"
    assert "buffer.memory" not in conf  # Java-only: dropped
    assert "offset.flush.interval.ms" not in conf  # a worker key, not a client key


def test_consumer_defaults_for_sinks() -> None:
    conf = consumer_config(WORKER, {}, connector="my sink", task=0, policy="All")
    assert conf["group.id"] == "connect-my sink"
    assert conf["enable.auto.commit"] == "false"
    assert conf["auto.offset.reset"] == "earliest"
    assert conf["max.partition.fetch.bytes"] == "2097152"


def test_override_policy_none_rejects_overrides() -> None:
    with pytest.raises(ConfigError, match=r"producer\.override\.acks.*policy=None"):
        producer_config(
            WORKER, {"producer.override.acks": "1"}, connector="c", task=0, policy="None"
        )


def test_override_policy_principal() -> None:
    ok = producer_config(
        WORKER,
        {"producer.override.sasl.mechanism": "SCRAM-SHA-512"},
        connector="c",
        task=0,
        policy="Principal",
    )
    assert ok["sasl.mechanism"] == "SCRAM-SHA-512"
    with pytest.raises(ConfigError, match="Principal"):
        producer_config(
            WORKER, {"producer.override.acks": "1"}, connector="c", task=0, policy="Principal"
        )


def test_jaas_config_becomes_username_and_password() -> None:
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="alice" password="s3cr\\"et";'
    )
    conf = translate({"sasl.jaas.config": jaas}, "producer")
    assert conf == {"sasl.username": "alice", "sasl.password": 's3cr"et'}


def test_a_missing_trust_store_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"consumer ssl\.truststore\.location.*truststore\.jks"):
        translate({"ssl.truststore.location": "/nonexistent/truststore.jks"}, "consumer")


def test_oauthbearer_login_module_becomes_librdkafka_oidc() -> None:
    jaas = (
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        'clientId="connect" clientSecret="s3cret" scope="kafka" extension_logicalCluster="lkc-1";'
    )
    conf = translate(
        {
            "sasl.mechanism": "OAUTHBEARER",
            "sasl.jaas.config": jaas,
            "sasl.oauthbearer.token.endpoint.url": "https://idp.example/token",
            "sasl.login.callback.handler.class": (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
            ),
        },
        "admin",
    )
    assert conf == {
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.oauthbearer.method": "oidc",
        "sasl.oauthbearer.client.id": "connect",
        "sasl.oauthbearer.client.secret": "s3cret",
        "sasl.oauthbearer.scope": "kafka",
        "sasl.oauthbearer.extensions": "logicalCluster=lkc-1",
        "sasl.oauthbearer.token.endpoint.url": "https://idp.example/token",
    }


def test_scram_login_module_with_unquoted_options() -> None:
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=bob password=pw;"
    )
    assert translate({"sasl.jaas.config": jaas}, "producer") == {
        "sasl.username": "bob",
        "sasl.password": "pw",
    }


@pytest.mark.parametrize(
    ("java", "librdkafka"), [("", "none"), ("https", "https"), ("HTTPS", "https")]
)
def test_endpoint_identification(java: str, librdkafka: str) -> None:
    conf = translate({"ssl.endpoint.identification.algorithm": java}, "producer")
    assert conf == {"ssl.endpoint.identification.algorithm": librdkafka}


CA_PEM = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----"
CERT_PEM = "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----"
KEY_PEM = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nK\n-----END ENCRYPTED PRIVATE KEY-----"


def test_pem_store_values_become_librdkafka_pem_keys() -> None:
    conf = translate(
        {
            "ssl.truststore.type": "PEM",
            "ssl.truststore.certificates": CA_PEM,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": CERT_PEM,
            "ssl.keystore.key": KEY_PEM,
            "ssl.key.password": "kp",
        },
        "consumer",
    )
    assert conf == {
        "ssl.ca.pem": CA_PEM,
        "ssl.certificate.pem": CERT_PEM,
        "ssl.key.pem": KEY_PEM,
        "ssl.key.password": "kp",
    }


def test_a_pem_trust_store_path_stays_a_path() -> None:
    conf = translate(
        {"ssl.truststore.location": "/etc/kafka/ca.pem", "ssl.truststore.password": "x"}, "admin"
    )
    assert conf == {"ssl.ca.location": "/etc/kafka/ca.pem"}


def test_max_poll_records() -> None:
    assert max_poll_records({}, {}) == 500
    assert max_poll_records({"consumer.max.poll.records": "100"}, {}) == 100
    assert max_poll_records({}, {"consumer.override.max.poll.records": "7"}) == 7
    with pytest.raises(ConfigError, match=r"max\.poll\.records"):
        max_poll_records({}, {"consumer.override.max.poll.records": "lots"})


def test_sink_consumers_use_kip_848_by_default() -> None:
    conf = consumer_config(
        {**WORKER, "consumer.session.timeout.ms": "10000"}, {}, connector="c", task=0, policy="All"
    )
    assert conf["group.protocol"] == "consumer"
    assert "partition.assignment.strategy" not in conf
    assert "session.timeout.ms" not in conf  # the broker owns it under KIP-848


def test_classic_protocol_gets_kafka_connects_assignors() -> None:
    conf = consumer_config(
        {**WORKER, "consumer.group.protocol": "classic"}, {}, connector="c", task=0, policy="All"
    )
    assert conf["partition.assignment.strategy"] == "range"
    java = with_group_protocol(
        {
            "partition.assignment.strategy": (
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"
            )
        },
        "classic",
    )
    assert java["partition.assignment.strategy"] == "cooperative-sticky"


def test_group_protocol_chosen() -> None:
    assert not group_protocol_chosen(WORKER, {})
    assert group_protocol_chosen({"consumer.group.protocol": "classic"}, {})
    assert group_protocol_chosen({}, {"consumer.override.group.protocol": "consumer"})


# --- client overrides that load code, run commands, reach URLs or read files

UNSAFE = {
    "producer.override.plugin.library.paths": "/tmp/evil.so",
    "producer.override.ssl.engine.location": "/tmp/engine.so",
    "producer.override.ssl.providers": "/tmp/provider",
    "consumer.override.sasl.kerberos.kinit.cmd": "touch /tmp/pwned",
    "consumer.override.sasl.kerberos.principal": "x; touch /tmp/pwned",
    "consumer.override.sasl.kerberos.keytab": "/etc/shadow",
    "producer.override.sasl.oauthbearer.token.endpoint.url": "http://169.254.169.254/token",
    "producer.override.sasl.oauthbearer.metadata.authentication.type": "azure_imds",
    "admin.override.ssl.ca.location": "/etc/shadow",
    "producer.override.ssl.key.location": "/var/run/secrets/other/key.pem",
    "consumer.override.offset.store.path": "/etc/cron.d",
    "producer.override.https.ca.location": "/etc/shadow",
    "producer.override.sasl.oauthbearer.assertion.private.key.file": "/etc/shadow",
}


def test_overrides_that_load_code_run_commands_reach_urls_or_read_files_are_refused() -> None:
    errors = override_errors(WORKER, UNSAFE, "All", written=UNSAFE)
    assert sorted(errors) == sorted(UNSAFE)
    for key, message in errors.items():
        assert f"'{key}'" in message
        assert "connector.client.config.override.allowed." in message
    assert (
        "allowed.urls lists (now: none)"
        in errors["producer.override.sasl.oauthbearer.token.endpoint.url"]
    )


def test_the_worker_config_allows_named_urls_files_and_keys() -> None:
    worker = {
        **WORKER,
        "connector.client.config.override.allowed.urls": "https://idp.example/token",
        "connector.client.config.override.allowed.files": "/etc/kafka/ca.pem,/etc/tls/",
        "connector.client.config.override.allowed.unsafe.keys": "sasl.kerberos.principal",
    }
    allowed = {
        "producer.override.sasl.oauthbearer.token.endpoint.url": "https://idp.example/token",
        "admin.override.ssl.ca.location": "/etc/kafka/ca.pem",
        "producer.override.ssl.key.location": "/etc/tls/client/key.pem",
        "consumer.override.ssl.ca.location": "probe",
        "consumer.override.sasl.kerberos.principal": "connect@EXAMPLE",
        "producer.override.sasl.oauthbearer.metadata.authentication.type": "none",
        "producer.override.linger.ms": "50",
    }
    assert override_errors(worker, allowed, "All") == {}
    refused = {
        "producer.override.sasl.oauthbearer.token.endpoint.url": "https://idp.example/token2",
        "producer.override.ssl.key.location": "/etc/tls/../shadow",
        "consumer.override.ssl.ca.location": "/etc/kafka/ca.pem.bak",
        "consumer.override.sasl.kerberos.keytab": "/etc/krb5.keytab",
    }
    assert sorted(override_errors(worker, refused, "All")) == sorted(refused)


def test_a_custom_kinit_command_makes_the_keys_it_names_unsafe() -> None:
    worker = {**WORKER, "sasl.kerberos.kinit.cmd": "kinit -S %{sasl.kerberos.service.name}"}
    props = {"consumer.override.sasl.kerberos.service.name": "kafka; touch /tmp/pwned"}
    assert list(override_errors(worker, props, "All")) == list(props)
    assert override_errors(WORKER, props, "All") == {}


def test_a_task_is_never_built_with_an_unsafe_override_and_its_error_shows_no_value() -> None:
    props = {"producer.override.sasl.oauthbearer.token.endpoint.url": "http://S3CRET.example/"}
    with pytest.raises(ConfigError) as e:
        producer_config(WORKER, props, connector="c", task=0, policy="All")
    assert "producer.override.sasl.oauthbearer.token.endpoint.url" in str(e.value)
    assert "S3CRET" not in str(e.value)
    with pytest.raises(ConfigError, match=r"plugin\.library\.paths"):
        consumer_config(
            WORKER,
            {"consumer.override.plugin.library.paths": "/tmp/x.so"},
            connector="c",
            task=0,
            policy="All",
        )


def test_a_connectors_admin_client_takes_its_admin_overrides() -> None:
    """The dead-letter queue's admin client: the worker's admin keys, then the connector's
    `admin.override.` keys, translated; with no override it is the worker's admin client."""
    worker = {**WORKER, "admin.sasl.mechanism": "SCRAM-SHA-512"}
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="dlq" password="dlq-secret";'
    )
    conf = connector_admin_config(
        worker, {"admin.override.sasl.jaas.config": jaas}, connector="c", policy="All"
    )
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("dlq", "dlq-secret")
    assert connector_admin_config(worker, {}, connector="c", policy="All") == admin_config(worker)
    with pytest.raises(ConfigError, match=r"admin\.override\.sasl\.jaas\.config"):
        connector_admin_config(
            worker, {"admin.override.sasl.jaas.config": jaas}, connector="c", policy="None"
        )
