"""Reading config files: worker `.properties` (with config-provider variables resolved), and
connector `.properties` or `.json` (kept as written: the worker resolves them at each start).

A connector JSON file is either the body of `POST /connectors` (`{"name": ..., "config": {...}}`)
or a flat object of keys; scalar values are taken as their text, as Kafka Connect does. Every
error names the file, and the line where the file says where (malformed JSON, nesting too deep,
a number too long, half a surrogate pair, a bad `.properties` escape).
"""

from __future__ import annotations

import json
from pathlib import Path

from kconnect.config import jsontext
from kconnect.config.properties import parse_properties
from kconnect.config.providers import ConfigTransformer
from kconnect.config.redaction import REDACTORS, Redactor
from kconnect.errors import ConfigError


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a config file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None


def read_properties(path: str) -> dict[str, str]:
    return parse_properties(_read(path), path)


def read_worker_properties(path: str) -> dict[str, str]:
    """A worker file with its config-provider variables resolved, as Kafka Connect's worker
    resolves its own config (a SASL password from a mounted Secret, say). The values resolved
    are masked in this process's log lines from then on (`REDACTORS`)."""
    props = read_properties(path)
    try:
        resolved = ConfigTransformer.from_worker_props(props).transform(props)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    REDACTORS.register(("worker", path), Redactor.of(props, resolved))
    return resolved


def _text(value: object, key: str, path: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ConfigError(
        f"{path}: invalid value {json.dumps(value)} for key '{key}': expected a string, "
        "number or boolean"
    )


def read_connector_config(path: str) -> dict[str, str]:
    text = _read(path)
    if not path.endswith(".json"):
        return parse_properties(text, path)
    try:
        doc = jsontext.loads(text)
    except jsontext.JsonTextError as e:
        raise ConfigError(
            f"{path}: not valid JSON at line {e.line}, column {e.column}: {e.reason}"
        ) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    if "config" in doc:
        config = doc["config"]
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: 'config' must be a JSON object of keys and values")
        out = {str(k): _text(v, str(k), path) for k, v in config.items()}
        name = doc.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise ConfigError(f"{path}: 'name' must be a string")
            if out.get("name", name) != name:
                raise ConfigError(
                    f"{path}: 'name' ({name}) and config 'name' ({out['name']}) differ"
                )
            out["name"] = name
        return out
    return {str(k): _text(v, str(k), path) for k, v in doc.items()}
