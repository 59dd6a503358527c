"""The lifecycle every local development service shares: record, find, start, stop, report.

A service (the Kafka broker of :mod:`kconnect_devenv.kafka`, the Kubernetes control plane of
:mod:`kconnect_devenv.controlplane`) is one or more server processes started from one state
directory. The service module says what is its own: what to prepare first (a fetch or a build),
how to launch its servers and what proves they serve, and the record of what runs (a
:class:`State`). :class:`Service` does the rest, the same way for both.

Invariants:

- **A state directory holds at most one running service.** In it: the state file
  (``Service.state_file``, e.g. ``broker.json``: the pid of each server in start order, their
  ports and paths, as JSON), the lock file ``lock``, the data directory ``data/`` (everything the
  servers write, their logs included) and the service's extra files (the control plane's
  ``kubeconfig``). :meth:`Service.clear` removes all but the lock.
- **The state file is written last, atomically.** It is written only once every server serves, so
  a state file always names servers that came up.
- **A stale state file is told by its pids.** A server counts as running when its pid is alive
  and the pid's command line names the state's ``mark`` (a path only that server has: the
  broker's config file, the control plane's data directory), so a pid reused by an unrelated
  process is not mistaken for it. A state file of which any server does not run is stale:
  :meth:`Service.running` returns None for it, :meth:`Service.stop` stops whatever of it still
  runs and clears it, and :meth:`Service.start` clears it and starts afresh, or, for a service
  that would lose data that way (``refuse_stale``), raises its start error naming the servers that
  exited. A state file that cannot be read or parsed counts as none.
- **Start and stop on one state directory take an exclusive ``flock`` on ``lock``.** The kernel
  releases it when the holder exits, even by SIGKILL. So a second start while one runs returns the
  running one, two concurrent starts start one, and a stop waits for a start in progress.
- **A failed start leaves nothing running and says why.** Every server the attempt spawned is
  killed and collected, the extra files are removed, and the service's start error is raised with
  the last ``log_tail_lines`` lines of each of its logs (the data directory stays for inspection
  until the next start or stop). A server that exits with "address already in use" in its logs
  lost a port to another process between the pick and its bind: the attempt is made again with new
  ports, ``port_attempts`` times at most.
- **Every wait is bounded:** the readiness wait by the start's ready timeout (counted from the
  first spawn), a stop by its grace period and then :data:`KILL_WAIT_S` after SIGKILL; a server
  that outlives that is the service's error.

:func:`run_cli` is the command line of each service (``fetch|up|down|status [--state-dir DIR]``):
SIGTERM unwinds like Ctrl-C, so servers being started are stopped rather than orphaned, and a
service error prints ``error: ...`` and exits 1. Stdlib only, like the services.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, Generic, Protocol, TypeVar

from kconnect_devenv import processes

LOCK_FILE: Final = "lock"
DATA_DIR: Final = "data"
KILL_WAIT_S: Final = 10.0
PORT_ATTEMPTS: Final = 3
POLL_INTERVAL_S: Final = 0.2
PORT_TAKEN: Final = "address already in use"


class ServiceError(RuntimeError):
    """A service could not be fetched, built, started or stopped; the message says why."""


class StartError(ServiceError):
    """The service did not come up; nothing started by the attempt is left running.

    ``port_taken`` marks an attempt that lost one of its ports to another process; such an attempt
    is made again with other ports.
    """

    def __init__(self, message: str, *, port_taken: bool = False) -> None:
        super().__init__(message)
        self.port_taken = port_taken


def cache_root() -> Path:
    """``$KCONNECT_CACHE``, or ``~/.cache/kconnect`` when it is unset or empty."""
    configured = os.environ.get("KCONNECT_CACHE", "")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "kconnect"


class State(Protocol):
    """What a service records of its running servers."""

    @property
    def pids(self) -> Mapping[str, int]:
        """Each server's pid by name, in start order."""
        ...

    @property
    def mark(self) -> Path:
        """A path on the command line of each of the service's servers and of nothing else."""
        ...

    @property
    def data_dir(self) -> Path: ...

    def log_paths(self) -> Sequence[Path]:
        """The logs whose tails explain a failed start."""
        ...


def print_servers(state: State) -> bool:
    """Print, for a ``status`` command, whether each server of ``state`` runs; True when all do."""
    healthy = True
    for component, pid in state.pids.items():
        alive = processes.is_alive(pid, state.mark)
        healthy &= alive
        print(f"{component}: {'running' if alive else 'EXITED'} (pid {pid})")
    return healthy


S = TypeVar("S", bound=State)
D = TypeVar("D")


def state_to_json(state: object) -> dict[str, object]:
    """A state dataclass as JSON: paths as strings, other values as they are."""
    return {
        key: str(value) if isinstance(value, Path) else value
        for key, value in dataclasses.asdict(state).items()  # type: ignore[call-overload]
    }


