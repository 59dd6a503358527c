"""The Schema Registry keys of Confluent's converters, described and read.

`SchemaRegistryConverterConfig` describes the keys (`GET /connector-plugins/{p}/config`) with the
names users already write for Confluent's AvroConverter, ProtobufConverter and
JsonSchemaConverter; a converter's own model subclasses it. `read_registry_settings` turns a
converter's configs (prefix removed) into `RegistrySettings`, checked: a bad value is a
`ConfigError` naming the key, the value and what was expected, except for the secrets
(`basic.auth.user.info`, the store passwords, a URL's user info), which are never quoted.

Credentials (`basic.auth.credentials.source`, as Confluent's clients read it):
- `URL` (the default): the user info of the first URL (`http://user:password@host:port`);
- `USER_INFO`: `basic.auth.user.info` (or `schema.registry.basic.auth.user.info`), `user:password`;
- `SASL_INHERIT`: the username and password of `sasl.jaas.config` given to the converter.

Config provider variables (`${file:...}`, `${env:...}`) are resolved by the worker before a
converter sees its configs; the resolved values are held here as `SecretStr` fields or out of
every `repr`, and the worker's redaction keeps them out of traces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic.config import JsonDict

from kconnect.converters._config import ConverterTypeConfig, get_bool, get_choice, get_int
from kconnect.errors import ConfigError

URL_CONFIG: Final = "schema.registry.url"
CREDENTIALS_SOURCE_CONFIG: Final = "basic.auth.credentials.source"
USER_INFO_CONFIG: Final = "basic.auth.user.info"
PREFIXED_USER_INFO_CONFIG: Final = "schema.registry.basic.auth.user.info"
AUTO_REGISTER_CONFIG: Final = "auto.register.schemas"
USE_LATEST_CONFIG: Final = "use.latest.version"
LATEST_STRICT_CONFIG: Final = "latest.compatibility.strict"
KEY_STRATEGY_CONFIG: Final = "key.subject.name.strategy"
VALUE_STRATEGY_CONFIG: Final = "value.subject.name.strategy"
CACHE_SIZE_CONFIG: Final = "schemas.cache.size"
NORMALIZE_CONFIG: Final = "normalize.schemas"
CONNECT_META_DATA_CONFIG: Final = "connect.meta.data"
SASL_JAAS_CONFIG: Final = "sasl.jaas.config"
SSL_PREFIX: Final = "schema.registry.ssl."

CREDENTIALS_SOURCES: Final = ("URL", "USER_INFO", "SASL_INHERIT")
STORE_TYPES: Final = ("JKS", "PKCS12", "PEM")
_STRATEGY_PACKAGE: Final = "io.confluent.kafka.serializers.subject."


class SubjectNameStrategy(Enum):
    """How a record's subject is named (Confluent's `*.subject.name.strategy`)."""

    TOPIC = "TopicNameStrategy"
    """`<topic>-key` / `<topic>-value`."""
    RECORD = "RecordNameStrategy"
    """The record's fully qualified name."""
    TOPIC_RECORD = "TopicRecordNameStrategy"
    """`<topic>-<record name>`."""

    @property
    def java_name(self) -> str:
        return _STRATEGY_PACKAGE + self.value


def _key(importance: str, display: str, group: str, type_: str | None = None) -> JsonDict:
    extra: JsonDict = {"importance": importance, "display_name": display, "group": group}
    if type_ is not None:
        extra["type"] = type_
    return extra


