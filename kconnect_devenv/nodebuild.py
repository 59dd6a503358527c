"""The real node's binaries and images, built once into the cache: kubelet to CoreDNS to pause.

- **kubelet, kube-proxy, kube-scheduler** come from the same wrapper module as the control plane
  (``controlplane/kubernetes``, ``tool`` lines), with the same flags and version stamping
  (:func:`kconnect_devenv.controlplane.build_plan`'s ldflags), so they are exactly the control
  plane's Kubernetes release.
- **CoreDNS** comes from its own wrapper module (``controlplane/coredns``): a ``main.go`` that
  compiles in only the plugins the cluster DNS uses; the pin and the reason for it are in
  ``controlplane/README.md``.
- **The pause image** is Kubernetes' own ``build/pause/linux/pause.c`` from the pinned
  ``k8s.io/kubernetes`` module zip (in Go's module cache once kubelet is built), compiled
  statically with ``gcc`` and stripped, as ``build/pause/Makefile`` does, with the ``TAG`` that
  Makefile names. It is written as an OCI archive named :data:`PAUSE_IMAGE` prefix + that tag,
  the same way as the Dockerfile there: ``/pause``, user 65535, entrypoint ``/pause``.
- **The CoreDNS image** holds the static ``/coredns`` and nothing else.

Everything lands in ``$KCONNECT_CACHE/node-k8s<v>-coredns<v>/dist`` (``bin/``, ``images/``) with
the complete-or-absent contract of :mod:`kconnect_devenv.builds`: the marker holds a digest of
both wrapper modules, ``main.go``, the image writer and :data:`BUILD_RECIPE`. Go's module and
build caches are the control plane's (``$KCONNECT_CACHE/go``), so the packages the control plane
already compiled are not compiled again.

Fails with :class:`BuildError` naming the target and the tail of its output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final, TextIO

from kconnect_devenv import builds, controlplane, ociimage, processes
from kconnect_devenv.lifecycle import cache_root

SERVICE_DIR: Final = controlplane.SERVICE_DIR
BUILD_RECIPE: Final = "1"
GCC_TIMEOUT_S: Final = 120.0
PAUSE_REPOSITORY: Final = "registry.k8s.io/pause"
COREDNS_REPOSITORY: Final = "kconnect.local/coredns"
KUBERNETES_BINARIES: Final = ("kubelet", "kube-proxy", "kube-scheduler")
BINARIES: Final = (*KUBERNETES_BINARIES, "coredns", "pause")


class BuildError(controlplane.BuildError):
    """A node binary or image could not be built."""


@dataclasses.dataclass(frozen=True)
class NodePins:
    kubernetes: str  # e.g. "v1.34.10"
    coredns: str  # e.g. "v1.13.2"

    @property
    def tag(self) -> str:
        return f"k8s{self.kubernetes[1:]}-coredns{self.coredns[1:]}"


@dataclasses.dataclass(frozen=True)
class Dist:
    """A complete build: where the binaries and image archives are, and the images' names."""

    root: Path
    pause_image: str  # e.g. "registry.k8s.io/pause:3.10.1"
    coredns_image: str

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def images(self) -> tuple[Path, ...]:
        return (self.root / "images" / "pause.tar", self.root / "images" / "coredns.tar")


def read_pins() -> NodePins:
    coredns_mod = SERVICE_DIR / "coredns" / "go.mod"
    coredns = controlplane.module_version(
        coredns_mod.read_text("utf-8"), "github.com/coredns/coredns"
    )
    if coredns is None:
        raise BuildError(f"{coredns_mod}: no requirement on github.com/coredns/coredns")
    return NodePins(kubernetes=controlplane.read_pins().kubernetes, coredns=coredns)


def home_dir(pins: NodePins | None = None) -> Path:
    return cache_root() / f"node-{(pins or read_pins()).tag}"


def dist_dir(pins: NodePins | None = None) -> Path:
    return home_dir(pins) / "dist"


def targets() -> tuple[controlplane.Target, ...]:
    """The Go binaries, stamped like the control plane's."""
    plan = {target.name: target for target in controlplane.build_plan(controlplane.read_pins())}
    stamp = plan["kube-apiserver"].ldflags
    return (
        *(
            controlplane.Target(name, "kubernetes", f"k8s.io/kubernetes/cmd/{name}", stamp)
            for name in KUBERNETES_BINARIES
        ),
        controlplane.Target("coredns", "coredns", "kconnect.local/controlplane/coredns", ()),
    )


