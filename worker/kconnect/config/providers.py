"""Config providers: `${provider:path:key}` variables in worker and connector configs.

Kafka Connect's mechanism (KIP-297, KIP-421), with its keys and built-in classes:

    config.providers=file,env,dir
    config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
    config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
    config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
    config.providers.<name>.param.<p>=...   (passed to the provider's configure)

- `${file:/etc/secrets/db.properties:password}`: the key `password` of a properties file;
- `${dir:/etc/secrets/db:password}`: the content of the file `password` in a directory (how a
  mounted Kubernetes Secret looks);
- `${env:DB_PASSWORD}`: an environment variable (`allowlist.pattern` restricts which).

A provider of one's own is any class with `configure(params)` and `get(path, keys)`, named in
`config.providers.<name>.class` by a dotted path (`mypkg.vault:VaultConfigProvider`) or, when a
package registers it under the entry-point group `kconnect.config_providers`, by its entry
point's name (`config.providers.vault.class=vault`).

Invariants:
- **Secrets stay out of Kafka.** Connector configs are stored and served (`GET .../config`)
  with their variables; they are resolved only in the worker that starts the connector or task,
  and again on every start, so a rotated file is picked up by a restart.
- **Kafka Connect's leniencies are kept:** a variable naming a provider that is not configured,
  or a key its source lacks, stays as written. A source that cannot be read (a missing file, a
  directory outside `allowed.paths`) is an error naming the key, the variable and the cause.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Final, Protocol

from kconnect.config.properties import parse_properties
from kconnect.errors import ConfigError

PROVIDERS_KEY: Final = "config.providers"
ENTRY_POINT_GROUP: Final = "kconnect.config_providers"
VARIABLE: Final = re.compile(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}")
"""Kafka Connect's `ConfigTransformer.DEFAULT_PATTERN`: `${provider:[path:]key}`."""


