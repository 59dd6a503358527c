"""A throwaway PKI made with `openssl` for TLS tests: a CA, a server certificate for 127.0.0.1 and
localhost, a client certificate, and the same server key as an encrypted PEM and as PKCS12."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_pem: Path  # private key and certificate chain in one file
    server_cert: Path
    server_key: Path
    encrypted_pem: Path  # the key encrypted with "keypass", and the chain
    server_p12: Path  # PKCS12, store password "changeit"
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d: Path) -> Pki:
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=kconnect test CA", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subject in (("server", "/CN=localhost"), ("client", "/CN=rest-client")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
                 cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", "san.ext",
                 cwd=d)  # fmt: skip
    (d / "server.pem").write_text((d / "server.key").read_text() + (d / "server.crt").read_text())
    _openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:keypass",
             "-out", "server-enc.key", cwd=d)  # fmt: skip
    (d / "server-enc.pem").write_text(
        (d / "server-enc.key").read_text() + (d / "server.crt").read_text()
    )
    _openssl("pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key",
             "-out", "server.p12", "-passout", "pass:changeit", cwd=d)  # fmt: skip
    return Pki(
        ca=d / "ca.crt",
        server_pem=d / "server.pem",
        server_cert=d / "server.crt",
        server_key=d / "server.key",
        encrypted_pem=d / "server-enc.pem",
        server_p12=d / "server.p12",
        client_cert=d / "client.crt",
        client_key=d / "client.key",
    )
