"""Per-record cost of the Avro codec next to JsonConverter (schemas.enable=true), in-process.

    .venv/bin/python -m bench.avro_codec_timing [--records N]

One 8-field struct (int32, int64, two strings, float64, boolean, optional string, Timestamp)
is encoded and decoded N times by `AvroData`'s compiled encoder/decoder (the body only, no
registry framing) and by `JsonConverter.from_connect_data` / `to_connect_data`; the best of five
rounds is printed in microseconds per record. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import timeit
from collections.abc import Callable

from kconnect.converters.json import JsonConverter
from kconnect.data import Schema, SchemaBuilder, Struct, Timestamp
from kconnect.data.avro import AvroData

SCHEMA = (
    SchemaBuilder.struct()
    .name("com.acme.Event")
    .field("id", Schema.INT32)
    .field("seq", Schema.INT64)
    .field("name", Schema.STRING)
    .field("kind", Schema.STRING)
    .field("score", Schema.FLOAT64)
    .field("ok", Schema.BOOLEAN)
    .field("note", Schema.OPTIONAL_STRING)
    .field("at", Timestamp.SCHEMA)
    .build()
)


def record(i: int) -> Struct:
    s = Struct(SCHEMA)
    s.put("id", i)
    s.put("seq", 1_700_000_000_000 + i)
    s.put("name", f"customer-{i}")
    s.put("kind", "purchase")
    s.put("score", i * 0.5)
    s.put("ok", i % 2 == 0)
    s.put("note", None if i % 3 else f"note {i}")
    s.put("at", dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=i))
    return s


def best_us(fn: Callable[[], object], n: int) -> float:
    return min(timeit.repeat(fn, number=1, repeat=5)) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    n = parser.parse_args().records
    records = [record(i) for i in range(n)]

    json_conv = JsonConverter()
    json_conv.configure({"schemas.enable": "true"})
    json_bytes: list[bytes] = []
    for r in records:
        data = json_conv.from_connect_data("t", SCHEMA, r)
        assert data is not None
        json_bytes.append(data)

    avro = AvroData()
    encode = avro.encoder(SCHEMA)
    _, decode = avro.decoder(avro.from_connect_schema(SCHEMA))
    avro_bytes = [encode(r) for r in records]
    assert [decode(b) for b in avro_bytes] == records

    rows = [
        (
            "json encode",
            best_us(lambda: [json_conv.from_connect_data("t", SCHEMA, r) for r in records], n),
        ),
        ("avro encode", best_us(lambda: [encode(r) for r in records], n)),
        (
            "json decode",
            best_us(lambda: [json_conv.to_connect_data("t", b) for b in json_bytes], n),
        ),
        ("avro decode", best_us(lambda: [decode(b) for b in avro_bytes], n)),
    ]
    for name, us in rows:
        print(f"{name}: {us:.2f} µs/record")
    print(
        f"bytes/record: json {sum(map(len, json_bytes)) / n:.0f}, "
        f"avro {sum(map(len, avro_bytes)) / n:.0f} (+5 for the registry framing)"
    )


if __name__ == "__main__":
    main()
