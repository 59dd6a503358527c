"""The container shim's pure parts: reading mountinfo and planning mount points."""

from __future__ import annotations

import os

from kconnect_devenv.kubelet import launch

MOUNTINFO = """\
22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
40 22 0:33 / /run rw,nosuid shared:5 - tmpfs tmpfs rw
41 40 0:34 / /run/lock rw,nosuid shared:6 - tmpfs tmpfs rw
42 41 0:35 / /run/lock/deeper rw shared:7 - tmpfs tmpfs rw
43 22 0:36 / /etc/resolv.conf rw shared:8 - ext4 /dev/vdb rw
44 22 0:37 / /etc/with\\040space rw shared:9 - tmpfs tmpfs rw
45 22 0:38 / /etcetera rw shared:10 - tmpfs tmpfs rw
"""


def test_mountinfo_paths_are_unescaped() -> None:
    assert launch.unescape_mount_path("/a\\040b\\011c\\134d") == "/a b\tc\\d"
    assert launch.unescape_mount_path("/plain\\") == "/plain\\"
    assert launch.mount_points(MOUNTINFO)[-2] == "/etc/with space"


def test_an_overlay_keeps_only_the_outermost_mounts_below_it() -> None:
    points = launch.mount_points(MOUNTINFO)
    assert launch.submounts_below(points, "/etc") == ["/etc/resolv.conf", "/etc/with space"]
    assert launch.submounts_below(points, "/run") == ["/run/lock"]
    assert launch.submounts_below(points, "/var") == []


def test_missing_parts_are_found_below_the_deepest_existing_ancestor() -> None:
    existing = {"/", "/etc", "/opt"}

    def exists(path: str) -> bool:
        return path in existing

    assert launch.split_missing("/etc/kconnect", exists) == ("/etc", ["kconnect"])
    assert launch.split_missing("/opt/a/b/c", exists) == ("/opt", ["a", "b", "c"])
    assert launch.split_missing("/etc", exists) == ("/etc", [])
    assert launch.split_missing("/work/x", exists) == ("/", ["work", "x"])
    assert launch.needs_new_top_level("/work/x", exists)
    assert not launch.needs_new_top_level("/etc/x", exists)
    assert not launch.needs_new_top_level("/", exists)


def test_overlay_options_escape_separators() -> None:
    options = launch.overlay_options("/etc", "/s,x/up", "/s:y/work", user_namespace=False)
    assert options == "lowerdir=/etc,upperdir=/s\\,x/up,workdir=/s\\:y/work"
    assert launch.overlay_options("/a", "/u", "/w", user_namespace=True).endswith(",userxattr")


def test_parents_are_mounted_before_what_is_inside_them() -> None:
    mounts = [{"target": "/etc/a/b"}, {"target": "/etc/a"}, {"target": "/var/x"}]
    assert [m["target"] for m in launch.sorted_mounts(mounts)] == ["/etc/a", "/var/x", "/etc/a/b"]


def test_exit_codes_of_signals_are_128_plus_the_signal() -> None:
    assert launch.exit_code(3 << 8) == 3
    assert launch.exit_code(9) == 137
    assert launch.is_below("/etc/a", "/etc")
    assert not launch.is_below("/etcetera", "/etc")
    assert launch.is_below("/etc", "/")
    assert os.ST_NOSUID  # the remount keeps the flags it reads
