"""``make kind-up`` for real: a kind cluster on the project's engine, the chart, the examples, and
a KafkaConnector that goes Ready and writes records (docs/kind.md), read back by a consumer in
a pod of the worker image.

It runs what ``make kind-up`` runs (``python -m kconnect_devenv.kindenv prepare``, then
``e2e/kind/kind-up.sh`` with the environment that writes) and what ``make kind-down`` runs,
the latter also when anything fails. It needs the images of ``make images`` and root, and it takes
minutes and must not run beside the e2e tier's node, so it runs in a session of its own:
``make test-kind``, and ``make test`` after its main session (``KCONNECT_TEST_KIND=1``).
The steps' times are printed (``-s``), never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from kconnect_devenv import hostsysctls, kindenv, nodenetwork

REPO = Path(__file__).resolve().parents[2]
KIND_DIR = REPO / "e2e" / "kind"
UP_TIMEOUT_S = 1500.0
DOWN_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 300
RECORDS = 5
# Run in a pod of the worker image (confluent-kafka is in it): the records of the example's topic.
CONSUME = f"""
import time
from confluent_kafka import Consumer
consumer = Consumer({{"bootstrap.servers": "kafka.kafka.svc:9092", "group.id": "kind-test",
                     "auto.offset.reset": "earliest"}})
consumer.subscribe(["users"])
seen, deadline = 0, time.monotonic() + 120
while seen < {RECORDS} and time.monotonic() < deadline:
    message = consumer.poll(1.0)
    if message is not None and message.error() is None:
        print(message.value().decode(), flush=True)
        seen += 1
consumer.close()
"""

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("KCONNECT_TEST_KIND") != "1",
        reason="kind takes minutes: run `make test-kind` (KCONNECT_TEST_KIND=1)",
    ),
    pytest.mark.timeout(UP_TIMEOUT_S + 2 * DOWN_TIMEOUT_S + 2 * READY_TIMEOUT_S),
]


def _bash(script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env_file = kindenv.state_dir() / kindenv.ENV_FILE
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; source '{env_file}'; {script}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _kubectl(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    quoted = " ".join(f"'{arg}'" for arg in args)
    return _bash(f'kubectl --context "kind-${{KIND_CLUSTER_NAME}}" {quoted}', timeout)


def _checked(result: subprocess.CompletedProcess[str], what: str) -> str:
    """``result``'s output; on failure, an assertion with its output and the cluster's pods and
    events, which say why more often than the command does."""
    if result.returncode != 0:
        cluster = _bash(
            'kubectl --context "kind-${KIND_CLUSTER_NAME}" get pods -A -o wide; '
            'kubectl --context "kind-${KIND_CLUSTER_NAME}" get events -A | tail -40',
            60,
        )
        pytest.fail(
            f"{what} exited with {result.returncode}:\n{result.stdout[-4000:]}"
            f"{result.stderr[-4000:]}\n--- the cluster:\n{cluster.stdout}{cluster.stderr}"
        )
    return result.stdout


def _host_state() -> tuple[list[str], dict[str, str]]:
    return nodenetwork.comparable_rules(nodenetwork.iptables_snapshot()), hostsysctls.snapshot()


@pytest.fixture(scope="module")
def kind_cluster() -> Iterator[dict[str, float]]:
    """The cluster of ``make kind-up``, deleted afterwards with everything prepared for it; the
    host's rules and kernel settings must then be as they were before."""
    times: dict[str, float] = {}
    before = _host_state()
    began = time.monotonic()
    try:
        kindenv.prepare(progress=print)
        times["prepare"] = time.monotonic() - began
        up = _bash(f"'{KIND_DIR / 'kind-up.sh'}'", UP_TIMEOUT_S)
        times["kind-up.sh"] = time.monotonic() - began - times["prepare"]
        print(up.stderr[-3000:])
        _checked(up, "kind-up.sh")
        yield times
    finally:
        down = _bash(f"'{KIND_DIR / 'kind-down.sh'}'", DOWN_TIMEOUT_S)
        kindenv.release()
        print(f"kind-down.sh: {down.returncode} {down.stderr[-500:]}")
    rules, settings = _host_state()
    assert rules == before[0], "make kind-down left the host's iptables rules changed"
    # A key may appear meanwhile (nf_conntrack loaded by the first rule that needs it).
    assert {key: settings.get(key) for key in before[1]} == before[1]


def test_a_node_opens_no_connection_to_the_host(kind_cluster: dict[str, float]) -> None:
    # Nothing listens on port 9 of the bridge's host address: without the guard the connection
    # would be refused at once; with it the SYN is dropped and the attempt times out.
    assert "KCONNECT-KIND-FORWARD" in nodenetwork.run_command("iptables", "-S", "FORWARD")
    gateway = kindenv.SUBNET.replace(".0/24", ".1")
    attempt = _bash(
        f'docker exec "${{KIND_CLUSTER_NAME}}-control-plane" timeout 3 '
        f"bash -c 'echo > /dev/tcp/{gateway}/9'",
        30,
    )
    assert attempt.returncode == 124, (attempt.returncode, attempt.stderr)


def test_the_example_kafkaconnector_goes_ready_and_writes_records(
    kind_cluster: dict[str, float],
) -> None:
    began = time.monotonic()
    _checked(
        _kubectl(
            [
                "-n", "kconnect", "wait", "--for=condition=Ready", "kafkaconnector/users",
                f"--timeout={READY_TIMEOUT_S}s",
            ],
            READY_TIMEOUT_S + 30,
        ),
        "kubectl wait for the KafkaConnector",
    )  # fmt: skip
    kind_cluster["kind-up.sh done to Ready"] = time.monotonic() - began
    status = json.loads(
        _checked(
            _kubectl(["-n", "kconnect", "get", "kafkaconnector", "users", "-o", "json"], 60),
            "kubectl get",
        )
    )["status"]
    assert status["connectorState"]["state"] == "RUNNING", status
    # Not `kubectl run --rm -i`: its attach can miss the output of a container that is quick to
    # finish. The pod runs to completion, then its log is read and the pod deleted.
    _checked(
        _kubectl(
            [
                "-n", "kconnect", "run", "records", "--restart=Never",
                "--image=kconnect-worker:dev", "--image-pull-policy=Never", "--command", "--",
                "python", "-c", CONSUME,
            ],
            60,
        ),
        "kubectl run of the consumer pod",
    )  # fmt: skip
    try:
        _checked(
            _kubectl(
                [
                    "-n", "kconnect", "wait", "--for=jsonpath={.status.phase}=Succeeded",
                    "pod/records", "--timeout=240s",
                ],
                270,
            ),
            "kubectl wait for the consumer pod to succeed",
        )  # fmt: skip
        consumed = _checked(_kubectl(["-n", "kconnect", "logs", "records"], 60), "kubectl logs")
    finally:
        _kubectl(["-n", "kconnect", "delete", "pod", "records", "--wait=false"], 60)
    records = [json.loads(line) for line in consumed.splitlines() if line.startswith("{")]
    assert len(records) == RECORDS, consumed
    print({step: round(seconds, 1) for step, seconds in kind_cluster.items()})
