"""The REST API of a running standalone worker, against real connectors and a real broker."""

from __future__ import annotations

import time

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from tests.support.workers import Standalone, read_lines, wait_until


def _lines_now(path) -> int:  # type: ignore[no-untyped-def]
    return len(read_lines(path))


def _datagen(topic: str, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": "2",
        "records.per.second": "200",
        **extra,
    }


def _topic_size(bootstrap: str, topic: str, partitions: int) -> int:
    """Records in `topic`: the sum of its partitions' high-water marks."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"size-{topic}"})
    try:
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        )
    finally:
        consumer.close()


def test_lifecycle_create_pause_resume_restart_stop_delete(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
) -> None:
    topic = new_topic(partitions=2)
    sink_file = standalone.cwd / "out.txt"
    w = standalone.start()

    # Create: 201 with the info, and a Location header's worth of name.
    status, body = w.request("POST", "/connectors", {"name": "gen", "config": _datagen(topic)})
    assert status == 201, body
    assert body["name"] == "gen"
    assert body["type"] == "source"
    assert body["config"]["name"] == "gen"
    status, body = w.request(
        "POST",
        "/connectors",
        {
            "name": "out",
            "config": {
                "connector.class": "FileStreamSink",
                "topics": topic,
                "file": str(sink_file),
            },
        },
    )
    assert status == 201, body
    w.wait_state("gen", "RUNNING", tasks=2)
    w.wait_state("out", "RUNNING", tasks=1)
    assert sorted(w.get("/connectors")) == ["gen", "out"]
    expanded = w.get("/connectors?expand=status&expand=info")
    assert expanded["gen"]["info"]["type"] == "source"
    assert expanded["out"]["status"]["connector"]["state"] == "RUNNING"
    tasks = w.get("/connectors/gen/tasks")
    assert [t["id"] for t in tasks] == [
        {"connector": "gen", "task": 0},
        {"connector": "gen", "task": 1},
    ]
    assert tasks[0]["config"]["datagen.task.index"] == "0"
    assert w.get("/connectors/gen/tasks/1/status")["state"] == "RUNNING"
    wait_until("records to flow", lambda: _lines_now(sink_file) > 50)

    # Creating it again is a conflict.
    status, body = w.request("POST", "/connectors", {"name": "gen", "config": _datagen(topic)})
    assert status == 409
    assert body["error_code"] == 409

    # Pause: the connector and its tasks say PAUSED and nothing more is produced.
    status, _ = w.request("PUT", "/connectors/gen/pause")
    assert status == 202
    w.wait_state("gen", "PAUSED", tasks=2)
    produced = _topic_size(kafka_bootstrap, topic, 2)
    wait_until(
        "the sink to write out what was produced before the pause",
        lambda: _lines_now(sink_file) >= produced,
    )
    settled = _lines_now(sink_file)
    # Nothing more is produced: a negative, so it is observed over a window of a few of the
    # worker's offset flush intervals (500 ms).
    time.sleep(2.0)
    assert _topic_size(kafka_bootstrap, topic, 2) == produced
    assert _lines_now(sink_file) == settled

    # Resume: RUNNING again and records flow again.
    status, _ = w.request("PUT", "/connectors/gen/resume")
    assert status == 202
    w.wait_state("gen", "RUNNING", tasks=2)
    wait_until("records to flow again", lambda: _lines_now(sink_file) > settled + 50)

    # A plain restart is 204; with includeTasks it is 202 and shows RESTARTING.
    status, body = w.request("POST", "/connectors/gen/restart")
    assert status == 204
    status, body = w.request("POST", "/connectors/gen/restart?includeTasks=true")
    assert status == 202
    assert body["connector"]["state"] == "RESTARTING"
    assert {t["state"] for t in body["tasks"]} == {"RESTARTING"}
    w.wait_state("gen", "RUNNING", tasks=2)
    # onlyFailed with nothing failed restarts nothing, and says so.
    status, body = w.request("POST", "/connectors/gen/restart?includeTasks=true&onlyFailed=true")
    assert status == 202
    assert body["connector"]["state"] == "RUNNING"
    status, _ = w.request("POST", "/connectors/gen/tasks/0/restart")
    assert status == 204
    w.wait_state("gen", "RUNNING", tasks=2)

    # Reconfigure: a new config restarts tasks with it.
    status, body = w.request("PUT", "/connectors/gen/config", _datagen(topic, **{"tasks.max": "1"}))
    assert status == 200, body
    w.wait_state("gen", "RUNNING", tasks=1)
    status, body = w.request("PATCH", "/connectors/gen/config", {"records.per.second": "100"})
    assert status == 200, body
    assert w.get("/connectors/gen/config")["records.per.second"] == "100"

    # Stop: STOPPED with no tasks; offsets can then be read.
    status, _ = w.request("PUT", "/connectors/gen/stop")
    assert status == 204
    w.wait_state("gen", "STOPPED", tasks=0)
    offsets = w.get("/connectors/gen/offsets")["offsets"]
    assert offsets, "a stopped source connector shows its committed offsets"
    assert all("seq" in o["offset"] for o in offsets)
    status, _ = w.request("PUT", "/connectors/gen/resume")
    assert status == 202
    w.wait_state("gen", "RUNNING", tasks=1)
    assert topic in w.get("/connectors/gen/topics")["gen"]["topics"]

    # A sink's offsets are its consumer group's, in Kafka Connect's shape.
    assert w.request("PUT", "/connectors/out/stop")[0] == 204
    w.wait_state("out", "STOPPED", tasks=0)
    sink_offsets = w.get("/connectors/out/offsets")["offsets"]
    assert {o["partition"]["kafka_topic"] for o in sink_offsets} == {topic}
    assert sum(o["offset"]["kafka_offset"] for o in sink_offsets) >= _lines_now(sink_file)

    # Delete: 204, then 404.
    status, _ = w.request("DELETE", "/connectors/gen")
    assert status == 204
    status, body = w.request("GET", "/connectors/gen/status")
    assert status == 404
    assert body == {"error_code": 404, "message": "Connector gen not found"}
    assert w.terminate() == 0


def test_plugins_and_validation(standalone: Standalone) -> None:
    w = standalone.start()
    plugins = w.get("/connector-plugins")
    classes = {p["class"]: p["type"] for p in plugins}
    assert classes["org.apache.kafka.connect.file.FileStreamSourceConnector"] == "source"
    assert classes["org.apache.kafka.connect.file.FileStreamSinkConnector"] == "sink"
    all_plugins = w.get("/connector-plugins?connectorsOnly=false")
    assert {
        "class": "org.apache.kafka.connect.json.JsonConverter",
        "type": "converter",
    }.items() <= {**next(p for p in all_plugins if p["class"].endswith("JsonConverter"))}.items()
    keys = {k["name"]: k for k in w.get("/connector-plugins/FileStreamSource/config")}
    assert keys["topic"]["required"] is True
    assert keys["batch.size"]["default_value"] == "2000"

    status, body = w.request(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        {"connector.class": "FileStreamSource", "name": "x", "batch.size": "many"},
    )
    assert status == 200
    assert body["error_count"] == 2
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert any("batch.size" in e and "'many'" in e for e in errors["batch.size"])
    assert any("topic" in e for e in errors["topic"])
    assert w.terminate() == 0


def test_bad_bodies_get_400_and_the_worker_keeps_running(standalone: Standalone) -> None:
    w = standalone.start()
    cases = [
        ("POST", "/connectors", b"{not json"),
        ("POST", "/connectors", b'{"config": {}}'),
        ("POST", "/connectors", b'{"name": "a", "config": "nope"}'),
        ("POST", "/connectors", b'{"name": "a", "config": {"connector.class": "NoSuchThing"}}'),
        (
            "POST",
            "/connectors",
            b'{"name": "a", "config": {"connector.class": "FileStreamSource"}}',
        ),
        (
            "POST",
            "/connectors",
            b'{"name": "a", "config": {"connector.class": "FileStreamSink", '
            b'"topics": "t", "tasks.max": "zero"}}',
        ),
        ("PUT", "/connectors/a/config", b'{"connector.class": "FileStreamSource", "name": "b"}'),
    ]
    for method, path, raw in cases:
        status, body = w.request(method, path, raw=raw)
        assert status == 400, (path, raw, body)
        assert body["error_code"] == 400
        assert body["message"]
    assert w.get("/connectors") == []
    assert w.request("GET", "/health")[0] == 200
    assert w.terminate() == 0


def test_failed_task_keeps_its_trace_and_others_keep_running(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    topic = new_topic()
    w = standalone.start()
    status, body = w.request(
        "POST",
        "/connectors",
        {
            "name": "bad",
            "config": {
                "connector.class": "kconnect_test_plugins:FailingSource",
                "topic": topic,
                "tasks.max": "2",
                "fail.after": "3",
            },
        },
    )
    assert status == 201, body
    status, body = w.request(
        "POST",
        "/connectors",
        {"name": "good", "config": _datagen(topic, **{"tasks.max": "1"})},
    )
    assert status == 201, body
    status, body = w.request(
        "POST",
        "/connectors",
        {
            "name": "dead",
            "config": {"connector.class": "kconnect_test_plugins:FailingStartConnector"},
        },
    )
    assert status == 201, body

    def failed() -> dict | None:  # type: ignore[type-arg]
        s = w.status("bad")
        states = [t["state"] for t in s.get("tasks", [])]
        return s if states == ["FAILED", "FAILED"] else None

    s = wait_until("both tasks of 'bad' to fail", failed)
    assert s["connector"]["state"] == "RUNNING"
    assert "injected failure: the source system went away" in s["tasks"][0]["trace"]
    assert "Traceback" in s["tasks"][0]["trace"]
    dead = w.wait_state("dead", "FAILED", tasks=0)
    assert "injected failure in connector start" in dead["connector"]["trace"]
    w.wait_state("good", "RUNNING", tasks=1)

    # Restarting only the failed tasks brings them back (and they fail again, the same way).
    status, body = w.request("POST", "/connectors/bad/restart?includeTasks=true&onlyFailed=true")
    assert status == 202
    assert [t["state"] for t in body["tasks"]] == ["RESTARTING", "RESTARTING"]
    assert body["connector"]["state"] == "RUNNING"
    wait_until("the restarted tasks to fail again", failed)
    assert w.status("good")["tasks"][0]["state"] == "RUNNING"
    assert w.terminate() == 0


def test_records_polled_before_a_task_fails_are_written_and_committed(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
) -> None:

    topic = new_topic()
    w = standalone.start()
    config = {
        "connector.class": "kconnect_test_plugins:FailingSource",
        "topic": topic,
        "tasks.max": "1",
        "fail.after": "4",
    }
    status, body = w.request("POST", "/connectors", {"name": "fails", "config": config})
    assert status == 201, body
    w.wait_state("fails", "RUNNING", tasks=None)
    wait_until(
        "the task to fail",
        lambda: [t["state"] for t in w.status("fails").get("tasks", [])] == ["FAILED"],
    )
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"count-{topic}"})

    def written() -> int:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(high - low)

    try:
        # The failed task flushes as it shuts down, just after it reports FAILED.
        wait_until("the 4 records polled before the failure", lambda: written() == 4)
        # Once the worker has stopped nothing more can arrive: exactly those 4, no more.
        assert w.terminate() == 0
        assert written() == 4
    finally:
        consumer.close()


def test_a_sinks_offsets_are_those_of_the_group_its_tasks_use(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
) -> None:
    """The worker's `consumer.group.id` names the sink's group (as the operator sets it), and
    `/offsets` reads that group, as Kafka Connect's `baseConsumerConfigs` does."""
    topic = new_topic()
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(10):
        producer.produce(topic, value=f"line-{i}".encode())
    assert producer.flush(30) == 0
    sink_file = standalone.cwd / "grouped.txt"
    group = f"connect-ns.grouped-{topic}"
    w = standalone.start(worker=standalone.worker_props(**{"consumer.group.id": group}))
    config = {"connector.class": "FileStreamSink", "topics": topic, "file": str(sink_file)}
    status, body = w.request("POST", "/connectors", {"name": "grouped", "config": config})
    assert status == 201, body
    wait_until("10 lines in the sink file", lambda: _lines_now(sink_file) == 10)
    assert w.request("PUT", "/connectors/grouped/stop")[0] == 204
    w.wait_state("grouped", "STOPPED", tasks=0)
    offsets = w.get("/connectors/grouped/offsets")["offsets"]
    assert offsets == [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 10}}
    ]
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
    [committed] = admin.list_consumer_group_offsets([request])[group].result(10).topic_partitions
    assert committed.offset == 10


