"""KEDA for the e2e tier: its operator and metrics adapter built from the pinned Go module, one
local image of both, and its own manifests set to that image.

No image registry is reachable, so ``ghcr.io/kedacore/keda`` and ``keda-metrics-apiserver``
cannot be pulled. Their stand-ins are built here from the release's source instead:

- **Binaries.** ``keda`` (``github.com/kedacore/keda/v2/cmd/operator``) and ``keda-adapter``
  (``cmd/adapter``, the external metrics API server) come from the wrapper module
  ``controlplane/keda`` (its ``go.mod`` and ``go.sum`` pin KEDA and repeat its replace and
  exclude lines), built with the control plane's Go environment (static, ``-mod=readonly``) and
  stamped with the release's version, as KEDA's Makefile does. They are cached as
  ``$KCONNECT_CACHE/keda/bin/{keda,keda-adapter}`` with the contract of
  :func:`kconnect_devenv.builds.produce`: complete or absent, rebuilt when the pins change. KEDA
  links the SDKs of every cloud its scalers talk to, so the first build is the slow part (each
  binary's time is in ``$KCONNECT_CACHE/keda/build.log``); the admission webhooks are not built.
- **One image** (:data:`IMAGE`) holds both binaries at the paths KEDA's manifests run (``/keda``,
  ``/keda-adapter``), an ``/etc/passwd`` naming the user they run as (65532, ``nonroot``, as in
  KEDA's distroless images), and nothing else: no shell, no CA bundle (a scaler that talks TLS
  gets its CA from a TriggerAuthentication or ``--ca-dir``). Its config says ``User:
  65532:65532``, so KEDA's ``runAsNonRoot`` pods start. It is a one-layer OCI archive
  (:mod:`kconnect_devenv.ociimage`) under ``$KCONNECT_CACHE/keda/images``, written once per build,
  for the node to import.
- **Manifests** (:func:`render`): KEDA's own ``config/minimal`` from the module's source (CRDs,
  namespace ``keda``, RBAC, the operator, the metrics adapter and its APIService; no admission
  webhooks), through a kustomize overlay (:func:`overlay`) that only swaps the images for
  :data:`IMAGE`, sets ``imagePullPolicy: Never`` and tells the operator not to look for the
  webhooks' configuration. The operator generates and rotates the adapter's certificates itself
  (``--enable-cert-rotation``) and writes their CA into the APIService, as upstream.

Stdlib only, like the services.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Final

from kconnect_devenv import builds, controlplane, ociimage, processes
from kconnect_devenv.lifecycle import ServiceError, cache_root

MODULE_DIR: Final = "keda"
MODULE: Final = "github.com/kedacore/keda/v2"
BUILD_RECIPE: Final = "1"
IMAGE_RECIPE: Final = "1"
BINARIES: Final = ("keda", "keda-adapter")
IMAGE_REPOSITORY: Final = "kconnect.local/keda"
IMAGE_ARCHIVE: Final = "keda.tar"
USER: Final = "65532:65532"
"""KEDA's images' user (distroless ``nonroot``)."""
RENDER_TIMEOUT_S: Final = 60.0

UPSTREAM_IMAGES: Final = ("ghcr.io/kedacore/keda", "ghcr.io/kedacore/keda-metrics-apiserver")
"""The images KEDA's manifests name, both replaced by :data:`IMAGE`."""

