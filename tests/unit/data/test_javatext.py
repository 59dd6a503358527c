"""Java's `toString` spelling of values: the pure-Python specification and the native module.

`java_text_py` is the specification; `kconnect.data._javatextc` (compiled by hatch_build.py) must
spell every value the same way, raise the same errors, and survive hostile values: deep nesting,
a fallback that mutates what is being read or returns a non-string.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import enum
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kconnect.data import Schema, SchemaBuilder, Struct, _javatext, logical
from kconnect.data._javatext import (
    java_double_str,
    java_lines,
    java_text,
    java_text_py,
    java_to_string,
    timestamp_text,
)

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "worker" / "kconnect" / "data" / "_javatextc.c"
NATIVE_OFF = os.environ.get("KCONNECT_NATIVE", "").strip().lower() == "off"

SPELLERS: dict[str, Callable[[object], str]] = {"python": java_text_py, "native": java_text}


@pytest.fixture(params=sorted(SPELLERS))
def spell(request: pytest.FixtureRequest) -> Callable[[object], str]:
    if request.param == "native" and _javatext.NATIVE is None:
        pytest.skip("the native module is not built (KCONNECT_NATIVE=off)")
    return SPELLERS[str(request.param)]


def test_the_native_module_is_built() -> None:
    """`make setup` builds it (KCONNECT_NATIVE=require); the suite must test the shipped path."""
    if NATIVE_OFF:
        pytest.skip("KCONNECT_NATIVE=off")
    assert _javatext.NATIVE is not None, "kconnect.data._javatextc is missing: run `make setup`"


def _struct() -> Struct:
    schema = SchemaBuilder.struct().field("a", Schema.INT32).field("b", Schema.STRING).build()
    return Struct(schema).put("a", 1).put("b", "x")


class Colour(enum.IntEnum):
    RED = 1


class Tag(str):
    def __str__(self) -> str:
        return "not this"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (False, "false"),
        (True, "true"),
        ("é", "é"),
        (42, "42"),
        (-(2**63), "-9223372036854775808"),
        (2**63 - 1, "9223372036854775807"),
        (2**70, "1180591620717411303424"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (0.001, "0.001"),
        (9999999.0, "9999999.0"),
        (1.0e7, "1.0E7"),
        (0.0005, "5.0E-4"),
        (1.0e16, "1.0E16"),
        (1.0e-5, "1.0E-5"),
        (-0.0, "-0.0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (b"caf\xc3\xa9", "café"),
        (b"\xff", "\ufffd"),
        ([1, "a"], "[1, a]"),
        ((1, "b"), "[1, b]"),
        ({"k": None}, "{k=null}"),
        ({"a": [1, "x", None, 2.5e-4], 3: {"k": True}}, "{a=[1, x, null, 2.5E-4], 3={k=true}}"),
        ({None: 1, 1.5: 2, False: 3}, "{null=1, 1.5=2, false=3}"),
        (collections.OrderedDict(b=[1.0e20]), "{b=[1.0E20]}"),
        ([_struct(), decimal.Decimal("1.50"), b"x"], "[Struct{a=1,b=x}, 1.50, x]"),
        ({"c": Colour.RED}, "{c=1}"),
        ([Tag("t")], "[t]"),
        ([[], {}, [[]]], "[[], {}, [[]]]"),
    ],
)
def test_values_are_spelled_as_java_does(
    spell: Callable[[object], str], value: object, text: str
) -> None:
    assert spell(value) == text


def _obvious(value: object) -> str:
    """Java's `toString` of a plain value, spelt out the slow, obvious way."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_obvious(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_obvious(k)}={_obvious(v)}" for k, v in value.items()) + "}"


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.binary(max_size=4)
    | st.text(
        alphabet=st.sampled_from("ab': \"\\\n\x00é{}[]=,N1.e-TrueFalseNone\u200b"), max_size=8
    )
    | st.text(max_size=6)
)
_keys = st.text(max_size=5) | st.integers(-3, 3) | st.booleans() | st.floats()
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(
            st.text(max_size=5) | st.integers(-3, 3) | st.booleans() | st.floats(),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=1500, deadline=None)
@given(_values)
def test_nested_values_are_spelled_as_java_does(value: object) -> None:
    expected = _obvious(value)
    assert java_text_py(value) == expected
    assert java_text(value) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(_values, max_size=8))
def test_a_batch_of_lines_is_each_value_and_a_newline(values: list[object]) -> None:
    assert java_lines(values) == "".join(_obvious(v) + "\n" for v in values)


def test_a_batch_falls_back_to_python_as_well(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_javatext, "NATIVE", None)
    assert java_lines(["a", {"k": [1, 1.0e7]}, None]) == "a\n{k=[1, 1.0E7]}\nnull\n"
    assert java_lines([]) == ""


def _nested(depth: int) -> object:
    value: object = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_values_nested_past_the_recursion_limit_raise_and_do_not_crash(
    spell: Callable[[object], str],
) -> None:
    with pytest.raises(RecursionError):
        spell(_nested(sys.getrecursionlimit() + 50))
    assert spell(_nested(100)).count("leaf") == 1  # and it still works afterwards


