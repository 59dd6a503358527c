"""TLS for `https` REST listeners: Kafka Connect's `listeners.https.ssl.*` keys, read with Python's
`ssl` module.

The keys are Kafka's, and so is where they are looked up (its `valuesWithPrefixAllOrNothing`):
when any key starts with `listeners.https.` (`admin.listeners.https.` for the admin listeners),
only those keys count; when none does, the worker's top-level `ssl.*` keys do.

| key | meaning |
|---|---|
| `ssl.keystore.location` | the server's key and certificate chain: a JKS, PKCS12 or PEM file |
| `ssl.keystore.password` | the JKS or PKCS12 key store's password |
| `ssl.keystore.certificate.chain`, `ssl.keystore.key` | the same, as PEM text in the config |
| `ssl.key.password` | the password of the private key (a JKS entry's, or an encrypted PEM key's) |
| `ssl.truststore.location` | CA certificates for clients: a JKS, PKCS12 or PEM file |
| `ssl.truststore.certificates` | the same, as PEM text |
| `ssl.client.auth` | `none` (default), `requested` or `required` (mutual TLS) |
| `ssl.enabled.protocols` | `TLSv1.2`, `TLSv1.3` (default both) |

A Java user's stores work unchanged: JKS and PKCS12 files are read in memory
(`kconnect.config.java_stores`, which the Kafka clients use too; the type comes from the file's
first bytes, as Java's own loader takes it) and handed to OpenSSL as PEM through an anonymous
in-memory file, as inline PEM text is, so no key material is written to disk. A declared
`ssl.*.type` that the file contradicts (PEM declared for a JKS file, or the reverse) is refused.

Fails closed, at start-up, naming the key: a wrong store password, a key store with no private
key, a `requested` or `required` client authentication with no truststore (Kafka would trust the
JVM's default CAs, that is any public CA), `ssl.cipher.suites` (Java's cipher names) and
`ssl.engine.factory.class` (Java code) are refused rather than ignored. Errors name files, never
their content or a password.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from kconnect.config import java_stores
from kconnect.config.worker import prefixed
from kconnect.errors import ConfigError

log = logging.getLogger(__name__)

LISTENERS_PREFIX = "listeners.https."
ADMIN_LISTENERS_PREFIX = "admin.listeners.https."

_PROTOCOLS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_CLIENT_AUTH = {
    "none": ssl.CERT_NONE,
    "requested": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}
_JAVA_ONLY = (
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    "ssl.protocol",
    "ssl.endpoint.identification.algorithm",
)
_REFUSED = {
    "ssl.cipher.suites": "it lists Java cipher suite names, which OpenSSL does not take; "
    "remove it to use OpenSSL's default secure suites",
    "ssl.engine.factory.class": "it names a Java class; kconnect cannot run Java code",
}
_KNOWN = frozenset(
    {
        *_JAVA_ONLY,
        *_REFUSED,
        "ssl.keystore.type",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.key.password",
        "ssl.truststore.type",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.truststore.certificates",
        "ssl.client.auth",
        "ssl.enabled.protocols",
    }
)
_JCEKS_MAGIC = b"\xce\xce\xce\xce"
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


def tls_settings(props: Mapping[str, str], prefix: str) -> tuple[dict[str, str], str]:
    """The `ssl.*` keys for listeners under `prefix`, and the prefix their names carry: the
    prefixed keys when any exists, else the top-level ones (Kafka's all-or-nothing rule)."""
    scoped = prefixed(props, prefix)
    if scoped:
        return scoped, prefix
    top = {k: v for k, v in props.items() if k.startswith("ssl.")}
    # With no key store at the top level either, errors name the keys to set: the prefixed ones,
    # which (unlike the top-level `ssl.*` keys) the worker's Kafka clients do not take too.
    keystore = ("ssl.keystore.location", "ssl.keystore.certificate.chain", "ssl.keystore.key")
    return top, "" if any(k in top for k in keystore) else prefix


def server_context(props: Mapping[str, str], prefix: str = LISTENERS_PREFIX) -> ssl.SSLContext:
    """A server-side TLS context for the https listeners whose keys are under `prefix`."""
    settings, shown = tls_settings(props, prefix)
    return _Builder(settings, shown).build()


class _Builder:
    def __init__(self, settings: Mapping[str, str], prefix: str) -> None:
        self._s = {k: v.strip() for k, v in settings.items()}
        self._p = prefix

    def _key(self, name: str) -> str:
        return f"{self._p}{name}"

    def _get(self, name: str) -> str:
        return self._s.get(name, "")

    def build(self) -> ssl.SSLContext:
        if self._p:
            unknown = sorted(k for k in self._s if k not in _KNOWN)
            if unknown:
                log.warning("unknown keys, ignored: %s", ", ".join(self._key(k) for k in unknown))
        for name, why in _REFUSED.items():
            if self._get(name):
                raise ConfigError(f"{self._key(name)} is not supported: {why}")
        for name in _JAVA_ONLY:
            if self._get(name):
                log.info("%s applies to Java's TLS only; ignored", self._key(name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._protocols(context)
        self._keystore(context)
        trusted = self._truststore(context)
        auth = self._get("ssl.client.auth").lower() or "none"
        if auth not in _CLIENT_AUTH:
            raise ConfigError(
                f"Invalid value {auth!r} for {self._key('ssl.client.auth')}: expected none, "
                "requested or required"
            )
        if auth != "none" and not trusted:
            raise ConfigError(
                f"{self._key('ssl.client.auth')}={auth} needs the CA certificates that client "
                f"certificates must chain to: set {self._key('ssl.truststore.location')} (a PEM "
                f"file) or {self._key('ssl.truststore.certificates')} (PEM text)"
            )
        context.verify_mode = _CLIENT_AUTH[auth]
        return context

    def _protocols(self, context: ssl.SSLContext) -> None:
        names = [
            p.strip() for p in (self._get("ssl.enabled.protocols") or "TLSv1.2,TLSv1.3").split(",")
        ]
        names = [n for n in names if n]
        unknown = [n for n in names if n not in _PROTOCOLS]
        if unknown or not names:
            raise ConfigError(
                f"Invalid value {self._get('ssl.enabled.protocols')!r} for "
                f"{self._key('ssl.enabled.protocols')}: expected TLSv1.2 and/or TLSv1.3"
            )
        versions = sorted(_PROTOCOLS[n] for n in names)
        context.minimum_version = versions[0]
        context.maximum_version = versions[-1]

    def _store_type(self, store: str) -> str:
        return self._get(f"ssl.{store}.type").upper()

    def _java_store(self, store: str, path: str) -> java_stores.Store | None:
        """The JKS or PKCS12 store at `path`, read; None for a PEM file, which OpenSSL reads
        itself. A declared `ssl.<store>.type` that the file contradicts is refused."""
        key = self._key(f"ssl.{store}.location")
        type_key = self._key(f"ssl.{store}.type")
        try:
            with open(path, "rb") as f:
                head = f.read(4096)
        except OSError as e:
            raise ConfigError(f"{key}: cannot read {path}: {e.strerror or e}") from None
        if head.startswith(_JCEKS_MAGIC):
            raise ConfigError(
                f"{key}={path} is a JCEKS store, which kconnect does not read: convert it with "
                "`keytool -importkeystore -srckeystore store.jceks -srcstoretype JCEKS "
                "-destkeystore store.p12 -deststoretype PKCS12`"
            )
        found = "PEM" if java_stores.is_pem(head) else "JKS or PKCS12"
        declared = self._store_type(store)
        if declared and declared not in ("PEM", "JKS", "PKCS12"):
            raise ConfigError(
                f"Invalid value {declared!r} for {type_key}: expected JKS, PKCS12 or PEM"
            )
        if declared and (declared == "PEM") != (found == "PEM"):
            raise ConfigError(
                f"{key}={path} is a {found} file, not the {declared} store {type_key} declares"
            )
        if found == "PEM":
            return None
        password = self._s.get(f"ssl.{store}.password") or None
        key_password = (self._s.get("ssl.key.password") or None) if store == "keystore" else None
        return java_stores.read_store(path, password, key=key, key_password=key_password)

    def _keystore(self, context: ssl.SSLContext) -> None:
        location = self._get("ssl.keystore.location")
        chain = self._get("ssl.keystore.certificate.chain")
        key = self._get("ssl.keystore.key")
        key_password = self._s.get("ssl.key.password") or None
        if self._get("ssl.keystore.password") and (chain or self._store_type("keystore") == "PEM"):
            raise ConfigError(
                f"{self._key('ssl.keystore.password')} cannot be set for a PEM key store; "
                f"only {self._key('ssl.key.password')} (for an encrypted key) applies"
            )
        if location and (chain or key):
            raise ConfigError(
                f"{self._key('ssl.keystore.location')} and "
                f"{self._key('ssl.keystore.certificate.chain')}/{self._key('ssl.keystore.key')} "
                "are exclusive: set one or the other"
            )
        if location:
            what = f"{self._key('ssl.keystore.location')}={location}"
            store = self._java_store("keystore", location)
            if store is None:
                _load_chain(context, location, key_password, what)
                return
            if store.key is None:
                raise ConfigError(
                    f"{what}: the store holds no private key; expected the server's private key "
                    "and its certificate chain"
                )
            with _in_memory_file(store.key + "".join(store.chain)) as path:
                _load_chain(context, path, None, what)
            return
        if chain or key:
            if not (chain and key):
                missing = "ssl.keystore.key" if chain else "ssl.keystore.certificate.chain"
                raise ConfigError(
                    f"{self._key(missing)} is missing: a PEM key store in the config needs both "
                    f"{self._key('ssl.keystore.certificate.chain')} and "
                    f"{self._key('ssl.keystore.key')}"
                )
            if self._store_type("keystore") not in ("", "PEM"):
                raise ConfigError(
                    f"{self._key('ssl.keystore.certificate.chain')} needs "
                    f"{self._key('ssl.keystore.type')}=PEM"
                )
            text = _pem_text(key, "ssl.keystore.key") + _pem_text(chain, "certificate chain")
            what = (
                f"{self._key('ssl.keystore.certificate.chain')} and {self._key('ssl.keystore.key')}"
            )
            with _in_memory_file(text) as path:
                _load_chain(context, path, key_password, what)
            return
        raise ConfigError(
            f"an https listener needs the server's certificate and key: set "
            f"{self._key('ssl.keystore.location')} (a PEM file with the private key and the "
            f"certificate chain), or {self._key('ssl.keystore.certificate.chain')} and "
            f"{self._key('ssl.keystore.key')} (PEM text), with {self._key('ssl.keystore.type')}=PEM"
        )

    def _truststore(self, context: ssl.SSLContext) -> bool:
        location = self._get("ssl.truststore.location")
        certificates = self._get("ssl.truststore.certificates")
        if not (location or certificates):
            return False
        if self._get("ssl.truststore.password") and (
            certificates or self._store_type("truststore") == "PEM"
        ):
            raise ConfigError(
                f"{self._key('ssl.truststore.password')} cannot be set for a PEM trust store"
            )
        if location and certificates:
            raise ConfigError(
                f"{self._key('ssl.truststore.location')} and "
                f"{self._key('ssl.truststore.certificates')} are exclusive: set one or the other"
            )
        if location:
            what = f"{self._key('ssl.truststore.location')}={location}"
            store = self._java_store("truststore", location)
            if store is not None:
                if not store.certificates:
                    raise ConfigError(f"{what}: the store holds no certificate")
                context.load_verify_locations(cadata="".join(store.certificates))
                return True
            try:
                context.load_verify_locations(cafile=location)
            except (ssl.SSLError, OSError, ValueError) as e:
                raise ConfigError(f"{what}: not PEM CA certificates ({_reason(e)})") from None
            return True
        try:
            context.load_verify_locations(
                cadata=_pem_text(certificates, "ssl.truststore.certificates")
            )
        except (ssl.SSLError, ValueError) as e:
            raise ConfigError(
                f"{self._key('ssl.truststore.certificates')}: not PEM CA certificates "
                f"({_reason(e)})"
            ) from None
        return True


def _reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__


def _load_chain(context: ssl.SSLContext, path: str, password: str | None, what: str) -> None:
    try:
        context.load_cert_chain(path, password=password)
    except ssl.SSLError as e:
        hint = "" if password else "; an encrypted key needs ssl.key.password"
        raise ConfigError(
            f"{what}: cannot load the private key and certificate chain ({_reason(e)}); "
            f"expected PEM with the private key and its certificate chain{hint}"
        ) from None
    except OSError as e:
        raise ConfigError(f"{what}: cannot read it: {_reason(e)}") from None


def _pem_text(value: str, what: str) -> str:
    """PEM blocks re-wrapped at 64 columns: a properties value loses its line breaks when it is
    written over continuation lines, and OpenSSL needs them."""
    blocks = _PEM_BLOCK.findall(value)
    if not blocks:
        raise ConfigError(f"{what}: expected PEM text (-----BEGIN ...----- blocks)")
    out: list[str] = []
    for label, body in blocks:
        lines = body.strip().splitlines()
        headers = [ln for ln in lines if ":" in ln]  # e.g. Proc-Type of a legacy encrypted key
        data = "".join("".join(ln.split()) for ln in lines if ":" not in ln)
        wrapped = "\n".join(data[i : i + 64] for i in range(0, len(data), 64))
        head = "\n".join(headers) + "\n\n" if headers else ""
        out.append(f"-----BEGIN {label}-----\n{head}{wrapped}\n-----END {label}-----\n")
    return "".join(out)


@contextlib.contextmanager
def _in_memory_file(text: str) -> Iterator[str]:
    """A path OpenSSL can read `text` from: an anonymous memory file where the system has them,
    else a private temporary file removed at once."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        fd = memfd_create("kconnect-rest-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, text.encode("ascii"))
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="kconnect-rest-tls-")
    try:
        os.write(fd, text.encode("ascii"))
        os.close(fd)
        yield path
    finally:
        Path(path).unlink(missing_ok=True)
