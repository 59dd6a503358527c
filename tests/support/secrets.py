"""Secrets for probes that no answer, log line or trace holds a resolved config provider value.

Every secret carries the marker `S3CRET`, which survives any quoting (repr, JSON), so finding the
marker anywhere is a leak. The secrets end in a newline (as a mounted Secret's file does) and hold
quotes, backslashes and non-ASCII text: the cases a search-and-replace of the resolved text misses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MARKER = "S3CRET"
ETC_USERS = "root:x:0:0:S3CRET-root:/root:/bin/bash\ndaemon:x:1:1:S3CRET-daemon:/:/bin/sh\n"
WEIRD = 'S3CRET-weird "quoted" \\back\\slash \u00fcn\u00efc\u00f8d\u00e9 \u2603\n'
ENV_VALUE = "S3CRET-env 'single' \"double\" \\ \u00e9\u2603"
JAVA = "org.apache.kafka.common.config.provider."


def write_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mounted Secret's directory (`mounted`), a properties file (`db.properties`) and an
    environment variable (`KC_SECRET_ENV`), under `tmp_path`."""
    directory = tmp_path / "mounted"
    directory.mkdir()
    (directory / "passwd").write_text(ETC_USERS, "utf-8")
    (directory / "tasks").write_text("S3CRET-tasks\n", "utf-8")
    (directory / "weird").write_text(WEIRD, "utf-8")
    (directory / "class").write_text("S3CRET.no.such.Connector\n", "utf-8")
    (tmp_path / "db.properties").write_text("password=S3CRET-prop-\\u00fc\n", "utf-8")
    monkeypatch.setenv("KC_SECRET_ENV", ENV_VALUE)
    return tmp_path


def provider_props() -> dict[str, str]:
    """Worker keys declaring the three built-in providers."""
    return {
        "config.providers": "file,dir,env",
        "config.providers.file.class": JAVA + "FileConfigProvider",
        "config.providers.dir.class": JAVA + "DirectoryConfigProvider",
        "config.providers.env.class": JAVA + "EnvVarConfigProvider",
    }


def bad_configs(d: Path, props: Path) -> dict[str, dict[str, str]]:
    """Configs that fail validation with a secret in the key at fault (or near it)."""
    sink = {"connector.class": "FileStreamSink", "topics": "t"}
    return {
        "file content as a converter": {**sink, "key.converter": f"${{dir:{d}:passwd}}"},
        "file content as the connector class": {
            "connector.class": f"${{dir:{d}:passwd}}",
            "topics": "t",
        },
        "a class name from a secret": {"connector.class": f"${{dir:{d}:class}}", "topics": "t"},
        "a bad integer ending in a newline": {**sink, "tasks.max": f"${{dir:{d}:tasks}}"},
        "quotes, backslashes and unicode": {**sink, "errors.tolerance": f"${{dir:{d}:weird}}"},
        "an env variable in a header converter": {
            **sink,
            "header.converter": "${env:KC_SECRET_ENV}",
        },
        "a rule over several keys": {
            **sink,
            "topics": "${env:KC_SECRET_ENV}",
            "topics.regex": "x.*",
        },
        "file content as transform aliases": {**sink, "transforms": f"${{dir:{d}:passwd}}"},
        "a transform type from a secret": {
            **sink,
            "transforms": "r",
            "transforms.r.type": f"${{file:{props}:password}}",
        },
        "a validator quoting another key": {
            **sink,
            "transforms": "r",
            "transforms.r.type": "RegexRouter",
            "transforms.r.regex": f"${{dir:{d}:weird}}",
            "transforms.r.replacement": "$9",
        },
        "a converter's own key": {
            **sink,
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": f"${{file:{props}:password}}",
        },
        "a source's own key": {
            "connector.class": "FileStreamSource",
            "topic": "${env:KC_SECRET_ENV}",
            "batch.size": f"${{dir:{d}:weird}}",
        },
    }


def leaks(text: str) -> list[str]:
    """What of the secrets `text` holds."""
    return [needle for needle in (MARKER, "root:x", "/bin/bash") if needle in text]
