"""The test kubelet: registers its node, schedules pods onto it, and hands each one to a worker.

Threads, each with one owner and one job (the daemon starts and stops all of them):

- **heartbeat** (``node.py``): the node's Lease and conditions;
- **pod watch**: lists all pods, then watches them from the list's resourceVersion (relisting after
  ``410 Gone``, reconnecting after a second on any other failure). Each event goes to the
  scheduler (unbound pods) or to the pod's worker (pods bound to this node); a pod that vanished
  while the watch was down is treated as DELETED;
- **scheduler**: binds the pods that fit through ``pods/binding``, and marks the others
  ``Unschedulable``; a failed API call is retried after a second, and a pod whose claims do not
  exist yet is looked at again every second until they do;
- **provisioner** (``provisioner.py``): PersistentVolumes for the claims of the kubelet's
  StorageClass, which it creates (as the default class) before it is ready;
- **one worker per pod** (``pods.py``), which owns the pod's processes and status.

Invariants: at most one kubelet per state directory (a lock file); at most one kubelet per pod IP
prefix on this machine (a lock file under the temp dir, so that kubelets of concurrent test
sessions never hand out the same address; ``auto`` takes the first free prefix); no two live pods
share an IP; a pod has at most one worker, and events of a pod whose worker has finished are
ignored, so a pod that is being deleted is never started again. :meth:`Daemon.stop` stops intake
(watch, scheduler), then the pods (each within the shutdown grace), then the heartbeat; every wait
is bounded.
"""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Final, TextIO

from kconnect_devenv.kubelet import addresses, claims, envs, node, scheduling
from kconnect_devenv.kubelet.api import MERGE_PATCH, Api, ApiError, JsonObject, Watch
from kconnect_devenv.kubelet.pods import KILL_WAIT_S, PodWorker, Settings
from kconnect_devenv.kubelet.provisioner import Provisioner
from kconnect_devenv.kubelet.status import TERMINAL_PHASES

LOG = logging.getLogger(__name__)

WATCH_TIMEOUT_S: Final = 300
RETRY_S: Final = 1.0
SYNC_TIMEOUT_S: Final = 30.0
JOIN_SLACK_S: Final = 5.0
FINISHED_MEMORY_S: Final = 600.0
DEFAULT_SHUTDOWN_GRACE_S: Final = 15.0
LOCK_FILE: Final = "kubelet.lock"
PREFIX_LOCK_DIR: Final = "kconnect-test-kubelet"


class KubeletError(RuntimeError):
    """The kubelet cannot start; the message says why."""


@dataclasses.dataclass(frozen=True)
class Config:
    node_name: str
    state_dir: Path
    pod_ip_prefix: str = addresses.AUTO  # or three octets, e.g. 127.0.1
    namespaces: frozenset[str] = frozenset()
    node_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    backoff_base: float = 1.0
    backoff_cap: float = 20.0
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE_S


