"""`kconnect-operator`: the operator's process, from flags to exit code.

The process runs one event loop that owns everything else:

1. the health server (`/healthz`, `/readyz`, `/metrics`), started first;
2. the login (`kube.login`: the service account in a pod, else the kubeconfig, `KUBECONFIG`) and
   the one Kubernetes API client built from it (`kube.Kube`); the same login is kopf's login
   handler, so kopf, the Lease and the handlers use the same credentials;
3. leader election on a Lease (unless `--no-leader-election`): a standby replica stays live and
   ready with `kconnect_operator_leader 0` until it acquires the Lease;
4. kopf, run in-process with `registration.registry` and the `OperatorOptions` in its memo,
   while the Lease is renewed beside it.

How it ends, and the exit code:
- **SIGTERM or SIGINT** sets kopf's stop flag and waits for kopf (bounded, then cancelled),
  stops renewing, releases the Lease so a standby takes over at once, and exits 0. A standby
  that gets the signal just exits 0.
- **Leadership lost** (the Lease could not be renewed within the renew deadline, or another
  replica holds it) stops kopf and exits 1 without touching the Lease; the kubelet restarts
  the container, which then stands by. This is what controller-runtime does: a replica that may no
  longer lead must not keep running handlers.
- **kopf stopped on its own or failed** releases the Lease and exits 1.
- **Bad flags** exit 2 with argparse's message naming the flag; **no usable Kubernetes
  configuration** or **a taken health port** exit 1 with a message saying which.

Every task has an owner here: the renewal task and kopf's task are created by `_lead`, which
stops and awaits both before it returns, also when it is cancelled itself. kopf treats every task
created after it starts as its own and cancels it when it stops, so the renewal task is created
before kopf starts. kopf installs its own SIGINT/SIGTERM handlers when it starts; they are
replaced at once by this module's, which stop kopf through the same stop flag.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import kopf

from kconnect_operator import registration
from kconnect_operator.core import shapes
from kconnect_operator.core.election import JITTER_FACTOR, LeaseTiming, OwnerReference
from kconnect_operator.core.options import DEFAULT_IMAGE, OperatorOptions
from kconnect_operator.io import operator_metrics
from kconnect_operator.io.health import HealthServer
from kconnect_operator.io.kube import Kube, KubeError, login, object_path
from kconnect_operator.io.leader import LeaderElector
from kconnect_operator.kafkaconnector import model as kc_model

logger = logging.getLogger("kconnect_operator")

SERVICE_ACCOUNT_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_LEASE_NAME: Final = "kconnect-operator"
DEFAULT_HEALTH_PORT: Final = 8080
DEFAULT_HEALTH_HOST: Final = "0.0.0.0"

KOPF_STOP_TIMEOUT_S: Final = 20.0
"""How long kopf may take to stop after its stop flag is set, before it is cancelled."""
KOPF_CANCEL_TIMEOUT_S: Final = 5.0
"""How long a cancelled kopf may take to unwind before the process moves on without it."""
RELEASE_TIMEOUT_S: Final = 5.0
API_CHECK_TIMEOUT_S: Final = 10.0

EXIT_OK: Final = 0
EXIT_FAILURE: Final = 1

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_SUBDOMAIN = 253
_MAX_PORT = 65535
_DEFAULT_TIMING: Final = LeaseTiming()
_DEFAULT_OPTIONS: Final = OperatorOptions()


@dataclass(frozen=True, slots=True)
class LeaseConfig:
    name: str
    namespace: str
    identity: str
    timing: LeaseTiming
    owner_deployment: str | None = None
    """The Deployment (in the Lease's namespace) that owns the Lease, so deleting it deletes the
    Lease; None for no owner."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the command line decided, before anything runs."""

    namespaces: tuple[str, ...]
    """The namespaces to serve; empty means all of them (kopf's cluster-wide mode)."""
    health_host: str
    health_port: int
    lease: LeaseConfig | None
    """None when leader election is off: this replica then always runs the handlers."""
    options: OperatorOptions
    verbose: bool = False
    quiet: bool = False

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces


# --------------------------------------------------------------------------------------------------
# Flags.


def _dns_label(kind: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not _DNS1123_LABEL.fullmatch(value):
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a valid {kind}: expected a DNS-1123 label (lowercase letters, "
                "digits and '-', at most 63 characters, starting and ending alphanumeric)"
            )
        return value

    return parse


def _dns_subdomain(value: str) -> str:
    if len(value) > _MAX_SUBDOMAIN or not _DNS1123_SUBDOMAIN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a valid Lease name: expected a DNS-1123 subdomain (lowercase "
            "letters, digits, '-' and '.', at most 253 characters)"
        )
    return value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= _MAX_PORT:
        raise argparse.ArgumentTypeError(f"{port} is not a port number: expected 0 to 65535")
    return port


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of seconds") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{number} must be at least 1")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value} must be a positive, finite number of seconds")
    return number


