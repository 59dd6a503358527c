"""Validating a connector config the way `PUT /connector-plugins/{p}/config/validate` reports it.

Validation never raises for a bad config: every problem becomes an error on the key it concerns,
so a user sees all of them at once. It checks the runtime's common keys, the connector class,
the connector's own `config_model`, the converters the config names, and the transformation
chain.

The chain is checked as Kafka Connect's `ConnectorConfig.enrich` does: each alias in
`transforms` gets the group `Transforms: <alias>` with `transforms.<alias>.type`, `.predicate`,
`.negate` and the transform's own keys under their full names (`transforms.mask.fields`), and
each alias in `predicates` the group `Predicates: <alias>` likewise. A type that doesn't
resolve, or resolves to the wrong kind of plugin, is an error on its `type` key; a bad own key
is an error on that key's full name; a rule over several keys is reported on the `type` key. The
plugins are configured once (as the converters are) so that checks made in `configure` count
too; nothing here does I/O of its own.

Config provider variables (`${dir:/mnt/db:password}`) are resolved first, so the checks see what
the worker will run, but no resolved value leaves in the answer: values, key names, groups and
the top-level `name` come from the config as written. A message is shown as a check wrote it only
when it is built from the written value and the models' constants; any other message (a
validator's, a plugin's `configure`) is taken from the same check over the config as written when
it fails the same way there, and otherwise replaced by one saying only that the check failed
(`_shown`). Override keys are checked against the policy and the worker's allow-lists
(`kconnect.worker.clients.override_errors`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from kconnect.api.connector import (
    Connector,
    ConnectorTransactionBoundaries,
    ExactlyOnceSupport,
    SinkConnector,
    SourceConnector,
)
from kconnect.api.converter import Converter, HeaderConverter
from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Predicate, Transformation
from kconnect.config.connector import (
    CONNECTOR_PLUGIN_VERSION,
    CONVERTER_PLUGIN_VERSIONS,
    CommonConnectorConfig,
    SinkConnectorCommonConfig,
    SourceConnectorCommonConfig,
    sink_topic_errors,
    split_list,
)
from kconnect.config.providers import ConfigProviderError, ConfigTransformer
from kconnect.config.validation import describe_problems
from kconnect.config.versions import VersionSpecError
from kconnect.config.worker import WorkerConfig, prefixed
from kconnect.errors import ConfigError
from kconnect.herder.model import ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigValueInfo
from kconnect.plugins.registry import PluginKind, PluginRegistry, version_mismatch, version_of
from kconnect.transforms.chain import PREDICATES, TRANSFORMS, parse_chain_spec
from kconnect.worker.clients import override_errors

_TYPES: dict[type, str] = {bool: "BOOLEAN", int: "INT", float: "DOUBLE", str: "STRING"}


def _java_type(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if isinstance(extra.get("type"), str):
        return str(extra["type"])
    ann: Any = field.annotation
    if get_origin(ann) is not None:
        args = [a for a in get_args(ann) if a is not type(None)]
        ann = args[0] if len(args) == 1 else ann
        if get_origin(ann) is list:
            return "LIST"
    if ann is SecretStr:
        return "PASSWORD"
    return _TYPES.get(ann, "STRING") if isinstance(ann, type) else "STRING"


def _default_text(field: FieldInfo) -> str | None:
    if field.default is PydanticUndefined or field.default is None:
        return None
    if isinstance(field.default, bool):
        return str(field.default).lower()
    return str(field.default)


def config_key_infos(model: type[BaseModel]) -> list[ConfigKeyInfo]:
    """Kafka Connect's config definitions for a pydantic model's fields."""
    out: list[ConfigKeyInfo] = []
    order: dict[str | None, int] = {}
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        group = extra.get("group")
        group_name = str(group) if isinstance(group, str) else None
        order[group_name] = order.get(group_name, 0) + 1
        out.append(
            ConfigKeyInfo(
                name=field.alias or name,
                type=_java_type(field),
                required=field.is_required(),
                default_value=_default_text(field),
                importance=str(extra.get("importance", "MEDIUM")),
                documentation=field.description or "",
                group=group_name,
                order_in_group=order[group_name] if group_name else -1,
                width=str(extra.get("width", "NONE")),
                display_name=str(extra.get("display_name", field.alias or name)),
            )
        )
    return out


class Finding(NamedTuple):
    """One error on one key: its kind (pydantic's error type, or the exception's class), the
    message, and whether the message may quote the values the check was given."""

    kind: str
    message: str
    quotes_input: bool = True


Errors = dict[str, list[Finding]]


def _add(errors: Errors, key: str, finding: Finding) -> None:
    errors.setdefault(key, []).append(finding)


def _raised(error: Exception) -> Finding:
    """A check's exception: its text is the check's own, so it may quote what it was given."""
    return Finding(type(error).__name__, str(error))


def _model_errors(
    model: type[BaseModel], config: Mapping[str, str], written: Mapping[str, str]
) -> Errors:
    try:
        model.model_validate(config)
    except ValidationError as e:
        errors: Errors = {}
        for problem in describe_problems(e, written):
            where = problem.key
            if problem.key == "<config>":
                if "DLQ topic" in problem.message:
                    where = "errors.deadletterqueue.topic.name"
                elif "topics" in problem.message:
                    where = "topics"
                else:
                    where = "connector.class"
            _add(errors, where, Finding(problem.kind, problem.message, problem.quotes_input))
        return errors
    return {}


_TRANSFORM_IMPLICIT_KEYS = ("type", "predicate", "negate")
_PREDICATE_IMPLICIT_KEYS = ("type",)


def _chain_key_infos(
    registry: PluginRegistry,
    config: Mapping[str, str],
    written: Mapping[str, str],
    errors: Errors,
) -> list[ConfigKeyInfo]:
    """The definitions of every transform's and predicate's keys; their errors go to `errors`."""
    _, chain_errors = parse_chain_spec(config)
    for key, messages in chain_errors.items():
        for message in messages:
            _add(errors, key, Finding("chain", message))
    out: list[ConfigKeyInfo] = []
    for alias in dict.fromkeys(split_list(config.get(TRANSFORMS, ""))):
        prefix = f"{TRANSFORMS}.{alias}."
        group = f"Transforms: {alias}"
        out += [
            ConfigKeyInfo(
                prefix + "type",
                "CLASS",
                True,
                None,
                "HIGH",
                f"Class for the '{alias}' transformation.",
                group,
                1,
                "LONG",
                f"Transformation type for {alias}",
            ),
            ConfigKeyInfo(
                prefix + "predicate",
                "STRING",
                False,
                None,
                "MEDIUM",
                "The alias of a predicate used to determine whether to apply this transformation.",
                group,
                2,
                "NONE",
                prefix + "predicate",
            ),
            ConfigKeyInfo(
                prefix + "negate",
                "BOOLEAN",
                False,
                "false",
                "MEDIUM",
                "Whether the configured predicate should be negated.",
                group,
                3,
                "NONE",
                prefix + "negate",
            ),
        ]
        out += _plugin_key_infos(
            registry,
            config,
            written,
            errors,
            prefix,
            group,
            Transformation,
            _TRANSFORM_IMPLICIT_KEYS,
        )
    for alias in dict.fromkeys(split_list(config.get(PREDICATES, ""))):
        prefix = f"{PREDICATES}.{alias}."
        group = f"Predicates: {alias}"
        out.append(
            ConfigKeyInfo(
                prefix + "type",
                "CLASS",
                True,
                None,
                "HIGH",
                f"Class for the '{alias}' predicate.",
                group,
                1,
                "LONG",
                f"Predicate type for {alias}",
            )
        )
        out += _plugin_key_infos(
            registry, config, written, errors, prefix, group, Predicate, _PREDICATE_IMPLICIT_KEYS
        )
    return out


def _plugin_key_infos(
    registry: PluginRegistry,
    config: Mapping[str, str],
    written: Mapping[str, str],
    errors: Errors,
    prefix: str,
    group: str,
    base: type[Transformation[ConnectRecord]] | type[Predicate[ConnectRecord]],
    implicit: tuple[str, ...],
) -> list[ConfigKeyInfo]:
    """One transform's or predicate's own keys under `prefix`, checked against its model."""
    type_key = prefix + "type"
    type_name = config.get(type_key, "").strip()
    if not type_name:
        return []  # the chain's own check reports the missing type
    try:
        cls = registry.resolve_as(type_name, base, type_key)
    except ConfigError as e:
        _add(errors, type_key, _raised(e))
        return []

    def own_keys(props: Mapping[str, str]) -> dict[str, str]:
        return {
            k[len(prefix) :]: v
            for k, v in props.items()
            if k.startswith(prefix) and k[len(prefix) :] not in implicit
        }

    own = own_keys(config)
    model = cls.config_model
    found = _model_errors_under(model, own, own_keys(written), prefix, type_key)
    for key, findings in found.items():
        errors.setdefault(key, []).extend(findings)
    if not found:
        for finding in _configure_errors(cls, own):
            _add(errors, type_key, finding)
    # Keys named like the implicit ones are masked by them, as in Kafka Connect.
    keys = [k for k in config_key_infos(model) if k.name not in implicit]
    return [
        dataclasses.replace(
            k,
            name=prefix + k.name,
            group=group,
            order_in_group=len(implicit) + i,
        )
        for i, k in enumerate(keys, start=1)
    ]


def _model_errors_under(
    model: type[BaseModel],
    own: Mapping[str, str],
    written: Mapping[str, str],
    prefix: str,
    type_key: str,
) -> Errors:
    """`model`'s errors for the keys without their prefix, reported on the full keys."""
    try:
        model.model_validate(own)
    except ValidationError as e:
        errors: Errors = {}
        for problem in describe_problems(e, written):
            if problem.key == "<config>":
                _add(errors, type_key, Finding(problem.kind, problem.message, problem.quotes_input))
                continue
            full = prefix + problem.key
            message = problem.message.replace(f"'{problem.key}'", f"'{full}'")
            _add(errors, full, Finding(problem.kind, message, problem.quotes_input))
        return errors
    return {}


