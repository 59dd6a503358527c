"""The container shim: runs one container's command in its own mount and pid namespaces.

The kubelet starts ``python -I -S launch.py SPEC.json`` (this file needs only the standard library,
so it starts fast and without the venv). The shim:

1. reads the spec (command, env, working dir, mounts, file paths) and deletes it, since it may hold
   Secret values; asks for SIGKILL when the kubelet's thread that started it dies, and exits if the
   kubelet is already gone;
2. ``unshare(CLONE_NEWNS | CLONE_NEWPID)`` (and ``CLONE_NEWUSER``, mapping itself to root, when not
   run as root), and makes every mount private, so nothing it mounts reaches the host;
3. mounts a tmpfs on the container's scratch directory, then each volume at its mount path. A mount
   path whose parents do not exist on the host (``/etc/kconnect``) gets them from an overlay: the
   deepest existing ancestor (``/etc``) is overlaid with a writable layer on that tmpfs, the
   missing directories are made in it, and the mounts that were below the ancestor are moved back
   on top. The host's ``/etc`` is not changed; the pod sees its own. ``/`` itself is never
   overlaid (it holds every mount); when a path needs a new top-level directory (``/work``), the
   container gets its own root instead: a tmpfs with a recursive bind of each of the host's
   top-level entries, chrooted into, where the new directory is made. ``readOnly`` mounts are
   remounted read-only last, so nested mount points can be made first;
4. forks the container's main process, which is pid 1 of the new pid namespace (as in a real
   container: a pid 1 without a SIGTERM handler ignores SIGTERM) and gets SIGKILL if the shim dies;
   it execs the command with the pod's env from the working dir. Killing pid 1 ends every process
   of the container: nothing outlives it;
5. writes the main process's pid (as the host sees it) to the pid file once exec succeeded;
   forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it; and exits with its exit
   code, or 128 + the signal that killed it.

If anything before the exec fails (a mount, a missing command), the shim writes one line for people
to the error file and exits with 128; the kubelet shows it as the container's ``StartError``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any, Final

CLONE_NEWNS: Final = 0x00020000
CLONE_NEWUSER: Final = 0x10000000
CLONE_NEWPID: Final = 0x20000000
MS_RDONLY: Final = 0x1
MS_NOSUID: Final = 0x2
MS_NODEV: Final = 0x4
MS_NOEXEC: Final = 0x8
MS_REMOUNT: Final = 0x20
MS_NOATIME: Final = 0x400
MS_NODIRATIME: Final = 0x800
MS_BIND: Final = 0x1000
MS_MOVE: Final = 0x2000
MS_REC: Final = 0x4000
MS_PRIVATE: Final = 0x40000
MS_RELATIME: Final = 0x200000
PR_SET_PDEATHSIG: Final = 1
START_ERROR_EXIT: Final = 128
FORWARDED_SIGNALS: Final = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
# statvfs flags that a bind remount must keep (they are locked in a user namespace).
_KEPT_FLAGS: Final = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


class LaunchError(Exception):
    """The container cannot start; the message is for people."""


# --------------------------------------------------------------------------------------------------
# Pure parts: reading mountinfo, planning where a missing mount path comes from


def unescape_mount_path(text: str) -> str:
    """A path from /proc/self/mountinfo, where space, tab, newline and backslash are octal."""
    out, index = [], 0
    while index < len(text):
        digits = text[index + 1 : index + 4]
        if text[index] == "\\" and len(digits) == 3 and all(c in "01234567" for c in digits):
            out.append(chr(int(digits, 8)))
            index += 4
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def mount_points(mountinfo: str) -> list[str]:
    """The mount points of a /proc/<pid>/mountinfo text, in its order."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            points.append(unescape_mount_path(fields[4]))
    return points


def is_below(path: str, ancestor: str) -> bool:
    """Whether ``path`` is ``ancestor`` or inside it (both absolute and normalized)."""
    return path == ancestor or path.startswith(ancestor.rstrip("/") + "/")


def submounts_below(points: Iterable[str], ancestor: str) -> list[str]:
    """The outermost mounts strictly inside ``ancestor``: what an overlay on it would hide."""
    inside = sorted(
        {p for p in points if p != ancestor and is_below(p, ancestor)},
        key=lambda p: (p.count("/"), p),
    )
    outermost: list[str] = []
    for point in inside:
        if not any(is_below(point, kept) for kept in outermost):
            outermost.append(point)
    return outermost


