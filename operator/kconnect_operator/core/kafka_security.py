"""The workers' Kafka security fields (`tls`, `authentication`), modelled on Strimzi's
KafkaConnect, and what they become: worker properties, Secret volumes, a config-hash part and, for
the operator's own admin client, an in-memory client config.

The fields read as Strimzi's do, so a Strimzi user's `tls` and `authentication` blocks carry over
and a Strimzi `KafkaUser`'s Secret works as is (`ca.crt`, `user.crt`, `user.key`, `password`):

    tls:
      trustedCertificates: [{secretName: my-cluster-cluster-ca-cert, certificate: ca.crt}]
    authentication:
      type: scram-sha-512            # or scram-sha-256, plain, tls, oauth
      username: my-connect
      passwordSecret: {secretName: my-connect, password: password}

Invariants:
- **No secret value leaves its Secret.** Each referenced Secret is mounted read-only into the
  worker pods under `SECRETS_DIR/<secretName>`; the worker properties (a ConfigMap) hold only
  `${kafkasecrets:<dir>:<key>}` variables, which the worker's DirectoryConfigProvider (named
  `PROVIDER`, limited to `SECRETS_DIR`) resolves when it reads its file. The key store is PEM
  (`ssl.keystore.certificate.chain`, `ssl.keystore.key`), so the worker reads the certificate and
  key in memory.
- **Every client gets them.** The keys are written at the top level and again under
  `producer.`, `consumer.` and `admin.`, as Kafka Connect needs them (kconnect's clients inherit
  the top level anyway), and `workerConfig` may not set the keys they manage.
- **A rotated Secret rolls the workers.** The operator reads the referenced Secrets each pass
  (`SecretFacts`: key names and keyed digests of each key's content) and the config hash covers
  the digests of the keys in use. A digest is an HMAC keyed with the Secret's uid, so the
  annotation that lists the hash's sources cannot be used to guess a weak password offline.
- **A missing Secret or key is said before anything is applied** (`SecretReferenceError`, the
  status reason `KafkaSecretMissing`): the workers keep their last good config meanwhile.

Failures: bad fields are refused by the model (the CRD's CEL rules say the same on `kubectl
apply`), naming the field and what is expected; a reference the Secrets cannot satisfy raises
`SecretReferenceError` naming the Secret and key, never a value.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Protocol

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from kconnect.errors import ConfigError
from kconnect_operator.core.shapes import JsonObject, _Model, cel, cel_list

SECRETS_DIR: Final = "/opt/kconnect/kafka-secrets"
"""Where the referenced Secrets are mounted in the worker container, one directory each."""

PROVIDER: Final = "kafkasecrets"
"""The worker's config provider that reads the mounted Secrets' keys."""

PROVIDER_CLASS: Final = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"

PROVIDERS_KEY: Final = "config.providers"

CLIENT_PREFIXES: Final = ("", "producer.", "consumer.", "admin.")
"""The worker's own clients, then the task producers, consumers and admin clients."""

DNS_SUBDOMAIN_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""A DNS-1123 subdomain, as Kubernetes names Secrets."""

DATA_KEY_PATTERN: Final = r"^[-._a-zA-Z0-9]+$"
"""A Secret's data key."""

CERT_PATTERN_PATTERN: Final = r"^[-._a-zA-Z0-9*?\[\]]+$"
"""A glob over a Secret's keys, such as `*.crt`."""

TEXT_PATTERN: Final = r"^[^\x00-\x1f\x7f]*$"
"""A value written into a JAAS option: no control characters (line breaks included)."""

MAX_TRUSTED_CERTIFICATES: Final = 32

SCRAM_MODULE: Final = "org.apache.kafka.common.security.scram.ScramLoginModule"
PLAIN_MODULE: Final = "org.apache.kafka.common.security.plain.PlainLoginModule"
OAUTH_MODULE: Final = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
OAUTH_HANDLER: Final = (
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
)


def _secret_name_field() -> Any:
    return Field(alias="secretName", min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)


def _data_key(value: str) -> str:
    if value in (".", ".."):
        raise ValueError(f"{value!r} is not a Secret key")
    return value


DataKey = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=DATA_KEY_PATTERN),
    AfterValidator(_data_key),
]
"""A key of a Secret's data."""


