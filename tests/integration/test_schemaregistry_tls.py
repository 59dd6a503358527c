"""The registry converters' TLS keys against the real registry behind an HTTPS front: Java trust
and key stores (JKS, PKCS12, PEM) for a server that requires a client certificate, and the host
name check with `schema.registry.ssl.endpoint.identification.algorithm`."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect.config.java_stores import read_store
from kconnect.converters.schemaregistry import SchemaRegistry, SchemaType, read_registry_settings
from kconnect.errors import RetriableError
from kconnect_devenv import kafka_pki, registry
from tests.support.tls_front import https_front

SCHEMA = '{"type":"object","properties":{"id":{"type":"integer"}}}'
PASSWORD = kafka_pki.STORE_PASSWORD


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> kafka_pki.Pki:
    return kafka_pki.ensure(tmp_path_factory.mktemp("registry-tls") / "pki")


def _server_context(pki: kafka_pki.Pki, tmp: Path, keystore: str) -> ssl.SSLContext:
    store = read_store(str(pki.broker_keystore(keystore)), PASSWORD, key="test server")
    assert store.key is not None
    chain = tmp / f"{keystore}-chain.pem"
    chain.write_text(store.key + "".join(store.chain))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client's key store counts
    return context


@pytest.fixture
def front(
    pki: kafka_pki.Pki, tmp_path: Path, schema_registry: registry.Registry
) -> Iterator[dict[str, str]]:
    fronts: dict[str, str] = {}
    with (
        https_front(_server_context(pki, tmp_path, "broker"), schema_registry.url) as good,
        https_front(_server_context(pki, tmp_path, "wrong-host"), schema_registry.url) as wrong,
    ):
        fronts["good"], fronts["wrong-host"] = good, wrong
        yield fronts


def _registry(url: str, creds: tuple[str, str], **tls: str) -> SchemaRegistry:
    settings = read_registry_settings(
        {
            "schema.registry.url": url,
            "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": ":".join(creds),
            **{f"schema.registry.ssl.{k.replace('_', '.')}": v for k, v in tls.items()},
        }
    )
    return SchemaRegistry(settings, False)


@pytest.mark.parametrize("kind", ["jks", "p12", "pem"])
def test_trust_and_key_stores_of_each_kind(
    pki: kafka_pki.Pki,
    front: dict[str, str],
    schema_registry_credentials: tuple[str, str],
    tmp_path: Path,
    kind: str,
) -> None:
    if kind == "pem":
        trust = pki.ca
        key_pem = tmp_path / "worker.pem"
        key_pem.write_text(
            pki.client_key("worker").read_text() + pki.client_cert("worker").read_text()
        )
        keystore = key_pem
    else:
        trust = pki.truststore_jks if kind == "jks" else pki.truststore_p12
        keystore = pki.client_keystore("worker", kind)
    reg = _registry(
        front["good"],
        schema_registry_credentials,
        truststore_location=str(trust),
        truststore_password=PASSWORD,
        keystore_location=str(keystore),
        keystore_password=PASSWORD,
        key_password=PASSWORD,
    )
    try:
        schema_id = reg.id_for(f"tls-{kind}-value", SCHEMA, SchemaType.JSON)
        assert reg.schema_for(schema_id).text == SCHEMA
    finally:
        reg.close()


def test_without_a_client_certificate_the_handshake_fails(
    pki: kafka_pki.Pki, front: dict[str, str], schema_registry_credentials: tuple[str, str]
) -> None:
    reg = _registry(
        front["good"],
        schema_registry_credentials,
        truststore_location=str(pki.truststore_p12),
        truststore_password=PASSWORD,
    )
    try:
        with pytest.raises(RetriableError, match="unreachable"):
            reg.id_for("tls-nocert-value", SCHEMA, SchemaType.JSON)
    finally:
        reg.close()


def test_the_host_name_check_and_switching_it_off(
    pki: kafka_pki.Pki, front: dict[str, str], schema_registry_credentials: tuple[str, str]
) -> None:
    stores = {
        "truststore_location": str(pki.truststore_p12),
        "truststore_password": PASSWORD,
        "keystore_location": str(pki.client_keystore("worker", "p12")),
        "keystore_password": PASSWORD,
    }
    checked = _registry(front["wrong-host"], schema_registry_credentials, **stores)
    unchecked = _registry(
        front["wrong-host"],
        schema_registry_credentials,
        **stores,
        endpoint_identification_algorithm="",
    )
    try:
        with pytest.raises(RetriableError, match=r"certificate verify failed|Hostname mismatch"):
            checked.id_for("tls-host-value", SCHEMA, SchemaType.JSON)
        assert unchecked.id_for("tls-host-value", SCHEMA, SchemaType.JSON) > 0
    finally:
        checked.close()
        unchecked.close()