def test_an_int_too_long_to_print_raises_as_python_does(spell: Callable[[object], str]) -> None:
    with pytest.raises(ValueError, match="digits"):
        spell({"n": 10**5000})


# --- the native module's own contract: `other` is the caller's and may be hostile --------------


@pytest.fixture
def native() -> _javatext._Native:
    if _javatext.NATIVE is None:
        pytest.skip("the native module is not built (KCONNECT_NATIVE=off)")
    return _javatext.NATIVE


def test_native_other_must_return_a_str(native: _javatext._Native) -> None:
    with pytest.raises(TypeError, match="spelling of a bytes must be a str, not int"):
        native.java_text(lambda _: 1, [b"x"])
    with pytest.raises(TypeError, match="other must be callable"):
        native.java_text(None, [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="values must be a list"):
        native.java_lines(str, ("a",))  # type: ignore[arg-type]


def test_native_passes_on_what_other_raises(native: _javatext._Native) -> None:
    def refuse(value: object) -> str:
        raise LookupError(f"no spelling for {value!r}")

    with pytest.raises(LookupError, match="no spelling for b'x'"):
        native.java_lines(refuse, ["fine", {"a": [b"x"]}])


class _Mutator:
    """An object whose `str()` changes the container being spelled, as hostile code could."""

    def __init__(self, change: Callable[[], None]) -> None:
        self.change = change

    def __str__(self) -> str:
        self.change()
        return "changed"


def test_a_list_that_shrinks_while_spelled_ends_early(spell: Callable[[object], str]) -> None:
    items: list[object] = []
    items.extend([_Mutator(items.clear), b"b", b"c", b"d"])
    assert spell(items) == "[changed]"


def test_a_dict_that_grows_while_spelled_raises(spell: Callable[[object], str]) -> None:
    mapping: dict[object, object] = {}
    mapping["a"] = _Mutator(lambda: mapping.update((f"k{i}", i) for i in range(100)))
    mapping["b"] = 2
    with pytest.raises(RuntimeError, match="dictionary changed size during iteration"):
        spell(mapping)


@pytest.mark.parametrize("source", [SOURCE, SOURCE.with_name("_avroc.c")], ids=lambda p: p.name)
def test_the_c_sources_compile_without_warnings(tmp_path: Path, source: Path) -> None:
    """Both native modules (this one and kconnect.data._avroc): -Wall -Wextra -Werror, as a
    reviewer would build them."""
    if NATIVE_OFF:
        pytest.skip("KCONNECT_NATIVE=off")
    ldshared = sysconfig.get_config_var("LDSHARED")
    assert ldshared, "no LDSHARED in this interpreter's build configuration"
    out = tmp_path / (source.stem + str(sysconfig.get_config_var("EXT_SUFFIX")))
    command = [
        *str(ldshared).split(),
        "-O2",
        "-fPIC",
        "-Wall",
        "-Wextra",
        "-Werror",
        f"-I{sysconfig.get_paths()['include']}",
        str(source),
        "-o",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 0


@given(
    st.datetimes(
        min_value=dt.datetime(2, 1, 1),
        max_value=dt.datetime(9998, 12, 31),
        timezones=st.sampled_from(
            [
                dt.UTC,
                dt.timezone(dt.timedelta(hours=5, minutes=30)),
                dt.timezone(-dt.timedelta(hours=8)),
            ]
        )
        | st.none(),
    )
)
def test_a_timestamp_is_written_in_utc_to_the_millisecond(value: dt.datetime) -> None:
    utc = value.astimezone(dt.UTC) if value.tzinfo is not None else value
    expected = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )
    assert timestamp_text(value) == expected
    assert java_to_string(value) == expected


# What Java Kafka Connect 4.1.1's `Struct.toString` printed for the same struct (connect-api,
# java.util.Date values, default zone UTC): FileStreamSink writes this line for such a record.
JAVA_STRUCT_TEXT = (
    "Struct{i=5,s=x y,f=1.0E10,b=true,dec=12.34,l=[a, b],m={k=1},n=Struct{z=false},"
    "at=Sun Nov 12 02:15:40 UTC 2023,d=Sat Jan 08 00:00:00 UTC 2022,t=Thu Jan 01 01:02:03 UTC 1970}"
)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool, str], None]]:
    """Makes the process's zone, as both spellings see it, UTC (with a name) or not; restored
    after the test."""

    def set_zone(is_utc: bool, name: str) -> None:
        monkeypatch.setattr(_javatext, "_LOCAL_ZONE_IS_UTC", is_utc)
        monkeypatch.setattr(_javatext, "_LOCAL_ZONE_NAME", name)
        _javatext.configure_native()

    yield set_zone
    monkeypatch.undo()
    _javatext.configure_native()


