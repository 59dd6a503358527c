import pytest

from kconnect.config.properties import parse_properties
from kconnect.errors import ConfigError


def test_kafka_quickstart_file() -> None:
    text = """# comment
! another comment
bootstrap.servers=localhost:9092
key.converter=org.apache.kafka.connect.json.JsonConverter
  offset.flush.interval.ms = 10000
#listeners=HTTP://:8083
plugin.path=libs/connect-file-4.1.1.jar
"""
    assert parse_properties(text) == {
        "bootstrap.servers": "localhost:9092",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "offset.flush.interval.ms": "10000",
        "plugin.path": "libs/connect-file-4.1.1.jar",
    }


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("a=b", "a", "b"),
        ("a:b", "a", "b"),
        ("a b", "a", "b"),
        ("a = b", "a", "b"),
        ("a\t: b", "a", "b"),
        ("a=", "a", ""),
        ("a", "a", ""),
        ("a=b=c", "a", "b=c"),
        (r"a\=b=c", "a=b", "c"),
        (r"a\ b=c", "a b", "c"),
        (r"k=tab\there", "k", "tab\there"),
        (r"k=\u00e9t\u00E9", "k", "été"),
        (r"k=C:\\path", "k", "C:\\path"),
        ("k=  trailing  ", "k", "trailing  "),
    ],
)
def test_separators_and_escapes(line: str, key: str, value: str) -> None:
    assert parse_properties(line) == {key: value}


def test_line_continuation() -> None:
    text = "list=a,\\\n    b,\\\n    c\nnext=1\n"
    assert parse_properties(text) == {"list": "a,b,c", "next": "1"}


def test_even_backslashes_do_not_continue() -> None:
    assert parse_properties("a=x\\\\\nb=y") == {"a": "x\\", "b": "y"}


def test_later_keys_win() -> None:
    assert parse_properties("a=1\na=2") == {"a": "2"}


def test_bad_unicode_escape_names_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"w\.properties:2: malformed \\uXXXX escape"):
        parse_properties("ok=1\nbad=\\u12x4\n", "w.properties")
