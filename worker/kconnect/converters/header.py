"""SimpleHeaderConverter: `org.apache.kafka.connect.storage.SimpleHeaderConverter`, the default.

Writing: a header value becomes UTF-8 text as Java's `Values.convertToString` prints it: strings
as they are, integers in decimal, floats as Java's `Double.toString` (`Float.toString` when the
schema is FLOAT32), `true`/`false`, bytes as base64, Decimal as `BigDecimal.toString`, lists as
`[a,b]` and maps and structs as `{"k":v}` with embedded strings quoted, dates `yyyy-MM-dd`,
times `HH:mm:ss.SSSZ` and timestamps `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC). None writes no bytes.

Reading infers the schema as Java's `Values.parseString` does for scalars: empty text is an empty
STRING; `true`/`false` (any case) is BOOLEAN; an integer is the smallest of INT8, INT16, INT32,
INT64 that holds it (a number with only zeros after the point counts as an integer, as in Java),
larger integers a Decimal of scale 0; a number with a fraction is FLOAT32 when it is within
float range, else FLOAT64; anything else is the STRING as written. Bytes that are not UTF-8
text (a binary header) are read as BYTES, unchanged; Java decodes them with U+FFFD replacement
characters into a STRING, which loses the bytes. Simplified against Java:
lists, maps, quoted strings and ISO dates/times in header text are read back as STRING rather
than parsed into ARRAY, MAP or the temporal logical types.
"""

from __future__ import annotations

import decimal
import logging
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from kconnect.api.converter import Converter, HeaderConverter
from kconnect.converters._config import get_converter_type
from kconnect.data._javatext import java_float_str, java_to_string, to_float32
from kconnect.data.logical import Decimal
from kconnect.data.schema import Schema, SchemaAndValue, Type
from kconnect.errors import DataError

if TYPE_CHECKING:
    from kconnect.api.records import Headers

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INT_SCHEMAS = (
    (Schema.INT8, 2**7),
    (Schema.INT16, 2**15),
    (Schema.INT32, 2**31),
    (Schema.INT64, 2**63),
)
_TRUE = SchemaAndValue(Schema.BOOLEAN, True)
_FALSE = SchemaAndValue(Schema.BOOLEAN, False)


def parse_string(text: str) -> SchemaAndValue:
    """The schema and value Java's `Values.parseString` infers for scalar text."""
    if not text:
        return SchemaAndValue(Schema.STRING, text)
    token = text.strip()
    lowered = token.lower()
    if lowered == "true":
        return _TRUE
    if lowered == "false":
        return _FALSE
    if token and (token[0].isdigit() or token[0] == "-") and _NUMBER.fullmatch(token):
        return _parse_number(token)
    return SchemaAndValue(Schema.STRING, text)


def _parse_number(token: str) -> SchemaAndValue:
    d = decimal.Decimal(token)
    if d == d.to_integral_value():
        n = int(d)
        for schema, bound in _INT_SCHEMAS:
            if -bound <= n < bound:
                return SchemaAndValue(schema, n)
        return SchemaAndValue(Decimal.schema(0), decimal.Decimal(n))
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)
    as_double = float(d)
    try:
        if math.isfinite(to_float32(as_double)):
            return SchemaAndValue(Schema.FLOAT32, to_float32(as_double))
    except OverflowError:
        pass
    if math.isfinite(as_double):
        return SchemaAndValue(Schema.FLOAT64, as_double)
    return SchemaAndValue(Decimal.schema(max(0, -exponent)), d)


class SimpleHeaderConverter(HeaderConverter, Converter):
    def configure(self, configs: Mapping[str, str], is_key: bool = False) -> None:
        get_converter_type(configs)

    def from_connect_header(
        self, topic: str, header_key: str, schema: Schema | None, value: object
    ) -> bytes | None:
        if value is None:
            return None
        if type(value) is str:
            text = value
        elif isinstance(value, float) and schema is not None and schema.type is Type.FLOAT32:
            text = java_float_str(value)
        else:
            text = java_to_string(value)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(
                f"header {header_key!r} on topic {topic!r} holds text UTF-8 cannot encode"
            ) from None

    def to_connect_header(self, topic: str, header_key: str, value: bytes | None) -> SchemaAndValue:
        if value is None:
            return SchemaAndValue(None, None)
        raw = bytes(value)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            # Binary data (a tracing id, a hash, a serialized object) is a header like any other:
            # it is kept as it was written.
            log.debug(
                "header %r on topic %r is not UTF-8 text (bad byte at offset %d): kept as BYTES",
                header_key,
                topic,
                e.start,
            )
            return SchemaAndValue(Schema.BYTES, raw)
        return parse_string(text)

    # Usable as a record converter too, as Java's class is.
    def from_connect_data(
        self, topic: str, schema: Schema | None, value: object, headers: Headers | None = None
    ) -> bytes | None:
        return self.from_connect_header(topic, "", schema, value)

    def to_connect_data(
        self, topic: str, value: bytes | None, headers: Headers | None = None
    ) -> SchemaAndValue:
        return self.to_connect_header(topic, "", value)
