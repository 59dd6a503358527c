"""Log levels, log format and secrets, end to end on the real node: the operator from the Helm
chart, worker pods of the worker image (their logs as `kubectl logs` shows them), a real broker.

- **Log levels** from `spec.logging.loggers` reach every worker over `/admin/loggers` without a
  restart; a logger removed from the spec goes back to INFO. **The log format** is in the pod
  template, so changing it rolls the pods, and the new workers log JSON.
- **A Secret** mounted through `externalConfiguration.volumes` and named in the connector config
  as `${dir:...}` is resolved by the worker (the records carry a SHA-256 of the resolved value),
  while the value itself appears nowhere else: not in the resource, Events, other objects of the
  namespace, the workers' REST answers, the internal topics, or the worker and operator logs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
import uuid
from typing import Final

import pytest
from confluent_kafka import Consumer, TopicPartition

from e2e.test_kafkaconnector import (
    READY_TIMEOUT_S,
    connector_resource,
    events,
    record_count,
    rest,
    unique,
    wait_condition,
    worker_pods,
)
from kconnect_devenv.cluster import (
    JsonObject,
    Kubectl,
    KubectlError,
    wait_for,
)
from kconnect_devenv.operatorrelease import OperatorRelease

EXTERNAL_DIR: Final = "/opt/kconnect/external-configuration"
LOG_FORMAT_ENV: Final = {"name": "KCONNECT_LOG_FORMAT", "value": "json"}


def patch_spec(kubectl: Kubectl, namespace: str, name: str, spec: JsonObject) -> None:
    kubectl.run(
        "-n", namespace, "patch", "kctr", name, "--type=merge", "-p", json.dumps({"spec": spec})
    )


def levels_on_every_worker(kubectl: Kubectl, namespace: str, name: str, logger: str) -> set[str]:
    """The level each ready worker reports for `logger` (`None` for a worker that has none)."""
    pods = [
        p
        for p in worker_pods(kubectl, namespace, name)
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p.get("status", {}).get("conditions") or []
        )
    ]
    levels: set[str] = set()
    for pod in pods:
        try:
            levels.add(str(rest(pod, f"/admin/loggers/{logger}")["level"]))
        except OSError:
            levels.add("None")
    return levels


def wait_level(kubectl: Kubectl, namespace: str, name: str, logger: str, level: str) -> None:
    wait_for(
        f"{logger} at {level} on every worker of {name}",
        lambda: levels_on_every_worker(kubectl, namespace, name, logger) == {level},
        90,
    )


# --- log levels and format


def test_log_levels_change_at_run_time_and_the_format_rolls_the_pods(
    system: Kubectl, operator: OperatorRelease, namespace: str, kafka_bootstrap: str
) -> None:
    name = unique("logs")
    resource = connector_resource(
        name,
        namespace,
        kafka_bootstrap,
        tasksMax=2,
        replicas=2,
        config={"topic": unique("logs"), "records.per.second": "5"},
        logging={"loggers": {"kconnect.worker": "DEBUG"}},
    )
    # The CRD refuses a level Kafka does not know, naming the logger.
    bad = json.loads(json.dumps(resource))
    bad["spec"]["logging"]["loggers"]["kconnect.worker"] = "LOUD"
    with pytest.raises(KubectlError) as refused:
        system.run("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(bad))
    assert 'spec.logging.loggers.kconnect.worker: Unsupported value: "LOUD"' in str(refused.value)

    system.apply(resource)
    wait_condition(system, namespace, name, check=lambda o: o["status"]["workersReady"] == 2)
    wait_level(system, namespace, name, "kconnect.worker", "DEBUG")
    pods = {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)}
    assert len(pods) == 2
    obj = wait_condition(system, namespace, name, check=lambda o: o["status"].get("appliedLoggers"))
    assert obj["status"]["appliedLoggers"] == ["kconnect.worker"]
    set_events = [e for e in events(system, namespace, name) if e["reason"] == "LogLevelsSet"]
    assert set_events
    assert "kconnect.worker=DEBUG" in set_events[0]["message"]
    deployment = system.get("statefulset", f"{name}-connect", namespace)
    assert deployment is not None
    template_before = deployment["spec"]["template"]

    # A level change reaches the same pods: nothing rolls.
    patch_spec(system, namespace, name, {"logging": {"loggers": {"kconnect.worker": "WARN"}}})
    wait_level(system, namespace, name, "kconnect.worker", "WARN")
    assert {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)} == pods
    deployment = system.get("statefulset", f"{name}-connect", namespace)
    assert deployment is not None
    assert deployment["spec"]["template"] == template_before

    # A logger removed from the spec goes back to INFO (no root level is given), once.
    system.run(
        "-n", namespace, "patch", "kctr", name, "--type=json",
        "-p", json.dumps([{"op": "remove", "path": "/spec/logging/loggers"}]),
    )  # fmt: skip
    wait_level(system, namespace, name, "kconnect.worker", "INFO")
    wait_condition(system, namespace, name, check=lambda o: "appliedLoggers" not in o["status"])
    assert {p["metadata"]["uid"] for p in worker_pods(system, namespace, name)} == pods

    # The format is in the pod template: changing it rolls the pods, which then log JSON.
    patch_spec(system, namespace, name, {"logging": {"format": "json"}})

    def rolled() -> list[JsonObject]:
        now = worker_pods(system, namespace, name)
        fresh = [p for p in now if p["metadata"]["uid"] not in pods]
        return fresh if len(now) == 2 and len(fresh) == 2 else []

    wait_for("the worker pods to roll for the log format", rolled, READY_TIMEOUT_S)
    wait_condition(system, namespace, name, check=lambda o: o["status"]["workersReady"] == 2)
    for pod in worker_pods(system, namespace, name):
        assert pod["metadata"]["uid"] not in pods
        (container,) = pod["spec"]["containers"]
        assert LOG_FORMAT_ENV in container["env"]
        pod_name = pod["metadata"]["name"]
        wait_for(
            f"a JSON log line from {pod_name}",
            lambda pod_name=pod_name: any(
                _json_log_line(line)
                for line in system.logs(namespace, pod_name, "worker").splitlines()
            ),
            60,
        )


def _json_log_line(line: str) -> bool:
    try:
        parsed = json.loads(line)
    except ValueError:
        return False
    return isinstance(parsed, dict) and {"time", "level", "logger", "message"} <= set(parsed)


# --- secrets


PROBE_MODULE: Final = "kconnect_secret_probe"
PROBE_SOURCE: Final = textwrap.dedent(
    '''
    """A source whose records carry the SHA-256 of its `secret` config: proof that the worker
    resolved the variable, without the value in any record. It copies its config into its task
    configs, as many real connectors do."""

    import hashlib
    import threading

    from kconnect import SourceConnector, SourceRecord, SourceTask


    class DigestTask(SourceTask):
        def start(self, props):
            self._topic = props["topic"]
            self._digest = hashlib.sha256(props["secret"].encode()).hexdigest()
            self._left = int(props.get("records", "3"))
            self._stopped = threading.Event()

        def poll(self):
            if self._left <= 0:
                self._stopped.wait(0.5)
                return None
            self._left -= 1
            return [SourceRecord(self._topic, "sha256:" + self._digest)]

        def stop(self):
            self._stopped.set()


    class DigestSource(SourceConnector):
        def start(self, props):
            self._props = dict(props)

        def task_class(self):
            return DigestTask

        def task_configs(self, max_tasks):
            return [dict(self._props) for _ in range(max_tasks)]
    '''
)


def topic_records(bootstrap: str, topic: str) -> list[str]:
    """Every record of a one-partition topic, key and value, as text."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": unique("read"), "enable.auto.commit": False}
    )
    try:
        out: list[str] = []
        for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            read = 0
            while read < high - low:
                msg = consumer.poll(5)
                assert msg is not None, f"{topic}[{partition}]: {read} of {high - low} records read"
                if msg.error():
                    continue
                read += 1
                key, value = msg.key() or b"", msg.value() or b""
                out.append(f"{key.decode('utf-8', 'replace')} {value.decode('utf-8', 'replace')}")
        return out
    finally:
        consumer.close()