class SchemaRegistryConverterConfig(ConverterTypeConfig):
    """The keys every Schema Registry converter reads (Confluent's
    `AbstractKafkaSchemaSerDeConfig` and `AbstractDataConfig`, the ones a converter uses)."""

    schema_registry_url: str = Field(
        alias=URL_CONFIG,
        description=(
            "Comma-separated list of URLs for Schema Registry instances that can be used to "
            "register or look up schemas."
        ),
        json_schema_extra=_key("HIGH", "Schema Registry URL", "Schema Registry", "LIST"),
    )
    basic_auth_credentials_source: str = Field(
        "URL",
        alias=CREDENTIALS_SOURCE_CONFIG,
        description=(
            "Specify how to pick the credentials for the Basic Auth header. The supported values "
            "are URL, USER_INFO and SASL_INHERIT."
        ),
        json_schema_extra=_key("MEDIUM", "Basic Auth Credentials Source", "Schema Registry"),
    )
    basic_auth_user_info: SecretStr | None = Field(
        None,
        alias=USER_INFO_CONFIG,
        description=("Specify the user info for Basic Auth in the form of {username}:{password}."),
        json_schema_extra=_key("MEDIUM", "Basic Auth User Info", "Schema Registry"),
    )
    schema_registry_basic_auth_user_info: SecretStr | None = Field(
        None,
        alias=PREFIXED_USER_INFO_CONFIG,
        description="The same as basic.auth.user.info.",
        json_schema_extra=_key("MEDIUM", "Basic Auth User Info", "Schema Registry"),
    )
    auto_register_schemas: bool = Field(
        True,
        alias=AUTO_REGISTER_CONFIG,
        description="Specify if the Serializer should attempt to register the Schema with "
        "Schema Registry.",
        json_schema_extra=_key("MEDIUM", "Auto Register Schemas", "Schemas"),
    )
    use_latest_version: bool = Field(
        False,
        alias=USE_LATEST_CONFIG,
        description=(
            "Specify if the Serializer should use the latest subject version for serialization. "
            "Only applies when auto.register.schemas is false."
        ),
        json_schema_extra=_key("LOW", "Use Latest Version", "Schemas"),
    )
    latest_compatibility_strict: bool = Field(
        True,
        alias=LATEST_STRICT_CONFIG,
        description=(
            "If true, check that the latest subject version is backward compatible with the "
            "schema of the object when use.latest.version is true."
        ),
        json_schema_extra=_key("LOW", "Latest Compatibility Strict", "Schemas"),
    )
    key_subject_name_strategy: str = Field(
        SubjectNameStrategy.TOPIC.java_name,
        alias=KEY_STRATEGY_CONFIG,
        description="Determines how to construct the subject name under which the key schema "
        "is registered with the schema registry.",
        json_schema_extra=_key("MEDIUM", "Key Subject Name Strategy", "Schemas", "CLASS"),
    )
    value_subject_name_strategy: str = Field(
        SubjectNameStrategy.TOPIC.java_name,
        alias=VALUE_STRATEGY_CONFIG,
        description="Determines how to construct the subject name under which the value schema "
        "is registered with the schema registry.",
        json_schema_extra=_key("MEDIUM", "Value Subject Name Strategy", "Schemas", "CLASS"),
    )
    schemas_cache_size: int = Field(
        1000,
        alias=CACHE_SIZE_CONFIG,
        description="Size of the converted schemas cache.",
        json_schema_extra=_key("LOW", "Schemas Cache Size", "Schemas"),
    )
    normalize_schemas: bool = Field(
        False,
        alias=NORMALIZE_CONFIG,
        description="Whether to normalize schemas, which generally ignores ordering when it is "
        "not significant.",
        json_schema_extra=_key("LOW", "Normalize Schemas", "Schemas"),
    )
    connect_meta_data: bool = Field(
        True,
        alias=CONNECT_META_DATA_CONFIG,
        description="Toggle for enabling/disabling connect converter to add its meta data to "
        "the output schema or not.",
        json_schema_extra=_key("LOW", "Connect Meta Data", "Schemas"),
    )
    ssl_truststore_location: str | None = Field(
        None,
        alias=SSL_PREFIX + "truststore.location",
        description="The location of the trust store file for TLS to the Schema Registry.",
        json_schema_extra=_key("MEDIUM", "Truststore Location", "Schema Registry TLS"),
    )
    ssl_truststore_password: SecretStr | None = Field(
        None,
        alias=SSL_PREFIX + "truststore.password",
        description="The password for the trust store file.",
        json_schema_extra=_key("MEDIUM", "Truststore Password", "Schema Registry TLS"),
    )
    ssl_truststore_type: str = Field(
        "JKS",
        alias=SSL_PREFIX + "truststore.type",
        description="The file format of the trust store file: JKS, PKCS12 or PEM.",
        json_schema_extra=_key("MEDIUM", "Truststore Type", "Schema Registry TLS"),
    )
    ssl_keystore_location: str | None = Field(
        None,
        alias=SSL_PREFIX + "keystore.location",
        description="The location of the key store file, for a client certificate.",
        json_schema_extra=_key("MEDIUM", "Keystore Location", "Schema Registry TLS"),
    )
    ssl_keystore_password: SecretStr | None = Field(
        None,
        alias=SSL_PREFIX + "keystore.password",
        description="The store password for the key store file.",
        json_schema_extra=_key("MEDIUM", "Keystore Password", "Schema Registry TLS"),
    )
    ssl_keystore_type: str = Field(
        "JKS",
        alias=SSL_PREFIX + "keystore.type",
        description="The file format of the key store file: JKS, PKCS12 or PEM.",
        json_schema_extra=_key("MEDIUM", "Keystore Type", "Schema Registry TLS"),
    )
    ssl_key_password: SecretStr | None = Field(
        None,
        alias=SSL_PREFIX + "key.password",
        description="The password of the private key in the key store file.",
        json_schema_extra=_key("MEDIUM", "Key Password", "Schema Registry TLS"),
    )
    ssl_endpoint_identification_algorithm: str = Field(
        "https",
        alias=SSL_PREFIX + "endpoint.identification.algorithm",
        description="The endpoint identification algorithm to validate the server hostname "
        "using the server certificate: https, or empty to switch the check off.",
        json_schema_extra=_key("LOW", "Endpoint Identification Algorithm", "Schema Registry TLS"),
    )


