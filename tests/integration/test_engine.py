"""The project's Docker engine, for real: Debian's dockerd from a state directory of its own.

Each test module's engine lives in a short private directory (containerd's socket path is limited
to 107 bytes), so these tests never touch the engine that ``make images`` uses. They check what
kconnect_devenv/engine.py promises: its own socket and configuration, no negative OOM score (root
here lacks CAP_SYS_RESOURCE), no network of its own, images kept across a restart, nothing left
mounted or running after ``stop``, a failed start that shows dockerd's log, and what kind needs of
it: a privileged container that starts with the capabilities root holds, a published port.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kconnect_devenv import baseimage, engine

pytestmark = pytest.mark.timeout(180)


def _short_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="kc-engine-", dir="/tmp"))


def _mounts_below(root: Path) -> list[str]:
    prefix = str(root.resolve())
    points = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _oom_score_adj(pid: int) -> int:
    return int(Path(f"/proc/{pid}/oom_score_adj").read_text())


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _ip_forward() -> str:
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


def _interfaces() -> set[str]:
    return {path.name for path in Path("/sys/class/net").iterdir()}


@pytest.fixture(scope="module")
def interfaces_before() -> set[str]:
    """The host's network interfaces before this module's engine starts."""
    return _interfaces()


@pytest.fixture(scope="module")
def running(interfaces_before: set[str]) -> Iterator[engine.Engine]:
    state_dir = _short_dir()
    try:
        yield engine.start(state_dir, die_with_parent=True)
    finally:
        engine.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def test_engine_serves_on_its_own_socket_with_its_own_configuration(
    running: engine.Engine,
) -> None:
    assert engine.ping(running.socket_path)
    assert running.socket_path.is_relative_to(running.state_dir)
    info = json.loads(running.docker("info", "--format", "{{json .}}", timeout=60))
    assert info["DockerRootDir"] == str(running.data_root)
    assert info["Driver"] == "overlay2"
    assert engine.running(running.state_dir) == running
    assert json.loads(running.config_path.read_text()) == engine.daemon_config(running)
    assert (running.data_dir / "key.json").is_file(), "not /etc/docker/key.json"


def test_dockerd_and_its_containerd_keep_a_non_negative_oom_score(
    running: engine.Engine,
) -> None:
    assert _oom_score_adj(running.pid) == 0
    containerd = [p for p in _children(running.pid) if "containerd" in _cmdline(p)[0]]
    assert containerd, f"dockerd {running.pid} has no containerd child"
    assert [_oom_score_adj(p) for p in containerd] == [0]


def test_engine_makes_no_network_of_its_own(
    running: engine.Engine, interfaces_before: set[str]
) -> None:
    networks = running.docker("network", "ls", "--format", "{{.Name}}", timeout=60).split()
    assert "bridge" not in networks
    assert sorted(networks) == ["host", "none"]
    # Other sessions of the suite may add interfaces meanwhile (a node's bridge and pods); dockerd's
    # own would be its default bridge or a network's bridge.
    made = {
        name
        for name in _interfaces() - interfaces_before
        if name == "docker0" or name.startswith("br-")
    }
    assert made == set(), "dockerd made a network interface"
    assert "--ip-forward=false" in _cmdline(running.pid)


def _tiny_image_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"kept across restarts\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_images_survive_a_restart_and_stop_leaves_nothing_mounted_or_running() -> None:
    state_dir = _short_dir()
    forward_before = _ip_forward()
    try:
        first = engine.start(state_dir, die_with_parent=True)
        first.docker(
            "image", "import", "-", "kconnect-test/tiny:1", stdin=_tiny_image_tar(), timeout=60
        )
        assert _ip_forward() == forward_before
        engine.stop(state_dir)
        assert engine.running(state_dir) is None
        assert not Path(f"/proc/{first.pid}").exists() or "dockerd" not in _cmdline(first.pid)[0]
        assert _mounts_below(state_dir) == []
        assert not first.socket_path.exists()
        assert first.data_root.is_dir(), "the data root (images, build cache) is kept"

        second = engine.start(state_dir, die_with_parent=True)
        assert second.pid != first.pid
        names = second.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", timeout=60)
        assert "kconnect-test/tiny:1" in names.split()
    finally:
        engine.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
    assert _mounts_below(state_dir) == []


def test_a_failed_start_names_dockerd_shows_its_log_and_leaves_nothing_running() -> None:
    state_dir = _short_dir()
    try:
        (state_dir / engine.DATA_ROOT).write_text("a file where dockerd's data root should be")
        with pytest.raises(engine.EngineStartError) as failure:
            engine.start(state_dir, ready_timeout=30)
        message = str(failure.value)
        assert "dockerd exited" in message
        assert f"last lines of {state_dir.resolve() / 'data' / engine.LOG_FILE}" in message
        # dockerd's own complaint, from its log: the data root it was given is a file.
        assert f"({state_dir.resolve() / engine.DATA_ROOT})" in message
        assert engine.running(state_dir) is None
        assert _mounts_below(state_dir) == []
    finally:
        engine.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def test_sessions_share_the_engine_and_the_last_one_out_stops_what_a_session_started() -> None:
    state_dir = _short_dir()
    try:
        with engine.session(state_dir) as outer:
            with engine.session(state_dir) as inner:
                assert inner.pid == outer.pid
            assert engine.running(state_dir) == outer, "the outer session still uses it"
        assert engine.running(state_dir) is None
        assert _mounts_below(state_dir) == []
    finally:
        engine.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def test_a_session_leaves_an_engine_it_did_not_start_running() -> None:
    state_dir = _short_dir()
    try:
        started = engine.start(state_dir)  # as `python -m kconnect_devenv.engine up` does
        with engine.session(state_dir) as used:
            assert used.pid == started.pid
        assert engine.running(state_dir) == started
    finally:
        engine.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def _host_bounding_set() -> int:
    status = Path("/proc/self/status").read_text()
    return int(
        next(line for line in status.splitlines() if line.startswith("CapBnd:")).split()[1], 16
    )


@pytest.mark.skipif(
    baseimage.built(baseimage.RUNTIME) is None, reason="the runtime base is not made: make images"
)
def test_a_privileged_container_gets_what_root_holds_and_a_published_port_answers() -> None:
    """kind's nodes are privileged and publish the API server on 127.0.0.1 (docs/kind.md)."""
    tarball = baseimage.built(baseimage.RUNTIME)
    assert tarball is not None
    state_dir = _short_dir()
    try:
        started = engine.start(state_dir, die_with_parent=True)
        started.docker("image", "import", "--change", f"ENV PATH={baseimage.IMAGE_PATH}",
                       str(tarball), "kconnect-test/python:1", timeout=300)  # fmt: skip
        status = started.docker(
            "run", "--rm", "--privileged", "--network=none", "kconnect-test/python:1",
            "cat", "/proc/self/status", timeout=60,
        )  # fmt: skip
        effective = next(line for line in status.splitlines() if line.startswith("CapEff:"))
        granted = int(effective.split()[1], 16)
        # Every capability Docker 20.10 knows (up to CAP_AUDIT_READ) that root holds; none it lacks.
        assert granted & ~_host_bounding_set() == 0
        assert granted == _host_bounding_set() & (1 << 38) - 1
        started.docker("network", "create", "--subnet=10.251.0.0/29", "kc-test", timeout=60)
        try:
            started.docker(
                "run", "-d", "--name=web", "--network=kc-test", "-p", "127.0.0.1::8000",
                "kconnect-test/python:1", "python3", "-m", "http.server", "8000", timeout=60,
            )  # fmt: skip
            port = started.docker("port", "web", "8000", timeout=60).strip().rsplit(":", 1)[1]
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
                        assert reply.status == 200
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        finally:
            started.docker("rm", "--force", "web", timeout=60)
            started.docker("network", "rm", "kc-test", timeout=60)
    finally:
        engine.stop(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