def split_missing(path: str, exists: Callable[[str], bool]) -> tuple[str, list[str]]:
    """``path``'s deepest existing ancestor (or itself) and the names missing below it."""
    current = PurePosixPath(path)
    missing: list[str] = []
    while not exists(str(current)) and current != current.parent:
        missing.insert(0, current.name)
        current = current.parent
    return str(current), missing


def needs_new_top_level(path: str, exists: Callable[[str], bool]) -> bool:
    """Whether making ``path`` needs a directory in ``/`` that the host does not have."""
    anchor, missing = split_missing(path, exists)
    return anchor == "/" and bool(missing)


def overlay_options(lower: str, upper: str, work: str, *, user_namespace: bool) -> str:
    def escape(path: str) -> str:
        return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")

    options = f"lowerdir={escape(lower)},upperdir={escape(upper)},workdir={escape(work)}"
    return options + (",userxattr" if user_namespace else "")


def sorted_mounts(mounts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mounts in the order to make them: parents before the paths inside them."""
    return sorted(mounts, key=lambda m: len(PurePosixPath(m["target"]).parts))


def exit_code(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


# --------------------------------------------------------------------------------------------------
# The shell: namespaces and mounts


class _Mounter:
    def __init__(self, libc: ctypes.CDLL, scratch: str, user_namespace: bool) -> None:
        self._libc = libc
        self._scratch = scratch
        self._user_namespace = user_namespace
        # Where making a directory changes nothing on the host.
        self._writable: list[str] = [scratch]
        self._overlays = 0
        self._own_root = False  # whether "/" is the container's own (see enter_own_root)

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None
    ) -> None:
        result = self._libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            ctypes.c_ulong(flags),
            data.encode() if data is not None else None,
        )
        if result != 0:
            errno = ctypes.get_errno()
            what = f"mount {fstype or ''} {source or ''} on {target}".replace("  ", " ")
            raise LaunchError(f"{what}: {os.strerror(errno)}")

    def prepare_scratch(self) -> None:
        self.mount("tmpfs", self._scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700")

    def ensure(self, path: str, *, is_file: bool) -> str:
        """``path`` made to exist inside the namespace only; returns it with symlinks resolved."""
        anchor, missing = split_missing(path, os.path.exists)
        anchor = os.path.realpath(anchor)
        if not missing:
            return anchor
        writable = (
            self._own_root
            if anchor == "/"
            else any(is_below(anchor, mine) for mine in self._writable)
        )
        if not writable:
            if anchor == "/":
                raise LaunchError(f"mount path {path}: / is not the container's own")
            if is_below(self._scratch, anchor):
                raise LaunchError(
                    f"mount path {path}: {anchor} would need an overlay, but it holds the "
                    "kubelet's state directory; use another path"
                )
            self._overlay(anchor)
        target = os.path.join(anchor, *missing)
        if is_file:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "a", encoding="utf-8"):
                pass
        else:
            os.makedirs(target, exist_ok=True)
        return target

    def _overlay(self, anchor: str) -> None:
        self._overlays += 1
        base = os.path.join(self._scratch, f"overlay-{self._overlays}")
        upper, work = os.path.join(base, "upper"), os.path.join(base, "work")
        os.makedirs(upper)
        os.makedirs(work)
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            hidden = submounts_below(mount_points(handle.read()), anchor)
        kept = []
        for index, point in enumerate(hidden):
            keep = os.path.join(base, f"keep-{index}")
            if os.path.isdir(point):
                os.mkdir(keep)
            else:
                with open(keep, "w", encoding="utf-8"):
                    pass
            self.mount(point, keep, None, MS_BIND | MS_REC, None)
            kept.append((keep, point))
        options = overlay_options(anchor, upper, work, user_namespace=self._user_namespace)
        self.mount("overlay", anchor, "overlay", 0, options)
        for keep, point in kept:
            self.mount(keep, point, None, MS_MOVE, None)
        self._writable.append(anchor)

    def enter_own_root(self) -> None:
        """Make "/" the container's own: a tmpfs holding a bind of each of the host's top-level
        entries (a symlink stays a symlink), so that new top-level directories can be made in it;
        then chroot into it. Every host path still means the same there."""
        root = os.path.join(self._scratch, "root")
        os.mkdir(root)
        for name in sorted(os.listdir("/")):
            source, target = "/" + name, os.path.join(root, name)
            if os.path.islink(source):
                os.symlink(os.readlink(source), target)
            elif os.path.isdir(source):
                os.mkdir(target)
                self.mount(source, target, None, MS_BIND | MS_REC, None)
            else:
                with open(target, "w", encoding="utf-8"):
                    pass
                self.mount(source, target, None, MS_BIND, None)
        os.chroot(root)
        os.chdir("/")
        self._own_root = True

    def bind(self, source: str, target: str) -> None:
        self.mount(source, target, None, MS_BIND | MS_REC, None)
        self._writable.append(target)

    def remount_read_only(self, target: str) -> None:
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        current = os.statvfs(target).f_flag
        for st_flag, ms_flag in _KEPT_FLAGS:
            if current & st_flag:
                flags |= ms_flag
        self.mount(None, target, None, flags, None)


def _enter_namespaces(libc: ctypes.CDLL) -> bool:
    """New mount and pid namespaces (and a user namespace when not root); True for the latter."""
    uid, gid = os.geteuid(), os.getegid()
    user_namespace = uid != 0
    flags = CLONE_NEWNS | CLONE_NEWPID | (CLONE_NEWUSER if user_namespace else 0)
    if libc.unshare(ctypes.c_int(flags)) != 0:
        errno = ctypes.get_errno()
        raise LaunchError(f"unshare(mount, pid namespaces): {os.strerror(errno)}")
    if user_namespace:
        for path, text in (
            ("/proc/self/setgroups", "deny"),
            ("/proc/self/uid_map", f"0 {uid} 1"),
            ("/proc/self/gid_map", f"0 {gid} 1"),
        ):
            with open(path, "w", encoding="ascii") as handle:
                handle.write(text)
    return user_namespace


def _set_up(libc: ctypes.CDLL, spec: dict[str, Any]) -> None:
    user_namespace = _enter_namespaces(libc)
    mounter = _Mounter(libc, spec["scratch"], user_namespace)
    mounter.mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    mounter.prepare_scratch()
    working_dir = spec.get("working_dir") or "/"
    paths = [m["target"] for m in spec["mounts"]] + [working_dir]
    if any(needs_new_top_level(path, os.path.exists) for path in paths):
        mounter.enter_own_root()
    read_only = []
    for mount in sorted_mounts(spec["mounts"]):
        target = mounter.ensure(mount["target"], is_file=bool(mount.get("file")))
        mounter.bind(mount["source"], target)
        if mount.get("read_only"):
            read_only.append(target)
    mounter.ensure(working_dir, is_file=False)
    for target in read_only:
        mounter.remount_read_only(target)


def _child(libc: ctypes.CDLL, spec: dict[str, Any], report: int) -> None:
    """pid 1 of the container: exec the command; on failure, say why through ``report``."""
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        for signum in (signal.SIGPIPE, signal.SIGXFSZ, *FORWARDED_SIGNALS):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(spec.get("working_dir") or "/")
        command = spec["command"]
        os.execvpe(command[0], command, spec["env"])  # noqa: S606 - the container's own argv
    except BaseException as exc:  # whatever it was, the shim must hear of it
        message = f"exec {spec['command'][0]!r}: {exc}"
        if isinstance(exc, FileNotFoundError):
            message = (
                f'exec: "{spec["command"][0]}": executable file not found in $PATH '
                "(the test kubelet ignores images: the command must exist on the host)"
            )
        os.write(report, message.encode(errors="replace"))
    os._exit(START_ERROR_EXIT)


def _write(path: str, text: str) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def main(argv: Sequence[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    os.unlink(argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != spec["parent_pid"]:
        return START_ERROR_EXIT  # the kubelet died before the death signal was armed
    if not spec.get("command"):
        _write(spec["error_file"], "the container has no command")
        return START_ERROR_EXIT
    try:
        _set_up(libc, spec)
    except (LaunchError, OSError) as exc:
        _write(spec["error_file"], str(exc))
        return START_ERROR_EXIT
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(libc, spec, write_end)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 4096):
        chunks.append(chunk)
    os.close(read_end)
    if chunks:
        os.waitpid(pid, 0)
        _write(spec["error_file"], b"".join(chunks).decode(errors="replace"))
        return START_ERROR_EXIT
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, lambda received, _frame: _forward(pid, received))
    _write(spec["pid_file"], f"{pid}\n")
    _, status = os.waitpid(pid, 0)
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(spec["pid_file"])
    return exit_code(status)


def _forward(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