@dataclass(frozen=True)
class TlsSettings:
    """TLS to the registry: the stores as written (read into PEM when the client is built)."""

    truststore_location: str | None
    truststore_type: str
    keystore_location: str | None
    keystore_type: str
    check_hostname: bool
    truststore_password: str | None = field(default=None, repr=False)
    keystore_password: str | None = field(default=None, repr=False)
    key_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RegistrySettings:
    """A converter's registry settings, checked. `urls` carry no user info; the credentials
    are apart, and out of the `repr`."""

    urls: tuple[str, ...]
    auto_register: bool = True
    use_latest_version: bool = False
    latest_compatibility_strict: bool = True
    key_strategy: SubjectNameStrategy = SubjectNameStrategy.TOPIC
    value_strategy: SubjectNameStrategy = SubjectNameStrategy.TOPIC
    cache_size: int = 1000
    normalize: bool = False
    connect_meta_data: bool = True
    tls: TlsSettings | None = None
    credentials: tuple[str, str] | None = field(default=None, repr=False)

    def strategy(self, is_key: bool) -> SubjectNameStrategy:
        return self.key_strategy if is_key else self.value_strategy

    @property
    def url_text(self) -> str:
        """The URLs for messages (never with credentials)."""
        return ",".join(self.urls)


def _text(configs: Mapping[str, object], key: str) -> str | None:
    value = configs.get(key)
    if value is None:
        return None
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ConfigError(f"invalid value for key '{key}': expected a string")
    return value


def read_strategy(configs: Mapping[str, object], key: str) -> SubjectNameStrategy:
    """A subject name strategy by Confluent's class name or its simple name."""
    value = configs.get(key)
    if value is None:
        return SubjectNameStrategy.TOPIC
    if isinstance(value, str):
        name = value.strip().removeprefix(_STRATEGY_PACKAGE)
        for strategy in SubjectNameStrategy:
            if name == strategy.value:
                return strategy
    names = ", ".join(s.java_name for s in SubjectNameStrategy)
    raise ConfigError(
        f"invalid value {value!r} for key '{key}': expected one of {names} "
        "(or the simple class name)"
    )


def _urls(configs: Mapping[str, object]) -> tuple[tuple[str, ...], tuple[str, str] | None]:
    """The URLs without user info, and the first URL's user info (never quoted)."""
    raw = _text(configs, URL_CONFIG)
    if raw is None or not raw.strip():
        raise ConfigError(
            f"missing key '{URL_CONFIG}': expected the Schema Registry's URL(s), comma-separated"
        )
    urls: list[str] = []
    url_info: tuple[str, str] | None = None
    for i, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            parts = urlsplit(part)
            parts.port  # noqa: B018 - a port out of range raises only when read
        except ValueError as e:
            # Not quoted: a URL that does not parse may hold user info in any of its parts.
            raise ConfigError(
                f"invalid URL number {i + 1} in key '{URL_CONFIG}' ({e}): expected http:// or "
                "https:// URLs with a host and a port from 1 to 65535, comma-separated"
            ) from None
        clean = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"invalid URL {clean!r} in key '{URL_CONFIG}': expected http:// or https:// "
                "URLs, comma-separated"
            )
        if i == 0 and parts.username is not None:
            url_info = (unquote(parts.username), unquote(parts.password or ""))
        urls.append(clean.rstrip("/"))
    if not urls:
        raise ConfigError(f"empty key '{URL_CONFIG}': expected the Schema Registry's URL(s)")
    return tuple(urls), url_info


