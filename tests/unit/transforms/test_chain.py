import pytest

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Predicate, Transformation
from kconnect.errors import ConfigError
from kconnect.plugins.chain import build_chain
from kconnect.plugins.registry import PluginRegistry
from kconnect.transforms.cast import CastKey, CastValue
from kconnect.transforms.chain import PredicateSpec, TransformSpec, parse_chain_spec
from kconnect.transforms.extract_field import ExtractFieldKey, ExtractFieldValue
from kconnect.transforms.flatten import FlattenKey, FlattenValue
from kconnect.transforms.hoist_field import HoistFieldKey, HoistFieldValue
from kconnect.transforms.insert_field import InsertFieldKey, InsertFieldValue
from kconnect.transforms.mask_field import MaskFieldKey, MaskFieldValue
from kconnect.transforms.replace_field import ReplaceFieldKey, ReplaceFieldValue
from kconnect.transforms.value_to_key import ValueToKey
from tests.unit.transforms.fieldhelpers import STARTS_WITH, TopicStartsWith, sink

REGISTRY = PluginRegistry()
JAVA = "org.apache.kafka.connect.transforms."


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("InsertField$Key", InsertFieldKey),
        ("InsertField$Value", InsertFieldValue),
        ("ReplaceField$Key", ReplaceFieldKey),
        ("ReplaceField$Value", ReplaceFieldValue),
        ("MaskField$Key", MaskFieldKey),
        ("MaskField$Value", MaskFieldValue),
        ("ValueToKey", ValueToKey),
        ("ExtractField$Key", ExtractFieldKey),
        ("ExtractField$Value", ExtractFieldValue),
        ("HoistField$Key", HoistFieldKey),
        ("HoistField$Value", HoistFieldValue),
        ("Cast$Key", CastKey),
        ("Cast$Value", CastValue),
        ("Flatten$Key", FlattenKey),
        ("Flatten$Value", FlattenValue),
    ],
)
def test_java_names_resolve_to_the_transforms(name: str, cls: type) -> None:
    assert REGISTRY.resolve(JAVA + name) is cls
    assert REGISTRY.resolve(name) is cls
    assert REGISTRY.resolve_as(JAVA + name, Transformation, "transforms.t.type") is cls
    assert REGISTRY.display_name(cls) == JAVA + name


def test_a_transform_is_not_a_predicate() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^invalid value 'org\.apache\.kafka\.connect\.transforms\.MaskField\$Value' for "
        r"key 'predicates\.p\.type': .* is not a Predicate$",
    ):
        REGISTRY.resolve_as(JAVA + "MaskField$Value", Predicate, "predicates.p.type")


def test_parse_a_full_chain() -> None:
    spec, errors = parse_chain_spec(
        {
            "transforms": "mask, insert",
            "transforms.mask.type": JAVA + "MaskField$Value",
            "transforms.mask.fields": "ssn",
            "transforms.mask.predicate": "isOrders",
            "transforms.mask.negate": "TRUE",
            "transforms.insert.type": "InsertField$Value",
            "transforms.insert.topic.field": "topic",
            "predicates": "isOrders",
            "predicates.isOrders.type": STARTS_WITH,
            "predicates.isOrders.prefix": "ord",
            "unrelated": "x",
        }
    )
    assert errors == {}
    assert spec.transforms == (
        TransformSpec("mask", JAVA + "MaskField$Value", {"fields": "ssn"}, "isOrders", True),
        TransformSpec("insert", "InsertField$Value", {"topic.field": "topic"}, None, False),
    )
    assert spec.predicates == (PredicateSpec("isOrders", STARTS_WITH, {"prefix": "ord"}),)


def test_parse_errors_name_the_key() -> None:
    _, errors = parse_chain_spec(
        {
            "transforms": "notype,badnegate,unknownpred,lonenegate",
            "transforms.badnegate.type": "Flatten$Value",
            "transforms.badnegate.negate": "yes",
            "transforms.unknownpred.type": "Flatten$Value",
            "transforms.unknownpred.predicate": "nope",
            "transforms.lonenegate.type": "Flatten$Value",
            "transforms.lonenegate.negate": "true",
            "predicates": "p,p",
        }
    )
    assert errors == {
        "predicates": [
            "Invalid value 'p,p' for configuration predicates: Duplicate alias provided."
        ],
        "transforms.notype.type": [
            'Missing required configuration "transforms.notype.type" which has no default value.'
        ],
        "transforms.badnegate.negate": [
            "Invalid value 'yes' for configuration transforms.badnegate.negate: Expected value "
            "to be either true or false"
        ],
        "transforms.unknownpred.predicate": [
            "Invalid value 'nope' for configuration transforms.unknownpred.predicate: expected "
            "one of the aliases in 'predicates' (none)"
        ],
        "transforms.lonenegate.negate": [
            "transforms.lonenegate.negate=true has no effect without "
            "transforms.lonenegate.predicate"
        ],
    }


