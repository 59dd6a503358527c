from kconnect.herder.model import ConfigInfos
from kconnect.herder.validation import validate_config
from kconnect.plugins.registry import PluginRegistry

REGISTRY = PluginRegistry()
JAVA = "org.apache.kafka.connect.transforms."
BASE = {"name": "src", "connector.class": "FileStreamSource", "topic": "t", "file": "/x"}


def errors(infos: ConfigInfos) -> dict[str, list[str]]:
    return {c.value.name: c.value.errors for c in infos.configs if c.value.errors}


def definitions(infos: ConfigInfos, group: str) -> list[tuple[str, str, int, str | None]]:
    return [
        (c.definition.name, c.definition.type, c.definition.order_in_group, c.value.value)
        for c in infos.configs
        if c.definition.group == group
    ]


def test_a_valid_chain_adds_its_keys_under_its_groups() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {
            **BASE,
            "transforms": "mask",
            "transforms.mask.type": JAVA + "MaskField$Value",
            "transforms.mask.fields": "ssn",
            "transforms.mask.predicate": "p",
            "predicates": "p",
            "predicates.p.type": "tests.unit.transforms.fieldhelpers:TopicStartsWith",
            "predicates.p.prefix": "o",
        },
    )
    assert infos.error_count == 0
    assert "Transforms: mask" in infos.groups
    assert "Predicates: p" in infos.groups
    assert definitions(infos, "Transforms: mask") == [
        ("transforms.mask.type", "CLASS", 1, JAVA + "MaskField$Value"),
        ("transforms.mask.predicate", "STRING", 2, "p"),
        ("transforms.mask.negate", "BOOLEAN", 3, "false"),
        ("transforms.mask.fields", "LIST", 4, "ssn"),
        ("transforms.mask.replacement", "STRING", 5, None),
        ("transforms.mask.replace.null.with.default", "BOOLEAN", 6, "true"),
    ]
    assert definitions(infos, "Predicates: p") == [
        ("predicates.p.type", "CLASS", 1, "tests.unit.transforms.fieldhelpers:TopicStartsWith")
    ]
    by_name = {c.definition.name: c.definition for c in infos.configs}
    assert by_name["transforms.mask.type"].required
    assert by_name["transforms.mask.fields"].required
    assert by_name["transforms.mask.fields"].documentation == "Names of fields to mask."


def test_bad_own_keys_are_reported_on_their_full_names() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {
            **BASE,
            "transforms": "mask,cast,ext",
            "transforms.mask.type": JAVA + "MaskField$Value",
            "transforms.cast.type": JAVA + "Cast$Key",
            "transforms.cast.spec": "a:bytes",
            "transforms.cast.replace.null.with.default": "sometimes",
            "transforms.ext.type": "ExtractField$Value",
            "transforms.ext.field": "`a.b",
            "transforms.ext.field.syntax.version": "V2",
        },
    )
    assert errors(infos) == {
        "transforms.mask.fields": ["missing required key 'transforms.mask.fields'"],
        "transforms.cast.spec": [
            "invalid value 'a:bytes' for key 'transforms.cast.spec': Cast transformation does "
            "not support casting to bytes; supported types are int8, int16, int32, int64, "
            "float32, float64, boolean, string"
        ],
        "transforms.cast.replace.null.with.default": [
            "invalid value 'sometimes' for key 'transforms.cast.replace.null.with.default': "
            "expected true or false"
        ],
        "transforms.ext.field": [
            "invalid value '`a.b' for key 'transforms.ext.field': Incomplete backtick pair in "
            "path: [`a.b], consider adding a backslash before backtick at position 0 to escape it"
        ],
    }
    assert infos.error_count == 4


def test_rules_over_several_keys_are_reported_on_the_type() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {**BASE, "transforms": "ins", "transforms.ins.type": JAVA + "InsertField$Value"},
    )
    found = errors(infos)
    assert list(found) == ["transforms.ins.type"]
    assert found["transforms.ins.type"][0].startswith("No field insertion configured")
    assert infos.error_messages()[0].startswith("transforms.ins.type: No field insertion")


def test_types_that_do_not_resolve_or_are_the_wrong_kind() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {
            **BASE,
            "transforms": "a,b",
            "transforms.a.type": "NoSuchTransform",
            "transforms.b.type": "FileStreamSink",
            "predicates": "p",
            "predicates.p.type": JAVA + "Flatten$Value",
        },
    )
    found = errors(infos)
    assert set(found) == {"transforms.a.type", "transforms.b.type", "predicates.p.type"}
    assert found["transforms.a.type"][0].startswith(
        "invalid value 'NoSuchTransform' for key 'transforms.a.type': unknown plugin class"
    )
    assert found["transforms.b.type"][0].endswith("is not a Transformation")
    assert found["predicates.p.type"][0].endswith("is not a Predicate")
    # A group is still listed for each alias, with its implicit keys.
    assert [d[0] for d in definitions(infos, "Transforms: a")] == [
        "transforms.a.type",
        "transforms.a.predicate",
        "transforms.a.negate",
    ]


def test_chain_errors_count() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {
            **BASE,
            "transforms": "a,b",
            "transforms.b.type": JAVA + "Flatten$Value",
            "transforms.b.predicate": "missing",
            "transforms.b.negate": "perhaps",
        },
    )
    assert errors(infos) == {
        "transforms.a.type": [
            'Missing required configuration "transforms.a.type" which has no default value.'
        ],
        "transforms.b.predicate": [
            "Invalid value 'missing' for configuration transforms.b.predicate: expected one of "
            "the aliases in 'predicates' (none)"
        ],
        "transforms.b.negate": [
            "Invalid value 'perhaps' for configuration transforms.b.negate: Expected value to "
            "be either true or false"
        ],
    }
    assert infos.error_count == 3


def test_duplicate_aliases() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {**BASE, "transforms": "a,a", "transforms.a.type": JAVA + "Flatten$Value"},
    )
    assert errors(infos) == {
        "transforms": [
            "Invalid value 'a,a' for configuration transforms: Duplicate alias provided."
        ]
    }
