"""Turning pydantic's validation errors into messages that name key, value and expectation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from kconnect.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def describe_errors(error: ValidationError, props: Mapping[str, object]) -> list[tuple[str, str]]:
    """(key, message) for each problem, the key as the user wrote it (the dotted alias)."""
    problems: list[tuple[str, str]] = []
    for item in error.errors(include_url=False):
        loc = item.get("loc", ())
        key = ".".join(str(p) for p in loc) if loc else "<config>"
        kind = item.get("type", "")
        if kind == "missing":
            problems.append((key, f"missing required key '{key}'"))
            continue
        given = props.get(str(loc[0])) if loc else None
        shown = given if given is not None else item.get("input")
        expected = _expected(item.get("msg", ""), kind)
        problems.append((key, f"invalid value {shown!r} for key '{key}': {expected}"))
    return problems


def _expected(msg: str, kind: str) -> str:
    msg = msg.removeprefix("Value error, ")
    if kind.startswith(("int_", "float_", "bool_")) or kind in (
        "greater_than_equal",
        "less_than_equal",
    ):
        return f"expected {msg[0].lower()}{msg[1:]}" if msg else "unexpected value"
    return msg


def validate_model(model: type[M], props: Mapping[str, object], source: str | None = None) -> M:
    """`model` built from `props`, or a `ConfigError` listing every problem."""
    try:
        return model.model_validate(props)
    except ValidationError as e:
        where = f"{source}: " if source else ""
        lines = [msg for _, msg in describe_errors(e, props)]
        raise ConfigError(where + "; ".join(lines)) from None
