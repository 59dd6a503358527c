"""Request bodies: from raw bytes to the plain values the herder takes.

Everything here is pure and raises `BadRequestError` (HTTP 400) with a message that names the
field, what it held and what was expected, so a client sees at once what to fix.

Config values follow Kafka Connect's Jackson binding of `Map<String, String>`: strings pass as
they are; numbers and booleans are accepted and turned into their text (`5` -> `"5"`,
`true` -> `"true"`), because existing clients and tools send them; objects and arrays are
rejected. A null value removes a key in `PATCH .../config`, is dropped by `.../config/validate`
(the key then counts as unset) and is rejected everywhere else.

A body is read whole before anything acts on it (`kconnect.config.jsontext`): a document nested
too deep, an integer too long to read, or a string holding half a UTF-16 surrogate pair
(`"\\ud800"`) is a 400 naming the line and column, and nothing is created or changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn, cast

from kconnect.api.types import ConnectorName, JsonValue
from kconnect.config import jsontext
from kconnect.herder.errors import BadRequestError
from kconnect.storage.states import TargetState

NAME_CONFIG = "name"


def _bad(message: str) -> NoReturn:
    raise BadRequestError(message)


def _json_type(value: JsonValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def is_json_media_type(content_type: str) -> bool:
    """Whether a Content-Type header names `application/json` (parameters aside, any case)."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def parse_json(raw: bytes) -> JsonValue:
    """Decode a request body; an empty body is a 400 too, since every caller needs one."""
    if not raw.strip():
        _bad("Request body is empty: expected a JSON document")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _bad(f"Request body is not valid UTF-8 at byte {exc.start}: expected a JSON document")
    try:
        value = jsontext.loads(text)
    except jsontext.JsonTextError as exc:
        _bad(f"Request body is not valid JSON: {exc}")
    return cast(JsonValue, value)


def expect_object(value: JsonValue, what: str) -> dict[str, JsonValue]:
    if not isinstance(value, dict):
        _bad(f"{what} must be a JSON object, not {_json_type(value)}")
    return value


