"""The certificates of the secured test broker, made with ``openssl`` and ``keytool``.

One directory holds a complete set, made in a few seconds and reused while its marker (a digest of
this module's recipe) matches: a CA, the broker's certificate (SAN ``IP:127.0.0.1``,
``DNS:localhost`` and the address the real node's pods reach the host at), client certificates
for mutual TLS, and what failure tests need: a second CA nobody trusts and a client certificate
it signed, a broker certificate that has expired and one for another host name. Java users'
stores are made by ``keytool`` itself, so they are exactly what a Java user has: the CA as a JKS
and as a PKCS12 truststore, each client as a PKCS12 and a JKS keystore.

Invariants:

- **Complete or absent.** Everything is written into a fresh directory that replaces the target
  only when all of it exists (:func:`kconnect_devenv.builds.produce`).
- **Local names only.** Certificates name ``127.0.0.1`` and ``localhost`` (the broker's also
  :data:`kconnect_devenv.nodenetwork.HOST_ADDRESS`, a /32 on ``lo`` where pods reach a broker
  listening for them), except the wrong-host one, which names ``wrong-host.invalid`` (a reserved
  name that never resolves).
- Keys are EC P-256 (fast to make), certificates valid two days from when they are made; the
  expired one ended a day before it was made.

Fails with :class:`PkiError` naming the tool and showing its output.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv import builds, nodenetwork, processes

STORE_PASSWORD: Final = "changeit"  # noqa: S105 - a test PKI, Java's customary default
KEY_PASSWORD: Final = STORE_PASSWORD  # Java's PKCS12 stores use the store password for keys
TOOL_TIMEOUT_S: Final = 60.0
VALID_DAYS: Final = 2
# Client certificates: the CN is the principal the broker sees (its mapping rule keeps the CN).
CLIENTS: Final = ("worker", "stranger")
LOOPBACK_SAN: Final = "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
BROKER_SAN: Final = f"subjectAltName=IP:127.0.0.1,DNS:localhost,IP:{nodenetwork.HOST_ADDRESS}\n"
WRONG_HOST_SAN: Final = "subjectAltName=DNS:wrong-host.invalid\n"
_RECIPE_VERSION: Final = "1"


class PkiError(RuntimeError):
    """A certificate or store could not be made; the message shows the tool's output."""


