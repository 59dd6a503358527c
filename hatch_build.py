"""The wheel's one native module: `kconnect.data._javatextc`, compiled from its C source.

It speeds up one hot path (FileStreamSink writing nested values the way Java's `toString` spells
them) and is optional: without it, `kconnect.data._javatext` spells values in pure Python, with
the same output. `KCONNECT_NATIVE` decides:

- `auto` (the default): build it when the interpreter is CPython 3.11–3.13 and a C compiler works;
  otherwise warn and build a pure-Python wheel.
- `require`: fail the build if it cannot be built (`make setup` and the images ask for this, so
  that what is tested and shipped is the native path).
- `off`: never build it.

The module is compiled next to its source (`worker/kconnect/data/`), where an editable install
imports it, and is added to a regular wheel from there; git ignores it.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "kconnect.data._javatextc"
SOURCE = Path("worker/kconnect/data/_javatextc.c")
MODES = ("auto", "require", "off")


class NativeBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        mode = os.environ.get("KCONNECT_NATIVE", "auto").strip().lower() or "auto"
        if mode not in MODES:
            raise SystemExit(f"KCONNECT_NATIVE={mode!r}: expected one of {', '.join(MODES)}")
        if mode == "off":
            return
        root = Path(self.root)
        source = root / SOURCE
        target = source.with_name("_javatextc" + str(sysconfig.get_config_var("EXT_SUFFIX")))
        problem = _unsupported()
        if problem is None:
            problem = _compile(source, target)
        if problem is not None:
            if mode == "require":
                raise SystemExit(
                    f"{MODULE} could not be built: {problem}. Install a C compiler and the "
                    "Python headers, or set KCONNECT_NATIVE=auto (warn) or off."
                )
            self.app.display_warning(f"{MODULE} not built ({problem}); using pure Python")
            target.unlink(missing_ok=True)
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = str(
                Path(*MODULE.split(".")[:-1], target.name)
            )


def _unsupported() -> str | None:
    if platform.python_implementation() != "CPython":
        return f"{platform.python_implementation()} is not CPython"
    if not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return f"Python {platform.python_version()} is outside 3.11-3.13"
    return None


def _compile(source: Path, target: Path) -> str | None:
    """Compile `source` into the extension module `target`; None, or what went wrong."""
    # LDSHARED compiles and links a module the way this interpreter's own were ("gcc -shared" on
    # Linux, "-bundle -undefined dynamic_lookup" on macOS).
    ldshared = sysconfig.get_config_var("LDSHARED") or f"{sysconfig.get_config_var('CC')} -shared"
    compiler = shlex.split(str(ldshared))
    include = sysconfig.get_paths()["include"]
    command = [
        *compiler,
        "-O2",
        "-fPIC",
        "-Wall",
        "-Wextra",
        f"-I{include}",
        str(source),
        "-o",
        str(target),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{shlex.join(command)}: {e}"
    if done.returncode != 0:
        return f"{shlex.join(command)} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
    return None
