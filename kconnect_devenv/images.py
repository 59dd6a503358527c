"""``make images``: the worker and operator images, built from the project's own Dockerfile.

The images are built by the project's engine (:mod:`kconnect_devenv.engine`) on the local Debian
bases (:mod:`kconnect_devenv.baseimage`), since no registry is reachable for ``python:3.11-slim``:

- the final stages get ``PYTHON_IMAGE`` = the runtime base (Python 3.11, no compiler);
- the build stages get ``BUILD_IMAGE`` = the *build environment*: the build base (Python 3.11 with
  ``gcc`` and the headers, so the Dockerfile's ``KCONNECT_NATIVE=require`` compiles kconnect's
  native module) with this machine's package-index settings on top.

Invariants:

- **The machine's index settings reach the build stages only.** pip in a build stage must reach
  the package index as this machine's pip does: its index URLs, trusted hosts, proxy, timeout and
  CA bundle, read at run time from ``pip config list`` (files and ``PIP_*`` variables alike). They
  are written into the build environment image (``/etc/pip.conf``, ``/etc/kconnect-build/``),
  which only the build stages start from; the final stages start from the runtime base and copy
  nothing but the venv. Find-links (local wheel directories) are not carried: the image installs
  from its hash-pinned lock and the index. tests/integration/test_images.py checks that the shipped
  images carry no pip configuration, no ``PIP_*`` variable, nothing of it in their history, and
  none of the machine's extra CA certificates.
- **The classic builder** (``DOCKER_BUILDKIT=0``): it parses the Dockerfile itself and needs
  nothing from a registry, whereas BuildKit first fetches the image a ``# syntax=`` line names
  (the Dockerfile has none, for builders elsewhere too). Builds use ``--network host``, so pip
  reaches the index the way the machine does; the engine has no network of its own.
- **Cached.** The bases are made once (``$KCONNECT_CACHE/images``); the engine keeps its build
  cache between runs (``$KCONNECT_CACHE/engine/images``), so a build with nothing changed reruns
  no step, and a source edit reruns only ``pip install .`` and what follows. Each build stage is
  tagged (``kconnect-build-cache:<stage>``) and layers no tag reaches are pruned after a build, so
  the cache keeps the locked dependencies and does not grow with every edit. The labels' build
  arguments come from the checkout (the project's version, ``git rev-parse HEAD`` and the commit's
  time), so an unchanged checkout gives unchanged labels and cached final stages.
- **Archives for other runtimes** (:func:`archive`): ``docker save`` of an image, kept once per
  image ID, complete or absent (written aside and renamed).
- **Failures say where.** A failed ``docker build`` raises :class:`ImageBuildError` with the tail
  of its log, kept in ``$KCONNECT_CACHE/images/build-<target>.log``.

Stdlib only, like the services.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from kconnect_devenv import baseimage, engine, processes
from kconnect_devenv.engine import Engine
from kconnect_devenv.lifecycle import ServiceError, cache_root

REPO: Final = Path(__file__).resolve().parent.parent
DOCKERFILE: Final = REPO / "Dockerfile"

# The Dockerfile's final stages and the local names of their images (e2e/kind/kind-up.sh's too).
TARGETS: Final = {"worker": "kconnect-worker:dev", "operator": "kconnect-operator:dev"}
# Each final stage's build stage, tagged so that its layers (the locked dependencies above all)
# are never "dangling" and survive the prune of superseded layers after a build.
BUILD_STAGES: Final = {"worker": "build-worker", "operator": "build-operator"}
BUILD_CACHE_REPOSITORY: Final = "kconnect-build-cache"
BUILD_ENV_TAG: Final = "kconnect-build-env:local"
INPUTS_LABEL: Final = "io.kconnect.build-inputs"
"""On each image built from a clean checkout: a digest of what it was built from (see
:func:`inputs_digest`), so that the same inputs are not built again."""
BUILD_CONFIG_DIR: Final = "/etc/kconnect-build"

# The settings of pip's that say how to reach the index; anything else stays on the machine.
PIP_KEYS: Final = (
    "index-url",
    "extra-index-url",
    "trusted-host",
    "cert",
    "client-cert",
    "proxy",
    "timeout",
    "retries",
)
PIP_FILE_KEYS: Final = {"cert": "ca.pem", "client-cert": "client.pem"}
PIP_KEY_ALIASES: Final = {"default-timeout": "timeout"}  # PIP_DEFAULT_TIMEOUT

BUILD_TIMEOUT_S: Final = 1800.0
SMALL_TIMEOUT_S: Final = 120.0
PIP_CONFIG_TIMEOUT_S: Final = 60.0
LOG_TAIL_LINES: Final = 40


class ImageBuildError(ServiceError):
    """An image could not be built; the message says which and shows the end of its log."""


# --------------------------------------------------------------------------------------------------
# Pure parts: the machine's pip settings, the build environment, the build's arguments.


@dataclasses.dataclass(frozen=True)
class PipSettings:
    """What pip in a build stage needs to reach the index as this machine's pip does."""

    values: Mapping[str, str]  # pip.conf's [global], file settings pointing into the image
    files: Mapping[str, Path]  # a name under BUILD_CONFIG_DIR: the machine's file to copy there

    def pip_conf(self) -> str:
        lines = ["[global]", *(f"{key} = {value}" for key, value in sorted(self.values.items()))]
        return "\n".join(lines) + "\n"


