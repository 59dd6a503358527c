"""A cluster of three `kconnect distributed` processes on the real broker."""

from __future__ import annotations

import re
import time
from collections import Counter

from tests.support.cluster import Cluster, task_owners, task_starts, wait_all_running
from tests.support.workers import holds_for, read_lines, wait_until


def datagen(topic: str, tasks: int, **extra: str) -> dict[str, str]:
    return {
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": str(tasks),
        "records.per.second": "300",
        **extra,
    }


def create(w, name: str, config: dict[str, str]) -> dict:  # type: ignore[no-untyped-def,type-arg]
    status, body = w.request("POST", "/connectors", {"name": name, "config": config})
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def test_tasks_spread_rest_everywhere_and_failover(cluster: Cluster, new_topic) -> None:  # type: ignore[no-untyped-def]
    a, b, c = cluster.start(), cluster.start(), cluster.start()
    topic = new_topic(partitions=3)
    create(a, "gen", datagen(topic, 6))
    s = wait_all_running(b, "gen", 6)
    owners = task_owners(s)
    assert set(owners) == {a.port_id, b.port_id, c.port_id}, owners
    assert Counter(owners).most_common(1)[0][1] == 2

    # Every worker answers for every connector, whoever runs it.
    for w in (a, b, c):
        wait_until(
            "the active topic, seen from every worker",
            lambda w=w: w.get("/connectors/gen/topics") == {"gen": {"topics": [topic]}},
        )
        assert w.get("/connectors") == ["gen"]
        assert w.get("/connectors/gen/config")["tasks.max"] == "6"
        assert len(w.get("/connectors/gen/tasks")) == 6
        assert w.get("/")["kafka_cluster_id"]
    status, body = c.request("GET", "/connectors/nope/status")
    assert status == 404
    assert body == {"error_code": 404, "message": "Connector nope not found"}
    status, body = c.request("POST", "/connectors", {"name": "gen", "config": datagen(topic, 1)})
    assert status == 409

    # An invalid config is rejected with every bad key named, and nothing is stored.
    status, body = b.request(
        "POST",
        "/connectors",
        {"name": "bad", "config": {"connector.class": "DataGen", "tasks.max": "x"}},
    )
    assert status == 400
    assert "'tasks.max'" in body["message"]
    assert "'topic'" in body["message"]
    assert "bad" not in a.get("/connectors")

    # Pause through one worker, seen everywhere; resume through another.
    assert c.request("PUT", "/connectors/gen/pause")[0] == 202
    wait_until(
        "PAUSED everywhere",
        lambda: all(
            w.status("gen")["connector"]["state"] == "PAUSED"
            and {t["state"] for t in w.status("gen")["tasks"]} == {"PAUSED"}
            for w in (a, b, c)
        ),
    )
    assert a.request("PUT", "/connectors/gen/resume")[0] == 202
    wait_all_running(c, "gen", 6)

    # A task restart sent to a worker that doesn't run the task.
    s = a.status("gen")
    foreign = next(t["id"] for t in s["tasks"] if t["worker_id"] != a.port_id)
    owner = next(w for w in (a, b, c) if w.port_id == s["tasks"][foreign]["worker_id"])
    before = task_starts(owner)[f"gen-{foreign}"]
    assert a.request("POST", f"/connectors/gen/tasks/{foreign}/restart")[0] == 204
    wait_until(
        "the task restarted on its owner",
        lambda: task_starts(owner)[f"gen-{foreign}"] == before + 1,
    )
    wait_all_running(b, "gen", 6)

    # Kill one worker: its tasks come back RUNNING on the others.
    victim = c
    victim.kill()
    s = wait_all_running(a, "gen", 6, avoid=victim.port_id)
    assert set(task_owners(s)) == {a.port_id, b.port_id}