def _configure_errors(
    cls: type[Transformation[ConnectRecord]] | type[Predicate[ConnectRecord]],
    own: Mapping[str, str],
) -> list[Finding]:
    """What `configure` rejects beyond the model, such as a check written in code."""
    try:
        plugin = cls()
        try:
            plugin.configure(own)
        finally:
            plugin.close()
    except ConfigError as e:
        return [_raised(e)]
    except Exception as e:  # noqa: BLE001 - a plugin's configure is its own code
        return [
            Finding(
                type(e).__name__, f"{cls.__qualname__}.configure failed: {type(e).__name__}: {e}"
            )
        ]
    return []


def _override_policy(worker_props: Mapping[str, str]) -> str:
    """The worker's `connector.client.config.override.policy` (All, None or Principal)."""
    field = WorkerConfig.model_fields["connector_client_config_override_policy"]
    try:
        return WorkerConfig.model_validate(
            {field.alias: worker_props.get(str(field.alias), field.default)}
        ).connector_client_config_override_policy
    except ValidationError:
        return "None"  # the worker refuses to start with it: allow nothing meanwhile


_WORKER_CONVERTER_DEFAULTS = {
    key: str(WorkerConfig.model_fields[field].default)
    for key, field in (
        ("key.converter", "key_converter"),
        ("value.converter", "value_converter"),
        ("header.converter", "header_converter"),
    )
}