def test_duplicate_transform_alias() -> None:
    _, errors = parse_chain_spec({"transforms": "a,b,a", "transforms.a.type": "Flatten$Value"})
    assert errors == {
        "transforms": [
            "Invalid value 'a,b,a' for configuration transforms: Duplicate alias provided."
        ]
    }


def test_missing_predicate_type() -> None:
    _, errors = parse_chain_spec({"predicates": "p"})
    assert errors == {
        "predicates.p.type": [
            'Missing required configuration "predicates.p.type" which has no default value.'
        ]
    }


CHAIN = {
    "transforms": "hoist,insert",
    "transforms.hoist.type": JAVA + "HoistField$Value",
    "transforms.hoist.field": "payload",
    "transforms.insert.type": JAVA + "InsertField$Value",
    "transforms.insert.static.field": "tagged",
    "transforms.insert.static.value": "yes",
    "transforms.insert.predicate": "orders",
    "predicates": "orders",
    "predicates.orders.type": STARTS_WITH,
    "predicates.orders.prefix": "ord",
}


def test_build_chain_applies_stages_in_order_with_a_predicate() -> None:
    chain = build_chain(REGISTRY, CHAIN)
    assert [(s.alias, s.class_name) for s in chain.stages] == [
        ("hoist", JAVA + "HoistField$Value"),
        ("insert", JAVA + "InsertField$Value"),
    ]
    matching = chain.apply(sink("v"))  # topic "orders"
    assert matching is not None
    assert matching.value == {"payload": "v", "tagged": "yes"}
    other = sink("v")
    other.topic = "customers"
    not_matching = chain.apply(other)
    assert not_matching is not None
    assert not_matching.value == {"payload": "v"}


def test_build_chain_with_negate_applies_to_the_other_records() -> None:
    chain = build_chain(REGISTRY, {**CHAIN, "transforms.insert.negate": "true"})
    matching = chain.apply(sink("v"))
    assert matching is not None
    assert matching.value == {"payload": "v"}
    other = sink("v")
    other.topic = "customers"
    not_matching = chain.apply(other)
    assert not_matching is not None
    assert not_matching.value == {"payload": "v", "tagged": "yes"}


def test_each_stage_is_applied_as_the_runtime_applies_it() -> None:
    # The runtime calls `stage.apply` per stage; guarded or not, it equals the chain's result.
    chain = build_chain(REGISTRY, CHAIN)
    for topic in ("orders", "customers"):
        record = sink("v")
        record.topic = topic
        current: ConnectRecord | None = record
        for stage in chain.stages:
            assert current is not None
            current = stage.apply(current)
        assert current == chain.apply(record)
    unguarded, guarded = chain.stages
    assert unguarded.predicate is None
    assert unguarded.apply == unguarded.transformation.apply
    assert guarded.predicate is not None
    skipped = sink("v")
    skipped.topic = "customers"
    assert guarded.apply(skipped) is skipped


def test_a_predicate_is_shared_and_closed_once() -> None:
    before = TopicStartsWith.closed
    chain = build_chain(
        REGISTRY,
        {
            **CHAIN,
            "transforms": "hoist,insert,flat",
            "transforms.flat.type": "Flatten$Value",
            "transforms.flat.predicate": "orders",
        },
    )
    stages = {s.alias: s for s in chain.stages}
    assert stages["insert"].predicate is stages["flat"].predicate
    chain.close()
    assert TopicStartsWith.closed == before + 1


def test_empty_chain_is_falsy() -> None:
    assert not build_chain(REGISTRY, {})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"transforms": "t"},
            r'^transforms\.t\.type: Missing required configuration "transforms\.t\.type"',
        ),
        (
            {"transforms": "t", "transforms.t.type": "NoSuchTransform"},
            r"^invalid value 'NoSuchTransform' for key 'transforms\.t\.type': unknown plugin",
        ),
        (
            {"transforms": "t", "transforms.t.type": JAVA + "MaskField$Value"},
            r"^transforms\.t: missing required key 'fields'$",
        ),
        (
            {
                "transforms": "t",
                "transforms.t.type": JAVA + "Cast$Value",
                "transforms.t.spec": "a:bytes",
            },
            r"^transforms\.t: invalid value 'a:bytes' for key 'spec': Cast transformation does "
            r"not support casting to bytes",
        ),
    ],
)
def test_build_chain_errors_name_the_key(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_chain(REGISTRY, props)