def test_adding_a_worker_or_a_connector_restarts_only_what_moves(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    a, b = cluster.start(), cluster.start()
    topic = new_topic(partitions=2)
    create(a, "gen", datagen(topic, 4))
    wait_all_running(a, "gen", 4)
    starts_before = task_starts(a) + task_starts(b)
    assert all(n == 1 for n in starts_before.values()), starts_before

    # Adding a connector: gen's tasks keep running.
    create(b, "other", datagen(topic, 2))
    wait_all_running(a, "other", 2)
    wait_all_running(a, "gen", 4)
    after_connector = task_starts(a) + task_starts(b)
    gen_starts = {k: v for k, v in after_connector.items() if k.startswith("gen-")}
    assert gen_starts == dict(starts_before)

    # Adding a worker: only the tasks that move to it restart.
    c = cluster.start()

    def moved() -> bool:
        s1, s2 = a.status("gen"), a.status("other")
        return c.port_id in task_owners(s1) + task_owners(s2)

    wait_until("some task to move to the new worker", moved, 60)
    wait_all_running(a, "gen", 4)
    wait_all_running(a, "other", 2)
    time.sleep(2)  # let any further rebalance settle before counting
    total = task_starts(a) + task_starts(b) + task_starts(c)
    on_c = set(task_starts(c))
    for task, count in total.items():
        expected = 2 if task in on_c else 1
        assert count == expected, (task, count, dict(total))


def test_deleting_a_connector_moves_only_what_balancing_the_rest_asks(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    """The deleted connector's tasks stop; the other's stay where they run unless the deletion
    left the workers uneven (its two tasks on one worker, the deleted one's on the other): then
    the assignor moves one of them over, which restarts that one task and no other."""
    a, b = cluster.start(), cluster.start()
    topic = new_topic(partitions=2)
    create(a, "first", datagen(topic, 2))
    create(b, "second", datagen(topic, 2))
    wait_all_running(a, "first", 2)
    before = {t["id"]: t["worker_id"] for t in wait_all_running(a, "second", 2)["tasks"]}
    starts_before = task_starts(a) + task_starts(b)
    assert set(starts_before.values()) == {1}, starts_before
    status, body = a.request("DELETE", "/connectors/first")
    assert status == 204, body
    wait_until("first gone", lambda: not a.status("first") and not b.status("first"))

    def balanced() -> dict[int, str] | None:
        tasks = a.status("second").get("tasks", [])
        if len(tasks) != 2 or any(t["state"] != "RUNNING" for t in tasks):
            return None
        owners = {t["id"]: t["worker_id"] for t in tasks}
        return owners if len(set(owners.values())) == 2 else None

    after = wait_until("second's tasks on both workers", balanced, 60)
    holds_for("no further move", lambda: balanced() == after, 3)
    moved = {i for i in after if after[i] != before[i]}
    assert len(moved) == (1 if len(set(before.values())) == 1 else 0), (before, after)
    starts = task_starts(a) + task_starts(b)
    for i in before:
        assert starts[f"second-{i}"] == (2 if i in moved else 1), (i, moved, dict(starts))
    for i in range(2):
        assert starts[f"first-{i}"] == 1, dict(starts)


def test_no_data_loss_under_churn(cluster: Cluster, new_topic) -> None:  # type: ignore[no-untyped-def]
    out = f"out-{cluster.group}"  # consumer groups are broker-wide
    workers = [cluster.start(), cluster.start(), cluster.start()]
    topic = new_topic(partitions=3)
    sink = cluster.cwd / "sink.txt"
    total = 20_000
    create(
        workers[0],
        "gen",
        datagen(topic, 3, **{"max.records": str(total), "records.per.second": "2500"}),
    )
    create(
        workers[1], out, {"connector.class": "FileStreamSink", "topics": topic, "file": str(sink)}
    )
    wait_all_running(workers[0], "gen", 3)

    # Churn: a kill, a graceful stop, and restarts, while data flows.
    time.sleep(2)
    workers[2].kill()
    replacement = cluster.start()
    time.sleep(2)
    assert workers[1].terminate() == 0
    cluster.start()
    time.sleep(1)
    replacement.kill()
    cluster.start()

    pattern = re.compile(r"seq=(\d+)")

    def seqs() -> set[int]:
        return {int(m.group(1)) for line in read_lines(sink) if (m := pattern.match(line))}

    wait_until("every sequence number in the sink", lambda: len(seqs()) >= total, 180)
    assert seqs() == set(range(total))


def test_offsets_read_alter_reset_when_stopped(cluster: Cluster, new_topic) -> None:  # type: ignore[no-untyped-def]
    src, snk = f"src-{cluster.group}", f"snk-{cluster.group}"  # consumer groups are broker-wide
    a, b = cluster.start(), cluster.start()
    topic = new_topic()
    source = cluster.cwd / "in.txt"
    sink = cluster.cwd / "out.txt"
    source.write_text("".join(f"line-{i}\n" for i in range(10)))
    create(a, src, {"connector.class": "FileStreamSource", "file": str(source), "topic": topic})
    create(a, snk, {"connector.class": "FileStreamSink", "file": str(sink), "topics": topic})
    wait_until("10 lines", lambda: len(read_lines(sink)) >= 10)

    running_patch = {
        "offsets": [{"partition": {"filename": str(source)}, "offset": {"position": 0}}]
    }
    status, body = b.request("PATCH", f"/connectors/{src}/offsets", running_patch)
    assert status == 400
    assert "STOPPED" in body["message"]

    assert b.request("PUT", f"/connectors/{src}/stop")[0] == 204
    wait_until(
        "src STOPPED",
        lambda: (
            a.status(src).get("connector", {}).get("state") == "STOPPED"
            and a.status(src)["tasks"] == []
        ),
    )
    offsets = b.get(f"/connectors/{src}/offsets")["offsets"]
    assert offsets == [{"partition": {"filename": str(source)}, "offset": {"position": 70}}]

    # Rewind to line 5 (byte 35: lines are 7 bytes); the resumed connector reads 5..9 again.
    status, body = a.request(
        "PATCH",
        f"/connectors/{src}/offsets",
        {"offsets": [{"partition": {"filename": str(source)}, "offset": {"position": 35}}]},
    )
    assert status == 200, body
    assert b.get(f"/connectors/{src}/offsets")["offsets"][0]["offset"] == {"position": 35}
    assert a.request("PUT", f"/connectors/{src}/resume")[0] == 202
    wait_until("lines 5..9 again", lambda: len(read_lines(sink)) >= 15)
    assert read_lines(sink)[10:] == [f"line-{i}" for i in range(5, 10)]

    # Sink offsets: the consumer group's, in Kafka Connect's shape.
    assert a.request("PUT", f"/connectors/{snk}/stop")[0] == 204
    wait_until("snk STOPPED", lambda: a.status(snk).get("tasks") == [])
    sink_offsets = b.get(f"/connectors/{snk}/offsets")["offsets"]
    assert sink_offsets == [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 15}}
    ]
    # The group may still hold the stopping task's member for a moment: Kafka Connect then
    # answers 500 and says the request can be retried, as here.
    wait_until("the reset", lambda: b.request("DELETE", f"/connectors/{snk}/offsets")[0] == 200)
    assert b.get(f"/connectors/{snk}/offsets")["offsets"] == []
    assert a.request("PUT", f"/connectors/{snk}/resume")[0] == 202
    wait_until("the whole topic again", lambda: len(read_lines(sink)) >= 30)

    assert a.request("DELETE", f"/connectors/{src}")[0] == 204
    assert b.request("GET", f"/connectors/{src}")[0] == 404


