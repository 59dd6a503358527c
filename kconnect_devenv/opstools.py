"""The tools the chart's monitoring tests run, built once from pinned Go modules.

- ``promtool``, Prometheus' own (``github.com/prometheus/prometheus/cmd/promtool``), runs the
  alerting rules' unit tests (``promtool test rules``) exactly as Prometheus evaluates them.
- ``argolua`` (``controlplane/opstools/argolua``, a few lines over ``github.com/yuin/gopher-lua``,
  the Lua 5.1 VM Argo CD embeds) runs an Argo CD health check against objects, with the standard
  libraries Argo CD opens.

Both come from the wrapper module ``controlplane/opstools`` (its ``go.mod`` and ``go.sum`` pin them)
and are cached as ``$KCONNECT_CACHE/opstools/bin/{promtool,argolua}`` with the contract of
:func:`kconnect_devenv.builds.produce`: complete or absent, rebuilt when the pins or argolua's
source change. promtool links Prometheus' service discovery, so its first build is the slow part
(it shares Go's module and build caches with the control plane's builds).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from kconnect_devenv import controlplane
from kconnect_devenv.lifecycle import cache_root

MODULE_DIR: Final = "opstools"
BUILD_RECIPE: Final = "1"
BINARIES: Final = ("promtool", "argolua")
TARGETS: Final = (
    controlplane.Target("argolua", MODULE_DIR, "./argolua", ()),
    controlplane.Target(
        "promtool", MODULE_DIR, "github.com/prometheus/prometheus/cmd/promtool", ()
    ),
)


def home_dir() -> Path:
    return cache_root() / "opstools"


def _digest() -> str:
    source = controlplane.SERVICE_DIR / MODULE_DIR / "argolua" / "main.go"
    recipe = BUILD_RECIPE + hashlib.sha256(source.read_bytes()).hexdigest()
    return controlplane.modules_digest((recipe, controlplane.BUILD_RECIPE), (MODULE_DIR,))


def built() -> Path | None:
    """The bin directory if a complete build of the current pins is cached, else None."""
    return controlplane.cached_binaries(home_dir(), _digest, BINARIES)


def build() -> Path:
    """promtool and argolua, built on first use; returns their directory. Each binary's build
    time is in ``$KCONNECT_CACHE/opstools/build.log``."""
    return controlplane.build_binaries_once(home_dir(), TARGETS, _digest, BINARIES)


def main() -> int:
    print(build())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
