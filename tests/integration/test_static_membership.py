"""Static group membership (`group.instance.id`): distributed workers on the real broker.

A worker restarted with its id within `session.timeout.ms` gets exactly its old tasks back and
no other worker's tasks stop; SIGUSR1 gives the seat up at once; a killed worker's tasks move
once its session expires; a second worker with the same id fences the first, which stops.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter

from tests.support.cluster import Cluster, task_owners, task_starts, wait_all_running
from tests.support.workers import Worker, holds_for, read_lines, wait_until

TASKS = 6


def datagen(topic: str) -> dict[str, str]:
    return {
        "connector.class": "DataGen",
        "topic": topic,
        "tasks.max": str(TASKS),
        "records.per.second": "60",
    }


def static_cluster(cluster: Cluster, topic: str, session_timeout_ms: int) -> list[Worker]:
    """Three workers with ids w-0, w-1, w-2 running `gen` (6 tasks), two tasks each."""
    cluster.extra["session.timeout.ms"] = str(session_timeout_ms)
    cluster.extra["heartbeat.interval.ms"] = "1000"
    workers = [cluster.start(**{"group.instance.id": f"w-{i}"}) for i in range(3)]
    status, body = workers[0].request(
        "POST", "/connectors", {"name": "gen", "config": datagen(topic)}
    )
    assert status == 201, body

    def balanced() -> list[str] | None:
        s = wait_all_running(workers[0], "gen", TASKS)
        owners = task_owners(s)
        return owners if sorted(Counter(owners).values()) == [2, 2, 2] else None

    wait_until("two tasks on each worker", balanced, 90)
    return workers


_ASSIGNMENT = re.compile(r"(assigned|revoked|lost) \d+ task partitions")


def assignment_changes(w: Worker) -> list[str]:
    """The assignment changes this worker's log shows."""
    return _ASSIGNMENT.findall(w.log())