def test_a_worker_without_file_connectors_refuses_and_hides_them(standalone: Standalone) -> None:
    w = standalone.start(worker=standalone.worker_props(**{"file.connectors.enable": "false"}))
    classes = {p["class"] for p in w.get("/connector-plugins?connectorsOnly=false")}
    assert "org.apache.kafka.connect.file.FileStreamSinkConnector" not in classes
    assert "org.apache.kafka.connect.file.FileStreamSourceConnector" not in classes
    config = {"connector.class": "FileStreamSink", "topics": "t", "file": "/tmp/x"}
    status, body = w.request("POST", "/connectors", {"name": "files", "config": config})
    assert status == 400, body
    assert "file.connectors.enable" in body["message"]
    status, _ = w.request("GET", "/connectors/files")
    assert status == 404


def test_a_connector_created_paused_has_no_tasks_until_resumed(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
) -> None:
    """As in Kafka Connect: a connector created PAUSED makes no task configs (and so produces
    nothing) until it is resumed; its status carries the connector's version (KIP-891)."""
    topic = new_topic(partitions=2)
    w = standalone.start()
    status, body = w.request(
        "POST",
        "/connectors",
        {"name": "gen", "config": _datagen(topic), "initial_state": "PAUSED"},
    )
    assert status == 201, body
    assert body["tasks"] == []
    state = w.wait_state("gen", "PAUSED", tasks=None)
    assert state["tasks"] == []
    assert isinstance(state["connector"]["version"], str)
    assert w.get("/connectors/gen/tasks") == []
    assert w.request("GET", "/connectors/gen/tasks/0/status")[0] == 404
    assert _topic_size(kafka_bootstrap, topic, 2) == 0

    assert w.request("PUT", "/connectors/gen/resume")[0] == 202
    state = w.wait_state("gen", "RUNNING", tasks=2)
    assert [t["id"] for t in state["tasks"]] == [0, 1]
    assert all(isinstance(t["version"], str) for t in state["tasks"])
    assert len(w.get("/connectors/gen/tasks")) == 2
    wait_until("records after the resume", lambda: _topic_size(kafka_bootstrap, topic, 2) > 0)


