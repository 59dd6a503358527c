"""Avro converter: Confluent's `io.confluent.connect.avro.AvroConverter`.

A record is the Confluent wire format (`schemaregistry.frame`: magic byte 0, the 4-byte schema id)
around the Avro binary of the value. The value's Connect schema is mapped to Avro as Confluent's
`AvroData` maps it (`kconnect.data.avro`), and that schema's text, as Java's `Schema.toString`
prints it, is what is registered: a subject gains no version when a pipeline moves between this
converter and Java's.

Writing:
- The subject comes from the configured strategy; RecordNameStrategy and TopicRecordNameStrategy
  take the Avro schema's full name (a primitive's is its type name, as in Java).
- Per (topic, Connect schema), the subject, the schema text, its id and the compiled encoder are
  cached (LRU, `schemas.cache.size`), so steady state makes no registry call and no schema work
  per record.
- A null value is a null record (a tombstone) when the schema is absent or optional; a required
  schema with a default writes the default; a required one without is a `DataError`. Nothing is
  registered for a value that cannot be written.
- With `use.latest.version` (and `auto.register.schemas=false`), the id is the subject's latest
  version. When that version's schema is not the record's own, the record is written in the
  latest schema by Avro schema resolution (fields by name, defaults for the missing ones), which
  is what `latest.compatibility.strict` checked the latest version can do.

Reading: the writer's schema by id (which must be an AVRO schema), its version under the record's
subject (Java's converter gives the Connect schema that version when it names no
`connect.version`), and the decoder, cached per (topic, id). A null record reads as no schema and
no value.

Failures: the registry layer's (a `RetriableError` for an unreachable registry, a `DataError`
with the registry's message for an incompatible schema, a `ConnectError` for refused
credentials); a value that does not fit its schema or bytes that are not Avro of the writer's
schema are `DataError`s naming what was wrong.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pydantic import Field

from kconnect.converters.schemaregistry import (
    LruCache,
    RegisteredSchema,
    RegistryConverter,
    SchemaRegistryConverterConfig,
    SchemaType,
    frame,
    unframe,
)
from kconnect.converters.schemaregistry.wire import HEADER_SIZE, MAGIC_BYTE
from kconnect.data.avro import (
    ENHANCED_AVRO_SCHEMA_SUPPORT_CONFIG,
    SCRUB_INVALID_NAMES_CONFIG,
    AvroData,
    AvroDataConfig,
)
from kconnect.data.avro_codec import Decoder
from kconnect.data.schema import Schema, SchemaAndValue
from kconnect.errors import DataError

if TYPE_CHECKING:
    from kconnect.api.records import Headers

_NULL: Final = SchemaAndValue(None, None)
# Per record, in C: the header's magic byte and schema id, and the SchemaAndValue (its own
# __new__ is a Python function; tuple's builds the same object).
_read_header: Final = struct.Struct(">BI").unpack_from
_schema_and_value: Final = tuple.__new__


class AvroConverterConfig(SchemaRegistryConverterConfig):
    """Confluent's `AvroConverterConfig`: the registry keys and `AvroDataConfig`'s."""

    enhanced_avro_schema_support: bool = Field(
        False,
        alias=ENHANCED_AVRO_SCHEMA_SUPPORT_CONFIG,
        description="Enable enhanced schema support to preserve package information and Enums.",
        json_schema_extra={"importance": "MEDIUM", "display_name": "Enhanced Avro Schema Support"},
    )
    scrub_invalid_names: bool = Field(
        False,
        alias=SCRUB_INVALID_NAMES_CONFIG,
        description="Whether to scrub invalid names by replacing invalid characters with valid "
        "characters",
        json_schema_extra={"importance": "MEDIUM", "display_name": "Scrub Invalid Names"},
    )


@dataclass
class _Writer:
    subject: str
    text: str
    encode: Callable[[object], bytes]
    schema_id: int | None = None
    header: bytes | None = None
    """The wire format's header (magic byte and id), once the id is known."""


@dataclass(frozen=True)
class _Reader:
    schema: Schema | None
    decode: Decoder


