"""Converters between Connect data and the bytes in Kafka, compatible with Kafka Connect's.

- `json.JsonConverter`: the `schemas.enable` envelope, byte-compatible with Java's.
- `string.StringConverter`: text in a configurable encoding.
- `bytearray.ByteArrayConverter`: bytes passed through.
- `header.SimpleHeaderConverter`: the default header converter.

Every converter accepts `converter.type` (key, value or header), as the worker passes it.
"""
