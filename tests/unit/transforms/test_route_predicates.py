"""Filter, the predicates, and their Kafka Connect class names."""

import pytest

from kconnect.api.transform import Predicate, Transformation
from kconnect.data.schema import Schema
from kconnect.errors import ConfigError
from kconnect.plugins.chain import build_chain
from kconnect.plugins.registry import PluginRegistry
from kconnect.transforms.filter import Filter
from kconnect.transforms.header_from import HeaderFromKey, HeaderFromValue
from kconnect.transforms.headers import DropHeaders, InsertHeader
from kconnect.transforms.predicates import HasHeaderKey, RecordIsTombstone, TopicNameMatches
from kconnect.transforms.regex_router import RegexRouter
from kconnect.transforms.set_schema_metadata import SetSchemaMetadataKey, SetSchemaMetadataValue
from kconnect.transforms.timestamp_converter import (
    TimestampConverterKey,
    TimestampConverterValue,
)
from kconnect.transforms.timestamp_router import TimestampRouter
from tests.unit.transforms.fieldhelpers import configured
from tests.unit.transforms.routehelpers import headers_of, sink, source

# --- Filter ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [source("v"), source(None), sink("v", schema=Schema.STRING, key="k")]
)
def test_filter_drops_every_record(record: object) -> None:
    assert configured(Filter, {}).apply(record) is None


# --- TopicNameMatches ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("my-prefix-.*", "my-prefix-orders", True),
        ("my-prefix-.*", "my-prefix-", True),
        ("my-prefix-.*", "other-my-prefix-orders", False),
        ("orders", "orders-dlq", False),  # the whole name must match, not a part of it
        ("orders|users", "users", True),
        ("(?<env>prod|dev)\\.orders", "dev.orders", True),
        ("(?i)ORDERS", "orders", True),
    ],
)
def test_topic_name_matches(pattern: str, topic: str, matches: bool) -> None:
    predicate = configured(TopicNameMatches, {"pattern": pattern})
    assert predicate.test(source("v", topic=topic)) is matches
    assert predicate.test(sink(None, topic=topic)) is matches


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "missing required key 'pattern'"),
        ({"pattern": ""}, "invalid value '' for key 'pattern': expected a non-empty value"),
        ({"pattern": "  "}, "invalid value '  ' for key 'pattern': expected a non-empty value"),
        (
            {"pattern": "[a-z"},
            "invalid value '[a-z' for key 'pattern': entry must be a Java-compatible regular "
            "expression",
        ),
    ],
)
def test_topic_name_matches_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        TopicNameMatches().configure(props)
    assert message in str(raised.value)


# --- HasHeaderKey ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (None, False),
        (headers_of(), False),
        (headers_of(("other", None, 1)), False),
        (headers_of(("my-header", None, None)), True),
        (headers_of(("other", None, 1), ("my-header", Schema.STRING, "x")), True),
        (headers_of(("My-Header", None, 1)), False),
    ],
)
def test_has_header_key(headers: object, expected: bool) -> None:
    predicate = configured(HasHeaderKey, {"name": "my-header"})
    assert predicate.test(source("v", headers=headers)) is expected
    assert predicate.test(sink("v", headers=headers)) is expected


@pytest.mark.parametrize(
    ("props", "message"),
    [({}, "missing required key 'name'"), ({"name": ""}, "invalid value '' for key 'name'")],
)
def test_has_header_key_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HasHeaderKey().configure(props)


# --- RecordIsTombstone -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (source(None), True),
        (source(None, schema=Schema.OPTIONAL_STRING, key="k", key_schema=Schema.STRING), True),
        (sink(None, key="k"), True),
        (source("v"), False),
        (source(""), False),
        (source(0, schema=Schema.INT32), False),
        (sink({}, key=None), False),
    ],
)
def test_record_is_tombstone(record: object, expected: bool) -> None:
    assert configured(RecordIsTombstone, {}).test(record) is expected


# --- in a chain ------------------------------------------------------------------------------


def test_filter_with_a_negated_predicate_in_a_chain() -> None:
    chain = build_chain(
        PluginRegistry(),
        {
            "transforms": "keepOrders,route",
            "transforms.keepOrders.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.keepOrders.predicate": "isOrders",
            "transforms.keepOrders.negate": "true",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": "(.*)",
            "transforms.route.replacement": "$1-copy",
            "transforms.route.predicate": "isTombstone",
            "transforms.route.negate": "true",
            "predicates": "isOrders,isTombstone",
            "predicates.isOrders.type": (
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
            ),
            "predicates.isOrders.pattern": "orders.*",
            "predicates.isTombstone.type": (
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"
            ),
        },
    )
    assert chain.apply(source("v", topic="users")) is None
    assert chain.apply(source("v", topic="orders")).topic == "orders-copy"
    tombstone = source(None, topic="orders.eu")
    assert chain.apply(tombstone) is tombstone


def test_bad_predicate_config_is_named_with_its_prefix() -> None:
    with pytest.raises(ConfigError, match=r"predicates\.isOrders: .*key 'pattern'"):
        build_chain(
            PluginRegistry(),
            {
                "transforms": "drop",
                "transforms.drop.type": "Filter",
                "transforms.drop.predicate": "isOrders",
                "predicates": "isOrders",
                "predicates.isOrders.type": "TopicNameMatches",
            },
        )


# --- Kafka Connect's class names -------------------------------------------------------------

TRANSFORMS = {
    "TimestampConverter$Key": TimestampConverterKey,
    "TimestampConverter$Value": TimestampConverterValue,
    "TimestampRouter": TimestampRouter,
    "RegexRouter": RegexRouter,
    "SetSchemaMetadata$Key": SetSchemaMetadataKey,
    "SetSchemaMetadata$Value": SetSchemaMetadataValue,
    "InsertHeader": InsertHeader,
    "DropHeaders": DropHeaders,
    "HeaderFrom$Key": HeaderFromKey,
    "HeaderFrom$Value": HeaderFromValue,
    "Filter": Filter,
}
PREDICATES = {
    "TopicNameMatches": TopicNameMatches,
    "HasHeaderKey": HasHeaderKey,
    "RecordIsTombstone": RecordIsTombstone,
}


@pytest.mark.parametrize(("name", "cls"), TRANSFORMS.items())
def test_java_transform_names_resolve(name: str, cls: type) -> None:
    registry = PluginRegistry()
    java_name = f"org.apache.kafka.connect.transforms.{name}"
    assert registry.resolve(java_name) is cls
    assert registry.resolve_as(java_name, Transformation, "transforms.t.type") is cls
    assert registry.resolve(name) is cls


@pytest.mark.parametrize(("name", "cls"), PREDICATES.items())
def test_java_predicate_names_resolve(name: str, cls: type) -> None:
    registry = PluginRegistry()
    java_name = f"org.apache.kafka.connect.transforms.predicates.{name}"
    assert registry.resolve(java_name) is cls
    assert registry.resolve_as(java_name, Predicate, "predicates.p.type") is cls


def test_a_predicate_is_not_a_transform() -> None:
    with pytest.raises(ConfigError, match=r"transforms\.t\.type"):
        PluginRegistry().resolve_as(
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            Transformation,
            "transforms.t.type",
        )
