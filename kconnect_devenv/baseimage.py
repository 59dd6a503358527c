"""The images' local Python bases: Debian bookworm with Python 3.11, made by ``debootstrap``.

No image registry is reachable here, so ``python:3.11-slim`` and ``python:3.11`` (the Dockerfile's
defaults for everyone else) cannot be pulled. Their stand-ins come from the machine's Debian
archive instead, and are imported into the project's engine (:mod:`kconnect_devenv.engine`):

- :data:`RUNTIME`, the ``PYTHON_IMAGE`` of the final stages: ``python3`` and what
  ``python:3.11-slim`` also has (CA certificates, netbase, tzdata); no compiler.
- :data:`BUILD`, under the ``BUILD_IMAGE`` of the build stages: the same plus ``gcc``, the Python
  headers and ``venv``, so that ``pip install .`` compiles kconnect's native module.

Both have the interpreter at the same path (``/usr/bin/python3.11``, with ``python`` and
``python3`` beside it): the build stages' venv is copied into the runtime base and its links must
resolve there, as they do between ``python:3.11`` and ``python:3.11-slim``.

Invariants:

- **The mirror is the machine's.** It is read at run time from the machine's apt sources
  (``/etc/apt/sources.list`` and ``sources.list.d``, one-line and deb822 forms), never written into
  the project, and apt's HTTP proxy, if one is set, is passed on. Nothing that names it stays in
  the images: the rootfs loses ``etc/apt/sources.list``, apt's lists and logs, and the
  ``resolv.conf`` and ``hostname`` debootstrap copies from the host (the engine provides its own).
- **Built once, complete or absent.** Each base is a ``rootfs.tar`` under
  ``$KCONNECT_CACHE/images/<name>-<digest>/``, made by :func:`kconnect_devenv.builds.produce` and
  keyed by a digest of the recipe (suite, variant, packages, the clean-up), so a changed recipe
  builds again. Downloaded packages are kept in ``$KCONNECT_CACHE/images/debs``, so the second base
  and any rebuild download only what is new. debootstrap mounts ``proc`` and ``sys`` inside the
  rootfs while it runs; whatever it leaves mounted there, also after a failure, is unmounted before
  the rootfs is removed.
- **Imported once per engine** as ``kconnect-python:<3.11-bookworm>-<digest>`` (or
  ``kconnect-python-build:...``), with ``docker import --change`` for what an imported filesystem
  lacks: ``PATH`` (an imported image has none), ``LANG`` and the default command.
- **It fails with the reason:** debootstrap's exit code and the tail of its log, a machine without a
  Debian archive in its apt sources, a user who is not root.

Stdlib only, like the services.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from kconnect_devenv import builds, debian, mounts, processes
from kconnect_devenv.engine import Engine, EngineError
from kconnect_devenv.lifecycle import ServiceError, cache_root

SUITE: Final = "bookworm"  # Debian 12: Python 3.11, the images' Python
VARIANT: Final = "minbase"
KEYRING: Final = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
TOOLS: Final = ("debootstrap", "debian-archive-keyring")
# Bumped whenever the rootfs is made or cleaned differently, so old tarballs are rebuilt.
RECIPE: Final = "1"

DEBOOTSTRAP_TIMEOUT_S: Final = 1800.0
TAR_TIMEOUT_S: Final = 600.0
IMPORT_TIMEOUT_S: Final = 600.0
INSPECT_TIMEOUT_S: Final = 60.0
LOG_TAIL_LINES: Final = 30

APT_SOURCES: Final = Path("/etc/apt/sources.list")
APT_SOURCES_DIR: Final = Path("/etc/apt/sources.list.d")

# What `docker import` must add: an imported filesystem has no PATH, no locale, no command.
IMAGE_PATH: Final = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE_CHANGES: Final = (f"ENV PATH={IMAGE_PATH}", "ENV LANG=C.UTF-8", 'CMD ["python3"]')

# Left out as debian:bookworm-slim (python:3.11-slim's base) leaves them out; copyrights stay.
SLIM_DIRS: Final = ("usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian")
# Copied from the host or naming the mirror: the engine provides the first two at run time.
HOST_FILES: Final = ("etc/resolv.conf", "etc/hostname", "etc/apt/sources.list")
HOST_DIRS: Final = ("var/lib/apt/lists", "var/cache/apt", "var/log")


class BaseImageError(ServiceError):
    """A base image could not be made or imported; the message says why."""


@dataclasses.dataclass(frozen=True)
class Base:
    """One local base image: its name and the Debian packages debootstrap adds to minbase."""

    name: str
    repository: str
    packages: tuple[str, ...]

    def digest(self) -> str:
        recipe = {
            "suite": SUITE,
            "variant": VARIANT,
            "packages": sorted(self.packages),
            "changes": IMAGE_CHANGES,
            "slim": SLIM_DIRS,
            "host": [HOST_FILES, HOST_DIRS],
            "recipe": RECIPE,
        }
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()

    @property
    def tag(self) -> str:
        """The image's local name, e.g. ``kconnect-python:3.11-bookworm-0123456789ab``."""
        return f"{self.repository}:3.11-{SUITE}-{self.digest()[:12]}"

    def home(self) -> Path:
        return cache_root() / "images" / f"{self.name}-{self.digest()[:12]}"

    def tarball(self) -> Path:
        return self.home() / "rootfs" / "rootfs.tar"