def test_topics_of_an_unknown_connector_answer_as_kafka_connect(standalone: Standalone) -> None:
    w = standalone.start()
    assert w.request("GET", "/connectors/nope/topics") == (200, {"nope": {"topics": []}})
    assert w.request("PUT", "/connectors/nope/topics/reset") == (202, None)


def test_plugin_config_lists_the_framework_keys_and_checks_a_version(
    standalone: Standalone,
) -> None:
    """As Kafka Connect 4.1: the connector's own keys, then the framework's for its kind; a
    `version` requirement (KIP-891) that is malformed or not met is a 400."""
    w = standalone.start()
    source = w.get("/connector-plugins/FileStreamSource/config")
    names = [k["name"] for k in source]
    assert names[:3] == ["file", "topic", "batch.size"]
    assert names[3:6] == ["name", "connector.class", "connector.plugin.version"]
    assert {"errors.retry.delay.max.ms", "exactly.once.support", "offsets.storage.topic"} <= set(
        names
    )
    installed = next(k for k in source if k["name"] == "connector.plugin.version")
    assert installed["default_value"] == w.get("/")["version"]
    sink = [k["name"] for k in w.get("/connector-plugins/FileStreamSink/config")]
    assert {"topics", "topics.regex", "errors.deadletterqueue.topic.name"} <= set(sink)
    assert "exactly.once.support" not in sink

    path = "/connector-plugins/FileStreamSource/config?version="
    status, body = w.request("GET", path + "%5B2.0")
    assert (status, body["message"]) == (400, "Invalid version specification: [2.0")
    status, body = w.request("GET", path + "%5B99.0%2C100.0%5D")
    assert status == 400
    assert "not found that matches the version range [99.0,100.0]" in body["message"]
    assert w.request("GET", path + installed["default_value"])[0] == 200
    assert w.request("GET", path + "latest")[0] == 200