def test_a_restarted_worker_gets_its_own_tasks_back_and_nothing_else_moves(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    a, b, c = static_cluster(cluster, new_topic(), session_timeout_ms=30_000)
    before = task_owners(wait_all_running(a, "gen", TASKS))
    mine = [n for n, owner in enumerate(before) if owner == b.port_id]
    others = {w: (task_starts(w), assignment_changes(w)) for w in (a, c)}

    assert b.terminate() == 0
    assert "keeping group.instance.id='w-1'" in b.log()
    # Its tasks wait for it: no other worker takes them while it is away.
    holds_for(
        "b's tasks staying with b",
        lambda: [t["worker_id"] for t in a.status("gen")["tasks"]] == before,
        3,
    )

    b2 = cluster.restart(b)
    assert "is held by another member" not in b2.log()  # its own seat, from its previous run
    after = wait_all_running(a, "gen", TASKS)
    assert task_owners(after) == before
    # The restarted worker started its own tasks, once each, and nothing else.
    assert task_starts(b2) == Counter({f"gen-{n}": 1 for n in mine}), b2.log()
    # Nobody else noticed: no task stopped or started, no assignment changed on a or c.
    for w, (starts, changes) in others.items():
        assert task_starts(w) == starts
        assert assignment_changes(w) == changes, w.log()


def test_sigusr1_gives_the_seat_up_and_the_tasks_move_at_once(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    # A session timeout far longer than the wait: only an explicit leave moves the tasks in time.
    a, b, c = static_cluster(cluster, new_topic(), session_timeout_ms=120_000)
    b.proc.send_signal(signal.SIGUSR1)
    assert b.proc.wait(60) == 0
    assert "giving up group.instance.id='w-1'" in b.log()
    s = wait_all_running(a, "gen", TASKS, avoid=b.port_id)
    assert set(task_owners(s)) == {a.port_id, c.port_id}


def test_a_killed_worker_s_tasks_move_once_its_session_expires(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    a, b, c = static_cluster(cluster, new_topic(), session_timeout_ms=6_000)
    b.kill()
    s = wait_all_running(a, "gen", TASKS, avoid=b.port_id)
    assert set(task_owners(s)) == {a.port_id, c.port_id}


def test_a_second_worker_with_the_same_id_fences_the_first_off(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    a, b, _c = static_cluster(cluster, new_topic(), session_timeout_ms=30_000)
    before = task_owners(wait_all_running(a, "gen", TASKS))
    mine = {n for n, owner in enumerate(before) if owner == b.port_id}

    twin = cluster.start(**{"group.instance.id": "w-1"})
    assert (
        f"group.instance.id='w-1' is held by another member (client.id 'connect-{b.port_id}'"
        in (twin.log())
    )
    assert b.proc.wait(60) == 1
    log = b.log()
    assert "kconnect: error: group.instance.id='w-1' is in use by another worker" in log, log
    assert "(FENCED_INSTANCE_ID)" in log
    assert "Give each worker its own group.instance.id" in log
    assert "without committing" in log
    # The newer worker holds the seat and runs the tasks.
    s = wait_all_running(a, "gen", TASKS, avoid=b.port_id)
    assert {n for n, t in enumerate(s["tasks"]) if t["worker_id"] == twin.port_id} == mine
    assert twin.proc.poll() is None


def test_a_session_timeout_the_broker_refuses_stops_the_worker_naming_the_key(
    cluster: Cluster,
) -> None:
    w = cluster.start(wait=False, **{"session.timeout.ms": "3000", "group.instance.id": "w-0"})
    assert w.proc.wait(60) == 1
    assert (
        "kconnect: error: could not join the worker group "
        f"'{cluster.group}': session.timeout.ms=3000 is outside the range the broker accepts"
    ) in w.log(), w.log()


def test_a_restart_that_keeps_the_seat_commits_so_no_line_is_lost_or_repeated(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    """The seat is kept, but the tasks stop as on any SIGTERM: drained and committed."""
    src, snk = f"src-{cluster.group}", f"snk-{cluster.group}"  # consumer groups are broker-wide
    cluster.extra["session.timeout.ms"] = "30000"
    w = cluster.start(**{"group.instance.id": "w-0"})
    topic = new_topic()
    source, sink = cluster.cwd / "in.txt", cluster.cwd / "out.txt"
    source.write_text("".join(f"line-{i}\n" for i in range(1000)))
    for name, config in (
        (src, {"connector.class": "FileStreamSource", "file": str(source), "topic": topic}),
        (snk, {"connector.class": "FileStreamSink", "file": str(sink), "topics": topic}),
    ):
        assert w.request("POST", "/connectors", {"name": name, "config": config})[0] == 201
    wait_until("1000 lines", lambda: len(read_lines(sink)) >= 1000)
    assert w.terminate() == 0
    with source.open("a") as f:
        f.write("".join(f"line-{i}\n" for i in range(1000, 1500)))
    w2 = cluster.restart(w)
    wait_all_running(w2, src, 1)
    wait_until("1500 lines", lambda: len(read_lines(sink)) >= 1500)
    time.sleep(1.5)  # a repeat would arrive with the next commit
    assert read_lines(sink) == [f"line-{i}" for i in range(1500)]


def test_a_connector_created_after_a_seat_kept_with_no_connector_is_assigned(
    cluster: Cluster,
    new_topic,  # type: ignore[no-untyped-def]
) -> None:
    """A worker that got its seat back without a rebalance is not told it leads the group, so
    it would never notice the connector's task topic being created (librdkafka reacts to a new
    subscribed topic only in the leader). It subscribes to the topic once it exists instead."""
    cluster.extra["session.timeout.ms"] = "60000"
    w = cluster.start(**{"group.instance.id": "w-0"})
    assert w.terminate() == 0
    assert "keeping group.instance.id='w-0'" in w.log()
    w2 = cluster.restart(w)
    status, body = w2.request(
        "POST", "/connectors", {"name": "gen", "config": {**datagen(new_topic()), "tasks.max": "1"}}
    )
    assert status == 201, body
    wait_all_running(w2, "gen", 1)
