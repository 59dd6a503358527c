"""HTTPS REST listeners (`listeners=https://...` with the `listeners.https.ssl.*` keys) against the
real aiohttp server, with certificates made by `openssl` for each test session: TLS served, mutual
TLS enforced, Java stores read as Java reads them, and every store that cannot be read refused at
start-up with a clear message."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from kconnect.config.worker import StandaloneConfig
from kconnect.errors import ConfigError
from kconnect.rest import RestServer
from kconnect.rest.security import rest_security
from kconnect.rest.tls import server_context
from tests.support.pki import Pki, make_pki
from tests.unit.rest.rest_support import FakeHerder


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _client(pki: Pki, *, with_cert: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if with_cert:
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return context


async def _get(url: str, context: ssl.SSLContext | bool) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, ssl=context) as response,
    ):
        await response.read()
        return response.status


def _serve(props: dict[str, str], check: object) -> None:
    """Start a REST server on the `listeners` of `props` (TLS from the same props), run
    `check(server)` and stop."""

    async def scenario() -> None:
        config = StandaloneConfig.parse({"offset.storage.file.filename": "/tmp/o", **props})
        security = rest_security(props, config, {})
        server = RestServer(
            FakeHerder(),
            [config.listener_list()],
            ssl_context=security.ssl_context,
            admin_listeners=security.admin_listeners,
            admin_ssl_context=security.admin_ssl_context,
        )
        await server.start()
        try:
            await check(server)  # type: ignore[operator]
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_https_listener_serves_tls_with_a_pem_keystore(pki: Pki) -> None:
    props = {
        "listeners": "https://127.0.0.1:0",
        "listeners.https.ssl.keystore.type": "PEM",
        "listeners.https.ssl.keystore.location": str(pki.server_pem),
    }

    async def check(server: RestServer) -> None:
        [url] = server.urls
        assert url.startswith("https://127.0.0.1:")
        assert await _get(url + "/connectors", _client(pki)) == 200
        with pytest.raises(aiohttp.ClientError):  # plain HTTP is not served there
            await _get(url.replace("https://", "http://") + "/connectors", False)

    _serve(props, check)


def test_https_and_http_listeners_side_by_side_with_top_level_ssl_keys(pki: Pki) -> None:
    """No `listeners.https.` key: Kafka's rule takes the worker's top-level `ssl.*` keys."""
    props = {
        "listeners": "http://127.0.0.1:0,https://127.0.0.1:0",
        "ssl.keystore.location": str(pki.server_pem),
    }

    async def check(server: RestServer) -> None:
        http, https = server.urls
        assert await _get(http + "/", False) == 200
        assert await _get(https + "/", _client(pki)) == 200

    _serve(props, check)


def test_pem_text_in_the_config_even_with_its_line_breaks_lost(pki: Pki) -> None:
    chain = pki.server_cert.read_text()
    key = pki.server_key.read_text()
    props = {
        "listeners": "https://127.0.0.1:0",
        "listeners.https.ssl.keystore.type": "PEM",
        # As a properties value written over continuation lines arrives: on one line.
        "listeners.https.ssl.keystore.certificate.chain": chain.replace("\n", ""),
        "listeners.https.ssl.keystore.key": key,
    }

    async def check(server: RestServer) -> None:
        assert await _get(server.urls[0] + "/", _client(pki)) == 200

    _serve(props, check)


def test_encrypted_key_needs_its_password(pki: Pki) -> None:
    base = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.encrypted_pem)}
    server_context({**base, "ssl.key.password": "keypass"}, "")
    with pytest.raises(ConfigError, match="cannot load the private key") as err:
        server_context({**base, "ssl.key.password": "wrong-pass"}, "")
    assert "wrong-pass" not in str(err.value)


def test_mutual_tls_rejects_a_client_without_a_certificate(pki: Pki) -> None:
    props = {
        "listeners": "https://127.0.0.1:0",
        "listeners.https.ssl.keystore.location": str(pki.server_pem),
        "listeners.https.ssl.truststore.type": "PEM",
        "listeners.https.ssl.truststore.location": str(pki.ca),
        "listeners.https.ssl.client.auth": "required",
    }

    async def check(server: RestServer) -> None:
        url = server.urls[0] + "/connectors"
        with pytest.raises(aiohttp.ClientError):
            await _get(url, _client(pki))
        assert await _get(url, _client(pki, with_cert=True)) == 200

    _serve(props, check)


def test_client_auth_without_a_truststore_is_refused(pki: Pki) -> None:
    with pytest.raises(ConfigError, match=r"listeners\.https\.ssl\.client\.auth=required needs"):
        server_context(
            {
                "listeners.https.ssl.keystore.location": str(pki.server_pem),
                "listeners.https.ssl.client.auth": "required",
            }
        )


def test_a_pkcs12_keystore_is_served_as_java_would(pki: Pki, tmp_path: Path) -> None:
    props = {
        "listeners": "https://127.0.0.1:0",
        "listeners.https.ssl.keystore.type": "PKCS12",
        "listeners.https.ssl.keystore.location": str(pki.server_p12),
        "listeners.https.ssl.keystore.password": "changeit",
    }

    async def check(server: RestServer) -> None:
        [url] = server.urls
        assert await _get(url + "/connectors", _client(pki)) == 200

    _serve(props, check)
    # With the PEM it was made from written beside it (openssl's bag attributes first), the
    # same listener takes that too.
    pem = tmp_path / "server-with-attributes.pem"
    pem.write_text("Bag Attributes\n    friendlyName: server\n" + pki.server_pem.read_text())
    server_context({"listeners.https.ssl.keystore.location": str(pem)})


def test_stores_that_cannot_be_read_name_the_key_and_file(pki: Pki, tmp_path: Path) -> None:
    jks = tmp_path / "keystore.jks"
    jks.write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + b"\x00" * 64)
    with pytest.raises(
        ConfigError, match=r"listeners\.https\.ssl\.keystore\.location=.*keystore\.jks"
    ):
        server_context({"listeners.https.ssl.keystore.location": str(jks)})
    with pytest.raises(ConfigError, match=r"cannot be opened.*password is wrong") as wrong:
        server_context(
            {
                "listeners.https.ssl.keystore.location": str(pki.server_p12),
                "listeners.https.ssl.keystore.password": "not-the-password",
            }
        )
    assert "not-the-password" not in str(wrong.value)
    with pytest.raises(ConfigError, match=r"is a PEM file, not the PKCS12 store .*keystore\.type"):
        server_context(
            {
                "listeners.https.ssl.keystore.type": "PKCS12",
                "listeners.https.ssl.keystore.location": str(pki.server_pem),
            }
        )
    with pytest.raises(ConfigError, match=r"is a JKS or PKCS12 file, not the PEM store"):
        server_context(
            {
                "listeners.https.ssl.keystore.type": "PEM",
                "listeners.https.ssl.keystore.location": str(pki.server_p12),
            }
        )
    with pytest.raises(ConfigError, match=r"Invalid value 'BCFKS' for .*truststore\.type"):
        server_context(
            {
                "listeners.https.ssl.keystore.location": str(pki.server_pem),
                "listeners.https.ssl.truststore.type": "BCFKS",
                "listeners.https.ssl.truststore.location": str(pki.ca),
            }
        )
    jceks = tmp_path / "store.jceks"
    jceks.write_bytes(b"\xce\xce\xce\xce" + b"\x00" * 64)
    with pytest.raises(ConfigError, match=r"is a JCEKS store.*-deststoretype PKCS12"):
        server_context({"listeners.https.ssl.keystore.location": str(jceks)})
    ca_only = tmp_path / "ca-only.p12"
    _ca_only_pkcs12(pki, ca_only)
    with pytest.raises(ConfigError, match=r"holds no private key"):
        server_context(
            {
                "listeners.https.ssl.keystore.location": str(ca_only),
                "listeners.https.ssl.keystore.password": "changeit",
            }
        )


def _ca_only_pkcs12(pki: Pki, out: Path) -> None:
    """A PKCS12 store that holds the CA certificate and no key, as a truststore does."""
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    out.write_bytes(
        pkcs12.serialize_key_and_certificates(
            None, None, None, [ca], BestAvailableEncryption(b"changeit")
        )
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, r"needs the server's certificate and key: set listeners\.https\.ssl\.keystore\.loc"),
        ({"ssl.cipher.suites": "TLS_AES_128_GCM_SHA256"}, r"ssl\.cipher\.suites is not supp"),
        ({"ssl.client.auth": "sometimes"}, r"Invalid value 'sometimes' for .*ssl\.client\.auth"),
        ({"ssl.enabled.protocols": "TLSv1.1"}, r"expected TLSv1\.2 and/or TLSv1\.3"),
        ({"ssl.keystore.password": "pw"}, r"ssl\.keystore\.password cannot be set for a PEM"),
        ({"ssl.keystore.key": "x"}, r"ssl\.keystore\.certificate\.chain is missing"),
    ],
)
def test_bad_tls_settings_name_the_key(pki: Pki, extra: dict[str, str], expected: str) -> None:
    props = {f"listeners.https.{k}": v for k, v in extra.items()}
    if extra and "ssl.keystore.key" not in extra:
        props["listeners.https.ssl.keystore.location"] = str(pki.server_pem)
        props["listeners.https.ssl.keystore.type"] = "PEM"
    with pytest.raises(ConfigError, match=expected):
        server_context(props)


def test_https_listener_without_tls_settings_is_never_served_plain() -> None:
    with pytest.raises(ConfigError, match="has no TLS settings"):
        RestServer(FakeHerder(), ["https://127.0.0.1:0"])


def test_unknown_listener_tls_keys_are_warned_about(
    pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    server_context(
        {
            "listeners.https.ssl.keystore.location": str(pki.server_pem),
            "listeners.https.ssl.keystore.lcation": "/typo",
        }
    )
    assert "unknown keys, ignored: listeners.https.ssl.keystore.lcation" in caplog.text
