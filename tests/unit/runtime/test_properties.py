import pytest
from hypothesis import given
from hypothesis import strategies as st

from kconnect.config.properties import format_properties, parse_properties
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


@pytest.mark.parametrize(
    ("text", "props"),
    [
        # A form feed is white space between key and value, never the end of a line.
        ("key\fvalue", {"key": "value"}),
        ("\fkey\f=\fvalue\nnext=1", {"key": "value", "next": "1"}),
        # Only \n, \r and \r\n end a line; U+2028, U+0085 and \v are text.
        ("a=1\u2028b\nc=2\x85d\x0be", {"a": "1\u2028b", "c": "2\x85d\x0be"}),
        ("a=1\rb=2\r\nc=3", {"a": "1", "b": "2", "c": "3"}),
        # A surrogate pair is the one character it encodes.
        (r"a=\uD83D\uDE00", {"a": "\U0001f600"}),
        (r"\ud834\udd1e=x\uD83D\uDE00y", {"\U0001d11e": "x\U0001f600y"}),
        # A continued line may end the file.
        ("a=b\\", {"a": "b"}),
    ],
)
def test_java_line_and_escape_rules(text: str, props: dict[str, str]) -> None:
    assert parse_properties(text) == props


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("ok=1\n# c\nbad=\\uD83D\n", 3),
        ("ok=1\nbad=x\\uDE00y", 2),
        ("a=1\nlong=a,\\\n  b,\\\n  \\ud800\n", 2),
    ],
)
def test_half_a_surrogate_pair_names_file_and_line(text: str, line: int) -> None:
    with pytest.raises(ConfigError, match=rf"^c\.properties:{line}: half of a UTF-16 surrogate"):
        parse_properties(text, "c.properties")


def test_bad_unicode_escape_on_a_continued_line_names_its_line() -> None:
    with pytest.raises(ConfigError, match=r"^w\.properties:3: malformed \\uXXXX escape '\\\\u12'"):
        parse_properties("a=1\nlist=a,\\\n  \\u12", "w.properties")


@pytest.mark.parametrize(
    ("props", "text"),
    [
        ({"a": "b"}, "a=b\n"),
        ({"k=e:y": "v=a:l"}, "k\\=e\\:y=v\\=a\\:l\n"),
        ({"#k": "#v", "!k": "!v"}, "\\!k=\\!v\n\\#k=\\#v\n"),
        # As Java, only the first of a value's leading spaces is escaped.
        ({" k ey": "  v al "}, "\\ k\\ ey=\\  v al \n"),
        ({"k": "\\\t\n\r\f"}, "k=\\\\\\t\\n\\r\\f\n"),
        ({"k": "é€\U0001f600"}, "k=\\u00e9\\u20ac\\ud83d\\ude00\n"),
        ({"b": "2", "a": "1"}, "a=1\nb=2\n"),
        ({}, ""),
    ],
)
def test_writer_escapes_as_java_does(props: dict[str, str], text: str) -> None:
    assert format_properties(props) == text
    assert format_properties(props).isascii()


HOSTILE = st.text(
    st.one_of(
        st.sampled_from([*"=:\\#! \t\n\r\f", "\u2028", "\x85", "\x00"]),
        st.characters(blacklist_categories=["Cs"]),
    ),
    max_size=12,
)


@given(st.dictionaries(HOSTILE, HOSTILE, max_size=8))
def test_what_is_written_reads_back_equal(props: dict[str, str]) -> None:
    assert parse_properties(format_properties(props)) == props


def test_writer_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError, match=r"property 'tasks\.max': expected a str key and a str"):
        format_properties({"tasks.max": 1})  # type: ignore[dict-item]