def _implied_values(
    registry: PluginRegistry,
    worker_props: Mapping[str, str],
    config: Mapping[str, str],
    connector_cls: type | None,
) -> dict[str, str]:
    """The values Kafka Connect shows for keys the config leaves unset: the worker's converters,
    and the versions of the connector and converters that would run."""
    implied: dict[str, str] = {}
    if connector_cls is not None:
        implied[CONNECTOR_PLUGIN_VERSION] = version_of(connector_cls)
    for key, version_key in CONVERTER_PLUGIN_VERSIONS.items():
        name = config.get(key) or worker_props.get(key) or _WORKER_CONVERTER_DEFAULTS[key]
        implied[key] = name
        try:
            implied[version_key] = version_of(registry.resolve(name))
        except ConfigError:
            continue  # reported on the converter's key
    return implied


def _recommended_values(
    registry: PluginRegistry, implied: Mapping[str, str]
) -> dict[str, list[str]]:
    """Kafka Connect's recommenders: the installed converters (by the names listings show) for
    the converter keys, and the installed version for each version key."""
    by_kind: dict[PluginKind, list[str]] = {}
    for plugin in registry.plugins():
        for kind in plugin.kinds:
            by_kind.setdefault(kind, []).append(plugin.class_name)
    converters = sorted(by_kind.get(PluginKind.CONVERTER, []))
    out: dict[str, list[str]] = {
        "key.converter": converters,
        "value.converter": converters,
        "header.converter": sorted(by_kind.get(PluginKind.HEADER_CONVERTER, [])),
    }
    for key in (CONNECTOR_PLUGIN_VERSION, *CONVERTER_PLUGIN_VERSIONS.values()):
        if key in implied:
            out[key] = [implied[key]]
    return out


