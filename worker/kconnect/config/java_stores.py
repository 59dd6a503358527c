"""Java key and trust stores (JKS, PKCS12, PEM) read into PEM text for librdkafka.

Kafka Connect users point `ssl.truststore.location` and `ssl.keystore.location` at Java stores.
librdkafka takes trusted CA certificates only as PEM (`ssl.ca.location` / `ssl.ca.pem`), and a
client key and certificate as PEM or PKCS12; it cannot read JKS at all. So every store is read
here, in memory, and handed to librdkafka as PEM text (`ssl.ca.pem`, `ssl.certificate.pem`,
`ssl.key.pem`): nothing is written to disk, so no private key ends up in a temporary file.

- **JKS** is read by the small parser below (the format is Sun's: a SHA-1 integrity digest keyed by
  the store password, trusted-certificate entries, and private keys under Sun's key protector, a
  SHA-1 keystream). A store password, when given, is checked as Java checks it.
- **PKCS12** (Java's default store type since Java 9) is read with `cryptography`: Java encrypts
  even trusted certificates in it (PBES2, AES-256), which the standard library cannot undo.
- **PEM** files are read as they are.

The type is taken from the file's first bytes, not from `ssl.*.type`, because Java's own loader
does the same for JKS and PKCS12 (`keystore.type.compat`).

Fails with `StoreError` (a ConfigError) naming the key and the file and saying what is wrong: a
missing file, a wrong password, a store with no certificate or no key. Messages never hold a
password or key material.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from kconnect.errors import ConfigError

_JKS_MAGIC = 0xFEEDFEED
_JKS_PRIVATE_KEY = 1
_JKS_TRUSTED_CERT = 2
_JKS_WHITENER = b"Mighty Aphrodite"
_SUN_KEY_PROTECTOR_OID = bytes.fromhex("2b060104012a02110101")  # 1.3.6.1.4.1.42.2.17.1.1


class StoreError(ConfigError):
    """A store cannot be read; the message names the key and file, never a secret."""


@dataclass(frozen=True)
class Store:
    """What a store holds, as PEM text: its certificates, and the key with its chain if any."""

    certificates: tuple[str, ...]
    key: str | None = None
    chain: tuple[str, ...] = ()


def pem_certificate(der: bytes) -> str:
    return _pem("CERTIFICATE", der)


def _pem(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii").replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def is_encrypted_pem(key_pem: str) -> bool:
    """Whether a PEM private key is encrypted (PKCS#8 or OpenSSL's legacy form)."""
    return "ENCRYPTED" in key_pem.split("\n", 1)[0] or "Proc-Type: 4,ENCRYPTED" in key_pem


def read_store(
    path: str, password: str | None, *, key: str, key_password: str | None = None
) -> Store:
    """The store at `path` (JKS, PKCS12 or PEM), opened with `password`; `key` names the
    config key for messages. A JKS store's private key is decrypted with `key_password`
    (Java's `ssl.key.password`), by default the store password; a PEM key is left as it is."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise StoreError(f"cannot read {key}={path!r}: {e.strerror or e}") from None
    if len(data) >= 4 and struct.unpack(">I", data[:4])[0] == _JKS_MAGIC:
        return _read_jks(data, password, key_password or password, key=key, path=path)
    if is_pem(data):
        return _read_pem(data.decode("ascii", errors="replace"), key=key, path=path)
    return _read_pkcs12(data, password, key=key, path=path)


# --------------------------------------------------------------------------------------------------
# PEM


def is_pem(head: bytes) -> bool:
    """Whether a store's first bytes are PEM text: a DER store (PKCS12) begins with a SEQUENCE
    tag; PEM blocks may follow other text, such as the bag attributes `openssl pkcs12` writes."""
    return head[:1] != b"\x30" and b"-----BEGIN" in head


def split_pem(text: str) -> tuple[list[str], list[str]]:
    """(certificates, private keys) of a PEM text, each block as its own PEM text."""
    certs: list[str] = []
    keys: list[str] = []
    block: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("-----BEGIN "):
            block = [stripped]
        elif block is not None:
            block.append(stripped)
            if stripped.startswith("-----END "):
                pem = "\n".join(block) + "\n"
                (certs if "CERTIFICATE" in block[0] else keys).append(pem)
                block = None
    return certs, keys


def _read_pem(text: str, *, key: str, path: str) -> Store:
    certs, keys = split_pem(text)
    if not certs and not keys:
        raise StoreError(f"{key}={path!r}: no PEM certificate or key in the file")
    return Store(
        certificates=tuple(certs), key=keys[0] if keys else None, chain=tuple(certs) if keys else ()
    )


# --------------------------------------------------------------------------------------------------
# PKCS12


def _read_pkcs12(data: bytes, password: str | None, *, key: str, path: str) -> Store:
    from cryptography.hazmat.primitives.serialization import (  # noqa: PLC0415 - TLS users only
        Encoding,
        NoEncryption,
        PrivateFormat,
        pkcs12,
    )

    secret = password.encode("utf-8") if password else None
    try:
        loaded = pkcs12.load_pkcs12(data, secret)
    except ValueError:
        raise StoreError(
            f"{key}={path!r} cannot be opened: not a JKS, PKCS12 or PEM store, or the password "
            "is wrong (check the matching ssl.*.password)"
        ) from None
    certs = [
        c.certificate.public_bytes(Encoding.PEM).decode("ascii") for c in loaded.additional_certs
    ]
    if loaded.key is None:
        return Store(certificates=tuple(certs))
    own = loaded.cert.certificate.public_bytes(Encoding.PEM).decode("ascii") if loaded.cert else ""
    key_pem = loaded.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    chain = (own, *certs) if own else tuple(certs)
    return Store(certificates=chain, key=key_pem.decode("ascii"), chain=chain)


# --------------------------------------------------------------------------------------------------
# JKS


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def utf(self) -> str:
        return self.take(self.u16()).decode("utf-8", errors="replace")

    def blob(self) -> bytes:
        return self.take(self.u32())


def _read_jks(
    data: bytes, password: str | None, key_password: str | None, *, key: str, path: str
) -> Store:
    if password is not None:
        body, digest = data[:-20], data[-20:]
        expected = hashlib.sha1(
            password.encode("utf-16-be") + _JKS_WHITENER + body, usedforsecurity=False
        ).digest()
        if digest != expected:
            raise StoreError(
                f"{key}={path!r}: the JKS store's password is wrong, or the store is damaged "
                "(Java: 'Keystore was tampered with, or password was incorrect')"
            )
    try:
        reader = _Reader(data)
        reader.take(4)
        if reader.u32() not in (1, 2):
            raise ValueError("unknown JKS version")
        trusted: list[str] = []
        keys: list[tuple[bytes, list[str]]] = []
        for _ in range(reader.u32()):
            tag = reader.u32()
            reader.utf()  # alias
            reader.take(8)  # timestamp
            if tag == _JKS_TRUSTED_CERT:
                reader.utf()  # certificate type, "X.509"
                trusted.append(pem_certificate(reader.blob()))
            elif tag == _JKS_PRIVATE_KEY:
                protected = reader.blob()
                chain = []
                for _ in range(reader.u32()):
                    reader.utf()
                    chain.append(pem_certificate(reader.blob()))
                keys.append((protected, chain))
            else:
                raise ValueError(f"entry type {tag} (a JCEKS secret key?)")
    except (ValueError, struct.error) as e:
        raise StoreError(f"{key}={path!r}: not a readable JKS store ({e})") from None
    if not keys:
        return Store(certificates=tuple(trusted))
    protected, chain = keys[0]
    if key_password is None:
        raise StoreError(f"{key}={path!r}: the JKS store holds a private key; a password is needed")
    return Store(
        certificates=tuple(chain),
        key=_pem("PRIVATE KEY", _unprotect_jks_key(protected, key_password, key=key, path=path)),
        chain=tuple(chain),
    )


def _der_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER item at `pos`."""
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return tag, start, start + length


def _unprotect_jks_key(protected: bytes, password: str, *, key: str, path: str) -> bytes:
    """The PKCS#8 key inside an EncryptedPrivateKeyInfo under Sun's JKS key protector."""
    try:
        _, seq_start, _ = _der_item(protected, 0)
        _, alg_start, alg_end = _der_item(protected, seq_start)
        _, oid_start, oid_end = _der_item(protected, alg_start)
        if protected[oid_start:oid_end] != _SUN_KEY_PROTECTOR_OID:
            raise ValueError("the key is not protected the JKS way")
        _, data_start, data_end = _der_item(protected, alg_end)
    except (IndexError, ValueError) as e:
        raise StoreError(f"{key}={path!r}: cannot read the private key ({e})") from None
    blob = protected[data_start:data_end]
    salt, encrypted, check = blob[:20], blob[20:-20], blob[-20:]
    secret = password.encode("utf-16-be")
    stream = bytearray()
    digest = salt
    while len(stream) < len(encrypted):
        digest = hashlib.sha1(secret + digest, usedforsecurity=False).digest()
        stream += digest
    plain = bytes(a ^ b for a, b in zip(encrypted, stream, strict=False))
    if hashlib.sha1(secret + plain, usedforsecurity=False).digest() != check:
        raise StoreError(
            f"{key}={path!r}: the private key's password is wrong (check ssl.key.password)"
        )
    return plain