def _non_empty(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value


def own_namespace(environ: Mapping[str, str], namespace_file: Path) -> str:
    """The namespace this pod runs in: `POD_NAMESPACE`, else the service account's, else
    `default` (e.g. outside a cluster)."""
    if environ.get("POD_NAMESPACE"):
        return environ["POD_NAMESPACE"]
    try:
        namespace = namespace_file.read_text("utf-8").strip()
    except OSError:
        namespace = ""
    return namespace or "default"


def build_parser(*, default_namespace: str, default_image: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kconnect-operator",
        description="The kconnect operator: runs KafkaConnector resources as worker clusters.",
        epilog="Exit codes: 0 after SIGTERM/SIGINT, 1 on failure or lost leadership, "
        "2 on bad flags.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        default=[],
        metavar="NS",
        type=_dns_label("namespace"),
        help="serve only this namespace (repeatable)",
    )
    scope.add_argument(
        "--all-namespaces",
        action="store_true",
        help="serve every namespace (the default without --namespace)",
    )

    health = parser.add_argument_group("health and metrics")
    health.add_argument(
        "--health-host",
        default=DEFAULT_HEALTH_HOST,
        type=_non_empty,
        help="address of /healthz, /readyz and /metrics (default: %(default)s)",
    )
    health.add_argument(
        "--health-port",
        default=DEFAULT_HEALTH_PORT,
        type=_port,
        help="port of /healthz, /readyz and /metrics (default: %(default)s)",
    )

    election = parser.add_argument_group("leader election")
    election.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the handlers only while holding a Lease (default: on)",
    )
    election.add_argument(
        "--lease-name",
        default=DEFAULT_LEASE_NAME,
        type=_dns_subdomain,
        help="the Lease's name (default: %(default)s)",
    )
    election.add_argument(
        "--lease-namespace",
        default=default_namespace,
        type=_dns_label("namespace"),
        help="the Lease's namespace (default: this pod's namespace, here %(default)s)",
    )
    election.add_argument(
        "--lease-owner",
        default=None,
        type=_dns_subdomain,
        metavar="DEPLOYMENT",
        help="the operator's Deployment, in the Lease's namespace: the Lease gets an owner "
        "reference to it, so deleting the Deployment (helm uninstall) deletes the Lease "
        "(default: no owner)",
    )
    election.add_argument(
        "--lease-duration",
        default=_DEFAULT_TIMING.lease_duration_s,
        type=_positive_int,
        metavar="SECONDS",
        help="how long a standby waits for a silent leader (default: %(default)s)",
    )
    election.add_argument(
        "--renew-deadline",
        default=_DEFAULT_TIMING.renew_deadline_s,
        type=_positive_float,
        metavar="SECONDS",
        help="how long the leader retries a renewal before it gives up (default: %(default)s)",
    )
    election.add_argument(
        "--retry-period",
        default=_DEFAULT_TIMING.retry_period_s,
        type=_positive_float,
        metavar="SECONDS",
        help="how often the Lease is renewed or tried (default: %(default)s)",
    )

    operator = parser.add_argument_group("operator")
    operator.add_argument(
        "--image",
        default=default_image,
        type=_non_empty,
        help="the worker image for resources that name none "
        "(default: $KCONNECT_WORKER_IMAGE, else %(default)s)",
    )
    operator.add_argument(
        "--operator-namespace",
        default=default_namespace,
        type=_dns_label("namespace"),
        help="where the operator runs, for the workers' NetworkPolicy "
        "(default: this pod's namespace, here %(default)s)",
    )
    operator.add_argument(
        "--instance",
        default=None,
        type=_non_empty,
        help="this install's name, claimed on every resource it reconciles (annotation "
        "kconnect.io/operator); resources another install claimed are left alone "
        "(default: <lease-namespace>/<lease-name>)",
    )
    operator.add_argument(
        "--sync-interval",
        default=_DEFAULT_OPTIONS.sync_interval_s,
        type=_positive_float,
        metavar="SECONDS",
        help="how often each connector's state is refreshed without an event "
        "(default: %(default)s)",
    )
    operator.add_argument(
        "--restart-backoff",
        default=_DEFAULT_OPTIONS.restart_backoff_s,
        type=_positive_float,
        metavar="SECONDS",
        help="the wait before an automatic restart after the first; it doubles with each "
        "restart (default: %(default)s)",
    )
    operator.add_argument(
        "--restart-backoff-max",
        default=_DEFAULT_OPTIONS.restart_backoff_max_s,
        type=_positive_float,
        metavar="SECONDS",
        help="the longest wait between automatic restarts (default: %(default)s)",
    )

    logs = parser.add_mutually_exclusive_group()
    logs.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    logs.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")
    return parser


