"""What each volume holds, and writing it atomically."""

from __future__ import annotations

import base64
import datetime
import os
from pathlib import Path
from typing import Any

import pytest

from kconnect_devenv.kubelet import volumes
from kconnect_devenv.kubelet.volumes import File

NOW = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
JsonObject = dict[str, Any]


class Objects:
    def __init__(self) -> None:
        self.tokens: list[tuple[str | None, int]] = []

    def config_map(self, namespace: str, name: str) -> JsonObject | None:
        if name != "conf":
            return None
        return {
            "data": {"a.conf": "a=1\n", "b.conf": "b=2\n"},
            "binaryData": {"blob": base64.b64encode(b"\x00\x01").decode()},
        }

    def secret(self, namespace: str, name: str) -> JsonObject | None:
        if name != "creds":
            return None
        return {"data": {"password": base64.b64encode(b"pw").decode()}}

    def token(self, pod: JsonObject, audience: str | None, expiration_seconds: int) -> str:
        self.tokens.append((audience, expiration_seconds))
        return "jwt"


POD = {
    "metadata": {"name": "web-1", "namespace": "ns", "uid": "u", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "main", "resources": {"limits": {"memory": "1Gi"}}}]},
}


def payload(volume: JsonObject, objects: Objects | None = None) -> dict[str, File]:
    return volumes.volume_payload(
        POD, volume, objects or Objects(), objects or Objects(), {"memory": "4Gi"}
    )


def test_a_config_map_volume_holds_every_key_with_the_default_mode() -> None:
    assert payload({"name": "v", "configMap": {"name": "conf"}}) == {
        "a.conf": File(b"a=1\n", 0o644),
        "b.conf": File(b"b=2\n", 0o644),
        "blob": File(b"\x00\x01", 0o644),
    }


def test_items_pick_keys_paths_and_modes() -> None:
    volume = {
        "name": "v",
        "configMap": {
            "name": "conf",
            "defaultMode": 0o600,
            "items": [
                {"key": "a.conf", "path": "etc/a"},
                {"key": "b.conf", "path": "b", "mode": 0o400},
            ],
        },
    }
    assert payload(volume) == {"etc/a": File(b"a=1\n", 0o600), "b": File(b"b=2\n", 0o400)}


def test_missing_objects_and_keys() -> None:
    with pytest.raises(volumes.VolumeError, match='configmap "gone" not found'):
        payload({"name": "v", "configMap": {"name": "gone"}})
    assert payload({"name": "v", "configMap": {"name": "gone", "optional": True}}) == {}
    with pytest.raises(
        volumes.VolumeError, match="configmap references non-existent config key: x"
    ):
        payload({"name": "v", "configMap": {"name": "conf", "items": [{"key": "x", "path": "x"}]}})
    with pytest.raises(volumes.VolumeError, match="references non-existent secret key: x"):
        payload(
            {"name": "v", "secret": {"secretName": "creds", "items": [{"key": "x", "path": "x"}]}}
        )
    with pytest.raises(volumes.VolumeError, match='secret "gone" not found'):
        payload({"name": "v", "secret": {"secretName": "gone"}})


def test_a_secret_volume_is_decoded() -> None:
    assert payload({"name": "v", "secret": {"secretName": "creds", "defaultMode": 0o440}}) == {
        "password": File(b"pw", 0o440)
    }


def test_downward_api_and_projected_volumes() -> None:
    downward = {
        "name": "v",
        "downwardAPI": {
            "items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {
                    "path": "mem",
                    "resourceFieldRef": {
                        "containerName": "main",
                        "resource": "limits.memory",
                        "divisor": "1Mi",
                    },
                },
            ]
        },
    }
    assert payload(downward) == {"labels": File(b'app="web"', 0o644), "mem": File(b"1024", 0o644)}
    objects = Objects()
    projected = {
        "name": "kube-api-access",
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "conf", "items": [{"key": "a.conf", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }
    assert payload(projected, objects) == {
        "token": File(b"jwt", 0o644),
        "ca.crt": File(b"a=1\n", 0o644),
        "namespace": File(b"ns", 0o644),
    }
    assert objects.tokens == [(None, 3607)]


def test_unsupported_volumes_and_paths_are_refused() -> None:
    with pytest.raises(volumes.VolumeError, match="nfs is not supported"):
        volumes.volume_kind({"name": "data", "nfs": {"server": "s", "path": "/"}})
    claim = {"name": "data", "persistentVolumeClaim": {"claimName": "c"}}
    assert volumes.volume_kind(claim) == "persistentVolumeClaim"
    assert volumes.volume_kind({"name": "x", "emptyDir": {}}) == "emptyDir"
    assert volumes.volume_kind({"name": "x", "projected": {}}) == "files"
    for bad in ("/etc/passwd", "../up", "a/../../b", "..data", ""):
        with pytest.raises(volumes.VolumeError, match="invalid path"):
            volumes.check_path(bad)
    assert volumes.check_path("a/./b") == "a/b"


def test_files_are_written_atomically_behind_a_data_link(tmp_path: Path) -> None:
    first = {"a.conf": File(b"1", 0o600), "sub/b.conf": File(b"2", 0o644)}
    assert volumes.write_payload(tmp_path, first, NOW)
    assert (tmp_path / "a.conf").read_bytes() == b"1"
    assert (tmp_path / "sub" / "b.conf").read_bytes() == b"2"
    assert os.readlink(tmp_path / "a.conf") == "..data/a.conf"
    assert os.readlink(tmp_path / "sub") == "..data/sub"
    assert (tmp_path / "a.conf").stat().st_mode & 0o777 == 0o600
    old = os.readlink(tmp_path / "..data")
    assert not volumes.write_payload(tmp_path, first, NOW)  # unchanged: nothing written
    second = {"a.conf": File(b"one", 0o600)}
    assert volumes.write_payload(tmp_path, second, NOW + datetime.timedelta(seconds=1))
    assert (tmp_path / "a.conf").read_bytes() == b"one"
    assert not (tmp_path / "sub").exists()
    assert not (tmp_path / old).exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..2")) == [
        "..data",
        "a.conf",
    ]
