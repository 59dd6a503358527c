"""The wheel's native modules, each compiled from its C source.

- `kconnect.data._javatextc` speeds up FileStreamSink writing values the way Java's `toString`
  spells them; without it, `kconnect.data._javatext` spells them in pure Python.
- `kconnect.data._avroc` reads Avro records; without it, `kconnect.data.avro_codec`'s generated
  Python reads them.

Both are optional, with the same output either way. `KCONNECT_NATIVE` decides:

- `auto` (the default): build them when the interpreter is CPython 3.11–3.13 and a C compiler
  works; otherwise warn and build a pure-Python wheel.
- `require`: fail the build if one cannot be built (`make setup` and the images ask for this, so
  that what is tested and shipped is the native path).
- `off`: never build them.

Each module is compiled next to its source (`worker/kconnect/data/`), where an editable install
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

MODULES = {
    "kconnect.data._javatextc": Path("worker/kconnect/data/_javatextc.c"),
    "kconnect.data._avroc": Path("worker/kconnect/data/_avroc.c"),
}
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
        built = False
        for module, source in MODULES.items():
            target = (root / source).with_name(
                module.rsplit(".", 1)[1] + str(sysconfig.get_config_var("EXT_SUFFIX"))
            )
            problem = _unsupported()
            if problem is None:
                problem = _compile(root / source, target)
            if problem is not None:
                if mode == "require":
                    raise SystemExit(
                        f"{module} could not be built: {problem}. Install a C compiler and the "
                        "Python headers, or set KCONNECT_NATIVE=auto (warn) or off."
                    )
                self.app.display_warning(f"{module} not built ({problem}); using pure Python")
                target.unlink(missing_ok=True)
                continue
            built = True
            if version != "editable":
                build_data["force_include"][str(target)] = str(
                    Path(*module.split(".")[:-1], target.name)
                )
        if built:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True


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