class AvroConverter(RegistryConverter):
    """Confluent's AvroConverter: Avro values framed with a registered Avro schema's id.

    Config keys (prefix removed): the Schema Registry keys of `SchemaRegistryConverterConfig`
    and Confluent's `AvroDataConfig` keys (`connect.meta.data`, `enhanced.avro.schema.support`,
    `scrub.invalid.names`, `schemas.cache.config`, ...).
    """

    config_model = AvroConverterConfig

    def __init__(self) -> None:
        self._data = AvroData(AvroDataConfig())
        self._writers: LruCache[tuple[str, Schema | None], _Writer] = LruCache(1000)
        self._readers: LruCache[tuple[str, int], _Reader] = LruCache(1000)
        self._last: tuple[str, Schema | None, _Writer] | None = None
        self._last_read: tuple[int, str, _Reader] | None = None

    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        data = AvroData(AvroDataConfig.from_configs(configs))
        settings = self.configure_registry(configs, is_key)
        self._data = data
        self._writers = LruCache(settings.cache_size)
        self._readers = LruCache(settings.cache_size)
        self._last = None
        self._last_read = None

    # --- writing ----------------------------------------------------------------------------

    def _writer(self, topic: str, schema: Schema | None) -> _Writer:
        last = self._last
        if last is not None and last[0] == topic and (last[1] is schema or last[1] == schema):
            return last[2]
        writer = self._writers.get((topic, schema))
        if writer is None:
            node = self._data.avro_node(schema)
            named = node.type in ("record", "enum", "fixed")
            subject = self.registry.subject(topic, node.full_name if named else node.type)
            text = self._data.connect_schema_text(schema)
            writer = _Writer(subject, text, self._data.encoder(schema))
            self._writers.put((topic, schema), writer)
        self._last = (topic, schema, writer)
        return writer

    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        last = self._last
        if value is not None and last is not None and last[1] is schema and last[0] == topic:
            # Steady state: the same schema object as the last record's, its id known.
            writer = last[2]
            header = writer.header
            if header is not None:
                try:
                    return header + writer.encode(value)
                except DataError as e:
                    raise DataError(f"Converting Kafka Connect data to Avro failed: {e}") from None
        return self._write(topic, schema, value)

    def _write(self, topic: str, schema: Schema | None, value: object) -> bytes | None:
        if value is None:
            if schema is None or schema.optional:
                return None
            if schema.default is None:
                raise DataError(
                    "Converting Kafka Connect data to Avro failed: a null value for a required "
                    f"{schema.type.value} schema{_named(schema)} with no default"
                )
            value = schema.default
        writer = self._writer(topic, schema)
        try:
            payload = writer.encode(value)
        except DataError as e:
            raise DataError(f"Converting Kafka Connect data to Avro failed: {e}") from None
        if writer.schema_id is None:
            schema_id = self.registry.id_for(writer.subject, writer.text, SchemaType.AVRO)
            if self.registry.settings.use_latest_version:
                # The id may be of another schema (the subject's latest version): write in it.
                writer.encode = self._in_registered(schema_id, writer)
                payload = writer.encode(value)
            writer.schema_id = schema_id
            writer.header = frame(schema_id, b"")
        return frame(writer.schema_id, payload)

    def _in_registered(self, schema_id: int, writer: _Writer) -> Callable[[object], bytes]:
        """`writer`'s encoder, or one that writes its records in the schema of `schema_id`
        when that is another schema (Avro schema resolution of the record's own encoding)."""
        registered = self.registry.schema_for(schema_id)
        if registered.schema_type is not SchemaType.AVRO:
            raise DataError(
                f"the latest version of subject '{writer.subject}' (id {schema_id}) is a "
                f"{registered.schema_type.value} schema, not AVRO"
            )
        if registered.text == writer.text:
            return writer.encode
        return _resolving(writer.encode, writer.text, registered.text)

    # --- reading ----------------------------------------------------------------------------

    def _reader(self, topic: str, schema_id: int) -> _Reader:
        reader = self._readers.get((topic, schema_id))
        if reader is None:
            registered, version = self.writer_schema(
                topic, schema_id, SchemaType.AVRO, _record_name
            )
            schema, decode = self._data.decoder(registered.text, version=version)
            reader = _Reader(schema, decode)
            self._readers.put((topic, schema_id), reader)
        return reader

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        if value is None:
            return _NULL
        if len(value) < HEADER_SIZE:
            unframe(value)  # raises the DataError that says what is wrong
        magic, schema_id = _read_header(value)
        if magic != MAGIC_BYTE:
            unframe(value)
        last = self._last_read
        if last is not None and last[0] == schema_id and last[1] == topic:
            reader = last[2]
        else:
            reader = self._reader(topic, schema_id)
            self._last_read = (schema_id, topic, reader)
        try:
            # The body is read where it is, after the header: no copy.
            return _schema_and_value(
                SchemaAndValue, (reader.schema, reader.decode(value, HEADER_SIZE))
            )
        except DataError as e:
            raise DataError(
                f"Converting Avro data (schema id {schema_id}) of topic {topic} to Kafka Connect "
                f"data failed: {e}"
            ) from None


def _named(schema: Schema) -> str:
    return f" ({schema.name})" if schema.name else ""


def _record_name(registered: RegisteredSchema) -> str | None:
    """The full name of a registered Avro schema (a primitive's type name), for the subject."""
    try:
        node = json.loads(registered.text)
    except ValueError:
        raise DataError(
            f"schema id {registered.schema_id} is not an Avro schema: its text is not JSON"
        ) from None
    return _full_name(node)


def _full_name(node: object) -> str | None:
    """The full name of an Avro schema's JSON (a primitive's type name), None if it has none."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    name = node.get("name")
    if kind not in ("record", "error", "enum", "fixed") or not isinstance(name, str):
        return kind if isinstance(kind, str) else None
    namespace = node.get("namespace")
    if "." in name or not isinstance(namespace, str) or not namespace:
        return name
    return f"{namespace}.{name}"


def _resolving(
    encode: Callable[[object], bytes], writer_text: str, reader_text: str
) -> Callable[[object], bytes]:
    """An encoder writing in `reader_text` what `encode` writes in `writer_text`: the record's
    own encoding read back through Avro schema resolution into the other schema."""
    import fastavro  # noqa: PLC0415 - only for a subject whose latest version is another schema

    writer_schema = fastavro.parse_schema(json.loads(writer_text))
    reader_schema = fastavro.parse_schema(json.loads(reader_text))

    def resolve(value: object) -> bytes:
        try:
            datum = fastavro.schemaless_reader(
                io.BytesIO(encode(value)), writer_schema, reader_schema
            )
        except Exception as e:  # noqa: BLE001 - fastavro's resolution errors have no common base
            raise DataError(
                f"the record cannot be written in the subject's latest schema: {e}"
            ) from None
        out = io.BytesIO()
        fastavro.schemaless_writer(out, reader_schema, datum)
        return out.getvalue()

    return resolve
