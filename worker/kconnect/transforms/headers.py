"""InsertHeader and DropHeaders: add a fixed header to every record, or remove headers by name.

Kafka Connect's `org.apache.kafka.connect.transforms.InsertHeader` and `DropHeaders`, with the
same keys. Neither touches the key, value, topic or timestamp; both give the record a new header
list rather than changing the one it has.

`InsertHeader` appends a header (an existing header of the same name stays: Kafka headers may
repeat). Its `value.literal` is read once, at configuration, as Kafka's `Values.parseString`
reads text, so the header gets a schema as well as a value:

| text                                  | schema                                | value     |
|---------------------------------------|---------------------------------------|-----------|
| empty                                 | STRING                                | `""`      |
| `null`                                | none                                  | None      |
| `true`, `false` (exactly)             | BOOLEAN                               | bool      |
| `2024-03-01`                          | Date                                  | date      |
| `10:15:30.000Z`                       | Time                                  | time      |
| `2024-03-01T10:15:30.000Z`            | Timestamp                             | datetime  |
| an integer (`42`, `-7`, `1.0`, `1e3`) | the smallest of INT8 .. INT64 for it  | int       |
| a larger integer                      | Decimal of scale 0                    | Decimal   |
| a number with a fraction (`2.5`)      | FLOAT32, or FLOAT64 beyond its range  | float     |
| anything else                         | STRING                                | the text  |

Surrounding white space is trimmed first, as Kafka's config parsing trims it. Text in Java's
array and map syntax (`[1,2]`, `{"a":1}`) is kept as a STRING here, where Java would parse it
into an ARRAY or MAP header.

`DropHeaders` removes every header whose name is in `headers`.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Mapping
from typing import TypeVar

from pydantic import Field, field_validator

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Transformation, TransformConfig
from kconnect.config.connector import split_list
from kconnect.data._javatext import to_float32
from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import Schema, SchemaAndValue
from kconnect.transforms._datefmt import PatternError, compile_pattern
from kconnect.transforms._part import copy_headers, with_headers

R = TypeVar("R", bound=ConnectRecord)

# Java's BigDecimal syntax: an optional sign, digits with an optional point, an exponent.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INT_SCHEMAS = (
    (Schema.INT8, 2**7),
    (Schema.INT16, 2**15),
    (Schema.INT32, 2**31),
    (Schema.INT64, 2**63),
)
# Values.parseString's ISO 8601 forms, told apart by length as Java tells them.
_DATE_FORMAT = compile_pattern("yyyy-MM-dd")
_TIME_FORMAT = compile_pattern("HH:mm:ss.SSS'Z'")
_TIMESTAMP_FORMAT = compile_pattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
_MS_PER_DAY = 86_400_000
# The single-token literals, compared exactly (Java's are case-sensitive).
_LITERALS = {
    "null": SchemaAndValue(None, None),
    "true": SchemaAndValue(Schema.BOOLEAN, True),
    "false": SchemaAndValue(Schema.BOOLEAN, False),
}


def parse_literal(text: str) -> SchemaAndValue:
    """The schema and value Kafka's `Values.parseString` gives a scalar text (see the module)."""
    if not text:
        return SchemaAndValue(Schema.STRING, text)
    trimmed = text.strip()
    literal = _LITERALS.get(trimmed)
    if literal is not None:
        return literal
    if not trimmed:
        return SchemaAndValue(Schema.STRING, text)
    if trimmed[0].isascii() and trimmed[0].isdigit():
        temporal = _parse_temporal(trimmed)
        if temporal is not None:
            return temporal
    if (trimmed[0] in "+-" or trimmed[0].isdigit()) and _NUMBER.fullmatch(trimmed):
        return _parse_number(trimmed)
    return SchemaAndValue(Schema.STRING, text)


def _parse_temporal(token: str) -> SchemaAndValue | None:
    try:
        if len(token) == 13:
            millis = _TIME_FORMAT.parse(token)
            return SchemaAndValue(Time.SCHEMA, Time.to_logical(Time.SCHEMA, millis % _MS_PER_DAY))
        if len(token) == 24:
            millis = _TIMESTAMP_FORMAT.parse(token)
            return SchemaAndValue(Timestamp.SCHEMA, Timestamp.to_logical(Timestamp.SCHEMA, millis))
        if len(token) == 10:
            millis = _DATE_FORMAT.parse(token)
            return SchemaAndValue(Date.SCHEMA, Date.to_logical(Date.SCHEMA, millis // _MS_PER_DAY))
    except PatternError:
        return None
    return None


def _parse_number(token: str) -> SchemaAndValue:
    number = decimal.Decimal(token)
    if number == number.to_integral_value():
        integer = int(number)
        for schema, bound in _INT_SCHEMAS:
            if -bound <= integer < bound:
                return SchemaAndValue(schema, integer)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    scale = -exponent
    if scale != 0:
        as_double = float(number)
        try:
            as_float = to_float32(as_double)
        except OverflowError:
            as_float = math.inf
        if math.isfinite(as_float):
            return SchemaAndValue(Schema.FLOAT32, as_float)
        if math.isfinite(as_double):
            return SchemaAndValue(Schema.FLOAT64, as_double)
    return SchemaAndValue(Decimal.schema(scale), number)


class InsertHeaderConfig(TransformConfig):
    header: str = Field(
        alias="header",
        description="The name of the header.",
        json_schema_extra={"importance": "HIGH"},
    )
    value_literal: str = Field(
        alias="value.literal",
        description="The literal value that is to be set as the header value on all records.",
        json_schema_extra={"importance": "HIGH"},
    )


class InsertHeader(Transformation[R]):
    """Add a header to each record."""

    config_model = InsertHeaderConfig

    def __init__(self) -> None:
        self._header = ""
        self._literal = SchemaAndValue(Schema.STRING, "")

    def configure(self, configs: Mapping[str, str]) -> None:
        config = InsertHeaderConfig.parse(configs)
        self._header = config.header
        self._literal = parse_literal(config.value_literal)

    def apply(self, record: R) -> R:
        headers = copy_headers(record)
        headers.add(self._header, self._literal.value, self._literal.schema)
        return with_headers(record, headers)


class DropHeadersConfig(TransformConfig):
    headers: str = Field(
        alias="headers",
        description="The name of the headers to be removed.",
        json_schema_extra={"importance": "HIGH", "type": "LIST"},
    )

    @field_validator("headers")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not split_list(value):
            raise ValueError("expected a comma-separated list of at least one header name")
        return value

    def header_names(self) -> frozenset[str]:
        return frozenset(split_list(self.headers))


class DropHeaders(Transformation[R]):
    """Remove the headers with the configured names from each record."""

    config_model = DropHeadersConfig

    def __init__(self) -> None:
        self._names: frozenset[str] = frozenset()

    def configure(self, configs: Mapping[str, str]) -> None:
        self._names = DropHeadersConfig.parse(configs).header_names()

    def apply(self, record: R) -> R:
        headers = copy_headers(record)
        for name in self._names:
            headers.remove(name)
        return with_headers(record, headers)
