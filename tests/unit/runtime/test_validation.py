from kconnect.connectors.file import FileStreamSourceConfig
from kconnect.herder.model import ConfigInfos
from kconnect.herder.validation import config_key_infos, validate_config
from kconnect.plugins.registry import PluginRegistry

REGISTRY = PluginRegistry()


def errors(infos: ConfigInfos) -> dict[str, list[str]]:
    return {c.value.name: c.value.errors for c in infos.configs if c.value.errors}


def test_valid_source() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {"name": "a", "connector.class": "FileStreamSource", "topic": "t", "file": "/x"},
    )
    assert infos.error_count == 0
    assert infos.name == "org.apache.kafka.connect.file.FileStreamSourceConnector"
    assert "Common" in infos.groups
    values = {c.value.name: c.value.value for c in infos.configs}
    assert values["batch.size"] == "2000"
    assert values["tasks.max"] == "1"


def test_every_problem_is_reported_on_its_key() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {
            "connector.class": "FileStreamSource",
            "tasks.max": "0",
            "batch.size": "big",
            "value.converter": "NoSuchConverter",
        },
    )
    found = errors(infos)
    assert set(found) == {"name", "tasks.max", "batch.size", "topic", "value.converter"}
    assert infos.error_count == 5
    assert "at least 1" in found["tasks.max"][0]


def test_sink_needs_exactly_one_of_topics_and_regex() -> None:
    base = {"name": "s", "connector.class": "FileStreamSink"}
    # As Kafka Connect: the rule is reported on both keys.
    neither = ["Must configure one of topics or topics.regex"]
    assert errors(validate_config(REGISTRY, {}, base)) == {
        "topics": neither,
        "topics.regex": neither,
    }
    both = validate_config(REGISTRY, {}, {**base, "topics": "a", "topics.regex": "b.*"})
    assert "mutually exclusive" in errors(both)["topics"][0]
    assert "mutually exclusive" in errors(both)["topics.regex"][0]
    bad_regex = validate_config(REGISTRY, {}, {**base, "topics.regex": "("})
    assert "regular expression" in errors(bad_regex)["topics.regex"][0]
    assert validate_config(REGISTRY, {}, {**base, "topics.regex": "t-.*"}).error_count == 0


def test_every_failing_key_is_reported_even_when_another_already_failed() -> None:
    """Kafka Connect checks the sink's topic rules whatever else is wrong; so does kconnect."""
    base = {"name": "s", "connector.class": "FileStreamSink", "file": "/x"}
    found = errors(validate_config(REGISTRY, {}, {**base, "tasks.max": "abc"}))
    assert set(found) == {"tasks.max", "topics", "topics.regex"}
    config = {**base, "topics": "a", "topics.regex": "b.*", "errors.tolerance": "some"}
    infos = validate_config(REGISTRY, {}, config)
    assert set(errors(infos)) == {"errors.tolerance", "topics", "topics.regex"}
    assert infos.error_count == 3
    dlq = {**base, "topics": "a", "errors.deadletterqueue.topic.name": "a", "tasks.max": "0"}
    assert set(errors(validate_config(REGISTRY, {}, dlq))) == {
        "tasks.max",
        "errors.deadletterqueue.topic.name",
    }


def test_unknown_class_is_an_error_on_connector_class() -> None:
    infos = validate_config(REGISTRY, {}, {"name": "x", "connector.class": "Nope"})
    assert list(errors(infos)) == ["connector.class"]


def test_converter_config_is_checked() -> None:
    infos = validate_config(
        REGISTRY,
        {},
        {
            "name": "a",
            "connector.class": "FileStreamSource",
            "topic": "t",
            "value.converter": "JsonConverter",
            "value.converter.schemas.enable": "maybe",
        },
    )
    assert "maybe" in errors(infos)["value.converter"][0]


def test_config_definitions_from_the_model() -> None:
    keys = {k.name: k for k in config_key_infos(FileStreamSourceConfig)}
    assert keys["topic"].required
    assert keys["batch.size"].type == "INT"
    assert keys["batch.size"].default_value == "2000"
    assert keys["file"].to_json()["display_name"]
