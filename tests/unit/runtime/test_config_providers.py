"""Config providers: `${provider:[path:]key}` variables, resolved as Kafka Connect resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kconnect.config.providers import ConfigTransformer, EnvVarConfigProvider
from kconnect.errors import ConfigError
from kconnect.herder.validation import validate_config
from kconnect.plugins.registry import default_registry

JAVA = "org.apache.kafka.common.config.provider."


def transformer(tmp_path: Path, params: dict[str, str] | None = None) -> ConfigTransformer:
    props = {
        "config.providers": "file,dir,env",
        "config.providers.file.class": JAVA + "FileConfigProvider",
        "config.providers.dir.class": JAVA + "DirectoryConfigProvider",
        "config.providers.env.class": "EnvVarConfigProvider",
        **(params or {}),
    }
    return ConfigTransformer.from_worker_props(props)


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    (tmp_path / "db.properties").write_text("user=app\npassword=s3cr=t\n")
    directory = tmp_path / "mounted"
    directory.mkdir()
    (directory / "token").write_text("abc\n")
    return tmp_path


def test_file_dir_and_env_variables_are_resolved(
    secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KC_REGION", "eu-1")
    t = transformer(secrets)
    out = t.transform(
        {
            "connection.user": f"${{file:{secrets}/db.properties:user}}",
            "connection.url": f"jdbc://h/${{file:{secrets}/db.properties:user}}?p="
            f"${{file:{secrets}/db.properties:password}}",
            "token": f"${{dir:{secrets}/mounted:token}}",
            "region": "${env:KC_REGION}",
            "plain": "no variables",
        }
    )
    assert out == {
        "connection.user": "app",
        "connection.url": "jdbc://h/app?p=s3cr=t",
        "token": "abc\n",
        "region": "eu-1",
        "plain": "no variables",
    }


def test_unknown_providers_and_missing_keys_stay_as_written(secrets: Path) -> None:
    t = transformer(secrets)
    props = {
        "a": "${vault:secret/db:password}",
        "b": f"${{file:{secrets}/db.properties:nope}}",
        "c": f"${{dir:{secrets}/mounted:missing}}",
        "d": "${env:KC_SURELY_UNSET_VARIABLE}",
    }
    assert t.transform(props) == props


def test_an_unreadable_source_is_an_error_naming_the_key(secrets: Path) -> None:
    t = transformer(secrets)
    with pytest.raises(ConfigError) as e:
        t.transform({"ok": "x", "connection.password": f"${{file:{secrets}/gone.properties:p}}"})
    assert str(e.value).startswith("connection.password: config provider 'file': cannot read")


def test_allowed_paths_confine_file_and_directory_providers(secrets: Path) -> None:
    t = transformer(
        secrets, {"config.providers.file.param.allowed.paths": str(secrets / "mounted")}
    )
    with pytest.raises(ConfigError, match=r"not under allowed\.paths"):
        t.transform({"p": f"${{file:{secrets}/db.properties:password}}"})


def test_env_allowlist_pattern() -> None:
    provider = EnvVarConfigProvider({"KC_A": "1", "OTHER": "2"})
    provider.configure({"allowlist.pattern": "KC_.*"})
    assert provider.get("", {"KC_A", "OTHER"}) == {"KC_A": "1"}


@pytest.mark.parametrize(
    ("props", "needle"),
    [
        ({"config.providers": "file"}, "config.providers.file.class is not set"),
        (
            {"config.providers": "x", "config.providers.x.class": "com.acme.Nope"},
            "config.providers.x.class='com.acme.Nope': unknown config provider",
        ),
    ],
)
def test_bad_provider_declarations_name_the_key(props: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        ConfigTransformer.from_worker_props(props)
    assert needle in str(e.value)


def test_no_providers_leaves_configs_alone() -> None:
    t = ConfigTransformer.from_worker_props({})
    assert not t
    assert t.transform({"a": "${file:/x:y}"}) == {"a": "${file:/x:y}"}


def test_validation_checks_resolved_values_and_shows_raw_ones(secrets: Path) -> None:
    (secrets / "gen.properties").write_text("records=12\nbad=lots\n")
    worker = {
        "config.providers": "file",
        "config.providers.file.class": JAVA + "FileConfigProvider",
    }
    good = validate_config(
        default_registry(),
        worker,
        {
            "name": "g",
            "connector.class": "DataGen",
            "topic": "t",
            "max.records": f"${{file:{secrets}/gen.properties:records}}",
        },
    )
    assert good.error_count == 0
    shown = {c.value.name: c.value.value for c in good.configs}
    assert shown["max.records"] == f"${{file:{secrets}/gen.properties:records}}"
    bad = validate_config(
        default_registry(),
        worker,
        {
            "name": "g",
            "connector.class": "DataGen",
            "topic": "t",
            "max.records": f"${{file:{secrets}/gen.properties:bad}}",
        },
    )
    assert bad.error_count == 1
    errors = {c.value.name: c.value.errors for c in bad.configs if c.value.errors}
    assert list(errors) == ["max.records"]


def test_validation_reports_an_unreadable_variable_on_its_own_key(tmp_path: Path) -> None:
    worker = {
        "config.providers": "file",
        "config.providers.file.class": JAVA + "FileConfigProvider",
    }
    infos = validate_config(
        default_registry(),
        worker,
        {
            "name": "g",
            "connector.class": "DataGen",
            "topic": "t",
            "max.records": f"${{file:{tmp_path}/gone.properties:records}}",
        },
    )
    errors = {c.value.name: c.value.errors for c in infos.configs if c.value.errors}
    assert list(errors) == ["max.records"]
    assert "config provider 'file': cannot read" in errors["max.records"][0]


class _Broken:
    def configure(self, params: dict[str, str]) -> None:
        raise KeyError("region")


def test_a_provider_that_fails_to_start_is_a_config_error_naming_the_key() -> None:
    props = {
        "config.providers": "vault",
        "config.providers.vault.class": f"{__name__}._Broken",
    }
    with pytest.raises(ConfigError) as e:
        ConfigTransformer.from_worker_props(props)
    assert "config.providers.vault.class=" in str(e.value)
    assert "failed to start: KeyError" in str(e.value)


class _Static:
    """A user's provider: every key resolves to `<path>/<key>` with a configured suffix."""

    def configure(self, params: dict[str, str]) -> None:
        self._suffix = params.get("suffix", "")

    def get(self, path: str, keys: set[str]) -> dict[str, str]:
        return {k: f"{path}/{k}{self._suffix}" for k in keys}


