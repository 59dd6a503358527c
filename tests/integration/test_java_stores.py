"""Java stores made by Java's own keytool (and openssl), read by kconnect.config.java_stores into
the same certificates and keys as the PEM files they were made from, for the Kafka clients and
for the https REST listeners."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kconnect.config.java_stores import StoreError, read_store
from kconnect.rest.tls import server_context
from kconnect_devenv import kafka_pki

WRONG = "not-the-password"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> kafka_pki.Pki:
    return kafka_pki.ensure(tmp_path_factory.mktemp("stores") / "pki")


def _cert(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


@pytest.mark.parametrize("kind", ["jks", "p12"])
def test_a_trust_store_holds_the_ca(pki: kafka_pki.Pki, kind: str) -> None:
    path = pki.truststore_jks if kind == "jks" else pki.truststore_p12
    store = read_store(str(path), kafka_pki.STORE_PASSWORD, key="ssl.truststore.location")
    assert [_cert(c) for c in store.certificates] == [_cert(pki.ca.read_bytes())]
    assert store.key is None


def test_a_jks_trust_store_reads_without_its_password_as_in_java(pki: kafka_pki.Pki) -> None:
    store = read_store(str(pki.truststore_jks), None, key="ssl.truststore.location")
    assert [_cert(c) for c in store.certificates] == [_cert(pki.ca.read_bytes())]


@pytest.mark.parametrize("kind", ["jks", "p12"])
def test_a_key_store_holds_the_client_key_and_chain(pki: kafka_pki.Pki, kind: str) -> None:
    path = pki.client_keystore("worker", kind)
    store = read_store(str(path), kafka_pki.STORE_PASSWORD, key="ssl.keystore.location")
    assert store.key is not None
    got = load_pem_private_key(store.key.encode(), None)
    want = load_pem_private_key(pki.client_key("worker").read_bytes(), None)
    assert got.public_key() == want.public_key()
    assert _cert(store.chain[0]) == _cert(pki.client_cert("worker").read_bytes())
    assert _cert(store.chain[-1]) == _cert(pki.ca.read_bytes())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truststore.jks", "the JKS store's password is wrong"),
        ("truststore.p12", "or the password is wrong"),
        ("worker.jks", "the JKS store's password is wrong"),
        ("worker.p12", "or the password is wrong"),
    ],
)
def test_a_wrong_password_says_so_without_the_password(
    pki: kafka_pki.Pki, name: str, message: str
) -> None:
    with pytest.raises(StoreError, match=message) as e:
        read_store(str(pki.root / name), WRONG, key="ssl.truststore.location")
    assert WRONG not in str(e.value)
    assert "ssl.truststore.location" in str(e.value)


def test_a_missing_store_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"cannot read ssl\.keystore\.location=.*missing\.jks"):
        read_store(str(tmp_path / "missing.jks"), "x", key="ssl.keystore.location")


def test_an_https_rest_listener_takes_a_java_users_jks_stores(
    pki: kafka_pki.Pki, tmp_path: Path
) -> None:
    """A JKS key store made by keytool from the broker's PKCS12, and the JKS trust store, serve
    an https listener with mutual TLS: a client with a certificate the CA signed is served, one
    without is refused."""
    keystore = tmp_path / "rest.jks"
    subprocess.run(
        ["keytool", "-importkeystore", "-noprompt",
         "-srckeystore", str(pki.broker_keystore()), "-srcstoretype", "PKCS12",
         "-srcstorepass", kafka_pki.STORE_PASSWORD,
         "-destkeystore", str(keystore), "-deststoretype", "JKS",
         "-deststorepass", kafka_pki.STORE_PASSWORD],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = server_context(
        {
            "listeners.https.ssl.keystore.type": "JKS",
            "listeners.https.ssl.keystore.location": str(keystore),
            "listeners.https.ssl.keystore.password": kafka_pki.STORE_PASSWORD,
            "listeners.https.ssl.key.password": kafka_pki.KEY_PASSWORD,
            "listeners.https.ssl.truststore.type": "JKS",
            "listeners.https.ssl.truststore.location": str(pki.truststore_jks),
            "listeners.https.ssl.truststore.password": kafka_pki.STORE_PASSWORD,
            "listeners.https.ssl.client.auth": "required",
        }
    )
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        served = threading.Thread(target=_serve_once, args=(listener, context), daemon=True)
        served.start()
        client = ssl.create_default_context(cafile=str(pki.ca))
        client.load_cert_chain(str(pki.client_cert("worker")), str(pki.client_key("worker")))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.recv(5) == b"hello"
        served.join(10)
        refused = threading.Thread(target=_serve_once, args=(listener, context), daemon=True)
        refused.start()
        anonymous = ssl.create_default_context(cafile=str(pki.ca))
        # The refusal comes at the handshake, or at the first read with TLS 1.3.
        with (
            pytest.raises((ssl.SSLError, ConnectionError)),
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            anonymous.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.recv(5)
        refused.join(10)


def _serve_once(listener: socket.socket, context: ssl.SSLContext) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(10)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello")
        except (ssl.SSLError, OSError):
            pass  # a refused client


def test_a_pem_store_with_openssls_bag_attributes_is_read_as_pem(
    pki: kafka_pki.Pki, tmp_path: Path
) -> None:
    """`openssl pkcs12 -out store.pem` writes attributes before each block."""
    pem = tmp_path / "truststore.pem"
    pem.write_text(
        "Bag Attributes\n    friendlyName: ca\nsubject=/CN=kconnect test CA\n" + pki.ca.read_text()
    )
    store = read_store(str(pem), None, key="ssl.truststore.location")
    assert [_cert(c) for c in store.certificates] == [_cert(pki.ca.read_bytes())]