class CertSecretSource(_Model):
    """A certificate, or certificates, in a Secret: `certificate` names one key, `pattern` a glob
    over the Secret's keys."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            "has(self.certificate) != has(self.pattern)",
            "a trusted certificate needs exactly one of certificate or pattern",
        )
    )

    secret_name: str = _secret_name_field()
    """The Secret, in the resource's namespace."""
    certificate: DataKey | None = None
    """The key holding a PEM certificate, for example `ca.crt`."""
    pattern: str | None = Field(None, min_length=1, max_length=253, pattern=CERT_PATTERN_PATTERN)
    """A glob over the Secret's keys, for example `*.crt`: every matching key is trusted."""

    @model_validator(mode="after")
    def _one(self) -> CertSecretSource:
        if (self.certificate is None) == (self.pattern is None):
            raise ValueError(
                f"trusted certificate in Secret {self.secret_name!r}: expected exactly one of "
                "certificate (a key, such as ca.crt) or pattern (a glob, such as *.crt)"
            )
        return self


def trusted_certificates_field(alias: str) -> Any:
    return Field(default_factory=list, alias=alias, max_length=MAX_TRUSTED_CERTIFICATES)


class ClientTls(_Model):
    trusted_certificates: list[CertSecretSource] = trusted_certificates_field("trustedCertificates")
    """The CA certificates the brokers' certificates are checked against. Empty: the system's
    CA certificates (a cluster with a public CA)."""


class CertificateAndKey(_Model):
    secret_name: str = _secret_name_field()
    """The Secret, in the resource's namespace (a Strimzi KafkaUser's Secret works as is)."""
    certificate: DataKey
    """The key holding the PEM client certificate (chain), for example `user.crt`."""
    key: DataKey
    """The key holding the PEM private key (unencrypted), for example `user.key`."""


class PasswordSecretSource(_Model):
    secret_name: str = _secret_name_field()
    """The Secret, in the resource's namespace."""
    password: DataKey
    """The key holding the password, for example `password`."""


class GenericSecretSource(_Model):
    secret_name: str = _secret_name_field()
    """The Secret, in the resource's namespace."""
    key: DataKey
    """The key holding the value."""


class AuthenticationType(StrEnum):
    TLS = "tls"
    SCRAM_SHA_256 = "scram-sha-256"
    SCRAM_SHA_512 = "scram-sha-512"
    PLAIN = "plain"
    OAUTH = "oauth"


