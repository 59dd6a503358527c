"""One converter's view of the Schema Registry: subjects, ids and schemas, cached.

`SchemaRegistry` wraps confluent-kafka's own `SchemaRegistryClient` (HTTP basic auth, TLS, every
URL of `schema.registry.url` tried in turn, retries with backoff on connection errors and on
408/429/5xx) and adds what a converter needs on its hot path:

- **LRU caches, bounded by `schemas.cache.size`:** the id of each (subject, schema text, type,
  references) and the schema of each id. Steady state makes no registry call per record. The
  client's own caches sit behind these (its `cache.capacity` is set to the same size).
- **The serializer's choice of id** (`id_for`), as Confluent's serializers make it:
  `auto.register.schemas=true` registers (an existing identical schema gets its id back);
  false with `use.latest.version=true` takes the subject's latest version, checked with the
  registry's compatibility endpoint first when `latest.compatibility.strict`; false otherwise
  looks the schema up and fails if the subject does not hold it. `normalize.schemas` is passed
  on to registration and look-up.
- **Failures mapped to the worker's errors**, with the registry's URLs (never credentials); a
  retriable one is also logged at WARNING, since the worker retries quietly:
  - unreachable, timed out, or 408/429/5xx after the client's retries: `RetriableError`, so
    `errors.retry.timeout` applies and the task fails with this message when it runs out;
  - 409 (incompatible) or 422 (invalid schema): `DataError` with the registry's own message;
  - 401/403: `ConnectError` naming the subject and saying authentication or authorization
    failed;
  - 404: `DataError` (an unknown id, or a schema the subject does not hold);
  - an answer that is not the API's (a web server at the URL, a wrong path): `ConnectError`.

Why confluent-kafka's client: it is part of the project's core Kafka package, and does the HTTP
details right. Checked: it caches registrations, look-ups and ids (`cache.capacity`, LRU), it
retries (`max.retries`, full-jitter backoff from `retries.wait.ms`) and fails over between URLs,
but it sets **no request timeout by default** (httpx's `timeout=None`), so `timeout` is always
set here (`REQUEST_TIMEOUT_S`). It takes TLS files as paths only; stores (JKS/PKCS12 read by
`kconnect.config.java_stores`, or PEM) are handed to it as PEM through anonymous memory files
(`memfd_create`), so no key is written to disk. It has no switch for the host name check:
`endpoint.identification.algorithm=` (empty) turns it off on the SSL context the client built.

The object is used from one task thread (a converter's), holds no lock, and is closed with it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from kconnect.config import java_stores
from kconnect.converters.schemaregistry.config import RegistrySettings, TlsSettings
from kconnect.converters.schemaregistry.subjects import subject_name
from kconnect.errors import ConfigError, ConnectError, DataError, RetriableError

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S: Final = 10.0
MAX_RETRIES: Final = 2
RETRIES_WAIT_MS: Final = 500
RETRIES_MAX_WAIT_MS: Final = 5000
_LOOKING_UP: Final = "looking up a schema"

K = TypeVar("K")
V = TypeVar("V")


class SchemaType(StrEnum):
    """The registry's `schemaType` (absent means AVRO)."""

    AVRO = "AVRO"
    JSON = "JSON"
    PROTOBUF = "PROTOBUF"


@dataclass(frozen=True)
class SchemaReference:
    """A reference from a schema to another subject's version (Protobuf imports, say)."""

    name: str
    subject: str
    version: int


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema as the registry holds it under an id."""

    schema_id: int
    text: str
    schema_type: SchemaType
    references: tuple[SchemaReference, ...] = ()


class LruCache(Generic[K, V]):
    """A dict bounded to `size` entries, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


ClientFactory = Callable[[dict[str, Any]], Any]


def _confluent_client(conf: dict[str, Any]) -> Any:
    from confluent_kafka.schema_registry import (  # noqa: PLC0415 - registry converters only
        SchemaRegistryClient,
    )

    return SchemaRegistryClient(conf)