class ConfigProviderError(ConfigError):
    """A variable of `key` could not be resolved; the message names the key first."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class ConfigProvider(Protocol):
    def configure(self, params: Mapping[str, str]) -> None: ...

    def get(self, path: str, keys: set[str]) -> dict[str, str]:
        """The values of `keys` found at `path`; keys it lacks are left out."""
        ...


ALLOWED_PATHS_CONFIG: Final = "allowed.paths"
ALLOWLIST_PATTERN_CONFIG: Final = "allowlist.pattern"


def _read_text(file: Path, shown: str) -> str:
    """A file's text; an error names the file as the variable wrote it, never its content."""
    try:
        return file.read_text("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"cannot read {shown}: not UTF-8 text (at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"cannot read {shown}: {e.strerror or e}") from None


def _allowed(path: str, params: Mapping[str, str]) -> Path:
    """`path`, resolved, when `allowed.paths` (comma-separated) admits it."""
    if "\0" in path:
        raise ConfigError(f"{path!r} is not a file name: it holds a NUL character")
    resolved = Path(path).resolve()
    allowed = [p.strip() for p in params.get(ALLOWED_PATHS_CONFIG, "").split(",") if p.strip()]
    if allowed and not any(resolved.is_relative_to(Path(a).resolve()) for a in allowed):
        raise ConfigError(f"{path!r} is not under allowed.paths ({', '.join(allowed)})")
    return resolved


class FileConfigProvider:
    """Keys of a `.properties` file."""

    CONFIG_KEYS: Final = (ALLOWED_PATHS_CONFIG,)

    def __init__(self) -> None:
        self._params: dict[str, str] = {}

    def configure(self, params: Mapping[str, str]) -> None:
        self._params = dict(params)

    def get(self, path: str, keys: set[str]) -> dict[str, str]:
        file = _allowed(path, self._params)
        props = parse_properties(_read_text(file, path), str(file))
        return {k: props[k] for k in keys if k in props}


class DirectoryConfigProvider:
    """Files of a directory, by name: the key is a file name, the value its content."""

    CONFIG_KEYS: Final = (ALLOWED_PATHS_CONFIG,)

    def __init__(self) -> None:
        self._params: dict[str, str] = {}

    def configure(self, params: Mapping[str, str]) -> None:
        self._params = dict(params)

    def get(self, path: str, keys: set[str]) -> dict[str, str]:
        directory = _allowed(path, self._params)
        if not directory.is_dir():
            raise ConfigError(f"{path} is not a directory")
        out: dict[str, str] = {}
        for key in keys:
            file = directory / key
            if "/" not in key and file.is_file():
                out[key] = _read_text(file, f"{path}/{key}")
        return out


class EnvVarConfigProvider:
    """Environment variables; `allowlist.pattern` (a regex, whole match) limits which."""

    CONFIG_KEYS: Final = (ALLOWLIST_PATTERN_CONFIG,)

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else os.environ
        self._allow: re.Pattern[str] | None = None

    def configure(self, params: Mapping[str, str]) -> None:
        pattern = params.get(ALLOWLIST_PATTERN_CONFIG)
        try:
            self._allow = re.compile(pattern) if pattern else None
        except re.error as e:
            raise ConfigError(
                f"allowlist.pattern {pattern!r}: not a regular expression: {e}"
            ) from e

    def get(self, path: str, keys: set[str]) -> dict[str, str]:
        if path:
            raise ConfigError(f"the env provider takes no path, got {path!r}")
        return {
            k: self._environ[k]
            for k in keys
            if k in self._environ and (self._allow is None or self._allow.fullmatch(k))
        }


BUILT_IN: Final[Mapping[str, Callable[[], ConfigProvider]]] = {
    "org.apache.kafka.common.config.provider.FileConfigProvider": FileConfigProvider,
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider": DirectoryConfigProvider,
    "org.apache.kafka.common.config.provider.EnvVarConfigProvider": EnvVarConfigProvider,
    "FileConfigProvider": FileConfigProvider,
    "DirectoryConfigProvider": DirectoryConfigProvider,
    "EnvVarConfigProvider": EnvVarConfigProvider,
}


def _from_entry_point(name: str, key: str) -> Callable[[], ConfigProvider] | None:
    """A provider installed by a package under the entry-point group `kconnect.config_providers`
    (`vault = "mypkg.vault:VaultConfigProvider"`), found by its entry point's name."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        try:
            loaded: Callable[[], ConfigProvider] = ep.load()
        except Exception as e:  # noqa: BLE001 - a broken package is reported by name
            raise ConfigError(
                f"{key}={name!r}: the config provider {ep.value!r} failed to load: "
                f"{type(e).__name__}: {e}"
            ) from None
        return loaded
    return None


def _load(class_name: str, key: str) -> ConfigProvider:
    factory = BUILT_IN.get(class_name) or _from_entry_point(class_name, key)
    if factory is not None:
        return factory()
    module, sep, attr = class_name.replace(":", ".").rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr) if sep else None
    except (ImportError, AttributeError):
        cls = None
    if cls is None:
        raise ConfigError(
            f"{key}={class_name!r}: unknown config provider; expected one of "
            "FileConfigProvider, DirectoryConfigProvider, EnvVarConfigProvider (or their "
            "org.apache.kafka.common.config.provider names), the name of an entry point in "
            f"the group {ENTRY_POINT_GROUP!r}, or a dotted path to a class"
        )
    provider: ConfigProvider = cls()
    return provider


class ConfigTransformer:
    """Resolves variables with the providers a worker config declares."""

    def __init__(self, providers: Mapping[str, ConfigProvider]) -> None:
        self._providers = dict(providers)

    @classmethod
    def from_worker_props(cls, worker_props: Mapping[str, str]) -> ConfigTransformer:
        names = [n.strip() for n in worker_props.get(PROVIDERS_KEY, "").split(",") if n.strip()]
        providers: dict[str, ConfigProvider] = {}
        for name in names:
            key = f"{PROVIDERS_KEY}.{name}.class"
            class_name = worker_props.get(key, "").strip()
            if not class_name:
                raise ConfigError(
                    f"{PROVIDERS_KEY} lists {name!r} but {key} is not set; expected a config "
                    "provider class such as "
                    "org.apache.kafka.common.config.provider.FileConfigProvider"
                )
            prefix = f"{PROVIDERS_KEY}.{name}.param."
            params = {k[len(prefix) :]: v for k, v in worker_props.items() if k.startswith(prefix)}
            try:
                provider = _load(class_name, key)
                provider.configure(params)
            except ConfigError:
                raise
            except Exception as e:  # a user's provider may fail in any way
                raise ConfigError(
                    f"{key}={class_name!r}: the provider failed to start: {type(e).__name__}: {e}"
                ) from e
            providers[name] = provider
        return cls(providers)

    def __bool__(self) -> bool:
        return bool(self._providers)

    def transform(self, props: Mapping[str, str]) -> dict[str, str]:
        """`props` with every resolvable variable replaced; raises ConfigError naming the key
        whose variable's source could not be read."""
        if not self._providers:
            return dict(props)
        wanted: dict[tuple[str, str], set[str]] = {}
        first_key: dict[tuple[str, str], str] = {}
        for prop, value in props.items():
            for provider, path, key in VARIABLE.findall(value):
                if provider in self._providers:
                    wanted.setdefault((provider, path), set()).add(key)
                    first_key.setdefault((provider, path), prop)
        if not wanted:
            return dict(props)
        found: dict[tuple[str, str], dict[str, str]] = {}
        for (provider, path), keys in wanted.items():
            try:
                found[(provider, path)] = self._providers[provider].get(path, keys)
            except ConfigError as e:
                raise ConfigProviderError(
                    first_key[(provider, path)], f"config provider {provider!r}: {e}"
                ) from e
            except Exception as e:  # a user's provider may fail in any way
                raise ConfigProviderError(
                    first_key[(provider, path)],
                    f"config provider {provider!r} failed: {type(e).__name__}: {e}",
                ) from e

        def replace(match: re.Match[str]) -> str:
            provider, path, key = match.group(1), match.group(2) or "", match.group(3)
            return found.get((provider, path), {}).get(key, match.group(0))

        return {k: VARIABLE.sub(replace, v) for k, v in props.items()}


def reverse_transform(
    raw: Mapping[str, str], task_configs: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Task configs as they may be stored: a key whose connector value was written with a
    variable gets that variable back instead of what it resolved to.

    A connector sees its config resolved, and most copy it into their task configs; without this
    the resolved secret would be written to the config topic and served by `GET .../tasks`, as
    Kafka Connect's `Worker.reverseTransform` prevents too. Tasks resolve the variable again
    when they start.
    """
    with_variables = {k: v for k, v in raw.items() if VARIABLE.search(v)}
    if not with_variables:
        return task_configs
    return [{k: with_variables.get(k, v) for k, v in config.items()} for config in task_configs]