_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]+))')


def _sasl_credentials(configs: Mapping[str, object]) -> tuple[str, str]:
    jaas = _text(configs, SASL_JAAS_CONFIG)
    options = {m[1]: m[2] if m[2] is not None else m[3] for m in _JAAS_OPTION.finditer(jaas or "")}
    if "username" not in options or "password" not in options:
        raise ConfigError(
            f"key '{CREDENTIALS_SOURCE_CONFIG}' is SASL_INHERIT but '{SASL_JAAS_CONFIG}' is "
            "missing or has no username and password options: expected a login module with "
            'username="..." password="..."'
        )
    return options["username"], options["password"]


def _credentials(
    configs: Mapping[str, object], url_info: tuple[str, str] | None
) -> tuple[str, str] | None:
    source = get_choice(configs, CREDENTIALS_SOURCE_CONFIG, "URL", CREDENTIALS_SOURCES)
    if source == "URL":
        return url_info
    if source == "SASL_INHERIT":
        return _sasl_credentials(configs)
    info = _text(configs, USER_INFO_CONFIG) or _text(configs, PREFIXED_USER_INFO_CONFIG)
    if not info:
        return None  # as Confluent's: no user info, no authentication
    user, sep, password = info.partition(":")
    if not sep:
        raise ConfigError(
            f"invalid value for key '{USER_INFO_CONFIG}' (not shown, it holds a secret): "
            "expected {username}:{password}"
        )
    return user, password


def _store_type(configs: Mapping[str, object], key: str) -> str:
    return get_choice(configs, SSL_PREFIX + key, "JKS", STORE_TYPES)


def _tls(configs: Mapping[str, object]) -> TlsSettings | None:
    trust = _text(configs, SSL_PREFIX + "truststore.location")
    keystore = _text(configs, SSL_PREFIX + "keystore.location")
    algorithm = _text(configs, SSL_PREFIX + "endpoint.identification.algorithm")
    algo = "https" if algorithm is None else algorithm.strip().lower()
    if algo not in ("https", ""):
        raise ConfigError(
            f"invalid value {algorithm!r} for key "
            f"'{SSL_PREFIX}endpoint.identification.algorithm': expected https or empty"
        )
    if not (trust or "").strip() and not (keystore or "").strip():
        if algo == "":
            return TlsSettings(None, "JKS", None, "JKS", check_hostname=False)
        return None
    return TlsSettings(
        truststore_location=(trust or "").strip() or None,
        truststore_type=_store_type(configs, "truststore.type"),
        keystore_location=(keystore or "").strip() or None,
        keystore_type=_store_type(configs, "keystore.type"),
        check_hostname=algo == "https",
        truststore_password=_text(configs, SSL_PREFIX + "truststore.password"),
        keystore_password=_text(configs, SSL_PREFIX + "keystore.password"),
        key_password=_text(configs, SSL_PREFIX + "key.password"),
    )


def read_registry_settings(configs: Mapping[str, object]) -> RegistrySettings:
    """A converter's registry settings from its configs (prefix removed)."""
    urls, url_info = _urls(configs)
    return RegistrySettings(
        urls=urls,
        auto_register=get_bool(configs, AUTO_REGISTER_CONFIG, True),
        use_latest_version=get_bool(configs, USE_LATEST_CONFIG, False),
        latest_compatibility_strict=get_bool(configs, LATEST_STRICT_CONFIG, True),
        key_strategy=read_strategy(configs, KEY_STRATEGY_CONFIG),
        value_strategy=read_strategy(configs, VALUE_STRATEGY_CONFIG),
        cache_size=get_int(configs, CACHE_SIZE_CONFIG, 1000, minimum=1),
        normalize=get_bool(configs, NORMALIZE_CONFIG, False),
        connect_meta_data=get_bool(configs, CONNECT_META_DATA_CONFIG, True),
        tls=_tls(configs),
        credentials=_credentials(configs, url_info),
    )