# python-is-python3: `python` at /usr/bin/python, which the Dockerfile's `python -m venv` runs and
# the venv's links then name, in both bases alike.
_RUNTIME_PACKAGES: Final = ("python3", "python-is-python3", "ca-certificates", "netbase", "tzdata")

RUNTIME: Final = Base("runtime", "kconnect-python", _RUNTIME_PACKAGES)
BUILD: Final = Base(
    "build",
    "kconnect-python-build",
    (*_RUNTIME_PACKAGES, "python3-venv", "python3-dev", "gcc", "libc6-dev"),
)


# --------------------------------------------------------------------------------------------------
# Pure parts: the machine's apt sources.


@dataclasses.dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]


def parse_one_line_sources(text: str) -> list[AptSource]:
    """``deb [options] URI SUITE COMPONENT...`` lines; ``deb-src`` and comments are skipped."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        line = re.sub(r"\[[^\]]*\]", " ", line)  # [arch=amd64 signed-by=...]
        words = line.split()
        if len(words) >= 3 and words[0] == "deb":
            found.append(AptSource(words[1], (words[2],)))
    return found


def parse_deb822_sources(text: str) -> list[AptSource]:
    """The stanzas of a ``.sources`` file whose ``Types`` include ``deb`` and that are enabled."""
    found: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        found.extend(AptSource(uri, suites) for uri in fields.get("uris", "").split())
    return found


def archive_uri(sources: Iterable[AptSource], suite: str = SUITE) -> str | None:
    """The URI of the first source that serves the Debian archive itself: one listing ``suite``,
    else one listing a main suite (not ``-security``, ``-updates`` or ``-backports``)."""
    candidates = [s for s in sources if s.uri.startswith(("http://", "https://", "file:/"))]
    for source in candidates:
        if suite in source.suites:
            return source.uri
    for source in candidates:
        if any(not re.search(r"[-/](security|updates|backports)$", s) for s in source.suites):
            return source.uri
    return None


def machine_sources() -> list[AptSource]:
    sources: list[AptSource] = []
    paths = [APT_SOURCES]
    if APT_SOURCES_DIR.is_dir():
        paths += sorted(APT_SOURCES_DIR.iterdir())
    for path in paths:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if path.name.endswith(".sources"):
                sources += parse_deb822_sources(path.read_text("utf-8"))
            elif path.name.endswith(".list"):
                sources += parse_one_line_sources(path.read_text("utf-8"))
    return sources


def machine_mirror() -> str:
    """The Debian archive this machine's apt uses, for debootstrap."""
    uri = archive_uri(machine_sources())
    if uri is None:
        raise BaseImageError(
            f"no Debian archive in the machine's apt sources ({APT_SOURCES}, {APT_SOURCES_DIR}); "
            "debootstrap needs one"
        )
    return uri


def apt_proxy_env() -> dict[str, str]:
    """``http_proxy``/``https_proxy`` from apt's own settings, for debootstrap's downloads."""
    env = {}
    for scheme in ("http", "https"):
        result = processes.run_tool(
            ["apt-config", "shell", "PROXY", f"Acquire::{scheme}::Proxy"],
            what="apt-config",
            timeout=30.0,
            error=BaseImageError,
        )
        words = shlex.split(result.stdout)
        value = next((w.partition("=")[2] for w in words if w.startswith("PROXY=")), "")
        if value and value.upper() != "DIRECT":
            env[f"{scheme}_proxy"] = value
    return env


# --------------------------------------------------------------------------------------------------
# The rootfs tarball.


def built(base: Base) -> Path | None:
    """The base's tarball if a complete one for its current recipe is cached, else None."""
    tarball = base.tarball()
    if builds.is_complete(tarball.parent, _marker(base), base.digest(), [tarball.name]):
        return tarball
    return None


def _marker(base: Base) -> Path:
    return base.home() / "built"