class SchemaRegistry:
    """The registry as one converter (keys or values) uses it; see the module docstring."""

    def __init__(
        self,
        settings: RegistrySettings,
        is_key: bool,
        *,
        client_factory: ClientFactory = _confluent_client,
    ) -> None:
        self.settings = settings
        self.is_key = is_key
        self._strategy = settings.strategy(is_key)
        self._ids: LruCache[tuple[str, str, SchemaType, tuple[SchemaReference, ...]], int] = (
            LruCache(settings.cache_size)
        )
        self._schemas: LruCache[int, RegisteredSchema] = LruCache(settings.cache_size)
        self._versions: LruCache[tuple[str, int], int] = LruCache(settings.cache_size)
        self._referenced: LruCache[tuple[str, int], RegisteredSchema] = LruCache(
            settings.cache_size
        )
        self._client = self._make_client(client_factory)

    # -- the interface

    def subject(self, topic: str, record_name: str | None) -> str:
        """The subject of a record's schema on `topic`, by the configured strategy."""
        return subject_name(self._strategy, topic, self.is_key, record_name)

    def id_for(
        self,
        subject: str,
        text: str,
        schema_type: SchemaType,
        references: Sequence[SchemaReference] = (),
    ) -> int:
        """The id to write `text` with under `subject` (registered, looked up or the latest
        version, as the settings say); cached."""
        refs = tuple(references)
        key = (subject, text, schema_type, refs)
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        schema_id = self._fetch_id(subject, text, schema_type, refs)
        self._ids.put(key, schema_id)
        return schema_id

    def schema_for(self, schema_id: int) -> RegisteredSchema:
        """The schema registered under `schema_id`; cached."""
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        with self._errors(f"reading the schema of id {schema_id}", None):
            found = self._client.get_schema(schema_id)
        try:
            schema_type = SchemaType(found.schema_type or "AVRO")
        except ValueError:
            raise DataError(
                f"schema id {schema_id} in Schema Registry {self.settings.url_text} is of type "
                f"{found.schema_type!r}: expected one of AVRO, JSON, PROTOBUF"
            ) from None
        registered = RegisteredSchema(
            schema_id,
            found.schema_str,
            schema_type,
            tuple(SchemaReference(r.name, r.subject, r.version) for r in (found.references or ())),
        )
        self._schemas.put(schema_id, registered)
        return registered

    def schema_of_version(self, subject: str, version: int) -> RegisteredSchema:
        """The schema registered as `version` of `subject` (a reference's target); cached by
        its id once known."""
        key = (subject, version)
        cached = self._referenced.get(key)
        if cached is not None:
            return cached
        with self._errors(f"reading version {version}", subject):
            found = self._client.get_version(subject, version)
        registered = self.schema_for(int(found.schema_id))
        self._referenced.put(key, registered)
        return registered

    def version_of(self, subject: str, registered: RegisteredSchema) -> int | None:
        """The version `registered` has under `subject`, or None when the subject does not hold
        it; cached. Confluent's converters give a read value's Connect schema this version when
        the schema itself names none (`connect.version`)."""
        key = (subject, registered.schema_id)
        cached = self._versions.get(key)
        if cached is not None:
            return cached if cached >= 0 else None
        schema = self._confluent_schema(
            registered.text, registered.schema_type, registered.references
        )
        try:
            with self._errors("looking up the version of a schema", subject):
                found = self._client.lookup_schema(
                    subject, schema, normalize_schemas=self.settings.normalize
                )
            version = int(found.version) if found.version is not None else -1
        except DataError:
            version = -1  # not under this subject: written with another strategy, say
        self._versions.put(key, version)
        return version if version >= 0 else None

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    # -- behind it

    @staticmethod
    def _confluent_schema(
        text: str, schema_type: SchemaType, refs: Sequence[SchemaReference]
    ) -> Any:
        from confluent_kafka.schema_registry import (  # noqa: PLC0415
            Schema,
        )
        from confluent_kafka.schema_registry import (  # noqa: PLC0415
            SchemaReference as ConfluentReference,
        )

        return Schema(
            text, str(schema_type), [ConfluentReference(r.name, r.subject, r.version) for r in refs]
        )

    def _fetch_id(
        self, subject: str, text: str, schema_type: SchemaType, refs: tuple[SchemaReference, ...]
    ) -> int:
        schema = self._confluent_schema(text, schema_type, refs)
        s = self.settings
        if s.auto_register:
            with self._errors("registering a schema", subject):
                return int(
                    self._client.register_schema(subject, schema, normalize_schemas=s.normalize)
                )
        if s.use_latest_version:
            with self._errors("reading the latest version", subject):
                latest = self._client.get_latest_version(subject)
            if s.latest_compatibility_strict:
                with self._errors("checking compatibility with the latest version", subject):
                    compatible = self._client.test_compatibility(subject, schema, "latest")
                if not compatible:
                    raise DataError(
                        f"the record's schema is not compatible with the latest version "
                        f"({latest.version}) of subject '{subject}' "
                        f"(use.latest.version and latest.compatibility.strict are true)"
                    )
            return int(latest.schema_id)
        with self._errors(_LOOKING_UP, subject):
            found = self._client.lookup_schema(subject, schema, normalize_schemas=s.normalize)
        return int(found.schema_id)

    @contextlib.contextmanager
    def _errors(self, doing: str, subject: str | None) -> Iterator[None]:
        from confluent_kafka.schema_registry.common._httpx_compat import (  # noqa: PLC0415
            httpx,  # httpx2 or httpx, whichever the client uses
        )
        from confluent_kafka.schema_registry.error import (  # noqa: PLC0415
            SchemaRegistryError,
        )

        where = f"Schema Registry {self.settings.url_text}"
        about = f" for subject '{subject}'" if subject is not None else ""
        try:
            yield
        except SchemaRegistryError as e:
            status = e.http_status_code
            told = f"{e.error_message} (HTTP {status}, error code {e.error_code})"
            if status in (401, 403):
                what = "authentication" if status == 401 else "authorization"
                raise ConnectError(
                    f"{where}: {what} failed{about} while {doing}: {told}; check "
                    "basic.auth.credentials.source and the credentials"
                ) from None
            if status in (408, 429) or status >= 500:
                raise _retriable(f"{where} failed{about} while {doing}: {told}") from None
            if status == 409:
                raise DataError(
                    f"{where} refused the schema{about} as incompatible: {told}"
                ) from None
            if status == 404 and doing == _LOOKING_UP:
                raise DataError(
                    f"{where}: subject '{subject}' does not hold the record's schema and "
                    f"auto.register.schemas is false: {told}"
                ) from None
            raise DataError(f"{where} failed{about} while {doing}: {told}") from None
        except (ConnectError, ConfigError):
            raise
        except (httpx.HTTPError, OSError) as e:  # refused, reset, timed out, TLS
            raise _retriable(
                f"{where} unreachable{about} while {doing}: {type(e).__name__}: "
                f"{self._scrub(str(e))}"
            ) from None
        except (ValueError, KeyError, TypeError) as e:  # an answer that is not the API's
            raise ConnectError(
                f"{where} gave an answer that is not the Schema Registry API's{about} while "
                f"{doing} ({type(e).__name__}: {self._scrub(str(e))}): check "
                "schema.registry.url (its path included)"
            ) from None

    def _scrub(self, text: str) -> str:
        credentials = self.settings.credentials
        if credentials is not None and credentials[1]:
            text = text.replace(credentials[1], "****")
        return text

    def _make_client(self, factory: ClientFactory) -> Any:
        s = self.settings
        conf: dict[str, Any] = {
            "url": ",".join(s.urls),
            "timeout": REQUEST_TIMEOUT_S,
            "cache.capacity": s.cache_size,
            "max.retries": MAX_RETRIES,
            "retries.wait.ms": RETRIES_WAIT_MS,
            "retries.max.wait.ms": RETRIES_MAX_WAIT_MS,
        }
        if s.credentials is not None:
            conf["basic.auth.user.info"] = f"{s.credentials[0]}:{s.credentials[1]}"
        if s.tls is None:
            return factory(conf)
        with _tls_files(s.tls) as files:
            conf.update(files)
            client = factory(conf)
        if not s.tls.check_hostname:
            rest = getattr(client, "_rest_client", None)
            context = getattr(rest, "verify", None)
            if context is not None and hasattr(context, "check_hostname"):
                context.check_hostname = False
        return client


