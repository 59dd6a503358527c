"""Turning pydantic's validation errors into messages that name key, value and expectation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, TypeVar

from pydantic import BaseModel, ValidationError

from kconnect.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Problem(NamedTuple):
    """One validation problem: the key, pydantic's error type, and the message for people."""

    key: str
    kind: str
    message: str
    quotes_input: bool
    """Whether `message` may hold text taken from the validated input (a validator's own
    message). When False it is built only from the shown value and the model's constants."""


def describe_problems(error: ValidationError, props: Mapping[str, object]) -> list[Problem]:
    """Each problem of `error`, the key as the user wrote it (the dotted alias), and the value
    shown as `props` holds it (which need not be what was validated: see `quotes_input`)."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = item.get("loc", ())
        key = ".".join(str(p) for p in loc) if loc else "<config>"
        kind = item.get("type", "")
        quotes = kind not in _BUILT_FROM_CONSTANTS
        if not loc:
            # A rule over several keys: its message names them.
            expected = _expected(item.get("msg", ""), kind, item.get("ctx") or {})
            problems.append(Problem(key, kind, expected, quotes))
            continue
        if kind == "missing":
            problems.append(Problem(key, kind, f"missing required key '{key}'", False))
            continue
        given = props.get(str(loc[0])) if loc else None
        shown = given if given is not None else item.get("input")
        expected = _expected(item.get("msg", ""), kind, item.get("ctx") or {})
        message = f"invalid value {shown!r} for key '{key}': {expected}"
        problems.append(Problem(key, kind, message, quotes))
    return problems


def describe_errors(error: ValidationError, props: Mapping[str, object]) -> list[tuple[str, str]]:
    """(key, message) for each problem, the key as the user wrote it (the dotted alias)."""
    return [(p.key, p.message) for p in describe_problems(error, props)]


_EXPECTED = {
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "int_type": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
}


_BUILT_FROM_CONSTANTS = frozenset(
    {*_EXPECTED, "missing", "greater_than_equal", "less_than_equal", "string_too_short"}
    | {"literal_error", "enum"}
)
"""Error types whose message `_expected` builds from constants of the model, never from the
validated input."""


def _expected(msg: str, kind: str, ctx: Mapping[str, object]) -> str:
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "greater_than_equal":
        return f"expected a value of at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"expected a value of at most {ctx.get('le')}"
    if kind == "string_too_short":
        return "expected a non-empty value"
    if kind in ("literal_error", "enum"):
        return f"expected {ctx.get('expected', msg)}"
    return msg.removeprefix("Value error, ")


def validate_model(model: type[M], props: Mapping[str, object], source: str | None = None) -> M:
    """`model` built from `props`, or a `ConfigError` listing every problem."""
    try:
        return model.model_validate(props)
    except ValidationError as e:
        where = f"{source}: " if source else ""
        lines = [msg for _, msg in describe_errors(e, props)]
        raise ConfigError(where + "; ".join(lines)) from None
