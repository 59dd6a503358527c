"""Building a connector's transformation chain: resolving and configuring its plugins.

The keys are read by `kconnect.transforms.chain.parse_chain_spec`; this module adds what needs
the plugin registry. Every error is a `ConfigError` naming the full key
(`transforms.mask.fields`), never the key without its prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Predicate, Transformation
from kconnect.errors import ConfigError
from kconnect.plugins.registry import PluginRegistry
from kconnect.transforms.chain import (
    PREDICATES,
    TRANSFORMS,
    TransformationChain,
    TransformStage,
    parse_chain_spec,
)


def build_chain(registry: PluginRegistry, props: Mapping[str, str]) -> TransformationChain:
    """The configured chain of a connector; `ConfigError` naming the first bad key."""
    spec, errors = parse_chain_spec(props)
    if errors:
        key, messages = next(iter(errors.items()))
        raise ConfigError(f"{key}: {messages[0]}")
    predicates: dict[str, Predicate[ConnectRecord]] = {}
    for p in spec.predicates:
        key = f"{PREDICATES}.{p.alias}.type"
        pcls = registry.resolve_as(p.type_name, Predicate, key)
        predicate = pcls()
        _configure(predicate, p.props, f"{PREDICATES}.{p.alias}.")
        predicates[p.alias] = predicate
    stages: list[TransformStage] = []
    for t in spec.transforms:
        key = f"{TRANSFORMS}.{t.alias}.type"
        tcls = registry.resolve_as(t.type_name, Transformation, key)
        transformation = tcls()
        _configure(transformation, t.props, f"{TRANSFORMS}.{t.alias}.")
        stages.append(
            TransformStage(
                t.alias,
                registry.display_name(tcls),
                transformation,
                predicates[t.predicate] if t.predicate is not None else None,
                t.negate,
            )
        )
    return TransformationChain(stages, list(predicates.values()))


def _configure(
    plugin: Transformation[ConnectRecord] | Predicate[ConnectRecord],
    props: Mapping[str, str],
    prefix: str,
) -> None:
    """Configure, with a bad key named in full (`transforms.mask.fields`), not without prefix."""
    try:
        plugin.configure(props)
    except ConfigError as e:
        raise ConfigError(f"{prefix.rstrip('.')}: {e}") from None