def build(base: Base, progress: Callable[[str], None] | None = None) -> Path:
    """The base's ``rootfs.tar``, made by debootstrap unless cached; returns its path."""
    if built(base) is None and progress is not None:
        progress(f"Making the {base.name} base ({', '.join(base.packages)}) with debootstrap ...")
    builds.produce(
        base.tarball().parent,
        _marker(base),
        digest=base.digest,
        done=lambda: built(base) is not None,
        write=functools.partial(_debootstrap, base),
    )
    return base.tarball()


def _debootstrap(base: Base, output: Path) -> None:
    if os.geteuid() != 0:
        raise BaseImageError("debootstrap needs root, to make the images' base")
    debian.ensure(TOOLS, cache_root())
    mirror = machine_mirror()
    debs = cache_root() / "images" / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    # Beside the output, not in it: a failed attempt's log stays for inspection.
    log = base.home() / "debootstrap.log"
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=output.parent))
    try:
        command = [
            "debootstrap",
            f"--variant={VARIANT}",
            f"--include={','.join(base.packages)}",
            f"--keyring={KEYRING}",
            f"--cache-dir={debs}",
            SUITE,
            str(rootfs),
            mirror,
        ]
        env = {**os.environ, **apt_proxy_env(), "DEBIAN_FRONTEND": "noninteractive"}
        with log.open("wb") as out:
            try:
                # One stream, in order: debootstrap says what failed last, on either of its two.
                done = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    timeout=DEBOOTSTRAP_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise BaseImageError(
                    f"debootstrap of the {base.name} base did not finish within "
                    f"{DEBOOTSTRAP_TIMEOUT_S:.0f}s (log: {log})"
                ) from exc
        if done.returncode != 0:
            tail = processes.tail_text(log.read_text("utf-8", "replace"), LOG_TAIL_LINES)
            detail = rootfs / "debootstrap" / "debootstrap.log"
            with contextlib.suppress(OSError):
                tail += "\n" + processes.tail_text(detail.read_text("utf-8", "replace"), 15)
            raise BaseImageError(
                f"debootstrap of the {base.name} base exited with {done.returncode} "
                f"(log: {log}):\n{tail}"
            )
        mounts.unmount_below(rootfs, BaseImageError)
        clean_rootfs(rootfs)
        tar = processes.run_tool(
            [
                "tar",
                "--numeric-owner",
                "--xattrs",
                "-C",
                str(rootfs),
                "-cf",
                str(output / "rootfs.tar"),
                ".",
            ],
            what="tar",
            timeout=TAR_TIMEOUT_S,
            error=BaseImageError,
        )
        if tar.returncode != 0:
            raise BaseImageError(f"tar of {rootfs} exited with {tar.returncode}: {tar.stderr}")
    finally:
        mounts.unmount_below(rootfs, BaseImageError)
        shutil.rmtree(rootfs, ignore_errors=True)


def clean_rootfs(rootfs: Path) -> None:
    """Remove what names the host or its mirror, and what a slim image leaves out."""
    for name in HOST_FILES:
        (rootfs / name).unlink(missing_ok=True)
    for name in HOST_DIRS:
        _empty_dir(rootfs / name)
    for name in SLIM_DIRS:
        _empty_dir(rootfs / name)
    doc = rootfs / "usr/share/doc"
    if doc.is_dir():
        for package in doc.iterdir():
            if package.is_dir() and not package.is_symlink():
                for item in package.iterdir():
                    if item.name != "copyright":
                        _remove(item)
    # apt's caches are recreated empty, as apt expects its directories to exist.
    for name in ("var/lib/apt/lists/partial", "var/cache/apt/archives/partial"):
        (rootfs / name).mkdir(parents=True, exist_ok=True)


def _empty_dir(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for item in path.iterdir():
            _remove(item)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# The image in the engine.


def has_image(engine: Engine, tag: str) -> bool:
    try:
        engine.docker("image", "inspect", "--format", "{{.Id}}", tag, timeout=INSPECT_TIMEOUT_S)
    except EngineError as exc:
        if "no such image" in str(exc).lower():
            return False
        raise
    return True


def ensure(engine: Engine, base: Base, progress: Callable[[str], None] | None = None) -> str:
    """The base imported into ``engine`` (made first if need be); returns its tag."""
    if has_image(engine, base.tag):
        return base.tag
    tarball = build(base, progress)
    if progress is not None:
        progress(f"Importing the {base.name} base as {base.tag} ...")
    changes = [arg for change in IMAGE_CHANGES for arg in ("--change", change)]
    engine.docker(
        "image",
        "import",
        *changes,
        "--message",
        f"Debian {SUITE} {VARIANT} with {', '.join(base.packages)}",
        str(tarball),
        base.tag,
        timeout=IMPORT_TIMEOUT_S,
    )
    return base.tag
