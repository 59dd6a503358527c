"""Schema Registry converters configured for a test against the session's registry, each closed
at the test's end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from kconnect_devenv import registry


class _Converter(Protocol):
    def configure(self, configs: dict[str, str], is_key: bool) -> None: ...

    def close(self) -> None: ...


C = TypeVar("C", bound=_Converter)


def registry_settings(
    schema_registry: registry.Registry, credentials: tuple[str, str]
) -> dict[str, str]:
    """The converter keys of the session's registry, as a connector would write them."""
    return {
        "schema.registry.url": schema_registry.url,
        "basic.auth.credentials.source": "USER_INFO",
        "basic.auth.user.info": ":".join(credentials),
    }


class RegistryConverters(Generic[C]):
    """Makes converters of one class on `settings` (a value converter unless `is_key`, with
    `extra` keys added); `close` closes every one made."""

    def __init__(self, make: Callable[[], C], settings: dict[str, str]) -> None:
        self._make = make
        self.settings = settings
        self.made: list[C] = []

    def __call__(
        self,
        extra: dict[str, str] | None = None,
        *,
        settings: dict[str, str] | None = None,
        is_key: bool = False,
    ) -> C:
        converter = self._make()
        kind = "key" if is_key else "value"
        converter.configure(
            {**(settings or self.settings), "converter.type": kind, **(extra or {})}, is_key
        )
        self.made.append(converter)
        return converter

    def close(self) -> None:
        for converter in self.made:
            converter.close()
