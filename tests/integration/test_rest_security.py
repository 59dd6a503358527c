"""A running `kconnect standalone` worker with its REST API secured as a Kafka Connect user would
write it: an https listener with mutual TLS, BasicAuthSecurityRestExtension with the JAAS file in
KAFKA_OPTS, and admin.listeners, against the real broker."""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.support.pki import make_pki
from tests.support.workers import Standalone, Worker, free_port, write_properties

EXTENSION = "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
MODULE = "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule"


def _auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _request(
    url: str,
    *,
    context: ssl.SSLContext | None = None,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: Any = None,
) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None, dict(resp.headers)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None, dict(e.headers)


def test_https_mutual_tls_basic_auth_and_admin_listeners(
    standalone: Standalone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = make_pki(tmp_path)
    credentials = tmp_path / "credentials.properties"
    credentials.write_text("admin: admin-secret\n")
    jaas = tmp_path / "jaas.conf"
    jaas.write_text(f'KafkaConnect {{\n  {MODULE} required\n  file="{credentials}";\n}};\n')
    # Where Kafka users put it; the worker process inherits the environment.
    monkeypatch.setenv("KAFKA_OPTS", f"-Xmx256m -Djava.security.auth.login.config={jaas}")

    port, admin_port = free_port(), free_port()
    props = {
        **standalone.worker_props(),
        "listeners": f"https://127.0.0.1:{port}",
        "listeners.https.ssl.keystore.type": "PEM",
        "listeners.https.ssl.keystore.location": str(pki.server_pem),
        "listeners.https.ssl.truststore.type": "PEM",
        "listeners.https.ssl.truststore.location": str(pki.ca),
        "listeners.https.ssl.client.auth": "required",
        "rest.extension.classes": EXTENSION,
        "admin.listeners": f"http://127.0.0.1:{admin_port}",
        # The admin client's own key beside them: it must still reach the admin client.
        "admin.request.timeout.ms": "20000",
    }
    worker_file = write_properties(tmp_path / "worker.properties", props)
    worker = Worker(standalone.cwd, ["standalone", str(worker_file)], port)
    standalone.workers.append(worker)

    base = f"https://127.0.0.1:{port}"
    admin = f"http://127.0.0.1:{admin_port}"
    trusted = ssl.create_default_context(cafile=str(pki.ca))
    with_cert = ssl.create_default_context(cafile=str(pki.ca))
    with_cert.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    good = _auth("admin", "admin-secret")

    deadline = time.monotonic() + 60
    while True:
        if worker.proc.poll() is not None:
            pytest.fail(f"worker exited with {worker.proc.returncode}:\n{worker.log()}")
        try:
            if _request(base + "/health", context=with_cert, headers=good)[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"the worker never became healthy:\n{worker.log()}")
        time.sleep(0.2)

    # Mutual TLS: no client certificate, no connection.
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        _request(base + "/connectors", context=trusted, headers=good)
    # Basic authentication on top of it.
    status, body, headers = _request(base + "/connectors", context=with_cert)
    assert status == 401
    assert body == {"error_code": 401, "message": "User cannot access the resource."}
    assert headers["WWW-Authenticate"].startswith("Basic ")
    assert _request(base + "/connectors", context=with_cert, headers=_auth("admin", "x"))[0] == 401
    status, body, _ = _request(
        base + "/connectors",
        context=with_cert,
        headers=good,
        method="POST",
        body={"name": "gen", "config": {"connector.class": "DataGen", "topic": "rest-sec"}},
    )
    assert status == 201, body
    assert _request(base + "/connectors", context=with_cert, headers=good)[:2] == (200, ["gen"])

    # The admin endpoints: only on the admin listener, and authenticated there too.
    assert _request(base + "/admin/loggers", context=with_cert, headers=good)[0] == 404
    assert _request(admin + "/admin/loggers")[0] == 401
    status, loggers, _ = _request(admin + "/admin/loggers", headers=good)
    assert status == 200
    assert isinstance(loggers, dict)
    assert _request(admin + "/connectors", headers=good)[0] == 404

    assert worker.terminate() == 0
    assert "admin-secret" not in worker.log()


def test_unknown_rest_extension_stops_the_worker(standalone: Standalone) -> None:
    props = {
        **standalone.worker_props(),
        "listeners": f"http://127.0.0.1:{free_port()}",
        "rest.extension.classes": "com.example.AuditRestExtension",
    }
    worker_file = write_properties(standalone.cwd / "worker.properties", props)
    result = standalone.run_to_exit(["standalone", str(worker_file)])
    assert result.returncode == 1
    assert "unsupported REST extension 'com.example.AuditRestExtension'" in result.stderr