def test_a_secret_is_resolved_by_the_worker_and_never_leaks(
    system: Kubectl,
    operator: OperatorRelease,
    namespace: str,
    kafka_bootstrap: str,
) -> None:
    name, topic = unique("secret-probe"), unique("digests")
    value = f"s3cr3t-{uuid.uuid4().hex}"
    digest = hashlib.sha256(value.encode()).hexdigest()
    reference = f"${{dir:{EXTERNAL_DIR}/probe:token}}"
    system.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "probe-credentials", "namespace": namespace},
            "stringData": {"token": value},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "probe-plugin", "namespace": namespace},
            # The module, mounted as a file by the kubelet, and the path it is imported from.
            "data": {f"{PROBE_MODULE}.py": PROBE_SOURCE, "PYTHONPATH": f"{EXTERNAL_DIR}/plugin"},
        },
    )
    # No config.providers in workerConfig: the operator's default `dir` provider resolves it.
    system.apply(
        connector_resource(
            name,
            namespace,
            kafka_bootstrap,
            cls=f"{PROBE_MODULE}:DigestSource",
            config={"topic": topic, "secret": reference, "records": "3"},
            # Debug logs on every worker module, so a value logged anywhere is caught below.
            logging={"loggers": {"kconnect": "DEBUG"}},
            externalConfiguration={
                "env": [
                    {
                        "name": "PYTHONPATH",
                        "valueFrom": {
                            "configMapKeyRef": {"name": "probe-plugin", "key": "PYTHONPATH"}
                        },
                    }
                ],
                "volumes": [
                    {"name": "probe", "secret": {"secretName": "probe-credentials"}},
                    {"name": "plugin", "configMap": {"name": "probe-plugin"}},
                ],
            },
        )
    )
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    wait_condition(system, namespace, name, check=lambda o: o["status"].get("appliedLoggers"))
    # Restart at DEBUG, so the connector's and the task's whole start is logged at that level.
    system.run("-n", namespace, "annotate", "kctr", name, "kconnect.io/restart=includeTasks")
    wait_for(
        "the Restarted event",
        lambda: any(e["reason"] == "Restarted" for e in events(system, namespace, name)),
        90,
    )
    wait_condition(system, namespace, name, check=lambda o: o["status"]["tasksReady"] == 1)
    wait_for(f"6 records in {topic}", lambda: record_count(kafka_bootstrap, topic) >= 6, 90)

    # The worker resolved the variable: the records carry the digest of the Secret's value.
    records = topic_records(kafka_bootstrap, topic)
    assert records
    assert all(f"sha256:{digest}" in r for r in records), records[:3]

    # The stored config keeps the reference, on the REST API and in the config topic.
    (pod, *_) = worker_pods(system, namespace, name)
    assert rest(pod, f"/connectors/{name}/config")["secret"] == reference
    config_topic = f"kconnect.{namespace}.{name}.configs"
    config_records = topic_records(kafka_bootstrap, config_topic)
    assert any(
        r.startswith(f"connector-{name} ") and json.dumps(reference) in r for r in config_records
    ), config_records

    # The value itself is nowhere.
    places: dict[str, str] = {
        "the KafkaConnector": system.run("-n", namespace, "get", "kctr", name, "-o", "json"),
        "the namespace's Events": system.run("-n", namespace, "get", "events", "-o", "json"),
    }
    for kind in (
        "configmaps",
        "statefulsets",
        "controllerrevisions",
        "pods",
        "services",
        "poddisruptionbudgets",
        "networkpolicies",
    ):
        places[f"the namespace's {kind}"] = system.run("-n", namespace, "get", kind, "-o", "json")
    for path in ("", "/config", "/status", "/tasks"):
        for worker in worker_pods(system, namespace, name):
            where = f"GET /connectors/{name}{path} on {worker['metadata']['name']}"
            places[where] = json.dumps(rest(worker, f"/connectors/{name}{path}"))
    for suffix in ("configs", "offsets", "status"):
        internal = f"kconnect.{namespace}.{name}.{suffix}"
        places[f"the topic {internal}"] = "\n".join(topic_records(kafka_bootstrap, internal))
    for worker in worker_pods(system, namespace, name):
        pod_name = worker["metadata"]["name"]
        log = system.logs(namespace, pod_name, "worker")
        assert log.strip(), f"an empty log for {pod_name}"
        places[f"the log of {pod_name}"] = log
    places["the operator's log"] = operator.log()
    assert places["the operator's log"].strip(), "an empty operator log"

    leaks = sorted(where for where, text in places.items() if value in text)
    assert leaks == [], f"the Secret's value appears in: {', '.join(leaks)}"
    # The search is not vacuous: the Secret itself does hold the value.
    secret = system.get("secret", "probe-credentials", namespace)
    assert secret is not None
    assert base64.b64decode(secret["data"]["token"]).decode() == value
