"""One pod's life on the node: a worker thread per pod, from volumes to the last status.

:class:`PodWorker` owns everything of its pod: its directory, its volumes, its container runs, the
probers of those runs and its status. Each tick (every :data:`TICK_S`, or at once when something
happens) it

1. ends the pod if it is going away: a ``deletionTimestamp`` runs the ``preStop`` hooks, sends
   SIGTERM, waits ``deletionGracePeriodSeconds``, sends SIGKILL, writes the final status and deletes
   the pod object (grace 0, UID precondition), as only a kubelet does; a DELETED event (a forced
   deletion) kills at once; the kubelet's own shutdown stops the pod within its shutdown grace and
   leaves the object alone;
2. reaps runs that ended and applies ``restartPolicy`` with the crash-loop back-off; restarts a
   container whose liveness or startup probe failed;
3. sets up the volumes (refreshing ConfigMap, Secret, downward API and projected ones every
   :data:`VOLUME_SYNC_S`), then starts the init containers one after another and then the
   containers; a reference that does not resolve yet leaves the container waiting
   (``CreateContainerConfigError``) and is tried again every :data:`RETRY_S`;
4. computes the status and writes it through ``pods/status`` when it changed.

Invariants: the worker's thread starts every run of its pod and outlives them all (the runs die
with the thread that started them); it is the only writer of its pod's status; it never blocks
longer than a probe of an exec hook's timeout or an API request's, except while stopping the pod,
which is bounded by the grace period. If the worker itself fails, it kills its runs and says so in
the kubelet's log; the pod is then left as it was.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from kconnect_devenv.kubelet import claims, containers, envs, probes, restarts, status, volumes
from kconnect_devenv.kubelet.api import MERGE_PATCH, Api, ApiError, JsonObject
from kconnect_devenv.kubelet.status import ContainerView, Running, Terminated, Waiting

LOG = logging.getLogger(__name__)

TICK_S: Final = 0.25
RETRY_S: Final = 1.0
VOLUME_SYNC_S: Final = 10.0
STATUS_RETRY_S: Final = 1.0
KILL_WAIT_S: Final = 10.0
MIN_GRACE_AFTER_HOOK_S: Final = 2.0
DEFAULT_GRACE_S: Final = 30.0
TOKEN_REFRESH_FRACTION: Final = 0.8


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every pod worker of one kubelet shares."""

    node_name: str
    host_ip: str
    state_dir: Path
    service_env: Mapping[str, str]
    allocatable: Mapping[str, str]
    path_first: str  # the directory put first on a container's PATH (the venv's bin)
    backoff_base: float = restarts.DEFAULT_BASE_S
    backoff_cap: float = restarts.DEFAULT_CAP_S

    @property
    def reset_after(self) -> float:
        return 2 * self.backoff_cap


def pod_dir_name(namespace: str, name: str, uid: str) -> str:
    return f"{namespace}_{name}_{uid}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --------------------------------------------------------------------------------------------------
# Reading ConfigMaps, Secrets and tokens for one pod


class _Objects:
    """ConfigMaps and Secrets from the API server, and service account tokens, cached per pod."""

    def __init__(self, api: Api) -> None:
        self._api = api
        self._tokens: dict[tuple[str | None, int], tuple[str, float]] = {}

    def config_map(self, namespace: str, name: str) -> JsonObject | None:
        return self._api.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    def secret(self, namespace: str, name: str) -> JsonObject | None:
        return self._api.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    def token(self, pod: JsonObject, audience: str | None, expiration_seconds: int) -> str:
        key = (audience, expiration_seconds)
        cached = self._tokens.get(key)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        metadata, spec = pod["metadata"], pod["spec"]
        account = spec.get("serviceAccountName") or "default"
        body: JsonObject = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [audience] if audience else [],
                "expirationSeconds": expiration_seconds,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                },
            },
        }
        path = f"/api/v1/namespaces/{metadata['namespace']}/serviceaccounts/{account}/token"
        try:
            answer = self._api.request("POST", path, body)
        except ApiError as exc:
            raise volumes.VolumeError(
                f"token request for service account {account}: {exc}"
            ) from exc
        token = str(answer["status"]["token"])
        refresh = time.monotonic() + expiration_seconds * TOKEN_REFRESH_FRACTION
        self._tokens[key] = (token, refresh)
        return token