def test_config_topic_with_three_partitions_stops_the_worker(
    cluster: Cluster,
    kafka_admin,  # type: ignore[no-untyped-def]
) -> None:
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    name = f"{cluster.group}-configs"
    for f in kafka_admin.create_topics(
        [
            NewTopic(
                name, num_partitions=3, replication_factor=1, config={"cleanup.policy": "compact"}
            )
        ]
    ).values():
        f.result(30)
    w = cluster.start(wait=False)
    assert w.proc.wait(90) == 1
    log = w.log()
    assert "single partition" in log
    assert name in log
    assert "Traceback" not in log


def test_apache_connect_distributed_properties(
    cluster: Cluster,
    kafka_admin,  # type: ignore[no-untyped-def]
) -> None:
    """Kafka's own file; only the broker, the cluster's names and a free port are changed."""
    from confluent_kafka.admin import ConfigResource  # type: ignore[attr-defined]

    from tests.support.workers import REPO, Worker, free_port

    text = (REPO / "examples" / "quickstart" / "connect-distributed.properties").read_text()
    g = cluster.group
    text = text.replace("localhost:9092", cluster.bootstrap).replace("connect-cluster", g)
    for name in ("connect-offsets", "connect-configs", "connect-status"):
        text = text.replace(f"={name}", f"={g}-{name}")
    port = free_port()
    path = cluster.cwd / "connect-distributed.properties"
    path.write_text(text + f"\nlisteners=http://127.0.0.1:{port}\n")
    w = Worker(cluster.cwd, ["distributed", str(path)], port)
    cluster.workers.append(w)
    w.wait_ready()

    metadata = kafka_admin.list_topics(timeout=10)
    partitions = {
        purpose: len(metadata.topics[f"{g}-connect-{purpose}"].partitions)
        for purpose in ("configs", "offsets", "status")
    }
    assert partitions == {"configs": 1, "offsets": 25, "status": 5}
    resources = [
        ConfigResource("topic", f"{g}-connect-{p}") for p in ("configs", "offsets", "status")
    ]
    for future in kafka_admin.describe_configs(resources).values():
        assert future.result(30)["cleanup.policy"].value == "compact"

    source = cluster.cwd / "in.txt"
    source.write_text("a\nb\n")
    create(
        w, "src", {"connector.class": "FileStreamSource", "file": str(source), "topic": f"{g}-t"}
    )
    wait_all_running(w, "src", 1)
    assert w.terminate() == 0