def state_from_json(cls: type[D], raw: Mapping[str, object], source: str) -> D:
    """The state dataclass ``cls`` (fields of type ``int``, ``bool``, ``str`` or ``Path``) read back
    from JSON.

    Raises TypeError naming ``source``, the field and what was expected when a value is missing or
    of another type.
    """
    values: dict[str, object] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = raw.get(field.name)
        if field.type in ("bool", bool):
            if not isinstance(value, bool):
                raise TypeError(f"{source}: {field.name!r} is {value!r}, expected true or false")
            values[field.name] = value
        elif field.type in ("str", str):
            if not isinstance(value, str):
                raise TypeError(f"{source}: {field.name!r} is {value!r}, expected a string")
            values[field.name] = value
        elif field.type in ("int", int):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{source}: {field.name!r} is {value!r}, expected an integer")
            values[field.name] = value
        else:
            if not isinstance(value, str):
                raise TypeError(f"{source}: {field.name!r} is {value!r}, expected a path")
            values[field.name] = Path(value)
    return cls(**values)


def log_tails(paths: Sequence[Path], lines: int, where: Path) -> str:
    """The last ``lines`` lines of each of ``paths`` that has any, under a header naming it."""
    parts = []
    for path in paths:
        with contextlib.suppress(OSError):
            tail = processes.tail_text(path.read_text("utf-8", errors="replace"), lines)
            if tail:
                parts.append(f"--- last lines of {path} ---\n{tail}")
    return "\n".join(parts) or f"(no output in {where})"


@dataclasses.dataclass(frozen=True)
class Service(Generic[S]):
    """One kind of local service: where its state lives and how its failures are named."""

    title: str  # for messages, e.g. "the Kafka broker"
    state_file: str
    load: Callable[[Mapping[str, object]], S]
    error: type[ServiceError]
    start_error: type[StartError]
    extra_files: tuple[str, ...] = ()
    refuse_stale: bool = False
    log_tail_lines: int = 40
    port_attempts: int = PORT_ATTEMPTS
    # Called with the state directory before its data is removed, once no server of it runs: for
    # what the servers leave that a plain removal cannot take (the Docker engine's mounts).
    release: Callable[[Path], None] | None = None

    def read_state(self, state_dir: Path) -> S | None:
        """What the state file records, whether it still runs or not; None if unreadable."""
        try:
            return self.load(json.loads((state_dir / self.state_file).read_text("utf-8")))
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    def running(self, state_dir: Path) -> S | None:
        """The recorded state if every one of its servers still runs, else None."""
        state = self.read_state(state_dir)
        if state is None or not all(processes.is_alive(p, state.mark) for p in state.pids.values()):
            return None
        return state

    def exited(self, state: S) -> list[str]:
        """The names of the recorded servers that no longer run."""
        return sorted(
            name for name, p in state.pids.items() if not processes.is_alive(p, state.mark)
        )

    def start(
        self,
        state_dir: Path,
        prepare: Callable[[], D],
        launch: Callable[[D, Launch], S],
        *,
        ready_timeout: float,
        die_with_parent: bool,
    ) -> S:
        """The running service of ``state_dir``, or a new one that serves.

        Under the lock: ``prepare()`` once (a fetch or a build), then ``launch(prepared, launch)``
        per attempt in a cleared state directory with an empty ``data/``; it spawns the servers
        through the :class:`Launch` and waits until they serve, and returns the state to record.
        """
        state_dir = state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        with processes.locked(state_dir / LOCK_FILE):
            existing = self.running(state_dir)
            if existing is not None:
                return existing
            recorded = self.read_state(state_dir)
            if recorded is not None and self.refuse_stale:
                raise self.start_error(
                    f"{', '.join(self.exited(recorded))} of {self.title} in {state_dir} exited "
                    f"(logs in {recorded.data_dir / 'logs'}); stop it first, which deletes its data"
                )
            prepared = prepare()
            for attempt in range(1, self.port_attempts + 1):
                self.clear(state_dir)
                try:
                    return self._start_once(
                        state_dir, prepared, launch, ready_timeout, die_with_parent
                    )
                except StartError as exc:
                    # Another process bound a port between the pick and a server's bind.
                    if not exc.port_taken or attempt == self.port_attempts:
                        raise
            raise AssertionError("unreachable")

    def _start_once(
        self,
        state_dir: Path,
        prepared: D,
        launch: Callable[[D, Launch], S],
        ready_timeout: float,
        die_with_parent: bool,
    ) -> S:
        attempt = Launch(self, state_dir, ready_timeout, die_with_parent)
        attempt.data_dir.mkdir()
        try:
            state = launch(prepared, attempt)
            text = json.dumps(state_to_json(state), indent=2) + "\n"
            processes.write_atomically(state_dir / self.state_file, text)
        except BaseException:
            attempt.kill_all()
            for name in self.extra_files:
                (state_dir / name).unlink(missing_ok=True)
            raise
        return state

    def stop(self, state_dir: Path, *, grace: float) -> None:
        """Stop what the state file records (last started first: SIGTERM, SIGKILL after ``grace``
        seconds), then clear the state directory. Nothing recorded or running: just clear it."""
        state_dir = state_dir.resolve()
        if not state_dir.is_dir():
            return
        with processes.locked(state_dir / LOCK_FILE):
            state = self.read_state(state_dir)
            if state is not None:
                for name, pid in reversed(list(state.pids.items())):
                    if processes.is_alive(pid, state.mark) and not processes.terminate(
                        pid, state.mark, grace, KILL_WAIT_S
                    ):
                        raise self.error(
                            f"{name} (pid {pid}) survived SIGKILL for {KILL_WAIT_S:.0f}s"
                        )
            self.clear(state_dir)

    def clear(self, state_dir: Path) -> None:
        """Remove what a previous run left in ``state_dir``: its state file, extra files, data."""
        if self.release is not None:
            self.release(state_dir)
        (state_dir / self.state_file).unlink(missing_ok=True)
        for name in self.extra_files:
            (state_dir / name).unlink(missing_ok=True)
        shutil.rmtree(state_dir / DATA_DIR, ignore_errors=True)


