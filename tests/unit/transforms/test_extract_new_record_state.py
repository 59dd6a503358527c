"""ExtractNewRecordState against the behaviour Debezium documents for its event flattening SMT
(the mode table, `__deleted`, `add.fields` naming, routing), on Debezium-shaped envelopes."""

from __future__ import annotations

import pytest

from kconnect.api.records import Headers, SinkRecord
from kconnect.data.schema import Schema, SchemaBuilder, Struct
from kconnect.errors import ConfigError
from kconnect.transforms.extract_new_record_state import ExtractNewRecordState
from tests.unit.transforms.fieldhelpers import configured

ROW = (
    SchemaBuilder.struct()
    .name("db.public.users.Value")
    .optional()
    .field("id", Schema.INT32)
    .field("name", Schema.OPTIONAL_STRING)
    .field("dest", Schema.OPTIONAL_STRING)
    .build()
)
SOURCE = (
    SchemaBuilder.struct()
    .name("io.debezium.connector.postgresql.Source")
    .field("version", Schema.STRING)
    .field("db", Schema.STRING)
    .field("table", Schema.STRING)
    .field("lsn", Schema.OPTIONAL_INT64)
    .field("ts_ms", Schema.INT64)
    .build()
)
TRANSACTION = (
    SchemaBuilder.struct()
    .name("event.block")
    .optional()
    .field("id", Schema.STRING)
    .field("total_order", Schema.INT64)
    .field("data_collection_order", Schema.INT64)
    .build()
)
ENVELOPE = (
    SchemaBuilder.struct()
    .name("db.public.users.Envelope")
    .field("before", ROW)
    .field("after", ROW)
    .field("source", SOURCE)
    .field("transaction", TRANSACTION)
    .field("op", Schema.STRING)
    .field("ts_ms", Schema.OPTIONAL_INT64)
    .build()
)
KEY = SchemaBuilder.struct().name("db.public.users.Key").field("id", Schema.INT32).build()


def row(i: int, name: str, dest: str | None = None) -> Struct:
    return Struct(ROW).put("id", i).put("name", name).put("dest", dest)


def event(op: str, before: Struct | None, after: Struct | None) -> SinkRecord:
    source = (
        Struct(SOURCE)
        .put("version", "3.1.0.Final")
        .put("db", "db")
        .put("table", "users")
        .put("lsn", 1234)
        .put("ts_ms", 111)
    )
    value = (
        Struct(ENVELOPE)
        .put("before", before)
        .put("after", after)
        .put("source", source)
        .put("op", op)
        .put("ts_ms", 222)
    )
    key = Struct(KEY).put("id", (after or before).get("id") if (after or before) else 0)
    return SinkRecord(
        "db.public.users", 0, 5, value, value_schema=ENVELOPE, key=key, key_schema=KEY
    )


def tombstone() -> SinkRecord:
    return SinkRecord("db.public.users", 0, 6, None, key=Struct(KEY).put("id", 1), key_schema=KEY)


def unwrap(props: dict[str, str] | None = None) -> ExtractNewRecordState[SinkRecord]:
    return configured(ExtractNewRecordState[SinkRecord], props or {})


def test_create_and_update_become_the_after_row() -> None:
    t = unwrap()
    out = t.apply(event("c", None, row(1, "ann")))
    assert out is not None
    assert out.value == row(1, "ann")
    assert out.value_schema is ROW
    assert out.key == Struct(KEY).put("id", 1)
    assert out.topic == "db.public.users"
    updated = t.apply(event("u", row(1, "ann"), row(1, "bob")))
    assert updated is not None
    assert updated.value == row(1, "bob")


@pytest.mark.parametrize(
    ("mode", "delete_is", "tombstone_kept"),
    [
        ("drop", "dropped", False),
        ("tombstone", "null", False),
        ("rewrite", "rewritten", False),
        ("rewrite-with-tombstone", "rewritten", True),
        ("delete-to-tombstone", "tombstone", False),
    ],
)
def test_delete_tombstone_handling_modes(mode: str, delete_is: str, tombstone_kept: bool) -> None:
    t = unwrap({"delete.tombstone.handling.mode": mode})
    deleted = t.apply(event("d", row(1, "ann"), None))
    if delete_is == "dropped":
        assert deleted is None
    elif delete_is == "null":
        assert deleted is not None
        assert deleted.value is None
        assert deleted.value_schema is ROW  # the `after` field's schema, as ExtractField gives
    elif delete_is == "tombstone":
        assert deleted is not None
        assert deleted.value is None
        assert deleted.value_schema is None
    else:
        assert deleted is not None
        assert isinstance(deleted.value, Struct)
        assert deleted.value.get("id") == 1
        assert deleted.value.get("__deleted") == "true"
    assert (t.apply(tombstone()) is not None) is tombstone_kept


def test_rewrite_marks_rows_not_deleted() -> None:
    t = unwrap({"delete.tombstone.handling.mode": "rewrite"})
    out = t.apply(event("c", None, row(1, "ann")))
    assert out is not None
    assert isinstance(out.value, Struct)
    assert [f.name for f in out.value.schema.fields] == ["id", "name", "dest", "__deleted"]
    assert out.value.get("__deleted") == "false"
    assert out.value.schema.field("__deleted").schema == Schema.OPTIONAL_STRING  # type: ignore[union-attr]


