"""A connector's transformation chain, built from Kafka Connect's keys.

    transforms=mask,route
    transforms.mask.type=org.apache.kafka.connect.transforms.MaskField$Value
    transforms.mask.fields=ssn
    transforms.mask.predicate=isCustomers
    transforms.mask.negate=false
    predicates=isCustomers
    predicates.isCustomers.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
    predicates.isCustomers.pattern=customers.*

Each transform is configured with the keys under `transforms.<alias>.` (prefix removed), each
predicate with those under `predicates.<alias>.`. A predicate instance is shared by every
transform that names it, as in Kafka Connect.

`parse_chain_spec` is pure: it reads the keys and says what is wrong with them, naming the key.
`kconnect.plugins.chain.build_chain` resolves the classes and configures the instances; the
runtime calls each stage itself (`TransformStage.apply`) so that its error handling can say
which stage failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kconnect.api.records import ConnectRecord
from kconnect.api.transform import Predicate, Transformation
from kconnect.config.connector import split_list
from kconnect.errors import ConfigError

TRANSFORMS = "transforms"
PREDICATES = "predicates"


@dataclass(frozen=True)
class TransformSpec:
    """One entry of `transforms`: its alias, class name, own keys and predicate."""

    alias: str
    type_name: str
    props: dict[str, str]
    predicate: str | None
    negate: bool


@dataclass(frozen=True)
class PredicateSpec:
    alias: str
    type_name: str
    props: dict[str, str]


@dataclass(frozen=True)
class ChainSpec:
    transforms: tuple[TransformSpec, ...]
    predicates: tuple[PredicateSpec, ...]


def _prefixed(props: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in props.items() if k.startswith(prefix)}


def _aliases(props: Mapping[str, str], key: str) -> list[str]:
    aliases = split_list(props.get(key, ""))
    seen: set[str] = set()
    for alias in aliases:
        if alias in seen:
            raise ConfigError(
                f"Invalid value {props[key]!r} for configuration {key}: Duplicate alias provided."
            )
        seen.add(alias)
    return aliases


def parse_chain_spec(props: Mapping[str, str]) -> tuple[ChainSpec, dict[str, list[str]]]:
    """The chain a config asks for, and the errors found, by key. Never raises."""
    errors: dict[str, list[str]] = {}
    predicates: list[PredicateSpec] = []
    try:
        predicate_aliases = _aliases(props, PREDICATES)
    except ConfigError as e:
        errors.setdefault(PREDICATES, []).append(str(e))
        predicate_aliases = []
    for alias in predicate_aliases:
        prefix = f"{PREDICATES}.{alias}."
        own = _prefixed(props, prefix)
        type_name = own.pop("type", "").strip()
        if not type_name:
            errors.setdefault(prefix + "type", []).append(
                f'Missing required configuration "{prefix}type" which has no default value.'
            )
            continue
        predicates.append(PredicateSpec(alias, type_name, own))
    known_predicates = set(predicate_aliases)
    used_predicates: set[str] = set()

    transforms: list[TransformSpec] = []
    try:
        transform_aliases = _aliases(props, TRANSFORMS)
    except ConfigError as e:
        errors.setdefault(TRANSFORMS, []).append(str(e))
        transform_aliases = []
    for alias in transform_aliases:
        prefix = f"{TRANSFORMS}.{alias}."
        own = _prefixed(props, prefix)
        type_name = own.pop("type", "").strip()
        predicate = own.pop("predicate", "").strip() or None
        negate_text = own.pop("negate", "false").strip().lower()
        ok = True
        if not type_name:
            errors.setdefault(prefix + "type", []).append(
                f'Missing required configuration "{prefix}type" which has no default value.'
            )
            ok = False
        if negate_text not in ("true", "false"):
            errors.setdefault(prefix + "negate", []).append(
                f"Invalid value {negate_text!r} for configuration {prefix}negate: "
                "Expected value to be either true or false"
            )
            ok = False
        negate = negate_text == "true"
        if predicate is None and negate and f"{prefix}negate" in props:
            errors.setdefault(prefix + "negate", []).append(
                f"{prefix}negate=true has no effect without {prefix}predicate"
            )
            ok = False
        if predicate is not None:
            used_predicates.add(predicate)
            if predicate not in known_predicates:
                errors.setdefault(prefix + "predicate", []).append(
                    f"Invalid value {predicate!r} for configuration {prefix}predicate: "
                    "expected one of the aliases in 'predicates' "
                    f"({', '.join(predicate_aliases) or 'none'})"
                )
                ok = False
        if ok:
            transforms.append(TransformSpec(alias, type_name, own, predicate, negate))
    return ChainSpec(tuple(transforms), tuple(predicates)), errors


class TransformStage:
    """One transform with its optional predicate. `apply` is what the runtime calls per record.

    A stage is fixed once made. Without a predicate, `apply` is the transform's own `apply`, so
    an unguarded stage adds no call of its own to each record.
    """

    __slots__ = ("alias", "apply", "class_name", "negate", "predicate", "transformation")

    apply: Callable[[ConnectRecord], ConnectRecord | None]

    def __init__(
        self,
        alias: str,
        class_name: str,
        transformation: Transformation[ConnectRecord],
        predicate: Predicate[ConnectRecord] | None,
        negate: bool,
    ) -> None:
        self.alias = alias
        self.class_name = class_name
        self.transformation = transformation
        self.predicate = predicate
        self.negate = negate
        self.apply = transformation.apply if predicate is None else self._apply_when_matched

    def _apply_when_matched(self, record: ConnectRecord) -> ConnectRecord | None:
        """The transform, on a record its predicate (negated when `negate`) holds for."""
        predicate = self.predicate
        assert predicate is not None  # only chosen as `apply` when there is a predicate
        if predicate.test(record) == self.negate:
            return record
        return self.transformation.apply(record)


class TransformationChain:
    """The stages in order; an empty chain is falsy, so the hot path can skip it."""

    def __init__(
        self, stages: list[TransformStage], predicates: list[Predicate[ConnectRecord]]
    ) -> None:
        self.stages = tuple(stages)
        self._predicates = predicates

    def __bool__(self) -> bool:
        return bool(self.stages)

    def apply(self, record: ConnectRecord) -> ConnectRecord | None:
        """Every stage in turn, without error handling; None once a stage drops the record."""
        current: ConnectRecord | None = record
        for stage in self.stages:
            if current is None:
                return None
            current = stage.apply(current)
        return current

    def close(self) -> None:
        for stage in self.stages:
            stage.transformation.close()
        for predicate in self._predicates:
            predicate.close()