_FIELDS: Final[Mapping[AuthenticationType, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    # (required, allowed besides type) by their resource names
    AuthenticationType.TLS: (("certificateAndKey",), ("certificateAndKey",)),
    AuthenticationType.SCRAM_SHA_256: (
        ("username", "passwordSecret"),
        ("username", "passwordSecret"),
    ),
    AuthenticationType.SCRAM_SHA_512: (
        ("username", "passwordSecret"),
        ("username", "passwordSecret"),
    ),
    AuthenticationType.PLAIN: (("username", "passwordSecret"), ("username", "passwordSecret")),
    AuthenticationType.OAUTH: (
        ("clientId", "clientSecret", "tokenEndpointUri"),
        ("clientId", "clientSecret", "tokenEndpointUri", "scope", "tlsTrustedCertificates"),
    ),
}
_ALL_FIELDS: Final = sorted({f for _, allowed in _FIELDS.values() for f in allowed})


def _field_rules() -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    for kind, (required, allowed) in _FIELDS.items():
        needs = " && ".join(f"has(self.{f})" for f in required)
        rules.append(
            (
                f"self.type != '{kind.value}' || ({needs})",
                f"authentication type {kind.value} needs {', '.join(required)}",
            )
        )
        other = [f for f in _ALL_FIELDS if f not in allowed]
        if other:
            given = " || ".join(f"has(self.{f})" for f in other)
            rules.append(
                (
                    f"self.type != '{kind.value}' || !({given})",
                    f"authentication type {kind.value} takes only {', '.join(allowed)}",
                )
            )
    return rules


class KafkaClientAuthentication(_Model):
    """How the workers authenticate to Kafka, as in Strimzi's KafkaConnect `authentication`."""

    model_config = ConfigDict(json_schema_extra=cel_list(*_field_rules()))

    type: AuthenticationType
    """tls (a client certificate: mutual TLS), scram-sha-256, scram-sha-512, plain or oauth
    (OAUTHBEARER with client credentials from a token endpoint)."""
    certificate_and_key: CertificateAndKey | None = Field(None, alias="certificateAndKey")
    """tls: the Secret keys of the client certificate and its key."""
    username: str | None = Field(None, min_length=1, max_length=1024, pattern=TEXT_PATTERN)
    """scram-sha-256, scram-sha-512, plain: the user name."""
    password_secret: PasswordSecretSource | None = Field(None, alias="passwordSecret")
    """scram-sha-256, scram-sha-512, plain: the Secret key holding the password."""
    client_id: str | None = Field(
        None, alias="clientId", min_length=1, max_length=1024, pattern=TEXT_PATTERN
    )
    """oauth: the OAuth client id."""
    client_secret: GenericSecretSource | None = Field(None, alias="clientSecret")
    """oauth: the Secret key holding the OAuth client secret."""
    token_endpoint_uri: str | None = Field(
        None, alias="tokenEndpointUri", max_length=2048, pattern=r"^https?://[^\s\"'\\]+$"
    )
    """oauth: the identity provider's token endpoint (https:// or http://)."""
    scope: str | None = Field(None, min_length=1, max_length=1024, pattern=TEXT_PATTERN)
    """oauth: the scope to ask for."""
    tls_trusted_certificates: list[CertSecretSource] = trusted_certificates_field(
        "tlsTrustedCertificates"
    )
    """oauth: the CA certificate of the token endpoint, when not a public CA: one certificate."""

    @model_validator(mode="after")
    def _fields(self) -> KafkaClientAuthentication:
        given = {
            alias
            for name, field in type(self).model_fields.items()
            if (alias := field.alias or name) in _ALL_FIELDS and name in self.model_fields_set
        }
        required, allowed = _FIELDS[self.type]
        missing = [f for f in required if f not in given]
        if missing:
            raise ValueError(
                f"authentication type {self.type.value} needs {', '.join(missing)} "
                f"(it takes {', '.join(allowed)})"
            )
        extra = sorted(given - set(allowed))
        if extra:
            raise ValueError(
                f"authentication type {self.type.value} does not take {', '.join(extra)} "
                f"(it takes {', '.join(allowed)})"
            )
        return self


def tls_field() -> Any:
    return Field(None)


def authentication_field() -> Any:
    return Field(None)


TLS_AUTH_NEEDS_TLS: Final = (
    "!has(self.authentication) || self.authentication.type != 'tls' || has(self.tls)",
    "authentication type tls (mutual TLS) needs tls: set spec.tls (its trustedCertificates may "
    "be empty for a public CA)",
)


def check_tls_authentication(
    tls: ClientTls | None, authentication: KafkaClientAuthentication | None
) -> None:
    """`TLS_AUTH_NEEDS_TLS` in Python."""
    if authentication is not None and authentication.type is AuthenticationType.TLS and tls is None:
        raise ValueError(TLS_AUTH_NEEDS_TLS[1])


class KafkaSecurity(Protocol):
    """What the builders read of a spec's `tls` and `authentication`; both kinds have them."""

    @property
    def tls(self) -> ClientTls | None: ...
    @property
    def authentication(self) -> KafkaClientAuthentication | None: ...


# --- what the operator reads from the Secrets


@dataclass(frozen=True, slots=True)
class SecretFacts:
    """What a pass knows of one referenced Secret: its keys and a digest of each key's content
    (never the content)."""

    digests: Mapping[str, str]
    unquotable: frozenset[str] = frozenset()
    """Keys whose value a JAAS option cannot carry: not UTF-8 text, or holding a double quote,
    a backslash or a control character (a line break, say)."""

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.digests)