def pause_tag(makefile: str) -> str:
    """The pause image's tag from ``build/pause/Makefile`` (``TAG ?= 3.10.1``)."""
    match = re.search(r"^TAG\s*\?=\s*(\S+)", makefile, re.MULTILINE)
    if match is None:
        raise BuildError("build/pause/Makefile names no TAG")
    return match.group(1)


def pause_source_dir(kubernetes: str) -> Path:
    return cache_root() / "go" / "mod" / f"k8s.io/kubernetes@{kubernetes}" / "build" / "pause"


def _digest() -> str:
    digest = hashlib.sha256(BUILD_RECIPE.encode())
    digest.update(controlplane.BUILD_RECIPE.encode())
    for relative in (
        "kubernetes/go.mod",
        "kubernetes/go.sum",
        "coredns/go.mod",
        "coredns/go.sum",
        "coredns/main.go",
    ):
        digest.update(f"{relative}\0".encode())
        digest.update((SERVICE_DIR / relative).read_bytes())
    digest.update(Path(ociimage.__file__).read_bytes())
    return digest.hexdigest()


def _required() -> tuple[str, ...]:
    return (*(f"bin/{name}" for name in BINARIES), "images/pause.tar", "images/coredns.tar")


def _dist(root: Path, pins: NodePins) -> Dist:
    tag = (root / "pause-tag").read_text("ascii").strip()
    return Dist(
        root=root,
        pause_image=f"{PAUSE_REPOSITORY}:{tag}",
        coredns_image=f"{COREDNS_REPOSITORY}:{pins.coredns}",
    )


def built() -> Dist | None:
    """The build of the current pins if it is complete in the cache, else None."""
    with contextlib.suppress(OSError, controlplane.ControlPlaneError):
        pins = read_pins()
        root = dist_dir(pins)
        if builds.is_complete(root, home_dir(pins) / "built", _digest(), _required()):
            return _dist(root, pins)
    return None


def build(progress: Callable[[str], None] | None = None) -> Dist:
    """The node's binaries and images, built on first use; instant once done."""
    done = built()
    if done is not None:
        return done
    pins = read_pins()
    home = home_dir(pins)

    def write(partial: Path) -> None:
        (partial / "bin").mkdir()
        (partial / "images").mkdir()
        with (home / "build.log").open("a", encoding="utf-8") as log:
            controlplane.go_build_all(targets(), partial / "bin", log, progress)
            tag = _build_pause(pins, partial / "bin" / "pause", log)
        (partial / "pause-tag").write_text(tag + "\n", "ascii")
        ociimage.write_archive(
            ociimage.Image(
                reference=f"{PAUSE_REPOSITORY}:{tag}",
                files=(ociimage.File("/pause", (partial / "bin" / "pause").read_bytes()),),
                entrypoint=("/pause",),
                user="65535:65535",
            ),
            partial / "images" / "pause.tar",
        )
        ociimage.write_archive(
            ociimage.Image(
                reference=f"{COREDNS_REPOSITORY}:{pins.coredns}",
                files=(ociimage.File("/coredns", (partial / "bin" / "coredns").read_bytes()),),
                entrypoint=("/coredns",),
            ),
            partial / "images" / "coredns.tar",
        )
        if progress is not None:
            progress(f"built the pause image {tag} and the CoreDNS image {pins.coredns}")

    root = builds.produce(
        dist_dir(pins),
        home / "built",
        digest=_digest,
        done=lambda: built() is not None,
        write=write,
    )
    return _dist(root, pins)


def _build_pause(pins: NodePins, output: Path, log: TextIO) -> str:
    source = pause_source_dir(pins.kubernetes)
    tag = pause_tag((source / "Makefile").read_text("utf-8"))
    gcc = shutil.which("gcc")
    strip = shutil.which("strip")
    if gcc is None or strip is None:
        raise BuildError("'gcc' and 'strip' are needed to build the pause image (apt: gcc)")
    # build/pause/Makefile: CFLAGS = -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV), then strip.
    for command in (
        [
            gcc, "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{tag}-{pins.kubernetes}",
            "-o", str(output), str(source / "linux" / "pause.c"),
        ],
        [strip, str(output)],
    ):  # fmt: skip
        log.write(f"# {' '.join(command)}\n")
        result = processes.run_tool(
            command, what=command[0], timeout=GCC_TIMEOUT_S, error=BuildError
        )
        log.write(result.stdout + result.stderr)
        log.flush()
        if result.returncode != 0:
            raise BuildError(
                f"{' '.join(command)} exited with {result.returncode}:\n"
                f"{processes.tail_text(result.stdout + result.stderr, 20)}"
            )
    return tag