@pytest.fixture(params=["native", "python"])
def spelling(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test of a Struct's text runs with the native module and without it."""
    if request.param == "python":
        monkeypatch.setattr(_javatext, "NATIVE", None)
    elif _javatext.NATIVE is None:
        pytest.skip("the native module is not built (KCONNECT_NATIVE=off)")
    return str(request.param)


def test_a_struct_is_written_as_javas_struct_to_string(
    zone: Callable[[bool, str], None], spelling: str
) -> None:
    zone(True, "UTC")
    inner = SchemaBuilder.struct().field("z", Schema.BOOLEAN).build()
    schema = (
        SchemaBuilder.struct()
        .field("i", Schema.INT32)
        .field("s", Schema.STRING)
        .field("f", Schema.FLOAT64)
        .field("b", Schema.BOOLEAN)
        .field("dec", logical.Decimal.schema(2))
        .field("l", SchemaBuilder.array(Schema.STRING).build())
        .field("m", SchemaBuilder.map(Schema.STRING, Schema.INT32).build())
        .field("n", inner)
        .field("at", logical.Timestamp.builder().build())
        .field("d", logical.Date.builder().build())
        .field("t", logical.Time.builder().build())
        .field("o", Schema.OPTIONAL_STRING)
        .build()
    )
    value = (
        Struct(schema)
        .put("i", 5)
        .put("s", "x y")
        .put("f", 1e10)
        .put("b", True)
        .put("dec", decimal.Decimal("12.34"))
        .put("l", ["a", "b"])
        .put("m", {"k": 1})
        .put("n", Struct(inner).put("z", False))
        .put("at", dt.datetime(2023, 11, 12, 2, 15, 40, 825000, tzinfo=dt.UTC))
        .put("d", dt.date(2022, 1, 8))
        .put("t", dt.time(1, 2, 3, 4000))
    )
    assert repr(value) == JAVA_STRUCT_TEXT
    # A record whose value is a Timestamp alone is one line of Date.toString too.
    assert java_lines([dt.datetime(2023, 11, 12, 2, 15, 40, tzinfo=dt.UTC)]) == (
        "Sun Nov 12 02:15:40 UTC 2023\n"
    )


def test_dates_are_written_in_the_processs_zone_as_java_writes_them_in_its_default_zone() -> None:
    # Java 17 with TZ=Europe/Paris printed these two instants as below.
    script = (
        "import datetime as dt\n"
        "from kconnect.data._javatext import java_date_text\n"
        "print(java_date_text(dt.datetime(2023, 11, 12, 2, 15, 40, tzinfo=dt.UTC)))\n"
        "print(java_date_text(dt.datetime(2023, 7, 12, 2, 15, 40, tzinfo=dt.UTC)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "TZ": "Europe/Paris"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.splitlines() == ["Sun Nov 12 03:15:40 CET 2023", "Wed Jul 12 04:15:40 CEST 2023"]


def _pure(value: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """`value` spelled without the native module (Struct's generated formatter included)."""
    with monkeypatch.context() as m:
        m.setattr(_javatext, "NATIVE", None)
        return java_text_py(value)


_ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=2)), None]
_moments = (
    st.datetimes(
        min_value=dt.datetime(1, 1, 1, 12),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from(_ZONES[:2]) | st.none(),
    )
    | st.dates()
    | st.times(timezones=st.sampled_from(_ZONES[:2]) | st.none())
)
_field_values = st.recursive(
    _scalars | _moments,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


def _struct_of(values: list[object], nested: Struct | None) -> Struct:
    """A Struct whose fields hold `values` as they are (the spelling reads, never checks)."""
    builder = SchemaBuilder.struct()
    for i in range(len(values)):
        builder.field(f"f{i}", Schema.OPTIONAL_STRING)
    if nested is not None:
        builder.field("nested", nested.schema)
    schema = builder.build()
    return Struct._trusted(schema, [*values, *([nested] if nested is not None else [])])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_field_values, max_size=5),
    st.lists(_field_values, max_size=3),
    st.booleans(),
    st.sampled_from([(True, "UTC"), (True, "GMT"), (False, "")]),
)
def test_native_structs_and_dates_are_spelled_as_python_spells_them(
    outer: list[object],
    inner: list[object],
    nest: bool,
    local_zone: tuple[bool, str],
) -> None:
    if _javatext.NATIVE is None:
        pytest.skip("the native module is not built (KCONNECT_NATIVE=off)")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_javatext, "_LOCAL_ZONE_IS_UTC", local_zone[0])
        m.setattr(_javatext, "_LOCAL_ZONE_NAME", local_zone[1])
        _javatext.configure_native()
        try:
            value = _struct_of(outer, _struct_of(inner, None) if nest else None)
            for spelled in (value, [value, *outer], {"k": value}):
                assert java_text(spelled) == _pure(spelled, m)
            assert java_lines([value, *outer]) == "".join(
                _pure(v, m) + "\n" for v in [value, *outer]
            )
        finally:
            m.undo()
            _javatext.configure_native()


def test_a_struct_whose_values_do_not_match_its_schema_raises(
    spell: Callable[[object], str],
) -> None:
    schema = SchemaBuilder.struct().field("a", Schema.INT32).field("b", Schema.INT32).build()
    broken = Struct._trusted(schema, [1])
    with pytest.raises((TypeError, ValueError)):
        spell(broken)
