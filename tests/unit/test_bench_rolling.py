"""The rolling-restart benchmark's accounting (bench.rolling) on hand-made status timelines.

Three workers A, B, C run tasks 0..5, two each. The timelines below are what a 0.1 s poll would
see in the cases that matter: a static restart (the tasks wait for their worker), a dynamic one
(the tasks move away and some come back, and a bystander's task stops), and a held-back one
(Java's delay: the tasks wait far longer than their worker's restart).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import roll
from bench.rolling import (
    STALE,
    Process,
    Restart,
    Sample,
    account,
    confirmed,
    parse_status,
    transitions,
)

A, B, C = "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"
BEFORE = {0: A, 1: A, 2: B, 3: B, 4: C, 5: C}
R, U = "RUNNING", "UNASSIGNED"


def owners(*, state: dict[int, str] | None = None, **moved: str) -> dict[int, tuple[str, str]]:
    """Every task RUNNING on its BEFORE owner, except as given: `state` {task: state},
    `moved` t<n>=worker."""
    tasks = {n: (R, w) for n, w in BEFORE.items()}
    for key, worker in moved.items():
        n = int(key[1:])
        tasks[n] = (tasks[n][0], worker)
    for n, s in (state or {}).items():
        tasks[n] = (s, tasks[n][1])
    return tasks


def timeline(*steps: tuple[float, dict[int, tuple[str, str]]]) -> list[Sample]:
    return [Sample(at, tasks) for at, tasks in steps]


def test_a_static_restart_moves_nothing_and_each_task_waits_for_its_own_worker() -> None:
    samples = timeline(
        (0.0, owners()),
        (1.0, owners(state={0: U, 1: U})),
        (2.0, owners(state={0: U, 1: U})),
        (3.0, owners()),
        (4.0, owners()),
    )
    restarts = [Restart(A, stopped_at=0.5, exited_at=1.0, healthy_at=3.5, back_at=3.5)]
    a = account(BEFORE, samples, restarts)
    assert (a.moves, a.ended_elsewhere, a.collateral) == (0, 0, 0)
    assert a.down_task_s == pytest.approx(4.0)  # tasks 0 and 1, 2 s each
    assert [t.longest_down_s for t in a.tasks] == [2.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    assert [t.own_restart_s for t in a.tasks] == [3.0, 3.0, None, None, None, None]
    assert a.longer_than_own_restart == 0
    assert a.roll_s == pytest.approx(3.0)


def test_a_dynamic_restart_counts_every_change_of_hands_and_the_bystanders_stop() -> None:
    # A leaves: its tasks go to B and C; C's task 5 stops for a rebalance meanwhile; A comes back
    # and gets task 0 back from B.
    samples = timeline(
        (0.0, owners()),
        (1.0, owners(state={0: U, 1: U, 5: U})),
        (1.5, owners(t0=B, t1=C)),
        (3.0, owners(t0=B, t1=C, state={0: U})),
        (3.2, owners(t1=C)),
        (5.0, owners(t1=C)),
    )
    restarts = [Restart(A, stopped_at=0.5, exited_at=1.0, healthy_at=2.5, back_at=3.2)]
    a = account(BEFORE, samples, restarts)
    assert [t.moves for t in a.tasks] == [2, 1, 0, 0, 0, 0]
    assert a.moves == 3
    assert a.ended_elsewhere == 1  # task 1 ends on C
    assert a.tasks[1].owner_after == C
    assert a.collateral == 1  # task 5, on C
    assert a.tasks[0].longest_down_s == pytest.approx(0.5)
    assert a.tasks[0].down_s == pytest.approx(0.7)
    assert a.down_task_s == pytest.approx(0.5 + 0.7 + 0.5)


def test_tasks_held_back_longer_than_their_worker_s_restart_are_counted() -> None:
    # B is back 4 s after its SIGTERM, but its tasks are held back until t=300.
    samples = timeline(
        (0.0, owners()),
        (1.0, owners(state={2: U, 3: U})),
        (300.0, owners()),
    )
    restarts = [Restart(B, stopped_at=0.5, exited_at=1.0, healthy_at=4.5, back_at=300.0)]
    a = account(BEFORE, samples, restarts)
    assert a.moves == 0
    assert a.longer_than_own_restart == 2
    assert a.worst_beyond_own_restart_s == pytest.approx(299.0 - 4.0)
    assert a.longest_down_s == pytest.approx(299.0)


def test_a_task_still_down_at_the_last_sample_counts_to_the_end_and_a_missing_one_is_down() -> None:
    samples = timeline((0.0, owners()), (1.0, {n: t for n, t in owners().items() if n != 4}))
    samples.append(Sample(2.0, owners(state={4: U})))
    a = account(BEFORE, samples, [])
    assert a.tasks[4].longest_down_s == pytest.approx(1.0)
    assert a.tasks[4].down_s == pytest.approx(1.0)  # from 1.0 to the last sample at 2.0
    assert a.tasks[4].owner_after == C
    assert a.tasks[4].beyond_own_restart_s == pytest.approx(1.0)  # its worker never restarted


def test_samples_out_of_order_are_put_in_time_order() -> None:
    forward = timeline((0.0, owners()), (1.0, owners(t2=A)), (2.0, owners(t2=C)))
    a = account(BEFORE, list(reversed(forward)), [])
    assert a.tasks[2].moves == 2
    assert a.tasks[2].owner_after == C


def test_parse_status_reads_both_runtimes_bodies_and_stops_at_a_failed_task() -> None:
    body = {
        "name": "c",
        "connector": {"state": "RUNNING", "worker_id": A},
        "tasks": [
            {"id": 0, "state": "RUNNING", "worker_id": A},
            {"id": 1, "state": "UNASSIGNED", "worker_id": B},
        ],
        "type": "sink",
    }
    assert parse_status(body) == {0: (R, A), 1: (U, B)}
    assert parse_status({"error_code": 404, "message": "not found"}) is None
    assert parse_status("<html>") is None
    failed = {"tasks": [{"id": 3, "state": "FAILED", "worker_id": A, "trace": "boom"}]}
    with pytest.raises(ValueError, match="task 3 FAILED: boom"):
        parse_status(failed)


def test_the_report_table_has_a_row_per_variant_measured_with_its_figures() -> None:
    static = account(
        BEFORE,
        timeline((0.0, owners()), (1.0, owners(state={0: U})), (2.0, owners())),
        [Restart(A, 0.5, 1.0, 2.5, 2.5)],
    )
    dynamic = account(BEFORE, timeline((0.0, owners()), (1.0, owners(t0=B)), (2.0, owners())), [])
    lines = roll.table({"kconnect_static": [static, static], "kconnect_dynamic": [dynamic]})
    assert len(lines) == 4
    assert lines[2].startswith(
        "| kconnect, static (`group.instance.id`) | FileStreamSink | 0 | 0 | 0 |"
    )
    assert lines[3].startswith("| kconnect, dynamic | FileStreamSink | 2 | 0 | 0 |")
    assert roll.cell([1.0, 3.0, 2.0], "s") == "2.0 (1.0–3.0)"
    assert roll.cell([], "count") == "—"
    section = roll.render_section({"kconnect_static": [static]}, {"measured": "now"})
    assert section.startswith(roll.SECTION_BEGIN)
    assert section.endswith(roll.SECTION_END)
    assert "| measured | now |" in section


def test_quick_leaves_java_defaults_out_and_update_takes_the_full_run() -> None:
    quick = roll.parse_args(["--quick"])
    assert "java_default_leader_last" not in {v.name for v in quick.variants}
    assert {v.name for v in roll.parse_args([]).variants} == {v.name for v in roll.VARIANTS}
    with pytest.raises(SystemExit):
        roll.parse_args(["--quick", "--update"])
    with pytest.raises(SystemExit):
        roll.parse_args(["--only", "nonsense"])


def test_transitions_list_each_change_of_state_or_worker_once() -> None:
    samples = timeline(
        (10.0, owners()),
        (11.0, owners(state={0: U})),
        (12.0, owners(state={0: U})),
        (13.0, {n: t for n, t in owners(t0=B).items() if n != 5}),
    )
    changes = transitions(samples, since=10.5)
    assert changes[:6] == [(-0.5, n, R, BEFORE[n]) for n in range(6)]
    assert changes[6:] == [(0.5, 0, U, A), (2.5, 0, R, B), (2.5, 5, "MISSING", "")]


def test_a_running_that_no_live_process_backs_is_stale() -> None:
    # A's first process ran tasks 0 and 1 and exited at 5 without its status saying so; its
    # second process (same worker id) started task 0 at 8 and task 1 never; B started task 2 and
    # stopped it at 3 while the status still showed it RUNNING.
    processes = [
        Process(A, 0.0, 5.0, starts=((0.5, 0), (0.5, 1)), stops=()),
        Process(A, 6.0, None, starts=((8.0, 0),), stops=()),
        Process(B, 0.0, None, starts=((0.5, 2),), stops=((3.0, 2),)),
    ]
    shown = {0: (R, A), 1: (R, A), 2: (R, B), 3: (U, B)}
    got = confirmed(timeline((1.0, shown), (4.0, shown), (7.0, shown), (9.0, shown)), processes)
    assert [s.tasks[0][0] for s in got] == [R, R, STALE, R]
    assert [s.tasks[1][0] for s in got] == [R, R, STALE, STALE]
    assert [s.tasks[2][0] for s in got] == [R, STALE, STALE, STALE]
    assert [s.tasks[3] for s in got] == [(U, B)] * 4  # not RUNNING: left as shown
    # Stale counts as down.
    a = account({0: A, 1: A, 2: B}, got, [])
    assert a.tasks[0].longest_down_s == pytest.approx(2.0)
    assert a.tasks[1].longest_down_s == pytest.approx(2.0)  # from 7 to the last sample


def test_the_next_worker_is_the_leader_first_or_last_where_the_runtime_names_one() -> None:
    assert roll.next_worker("start", [A, B, C], B) == A
    assert roll.next_worker("leader_first", [A, B, C], B) == B
    assert roll.next_worker("leader_last", [A, B, C], A) == B
    assert roll.next_worker("leader_last", [A], A) == A
    # No leader named (kconnect), or one already restarted: start order.
    assert roll.next_worker("leader_first", [B, C], None) == B
    assert roll.next_worker("leader_last", [B, C], A) == B


def test_rolls_go_in_turn_reversed_on_odd_repeats_and_a_slow_one_only_once() -> None:
    fast = roll.Variant("a", "a", "kconnect", "DataGen")
    slow = roll.Variant("b", "b", "java", "FileStreamSink", slow=True)
    other = roll.Variant("c", "c", "java", "FileStreamSink")
    got = [(i, v.name) for i, v in roll.ordered([fast, slow, other], 3)]
    assert got == [(0, "a"), (0, "b"), (0, "c"), (1, "c"), (1, "a"), (2, "a"), (2, "c")]
    assert roll.parse_args([]).repeat == roll.DEFAULT_REPEAT
    assert roll.parse_args(["--quick"]).repeat == 1


def test_down_longer_than_the_own_restart_by_less_than_the_slack_does_not_count() -> None:
    samples = timeline((0.0, owners()), (1.0, owners(state={0: U})), (4.05, owners()))
    restarts = [Restart(A, stopped_at=0.9, exited_at=1.0, healthy_at=3.9, back_at=4.05)]
    strict = account(BEFORE, samples, restarts)
    assert strict.longer_than_own_restart == 1  # 3.05 s down, 3.0 s restart
    assert account(BEFORE, samples, restarts, slack=0.1).longer_than_own_restart == 0
    assert account(BEFORE, samples, restarts, slack=0.01).longer_than_own_restart == 1


def test_a_stored_run_counts_the_same_again_and_with_todays_slack(tmp_path: Path) -> None:
    samples = timeline((0.0, owners()), (1.0, owners(state={0: U}, t2=C)), (4.05, owners(t2=C)))
    restarts = [
        Restart(A, 0.9, 1.0, 3.9, 4.05, was_leader=True),
        Restart(B, 5.0, 5.5, 8.0, 9.5, was_leader=False),
    ]
    a = account(BEFORE, samples, restarts)  # strict: task 0 counts as longer
    run = roll.RollRun(dict(BEFORE), dict(BEFORE), a, transitions(samples, 0.9))
    stored = json.loads(json.dumps(roll.to_json(run)))
    again = roll.from_json(stored, slack=0.0)
    for name, _, get, _ in roll.FIGURES:
        assert get(again) == pytest.approx(get(a), abs=1e-3), name
    assert roll.from_json(stored).longer_than_own_restart == 0  # within one poll
    # --recount rewrites the section and the figures from the stored runs, keeping the runs.
    doc, results = tmp_path / "benchmarks.md", tmp_path / "latest.json"
    doc.write_text(f"before\n{roll.SECTION_BEGIN}\nold\n{roll.SECTION_END}\nafter\n")
    roll.write({"kconnect_static": [run]}, {"measured": "then"}, doc=doc, results_path=results)
    assert (
        json.loads(results.read_text())["rolling_restart"]["runs"]["kconnect_static"][0][
            "longer_than_own_restart"
        ]
        == 1
    )
    roll.recount(doc=doc, results_path=results, note="now")
    page = doc.read_text()
    assert page.startswith("before\n")
    assert page.endswith("after\n")
    assert "| re-counted | now |" in page
    assert "| measured | then |" in page
    stored_again = json.loads(results.read_text())["rolling_restart"]
    assert stored_again["runs"]["kconnect_static"][0]["longer_than_own_restart"] == 0
    assert stored_again["runs"]["kconnect_static"][0]["timeline"] == stored["timeline"]
