"""Kafka Connect's data model: schemas, structs, logical types, and value checks.

`kconnect.data.schema` holds the types; `kconnect.data.logical` the logical types (Decimal,
Date, Time, Timestamp) with Java's names and encodings.
"""

from kconnect.data.logical import Date, Decimal, Time, Timestamp
from kconnect.data.schema import (
    Field,
    Schema,
    SchemaAndValue,
    SchemaBuilder,
    Struct,
    Type,
    validate_value,
)

__all__ = [
    "Date",
    "Decimal",
    "Field",
    "Schema",
    "SchemaAndValue",
    "SchemaBuilder",
    "Struct",
    "Time",
    "Timestamp",
    "Type",
    "validate_value",
]
