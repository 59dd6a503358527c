"""What every registry converter shares: the Schema Registry client its configs name.

`configure_registry` reads the registry keys, closes the client of an earlier `configure` and
opens a new one; `close` closes it (the runtime calls it when the task stops); `registry` is the
open client, a `DataError` naming the converter before `configure`. When reading,
`writer_schema` is the schema a record names by id, refused unless it is of the converter's
type, with the version it has under the record's subject (Confluent's converters give the
Connect schema read that version when it names none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kconnect.api.converter import Converter
from kconnect.converters._config import get_converter_type
from kconnect.converters.schemaregistry.client import RegisteredSchema, SchemaRegistry, SchemaType
from kconnect.converters.schemaregistry.config import RegistrySettings, read_registry_settings
from kconnect.errors import DataError


class RegistryConverter(Converter):
    """A converter whose schemas live in a Schema Registry (Avro, JSON Schema, Protobuf)."""

    _registry: SchemaRegistry | None = None

    def configure_registry(self, configs: Mapping[str, str], is_key: bool) -> RegistrySettings:
        """Check the converter type and the registry keys, then (re)open the client."""
        get_converter_type(configs)
        settings = read_registry_settings(configs)
        if self._registry is not None:
            self._registry.close()
        self._registry = SchemaRegistry(settings, is_key)
        return settings

    def close(self) -> None:
        """Close the registry client's connections (Java's `Converter.close`)."""
        if self._registry is not None:
            self._registry.close()
            self._registry = None

    @property
    def registry(self) -> SchemaRegistry:
        if self._registry is None:
            raise DataError(f"the {type(self).__name__} is used before it is configured")
        return self._registry

    def writer_schema(
        self,
        topic: str,
        schema_id: int,
        schema_type: SchemaType,
        record_name: Callable[[RegisteredSchema], str | None],
    ) -> tuple[RegisteredSchema, int | None]:
        """The schema of `schema_id`, which must be a `schema_type` one, and its version under
        the subject of `topic` and the schema's `record_name` (None where that subject does not
        hold it, or a record name strategy finds no name)."""
        registry = self.registry
        registered = registry.schema_for(schema_id)
        if registered.schema_type is not schema_type:
            raise DataError(
                f"schema id {schema_id} is a {registered.schema_type.value} schema, not "
                f"{schema_type.value}: the record was not written by a {type(self).__name__} "
                "or a serializer of its format"
            )
        name = record_name(registered)  # a text that is not of its type fails here
        try:
            subject = registry.subject(topic, name)
        except DataError:  # a record name strategy and a schema without a name
            return registered, None
        return registered, registry.version_of(subject, registered)