@dataclasses.dataclass(frozen=True)
class Pki:
    """Paths of one complete set of certificates and stores (see the module docstring)."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.crt"

    @property
    def untrusted_ca(self) -> Path:
        return self.root / "untrusted-ca.crt"

    @property
    def truststore_jks(self) -> Path:
        return self.root / "truststore.jks"

    @property
    def truststore_p12(self) -> Path:
        return self.root / "truststore.p12"

    def broker_keystore(self, kind: str = "broker") -> Path:
        """``broker``, ``expired`` or ``wrong-host``: a PKCS12 keystore for a broker listener."""
        return self.root / f"{kind}.p12"

    def client_cert(self, name: str) -> Path:
        return self.root / f"{name}.crt"

    def client_key(self, name: str) -> Path:
        return self.root / f"{name}.key"

    def client_keystore(self, name: str, kind: str) -> Path:
        """``kind`` ``p12`` or ``jks``."""
        return self.root / f"{name}.{kind}"


def _run(command: Sequence[str], cwd: Path) -> None:
    result = processes.run_tool(
        list(command), what=command[0], timeout=TOOL_TIMEOUT_S, error=PkiError, cwd=cwd
    )
    if result.returncode != 0:
        output = processes.tail_text(result.stdout + result.stderr, 20)
        raise PkiError(f"{' '.join(command[:2])} exited with {result.returncode}:\n{output}")


def _openssl(cwd: Path, *args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise PkiError("'openssl' is not on PATH; it makes the secured broker's certificates")
    _run([openssl, *args], cwd)


def _keytool(cwd: Path, *args: str) -> None:
    keytool = shutil.which("keytool")
    if keytool is None:
        raise PkiError("'keytool' (Java 17) is not on PATH; it makes the Java users' stores")
    _run([keytool, "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", *args], cwd)


_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _ca(d: Path, name: str, subject: str) -> None:
    _openssl(d, "req", "-x509", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-days", str(VALID_DAYS), "-subj", subject)  # fmt: skip


def _signed(d: Path, name: str, ca: str, subject: str, san: str, *, expired: bool = False) -> None:
    """``name.key`` and ``name.crt``, signed by ``ca``; with ``expired``, valid for one second
    in the past (``openssl ca`` is the one command that takes explicit dates)."""
    (d / f"{name}.ext").write_text(san)
    _openssl(d, "req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
    if not expired:
        _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey",
                 f"{ca}.key", "-CAcreateserial", "-out", f"{name}.crt", "-days",
                 str(VALID_DAYS), "-extfile", f"{name}.ext")  # fmt: skip
        return
    (d / "ca-db").mkdir(exist_ok=True)
    (d / "ca-db" / "index.txt").write_text("")
    (d / "ca-db" / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=test\n[test]\ndir=ca-db\ndatabase=$dir/index.txt\n"
        "serial=$dir/serial\nnew_certs_dir=ca-db\ndefault_md=sha256\npolicy=any\n"
        "copy_extensions=none\n[any]\ncommonName=supplied\n"
    )
    _openssl(d, "ca", "-batch", "-config", "ca.cnf", "-cert", f"{ca}.crt", "-keyfile",
             f"{ca}.key", "-in", f"{name}.csr", "-out", f"{name}.crt", "-startdate",
             "20000101000000Z", "-enddate", "20000102000000Z", "-extfile", f"{name}.ext",
             "-notext")  # fmt: skip


def _p12(d: Path, name: str, ca: str) -> None:
    _openssl(d, "pkcs12", "-export", "-in", f"{name}.crt", "-inkey", f"{name}.key",
             "-certfile", f"{ca}.crt", "-name", name, "-out", f"{name}.p12",
             "-passout", f"pass:{STORE_PASSWORD}")  # fmt: skip


def _write(d: Path) -> None:
    _ca(d, "ca", "/CN=kconnect test CA")
    _ca(d, "untrusted-ca", "/CN=kconnect untrusted CA")
    _signed(d, "broker", "ca", "/CN=localhost", BROKER_SAN)
    _signed(d, "wrong-host", "ca", "/CN=wrong-host.invalid", WRONG_HOST_SAN)
    _signed(d, "expired", "ca", "/CN=localhost", LOOPBACK_SAN, expired=True)
    for kind in ("broker", "wrong-host", "expired"):
        _p12(d, kind, "ca")
    for name in CLIENTS:
        _signed(d, name, "ca", f"/CN={name}", LOOPBACK_SAN)
    _signed(d, "untrusted-client", "untrusted-ca", "/CN=worker", LOOPBACK_SAN)
    for name in (*CLIENTS, "untrusted-client"):
        _p12(d, name, "ca" if name != "untrusted-client" else "untrusted-ca")
        _keytool(d, "-importkeystore", "-noprompt", "-srckeystore", f"{name}.p12",
                 "-srcstoretype", "PKCS12", "-srcstorepass", STORE_PASSWORD,
                 "-destkeystore", f"{name}.jks", "-deststoretype", "JKS",
                 "-deststorepass", STORE_PASSWORD, "-destkeypass", KEY_PASSWORD)  # fmt: skip
    for kind in ("JKS", "PKCS12"):
        suffix = "jks" if kind == "JKS" else "p12"
        _keytool(d, "-importcert", "-noprompt", "-alias", "kconnect-test-ca", "-file", "ca.crt",
                 "-keystore", f"truststore.{suffix}", "-storetype", kind,
                 "-storepass", STORE_PASSWORD)  # fmt: skip


def _digest() -> str:
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest() + _RECIPE_VERSION


def ensure(root: Path) -> Pki:
    """A complete set of certificates in ``root``, made unless one from this recipe is there."""
    builds.produce(
        root,
        root.parent / f"{root.name}.made",
        digest=_digest,
        done=lambda: builds.is_complete(root, root.parent / f"{root.name}.made", _digest()),
        write=_write,
    )
    return Pki(root)