def parse_config(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    hostname: str | None = None,
    namespace_file: Path = SERVICE_ACCOUNT_NAMESPACE,
) -> Config:
    """The configuration the flags and the environment give; bad flags exit 2 (argparse)."""
    namespace = own_namespace(environ, namespace_file)
    parser = build_parser(
        default_namespace=namespace,
        default_image=environ.get("KCONNECT_WORKER_IMAGE") or DEFAULT_IMAGE,
    )
    args = parser.parse_args(argv)

    timing = LeaseTiming(
        lease_duration_s=args.lease_duration,
        renew_deadline_s=args.renew_deadline,
        retry_period_s=args.retry_period,
    )
    if args.leader_election:
        if not timing.lease_duration_s > timing.renew_deadline_s:
            parser.error(
                f"argument --renew-deadline: {timing.renew_deadline_s:g}s must be less than "
                f"--lease-duration ({timing.lease_duration_s}s)"
            )
        if not timing.renew_deadline_s > JITTER_FACTOR * timing.retry_period_s:
            parser.error(
                f"argument --retry-period: {timing.retry_period_s:g}s is too long for "
                f"--renew-deadline {timing.renew_deadline_s:g}s: the deadline must exceed "
                f"{JITTER_FACTOR:g} times the retry period"
            )

    lease = None
    if args.leader_election:
        holder = environ.get("POD_NAME") or hostname or socket.gethostname()
        lease = LeaseConfig(
            name=args.lease_name,
            namespace=args.lease_namespace,
            identity=f"{holder}_{uuid.uuid4().hex[:12]}",
            timing=timing,
            owner_deployment=args.lease_owner,
        )
    return Config(
        namespaces=tuple(dict.fromkeys(args.namespaces)),
        health_host=args.health_host,
        health_port=args.health_port,
        lease=lease,
        options=OperatorOptions(
            image=args.image,
            operator_namespace=args.operator_namespace,
            sync_interval_s=args.sync_interval,
            restart_backoff_s=args.restart_backoff,
            restart_backoff_max_s=max(args.restart_backoff, args.restart_backoff_max),
            namespaces=tuple(dict.fromkeys(args.namespaces)),
            instance=args.instance or f"{args.lease_namespace}/{args.lease_name}",
        ),
        verbose=args.verbose,
        quiet=args.quiet,
    )


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    kopf.configure(verbose=config.verbose, quiet=config.quiet)
    return asyncio.run(run(config))


# --------------------------------------------------------------------------------------------------
# The process.


class _State:
    """What the probes report."""

    def __init__(self) -> None:
        self.ready = False
        self.kopf_task: asyncio.Task[None] | None = None

    def live(self) -> bool:
        return self.kopf_task is None or not self.kopf_task.done()

    def is_ready(self) -> bool:
        return self.ready


