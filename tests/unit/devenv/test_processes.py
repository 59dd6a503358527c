"""Process plumbing of the local services: bounded tool runs."""

from __future__ import annotations

import sys

import pytest

from kconnect_devenv import processes


class ToolError(RuntimeError):
    pass


def test_a_tool_run_returns_its_output_and_exit_status() -> None:
    script = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(4)"

    result = processes.run_tool(
        [sys.executable, "-c", script], what="the tool", timeout=60.0, error=ToolError
    )

    assert (result.returncode, result.stdout, result.stderr) == (4, "out\n", "err\n")


def test_a_tool_that_runs_too_long_is_the_callers_error() -> None:
    with pytest.raises(ToolError, match=r"^the slow tool did not finish within 1s$"):
        processes.run_tool(
            [sys.executable, "-c", "import time; time.sleep(60)"],
            what="the slow tool",
            timeout=1.0,
            error=ToolError,
        )


def test_free_ports_are_distinct_and_avoid_the_ports_picked_before() -> None:
    # Ports just released are what the kernel tends to offer next: the ports a server picked for
    # some of its listeners must not come back for its others.
    # (Without `avoid`, about one pair in 25 overlaps here: 100 pairs all but always show it.)
    for _ in range(100):
        earlier = processes.free_ports(20)
        later = processes.free_ports(20, avoid=earlier)
        assert len(set(later)) == 20
        assert not set(later) & set(earlier)