def test_a_sinks_topic_is_active_once_a_record_of_it_is_read(
    standalone: Standalone,
    new_topic,  # type: ignore[no-untyped-def]
    kafka_bootstrap: str,
) -> None:
    """As in Kafka Connect, a topic becomes active when a record of it is read: an idle sink
    that holds its partitions has no active topics."""
    topic = new_topic()
    sink_file = standalone.cwd / "idle.txt"
    w = standalone.start()
    config = {"connector.class": "FileStreamSink", "topics": topic, "file": str(sink_file)}
    status, body = w.request("POST", "/connectors", {"name": "idle", "config": config})
    assert status == 201, body
    w.wait_state("idle", "RUNNING", tasks=1)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})

    def assigned() -> bool:
        try:
            group = admin.describe_consumer_groups(["connect-idle"])["connect-idle"].result(10)
        except KafkaException:
            return False  # the group's coordinator is not known yet
        return any(m.assignment.topic_partitions for m in group.members)

    wait_until("the sink's partitions assigned", assigned)
    assert w.get("/connectors/idle/topics") == {"idle": {"topics": []}}
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, value=b"one")
    assert producer.flush(30) == 0
    wait_until("1 line in the sink file", lambda: _lines_now(sink_file) == 1)
    assert w.get("/connectors/idle/topics") == {"idle": {"topics": [topic]}}
