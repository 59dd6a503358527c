"""The Schema Registry layer that the registry converters (Avro, JSON Schema, Protobuf) share.

A converter builds on four things, all importable from this package:

- **Config.** `SchemaRegistryConverterConfig` (pydantic) describes the keys of Confluent's
  converters; a converter's `config_model` subclasses it and adds its own.
  `read_registry_settings(configs) -> RegistrySettings` reads and checks them (`ConfigError`
  naming key, value and what was expected; secrets never quoted).
- **The registry.** `SchemaRegistry(settings, is_key)`, one per converter, on its thread:
  - `subject(topic, record_name) -> str`: the subject by the configured strategy;
  - `id_for(subject, text, schema_type, references=()) -> int`: the id to write with, honouring
    `auto.register.schemas`, `use.latest.version`, `latest.compatibility.strict` and
    `normalize.schemas`;
  - `schema_for(schema_id) -> RegisteredSchema` (`.schema_id`, `.text`, `.schema_type`,
    `.references`): the writer's schema when reading;
  - `schema_of_version(subject, version) -> RegisteredSchema`: a reference's target (a
    Protobuf import registered under its own subject);
  - `version_of(subject, registered) -> int | None`: its version under the subject (None when
    the subject does not hold it), which Confluent's converters give the Connect schema read
    when the schema names no `connect.version`;
  - `close()`.
  Both lookups are cached (LRU, `schemas.cache.size`): no registry call per record in steady
  state. Failures: `RetriableError` for an unreachable registry or a 5xx (after bounded
  retries; the worker's `errors.retry.timeout` then applies), `DataError` for an incompatible
  (409) or invalid (422) schema with the registry's message, `ConnectError` for 401/403; every
  message names the registry's URLs, never credentials.
- **The wire format.** `frame(schema_id, payload, message_indexes=b"") -> bytes` and
  `unframe(data) -> (schema_id, rest)`; for Protobuf `encode_message_indexes(indexes) -> bytes`
  and `decode_message_indexes(rest) -> (indexes, payload)`. Bad bytes are `DataError`s.
- **The converter base.** `RegistryConverter` (a `Converter`): `configure_registry(configs,
  is_key) -> RegistrySettings` (re)opens the client, `close()` closes it, `registry` is it.
- **Names.** `SchemaType` (AVRO, JSON, PROTOBUF), `SubjectNameStrategy`, `SchemaReference`;
  and `LruCache(size)` (`get(key) -> value | None`, `put(key, value)`) for a converter's own
  caches of compiled encoders and decoders, bounded by `RegistrySettings.cache_size`.

A converter's shape, writing: `registry.id_for(registry.subject(topic, name), text, type)` once
per schema (cache the result with the compiled encoder), then `frame(id, payload)` per record.
Reading: `unframe(data)`, then `registry.schema_for(id)` (and `registry.version_of(
registry.subject(topic, name), registered)`) → the converter's own mapping of the text to a
Connect schema, cached by (topic, id).
"""

from kconnect.converters.schemaregistry.client import (
    LruCache,
    RegisteredSchema,
    SchemaReference,
    SchemaRegistry,
    SchemaType,
)
from kconnect.converters.schemaregistry.config import (
    RegistrySettings,
    SchemaRegistryConverterConfig,
    SubjectNameStrategy,
    read_registry_settings,
)
from kconnect.converters.schemaregistry.converter import RegistryConverter
from kconnect.converters.schemaregistry.subjects import subject_name
from kconnect.converters.schemaregistry.wire import (
    decode_message_indexes,
    encode_message_indexes,
    frame,
    unframe,
)

__all__ = [
    "LruCache",
    "RegisteredSchema",
    "RegistryConverter",
    "RegistrySettings",
    "SchemaReference",
    "SchemaRegistry",
    "SchemaRegistryConverterConfig",
    "SchemaType",
    "SubjectNameStrategy",
    "decode_message_indexes",
    "encode_message_indexes",
    "frame",
    "read_registry_settings",
    "subject_name",
    "unframe",
]