async def run(config: Config) -> int:
    """Runs the operator until a signal or a failure; returns the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()  # the process should exit
    kopf_stop = asyncio.Event()  # kopf's stop flag

    def on_signal(signum: signal.Signals) -> None:
        if stop.is_set():
            logger.warning("%s received again; still stopping.", signum.name)
        else:
            logger.info("%s received: stopping.", signum.name)
        stop.set()
        kopf_stop.set()

    def install_signal_handlers() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, on_signal, signum)
            except (NotImplementedError, RuntimeError, ValueError) as error:
                logger.warning("Cannot handle %s here: %s", signum.name, error)

    install_signal_handlers()
    state = _State()
    operator_metrics.LEADER.set(0)
    server = HealthServer(
        config.health_host, config.health_port, live=state.live, ready=state.is_ready
    )
    try:
        try:
            await server.start()
        except OSError as error:
            logger.error("%s", error)  # noqa: TRY400 - the message says it all
            return EXIT_FAILURE
        try:
            info = await asyncio.to_thread(login)
        except KubeError as error:
            logger.error("%s", error)  # noqa: TRY400
            return EXIT_FAILURE
        kube = Kube(info, relogin=login)
        try:
            _log_start(config)
            await _check_crd(kube)
            if config.lease is None:
                state.ready = True
                return await _lead(config, None, state, kopf_stop, install_signal_handlers)
            elector = LeaderElector(
                kube,
                name=config.lease.name,
                namespace=config.lease.namespace,
                identity=config.lease.identity,
                timing=config.lease.timing,
                on_change=_set_leader_metric,
                owner=await _lease_owner(kube, config.lease),
            )
            state.ready = True
            if not await elector.acquire(stop):
                logger.info("Stopped while standing by.")
                return EXIT_OK
            return await _lead(config, elector, state, kopf_stop, install_signal_handlers)
        finally:
            await kube.close()
    finally:
        state.ready = False
        await server.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
        operator_metrics.LEADER.set(0)


async def _lead(
    config: Config,
    elector: LeaderElector | None,
    state: _State,
    kopf_stop: asyncio.Event,
    reinstall_signal_handlers: Callable[[], None],
) -> int:
    """Runs kopf while the Lease is held; returns the exit code once it is stopped or lost."""
    if elector is None:
        operator_metrics.LEADER.set(1)
    renewal = asyncio.create_task(elector.hold(), name="lease renewal") if elector else None
    # kopf cancels every task created after this snapshot when it stops.
    ignored = asyncio.all_tasks()
    kopf_task = asyncio.create_task(
        _run_kopf(config, kopf_stop, ignored, reinstall_signal_handlers), name="kopf"
    )
    state.kopf_task = kopf_task
    lost = False
    try:
        watched: set[asyncio.Task[None]] = {kopf_task} if renewal is None else {kopf_task, renewal}
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if kopf_task in done:
            stopped_on_request = kopf_stop.is_set()
        else:
            lost = True
            stopped_on_request = False
            assert renewal is not None
            error = None if renewal.cancelled() else renewal.exception()
            if error is not None:
                logger.error("The lease renewal failed.", exc_info=error)
            logger.error("Leadership lost: stopping the handlers; the pod will be restarted.")
        kopf_stop.set()
        await _wait_for_kopf(kopf_task)
    finally:
        kopf_stop.set()
        if not kopf_task.done():
            kopf_task.cancel()
            await asyncio.wait({kopf_task}, timeout=KOPF_CANCEL_TIMEOUT_S)
        if renewal is not None:
            renewal.cancel()
            await asyncio.wait({renewal})

    failed = _kopf_failure(kopf_task)
    if lost:
        return EXIT_FAILURE
    if elector is not None:
        await elector.release(RELEASE_TIMEOUT_S)
    operator_metrics.LEADER.set(0)
    if failed is not None or not stopped_on_request:
        logger.error("The operator stopped on its own: %s", failed or "kopf exited")
        return EXIT_FAILURE
    logger.info("Stopped.")
    return EXIT_OK


async def _run_kopf(
    config: Config,
    stop_flag: asyncio.Event,
    ignored: Collection[asyncio.Task[object]],
    reinstall_signal_handlers: Callable[[], None],
) -> None:
    registry = registration.registry
    # A plain OperatorRegistry has no login handlers; kopf logs in as the operator's own client
    # does. kopf de-duplicates a handler registered twice under the same id.
    kopf.on.login(registry=registry, id="kconnect-login", errors=kopf.ErrorsMode.IGNORED)(login)
    tasks = await kopf.spawn_tasks(
        registry=registry,
        clusterwide=config.clusterwide,
        namespaces=config.namespaces,
        memo=kopf.Memo(options=config.options),
        stop_flag=stop_flag,
        standalone=True,
    )
    reinstall_signal_handlers()
    await kopf.run_tasks(tasks, ignored=ignored)


async def _wait_for_kopf(kopf_task: asyncio.Task[None]) -> None:
    """Waits for kopf to stop after its stop flag was set; cancels it past the bound."""
    done, _ = await asyncio.wait({kopf_task}, timeout=KOPF_STOP_TIMEOUT_S)
    if done:
        return
    logger.warning("kopf did not stop within %gs: cancelling it.", KOPF_STOP_TIMEOUT_S)
    kopf_task.cancel()
    done, _ = await asyncio.wait({kopf_task}, timeout=KOPF_CANCEL_TIMEOUT_S)
    if not done:
        logger.error("kopf did not unwind within %gs of its cancellation.", KOPF_CANCEL_TIMEOUT_S)


def _kopf_failure(kopf_task: asyncio.Task[None]) -> str | None:
    if not kopf_task.done():
        return "kopf did not stop"
    if kopf_task.cancelled():
        return None
    error = kopf_task.exception()
    return None if error is None else f"{type(error).__name__}: {error}"


async def _lease_owner(kube: Kube, lease: LeaseConfig) -> OwnerReference | None:
    """The owner reference of `--lease-owner`'s Deployment; None (logged) when it cannot be read,
    so a missing owner costs only the Lease's clean-up, never the operator's start."""
    if lease.owner_deployment is None:
        return None
    path = object_path("apps/v1", "Deployment", lease.namespace, lease.owner_deployment)
    try:
        async with asyncio.timeout(API_CHECK_TIMEOUT_S):
            deployment = await kube.get(path)
    except (KubeError, TimeoutError) as error:
        status = error.status if isinstance(error, KubeError) and error.status else None
        logger.warning(
            "Cannot read the Lease's owner, Deployment %s/%s (%s): the Lease gets no owner "
            "and outlives the Deployment.",
            lease.namespace,
            lease.owner_deployment,
            status or type(error).__name__,
        )
        return None
    meta = (deployment or {}).get("metadata") or {}
    if not meta.get("uid"):
        logger.warning(
            "The Lease's owner, Deployment %s/%s, does not exist: the Lease gets no owner.",
            lease.namespace,
            lease.owner_deployment,
        )
        return None
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"], "uid": meta["uid"]}


def _set_leader_metric(leading: bool) -> None:
    operator_metrics.LEADER.set(1 if leading else 0)


def _log_start(config: Config) -> None:
    scope = "all namespaces" if config.clusterwide else ", ".join(config.namespaces)
    if config.lease is None:
        logger.info("Serving %s without leader election.", scope)
    else:
        logger.info(
            "Serving %s once leading: lease %s/%s, identity %s.",
            scope,
            config.lease.namespace,
            config.lease.name,
            config.lease.identity,
        )


async def _check_crd(kube: Kube) -> None:
    """Says clearly when the KafkaConnector CRD is missing; kopf then waits for it."""
    try:
        async with asyncio.timeout(API_CHECK_TIMEOUT_S):
            found = await kube.get(f"/apis/{shapes.GROUP}/{shapes.VERSION}")
    except TimeoutError:
        logger.warning("Cannot reach the API server to check for the CRD: timed out.")
        return
    except KubeError as error:
        if error.status:
            logger.warning("Cannot check for the %s CRD: HTTP %s.", kc_model.KIND, error.status)
        else:
            logger.warning("Cannot reach the API server to check for the CRD: %s", error)
        return
    resources = (found or {}).get("resources") or []
    if kc_model.PLURAL not in {resource.get("name") for resource in resources}:
        _warn_crd_missing()


def _warn_crd_missing() -> None:
    logger.warning(
        "The %s CRD (%s.%s/%s) is not installed: install the chart or `kubectl apply -f crds/`. "
        "The operator waits for it.",
        kc_model.KIND,
        kc_model.PLURAL,
        shapes.GROUP,
        shapes.VERSION,
    )
