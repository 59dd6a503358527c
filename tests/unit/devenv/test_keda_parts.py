"""KEDA's pure parts for the e2e tier: the pins, the image of both binaries, the overlay."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from kconnect_devenv import keda, ociimage


def test_the_pin_and_the_image_reference_come_from_the_wrapper_module() -> None:
    assert keda.version() == "v2.21.0"
    assert keda.image() == "kconnect.local/keda:v2.21.0"
    operator, adapter = keda.targets("v2.21.0")
    assert (operator.name, operator.package) == ("keda", f"{keda.MODULE}/cmd/operator")
    assert (adapter.name, adapter.package) == ("keda-adapter", f"{keda.MODULE}/cmd/adapter")
    for target in (operator, adapter):
        assert target.ldflags == (f"-X={keda.MODULE}/version.Version=v2.21.0",)


def test_the_image_holds_both_binaries_where_kedas_manifests_run_them_as_a_numeric_user(
    tmp_path: Path,
) -> None:
    (tmp_path / "keda").write_bytes(b"operator")
    (tmp_path / "keda-adapter").write_bytes(b"adapter")
    spec = keda.image_spec(tmp_path, "kconnect.local/keda:v2.21.0")
    # runAsNonRoot needs a numeric user in the image's config.
    assert spec.user == "65532:65532"
    blobs, _, _ = ociimage.archive_blobs(spec)
    configs = [json.loads(b) for b in blobs.values() if b.startswith(b"{")]
    (config,) = [c for c in configs if "config" in c and "rootfs" in c]
    assert config["config"]["User"] == "65532:65532"
    with tarfile.open(fileobj=io.BytesIO(ociimage.layer_bytes(spec))) as layer:
        members = {m.name: m for m in layer.getmembers()}
        assert members["keda"].mode == 0o755
        assert members["keda-adapter"].mode == 0o755
        passwd = layer.extractfile("etc/passwd")
        assert passwd is not None
        assert b"nonroot:x:65532:65532:" in passwd.read()
    assert set(members) == {"etc", "etc/group", "etc/passwd", "keda", "keda-adapter"}


def test_the_overlay_swaps_both_images_never_pulls_and_leaves_the_webhooks_alone() -> None:
    overlay = keda.overlay("kconnect.local/keda:v2.21.0")
    assert overlay["resources"] == ["../config/minimal"]
    assert overlay["images"] == [
        {"name": "ghcr.io/kedacore/keda", "newName": "kconnect.local/keda", "newTag": "v2.21.0"},
        {
            "name": "ghcr.io/kedacore/keda-metrics-apiserver",
            "newName": "kconnect.local/keda",
            "newTag": "v2.21.0",
        },
    ]
    patches = {p["target"]["name"]: json.loads(p["patch"]) for p in overlay["patches"]}
    for ops in patches.values():
        assert {"op": "replace", "path": "/spec/template/spec/containers/0/imagePullPolicy",
                "value": "Never"} in ops  # fmt: skip
    assert {
        "op": "add",
        "path": "/spec/template/spec/containers/0/args/-",
        "value": "--enable-webhook-patching=false",
    } in patches["keda-operator"]
    assert len(patches["keda-metrics-apiserver"]) == 1
