"""Basic authentication of the REST API (`rest.extension.classes` naming Kafka's
BasicAuthSecurityRestExtension), against the real aiohttp server, and the worker refusing to
start whenever it cannot give the protection that was asked for."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import ClientSession

from kconnect.config.worker import StandaloneConfig
from kconnect.errors import ConfigError
from kconnect.rest import RestServer
from kconnect.rest.basic_auth import (
    BASIC_AUTH_EXTENSION,
    BasicAuthenticator,
    jaas_path,
    parse_jaas,
    rest_authenticator,
)
from kconnect.rest.security import rest_security
from tests.unit.rest.rest_support import FakeHerder

MODULE = "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule"


def _jaas(tmp_path: Path, credentials: str, *, entry: str = "KafkaConnect") -> Path:
    creds = tmp_path / "credentials.properties"
    creds.write_text(credentials)
    jaas = tmp_path / "jaas.conf"
    jaas.write_text(
        "// the REST API's users\n"
        "KafkaServer {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        '  username="admin" password="x";\n};\n'
        f'{entry} {{\n  {MODULE} required\n  file="{creds}";\n}};\n'
    )
    return jaas


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_jaas_file_is_parsed_as_java_reads_it() -> None:
    entries = parse_jaas(
        "/* two entries */ KafkaConnect {\n"
        f'  {MODULE} REQUIRED file="/etc/c.properties" debug=true; # comment\n'
        "};\nOther { a.B optional; };\n",
        "jaas.conf",
    )
    [module] = entries["KafkaConnect"]
    assert module.class_name == MODULE
    assert module.flag == "required"
    assert dict(module.options) == {"file": "/etc/c.properties", "debug": "true"}
    assert entries["Other"][0].options == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('KafkaConnect { a.B required file="x" }', r"jaas\.conf:1: found '}' where"),
        ("KafkaConnect { a.B mandatory; };", "control flag 'mandatory'"),
        ("KafkaConnect { a.B required file=", "ends early"),
        ('KafkaConnect { a.B required file="x"; } ', "ends early"),
    ],
)
def test_malformed_jaas_file_names_file_and_what_was_expected(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_jaas(text, "jaas.conf")


def test_jaas_path_from_worker_key_or_kafka_opts() -> None:
    opts = "-Xmx1g -Djava.security.auth.login.config=/etc/kafka/jaas.conf -Dfoo='a b'"
    assert jaas_path(None, {"KAFKA_OPTS": opts}) == "/etc/kafka/jaas.conf"
    assert jaas_path(None, {"KAFKA_OPTS": "-Djava.security.auth.login.config==/j"}) == "/j"
    assert jaas_path(None, {"KAFKA_OPTS": "-Djava.security.auth.login.config=file:/j"}) == "/j"
    assert jaas_path("/w.conf", {"KAFKA_OPTS": opts}) == "/w.conf"
    assert jaas_path(None, {}) is None
    with pytest.raises(ConfigError, match="KAFKA_OPTS") as err:
        jaas_path(None, {"KAFKA_OPTS": "-Dpassword='secret"})
    assert "secret" not in str(err.value)


def test_authenticator_checks_the_header() -> None:
    auth = BasicAuthenticator({"alice": "s3cret", "bob": "pa:ss", "eve": "x"})
    assert auth.authenticate(_basic("alice", "s3cret")["Authorization"]) == "alice"
    assert auth.authenticate(_basic("bob", "pa:ss")["Authorization"].lower()) is None
    assert auth.authenticate("basic " + base64.b64encode(b"bob:pa:ss").decode()) == "bob"
    padded = base64.b64encode(b"eve:x").decode()
    assert padded.endswith("=")
    assert auth.authenticate(f"Basic {padded.rstrip('=')}") == "eve"
    for header in (
        None,
        "",
        "Basic",
        "Bearer abc",
        "Basic !!!notbase64",
        _basic("alice", "wrong")["Authorization"],
        _basic("carol", "s3cret")["Authorization"],
        "Basic " + base64.b64encode(b":s3cret").decode(),
        "Basic " + base64.b64encode(b"alice").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ):
        assert auth.authenticate(header) is None, header


def test_real_server_answers_401_without_or_with_wrong_credentials(tmp_path: Path) -> None:
    jaas = _jaas(tmp_path, "# users\nalice: s3cret\nbob=hunter2\n")
    authenticator = rest_authenticator(BASIC_AUTH_EXTENSION, str(jaas), {})

    async def scenario() -> None:
        server = RestServer(FakeHerder(), ["http://127.0.0.1:0"], authenticator=authenticator)
        await server.start()
        base = server.urls[0]
        try:
            async with ClientSession() as session:
                for path in ("/", "/connectors", "/health", "/admin/loggers", "/no/such"):
                    async with session.get(base + path) as response:
                        assert response.status == 401, path
                        assert response.headers["WWW-Authenticate"].startswith("Basic ")
                        body = await response.json()
                        assert body == {
                            "error_code": 401,
                            "message": "User cannot access the resource.",
                        }
                async with session.post(
                    base + "/connectors", json={"name": "x", "config": {}}
                ) as response:
                    assert response.status == 401
                for headers in (_basic("alice", "wrong"), _basic("mallory", "s3cret")):
                    async with session.get(base + "/connectors", headers=headers) as response:
                        assert response.status == 401
                for headers in (_basic("alice", "s3cret"), _basic("bob", "hunter2")):
                    async with session.get(base + "/connectors", headers=headers) as response:
                        assert response.status == 200
                        assert await response.json() == []
        finally:
            await server.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "classes",
    [
        "com.example.MyRestExtension",
        f"{BASIC_AUTH_EXTENSION},com.example.Audit",
        "io.confluent.connect.security.ConnectSecurityExtension",
    ],
)
def test_unknown_extension_refuses_to_start(classes: str, tmp_path: Path) -> None:
    jaas = _jaas(tmp_path, "alice: s3cret\n")
    with pytest.raises(ConfigError, match=r"rest\.extension\.classes: unsupported REST extension"):
        rest_authenticator(classes, str(jaas), {})


def test_basic_auth_without_a_usable_jaas_setup_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs a JAAS file .*KAFKA_OPTS"):
        rest_authenticator(BASIC_AUTH_EXTENSION, None, {"KAFKA_OPTS": "-Xmx1g"})
    with pytest.raises(ConfigError, match="cannot read the JAAS file"):
        rest_authenticator(BASIC_AUTH_EXTENSION, str(tmp_path / "missing.conf"), {})
    other = _jaas(tmp_path, "alice: s3cret\n", entry="KafkaClient")
    with pytest.raises(ConfigError, match=r"no KafkaConnect entry \(entries found: KafkaClient"):
        rest_authenticator(BASIC_AUTH_EXTENSION, str(other), {})
    ldap = tmp_path / "ldap.conf"
    ldap.write_text("KafkaConnect { com.sun.security.auth.module.LdapLoginModule required; };")
    with pytest.raises(ConfigError, match="LdapLoginModule; kconnect supports exactly one"):
        rest_authenticator(BASIC_AUTH_EXTENSION, str(ldap), {})
    no_file = tmp_path / "nofile.conf"
    no_file.write_text(f"KafkaConnect {{ {MODULE} required; }};")
    with pytest.raises(ConfigError, match="names no credentials file"):
        rest_authenticator(BASIC_AUTH_EXTENSION, str(no_file), {})
    missing = tmp_path / "missing-creds.conf"
    missing.write_text(f'KafkaConnect {{ {MODULE} required file="{tmp_path}/nope"; }};')
    with pytest.raises(ConfigError, match="cannot read the credentials file"):
        rest_authenticator(BASIC_AUTH_EXTENSION, str(missing), {})


def test_empty_credentials_file_refuses_to_start(tmp_path: Path) -> None:
    """Kafka lets every request through when the file is empty; kconnect does not start."""
    jaas = _jaas(tmp_path, "# nobody yet\n\n")
    with pytest.raises(ConfigError, match="lists no users"):
        rest_authenticator(BASIC_AUTH_EXTENSION, str(jaas), {})


def test_credentials_never_appear_in_errors(tmp_path: Path) -> None:
    jaas = _jaas(tmp_path, "alice: s3cr\\u12et\n")
    with pytest.raises(ConfigError, match="not a valid properties file") as err:
        rest_authenticator(BASIC_AUTH_EXTENSION, str(jaas), {})
    assert "s3cr" not in str(err.value)


def test_worker_config_names_the_extension_and_jaas_file(tmp_path: Path) -> None:
    jaas = _jaas(tmp_path, "alice: s3cret\n")
    props = {
        "offset.storage.file.filename": str(tmp_path / "offsets"),
        "rest.extension.classes": BASIC_AUTH_EXTENSION,
        "java.security.auth.login.config": str(jaas),
    }
    security = rest_security(props, StandaloneConfig.parse(props), {})
    assert security.authenticator is not None
    assert security.authenticator.authenticate(_basic("alice", "s3cret")["Authorization"])
    from_env = {k: v for k, v in props.items() if k != "java.security.auth.login.config"}
    security = rest_security(
        from_env,
        StandaloneConfig.parse(from_env),
        {"KAFKA_OPTS": f"-Djava.security.auth.login.config={jaas}"},
    )
    assert security.authenticator is not None


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_worker_with_unknown_extension_exits_with_a_message(mode: str, tmp_path: Path) -> None:
    """The whole command: it stops before connecting to Kafka (there is none here)."""
    worker = tmp_path / "worker.properties"
    worker.write_text(
        "bootstrap.servers=127.0.0.1:1\n"
        f"offset.storage.file.filename={tmp_path}/offsets\n"
        "group.id=g\nconfig.storage.topic=c\noffset.storage.topic=o\nstatus.storage.topic=s\n"
        "listeners=http://127.0.0.1:0\n"
        "rest.extension.classes=com.example.MyRestExtension\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "kconnect.cli", mode, str(worker)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "unsupported REST extension 'com.example.MyRestExtension'" in result.stderr
    assert "Traceback" not in result.stderr
