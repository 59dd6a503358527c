"""A transform written by a user, as `docs/transforms.md` describes it, and found as a plugin."""

from collections.abc import Mapping
from importlib.metadata import EntryPoint

import pytest
from pydantic import Field

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Transformation, TransformConfig
from kconnect.errors import ConfigError, DataError
from kconnect.herder.validation import validate_config
from kconnect.plugins.chain import build_chain
from kconnect.plugins.registry import ENTRY_POINT_GROUP, PluginKind, PluginRegistry
from tests.unit.transforms.fieldhelpers import applied, sink


class UpperCaseConfig(TransformConfig):
    field: str = Field(alias="field", min_length=1, description="The field to upper-case.")
    strict: bool = Field(False, alias="strict", description="Fail when the field is missing.")


class UpperCase(Transformation[ConnectRecord]):
    """Upper-cases one string field of a schemaless value."""

    config_model = UpperCaseConfig

    def configure(self, configs: Mapping[str, str]) -> None:
        config = UpperCaseConfig.parse(configs)
        self.field = config.field
        self.strict = config.strict

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        if not isinstance(record.value, dict):
            raise DataError(f"UpperCase needs a map value, found {type(record.value).__name__}")
        if self.field not in record.value:
            if self.strict:
                raise DataError(f"UpperCase: the value has no field {self.field!r}")
            return record
        value = {**record.value, self.field: str(record.value[self.field]).upper()}
        return record.new_record(
            record.topic,
            record.kafka_partition,
            record.key_schema,
            record.key,
            record.value_schema,
            value,
            record.timestamp,
        )


class NeedsEven(Transformation[ConnectRecord]):
    """Checks its config in code rather than in a model."""

    def configure(self, configs: Mapping[str, str]) -> None:
        if int(configs.get("n", "0")) % 2:
            raise ConfigError(
                f"invalid value {configs['n']!r} for key 'n': expected an even number"
            )

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        return record


def registry() -> PluginRegistry:
    return PluginRegistry(
        [
            EntryPoint(name="UpperCase", value=f"{__name__}:UpperCase", group=ENTRY_POINT_GROUP),
            EntryPoint(name="NeedsEven", value=f"{__name__}:NeedsEven", group=ENTRY_POINT_GROUP),
        ]
    )


def test_entry_point_is_found_and_listed() -> None:
    plugins = registry()
    assert plugins.resolve("UpperCase") is UpperCase
    listed = {d.cls: d for d in plugins.plugins()}
    assert listed[UpperCase].kinds == (PluginKind.TRANSFORMATION,)
    assert listed[UpperCase].class_name == f"{__name__}.UpperCase"


def test_entry_point_transform_runs_in_a_chain() -> None:
    chain = build_chain(
        registry(),
        {"transforms": "up", "transforms.up.type": "UpperCase", "transforms.up.field": "name"},
    )
    out = chain.apply(sink({"name": "ada", "id": 1}))
    assert out is not None
    assert out.value == {"name": "ADA", "id": 1}
    assert chain.stages[0].class_name == f"{__name__}.UpperCase"


@pytest.mark.parametrize("path", [f"{__name__}:UpperCase", f"{__name__}.UpperCase"])
def test_dotted_path_needs_no_entry_point(path: str) -> None:
    chain = build_chain(
        PluginRegistry([]),
        {"transforms": "up", "transforms.up.type": path, "transforms.up.field": "name"},
    )
    out = chain.apply(sink({"name": "ada"}))
    assert out is not None
    assert out.value == {"name": "ADA"}


def test_user_transform_errors() -> None:
    with pytest.raises(ConfigError, match=r"^transforms\.up: missing required key 'field'$"):
        build_chain(registry(), {"transforms": "up", "transforms.up.type": "UpperCase"})
    t = UpperCase()
    t.configure({"field": "name", "strict": "true"})
    with pytest.raises(DataError, match=r"^UpperCase: the value has no field 'name'$"):
        applied(t, sink({"id": 1}))


def test_user_transform_is_validated_with_its_model_and_its_code() -> None:
    infos = validate_config(
        registry(),
        {},
        {
            "name": "src",
            "connector.class": "kconnect.connectors.file:FileStreamSourceConnector",
            "topic": "t",
            "transforms": "up,even",
            "transforms.up.type": "UpperCase",
            "transforms.up.strict": "very",
            "transforms.even.type": "NeedsEven",
            "transforms.even.n": "3",
        },
    )
    found = {c.value.name: c.value.errors for c in infos.configs if c.value.errors}
    assert found == {
        "transforms.up.field": ["missing required key 'transforms.up.field'"],
        "transforms.up.strict": [
            "invalid value 'very' for key 'transforms.up.strict': expected true or false"
        ],
        "transforms.even.type": ["invalid value '3' for key 'n': expected an even number"],
    }
    up_keys = [c.definition.name for c in infos.configs if c.definition.group == "Transforms: up"]
    assert up_keys == [
        "transforms.up.type",
        "transforms.up.predicate",
        "transforms.up.negate",
        "transforms.up.field",
        "transforms.up.strict",
    ]