# --------------------------------------------------------------------------------------------------
# Probers


class Prober:
    """Runs one container run's probes on its own thread and keeps their states."""

    def __init__(
        self,
        specs: list[probes.ProbeSpec],
        *,
        pod_ip: str,
        container: JsonObject,
        exec_in_container: probes.ExecInContainer,
        on_change: Callable[[], None],
        name: str,
    ) -> None:
        self._specs = {spec.kind: spec for spec in specs}
        self._pod_ip = pod_ip
        self._container = container
        self._exec = exec_in_container
        self._on_change = on_change
        self._lock = threading.Lock()
        self._states = {kind: probes.initial_state(kind) for kind in self._specs}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def state(self, kind: probes.Kind) -> probes.ProbeState | None:
        with self._lock:
            return self._states.get(kind)

    @property
    def started(self) -> bool:
        startup = self.state(probes.Kind.STARTUP)
        return startup is None or startup.ok

    @property
    def ready(self) -> bool:
        readiness = self.state(probes.Kind.READINESS)
        return self.started and (readiness is None or readiness.ok)

    def failure(self) -> str | None:
        """Why the container must be restarted (failed liveness or startup probe), or None."""
        liveness = self.state(probes.Kind.LIVENESS)
        if liveness is not None and not liveness.ok:
            return f"Liveness probe failed: {liveness.message}"
        startup = self.state(probes.Kind.STARTUP)
        spec = self._specs.get(probes.Kind.STARTUP)
        if (
            startup is not None
            and spec is not None
            and not startup.ok
            and startup.failures >= spec.failure_threshold
        ):
            return f"Startup probe failed: {startup.message}"
        return None

    def _eligible(self, kind: probes.Kind) -> bool:
        if kind is probes.Kind.STARTUP:
            return not self.started
        return self.started

    def _run(self) -> None:
        began = time.monotonic()
        due = {kind: began + spec.initial_delay for kind, spec in self._specs.items()}
        while not self._stopped.is_set():
            now = time.monotonic()
            eligible = [kind for kind in self._specs if self._eligible(kind)]
            for kind in eligible:
                if due[kind] > now or self._stopped.is_set():
                    continue
                spec = self._specs[kind]
                ok, message = probes.run_action(
                    spec.action,
                    pod_ip=self._pod_ip,
                    container=self._container,
                    timeout=spec.timeout,
                    exec_in_container=self._exec,
                )
                with self._lock:
                    before = self._states[kind]
                    after = probes.observe(before, spec, ok, message)
                    self._states[kind] = after
                due[kind] = time.monotonic() + spec.period
                if before.ok != after.ok or (not after.ok and kind is not probes.Kind.READINESS):
                    self._on_change()
            pending = [due[kind] for kind in self._specs if self._eligible(kind)]
            wait = min(pending) - time.monotonic() if pending else 1.0
            self._stopped.wait(min(max(wait, 0.01), 1.0))


# --------------------------------------------------------------------------------------------------
# Containers