def test_graceful_stop_commits_before_tasks_move(cluster: Cluster, new_topic) -> None:  # type: ignore[no-untyped-def]
    """SIGTERM: the leaving worker drains and commits first, so its source task resumes on
    another worker exactly where it stopped: no line is repeated."""
    src, snk = f"src-{cluster.group}", f"snk-{cluster.group}"  # consumer groups are broker-wide
    a, b = cluster.start(), cluster.start()
    topic = new_topic()
    source = cluster.cwd / "in.txt"
    sink = cluster.cwd / "out.txt"
    source.write_text("".join(f"line-{i}\n" for i in range(1000)))
    create(a, src, {"connector.class": "FileStreamSource", "file": str(source), "topic": topic})
    create(a, snk, {"connector.class": "FileStreamSink", "file": str(sink), "topics": topic})
    wait_until("1000 lines", lambda: len(read_lines(sink)) >= 1000)
    owner_id = a.status(src)["tasks"][0]["worker_id"]
    leaving, staying = (a, b) if owner_id == a.port_id else (b, a)
    assert leaving.terminate() == 0
    wait_all_running(staying, src, 1, avoid=leaving.port_id)
    wait_all_running(staying, snk, 1, avoid=leaving.port_id)
    with source.open("a") as f:
        f.write("".join(f"line-{i}\n" for i in range(1000, 1500)))
    wait_until("1500 lines", lambda: len(read_lines(sink)) >= 1500)
    time.sleep(1.5)  # a repeat would arrive with the next commit
    assert read_lines(sink) == [f"line-{i}" for i in range(1500)]


def test_failed_task_trace_is_visible_from_every_worker(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    a, b, c = cluster.start(), cluster.start(), cluster.start()
    topic = new_topic()
    create(
        a,
        "bad",
        {
            "connector.class": "kconnect_test_plugins:FailingSource",
            "topic": topic,
            "tasks.max": "3",
            "fail.after": "2",
        },
    )

    def failed(w) -> dict | None:  # type: ignore[no-untyped-def,type-arg]
        s = w.status("bad")
        states = [t["state"] for t in s.get("tasks", [])]
        return s if states == ["FAILED"] * 3 else None

    for w in (a, b, c):
        s = wait_until(f"FAILED tasks seen from {w.port_id}", lambda w=w: failed(w))
        assert all("injected failure" in t["trace"] for t in s["tasks"])
        assert {t["worker_id"] for t in s["tasks"]} == {a.port_id, b.port_id, c.port_id}
    before = task_starts(a) + task_starts(b) + task_starts(c)
    assert before == Counter({f"bad-{i}": 1 for i in range(3)})
    status, body = b.request("POST", "/connectors/bad/restart?includeTasks=true&onlyFailed=true")
    assert status == 202
    assert [t["state"] for t in body["tasks"]] == ["RESTARTING"] * 3
    wait_until(
        "each failed task restarted once",
        lambda: (
            (task_starts(a) + task_starts(b) + task_starts(c))
            == Counter({f"bad-{i}": 2 for i in range(3)})
        ),
    )


def test_a_connector_created_paused_has_no_tasks_until_resumed(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    """As in Kafka Connect: no task configs are written for a connector created PAUSED until
    it is resumed; status carries the plugin versions (KIP-891), read back from the status
    topic by another worker."""
    a, b = cluster.start(), cluster.start()
    topic = new_topic(partitions=2)
    status, body = a.request(
        "POST",
        "/connectors",
        {"name": "gen", "config": datagen(topic, 2), "initial_state": "PAUSED"},
    )
    assert status == 201, body
    state = b.wait_state("gen", "PAUSED", tasks=None)
    assert isinstance(state["connector"]["version"], str)
    # Long enough for the connector's owner to have written task configs, were it to; checked
    # all along, on both workers.
    holds_for(
        "no tasks while created PAUSED",
        lambda: all(
            w.get("/connectors/gen/tasks") == [] and w.status("gen")["tasks"] == [] for w in (a, b)
        ),
        3.0,
    )

    assert b.request("PUT", "/connectors/gen/resume")[0] == 202
    s = wait_all_running(a, "gen", 2)
    assert all(isinstance(t["version"], str) for t in s["tasks"])