def _config_text(key: str, value: JsonValue, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    _bad(f"Value of {key!r} in {what} must be a string, number or boolean, not {_json_type(value)}")


def config_map(value: JsonValue, what: str) -> dict[str, str]:
    """A connector config: a JSON object whose values become strings; null is refused."""
    obj = expect_object(value, what)
    out: dict[str, str] = {}
    for key, item in obj.items():
        if item is None:
            _bad(
                f"Value of {key!r} in {what} is null: expected a string "
                "(to remove a key, PATCH the config with the key set to null)"
            )
        out[key] = _config_text(key, item, what)
    return out


def config_patch(value: JsonValue, what: str) -> dict[str, str | None]:
    """A config patch: like `config_map`, but a null value asks to remove the key."""
    obj = expect_object(value, what)
    return {
        key: None if item is None else _config_text(key, item, what) for key, item in obj.items()
    }


def config_to_validate(value: JsonValue, what: str) -> dict[str, str]:
    """A config to validate: null values are left out, so the key counts as unset."""
    patch = config_patch(value, what)
    return {key: item for key, item in patch.items() if item is not None}


def check_and_put_name(name: str, config: dict[str, str], where: str) -> dict[str, str]:
    """Kafka Connect's `checkAndPutConnectorConfigName`: the config's `name`, when present,
    must equal the connector's name; when absent it is filled in."""
    included = config.get(NAME_CONFIG)
    if included is None:
        return {**config, NAME_CONFIG: name}
    if included != name:
        _bad(
            f"Connector name configuration ({included}) doesn't match connector name "
            f"in the {where} ({name})"
        )
    return config


CONNECTOR_CLASS_CONFIG = "connector.class"


def _normalized_plugin_name(name: str) -> str:
    return name.removesuffix("Connector") if name != "Connector" else name


def check_plugin(plugin: str, config: dict[str, str]) -> dict[str, str]:
    """Kafka Connect's check on `PUT /connector-plugins/{p}/config/validate`: a `connector.class`
    in the body must name the plugin of the path (the full class name, or one ending in the
    path's, `Connector` suffixes aside), and must be there (Kafka Connect answers 500 without
    it, for the same BadRequestException; here it is the 400 it means)."""
    included = config.get(CONNECTOR_CLASS_CONFIG)
    if included is None:
        _bad(f"Connector config {config} contains no connector type")
    if not _normalized_plugin_name(included).endswith(_normalized_plugin_name(plugin)):
        _bad(f"Included connector type {included} does not match request type {plugin}")
    return config


@dataclass(frozen=True)
class CreateConnectorRequest:
    """The body of `POST /connectors`."""

    name: ConnectorName
    config: dict[str, str]
    initial_state: TargetState | None


_CREATE_FIELDS = ("name", "config", "initial_state")


def parse_create_request(body: JsonValue) -> CreateConnectorRequest:
    obj = expect_object(body, "Request body")
    unknown = sorted(set(obj) - set(_CREATE_FIELDS))
    if unknown:
        _bad(
            f"Unknown field {unknown[0]!r} in request body: expected only "
            + ", ".join(repr(f) for f in _CREATE_FIELDS)
        )
    raw_name = obj.get("name")
    if isinstance(raw_name, dict | list):
        _bad(f"Field 'name' in request body must be a string, not {_json_type(raw_name)}")
    # Kafka Connect trims the name given in the body, and only there.
    name = "" if raw_name is None else _config_text("name", raw_name, "request body").strip()
    if not name:
        _bad("Field 'name' in request body is missing or empty: expected the connector's name")
    if "config" not in obj or obj["config"] is None:
        _bad("Field 'config' in request body is missing: expected an object of config keys")
    config = check_and_put_name(name, config_map(obj["config"], "'config'"), "request body")
    raw_state = obj.get("initial_state")
    initial_state: TargetState | None = None
    if raw_state is not None:
        if not isinstance(raw_state, str):
            _bad(
                "Field 'initial_state' in request body must be one of RUNNING, PAUSED, STOPPED, "
                f"not {_json_type(raw_state)}"
            )
        try:
            initial_state = TargetState.from_initial_state(raw_state)
        except ValueError as exc:
            _bad(str(exc))
    return CreateConnectorRequest(ConnectorName(name), config, initial_state)


def parse_offsets(body: JsonValue) -> list[dict[str, JsonValue]]:
    """The body of `PATCH /connectors/{c}/offsets`: `{"offsets": [{"partition", "offset"}]}`.

    Each entry comes back as `{"partition": {...}, "offset": {...} | None}`; a null offset asks
    to remove the partition's offset.
    """
    obj = expect_object(body, "Request body")
    offsets = obj.get("offsets")
    if offsets is None or offsets == []:
        _bad("Partitions / offsets need to be provided for an alter offsets request")
    if not isinstance(offsets, list):
        _bad(f"Field 'offsets' in request body must be an array, not {_json_type(offsets)}")
    out: list[dict[str, JsonValue]] = []
    for index, entry in enumerate(offsets):
        where = f"offsets[{index}]"
        item = expect_object(entry, where)
        partition = item.get("partition")
        if not isinstance(partition, dict):
            _bad(f"Field 'partition' of {where} must be a JSON object, not {_json_type(partition)}")
        offset = item.get("offset")
        if offset is not None and not isinstance(offset, dict):
            _bad(
                f"Field 'offset' of {where} must be a JSON object or null, not {_json_type(offset)}"
            )
        out.append({"partition": partition, "offset": offset})
    return out


def parse_level_request(body: JsonValue) -> str:
    """The body of `PUT /admin/loggers/{name}`: `{"level": "DEBUG"}`; returns the level text."""
    obj: Mapping[str, JsonValue] = expect_object(body, "Request body")
    level = obj.get("level")
    if level is None:
        _bad("Desired 'level' parameter was not specified in request.")
    if not isinstance(level, str):
        _bad(f"Field 'level' in request body must be a string, not {_json_type(level)}")
    return level