def parse_pip_config_list(text: str) -> dict[str, str]:
    """The effective value of each of :data:`PIP_KEYS` from ``pip config list`` output.

    Each line is ``<section>.<key>=<python repr>``; the environment (section ``:env:``) overrides
    an ``install`` setting, which overrides a ``global`` one, as pip itself decides.
    """
    ranked: dict[str, tuple[int, str]] = {}
    rank = {"global": 0, "install": 1, ":env:": 2}
    for line in text.splitlines():
        name, sep, raw = line.partition("=")
        section, dot, key = name.rpartition(".")
        if not sep or not dot or section not in rank:
            continue
        key = PIP_KEY_ALIASES.get(key, key)
        if key not in PIP_KEYS:
            continue
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        if not isinstance(value, str):
            continue
        if key not in ranked or ranked[key][0] <= rank[section]:
            ranked[key] = (rank[section], value)
    return {key: value for key, (_, value) in ranked.items()}


def pip_settings(config: Mapping[str, str]) -> PipSettings:
    """The build environment's pip settings from the machine's: files are copied in, and the
    settings that name them point at the copies."""
    values: dict[str, str] = {}
    files: dict[str, Path] = {}
    for key, value in config.items():
        if key in PIP_FILE_KEYS:
            source = Path(value).expanduser()
            if not source.is_file():
                raise ImageBuildError(f"pip's {key} is {value}, which is not a file")
            files[PIP_FILE_KEYS[key]] = source
            values[key] = f"{BUILD_CONFIG_DIR}/{PIP_FILE_KEYS[key]}"
        else:
            values[key] = value
    return PipSettings(values, files)


def build_env_dockerfile(build_base: str, settings: PipSettings) -> str:
    lines = [
        "# The build stages' base: the build base with this machine's package-index settings.",
        f"FROM {build_base}",
        "COPY pip.conf /etc/pip.conf",
    ]
    lines += [f"COPY {name} {BUILD_CONFIG_DIR}/{name}" for name in sorted(settings.files)]
    return "\n".join(lines) + "\n"


def build_env_context(build_base: str, settings: PipSettings) -> bytes:
    """A tar build context: the Dockerfile, ``pip.conf`` and the files pip's settings name."""
    members = {
        "Dockerfile": build_env_dockerfile(build_base, settings).encode(),
        "pip.conf": settings.pip_conf().encode(),
    }
    for name, source in settings.files.items():
        members[name] = source.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclasses.dataclass(frozen=True)
class Labels:
    version: str
    revision: str
    created: str


def project_version(repo: Path = REPO) -> str:
    return str(tomllib.loads((repo / "pyproject.toml").read_text("utf-8"))["project"]["version"])


def checkout_labels(repo: Path = REPO) -> Labels:
    """The version of ``pyproject.toml``, and the commit and its time when ``repo`` is a git
    checkout (else ``unknown`` and empty)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(repo), *args],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    return Labels(
        version=project_version(repo),
        revision=git("rev-parse", "HEAD") or "unknown",
        created=git("log", "-1", "--format=%cI"),
    )


def build_args(
    target: str, python_image: str, build_image: str, labels: Labels, tag: str | None = None
) -> list[str]:
    """``docker build`` options for the Dockerfile's stage ``target``, tagged ``tag`` (by default
    the final stage's image name)."""
    args = {
        "PYTHON_IMAGE": python_image,
        "BUILD_IMAGE": build_image,
        "VERSION": labels.version,
        "REVISION": labels.revision,
        "CREATED": labels.created,
    }
    return [
        "--network=host",
        f"--file={DOCKERFILE}",
        f"--target={target}",
        f"--tag={tag or TARGETS[target]}",
        *(f"--build-arg={key}={value}" for key, value in args.items()),
        str(REPO),
    ]


