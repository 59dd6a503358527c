"""The shared Schema Registry layer against the session's real registry: caching, fail-over
between URLs, and the serializer's choice of id (auto.register.schemas, use.latest.version,
latest.compatibility.strict)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from kconnect.converters.schemaregistry import (
    SchemaRegistry,
    SchemaType,
    read_registry_settings,
)
from kconnect.errors import DataError
from kconnect_devenv import registry
from tests.support.workers import free_port

V1 = '{"type":"object","properties":{"id":{"type":"integer"}}}'
# A compatible change for Apicurio's BACKWARD rule (a new property is not: "narrowed").
V2 = '{"type":"object","description":"orders","properties":{"id":{"type":"integer"}}}'
INCOMPATIBLE = '{"type":"object","properties":{"id":{"type":"string"}}}'


class CountingClient:
    """confluent-kafka's client, with a count of the calls made to it."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.client = SchemaRegistryClient(conf)
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return call


@pytest.fixture
def make(
    schema_registry: registry.Registry, schema_registry_credentials: tuple[str, str]
) -> Iterator[Callable[..., tuple[SchemaRegistry, CountingClient]]]:
    made: list[SchemaRegistry] = []

    def build(url: str | None = None, **keys: str) -> tuple[SchemaRegistry, CountingClient]:
        settings = read_registry_settings(
            {
                "schema.registry.url": url or schema_registry.url,
                "basic.auth.credentials.source": "USER_INFO",
                "basic.auth.user.info": ":".join(schema_registry_credentials),
                **keys,
            }
        )
        clients: list[CountingClient] = []

        def factory(conf: dict[str, Any]) -> CountingClient:
            clients.append(CountingClient(conf))
            return clients[0]

        reg = SchemaRegistry(settings, False, client_factory=factory)
        made.append(reg)
        return reg, clients[0]

    yield build
    for reg in made:
        reg.close()


def _subject() -> str:
    return f"layer-{uuid.uuid4().hex[:8]}-value"


def test_steady_state_makes_no_registry_call(make: Callable[..., Any]) -> None:
    reg, client = make()
    subject = _subject()
    ids = {reg.id_for(subject, V1, SchemaType.JSON) for _ in range(100)}
    texts = {reg.schema_for(next(iter(ids))).text for _ in range(100)}
    assert len(ids) == 1
    assert texts == {V1}
    assert client.calls == Counter({"register_schema": 1, "get_schema": 1})


def test_the_caches_are_bounded_by_schemas_cache_size(make: Callable[..., Any]) -> None:
    reg, client = make(**{"schemas.cache.size": "1"})
    one, other = _subject(), _subject()
    for _ in range(3):
        reg.id_for(one, V1, SchemaType.JSON)
        reg.id_for(other, V1, SchemaType.JSON)
    assert client.calls["register_schema"] == 6


def test_a_dead_first_url_fails_over_to_the_next(
    make: Callable[..., Any], schema_registry: registry.Registry
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/apis/ccompat/v7"
    reg, _ = make(url=f"{dead},{schema_registry.url}")
    schema_id = reg.id_for(_subject(), V1, SchemaType.JSON)
    assert reg.schema_for(schema_id).schema_type is SchemaType.JSON


def test_without_auto_register_the_schema_is_looked_up(make: Callable[..., Any]) -> None:
    subject = _subject()
    lookup, _ = make(**{"auto.register.schemas": "false"})
    with pytest.raises(DataError, match=f"subject '{subject}' does not hold"):
        lookup.id_for(subject, V1, SchemaType.JSON)
    writer, _ = make()
    schema_id = writer.id_for(subject, V1, SchemaType.JSON)
    assert lookup.id_for(subject, V1, SchemaType.JSON) == schema_id


def test_use_latest_version_writes_with_the_latest_checked_for_compatibility(
    make: Callable[..., Any],
) -> None:
    subject = _subject()
    writer, _ = make()
    writer.id_for(subject, V1, SchemaType.JSON)
    latest = writer.id_for(subject, V2, SchemaType.JSON)
    keys = {"auto.register.schemas": "false", "use.latest.version": "true"}
    reg, _ = make(**keys)
    assert reg.id_for(subject, V1, SchemaType.JSON) == latest
    with pytest.raises(DataError, match="not compatible with the latest version"):
        reg.id_for(subject, INCOMPATIBLE, SchemaType.JSON)
    lax, _ = make(**keys, **{"latest.compatibility.strict": "false"})
    assert lax.id_for(subject, INCOMPATIBLE, SchemaType.JSON) == latest
