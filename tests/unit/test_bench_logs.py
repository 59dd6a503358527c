"""The rebalance benchmark reads task starts and stops from both runtimes' logs.

The lines below are as kconnect and Apache Kafka Connect 4.1 (with the benchmark's log4j layout,
``bench/java/connect-log4j2.properties``) write them; a change of either format that the parser
no longer reads would make the rebalance figures silently zero.
"""

from __future__ import annotations

import datetime

from bench.distributed import group_leader, move_gaps, task_starts, task_stops

KCONNECT_LOG = """\
[2026-11-24 09:26:49,843] INFO starting task dist-1-0 (kconnect.worker.worker:201)
[2026-11-24 09:26:49,900] INFO starting task dist-1-3 (kconnect.worker.worker:201)
[2026-11-24 09:26:55,509] INFO stopping tasks dist-1-0, dist-1-3 (kconnect.worker.worker:335)
[2026-11-24 09:26:56,000] INFO cancelling tasks dist-1-5 (kconnect.worker.worker:335)
"""

JAVA_OLD_OWNER = """\
[2026-11-24 09:16:40,686] INFO [Worker clientId=connect-127.0.0.1:54349, groupId=dist-1] \
Starting task dist-1-0 (org.apache.kafka.connect.runtime.distributed.DistributedHerder)
[2026-11-24 09:16:40,706] INFO Creating task dist-1-0 (org.apache.kafka.connect.runtime.Worker)
[2026-11-24 09:16:49,700] INFO Stopping task dist-1-0 (org.apache.kafka.connect.runtime.Worker)
[2026-11-24 09:16:50,122] INFO [Worker clientId=connect-127.0.0.1:54349, groupId=dist-1] \
Finished stopping tasks in preparation for rebalance \
(org.apache.kafka.connect.runtime.distributed.DistributedHerder)
[2026-11-24 09:16:50,130] INFO [Worker clientId=connect-127.0.0.1:54349, groupId=dist-1] \
Starting connectors and tasks using config offset 9 \
(org.apache.kafka.connect.runtime.distributed.DistributedHerder)
"""

JAVA_NEW_OWNER = """\
[2026-11-24 09:16:52,707] INFO [Worker clientId=connect-127.0.0.1:42601, groupId=dist-1] \
Starting task dist-1-0 (org.apache.kafka.connect.runtime.distributed.DistributedHerder)
[2026-11-24 09:16:52,719] INFO Creating task dist-1-0 (org.apache.kafka.connect.runtime.Worker)
"""


def _at(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_kconnect_lines() -> None:
    assert [t for _, t in task_starts(KCONNECT_LOG)] == ["dist-1-0", "dist-1-3"]
    stops = task_stops(KCONNECT_LOG)
    assert [t for _, t in stops] == ["dist-1-0", "dist-1-3", "dist-1-5"]
    assert stops[0][0] == _at("2026-11-24 09:26:55,509")


def test_java_lines() -> None:
    starts = task_starts(JAVA_OLD_OWNER)
    assert starts == [(_at("2026-11-24 09:16:40,686"), "dist-1-0")]
    stops = [t for _, t in task_stops(JAVA_OLD_OWNER)]
    # "Finished stopping tasks in preparation for rebalance" names no task of the connector.
    assert "dist-1-0" in stops
    assert all(t == "dist-1-0" or not t.startswith("dist-1-") for t in stops)


def test_java_move_gap_runs_from_the_stop_to_the_start_on_the_new_owner() -> None:
    since = _at("2026-11-24 09:16:45,000")
    gaps = move_gaps(["dist-1-0"], [JAVA_OLD_OWNER], JAVA_NEW_OWNER, since)
    assert len(gaps) == 1
    assert abs(gaps[0] - 3.007) < 1e-6
    # Nothing counts from before `since`: the first start of dist-1-0 is not a move.
    assert (
        move_gaps(["dist-1-0"], [JAVA_OLD_OWNER], JAVA_NEW_OWNER, _at("2026-11-24 09:17:00,000"))
        == []
    )


JAVA_ASSIGNMENTS = """\
[2026-11-24 09:16:40,174] INFO [Worker clientId=connect-127.0.0.1:54349, groupId=dist-1] Joined \
group at generation 3 with protocol version 2 and got assignment: Assignment{error=0, \
leader='connect-127.0.0.1:58271-579665c7', leaderUrl='http://127.0.0.1:58271/', offset=2, \
connectorIds=[dist-1], taskIds=[]} with rebalance delay: 0 \
(org.apache.kafka.connect.runtime.distributed.DistributedHerder)
[2026-11-24 09:16:52,704] INFO [Worker clientId=connect-127.0.0.1:54349, groupId=dist-1] Joined \
group at generation 6 with protocol version 2 and got assignment: Assignment{error=0, \
leader='connect-127.0.0.1:42601-1b2c', leaderUrl='http://127.0.0.1:42601/', offset=9, \
connectorIds=[dist-1], taskIds=[dist-1-2]} with rebalance delay: 0 \
(org.apache.kafka.connect.runtime.distributed.DistributedHerder)
"""


def test_group_leader_is_the_last_assignment_s() -> None:
    assert group_leader(JAVA_ASSIGNMENTS) == "127.0.0.1:42601"


def test_kconnect_logs_name_no_leader() -> None:
    assert group_leader(KCONNECT_LOG) is None