def test_a_provider_installed_under_the_entry_point_group_is_found_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib.metadata import EntryPoint

    from kconnect.config import providers

    installed = [
        EntryPoint(name="static", value=f"{__name__}:_Static", group=providers.ENTRY_POINT_GROUP),
        EntryPoint(name="broken", value="no.such.module:X", group=providers.ENTRY_POINT_GROUP),
    ]

    def fake_entry_points(*, group: str, name: str) -> list[EntryPoint]:
        return [ep for ep in installed if ep.group == group and ep.name == name]

    monkeypatch.setattr(providers, "entry_points", fake_entry_points)
    transformer = ConfigTransformer.from_worker_props(
        {
            "config.providers": "vault",
            "config.providers.vault.class": "static",
            "config.providers.vault.param.suffix": "!",
        }
    )
    assert transformer.transform({"password": "${vault:secret/db:password}"}) == {
        "password": "secret/db/password!"
    }
    with pytest.raises(ConfigError) as e:
        ConfigTransformer.from_worker_props(
            {"config.providers": "v", "config.providers.v.class": "broken"}
        )
    assert "config.providers.v.class='broken'" in str(e.value)
    assert "no.such.module:X" in str(e.value)


def test_task_configs_are_stored_with_the_variables_put_back() -> None:
    from kconnect.config.providers import reverse_transform

    raw = {"file": "${dir:/s:path}", "topic": "t", "password": "${env:PW}"}
    task = [{"file": "/data/in.txt", "topic": "t", "password": "hunter2", "task.n": "0"}]
    assert reverse_transform(raw, task) == [
        {"file": "${dir:/s:path}", "topic": "t", "password": "${env:PW}", "task.n": "0"}
    ]
    assert reverse_transform({"topic": "t"}, task) == task


def test_validation_messages_never_quote_a_resolved_secret(tmp_path: Path) -> None:
    (tmp_path / "tasks").write_text("not-a-number-s3cr3t")
    worker = {
        "config.providers": "dir",
        "config.providers.dir.class": JAVA + "DirectoryConfigProvider",
    }
    config = {
        "name": "c",
        "connector.class": "FileStreamSource",
        "topic": "t",
        "tasks.max": f"${{dir:{tmp_path}:tasks}}",
    }
    infos = validate_config(default_registry(), worker, config)
    messages = " ".join(infos.error_messages())
    assert "tasks.max" in messages
    assert "s3cr3t" not in messages
    assert f"${{dir:{tmp_path}:tasks}}" in messages


class _Crashing:
    def configure(self, params: dict[str, str]) -> None:
        pass

    def get(self, path: str, keys: set[str]) -> dict[str, str]:
        raise KeyError(path)


def test_a_provider_failing_in_get_is_an_error_on_the_key_not_a_crash() -> None:
    worker = {"config.providers": "v", "config.providers.v.class": f"{__name__}._Crashing"}
    config = {"name": "c", "connector.class": "FileStreamSink", "topics": "${v:db:password}"}
    infos = validate_config(default_registry(), worker, config)
    errors = {c.value.name: c.value.errors for c in infos.configs if c.value.errors}
    assert errors["topics"][0] == "topics: config provider 'v' failed: KeyError: 'db'"