@dataclasses.dataclass
class _Slot:
    """The worker's record of one container across its runs."""

    spec: JsonObject
    init: bool
    state: status.State
    last_state: Terminated | None = None
    restart_count: int = 0
    crashes: int = 0
    due: float = 0.0  # monotonic time before which it is not (re)started
    run: containers.Run | None = None
    run_started: datetime.datetime | None = None
    run_started_mono: float = 0.0
    pid: int | None = None
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    prober: Prober | None = None
    killing: bool = False  # a failed probe had it stopped; it restarts once it has ended
    kill_deadline: float | None = None  # when SIGTERM turns into SIGKILL
    finished: bool = False  # exited and will not run again
    log_offset: int = 0  # where the current run's output starts in <container>.log

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def running(self) -> bool:
        return isinstance(self.state, Running)

    def view(self) -> ContainerView:
        running = self.running
        prober = self.prober
        if self.init:
            # As the real kubelet reports them: ready once succeeded, started while running.
            started = running
            ready = isinstance(self.state, Terminated) and self.state.exit_code == 0
        else:
            started = running and (prober is None or prober.started)
            ready = running and (prober is None or prober.ready)
        return ContainerView(
            name=self.name,
            image=str(self.spec.get("image") or ""),
            state=self.state,
            last_state=self.last_state,
            restart_count=self.restart_count,
            ready=ready,
            started=started,
            pid=self.pid,
        )