def _jaas_safe(value: str) -> bool:
    try:
        text = base64.b64decode(value, validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError
        return False
    return not any(c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def secret_facts(uid: str, data: Mapping[str, str]) -> SecretFacts:
    """The facts of a Secret with `uid` and `data` (its base64 values as the API serves them):
    each key's HMAC-SHA256 keyed with the uid, and the keys a JAAS option cannot carry."""
    return SecretFacts(
        {
            key: hmac.new(uid.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]
            for key, value in sorted(data.items())
        },
        frozenset(key for key, value in data.items() if not _jaas_safe(value)),
    )


_JAAS_FIELDS: Final = frozenset(
    {"spec.authentication.passwordSecret", "spec.authentication.clientSecret"}
)
"""Fields whose Secret value the worker reads inside `sasl.jaas.config`."""


class SecretReferenceError(ConfigError):
    """A Secret or key that `tls` or `authentication` names does not exist."""


def _sources(security: KafkaSecurity) -> list[tuple[str, CertSecretSource]]:
    out: list[tuple[str, CertSecretSource]] = []
    if security.tls is not None:
        out += [("spec.tls.trustedCertificates", s) for s in security.tls.trusted_certificates]
    auth = security.authentication
    if auth is not None:
        out += [
            ("spec.authentication.tlsTrustedCertificates", s) for s in auth.tls_trusted_certificates
        ]
    return out


def _key_refs(security: KafkaSecurity) -> list[tuple[str, str, str]]:
    """(field, secret, key) of each single-key reference."""
    auth = security.authentication
    if auth is None:
        return []
    refs: list[tuple[str, str, str]] = []
    if auth.certificate_and_key is not None:
        ck = auth.certificate_and_key
        refs += [
            ("spec.authentication.certificateAndKey.certificate", ck.secret_name, ck.certificate),
            ("spec.authentication.certificateAndKey.key", ck.secret_name, ck.key),
        ]
    if auth.password_secret is not None:
        ps = auth.password_secret
        refs.append(("spec.authentication.passwordSecret", ps.secret_name, ps.password))
    if auth.client_secret is not None:
        cs = auth.client_secret
        refs.append(("spec.authentication.clientSecret", cs.secret_name, cs.key))
    return refs


def secret_names(security: KafkaSecurity) -> list[str]:
    """The Secrets the security fields reference, sorted."""
    names = {s.secret_name for _, s in _sources(security)}
    names |= {secret for _, secret, _ in _key_refs(security)}
    return sorted(names)


def is_secured(security: KafkaSecurity) -> bool:
    return security.tls is not None or security.authentication is not None


def _missing_secret(field: str, secret: str) -> SecretReferenceError:
    return SecretReferenceError(
        f"{field}: Secret {secret!r} does not exist in the resource's namespace (or the "
        "operator may not read it)"
    )


def _certificate_keys(
    field: str, source: CertSecretSource, secrets: Mapping[str, SecretFacts]
) -> list[str]:
    facts = secrets.get(source.secret_name)
    if facts is None:
        raise _missing_secret(field, source.secret_name)
    if source.certificate is not None:
        if source.certificate not in facts.keys:
            raise SecretReferenceError(
                f"{field}: Secret {source.secret_name!r} has no key {source.certificate!r} "
                f"(it has {', '.join(sorted(facts.keys)) or 'no keys'})"
            )
        return [source.certificate]
    assert source.pattern is not None
    keys = sorted(k for k in facts.keys if fnmatch.fnmatchcase(k, source.pattern))
    if not keys:
        raise SecretReferenceError(
            f"{field}: no key of Secret {source.secret_name!r} matches pattern "
            f"{source.pattern!r} (it has {', '.join(sorted(facts.keys)) or 'no keys'})"
        )
    return keys


def used_keys(
    security: KafkaSecurity, secrets: Mapping[str, SecretFacts]
) -> dict[str, list[tuple[str, str]]]:
    """The (secret, key) pairs each field uses, by field; raises `SecretReferenceError` for a
    missing Secret or key."""
    used: dict[str, list[tuple[str, str]]] = {}
    for field, source in _sources(security):
        used.setdefault(field, []).extend(
            (source.secret_name, k) for k in _certificate_keys(field, source, secrets)
        )
    for field, secret, key in _key_refs(security):
        facts = secrets.get(secret)
        if facts is None:
            raise _missing_secret(field, secret)
        if key not in facts.keys:
            raise SecretReferenceError(
                f"{field}: Secret {secret!r} has no key {key!r} "
                f"(it has {', '.join(sorted(facts.keys)) or 'no keys'})"
            )
        if field in _JAAS_FIELDS and key in facts.unquotable:
            raise ConfigError(
                f"{field}: the value of key {key!r} in Secret {secret!r} is not text a JAAS "
                "config can quote (it holds a double quote, a backslash or a control character "
                "such as a trailing line break); store the bare password or client secret"
            )
        used.setdefault(field, []).append((secret, key))
    return used


def secrets_digest(
    security: KafkaSecurity, secrets: Mapping[str, SecretFacts]
) -> dict[str, str] | None:
    """The config-hash part: per referenced Secret, a digest of the digests of the keys in use
    (None when the spec has no security fields)."""
    if not is_secured(security):
        return None
    per_secret: dict[str, list[str]] = {}
    for pairs in used_keys(security, secrets).values():
        for secret, key in pairs:
            per_secret.setdefault(secret, []).append(f"{key}={secrets[secret].digests[key]}")
    return {
        secret: hashlib.sha256("\n".join(sorted(set(lines))).encode()).hexdigest()[:32]
        for secret, lines in sorted(per_secret.items())
    }


# --- the worker properties and volumes


def secret_dir(secret: str) -> str:
    return f"{SECRETS_DIR}/{secret}"


def _variable(secret: str, key: str) -> str:
    return f"${{{PROVIDER}:{secret_dir(secret)}:{key}}}"


def jaas_quote(value: str) -> str:
    """A JAAS option value, quoted."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _protocol(security: KafkaSecurity) -> str | None:
    auth = security.authentication
    sasl = auth is not None and auth.type is not AuthenticationType.TLS
    if security.tls is not None:
        return "SASL_SSL" if sasl else "SSL"
    return "SASL_PLAINTEXT" if sasl else None


MECHANISMS: Final[Mapping[AuthenticationType, str]] = {
    AuthenticationType.SCRAM_SHA_256: "SCRAM-SHA-256",
    AuthenticationType.SCRAM_SHA_512: "SCRAM-SHA-512",
    AuthenticationType.PLAIN: "PLAIN",
    AuthenticationType.OAUTH: "OAUTHBEARER",
}


def client_keys(
    security: KafkaSecurity,
    secrets: Mapping[str, SecretFacts],
    value: Any = _variable,
) -> dict[str, str]:
    """The Java client keys of one client (no prefix). `value(secret, key)` is what stands for a
    Secret key's content: a config-provider variable in the worker file, the content itself in
    the operator's own admin client."""
    used = used_keys(security, secrets)
    props: dict[str, str] = {}
    protocol = _protocol(security)
    if protocol is not None:
        props["security.protocol"] = protocol
    trusted = used.get("spec.tls.trustedCertificates", [])
    if trusted:
        props["ssl.truststore.type"] = "PEM"
        props["ssl.truststore.certificates"] = "\n".join(value(s, k) for s, k in trusted)
    auth = security.authentication
    if auth is None:
        return props
    if auth.type is AuthenticationType.TLS:
        assert auth.certificate_and_key is not None
        ck = auth.certificate_and_key
        props["ssl.keystore.type"] = "PEM"
        props["ssl.keystore.certificate.chain"] = value(ck.secret_name, ck.certificate)
        props["ssl.keystore.key"] = value(ck.secret_name, ck.key)
        return props
    props["sasl.mechanism"] = MECHANISMS[auth.type]
    if auth.type is AuthenticationType.OAUTH:
        assert auth.client_id is not None
        assert auth.client_secret is not None
        assert auth.token_endpoint_uri is not None
        options = [
            f"clientId={jaas_quote(auth.client_id)}",
            "clientSecret="
            + jaas_quote(value(auth.client_secret.secret_name, auth.client_secret.key)),
        ]
        if auth.scope:
            options.append(f"scope={jaas_quote(auth.scope)}")
        props["sasl.jaas.config"] = f"{OAUTH_MODULE} required {' '.join(options)};"
        props["sasl.oauthbearer.token.endpoint.url"] = auth.token_endpoint_uri
        props["sasl.login.callback.handler.class"] = OAUTH_HANDLER
        return props
    assert auth.username is not None
    assert auth.password_secret is not None
    module = PLAIN_MODULE if auth.type is AuthenticationType.PLAIN else SCRAM_MODULE
    password = value(auth.password_secret.secret_name, auth.password_secret.password)
    props["sasl.jaas.config"] = (
        f"{module} required username={jaas_quote(auth.username)} password={jaas_quote(password)};"
    )
    return props


def token_endpoint_ca(
    security: KafkaSecurity, secrets: Mapping[str, SecretFacts]
) -> tuple[str, str] | None:
    """The (secret, key) of the token endpoint's CA certificate, or None; librdkafka takes one
    file, so more than one is refused."""
    pairs = used_keys(security, secrets).get("spec.authentication.tlsTrustedCertificates", [])
    if len(pairs) > 1:
        raise ConfigError(
            "spec.authentication.tlsTrustedCertificates: expected one certificate (the token "
            f"endpoint's CA), found {len(pairs)}: "
            + ", ".join(f"{s}/{k}" for s, k in pairs)
            + "; put the CA chain in one key"
        )
    return pairs[0] if pairs else None


_MANAGED_SUFFIXES: Final = ("security.protocol", "https.ca.location", "https.ca.pem")
_MANAGED_STEMS: Final = ("sasl.", "ssl.truststore.", "ssl.keystore.", "ssl.key.")


def managed_key(key: str) -> bool:
    """Whether the security fields manage `key` (at the top level or under a client prefix)."""
    for prefix in CLIENT_PREFIXES:
        if prefix and not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if rest in _MANAGED_SUFFIXES or rest.startswith(_MANAGED_STEMS):
            return True
    return False


def security_properties(
    security: KafkaSecurity, secrets: Mapping[str, SecretFacts], worker_config: Mapping[str, str]
) -> dict[str, str]:
    """The worker properties the security fields add: their client keys under every client
    prefix and the `kafkasecrets` provider. Raises ConfigError when `workerConfig` sets a key
    they manage (naming it), and `SecretReferenceError` for a missing Secret or key."""
    if not is_secured(security):
        return {}
    clashing = sorted(k for k in worker_config if managed_key(k))
    provider_keys = sorted(k for k in worker_config if k.startswith(f"{PROVIDERS_KEY}.{PROVIDER}."))
    listed = [n.strip() for n in worker_config.get(PROVIDERS_KEY, "").split(",")]
    if clashing or provider_keys or PROVIDER in listed:
        keys = clashing + provider_keys + ([PROVIDERS_KEY] if PROVIDER in listed else [])
        raise ConfigError(
            f"spec.workerConfig sets {', '.join(keys)}: spec.tls and spec.authentication manage "
            f"security.protocol, sasl.*, ssl.truststore.*, ssl.keystore.*, ssl.key.* (also under "
            f"producer., consumer. and admin.) and the config provider {PROVIDER!r}; remove them "
            "from workerConfig"
        )
    one = client_keys(security, secrets)
    ca = token_endpoint_ca(security, secrets)
    if ca is not None:
        one["https.ca.location"] = f"{secret_dir(ca[0])}/{ca[1]}"
    props = {f"{prefix}{k}": v for prefix in CLIENT_PREFIXES for k, v in one.items()}
    props[f"{PROVIDERS_KEY}.{PROVIDER}.class"] = PROVIDER_CLASS
    props[f"{PROVIDERS_KEY}.{PROVIDER}.param.allowed.paths"] = SECRETS_DIR
    return props


def with_provider(providers: str) -> str:
    """A `config.providers` list with `PROVIDER` added."""
    names = [n.strip() for n in providers.split(",") if n.strip()]
    return ",".join([*names, PROVIDER])


def volume_name(secret: str) -> str:
    return "kafka-secret-" + hashlib.sha256(secret.encode()).hexdigest()[:12]


SECRET_FILE_MODE: Final = 0o440
"""Read-only to the worker's user and group (the pod's fsGroup)."""


def security_volumes(security: KafkaSecurity) -> tuple[list[JsonObject], list[JsonObject]]:
    """A read-only Secret volume per referenced Secret, at `SECRETS_DIR/<secretName>`."""
    volumes: list[JsonObject] = []
    mounts: list[JsonObject] = []
    for secret in secret_names(security):
        name = volume_name(secret)
        volumes.append(
            {"name": name, "secret": {"secretName": secret, "defaultMode": SECRET_FILE_MODE}}
        )
        mounts.append({"name": name, "mountPath": secret_dir(secret), "readOnly": True})
    return volumes, mounts


# --- the operator's own client (deletionPolicy: Delete)


def in_memory_client_keys(
    security: KafkaSecurity, data: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The Java client keys for a client in the operator's process, with the Secrets' decoded
    `data` (Secret name -> key -> text) in place: PEM text and passwords in memory, no files.
    Raises `SecretReferenceError` for a missing Secret or key."""
    facts = {name: SecretFacts(dict.fromkeys(keys, "")) for name, keys in data.items()}

    def content(secret: str, key: str) -> str:
        return data[secret][key]

    props = client_keys(security, facts, content)
    ca = token_endpoint_ca(security, facts)
    if ca is not None:
        props["https.ca.pem"] = data[ca[0]][ca[1]]
    return props