_PARSERS: dict[str, Callable[[str], object]] = {
    "INT": int,
    "LONG": int,
    "SHORT": int,
    "DOUBLE": float,
}


def _parses(java_type: str, text: str) -> bool:
    if java_type == "BOOLEAN":
        return text.strip().lower() in ("true", "false")
    parse = _PARSERS.get(java_type)
    if parse is None:
        return True
    try:
        parse(text.strip())
    except ValueError:
        return False
    return True


def _check_version(
    registry: PluginRegistry, cls: type, requirement: str | None, key: str, errors: Errors
) -> None:
    """A KIP-891 version requirement the installed plugin does not meet is an error on `key`
    (a malformed one is reported by the model). The message quotes the requirement."""
    try:
        mismatch = version_mismatch(registry.display_name(cls), cls, requirement)
    except VersionSpecError:
        return
    if mismatch is not None:
        _add(errors, key, Finding("version", mismatch))


@dataclass
class _Checked:
    """What one pass of the checks over a config found."""

    connector_cls: type[Connector] | None
    models: list[type[BaseModel]]
    chain_keys: list[ConfigKeyInfo]
    errors: Errors


EXACTLY_ONCE_SUPPORT = "exactly.once.support"
TRANSACTION_BOUNDARY = "transaction.boundary"


def _unexpected(e: Exception) -> str:
    text = str(e).strip()
    if text:
        return f"An unexpected error occurred during validation: {text}"
    return (
        "An unexpected error occurred during validation; please see the worker logs for more "
        "details."
    )


def _exactly_once_errors(
    connector_cls: type[SourceConnector],
    config: Mapping[str, str],
    errors: Errors,
    *,
    exactly_once_enabled: bool,
) -> None:
    """Kafka Connect's preflight checks of `exactly.once.support=required` and
    `transaction.boundary=connector` (DistributedHerder.validateSourceConnectorConfig), with
    its messages. A key whose value is already in error is not checked further."""
    level = config.get(EXACTLY_ONCE_SUPPORT, "").strip().lower()
    if EXACTLY_ONCE_SUPPORT not in errors and level == "required":
        if not exactly_once_enabled:
            _add(
                errors,
                EXACTLY_ONCE_SUPPORT,
                Finding("eos", "This worker does not have exactly-once source support enabled."),
            )
        try:
            support = connector_cls().exactly_once_support(config)
            message = None
            if support is None:
                message = (
                    "The connector does not implement the API required for preflight validation "
                    "of exactly-once source support. Please consult the documentation for the "
                    "connector to determine whether it supports exactly-once semantics, and then "
                    'consider reconfiguring the connector to use the value "requested" for this '
                    "property (which will disable this preflight check and allow the connector "
                    "to be created)."
                )
            elif support is not ExactlyOnceSupport.SUPPORTED:
                message = (
                    "The connector does not support exactly-once semantics with the provided "
                    "configuration."
                )
            if message is not None:
                _add(errors, EXACTLY_ONCE_SUPPORT, Finding("eos", message))
        except Exception as e:  # noqa: BLE001 - the connector's own code
            _add(errors, EXACTLY_ONCE_SUPPORT, Finding(type(e).__name__, _unexpected(e)))
    boundary = config.get(TRANSACTION_BOUNDARY, "").strip().lower()
    if TRANSACTION_BOUNDARY not in errors and boundary == "connector":
        try:
            # A plugin may break its signature: Java reports a null answer, and so do we.
            can: ConnectorTransactionBoundaries | None = (
                connector_cls().can_define_transaction_boundaries(config)
            )
            if can is None:
                _add(
                    errors,
                    TRANSACTION_BOUNDARY,
                    Finding(
                        "eos",
                        "This connector has returned a null value from its "
                        "canDefineTransactionBoundaries method, which is not permitted. The "
                        "connector will be treated as if it cannot define its own transaction "
                        "boundaries, and cannot be configured with 'transaction.boundary' set "
                        "to 'connector'.",
                    ),
                )
            elif can is not ConnectorTransactionBoundaries.SUPPORTED:
                _add(
                    errors,
                    TRANSACTION_BOUNDARY,
                    Finding(
                        "eos",
                        "The connector does not support connector-defined transaction "
                        "boundaries with the given configuration. Please reconfigure it to use "
                        "a different transaction boundary definition.",
                    ),
                )
        except Exception as e:  # noqa: BLE001 - the connector's own code
            _add(errors, TRANSACTION_BOUNDARY, Finding(type(e).__name__, _unexpected(e)))


