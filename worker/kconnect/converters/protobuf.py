"""Protobuf converter: Confluent's `io.confluent.connect.protobuf.ProtobufConverter`.

A record is the Confluent wire format: magic byte 0, the 4-byte schema id, the message-index
list (`[0]`, the file's only top-level message, is the single byte 0; a primitive's is its
wrapper's position in wrappers.proto), then the proto3 binary of the value. The value's Connect
schema is mapped to a `.proto` file as Confluent's `ProtobufData` maps it
(`kconnect.data.protobuf`) and printed as Confluent's printer prints it; that text is what is
registered (schema type PROTOBUF, no references: the well-known imports are known to
every registry), so a subject gains no version when a pipeline moves between this converter and
Java's.

Writing:
- The subject comes from the configured strategy; RecordNameStrategy and
  TopicRecordNameStrategy take the root message's full name (`package.Message`,
  `google.protobuf.StringValue` for a STRING).
- Per (topic, Connect schema), the subject, the text, its id and the encoder are cached (LRU,
  `schemas.cache.size`): steady state makes no registry call and no schema work per record.
- A null value is a null record (a tombstone) whatever the schema, as in Java.
- A primitive (a STRING key, an INT64, ...) is written as Confluent writes it: the registered
  text is google/protobuf/wrappers.proto as Confluent prints it, the message index the wrapper's
  (`StringValue` `[7]` = bytes `02 0e`), the payload the wrapper message. ARRAY and MAP roots
  and logical-type roots are `DataError`s. Nothing is registered for a value that cannot be
  written.
- With `use.latest.version` (and `auto.register.schemas=false`) the id is the subject's latest
  version; the message index is that of the record's message (by full name) in the latest
  version's file, a `DataError` when it has no such message.

Reading: the writer's schema by id (which must be a PROTOBUF one) is parsed (the text as the
registry returns it: `.proto` text, or the base64 descriptor confluent-kafka's serializer
registers), with the files its references name (fetched by subject and version); the
message the record's indexes name becomes the Connect schema, with the version the schema has
under the record's subject; schema and decoder are cached per (topic, id, indexes).

Failures: the registry layer's (a `RetriableError` for an unreachable registry, a `DataError`
with the registry's message for an incompatible schema, a `ConnectError` for refused
credentials); bytes that are not the wire format, indexes that name no message, or a payload that
is not proto3 of the writer's message are `DataError`s naming what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pydantic import Field

from kconnect.converters.schemaregistry import (
    LruCache,
    RegisteredSchema,
    RegistryConverter,
    SchemaRegistryConverterConfig,
    SchemaType,
    decode_message_indexes,
    encode_message_indexes,
    frame,
    unframe,
)
from kconnect.data.protobuf import (
    ENHANCED_PROTOBUF_SCHEMA_SUPPORT_CONFIG,
    INT_FOR_ENUMS_CONFIG,
    OPTIONAL_FOR_NULLABLES_CONFIG,
    OPTIONAL_FOR_PROTO2_CONFIG,
    SCRUB_INVALID_NAMES_CONFIG,
    WRAPPER_FOR_RAW_PRIMITIVES_CONFIG,
    ProtobufData,
    ProtobufDataConfig,
    message_indexes,
)
from kconnect.data.protobuf_schema import ProtoFile, ProtoMessage
from kconnect.data.schema import Schema, SchemaAndValue
from kconnect.errors import DataError

if TYPE_CHECKING:
    from kconnect.api.records import Headers

_NULL: Final = SchemaAndValue(None, None)


def _flag(alias: str, default: bool, description: str, display: str) -> Any:
    return Field(
        default,
        alias=alias,
        description=description,
        json_schema_extra={"importance": "MEDIUM", "display_name": display},
    )


class ProtobufConverterConfig(SchemaRegistryConverterConfig):
    """Confluent's `ProtobufConverterConfig`: the registry keys and `ProtobufDataConfig`'s."""

    enhanced_protobuf_schema_support: bool = _flag(
        ENHANCED_PROTOBUF_SCHEMA_SUPPORT_CONFIG,
        False,
        "Enable enhanced schema support to preserve package information.",
        "Enhanced Protobuf Schema Support",
    )
    scrub_invalid_names: bool = _flag(
        SCRUB_INVALID_NAMES_CONFIG,
        False,
        "Whether to scrub invalid names by replacing invalid characters with valid characters",
        "Scrub Invalid Names",
    )
    int_for_enums: bool = _flag(
        INT_FOR_ENUMS_CONFIG,
        False,
        "Whether to represent enums as integers",
        "Int For Enums",
    )
    optional_for_nullables: bool = _flag(
        OPTIONAL_FOR_NULLABLES_CONFIG,
        False,
        "Whether nullable fields should be specified with an optional label",
        "Optional For Nullables",
    )
    optional_for_proto2: bool = _flag(
        OPTIONAL_FOR_PROTO2_CONFIG,
        True,
        "Whether proto2 optionals are supported",
        "Optional For Proto2",
    )
    wrapper_for_raw_primitives: bool = _flag(
        WRAPPER_FOR_RAW_PRIMITIVES_CONFIG,
        True,
        "Whether a wrapper type is interpreted as a raw primitive at the root level.",
        "Wrapper For Raw Primitives",
    )


@dataclass
class _Writer:
    subject: str
    text: str
    full_name: str
    indexes: list[int]
    """The root message's index path in `text` (`[0]`, or a wrapper's in wrappers.proto)."""
    encode: Callable[[object], bytes]
    header: bytes | None = None
    """Magic byte, id and message indexes, once the id is known."""


@dataclass(frozen=True)
class _Reader:
    schema: Schema
    decode: Callable[[bytes | memoryview, int], object]


class ProtobufConverter(RegistryConverter):
    """Confluent's ProtobufConverter: proto3 values framed with a registered schema's id and
    the message's index list.

    Config keys (prefix removed): the Schema Registry keys of `SchemaRegistryConverterConfig`
    and Confluent's `ProtobufDataConfig` keys (`enhanced.protobuf.schema.support`,
    `scrub.invalid.names`, `schemas.cache.config`, ...); options not implemented are refused.
    """

    config_model = ProtobufConverterConfig

    def __init__(self) -> None:
        self._data = ProtobufData(ProtobufDataConfig())
        self._writers: LruCache[tuple[str, Schema], _Writer] = LruCache(1000)
        self._files: LruCache[int, ProtoFile] = LruCache(1000)
        self._readers: LruCache[tuple[str, int, tuple[int, ...]], _Reader] = LruCache(1000)
        self._last: tuple[str, Schema, _Writer] | None = None

    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        data = ProtobufData(ProtobufDataConfig.from_configs(configs))
        settings = self.configure_registry(configs, is_key)
        self._data = data
        self._writers = LruCache(settings.cache_size)
        self._files = LruCache(settings.cache_size)
        self._readers = LruCache(settings.cache_size)
        self._last = None

    # --- writing ----------------------------------------------------------------------------

    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        if value is None:
            return None
        if schema is None:
            raise DataError(
                "Converting Kafka Connect data to Protobuf failed: the value has no schema"
            )
        last = self._last
        if last is not None and last[1] is schema and last[0] == topic:
            writer = last[2]  # steady state: the same schema object as the last record's
        else:
            writer = self._writer(topic, schema)
        try:
            payload = writer.encode(value)
        except DataError as e:
            raise DataError(f"Converting Kafka Connect data to Protobuf failed: {e}") from None
        if writer.header is None:
            schema_id = self.registry.id_for(writer.subject, writer.text, SchemaType.PROTOBUF)
            indexes = writer.indexes
            if self.registry.settings.use_latest_version:
                indexes = self._indexes_in(schema_id, writer)
            writer.header = frame(schema_id, b"", encode_message_indexes(indexes))
        return writer.header + payload

    def _writer(self, topic: str, schema: Schema) -> _Writer:
        writer = self._writers.get((topic, schema))
        if writer is None:
            text, full_name = self._data.from_connect_schema(schema)
            subject = self.registry.subject(topic, full_name)
            writer = _Writer(
                subject,
                text,
                full_name,
                message_indexes(text, full_name),
                self._data.encoder(schema),
            )
            self._writers.put((topic, schema), writer)
        self._last = (topic, schema, writer)
        return writer

    def _indexes_in(self, schema_id: int, writer: _Writer) -> list[int]:
        """The index path of the record's message in the schema of `schema_id`."""
        registered = self.registry.schema_for(schema_id)
        if registered.schema_type is not SchemaType.PROTOBUF:
            raise DataError(
                f"the latest version of subject '{writer.subject}' (id {schema_id}) is a "
                f"{registered.schema_type.value} schema, not PROTOBUF"
            )
        if registered.text == writer.text:
            return writer.indexes
        file = self._file(registered)
        found = _index_path(file.messages, writer.full_name)
        if found is None:
            raise DataError(
                f"the latest version of subject '{writer.subject}' (id {schema_id}) has no "
                f"message {writer.full_name}"
            )
        return found

    # --- reading ----------------------------------------------------------------------------

    def _file(self, registered: RegisteredSchema) -> ProtoFile:
        file = self._files.get(registered.schema_id)
        if file is None:
            imported = [
                self._file(self.registry.schema_of_version(r.subject, r.version))
                for r in registered.references
            ]
            try:
                file = self._data.parse(registered.text, imported)
            except DataError as e:
                raise DataError(f"schema id {registered.schema_id}: {e}") from None
            self._files.put(registered.schema_id, file)
        return file

    def _reader(self, topic: str, schema_id: int, indexes: tuple[int, ...]) -> _Reader:
        key = (topic, schema_id, indexes)
        reader = self._readers.get(key)
        if reader is None:
            holder: list[ProtoFile] = []

            def record_name(registered: RegisteredSchema) -> str | None:
                file = self._file(registered)
                holder.append(file)
                return file.message_at(list(indexes)).full_name

            registered, version = self.writer_schema(
                topic, schema_id, SchemaType.PROTOBUF, record_name
            )
            file = holder[0] if holder else self._file(registered)
            schema = self._data.to_connect_schema(file, list(indexes), version=version)
            reader = _Reader(schema, self._data.decoder(schema))
            self._readers.put(key, reader)
        return reader

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        if value is None:
            return _NULL
        schema_id, rest = unframe(value)
        indexes, payload = decode_message_indexes(rest)
        try:
            reader = self._reader(topic, schema_id, tuple(indexes))
            return SchemaAndValue(reader.schema, reader.decode(payload, 0))
        except DataError as e:
            raise DataError(
                f"Converting Protobuf data (schema id {schema_id}, message indexes {indexes}) "
                f"of topic {topic} to Kafka Connect data failed: {e}"
            ) from None


def _index_path(messages: list[ProtoMessage], full_name: str) -> list[int] | None:
    for i, message in enumerate(messages):
        if message.full_name == full_name:
            return [i]
        inner = _index_path(message.messages, full_name)
        if inner is not None:
            return [i, *inner]
    return None