class PodWorker:
    """The thread that runs one pod; see the module's docstring."""

    def __init__(
        self,
        api: Api,
        settings: Settings,
        pod: JsonObject,
        pod_ip: str,
        on_done: Callable[[str], None],
    ) -> None:
        metadata = pod["metadata"]
        self.uid = str(metadata["uid"])
        self.namespace = str(metadata["namespace"])
        self.name = str(metadata["name"])
        self.pod_ip = pod_ip
        self._api = api
        self._settings = settings
        self._objects = _Objects(api)
        self._on_done = on_done
        self.dir = settings.state_dir / "pods" / pod_dir_name(self.namespace, self.name, self.uid)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pod = pod
        self._deleted = False
        self._shutdown_grace: float | None = None
        spec = pod.get("spec") or {}
        init_specs = spec.get("initContainers") or []
        first = Waiting("PodInitializing" if init_specs else "ContainerCreating")
        self._init = [_Slot(c, True, Waiting("PodInitializing")) for c in init_specs]
        self._main = [_Slot(c, False, first) for c in spec.get("containers") or []]
        self._restart_policy = str(spec.get("restartPolicy") or "Always")
        current = dict(pod.get("status") or {})
        # A pod adopted from an earlier kubelet keeps counting its restarts.
        for key, slots in (
            ("initContainerStatuses", self._init),
            ("containerStatuses", self._main),
        ):
            counts = {
                s.get("name"): int(s.get("restartCount") or 0) for s in current.get(key) or []
            }
            for slot in slots:
                slot.restart_count = counts.get(slot.name, 0)
        self._phase: str | None = (
            current.get("phase") if current.get("phase") in status.TERMINAL_PHASES else None
        )
        self._written: JsonObject = current
        self._next_status_write = 0.0
        started = current.get("startTime")
        self._start_time = (
            datetime.datetime.fromisoformat(str(started).replace("Z", "+00:00"))
            if started
            else _now()
        )
        self._volumes_ready = False
        self._volume_error = ""
        self._next_volume_sync = 0.0
        self._claim_sources: dict[str, Path] = {}  # volume name -> the bound PV's directory
        self._thread = threading.Thread(
            target=self._main_loop, name=f"pod {self.namespace}/{self.name}", daemon=True
        )

    # ---- called from other threads

    def start(self) -> None:
        self._thread.start()

    def update(self, pod: JsonObject) -> None:
        with self._lock:
            self._pod = pod
        self._wake.set()

    def deleted(self) -> None:
        """The pod object is gone: kill at once."""
        with self._lock:
            self._deleted = True
        self._wake.set()

    def shutdown(self, grace: float) -> None:
        """The kubelet stops: stop the pod within ``grace`` seconds, keep the object."""
        with self._lock:
            self._shutdown_grace = grace
        self._wake.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- the worker's thread

    def _main_loop(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            while not self._tick():
                self._wake.wait(TICK_S)
                self._wake.clear()
        except Exception:
            LOG.exception(
                "pod %s/%s: the pod worker failed; killing its containers",
                self.namespace,
                self.name,
            )
            self._kill_all()
        finally:
            self._cleanup()
            self._on_done(self.uid)

    def _tick(self) -> bool:
        """One round; True when the worker is done."""
        with self._lock:
            pod, deleted, shutdown_grace = self._pod, self._deleted, self._shutdown_grace
        if deleted:
            LOG.info("pod %s/%s was deleted outright: killing it", self.namespace, self.name)
            self._stop_all(0.0, run_hooks=False)
            return True
        if shutdown_grace is not None:
            self._stop_all(min(shutdown_grace, self._grace(pod)), run_hooks=True)
            return True
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            grace = pod["metadata"].get("deletionGracePeriodSeconds")
            grace_s = float(grace) if grace is not None else self._grace(pod)
            LOG.info(
                "pod %s/%s is being deleted: stopping it (grace %gs)",
                self.namespace,
                self.name,
                grace_s,
            )
            self._stop_all(grace_s, run_hooks=True)
            self._final_status(pod)
            self._delete(pod)
            return True
        self._reap(pod)
        if self._phase is None:
            self._sync_volumes(self._known(pod))
            if self._volumes_ready:
                self._start_due(self._known(pod))
        self._write_status(pod)
        return False

    def _known(self, pod: JsonObject) -> JsonObject:
        """``pod`` with what this kubelet knows before the API server does: its node and IPs.
        The downward API reads these, and the first run starts before the first status write."""
        ips = {
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "hostIP": self._settings.host_ip,
            "hostIPs": [{"ip": self._settings.host_ip}],
        }
        return {
            **pod,
            "spec": {**(pod.get("spec") or {}), "nodeName": self._settings.node_name},
            "status": {**(pod.get("status") or {}), **ips},
        }

    @staticmethod
    def _grace(pod: JsonObject) -> float:
        value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return float(value) if value is not None else DEFAULT_GRACE_S

    def _slots(self) -> list[_Slot]:
        return [*self._init, *self._main]

    # ---- runs ending, probes failing

    def _reap(self, pod: JsonObject) -> None:
        now = time.monotonic()
        for slot in self._slots():
            run = slot.run
            if run is None:
                continue
            ended = run.poll()
            if ended is None:
                if isinstance(slot.state, Waiting):
                    pid = run.main_pid()
                    if pid is not None:
                        self._running(slot, pid)
                if slot.kill_deadline is not None and now >= slot.kill_deadline:
                    run.kill()
                    slot.kill_deadline = None
                elif not slot.killing and slot.prober is not None:
                    failure = slot.prober.failure()
                    if failure is not None:
                        LOG.info(
                            "pod %s/%s container %s: %s; restarting it",
                            self.namespace, self.name, slot.name, failure,
                        )  # fmt: skip
                        slot.prober.stop()
                        slot.killing = True
                        run.terminate()
                        slot.kill_deadline = now + self._grace(pod)
                continue
            self._ended(slot, ended)

    def _run_output(self, slot: _Slot) -> bytes:
        """The end of what the run that just ended wrote to its log (enough for a message)."""
        path = containers.ContainerFiles.of(self.dir, slot.name).log
        try:
            with path.open("rb") as log:
                size = log.seek(0, os.SEEK_END)
                log.seek(max(slot.log_offset, size - status.LOG_READ_BYTES))
                return log.read()
        except OSError as exc:
            LOG.warning("pod %s/%s: cannot read %s: %s", self.namespace, self.name, path, exc)
            return b""

    def _running(self, slot: _Slot, pid: int) -> None:
        slot.pid = pid
        slot.state = Running(_now())
        slot.run_started = slot.state.started_at
        slot.run_started_mono = time.monotonic()
        LOG.info("pod %s/%s container %s runs as pid %d", self.namespace, self.name, slot.name, pid)
        specs = [] if slot.init else probes.container_probes(slot.spec)
        if specs:
            env = slot.env
            slot.prober = Prober(
                specs,
                pod_ip=self.pod_ip,
                container=slot.spec,
                exec_in_container=lambda command, timeout: containers.exec_in(
                    pid, command, env, timeout
                ),
                on_change=self._wake.set,
                name=f"probes {self.namespace}/{self.name}/{slot.name}",
            )
            slot.prober.start()

    def _ended(self, slot: _Slot, ended: containers.Exit) -> None:
        now, now_mono = _now(), time.monotonic()
        if slot.prober is not None:
            slot.prober.stop()
            slot.prober = None
        slot.run = None
        slot.killing = False
        slot.kill_deadline = None
        reason = "StartError" if ended.error else status.exit_reason(ended.code)
        message = ended.error
        if not message and status.wants_log_message(slot.spec, ended.code):
            message = status.log_message(self._run_output(slot))
        terminated = Terminated(
            exit_code=ended.code,
            reason=reason,
            started_at=slot.run_started,
            finished_at=now,
            message=message,
            pid=slot.pid,
        )
        why = f": {ended.error}" if ended.error else ""
        LOG.info(
            "pod %s/%s container %s exited with %d%s",
            self.namespace, self.name, slot.name, ended.code, why,
        )  # fmt: skip
        policy = self._restart_policy
        if slot.init and policy == "Always":
            policy = "OnFailure"  # an init container that succeeded is done
        if not restarts.should_restart(policy, ended.code):
            slot.state = terminated
            slot.finished = True
            return
        ran = now_mono - slot.run_started_mono if slot.run_started is not None else 0.0
        slot.crashes = restarts.crashes_after(slot.crashes, ran, self._settings.reset_after)
        delay = restarts.backoff_delay(
            slot.crashes, self._settings.backoff_base, self._settings.backoff_cap
        )
        slot.last_state = terminated
        slot.due = now_mono + delay
        slot.run_started = None
        if delay > 0:
            slot.state = Waiting(
                "CrashLoopBackOff",
                f"back-off {delay:g}s restarting failed container={slot.name} "
                f"pod={self.name}_{self.namespace}({self.uid})",
            )
        else:
            slot.state = terminated

    # ---- volumes

    def _sync_volumes(self, pod: JsonObject) -> None:
        now = time.monotonic()
        if now < self._next_volume_sync:
            return
        try:
            for volume in (pod.get("spec") or {}).get("volumes") or []:
                self._set_up_volume(pod, volume)
        except volumes.VolumeError as exc:
            self._next_volume_sync = now + RETRY_S
            if self._volumes_ready:
                LOG.warning(
                    "pod %s/%s: could not refresh a volume: %s", self.namespace, self.name, exc
                )
                return
            if str(exc) != self._volume_error:
                LOG.info("pod %s/%s: volumes not ready: %s", self.namespace, self.name, exc)
            self._volume_error = str(exc)
            for slot in self._slots():
                if slot.run is None and not slot.finished and slot.last_state is None:
                    slot.state = Waiting("ContainerCreating", self._volume_error)
            return
        except (OSError, ApiError) as exc:
            self._next_volume_sync = now + RETRY_S
            LOG.warning(
                "pod %s/%s: volume setup failed (retrying): %s", self.namespace, self.name, exc
            )
            return
        self._next_volume_sync = now + VOLUME_SYNC_S
        if not self._volumes_ready:
            self._volumes_ready = True
            self._volume_error = ""

    def _set_up_volume(self, pod: JsonObject, volume: JsonObject) -> None:
        name = str(volume["name"])
        try:
            kind = volumes.volume_kind(volume)
            target = self._volume_dir(name)
            if kind == "emptyDir":
                target.mkdir(parents=True, exist_ok=True)
            elif kind == "hostPath":
                _check_host_path(volume["hostPath"])
            elif kind == "persistentVolumeClaim":
                self._claim_sources[name] = self._claim_source(volume["persistentVolumeClaim"])
            else:
                payload = volumes.volume_payload(
                    pod, volume, self._objects, self._objects, self._settings.allocatable
                )
                volumes.write_payload(target, payload, _now())
        except volumes.VolumeError as exc:
            raise volumes.VolumeError(
                f'MountVolume.SetUp failed for volume "{name}" : {exc}'
            ) from exc

    def _claim_source(self, source: JsonObject) -> Path:
        """The bound PV's directory; VolumeError while the claim is not Bound."""
        claim_name = str(source["claimName"])
        try:
            claim = self._api.get(
                f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/{claim_name}"
            )
            bound_to = claims.claim_volume_name(claim, self.namespace, claim_name)
            volume = self._api.get(f"/api/v1/persistentvolumes/{bound_to}")
            path = claims.claim_mount_source(claim or {}, volume)
        except claims.ClaimNotReady as exc:
            raise volumes.VolumeError(str(exc)) from exc
        if not path.is_dir():
            raise volumes.VolumeError(f"the directory {path} of volume {bound_to} does not exist")
        return path

    def _volume_dir(self, name: str) -> Path:
        return self.dir / "volumes" / name

    def _mounts(
        self, pod: JsonObject, container: JsonObject, env: Mapping[str, str]
    ) -> list[containers.Mount]:
        by_name = {str(v["name"]): v for v in (pod.get("spec") or {}).get("volumes") or []}
        mounts = []
        for mount in container.get("volumeMounts") or []:
            volume = by_name.get(str(mount["name"]))
            if volume is None:
                raise volumes.VolumeError(f'volumeMount "{mount["name"]}": no volume of that name')
            kind = volumes.volume_kind(volume)
            if kind == "hostPath":
                base = Path(volume["hostPath"]["path"])
            elif kind == "persistentVolumeClaim":
                claimed = self._claim_sources.get(str(volume["name"]))
                if claimed is None:
                    raise volumes.VolumeError(f'volume "{volume["name"]}": claim not bound yet')
                base = claimed
            else:
                base = self._volume_dir(str(volume["name"]))
            sub_path = mount.get("subPath") or ""
            if mount.get("subPathExpr"):
                sub_path = envs.expand(str(mount["subPathExpr"]), env)
            source = base
            if sub_path:
                source = base / volumes.check_path(sub_path)
                if not os.path.lexists(source):
                    source.mkdir(parents=True, exist_ok=True)
                source = source.resolve()
                if not source.is_relative_to(base.resolve()):
                    raise volumes.VolumeError(
                        f"subPath {sub_path!r} leaves volume {volume['name']!r}"
                    )
            mounts.append(
                containers.Mount(
                    source=source,
                    target=str(mount["mountPath"]),
                    read_only=bool(mount.get("readOnly"))
                    or kind == "files"
                    or bool((volume.get("persistentVolumeClaim") or {}).get("readOnly")),
                    file=source.is_file(),
                )
            )
        return mounts

    # ---- starting containers

    def _start_due(self, pod: JsonObject) -> None:
        for slot in self._init:
            if isinstance(slot.state, Terminated) and slot.state.exit_code == 0 and slot.finished:
                continue
            if slot.run is None and not slot.finished:
                self._maybe_start(slot, pod)
            return  # one init container at a time; the containers wait for all of them
        for slot in self._main:
            if slot.run is None and not slot.finished:
                self._maybe_start(slot, pod)

    def _maybe_start(self, slot: _Slot, pod: JsonObject) -> None:
        now = time.monotonic()
        if now < slot.due:
            return
        try:
            env = envs.container_env(
                pod,
                slot.spec,
                self._objects,
                service_env=self._settings.service_env,
                node_allocatable=self._settings.allocatable,
            )
            mounts = self._mounts(pod, slot.spec, env)
        except (envs.ConfigError, volumes.VolumeError) as exc:
            message = str(exc)
            if not (isinstance(slot.state, Waiting) and slot.state.message == message):
                LOG.info(
                    "pod %s/%s container %s: %s", self.namespace, self.name, slot.name, message
                )
            slot.state = Waiting("CreateContainerConfigError", message)
            slot.due = now + RETRY_S
            return
        except (OSError, ApiError) as exc:
            LOG.warning(
                "pod %s/%s container %s: cannot start yet: %s",
                self.namespace,
                self.name,
                slot.name,
                exc,
            )
            slot.due = now + RETRY_S
            return
        command = envs.command_line(slot.spec, env)
        if not command:
            slot.state = Waiting(
                "CreateContainerError",
                "the test kubelet ignores images, so the container needs a command",
            )
            slot.due = now + RETRY_S
            return
        if slot.last_state is not None or isinstance(slot.state, Terminated):
            slot.restart_count += 1
            if isinstance(slot.state, Terminated):
                slot.last_state = slot.state
        slot.pid = None
        # Probes and hooks run with the same environment as the container.
        slot.env = envs.process_env(os.environ, self._settings.path_first, self.name, env)
        files = containers.ContainerFiles.of(self.dir, slot.name)
        try:
            slot.log_offset = files.log.stat().st_size
        except FileNotFoundError:
            slot.log_offset = 0
        slot.run = containers.start(
            command=command,
            env=slot.env,
            working_dir=str(slot.spec.get("workingDir") or "/"),
            mounts=mounts,
            files=files,
        )
        slot.state = Waiting("ContainerCreating")
        slot.run_started = None

    # ---- stopping

    def _stop_all(self, grace: float, *, run_hooks: bool) -> None:
        """Stop every run: preStop hooks, SIGTERM, ``grace`` seconds, SIGKILL."""
        deadline = time.monotonic() + grace
        active = [slot for slot in self._slots() if slot.run is not None]
        for slot in active:
            if slot.prober is not None:
                slot.prober.stop()
        if grace > 0 and run_hooks:
            for slot in active:
                self._pre_stop(slot, deadline)
            deadline = max(deadline, time.monotonic() + min(MIN_GRACE_AFTER_HOOK_S, grace))
        runs = [slot.run for slot in active if slot.run is not None]
        if grace > 0:
            for run in runs:
                run.terminate()
            while not containers.wait_all(runs, min(deadline, time.monotonic() + TICK_S)):
                if time.monotonic() >= deadline or self._deleted_now():
                    break
        for run in runs:
            run.kill()
        if not containers.wait_all(runs, time.monotonic() + KILL_WAIT_S):
            LOG.error(
                "pod %s/%s: a container survived SIGKILL for %gs",
                self.namespace,
                self.name,
                KILL_WAIT_S,
            )
        self._restart_policy = "Never"  # the pod is going away: nothing runs again
        for slot in active:
            ended = slot.run.poll() if slot.run is not None else None
            if ended is not None:
                self._ended(slot, ended)
        for slot in self._slots():
            if slot.prober is not None:
                slot.prober.join(1.0)

    def _deleted_now(self) -> bool:
        with self._lock:
            return self._deleted

    def _pre_stop(self, slot: _Slot, deadline: float) -> None:
        hook = ((slot.spec.get("lifecycle") or {}).get("preStop")) or {}
        remaining = deadline - time.monotonic()
        if not hook or remaining <= 0 or slot.pid is None:
            return
        LOG.info(
            "pod %s/%s container %s: running its preStop hook", self.namespace, self.name, slot.name
        )
        if "sleep" in hook:
            seconds = float(hook["sleep"].get("seconds") or 0)
            end = time.monotonic() + min(seconds, remaining)
            while time.monotonic() < end and not self._deleted_now():
                time.sleep(min(TICK_S, max(0.0, end - time.monotonic())))
            return
        pid, env = slot.pid, dict(slot.env)
        ok, message = probes.run_action(
            hook,
            pod_ip=self.pod_ip,
            container=slot.spec,
            timeout=remaining,
            exec_in_container=lambda command, timeout: containers.exec_in(
                pid, command, env, timeout
            ),
        )
        if not ok:
            LOG.warning(
                "pod %s/%s container %s: preStop hook failed: %s",
                self.namespace,
                self.name,
                slot.name,
                message,
            )

    def _kill_all(self) -> None:
        for slot in self._slots():
            if slot.prober is not None:
                slot.prober.stop()
            if slot.run is not None:
                slot.run.kill()
        containers.wait_all(
            [s.run for s in self._slots() if s.run is not None], time.monotonic() + KILL_WAIT_S
        )

    def _cleanup(self) -> None:
        for slot in self._slots():
            if slot.prober is not None:
                slot.prober.stop()
        # Logs stay for the tests to read; volumes (which may hold Secrets) and scratch dirs go.
        shutil.rmtree(self.dir / "volumes", ignore_errors=True)
        shutil.rmtree(self.dir / "ns", ignore_errors=True)

    # ---- the API

    def _views(self) -> tuple[list[ContainerView], list[ContainerView]]:
        return [s.view() for s in self._init], [s.view() for s in self._main]

    def _desired_status(self, pod: JsonObject, phase: str | None) -> JsonObject:
        init_views, views = self._views()
        return status.pod_status(
            pod,
            init_views=init_views,
            views=views,
            sandbox_ready=self._volumes_ready,
            pod_ip=self.pod_ip,
            host_ip=self._settings.host_ip,
            start_time=self._start_time,
            now=_now(),
            phase=phase,
        )

    def _write_status(self, pod: JsonObject) -> None:
        desired = self._desired_status(pod, self._phase)
        if self._phase is None and desired["phase"] in status.TERMINAL_PHASES:
            self._phase = str(desired["phase"])
            LOG.info("pod %s/%s is %s", self.namespace, self.name, self._phase)
        if time.monotonic() < self._next_status_write:
            return
        self._patch_status(desired)

    def _patch_status(self, desired: JsonObject) -> bool:
        patch = status.status_patch(self._written, desired)
        if patch is None:
            return True
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
        try:
            self._api.request(
                "PATCH",
                path,
                {"metadata": {"uid": self.uid}, "status": patch},
                content_type=MERGE_PATCH,
            )
        except (OSError, ApiError) as exc:
            self._next_status_write = time.monotonic() + STATUS_RETRY_S
            LOG.warning("pod %s/%s: could not write its status: %s", self.namespace, self.name, exc)
            return False
        # What the pod's status now is, as far as the kubelet's fields go.
        merged = {**self._written, **desired}
        self._written = {
            k: v for k, v in merged.items() if k in desired or k not in status.OWNED_FIELDS
        }
        return True

    def _final_status(self, pod: JsonObject) -> None:
        init_views, views = self._views()
        phase = self._phase or status.pod_phase("Never", init_views, views)
        self._patch_status(self._desired_status(pod, phase))

    def _delete(self, pod: JsonObject) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": self.uid},
        }
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}"
        for attempt in range(3):
            try:
                self._api.request("DELETE", path, body)
            except ApiError as exc:
                if exc.not_found or exc.conflict:
                    return  # gone already, or a new pod of the same name
                LOG.warning("pod %s/%s: delete failed: %s", self.namespace, self.name, exc)
            except OSError as exc:
                LOG.warning("pod %s/%s: delete failed: %s", self.namespace, self.name, exc)
            else:
                LOG.info("pod %s/%s stopped and deleted", self.namespace, self.name)
                return
            time.sleep(RETRY_S * (attempt + 1))


def _check_host_path(host_path: JsonObject) -> None:
    path = Path(str(host_path["path"]))
    kind = str(host_path.get("type") or "")
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    elif kind == "Directory" and not path.is_dir():
        raise volumes.VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise volumes.VolumeError(f"hostPath type check failed: {path} is not a file")
    elif (
        kind not in {"", "Directory", "File", "DirectoryOrCreate", "FileOrCreate"}
        and not path.exists()
    ):
        raise volumes.VolumeError(f"hostPath {path} does not exist")