def _check(
    registry: PluginRegistry,
    worker_props: Mapping[str, str],
    config: Mapping[str, str],
    written: Mapping[str, str],
    exactly_once_enabled: bool = False,
) -> _Checked:
    """Every check over `config`; messages show values as `written` holds them."""
    errors: Errors = {}
    policy = _override_policy(worker_props)
    for key, message in override_errors(worker_props, config, policy, written).items():
        _add(errors, key, Finding("override", message, quotes_input=False))
    class_name = config.get("connector.class", "")
    connector_cls: type[Connector] | None = None
    try:
        connector_cls = registry.resolve_as(class_name, Connector, "connector.class")
    except ConfigError as e:
        _add(errors, "connector.class", _raised(e))

    common: type[CommonConnectorConfig] = (
        SinkConnectorCommonConfig
        if connector_cls is not None and issubclass(connector_cls, SinkConnector)
        else SourceConnectorCommonConfig
    )
    if connector_cls is not None:
        _check_version(
            registry,
            connector_cls,
            config.get(CONNECTOR_PLUGIN_VERSION),
            CONNECTOR_PLUGIN_VERSION,
            errors,
        )
    rules = sink_topic_errors(config) if common is SinkConnectorCommonConfig else []
    rule_messages = {message for _, message in rules}
    for key, findings in _model_errors(common, config, written).items():
        # The sink's rules over several keys come from `rules`, whether or not the model got
        # as far as checking them.
        kept = [f for f in findings if f.message not in rule_messages]
        if kept:
            errors.setdefault(key, []).extend(kept)
    for key, message in rules:
        _add(errors, key, Finding("topics", message))
    models: list[type[BaseModel]] = [common]
    if connector_cls is not None and issubclass(connector_cls, SourceConnector):
        _exactly_once_errors(
            connector_cls, config, errors, exactly_once_enabled=exactly_once_enabled
        )
    if connector_cls is not None:
        models.append(connector_cls.config_model)
        for key, findings in _model_errors(connector_cls.config_model, config, written).items():
            errors.setdefault(key, []).extend(findings)
    for key, base in (
        ("key.converter", Converter),
        ("value.converter", Converter),
        ("header.converter", HeaderConverter),
    ):
        if not config.get(key):
            continue
        try:
            cls = registry.resolve_as(config[key], base, key)
            version_key = CONVERTER_PLUGIN_VERSIONS[key]
            _check_version(registry, cls, config.get(version_key), version_key, errors)
            conv = cls()
            if isinstance(conv, Converter):
                conv.configure(prefixed(config, key + "."), key == "key.converter")
            elif isinstance(conv, HeaderConverter):
                conv.configure(prefixed(config, key + "."))
        except ConfigError as e:
            _add(errors, key, _raised(e))

    chain_keys = _chain_key_infos(registry, config, written, errors)
    return _Checked(connector_cls, models, chain_keys, errors)


def _shown(
    checked: Errors, written: Errors, known_keys: set[str], resolved_keys: list[str]
) -> dict[str, list[str]]:
    """The messages a user may see, when some values came from config providers.

    `checked` are the errors of the config as the worker would run it (resolved); `written`
    those of the same checks over the config as written (its variables unresolved), whose
    messages can hold no resolved value. A message is shown as `checked` has it only when it is
    built from the written values and the models' constants; else the same check's message
    over the written config is shown, when that check failed the same way there too; else only
    that it failed. A key named after a resolved value (a transform alias, say) is never shown:
    its error goes to the first resolved key.
    """
    out: dict[str, list[str]] = {}
    for key, findings in checked.items():
        known = key in known_keys
        where = key if known else resolved_keys[0]
        for finding in findings:
            if known and not finding.quotes_input:
                message = finding.message
            else:
                same = [f for f in written.get(key, []) if f.kind == finding.kind] if known else []
                message = same[0].message if same else _withheld(where, resolved_keys)
            out.setdefault(where, []).append(message)
    return out