def test_legacy_keys() -> None:
    # Debezium 2.x defaults: drop the tombstone, drop the delete.
    t = unwrap({"drop.tombstones": "true"})
    assert t.apply(tombstone()) is None
    assert t.apply(event("d", row(1, "a"), None)) is None
    kept = unwrap({"drop.tombstones": "false", "delete.handling.mode": "none"})
    assert kept.apply(tombstone()) is not None
    deleted = kept.apply(event("d", row(1, "a"), None))
    assert deleted is not None
    assert deleted.value is None
    rewrite = unwrap({"delete.handling.mode": "rewrite"})
    out = rewrite.apply(event("d", row(1, "a"), None))
    assert out is not None
    assert out.value.get("__deleted") == "true"
    # The new key wins over the old ones.
    both = unwrap({"delete.handling.mode": "rewrite", "delete.tombstone.handling.mode": "drop"})
    assert both.apply(event("d", row(1, "a"), None)) is None


def test_add_fields_names_and_values() -> None:
    t = unwrap({"add.fields": "op,table,lsn,source.ts_ms,ts_ms,db:database,id,missing"})
    out = t.apply(event("u", row(1, "a"), row(1, "b")))
    assert out is not None
    assert isinstance(out.value, Struct)
    names = [f.name for f in out.value.schema.fields]
    assert names == [
        "id",
        "name",
        "dest",
        "__op",
        "__table",
        "__lsn",
        "__source_ts_ms",
        "__ts_ms",
        "__database",
        "__id",
    ]
    v = out.value
    assert (v.get("__op"), v.get("__table"), v.get("__lsn")) == ("u", "users", 1234)
    assert (v.get("__source_ts_ms"), v.get("__ts_ms"), v.get("__database")) == (111, 222, "db")
    assert v.get("__id") is None  # no transaction block: null, the field kept
    assert all(f.schema.optional for f in v.schema.fields[3:])


def test_add_fields_prefix_and_rewrite_order() -> None:
    t = unwrap(
        {
            "add.fields": "op",
            "add.fields.prefix": "cdc_",
            "delete.tombstone.handling.mode": "rewrite",
        }
    )
    out = t.apply(event("d", row(1, "a"), None))
    assert out is not None
    assert isinstance(out.value, Struct)
    assert [f.name for f in out.value.schema.fields][-2:] == ["__deleted", "cdc_op"]
    assert out.value.get("cdc_op") == "d"


def test_add_headers() -> None:
    t = unwrap({"add.headers": "op,source.table", "add.headers.prefix": "x_"})
    out = t.apply(event("c", None, row(1, "a")))
    assert out is not None
    assert [(h.key, h.value) for h in out.headers] == [("x_op", "c"), ("x_source_table", "users")]
    kept = unwrap({"add.headers": "op", "delete.tombstone.handling.mode": "rewrite-with-tombstone"})
    stone = kept.apply(tombstone())
    assert stone is not None
    assert [(h.key, h.value) for h in stone.headers] == [("__op", "d")]


def test_route_by_field() -> None:
    t = unwrap({"route.by.field": "dest", "delete.tombstone.handling.mode": "rewrite"})
    routed = t.apply(event("c", None, row(1, "a", "people")))
    assert routed is not None
    assert routed.topic == "people"
    deleted = t.apply(event("d", row(1, "a", "gone"), None))
    assert deleted is not None
    assert deleted.topic == "gone"
    unrouted = t.apply(event("c", None, row(1, "a", None)))
    assert unrouted is not None
    assert unrouted.topic == "db.public.users"


def test_truncate_events_and_non_envelopes() -> None:
    t = unwrap()
    assert t.apply(event("t", None, None)) is None
    plain = SinkRecord("x", 0, 0, "text", value_schema=Schema.STRING)
    assert t.apply(plain) is plain


def test_drop_fields_header() -> None:
    t = unwrap({"drop.fields.header.name": "drop"})
    record = event("u", row(1, "a"), row(1, "b", "d"))
    record.headers = Headers().add("drop", ["name", "id"])
    out = t.apply(record)
    assert out is not None
    assert isinstance(out.value, Struct)
    # Only optional fields go while schemas stay compatible: `id` is required.
    assert [f.name for f in out.value.schema.fields] == ["id", "dest"]


def test_registered_under_the_java_name() -> None:
    from kconnect.plugins.registry import PluginRegistry

    found = PluginRegistry().resolve("io.debezium.transforms.ExtractNewRecordState")
    assert found is ExtractNewRecordState


def test_bad_config() -> None:
    with pytest.raises(ConfigError, match=r"delete\.tombstone\.handling\.mode"):
        unwrap({"delete.tombstone.handling.mode": "explode"})
    with pytest.raises(ConfigError, match="Unexpected field name"):
        unwrap({"add.fields": "a:b:c"})
