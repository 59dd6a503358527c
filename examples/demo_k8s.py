"""`make demo-k8s` and the operator tour that ends `make demo`: the operator on a real node.

`up` brings up the operator's platform (:mod:`kconnect_devenv.operatorplatform`): a control plane
started for a node, a Kafka broker with a listener the pods reach, the real node (containerd,
kubelet, kube-proxy, kube-scheduler, CoreDNS) with the worker and operator images built from the
checkout and imported, and the operator installed from the Helm chart. It then applies
`examples/connector.yaml` with `bootstrapServers` pointed at the broker, shows `kubectl get
kafkaconnectors` until the connector is Ready, reads records it wrote, and prints how to reach
everything. Everything keeps running; `down` stops it all and restores the host. Each step of `up`
finds what already runs, so `up` can be run again.

`tour` does the same in a directory of its own and tears it all down afterwards, also when a step
fails: the last part of `make demo`.

The node needs root, and one node runs per machine: a node of `make node-up` or of a test session
makes `up` fail at once, saying so. State lives under `$KCONNECT_CACHE/run/demo-k8s/` (`tour`:
`run/demo-tour/`). Every wait is bounded.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from confluent_kafka import Consumer

from kconnect_devenv import lifecycle, operatorplatform, operatorrelease, processes
from kconnect_devenv.cluster import Kubectl, WaitTimeout, wait_for

HERE: Final = Path(__file__).resolve().parent
CONNECTOR_FILE: Final = HERE / "connector.yaml"
CONNECTOR: Final = "users"
TOPIC: Final = "users"
READY_TIMEOUT_S: Final = 180.0
RECORDS_TIMEOUT_S: Final = 30.0


def state_dir() -> Path:
    return lifecycle.cache_root() / "run" / "demo-k8s"


def tour_dir() -> Path:
    return lifecycle.cache_root() / "run" / "demo-tour"


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def connector_manifest(bootstrap: str) -> str:
    """`examples/connector.yaml` with `bootstrapServers` set to `bootstrap`."""
    text = CONNECTOR_FILE.read_text("utf-8")
    placeholder = "my-cluster-kafka-bootstrap:9092"
    if placeholder not in text:
        raise ValueError(f"{CONNECTOR_FILE} has no bootstrapServers: {placeholder} to replace")
    return text.replace(placeholder, bootstrap)


def sample_records(bootstrap: str, topic: str, count: int) -> list[str]:
    """Up to `count` record values from the start of `topic`, read within a bounded time."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"demo-k8s-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    values: list[str] = []
    deadline = time.monotonic() + RECORDS_TIMEOUT_S
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                values.append((message.value() or b"").decode())
    finally:
        consumer.close()
    return values


def show_connector(kubectl: Kubectl, bootstrap: str, namespace: str = "default") -> list[str]:
    """Apply the example connector in `namespace`, show it until Ready, and return records it
    wrote (it fails, with the resource and the pods, if it is not Ready in time or writes none)."""
    say(f"kubectl apply -f {CONNECTOR_FILE.relative_to(HERE.parent)}")
    applied = time.monotonic()
    print(kubectl.run("-n", namespace, "apply", "-f", "-", stdin=connector_manifest(bootstrap)))

    say("kubectl get kafkaconnectors, until Ready")
    last = ""

    def ready() -> bool:
        nonlocal last
        table = kubectl.run("-n", namespace, "get", "kafkaconnectors", check=False).rstrip()
        # A row is printed when it changes, not when only its AGE (the last column) does.
        shown = "\n".join(line.rsplit(None, 1)[0] for line in table.splitlines() if line.strip())
        if shown != last:
            print(table.splitlines()[-1] if last else table, flush=True)
            last = shown
        obj = kubectl.get("kafkaconnector", CONNECTOR, namespace) or {}
        conditions = (obj.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    try:
        wait_for(f"KafkaConnector {CONNECTOR} to be Ready", ready, READY_TIMEOUT_S, interval=1.0)
    except WaitTimeout as error:
        described = kubectl.run("-n", namespace, "describe", "kafkaconnector,pods", check=False)
        raise WaitTimeout(f"{error}\n{described}") from None
    print(f"Ready {time.monotonic() - applied:.1f} s after kubectl apply")
    print(kubectl.run("-n", namespace, "get", "pods", "-o", "wide").rstrip())

    say(f"Records in the topic `{TOPIC}`")
    values = sample_records(bootstrap, TOPIC, 3)
    if not values:
        raise WaitTimeout(f"no record in {TOPIC} after {RECORDS_TIMEOUT_S:.0f} s")
    for value in values:
        print(value)
    return values


def how_to_reach(platform: operatorplatform.Platform) -> str:
    kubectl = platform.plane.kubectl
    release = platform.release
    return (
        f"export KUBECONFIG={platform.plane.kubeconfig}\n"
        f"{kubectl} get kafkaconnectors,pods\n"
        f"{kubectl} scale kafkaconnector {CONNECTOR} --replicas=3\n"
        f"{kubectl} patch kafkaconnector {CONNECTOR} --type=merge "
        '-p \'{"spec":{"state":"paused"}}\'\n'
        f"{kubectl} logs -n {release.namespace} -l {operatorrelease.SELECTOR}   # the operator\n"
        f"{kubectl} logs -l kconnect.io/connector={CONNECTOR} --prefix   # the workers\n"
        f"bootstrap.servers={platform.bootstrap} (from the host and from pods)\n"
        f"the node's logs: {platform.node.data_dir / 'logs'}\n"
    )


def up() -> int:
    say("The operator's platform: images, control plane, broker, node, operator (Helm chart)")
    platform = operatorplatform.up(state_dir(), progress=lambda line: print(line, flush=True))
    show_connector(platform.kubectl, platform.bootstrap)
    say("Everything keeps running")
    print(how_to_reach(platform) + "Stop it all with: make demo-k8s-down")
    return 0


def down() -> int:
    operatorplatform.down(state_dir())
    return 0


def tour() -> int:
    """The operator part of `make demo`: up, a connector Ready and writing, then down."""
    began = time.monotonic()
    try:
        say("The operator on a real Kubernetes node: images, control plane, broker, node, chart")
        platform = operatorplatform.up(tour_dir(), progress=lambda line: print(line, flush=True))
        show_connector(platform.kubectl, platform.bootstrap)
    finally:
        say("Stopping the operator, the node (restoring the host), the broker, the control plane")
        operatorplatform.down(tour_dir())
    print(f"The operator tour took {time.monotonic() - began:.0f} s; `make demo-k8s` keeps it up.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.demo_k8s", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "tour"), nargs="?", default="up")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the tour still tears down what it started.
    signal.signal(signal.SIGTERM, processes.exit_on_sigterm)
    try:
        return {"up": up, "down": down, "tour": tour}[args.command]()
    except (lifecycle.ServiceError, AssertionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