def _withheld(key: str, resolved_keys: list[str]) -> str:
    return (
        f"{key}: invalid once the config provider variables of "
        f"{', '.join(repr(k) for k in resolved_keys)} are resolved; the reason is not shown "
        "because it could quote a resolved value"
    )


def validate_config(
    registry: PluginRegistry,
    worker_props: Mapping[str, str],
    config: Mapping[str, str],
    *,
    exactly_once_enabled: bool = False,
) -> ConfigInfos:
    """The answer of `PUT /connector-plugins/{p}/config/validate` for `config`.

    `exactly_once_enabled`: the worker delivers sources exactly once
    (`exactly.once.source.support=enabled`, distributed only); without it
    `exactly.once.support=required` is an error, as on a Kafka Connect worker without it.

    Variables are checked as the worker would start them: resolved. Nothing in the answer is
    built from a resolved value, so no secret and no file's content can leave through it: values
    are shown as written, key names and groups come from the config as written, the top-level
    `name` is the written `connector.class` when that holds a variable, and messages follow
    `_shown`.
    """
    written = dict(config)
    provider_errors: Errors = {}
    resolved = written
    try:
        resolved = ConfigTransformer.from_worker_props(worker_props).transform(written)
    except ConfigProviderError as e:
        # Built from the variable as written and the reason its source could not be read.
        _add(provider_errors, e.key, Finding("provider", str(e), quotes_input=False))
    except ConfigError as e:  # the worker's provider declarations themselves
        _add(provider_errors, "connector.class", Finding("provider", str(e), quotes_input=False))
    resolved_keys = sorted(k for k, v in written.items() if resolved.get(k) != v)

    checked = _check(registry, worker_props, resolved, written, exactly_once_enabled)
    models = checked.models
    # As Kafka Connect's definitions enriched for the worker: its converters and the installed
    # versions are the defaults. They come from the config as written, never a resolved value.
    implied = _implied_values(registry, worker_props, written, checked.connector_cls)
    recommended = _recommended_values(registry, implied)
    definitions = [
        dataclasses.replace(key_info, default_value=implied[key_info.name])
        if key_info.name in implied
        else key_info
        for model in models
        for key_info in config_key_infos(model)
    ]
    if resolved_keys:
        as_written = _check(registry, worker_props, written, written, exactly_once_enabled)
        chain_keys = as_written.chain_keys
        known = {*written, *(k.name for k in definitions), *(k.name for k in chain_keys)}
        errors = _shown(checked.errors, as_written.errors, known, resolved_keys)
    else:
        chain_keys = checked.chain_keys
        errors = {k: [f.message for f in found] for k, found in checked.errors.items()}
    for key, findings in provider_errors.items():
        errors[key] = [f.message for f in findings] + errors.get(key, [])

    infos: list[ConfigInfo] = []
    seen: set[str] = set()
    groups: list[str] = []
    for key_info in [*definitions, *chain_keys]:
        if key_info.name in seen:
            continue
        seen.add(key_info.name)
        if key_info.group and key_info.group not in groups:
            groups.append(key_info.group)
        value = written.get(key_info.name)
        if value is None:
            value = key_info.default_value
        elif key_info.name in errors and not _parses(key_info.type, value):
            value = None  # Kafka Connect shows no value for one it could not parse
        infos.append(
            ConfigInfo(
                key_info,
                ConfigValueInfo(
                    key_info.name,
                    None if key_info.type == "PASSWORD" and value else value,
                    recommended_values=list(recommended.get(key_info.name, ())),
                    errors=errors.pop(key_info.name, []),
                ),
            )
        )
    # Errors on keys no model declares (a converter's prefixed key, say) still count.
    for key, messages in errors.items():
        definition = ConfigKeyInfo(key, "STRING", False, None, "LOW", "", None)
        infos.append(
            ConfigInfo(definition, ConfigValueInfo(key, written.get(key), errors=messages))
        )
    connector_cls = checked.connector_cls
    if "connector.class" in resolved_keys or connector_cls is None:
        name = written.get("connector.class", "")
    else:
        name = registry.display_name(connector_cls)
    error_count = sum(len(c.value.errors) for c in infos)
    return ConfigInfos(name=name, error_count=error_count, groups=groups, configs=infos)