PASSWD: Final = (
    b"root:x:0:0:root:/root:/sbin/nologin\n"
    b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP: Final = b"root:x:0:\nnonroot:x:65532:\n"


class KedaError(ServiceError):
    pass


def version() -> str:
    """The KEDA release the wrapper module pins, e.g. ``v2.21.0``."""
    path = controlplane.SERVICE_DIR / MODULE_DIR / "go.mod"
    found = controlplane.module_version(path.read_text("utf-8"), MODULE)
    if found is None:
        raise KedaError(f"{path}: no requirement on {MODULE}; expected e.g. v2.21.0")
    return found


def image() -> str:
    """The reference of the local image, e.g. ``kconnect.local/keda:v2.21.0``."""
    return f"{IMAGE_REPOSITORY}:{version()}"


def targets(release: str) -> tuple[controlplane.Target, ...]:
    stamp = (f"-X={MODULE}/version.Version={release}",)
    return (
        controlplane.Target("keda", MODULE_DIR, f"{MODULE}/cmd/operator", stamp),
        controlplane.Target("keda-adapter", MODULE_DIR, f"{MODULE}/cmd/adapter", stamp),
    )


def home_dir() -> Path:
    return cache_root() / "keda"


def source_dir() -> Path:
    """KEDA's module source, as the build downloaded it into Go's module cache."""
    return cache_root() / "go" / "mod" / f"{MODULE}@{version()}"


def _digest() -> str:
    return controlplane.modules_digest((BUILD_RECIPE, controlplane.BUILD_RECIPE), (MODULE_DIR,))


def _image_digest() -> str:
    digest = hashlib.sha256((IMAGE_RECIPE + _digest()).encode())
    digest.update(Path(ociimage.__file__).read_bytes())
    return digest.hexdigest()


def built() -> Path | None:
    """The bin directory if a complete build of the current pins is cached, else None."""
    return controlplane.cached_binaries(home_dir(), _digest, BINARIES)


def build() -> Path:
    """``keda`` and ``keda-adapter``, built on first use; returns their directory."""
    return controlplane.build_binaries_once(home_dir(), targets(version()), _digest, BINARIES)


def image_spec(bin_dir: Path, reference: str) -> ociimage.Image:
    """The image of both binaries, run as KEDA's non-root user."""
    return ociimage.Image(
        reference=reference,
        files=(
            ociimage.File("/keda", (bin_dir / "keda").read_bytes()),
            ociimage.File("/keda-adapter", (bin_dir / "keda-adapter").read_bytes()),
            ociimage.File("/etc/passwd", PASSWD, 0o644),
            ociimage.File("/etc/group", GROUP, 0o644),
        ),
        entrypoint=("/keda",),
        user=USER,
    )


def _image_built() -> Path | None:
    with contextlib.suppress(OSError, ServiceError):
        home = home_dir()
        if builds.is_complete(
            home / "images", home / "images.built", _image_digest(), (IMAGE_ARCHIVE,)
        ):
            return home / "images" / IMAGE_ARCHIVE
    return None


def image_archive() -> Path:
    """The image's OCI archive, for ``ctr images import``; builds the binaries if needed."""
    done = _image_built()
    if done is not None:
        return done
    bin_dir = build()
    reference = image()

    def write(partial: Path) -> None:
        ociimage.write_archive(image_spec(bin_dir, reference), partial / IMAGE_ARCHIVE)

    home = home_dir()
    builds.produce(
        home / "images",
        home / "images.built",
        digest=_image_digest,
        done=lambda: _image_built() is not None,
        write=write,
    )
    return home / "images" / IMAGE_ARCHIVE


def overlay(reference: str, base: str = "../config/minimal") -> dict[str, object]:
    """The kustomization over KEDA's ``config/minimal``: the local image, never pulled, and an
    operator that does not patch the admission webhooks' configuration, which is not installed."""
    name, _, tag = reference.rpartition(":")
    never_pull = {
        "op": "replace",
        "path": "/spec/template/spec/containers/0/imagePullPolicy",
        "value": "Never",
    }
    no_webhooks = {
        "op": "add",
        "path": "/spec/template/spec/containers/0/args/-",
        "value": "--enable-webhook-patching=false",
    }
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
        "images": [
            {"name": upstream, "newName": name, "newTag": tag} for upstream in UPSTREAM_IMAGES
        ],
        "patches": [
            {
                "target": {"kind": "Deployment", "name": "keda-operator"},
                "patch": json.dumps([never_pull, no_webhooks]),
            },
            {
                "target": {"kind": "Deployment", "name": "keda-metrics-apiserver"},
                "patch": json.dumps([never_pull]),
            },
        ],
    }


def render(kubectl: Path, reference: str | None = None) -> str:
    """KEDA's manifests for this cluster, as YAML: ``kubectl kustomize`` of :func:`overlay` over a
    copy of the module's ``config/`` (the module cache is not a place to write an overlay in)."""
    config = source_dir() / "config"
    if not (config / "minimal" / "kustomization.yaml").is_file():
        raise KedaError(f"{config}: KEDA's manifests are missing; run `make keda-build` first")
    with tempfile.TemporaryDirectory(prefix="kconnect-keda-") as work:
        shutil.copytree(config, Path(work) / "config")
        (Path(work) / "overlay").mkdir()
        # JSON is YAML: kustomize reads it as it is.
        (Path(work) / "overlay" / "kustomization.yaml").write_text(
            json.dumps(overlay(reference or image()), indent=2) + "\n", "utf-8"
        )
        result = processes.run_tool(
            [str(kubectl), "kustomize", str(Path(work) / "overlay")],
            what="kubectl kustomize (KEDA's manifests)",
            timeout=RENDER_TIMEOUT_S,
            error=KedaError,
        )
    if result.returncode != 0:
        raise KedaError(f"kubectl kustomize of KEDA's manifests failed: {result.stderr.strip()}")
    return result.stdout


def main() -> int:
    print(build())
    print(image_archive())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