class Daemon:
    def __init__(self, api: Api, config: Config) -> None:
        self._api = api
        self._config = config
        self._labels = node.node_labels(config.node_name, config.node_labels)
        self._capacity = node.machine_capacity()
        self._settings = Settings(
            node_name=config.node_name,
            host_ip=addresses.HOST_IP,
            state_dir=config.state_dir,
            service_env=envs.service_env(api.host, api.port),
            allocatable=self._capacity,
            path_first=str(Path(sys.executable).parent),
            backoff_base=config.backoff_base,
            backoff_cap=config.backoff_cap,
        )
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._workers: dict[str, PodWorker] = {}
        self._ips: dict[str, str] = {}  # uid -> pod IP, of live workers
        self._last_ip: str | None = None
        self._finished: dict[str, float] = {}  # uid -> when its worker ended
        self._pending: dict[str, JsonObject] = {}  # uid -> unbound pod to schedule
        self._pending_changed = threading.Condition(self._lock)
        self._synced = threading.Event()
        self._watch: Watch | None = None
        self._heartbeat: node.Heartbeat | None = None
        self._provisioner = Provisioner(
            api, config.node_name, config.state_dir / "volumes", config.namespaces
        )
        self._provisioner_started = False
        self._threads: list[threading.Thread] = []
        self._lock_handles: list[TextIO] = []  # held until the process exits
        self.pod_ip_prefix = ""  # the prefix in use, once run() has taken one

    # ---- lifecycle

    def run(self, on_ready: Callable[[], None]) -> None:
        """Register the node, start everything, call ``on_ready``, and serve until :meth:`stop`."""
        self._take_state_dir()
        self.pod_ip_prefix = self._take_prefix()
        try:
            name = self._config.node_name
            registered = node.register(self._api, name, self._labels, self._capacity)
            if not node.is_ready(registered):
                raise KubeletError(f"node {name} is not Ready after registration")
            self._heartbeat = node.Heartbeat(self._api, registered, self._capacity)
            self._heartbeat.start()
            self._provisioner.ensure_class()
            self._provisioner.start()
            self._provisioner_started = True
            for target, thread_name in (
                (self._watch_loop, "pod-watch"),
                (self._schedule_loop, "scheduler"),
            ):
                thread = threading.Thread(target=target, name=thread_name, daemon=True)
                thread.start()
                self._threads.append(thread)
            if not self._synced.wait(SYNC_TIMEOUT_S) and not self._stopped.is_set():
                raise KubeletError(f"could not list pods within {SYNC_TIMEOUT_S:g}s")
            if not self._stopped.is_set():
                on_ready()
            while not self._stopped.wait(1.0):
                pass
        finally:
            self._stopped.set()
            self._shut_down()

    def stop(self) -> None:
        """Ask :meth:`run` to stop everything and return; callable from a signal handler."""
        self._stopped.set()

    def _take_state_dir(self) -> None:
        state_dir = self._config.state_dir
        (state_dir / "pods").mkdir(parents=True, exist_ok=True)
        if not self._hold_lock_file(state_dir / LOCK_FILE):
            raise KubeletError(f"another kubelet runs with the state directory {state_dir}")

    def _take_prefix(self) -> str:
        locks = Path(tempfile.gettempdir()) / PREFIX_LOCK_DIR
        locks.mkdir(parents=True, exist_ok=True)
        wanted = self._config.pod_ip_prefix
        for prefix in addresses.prefix_candidates(wanted):
            if self._hold_lock_file(locks / f"{prefix}.lock"):
                return prefix
        if wanted != addresses.AUTO:
            raise KubeletError(
                f"another test kubelet on this machine uses pod IP prefix {wanted} (it holds "
                f"{locks / (wanted + '.lock')}); pick another --pod-ip-prefix, or auto"
            )
        raise KubeletError(f"every pod IP prefix is taken (locks in {locks})")

    def _hold_lock_file(self, path: Path) -> bool:
        """An exclusive lock on ``path`` for the rest of this process's life, if free."""
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_handles.append(handle)
        return True

    def _shut_down(self) -> None:
        LOG.info("stopping: pods get up to %gs", self._config.shutdown_grace)
        watch = self._watch
        if watch is not None:
            watch.close()
        with self._pending_changed:
            self._pending_changed.notify_all()
        for thread in self._threads:
            thread.join(JOIN_SLACK_S)
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.shutdown(self._config.shutdown_grace)
        deadline = time.monotonic() + self._config.shutdown_grace + KILL_WAIT_S + JOIN_SLACK_S
        for worker in workers:
            if not worker.join(max(0.0, deadline - time.monotonic())):
                LOG.error("pod %s/%s did not stop in time", worker.namespace, worker.name)
        if self._provisioner_started:
            self._provisioner.stop()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        LOG.info("stopped")

    # ---- the pod watch

    def _watch_loop(self) -> None:
        resource_version: str | None = None
        while not self._stopped.is_set():
            try:
                if resource_version is None:
                    listing = self._api.request("GET", "/api/v1/pods")
                    resource_version = str(listing["metadata"]["resourceVersion"])
                    self._reconcile(listing.get("items") or [])
                    self._synced.set()
                watch = self._api.watch(
                    "/api/v1/pods", resource_version=resource_version, timeout_s=WATCH_TIMEOUT_S
                )
                self._watch = watch
                if self._stopped.is_set():
                    watch.close()
                for event in watch:
                    kind, pod = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        raise ApiError(
                            int(pod.get("code") or 500),
                            str(pod.get("reason") or "Error"),
                            str(pod.get("message") or ""),
                        )
                    resource_version = str(pod["metadata"]["resourceVersion"])
                    if kind != "BOOKMARK":
                        self._on_pod(str(kind), pod)
            except ApiError as exc:
                if exc.status == 410:
                    LOG.info("the pod watch expired; listing again")
                    resource_version = None
                    continue
                LOG.warning("the pod watch failed (retrying): %s", exc)
                self._stopped.wait(RETRY_S)
            except (OSError, ValueError, KeyError) as exc:
                if not self._stopped.is_set():
                    LOG.warning("the pod watch failed (retrying): %s", exc)
                    self._stopped.wait(RETRY_S)
            except Exception:
                LOG.exception("the pod watch failed unexpectedly (retrying)")
                self._stopped.wait(RETRY_S)

    def _reconcile(self, pods: list[JsonObject]) -> None:
        """A fresh list: every pod is news, and a worker whose pod is not listed lost it."""
        listed = {str(p["metadata"]["uid"]) for p in pods}
        with self._lock:
            lost = [w for uid, w in self._workers.items() if uid not in listed]
            for uid in [uid for uid in self._pending if uid not in listed]:
                del self._pending[uid]
        for worker in lost:
            worker.deleted()
        for pod in pods:
            self._on_pod("ADDED", pod)

    def _on_pod(self, kind: str, pod: JsonObject) -> None:
        metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        uid = str(metadata.get("uid"))
        if kind == "DELETED":
            with self._lock:
                self._pending.pop(uid, None)
                worker = self._workers.get(uid)
            if worker is not None:
                worker.deleted()
            return
        node_name = spec.get("nodeName")
        if not node_name:
            with self._pending_changed:
                if scheduling.wants_scheduling(pod, self._config.namespaces):
                    self._pending[uid] = pod
                    self._pending_changed.notify_all()
                else:
                    self._pending.pop(uid, None)
            return
        with self._lock:
            self._pending.pop(uid, None)
            if node_name != self._config.node_name or uid in self._finished:
                return
            worker = self._workers.get(uid)
            if worker is None:
                worker = self._new_worker(pod)
                if worker is None:
                    return
                self._workers[uid] = worker
                created = True
            else:
                created = False
        if created:
            LOG.info(
                "running pod %s/%s (uid %s) at %s",
                metadata.get("namespace"), metadata.get("name"), uid, worker.pod_ip or "(no IP)",
            )  # fmt: skip
            worker.start()
        else:
            worker.update(pod)

    def _new_worker(self, pod: JsonObject) -> PodWorker | None:
        """A worker for ``pod`` with an IP reserved for it; called with the lock held."""
        uid = str(pod["metadata"]["uid"])
        current = (pod.get("status") or {}).get("podIP")
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            ip = str(current or "")  # finished before: nothing will run, no address is held
        elif (pod.get("spec") or {}).get("hostNetwork"):
            ip = addresses.HOST_IP  # as in Kubernetes: the node's IP, shared
        else:
            prefix = self.pod_ip_prefix
            in_use = set(self._ips.values()) | addresses.host_listening_ips()
            if addresses.in_pool(prefix, current) and current not in in_use:
                ip = str(current)
            else:
                found = addresses.next_ip(prefix, in_use, self._last_ip)
                if found is None:
                    LOG.error("no free pod IP under %s for pod %s", prefix, uid)
                    return None
                ip = found
            self._ips[uid] = ip
            self._last_ip = ip
        return PodWorker(self._api, self._settings, pod, ip, self._worker_done)

    def _worker_done(self, uid: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._workers.pop(uid, None)
            self._ips.pop(uid, None)
            self._finished[uid] = now
            for old in [u for u, t in self._finished.items() if now - t > FINISHED_MEMORY_S]:
                del self._finished[old]

    # ---- the scheduler

    def _schedule_loop(self) -> None:
        while not self._stopped.is_set():
            with self._pending_changed:
                if not self._pending:
                    self._pending_changed.wait(1.0)
                batch = dict(self._pending)
            failed = waiting = False
            for uid, pod in batch.items():
                if self._stopped.is_set():
                    return
                try:
                    if not self._schedule(pod):
                        waiting = True
                        continue  # stays pending: looked at again after RETRY_S
                except ApiError as exc:
                    if not (exc.conflict or exc.not_found):
                        LOG.warning("could not schedule pod %s (retrying): %s", uid, exc)
                        failed = True
                        continue
                except OSError as exc:
                    LOG.warning("could not schedule pod %s (retrying): %s", uid, exc)
                    failed = True
                    continue
                except Exception:
                    LOG.exception("could not schedule pod %s", uid)
                    failed = True
                    continue
                with self._lock:
                    if self._pending.get(uid) is pod:
                        del self._pending[uid]
            if failed or waiting:
                with self._pending_changed:
                    self._pending_changed.wait(RETRY_S)

    def _schedule(self, pod: JsonObject) -> bool:
        """Bind the pod or say why it is unschedulable; False to look at it again later."""
        metadata = pod["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        now = datetime.datetime.now(datetime.UTC)
        if not scheduling.fits(pod, self._config.node_name, self._labels):
            self._unschedulable(pod, scheduling.unschedulable_conditions(pod, now))
            return True  # the node's labels do not change: nothing to retry
        problem = claims.claims_problem(
            pod,
            lambda claim: self._api.get(
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}"
            ),
        )
        if problem is not None:
            self._unschedulable(pod, scheduling.unschedulable_conditions(pod, now, problem))
            return False
        self._api.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/pods/{name}/binding",
            scheduling.binding(pod, self._config.node_name),
        )
        LOG.info("bound pod %s/%s to %s", namespace, name, self._config.node_name)
        return True

    def _unschedulable(self, pod: JsonObject, conditions: list[JsonObject] | None) -> None:
        if conditions is None:
            return
        metadata = pod["metadata"]
        namespace, name = metadata["namespace"], metadata["name"]
        self._api.request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/pods/{name}/status",
            {"metadata": {"uid": metadata["uid"]}, "status": {"conditions": conditions}},
            content_type=MERGE_PATCH,
        )
        LOG.info(
            "pod %s/%s is Unschedulable on node %s: %s",
            namespace, name, self._config.node_name, conditions[0].get("message"),
        )  # fmt: skip


def namespaces_of(values: Collection[str]) -> frozenset[str]:
    return frozenset(v for v in values if v)
