"""`spec.logging`: the models and CRD, the format in the pod template, and the pure decision of
which log levels to send to a worker."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kconnect.rest.loggers import LEVELS, PythonLoggers
from kconnect_operator import crdgen
from kconnect_operator.core import manifests
from kconnect_operator.core import status as core_status
from kconnect_operator.core.shapes import LogFormat, LogLevel
from kconnect_operator.core.status import applied_loggers, logger_changes, logger_targets
from kconnect_operator.io.shell import validation_message
from kconnect_operator.kafkaconnector import build as kc_build
from kconnect_operator.kafkaconnector import decide as kc_decide
from kconnect_operator.kafkaconnector.model import KafkaConnectorSpec
from kconnect_operator.standaloneconnect import build as sc_build
from kconnect_operator.standaloneconnect.model import StandaloneConnectSpec

OWNER = kc_build.Owner(name="orders", namespace="team-a", uid="u-1")
SA_OWNER = sc_build.Owner(name="jobs", namespace="team-a", uid="u-2")


def spec(**extra: Any) -> KafkaConnectorSpec:
    return KafkaConnectorSpec.model_validate(
        {"class": "DataGen", "bootstrapServers": "kafka:9092", **extra}
    )


def standalone(**extra: Any) -> StandaloneConnectSpec:
    return StandaloneConnectSpec.model_validate(
        {"bootstrapServers": "kafka:9092", "connectors": [{"name": "a", "class": "DataGen"}]}
        | extra
    )


def env_of(template: dict[str, Any]) -> dict[str, Any]:
    (container,) = template["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


# --- models and CRD


def test_logging_defaults_to_no_loggers_and_text() -> None:
    for s in (spec(), standalone()):
        assert s.logging.loggers == {}
        assert s.logging.format is LogFormat.TEXT


def test_logging_parses_levels_and_format() -> None:
    s = spec(logging={"loggers": {"root": "WARN", "kconnect.worker": "DEBUG"}, "format": "json"})
    assert s.logging.loggers == {"root": LogLevel.WARN, "kconnect.worker": LogLevel.DEBUG}
    assert s.logging.format is LogFormat.JSON
    dumped = s.model_dump(by_alias=True, mode="json")
    assert dumped["logging"] == {
        "loggers": {"root": "WARN", "kconnect.worker": "DEBUG"},
        "format": "json",
    }


@pytest.mark.parametrize("make", [spec, standalone])
def test_a_bad_level_is_refused_naming_the_logger(make: Any) -> None:
    with pytest.raises(ValidationError) as info:
        make(logging={"loggers": {"kconnect.worker": "LOUD"}})
    text = validation_message(info.value)
    assert text.startswith("spec.logging.loggers.kconnect.worker: Input should be ")
    assert "'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL' or 'OFF'" in text


@pytest.mark.parametrize("name", ["", "a/b"])
def test_a_logger_name_the_rest_api_cannot_address_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="without '/'"):
        spec(logging={"loggers": {name: "INFO"}})


def test_a_bad_format_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"logging\.format"):
        spec(logging={"format": "xml"})


@pytest.mark.parametrize("definition", crdgen.DEFINITIONS, ids=lambda d: d.kind)
def test_the_crd_enumerates_the_levels_and_formats(definition: crdgen.Definition) -> None:
    schema = crdgen.openapi_schema(definition)
    logging = schema["properties"]["spec"]["properties"]["logging"]["properties"]
    assert logging["loggers"]["type"] == "object"
    assert logging["loggers"]["additionalProperties"]["enum"] == [
        "TRACE",
        "DEBUG",
        "INFO",
        "WARN",
        "ERROR",
        "FATAL",
        "OFF",
    ]
    assert logging["loggers"]["maxProperties"] == 64
    (rule,) = logging["loggers"]["x-kubernetes-validations"]
    assert rule["rule"] == "self.all(n, n.size() > 0 && !n.contains('/'))"
    assert "logging.loggers" in rule["message"]
    assert logging["format"]["enum"] == ["text", "json"]
    assert logging["format"]["default"] == "text"
    status = schema["properties"]["status"]["properties"]
    assert status["appliedLoggers"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": status["appliedLoggers"]["description"],
    }


def test_the_crd_levels_are_ones_the_worker_accepts() -> None:
    assert {level.value for level in LogLevel} <= set(LEVELS)


# --- the format in the pod template; the levels in no child


def test_json_format_is_in_the_worker_env_and_text_is_not() -> None:
    text = kc_build.build_stateful_set(spec(), OWNER, image="i", secret_versions={})
    assert manifests.LOG_FORMAT_ENV not in env_of(text["spec"]["template"])
    json_ = kc_build.build_stateful_set(
        spec(logging={"format": "json"}), OWNER, image="i", secret_versions={}
    )
    assert env_of(json_["spec"]["template"])[manifests.LOG_FORMAT_ENV] == {
        "name": "KCONNECT_LOG_FORMAT",
        "value": "json",
    }
    sts = sc_build.build_stateful_set(
        standalone(logging={"format": "json"}), SA_OWNER, image="i", secret_versions={}
    )
    assert env_of(sts["spec"]["template"])["KCONNECT_LOG_FORMAT"]["value"] == "json"


def test_the_format_changes_the_config_hash_and_text_keeps_the_old_one() -> None:
    plain = kc_build.config_hash(spec(), OWNER, {})
    assert kc_build.config_hash(spec(logging={"format": "text"}), OWNER, {}) == plain
    assert kc_build.config_hash(spec(logging={"format": "json"}), OWNER, {}) != plain
    sa_plain = sc_build.config_hash(standalone(), SA_OWNER, {})
    assert sc_build.config_hash(standalone(logging={"format": "json"}), SA_OWNER, {}) != sa_plain


def test_log_levels_change_no_child() -> None:
    def children(s: KafkaConnectorSpec) -> list[dict[str, Any]]:
        return kc_build.build_children(
            s, OWNER, image="i", secret_versions={}, operator_namespace="ops"
        )

    before = children(spec())
    after = children(spec(logging={"loggers": {"root": "DEBUG", "kconnect": "TRACE"}}))
    assert after == before
    sa_before = sc_build.build_children(
        standalone(), SA_OWNER, image="i", secret_versions={}, operator_namespace="ops"
    )
    sa_after = sc_build.build_children(
        standalone(logging={"loggers": {"root": "DEBUG"}}),
        SA_OWNER,
        image="i",
        secret_versions={},
        operator_namespace="ops",
    )
    assert sa_after == sa_before


# --- which levels to send


def test_targets_are_the_wanted_levels_and_removed_ones_at_the_root_level() -> None:
    wanted = {"root": LogLevel.WARN, "kconnect.worker": LogLevel.DEBUG}
    assert logger_targets(wanted, ["kconnect.worker", "kconnect.herder"]) == {
        "kconnect.herder": LogLevel.WARN,
        "root": LogLevel.WARN,
        "kconnect.worker": LogLevel.DEBUG,
    }


def test_a_removed_logger_goes_back_to_info_without_a_root() -> None:
    assert logger_targets({}, ["kconnect.worker"]) == {"kconnect.worker": LogLevel.INFO}
    assert logger_targets({}, []) == {}


def test_nothing_is_sent_when_the_worker_already_has_the_levels() -> None:
    targets = {"root": LogLevel.INFO, "kconnect.worker": LogLevel.DEBUG}
    assert logger_changes(targets, {"root": "INFO", "kconnect.worker": "DEBUG"}) == []


def test_only_differing_loggers_are_sent() -> None:
    targets = {"kconnect.worker": LogLevel.WARN, "kconnect.rest": LogLevel.DEBUG}
    observed = {"kconnect.worker": "DEBUG", "kconnect.rest": "DEBUG"}
    assert logger_changes(targets, observed) == [("kconnect.worker", LogLevel.WARN)]


def test_a_logger_the_worker_does_not_report_is_sent() -> None:
    assert logger_changes({"kconnect.worker": LogLevel.DEBUG}, {"kconnect.worker": None}) == [
        ("kconnect.worker", LogLevel.DEBUG)
    ]
    assert logger_changes({"kconnect.worker": LogLevel.DEBUG}, {}) == [
        ("kconnect.worker", LogLevel.DEBUG)
    ]


def test_a_changed_root_is_sent_first_and_the_children_it_overwrites_again() -> None:
    # PUT root sets every logger with a level of its own: kconnect.worker must follow it.
    targets = {"kconnect.worker": LogLevel.DEBUG, "root": LogLevel.WARN}
    observed = {"kconnect.worker": "DEBUG", "root": "INFO"}
    assert logger_changes(targets, observed) == [
        ("root", LogLevel.WARN),
        ("kconnect.worker", LogLevel.DEBUG),
    ]


def test_parents_come_before_children_and_unrelated_loggers_are_untouched() -> None:
    targets = {
        "kconnect.worker.task": LogLevel.TRACE,
        "kconnect": LogLevel.ERROR,
        "kconnectx": LogLevel.INFO,
    }
    observed = {"kconnect.worker.task": "TRACE", "kconnect": "INFO", "kconnectx": "INFO"}
    assert logger_changes(targets, observed) == [
        ("kconnect", LogLevel.ERROR),
        ("kconnect.worker.task", LogLevel.TRACE),
    ]


def test_a_child_at_its_parents_new_level_is_not_sent_again() -> None:
    targets = {"kconnect": LogLevel.WARN, "kconnect.worker": LogLevel.WARN}
    observed = {"kconnect": "INFO", "kconnect.worker": "INFO"}
    assert logger_changes(targets, observed) == [("kconnect", LogLevel.WARN)]


logger_names = st.sampled_from(
    ["root", "kconnect", "kconnect.worker", "kconnect.worker.task", "kconnect.rest", "aiohttp"]
)
levels = st.sampled_from(list(LogLevel))
kafka_names = st.sampled_from(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"])


@contextmanager
def process_log_levels() -> Iterator[None]:
    """Restores every logger's level afterwards: the worker's `/admin/loggers` logic acts on the
    process-wide `logging` state, and setting `root` sets every logger with a level."""
    manager = logging.root.manager
    saved = {
        name: lg.level for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)
    }
    saved_root = logging.root.level
    try:
        yield
    finally:
        for name, lg in list(manager.loggerDict.items()):
            if isinstance(lg, logging.Logger):
                lg.setLevel(saved.get(name, logging.NOTSET))
        logging.root.setLevel(saved_root)


@given(
    targets=st.dictionaries(logger_names, levels, max_size=6),
    start=st.dictionaries(logger_names, kafka_names, max_size=6),
)
def test_the_changes_leave_a_real_worker_at_the_targets(
    targets: dict[str, LogLevel], start: dict[str, str]
) -> None:
    """Against the worker's own `/admin/loggers` logic: after the PUTs, every target logger
    reports its level, and a second pass sends nothing."""
    names = ["kconnect", "kconnect.worker", "kconnect.worker.task", "kconnect.rest", "aiohttp"]
    loggers = PythonLoggers()
    with process_log_levels():
        for name in names:
            logging.getLogger(name).setLevel(logging.NOTSET)
        logging.root.setLevel(logging.INFO)
        for name, level in sorted(start.items(), key=lambda kv: kv[0] != "root"):
            loggers.set_level(name, LEVELS[level])

        def observe() -> dict[str, str | None]:
            out: dict[str, str | None] = {}
            for name in targets:
                found = loggers.level(name)
                out[name] = str(found["level"]) if found else None
            return out

        for name, level in logger_changes(targets, observe()):
            loggers.set_level(name, LEVELS[level.value])
        assert observe() == {name: level.value for name, level in targets.items()}
        assert logger_changes(targets, observe()) == []


def test_applied_loggers_forget_removed_ones_only_once_synced() -> None:
    wanted = {"kconnect.worker": LogLevel.DEBUG}
    previous = ["kconnect.herder", "kconnect.worker"]
    assert applied_loggers(wanted, previous, synced=True) == ["kconnect.worker"]
    assert applied_loggers(wanted, previous, synced=False) == [
        "kconnect.herder",
        "kconnect.worker",
    ]
    assert applied_loggers({}, ["kconnect.herder"], synced=True) is None
    assert applied_loggers({}, [], synced=False) is None


def test_status_carries_the_applied_loggers() -> None:
    status = kc_decide.build_status(
        spec(),
        kc_decide.Observation(generation=1, workers_ready=0, replicas=0, connector=None),
        selector="s",
        previous=None,
        auto_restart_status=None,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        applied=["kconnect.worker"],
    )
    assert core_status.status_body(status)["appliedLoggers"] == ["kconnect.worker"]
    without = status.model_copy(update={"applied_loggers": None})
    assert "appliedLoggers" not in core_status.status_body(without)
