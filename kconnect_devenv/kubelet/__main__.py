"""``python -m kconnect_devenv.kubelet --kubeconfig PATH --state-dir DIR [...]``: the kubelet.

Logs go to stderr. Once the node is registered and Ready and the pods are listed, one line
``KUBELET READY node=<name> pod-ip-prefix=<prefix>`` goes to stdout, which is what
:func:`kconnect_devenv.kubelet.start` waits for.
SIGTERM or SIGINT stops every pod (each within ``--shutdown-grace-period``), then the kubelet exits
with 0; a failure to start exits with 1 and says why on stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from kconnect_devenv.kubelet import READY_LINE, addresses, restarts
from kconnect_devenv.kubelet.api import Api, ApiError
from kconnect_devenv.kubelet.daemon import DEFAULT_SHUTDOWN_GRACE_S, Config, Daemon, KubeletError


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE")
    return key, value


def _prefix(text: str) -> str:
    try:
        return addresses.parse_prefix(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m kconnect_devenv.kubelet",
        description="A test kubelet: one node that schedules pods and runs them as processes.",
    )
    p.add_argument("--kubeconfig", type=Path, required=True, help="the API server and credentials")
    p.add_argument(
        "--state-dir", type=Path, required=True, help="pod directories, logs, volumes and pid files"
    )
    p.add_argument("--node-name", default="kconnect-test", help="default: %(default)s")
    p.add_argument(
        "--pod-ip-prefix",
        type=_prefix,
        default=addresses.AUTO,
        help="pods get <prefix>.2 .. <prefix>.254, e.g. 127.0.1; auto (the default) takes the "
        "first of 127.0.1, 127.0.2, ... that no other test kubelet on this machine uses",
    )
    p.add_argument(
        "--namespace",
        action="append",
        default=[],
        dest="namespaces",
        help="schedule pods of this namespace only (repeatable; default: all namespaces)",
    )
    p.add_argument(
        "--node-label",
        action="append",
        type=_label,
        default=[],
        dest="node_labels",
        help="an extra node label KEY=VALUE (repeatable)",
    )
    p.add_argument(
        "--backoff-base",
        type=float,
        default=restarts.DEFAULT_BASE_S,
        help="first crash-loop back-off in seconds (default: %(default)s; a real kubelet: 10)",
    )
    p.add_argument(
        "--backoff-max",
        type=float,
        default=restarts.DEFAULT_CAP_S,
        help="longest crash-loop back-off in seconds (default: %(default)s; a real kubelet: 300)",
    )
    p.add_argument(
        "--shutdown-grace-period",
        type=float,
        default=DEFAULT_SHUTDOWN_GRACE_S,
        help="on SIGTERM, the longest a pod gets to stop (default: %(default)s)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s [%(threadName)s] %(message)s",
    )
    state_dir: Path = args.state_dir.resolve()
    config = Config(
        node_name=args.node_name,
        state_dir=state_dir,
        pod_ip_prefix=args.pod_ip_prefix,
        namespaces=frozenset(args.namespaces),
        node_labels=dict(args.node_labels),
        backoff_base=args.backoff_base,
        backoff_cap=args.backoff_max,
        shutdown_grace=args.shutdown_grace_period,
    )
    try:
        api = Api(args.kubeconfig, state_dir / "kubeconfig-files")
        daemon = Daemon(api, config)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger(__name__).info("got %s", signal.Signals(signum).name)
        daemon.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)

    def ready() -> None:
        print(
            f"{READY_LINE} node={config.node_name} pod-ip-prefix={daemon.pod_ip_prefix}", flush=True
        )

    try:
        daemon.run(ready)
    except (KubeletError, ApiError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        daemon.stop()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
