"""Mounts a service's servers leave behind, found and released.

dockerd bind-mounts its data root onto itself and a network namespace file into its exec root, and
leaves the namespace mounted when it exits; debootstrap mounts ``proc`` and ``sys`` inside the root
filesystem it makes, and leaves them when it fails. A directory with a mount inside cannot be
removed, so whoever removes such a directory first unmounts everything at or below it.

:func:`unmount_below` unmounts deepest first, lazily (``umount --lazy``: a mount still in use is
detached now and released when its last user goes), and raises the caller's error naming whatever
is still mounted afterwards. Stdlib only, like the services.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from kconnect_devenv import processes

UMOUNT_TIMEOUT_S = 30.0


def _unescape(field: str) -> str:
    """A path as /proc/self/mounts writes it: space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_below(root: Path) -> list[Path]:
    """Mount points at or below ``root``, in the order they were mounted."""
    prefix = str(root.resolve())
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text("utf-8").splitlines():
            fields = line.split()
            if len(fields) >= 2:
                point = _unescape(fields[1])
                if point == prefix or point.startswith(prefix + "/"):
                    found.append(Path(point))
    return found


def unmount_below(root: Path, error: type[Exception]) -> None:
    """Unmount everything at or below ``root``, the last mounted first."""
    for point in reversed(mounts_below(root)):
        processes.run_tool(
            ["umount", "--lazy", str(point)], what="umount", timeout=UMOUNT_TIMEOUT_S, error=error
        )
    left = mounts_below(root)
    if left:
        raise error(f"could not unmount {', '.join(map(str, left))}")
