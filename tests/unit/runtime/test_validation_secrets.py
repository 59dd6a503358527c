"""Validation never answers a resolved config provider value, whatever the config: a seeded
random walk over connectors, transforms, predicates, converters and client overrides, with
variables in random keys and odd values in others.

The secrets hold the marker `S3CRET` and what makes quoting go wrong: trailing newlines, quotes,
backslashes, non-ASCII text, several lines, format placeholders, text that is half a class name or
half a regular expression.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from kconnect.herder.validation import validate_config
from kconnect.plugins.registry import default_registry

SECRETS = {
    "passwd": "root:x:0:0:S3CRET-root:/root:/bin/bash\ndaemon:x:1:1:S3CRET-d:/:/bin/sh\n",
    "newline": "S3CRET-nl\n",
    "number": "S3CRET9\n",
    "quotes": 'S3CRET "q" \\b\\ \u00fc\u2603\n',
    "class": "S3CRET.mod.Cls\n",
    "regex": "(S3CRET[\n",
    "list": "S3CRET-a,S3CRET-b\n",
    "json": '{"S3CRET": 1}',
    "dots": "S3CRET...",
    "spaces": "  S3CRET  ",
    "format": "%sS3CRET%d{}",
}
KEYS = [
    "connector.class",
    "tasks.max",
    "topics",
    "topics.regex",
    "topic",
    "file",
    "batch.size",
    "max.records",
    "key.converter",
    "value.converter",
    "header.converter",
    "value.converter.schemas.enable",
    "transforms",
    "transforms.a.type",
    "transforms.a.regex",
    "transforms.a.replacement",
    "transforms.a.field",
    "transforms.a.fields",
    "transforms.a.spec",
    "transforms.a.format",
    "transforms.a.target.type",
    "transforms.a.predicate",
    "transforms.a.negate",
    "transforms.a.renames",
    "transforms.a.static.field",
    "predicates",
    "predicates.p.type",
    "predicates.p.pattern",
    "errors.tolerance",
    "errors.retry.timeout",
    "errors.deadletterqueue.topic.name",
    "errors.deadletterqueue.topic.replication.factor",
    "name",
    "producer.override.sasl.oauthbearer.token.endpoint.url",
    "consumer.override.ssl.ca.location",
]
TRANSFORMS = [
    "RegexRouter",
    "Cast$Value",
    "ExtractField$Key",
    "InsertField$Value",
    "TimestampConverter$Value",
    "ReplaceField$Value",
    "MaskField$Value",
    "HoistField$Value",
    "Filter",
    "SetSchemaMetadata$Value",
    "TimestampRouter",
    "ValueToKey",
    "HeaderFrom$Value",
]
PREDICATES = ["TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"]
PLAIN = ["1", "-1", "abc", "$9", "(", "true", "x,y", ""]


@pytest.mark.parametrize("seed", range(4))
def test_no_validation_answer_holds_a_resolved_value(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        (tmp_path / name).write_text(value, "utf-8")
    monkeypatch.setenv("KC_SECRET", "S3CRET-env\\")
    variables = [f"${{dir:{tmp_path}:{name}}}" for name in SECRETS]
    variables += ["${env:KC_SECRET}", "x${env:KC_SECRET}y"]
    worker = {
        "config.providers": "dir,env",
        "config.providers.dir.class": "DirectoryConfigProvider",
        "config.providers.env.class": "EnvVarConfigProvider",
    }
    registry = default_registry()
    rng = random.Random(seed)
    errors = 0
    for _ in range(100):
        config = {
            "connector.class": rng.choice(["FileStreamSink", "FileStreamSource", "DataGen"]),
            "topics": "t",
            "topic": "t",
        }
        if rng.random() < 0.6:
            config |= {"transforms": "a", "transforms.a.type": rng.choice(TRANSFORMS)}
        if rng.random() < 0.3:
            config |= {"predicates": "p", "predicates.p.type": rng.choice(PREDICATES)}
            config["transforms.a.predicate"] = "p"
        for key in rng.sample(KEYS, rng.randint(1, 5)):
            config[key] = rng.choice(variables)
        for key in rng.sample(KEYS, rng.randint(0, 3)):
            config.setdefault(key, rng.choice(PLAIN))
        infos = validate_config(registry, worker, config)
        errors += infos.error_count
        answer = json.dumps(infos.to_json(), ensure_ascii=False)
        assert "S3CRET" not in answer, (config, answer)
        assert "root:x" not in answer, (config, answer)
    assert errors > 100  # the walk reaches the error paths, not only configs that pass