def _retriable(message: str) -> RetriableError:
    """The error for a registry that may answer later, logged: the worker retries it quietly
    (`errors.retry.timeout`), and an outage should show in the log while it lasts."""
    log.warning("%s; the operation will be retried", message)
    return RetriableError(message)


def _memory_file(text: str) -> tuple[int, str]:
    fd = os.memfd_create("schema-registry-tls", os.MFD_CLOEXEC)
    os.write(fd, text.encode("ascii"))
    return fd, f"/proc/self/fd/{fd}"


@contextlib.contextmanager
def _tls_files(tls: TlsSettings) -> Iterator[dict[str, str]]:
    """The client's `ssl.*.location` keys for the stores, as PEM memory files while the client
    reads them."""
    out: dict[str, str] = {}
    fds: list[int] = []
    try:
        if tls.truststore_location is not None:
            key = "schema.registry.ssl.truststore.location"
            store = java_stores.read_store(
                tls.truststore_location, tls.truststore_password, key=key
            )
            if not store.certificates:
                raise java_stores.StoreError(
                    f"{key}={tls.truststore_location!r}: the store holds no certificate"
                )
            fd, path = _memory_file("".join(store.certificates))
            fds.append(fd)
            out["ssl.ca.location"] = path
        if tls.keystore_location is not None:
            key = "schema.registry.ssl.keystore.location"
            key_password = tls.key_password or tls.keystore_password
            store = java_stores.read_store(
                tls.keystore_location, tls.keystore_password, key=key, key_password=key_password
            )
            if store.key is None:
                raise java_stores.StoreError(
                    f"{key}={tls.keystore_location!r}: the store holds no private key"
                )
            fd, path = _memory_file("".join(store.chain) or "".join(store.certificates))
            fds.append(fd)
            out["ssl.certificate.location"] = path
            fd, path = _memory_file(store.key)
            fds.append(fd)
            out["ssl.key.location"] = path
            if java_stores.is_encrypted_pem(store.key) and key_password:
                out["ssl.key.password"] = key_password
        yield out
    finally:
        for fd in fds:
            os.close(fd)
