"""restartPolicy and the crash-loop back-off."""

from __future__ import annotations

import pytest

from kconnect_devenv.kubelet import restarts


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 137, True),
        ("Never", 0, False),
        ("Never", 1, False),
    ],
)
def test_restart_policy(policy: str, code: int, restart: bool) -> None:
    assert restarts.should_restart(policy, code) is restart


def test_the_back_off_doubles_from_an_immediate_first_restart_to_the_cap() -> None:
    delays = [restarts.backoff_delay(n, 1.0, 20.0) for n in range(1, 9)]
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert restarts.backoff_delay(3, 10.0, 300.0) == 20.0  # the real kubelet's numbers


def test_a_long_run_forgets_earlier_crashes() -> None:
    assert restarts.crashes_after(5, ran_for=3.0, reset_after=40.0) == 6
    assert restarts.crashes_after(5, ran_for=41.0, reset_after=40.0) == 1