# --------------------------------------------------------------------------------------------------
# Building.


def machine_pip_config() -> dict[str, str]:
    """This machine's pip settings for reaching the index (see :func:`parse_pip_config_list`)."""
    result = processes.run_tool(
        [sys.executable, "-m", "pip", "config", "list"],
        what="pip config list",
        timeout=PIP_CONFIG_TIMEOUT_S,
        error=ImageBuildError,
    )
    if result.returncode != 0:
        raise ImageBuildError(f"pip config list exited with {result.returncode}: {result.stderr}")
    return parse_pip_config_list(result.stdout)


def build_log(target: str) -> Path:
    return cache_root() / "images" / f"build-{target}.log"


def build_lock() -> contextlib.AbstractContextManager[None]:
    """Held by every image build and prune of this cache's engine (``images/build.lock``).

    Sessions that build beside each other (parallel test sessions, two checkouts) would otherwise
    write the same logs and tags at once, and a prune could delete the untagged layer a build has
    just made and is about to build on. A build that waited finds the engine's cache warm.
    """
    return processes.locked(cache_root() / "images" / "build.lock")


def docker_build(engine_: Engine, target: str, options: Sequence[str], stdin: bytes | None) -> None:
    """``docker build OPTIONS`` (``stdin`` is the context when the context is ``-``), its output
    kept in :func:`build_log` of ``target``, under :func:`build_lock`. A failed step's container
    is removed too."""
    log = build_log(target)
    log.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(), log.open("wb") as out:
        try:
            done = subprocess.run(
                [str(engine.DOCKER), "build", "--force-rm", *options],
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=engine_.client_env(),
                cwd=REPO,
                timeout=BUILD_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ImageBuildError(
                f"docker build of {target} did not finish within {BUILD_TIMEOUT_S:.0f}s "
                f"(log: {log})"
            ) from exc
    if done.returncode != 0:
        tail = processes.tail_text(log.read_text("utf-8", errors="replace"), LOG_TAIL_LINES)
        raise ImageBuildError(
            f"docker build of {target} exited with {done.returncode} (log: {log}):\n{tail}"
        )


def inputs_digest(
    engine_: Engine, labels: Labels, settings: PipSettings, repo: Path = REPO
) -> str | None:
    """A digest of everything an image build reads, or None when the checkout cannot name it.

    The context is the checkout, named by its commit only when git sees no change to it (no
    modified, staged or untracked file that git does not ignore); then the commit, the bases'
    image IDs (imported here once, :func:`baseimage.ensure`), the labels and the pip settings of
    the build environment fix the images. A checkout with changes, or outside git, is always
    built (docker's layer cache still makes an unchanged step quick)."""
    if labels.revision == "unknown":
        return None
    status = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=normal"],
        capture_output=True,
        text=True,
        timeout=SMALL_TIMEOUT_S,
        check=False,
    )
    if status.returncode != 0 or status.stdout.strip():
        return None
    bases = [
        image_id(engine_, baseimage.ensure(engine_, base))
        for base in (baseimage.RUNTIME, baseimage.BUILD)
    ]
    files = [f"{name}={path}" for name, path in sorted(settings.files.items())]
    parts = [labels.revision, labels.version, labels.created, *bases, settings.pip_conf(), *files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def built_from(engine_: Engine, tag: str) -> str | None:
    """The inputs digest ``tag`` was built from, or None (no such image, or none recorded)."""
    try:
        out = engine_.docker(
            "image",
            "inspect",
            "--format",
            f'{{{{index .Config.Labels "{INPUTS_LABEL}"}}}}',
            tag,
            timeout=SMALL_TIMEOUT_S,
        )
    except engine.EngineError:
        return None
    return out.strip() or None


def build_environment(
    engine_: Engine,
    progress: Callable[[str], None] | None = None,
    settings: PipSettings | None = None,
) -> tuple[str, str]:
    """The runtime base and the build environment in ``engine_``: (PYTHON_IMAGE, BUILD_IMAGE)."""
    runtime = baseimage.ensure(engine_, baseimage.RUNTIME, progress)
    build_base = baseimage.ensure(engine_, baseimage.BUILD, progress)
    if settings is None:
        settings = pip_settings(machine_pip_config())
    context = build_env_context(build_base, settings)
    docker_build(engine_, "build-env", [f"--tag={BUILD_ENV_TAG}", "-"], context)
    return runtime, BUILD_ENV_TAG


def build(
    engine_: Engine,
    targets: Sequence[str] = tuple(TARGETS),
    progress: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Build ``targets`` of the Dockerfile in ``engine_``; returns each target's image tag.

    Each target's build stage is built and tagged first (from the same cache), then the target;
    afterwards the layers that no tag reaches any more (those of earlier sources) are pruned, so
    the engine's data root does not grow with every edit.
    """
    labels = checkout_labels()
    settings = pip_settings(machine_pip_config())
    digest = inputs_digest(engine_, labels, settings)
    if digest is not None and all(built_from(engine_, TARGETS[t]) == digest for t in targets):
        if progress is not None:
            progress(f"{', '.join(TARGETS[t] for t in targets)}: built from these inputs already")
        _prune(engine_)
        return {t: TARGETS[t] for t in targets}
    python_image, build_image = build_environment(engine_, progress, settings)
    stamp = [] if digest is None else [f"--label={INPUTS_LABEL}={digest}"]
    built: dict[str, str] = {}
    for target in targets:
        if progress is not None:
            progress(f"Building {TARGETS[target]} (log: {build_log(target)}) ...")
        stage = BUILD_STAGES[target]
        cache_tag = f"{BUILD_CACHE_REPOSITORY}:{stage}"
        stage_args = build_args(stage, python_image, build_image, labels, tag=cache_tag)
        docker_build(engine_, stage, stage_args, None)
        target_args = build_args(target, python_image, build_image, labels)
        docker_build(engine_, target, [*stamp, *target_args], None)
        built[target] = TARGETS[target]
    _prune(engine_)
    return built


def _prune(engine_: Engine) -> None:
    """Delete the layers no tag reaches any more (those of earlier sources)."""
    with build_lock():
        engine_.docker("image", "prune", "--force", timeout=SMALL_TIMEOUT_S)


def image_size(engine_: Engine, tag: str) -> int:
    """The image's size in bytes, uncompressed, as ``docker images`` shows it."""
    out = engine_.docker("image", "inspect", "--format", "{{.Size}}", tag, timeout=SMALL_TIMEOUT_S)
    return int(out.strip())


def image_id(engine_: Engine, tag: str) -> str:
    """The image's ID, ``sha256:<hex>``: a digest of its configuration, so of its content."""
    return engine_.docker("image", "inspect", "--format", "{{.Id}}", tag, timeout=SMALL_TIMEOUT_S)


def archive(engine_: Engine, tag: str) -> Path:
    """``docker save`` of ``tag``, for loading into another runtime (``ctr images import``).

    Cached by the image's ID under ``$KCONNECT_CACHE/images/archives``: complete or absent, and
    an unchanged image is not saved again.
    """
    identity = image_id(engine_, tag).strip().removeprefix("sha256:")[:16]
    name = tag.replace("/", "_").replace(":", "_")
    directory = cache_root() / "images" / "archives"
    path = directory / f"{name}-{identity}.tar"
    if path.is_file():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        engine_.docker("image", "save", "--output", str(partial), tag, timeout=BUILD_TIMEOUT_S)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    for old in directory.glob(f"{name}-*.tar"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------------------------------
# Command line: python -m kconnect_devenv.images build [TARGET ...]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kconnect_devenv.images",
        description="Build the worker and operator images from the Dockerfile, on local Debian "
        "bases, in the project's own Docker engine (started for the build if it is not running).",
    )
    parser.add_argument("command", choices=["build"])
    parser.add_argument(
        "targets", nargs="*", metavar="TARGET", help=f"of {', '.join(TARGETS)} (default: all)"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)}; expected {', '.join(TARGETS)}")
    # SIGTERM unwinds like Ctrl-C, so an engine started for the build is stopped.
    signal.signal(signal.SIGTERM, processes.exit_on_sigterm)
    began = time.monotonic()
    try:
        with engine.session() as running:
            tags = build(running, args.targets or list(TARGETS), progress=_say)
            for tag in tags.values():
                print(f"{tag}: {image_size(running, tag) / 1e6:.0f} MB")
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Images built in {time.monotonic() - began:.1f}s.")
    return 0


def _say(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    sys.exit(main())
