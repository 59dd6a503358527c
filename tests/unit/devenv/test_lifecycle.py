"""The lifecycle the local services share, driven with a toy service of real processes.

The toy server is a small Python process: it writes ``ready`` into its data directory and sleeps, or
prints numbered lines and exits, as each test asks. Its command line names its ``mark`` file, as the
broker's names its config file, so liveness is checked the way it is for the real services.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from kconnect_devenv import builds, lifecycle, processes

SERVER = """
import pathlib, sys, time
mark, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
if mode == "serve":
    (mark.parent / "ready").write_text("ready")
    time.sleep(600)
if mode == "silent":
    time.sleep(600)
for number in range(1, 101):
    print(f"line {number}", flush=True)
if mode == "port-taken":
    print("bind: Address already in use", flush=True)
sys.exit(3)
"""


class ToyError(lifecycle.ServiceError):
    pass


class ToyStartError(ToyError, lifecycle.StartError):
    pass


@dataclasses.dataclass(frozen=True)
class Toy:
    pid: int
    state_dir: Path
    data_dir: Path
    mark_path: Path

    @property
    def pids(self) -> dict[str, int]:
        return {"toy": self.pid}

    @property
    def mark(self) -> Path:
        return self.mark_path

    def log_paths(self) -> tuple[Path, ...]:
        return (self.data_dir / "toy.log",)

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Toy:
        return lifecycle.state_from_json(cls, raw, "toy.json")


def service(*, refuse_stale: bool = False) -> lifecycle.Service[Toy]:
    return lifecycle.Service(
        title="the toy service",
        state_file="toy.json",
        load=Toy.from_json,
        error=ToyError,
        start_error=ToyStartError,
        extra_files=("toy.conf",),
        refuse_stale=refuse_stale,
        log_tail_lines=5,
    )


class Launcher:
    """Launches the toy server in the modes given, one per attempt (the last one repeats)."""

    def __init__(self, *modes: str) -> None:
        self.modes = list(modes)
        self.prepared = 0
        self.attempts = 0

    def prepare(self) -> str:
        self.prepared += 1
        return "prepared"

    def launch(self, prepared: str, attempt: lifecycle.Launch) -> Toy:
        assert prepared == "prepared"
        mode = self.modes[min(self.attempts, len(self.modes) - 1)]
        self.attempts += 1
        (attempt.state_dir / "toy.conf").write_text("extra", "utf-8")
        mark = attempt.data_dir / "toy.mark"
        mark.touch()
        toy = Toy(pid=0, state_dir=attempt.state_dir, data_dir=attempt.data_dir, mark_path=mark)
        command = [sys.executable, "-c", SERVER, str(mark), mode]
        pid = attempt.spawn("the toy server", command, toy.log_paths()[0], attempt.data_dir)
        toy = dataclasses.replace(toy, pid=pid)
        attempt.wait_for(
            toy,
            (attempt.data_dir / "ready").is_file,
            during="during startup",
            timed_out=f"the toy server was not ready within {attempt.ready_timeout:g}s",
        )
        return toy


def start(
    state_dir: Path, launcher: Launcher, *, refuse_stale: bool = False, ready_timeout: float = 60.0
) -> Toy:
    return service(refuse_stale=refuse_stale).start(
        state_dir,
        launcher.prepare,
        launcher.launch,
        ready_timeout=ready_timeout,
        die_with_parent=True,
    )


def gone(pid: int, mark: Path) -> bool:
    return processes.wait_gone(pid, mark, 10.0)


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "toy"
    yield directory
    service().stop(directory, grace=5.0)


def test_a_started_service_is_recorded_and_found_running(state_dir: Path) -> None:
    toy = start(state_dir, Launcher("serve"))

    recorded = json.loads((state_dir / "toy.json").read_text("utf-8"))
    assert recorded["pid"] == toy.pid
    assert Toy.from_json(recorded) == toy
    assert toy.state_dir == state_dir.resolve()
    assert service().running(state_dir) == toy


def test_a_second_start_while_running_returns_the_running_one(state_dir: Path) -> None:
    first = start(state_dir, Launcher("serve"))
    second_launcher = Launcher("serve")

    second = start(state_dir, second_launcher)

    assert second == first
    assert (second_launcher.prepared, second_launcher.attempts) == (0, 0)
    assert processes.is_alive(first.pid, first.mark)


def test_a_stale_state_file_is_not_running_and_the_next_start_replaces_it(
    state_dir: Path,
) -> None:
    old = start(state_dir, Launcher("serve"))
    os.kill(old.pid, signal.SIGKILL)
    assert gone(old.pid, old.mark)

    assert service().running(state_dir) is None
    assert service().read_state(state_dir) == old  # still recorded, but stale
    new = start(state_dir, Launcher("serve"))

    assert new.pid != old.pid
    assert service().running(state_dir) == new


def test_a_stale_state_file_is_refused_by_a_service_that_keeps_its_data(state_dir: Path) -> None:
    old = start(state_dir, Launcher("serve"), refuse_stale=True)
    os.kill(old.pid, signal.SIGKILL)
    assert gone(old.pid, old.mark)
    launcher = Launcher("serve")

    with pytest.raises(
        ToyStartError, match=r"^toy of the toy service in .* exited .*stop it first"
    ):
        start(state_dir, launcher, refuse_stale=True)

    assert launcher.prepared == 0
    assert old.mark.is_file()  # its data is left alone
    service().stop(state_dir, grace=5.0)
    assert start(state_dir, launcher, refuse_stale=True).pid != old.pid


def test_a_pid_reused_by_another_process_is_not_the_server(state_dir: Path) -> None:
    state_dir.mkdir()
    mark = state_dir / "data" / "toy.mark"
    # This test's own process is alive, but its command line does not name the mark.
    impostor = Toy(pid=os.getpid(), state_dir=state_dir, data_dir=mark.parent, mark_path=mark)
    (state_dir / "toy.json").write_text(json.dumps(lifecycle.state_to_json(impostor)), "utf-8")

    assert service().running(state_dir) is None
    service().stop(state_dir, grace=5.0)  # must not signal this process

    assert not (state_dir / "toy.json").exists()


@pytest.mark.parametrize(
    "content",
    [
        "{",
        "[]",
        '{"pid": "1"}',
        '{"pid": true, "state_dir": "/x", "data_dir": "/x", "mark_path": "/x"}',
    ],
)
def test_an_unreadable_state_file_counts_as_none(state_dir: Path, content: str) -> None:
    state_dir.mkdir()
    (state_dir / "toy.json").write_text(content, "utf-8")

    assert service().read_state(state_dir) is None
    assert start(state_dir, Launcher("serve")).pid > 0


def test_the_state_file_names_a_field_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"^toy.json: 'pid' is '7', expected an integer$"):
        Toy.from_json({"pid": "7"})
    with pytest.raises(TypeError, match=r"^toy.json: 'state_dir' is None, expected a path$"):
        Toy.from_json({"pid": 7})


def test_a_start_that_fails_shows_the_log_tail_and_leaves_nothing_running(
    state_dir: Path,
) -> None:
    launcher = Launcher("fail")

    with pytest.raises(ToyStartError) as caught:
        start(state_dir, launcher)

    message = str(caught.value)
    log = state_dir.resolve() / "data" / "toy.log"
    assert message.startswith("the toy server exited with 3 during startup\n")
    assert f"--- last lines of {log} ---\nline 96\nline 97\nline 98\nline 99\nline 100" in message
    assert "line 95" not in message
    assert not caught.value.port_taken
    assert launcher.attempts == 1
    assert not (state_dir / "toy.json").exists()
    assert not (state_dir / "toy.conf").exists()
    assert log.is_file()  # the failed attempt's data stays for inspection


def test_a_start_that_times_out_kills_its_server_and_shows_the_log_tail(state_dir: Path) -> None:
    launcher = Launcher("silent")

    with pytest.raises(ToyStartError, match=r"^the toy server was not ready within 0.5s\n"):
        start(state_dir, launcher, ready_timeout=0.5)

    mark = state_dir.resolve() / "data" / "toy.mark"
    cmdlines = [p / "cmdline" for p in Path("/proc").iterdir() if p.name.isdigit()]
    survivors = []
    for cmdline in cmdlines:
        try:
            if os.fsencode(str(mark)) in cmdline.read_bytes():
                survivors.append(cmdline.parent.name)
        except OSError:
            continue
    assert survivors == []
    assert service().running(state_dir) is None


def test_a_server_that_lost_its_port_is_started_again(state_dir: Path) -> None:
    launcher = Launcher("port-taken", "serve")

    toy = start(state_dir, launcher)

    assert (launcher.prepared, launcher.attempts) == (1, 2)
    assert service().running(state_dir) == toy


def test_a_port_lost_on_every_attempt_is_reported(state_dir: Path) -> None:
    launcher = Launcher("port-taken")

    with pytest.raises(ToyStartError, match="Address already in use") as caught:
        start(state_dir, launcher)

    assert caught.value.port_taken
    assert launcher.attempts == lifecycle.PORT_ATTEMPTS


def test_stop_ends_the_server_and_clears_the_state_directory(state_dir: Path) -> None:
    toy = start(state_dir, Launcher("serve"))

    service().stop(state_dir, grace=5.0)

    assert gone(toy.pid, toy.mark)
    assert sorted(path.name for path in state_dir.iterdir()) == ["lock"]
    service().stop(state_dir, grace=5.0)  # nothing left to stop: no error
    service().stop(state_dir / "never-used", grace=5.0)


def test_the_command_line_reports_a_service_error_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Path] = []

    def up(state_dir: Path) -> int:
        seen.append(state_dir)
        raise ToyStartError("the toy server exited with 3 during startup")

    previous = signal.getsignal(signal.SIGTERM)
    try:
        code = lifecycle.run_cli(
            ["--state-dir", str(tmp_path), "up"],
            prog="toy",
            description="toy",
            default_state_dir=lambda: tmp_path / "default",
            state_dir_help="where",
            commands={"up": up},
        )
    finally:
        signal.signal(signal.SIGTERM, previous)

    assert code == 1
    assert seen == [tmp_path]
    assert capsys.readouterr().err == "error: the toy server exited with 3 during startup\n"


def test_a_cached_build_is_used_only_when_complete(tmp_path: Path) -> None:
    output, marker = tmp_path / "home" / "bin", tmp_path / "home" / "built"
    writes: list[Path] = []

    def done() -> bool:
        return builds.is_complete(output, marker, "digest-1", ["tool"])

    def fail(partial: Path) -> None:
        writes.append(partial)
        (partial / "tool").write_text("half", "utf-8")
        raise ToyError("the build broke")

    def write(partial: Path) -> None:
        writes.append(partial)
        (partial / "tool").write_text("whole", "utf-8")

    with pytest.raises(ToyError):
        builds.produce(output, marker, lambda: "digest-1", done, fail)
    assert not output.exists()
    assert not marker.exists()
    assert list((tmp_path / "home").iterdir()) == []  # no partial output left behind

    assert builds.produce(output, marker, lambda: "digest-1", done, write) == output
    assert (output / "tool").read_text("utf-8") == "whole"
    assert marker.read_text("ascii") == "digest-1\n"
    assert builds.produce(output, marker, lambda: "digest-1", done, write) == output
    assert len(writes) == 2  # the third call found it done

    assert not builds.is_complete(output, marker, "digest-2", ["tool"])  # an edited input
    assert not builds.is_complete(output, marker, "digest-1", ["tool", "other"])
