"""What every registry converter shares: the Schema Registry client its configs name.

`configure_registry` reads the registry keys, closes the client of an earlier `configure` and
opens a new one; `close` closes it (the runtime calls it when the task stops); `registry` is the
open client, a `DataError` naming the converter before `configure`.
"""

from __future__ import annotations

from collections.abc import Mapping

from kconnect.api.converter import Converter
from kconnect.converters._config import get_converter_type
from kconnect.converters.schemaregistry.client import SchemaRegistry
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