class Launch:
    """One start attempt: the servers it spawned, so that a failure kills every one of them.

    The readiness clock starts at the first spawn and bounds every :meth:`wait_for` of the attempt.
    """

    def __init__(
        self, service: Service[S], state_dir: Path, ready_timeout: float, die_with_parent: bool
    ) -> None:
        self._start_error = service.start_error
        self._log_tail_lines = service.log_tail_lines
        self.state_dir = state_dir
        self.data_dir = state_dir / DATA_DIR
        self.ready_timeout = ready_timeout
        self._die_with_parent = die_with_parent
        self._deadline: float | None = None
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        cwd: Path,
        env: Mapping[str, str] | None = None,
    ) -> int:
        """Start ``command`` as the server ``name`` in its own session, its output appended to
        ``log_path``, in ``env`` (default: this process's); returns its pid. With
        ``die_with_parent`` (Linux) it gets SIGTERM when the starting thread dies."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self.ready_timeout
        preexec = processes.parent_death_signal(signal.SIGTERM) if self._die_with_parent else None
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=None if env is None else dict(env),
                start_new_session=True,
                preexec_fn=preexec,  # noqa: PLW1509 - it only calls prctl, resolved before the fork
            )
        processes.CHILDREN[process.pid] = process
        self._started.append((name, process))
        return process.pid

    def wait_for(
        self, state: State, check: Callable[[], bool], *, during: str, timed_out: str
    ) -> None:
        """Poll ``check`` until it holds. A spawned server that exits first raises the service's
        start error "<server> exited with <code> <during>"; the deadline raises "<timed_out>";
        both with the tails of ``state``'s logs."""
        deadline = self._deadline if self._deadline is not None else time.monotonic()
        while True:
            for name, process in self._started:
                code = process.poll()
                if code is not None:
                    tails = self._tails(state)
                    raise self._start_error(
                        f"{name} exited with {code} {during}\n{tails}",
                        port_taken=PORT_TAKEN in tails.lower(),
                    )
            if check():
                return
            if time.monotonic() >= deadline:
                raise self._start_error(f"{timed_out}\n{self._tails(state)}")
            time.sleep(POLL_INTERVAL_S)

    def kill_all(self) -> None:
        """Kill and collect every server of the attempt, last started first."""
        for _name, process in reversed(self._started):
            processes.kill(process.pid, KILL_WAIT_S)
            processes.CHILDREN.pop(process.pid, None)

    def _tails(self, state: State) -> str:
        return log_tails(state.log_paths(), self._log_tail_lines, state.data_dir)


Command = Callable[[Path], int]


def run_cli(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    default_state_dir: Callable[[], Path],
    state_dir_help: str,
    commands: Mapping[str, Command],
    commands_help: str | None = None,
) -> int:
    """Parse ``[--state-dir DIR] COMMAND`` and run ``commands[COMMAND](state_dir)``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--state-dir", type=Path, default=None, help=state_dir_help)
    parser.add_argument("command", choices=list(commands), help=commands_help)
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir or default_state_dir()
    # SIGTERM unwinds like Ctrl-C, so servers being started are stopped rather than orphaned.
    signal.signal(signal.SIGTERM, processes.exit_on_sigterm)
    try:
        return commands[args.command](state_dir)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
