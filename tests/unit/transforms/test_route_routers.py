"""TimestampRouter and RegexRouter: the topic changes, nothing else does."""

import pytest

from kconnect.api.records import SinkRecord, SourceRecord
from kconnect.data.schema import Schema
from kconnect.errors import ConfigError, DataError
from kconnect.transforms.regex_router import RegexRouter
from kconnect.transforms.timestamp_router import TimestampRouter
from tests.unit.transforms.fieldhelpers import configured
from tests.unit.transforms.routehelpers import headers_of, sink, source

# 2024-03-05T07:08:09.045Z
INSTANT = 1_709_622_489_045


def assert_only_topic_changed(before: SourceRecord | SinkRecord, after: object, topic: str) -> None:
    assert type(after) is type(before)
    expected = before.new_record(
        topic,
        before.kafka_partition,
        before.key_schema,
        before.key,
        before.value_schema,
        before.value,
        before.timestamp,
    )
    assert after == expected


# --- TimestampRouter -------------------------------------------------------------------------


def test_timestamp_router_defaults() -> None:
    record = source(
        "v",
        schema=Schema.STRING,
        key=1,
        key_schema=Schema.INT32,
        topic="orders",
        timestamp=INSTANT,
        headers=headers_of(("h", None, "x")),
    )
    routed = configured(TimestampRouter, {}).apply(record)
    assert routed.topic == "orders-20240305"
    assert_only_topic_changed(record, routed, "orders-20240305")
    assert routed.source_offset == {"o": 7}
    assert record.topic == "orders"


def test_timestamp_router_custom_formats() -> None:
    router = configured(
        TimestampRouter,
        {"topic.format": "${timestamp}.${topic}.archive", "timestamp.format": "yyyy-MM'W'dd_HH"},
    )
    assert router.apply(source("v", topic="logs", timestamp=INSTANT)).topic == (
        "2024-03W05_07.logs.archive"
    )


def test_timestamp_router_replaces_topic_before_timestamp() -> None:
    # As in Java: a topic that itself contains ${timestamp} has it replaced too.
    router = configured(TimestampRouter, {"topic.format": "${topic}+${topic}"})
    routed = router.apply(source("v", topic="a${timestamp}", timestamp=INSTANT))
    assert routed.topic == "a20240305+a20240305"


def test_timestamp_router_keeps_the_original_coordinates_of_a_sink_record() -> None:
    record = sink("v", topic="orders", timestamp=0)
    routed = configured(TimestampRouter, {}).apply(record)
    assert routed.topic == "orders-19700101"
    assert (routed.original_topic, routed.original_kafka_partition) == ("orders", 2)
    assert routed.kafka_offset == 99


def test_timestamp_router_needs_a_timestamp() -> None:
    with pytest.raises(DataError, match="Timestamp missing on record: SourceRecord"):
        configured(TimestampRouter, {}).apply(source("v", topic="orders"))


def test_timestamp_router_bad_format_names_the_key() -> None:
    with pytest.raises(
        ConfigError,
        match=r"invalid value 'yyyyMMdd-b' for key 'timestamp.format': expected a "
        r"SimpleDateFormat-compatible pattern: Illegal pattern character 'b'",
    ):
        configured(TimestampRouter, {"timestamp.format": "yyyyMMdd-b"})


# --- RegexRouter -----------------------------------------------------------------------------


def regex_router(regex: str, replacement: str) -> RegexRouter:
    router: RegexRouter = configured(RegexRouter, {"regex": regex, "replacement": replacement})
    return router


@pytest.mark.parametrize(
    ("regex", "replacement", "topic", "expected"),
    [
        ("(.*)STATIC", "$1", "STATIC", ""),
        ("(.*)STATIC", "$1", "prefix-STATIC", "prefix-"),
        ("(.*)-(\\d+)", "$1", "orders-42", "orders"),
        ("(.*)-(\\d+)", "$2.$1", "orders-42", "42.orders"),
        ("(?<name>[a-z]+)\\.v(?<ver>\\d)", "${name}_${ver}", "users.v2", "users_2"),
        ("(.*)", "\\$1 is $1", "t", "$1 is t"),
        ("(.*)", "x", "anything", "x"),
        # $12 is group 1 and a literal 2 when there is no group 12.
        ("(a)(b)", "$12", "ab", "a2"),
        # replaceFirst searches again after the whole-topic match: 'a' is found before 'ab'.
        ("a|ab", "X", "ab", "Xb"),
        # A group that took no part in the match adds nothing.
        ("(x)?(.*)", "[$1]$2", "topic", "[]topic"),
        ("\\Qa.b\\E(.*)", "c$1", "a.b-1", "c-1"),
    ],
)
def test_regex_router_reroutes(regex: str, replacement: str, topic: str, expected: str) -> None:
    record = source("v", key="k", topic=topic, timestamp=5, headers=headers_of(("h", None, 1)))
    routed = regex_router(regex, replacement).apply(record)
    assert routed.topic == expected
    assert_only_topic_changed(record, routed, expected)


@pytest.mark.parametrize("topic", ["orders", "orders-42-x", "xorders-42"])
def test_regex_router_needs_the_whole_topic_to_match(topic: str) -> None:
    record = source("v", topic=topic)
    assert (
        regex_router(
            "orders-(\\d+)",
            "o$1",
        ).apply(record)
        is record
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"replacement": "x"}, "missing required key 'regex'"),
        ({"regex": "x"}, "missing required key 'replacement'"),
        ({"regex": "(", "replacement": "x"}, "invalid value '(' for key 'regex'"),
        ({"regex": "\\p{Alpha}+", "replacement": "x"}, "for key 'regex'"),
        ({"regex": "[a-z&&[^x]]", "replacement": "x"}, "class intersections"),
        ({"regex": "(a)", "replacement": "$2"}, "invalid value '$2' for key 'replacement'"),
        ({"regex": "(a)", "replacement": "${nope}"}, "No group with name {nope}"),
        ({"regex": "(a)", "replacement": "x$"}, "group index is missing"),
        ({"regex": "(a)", "replacement": "$x"}, "Illegal group reference '$x'"),
        ({"regex": "(a)", "replacement": "a\\"}, "character to be escaped is missing"),
    ],
)
def test_regex_router_bad_config_names_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RegexRouter().configure(props)
    assert message in str(raised.value)
