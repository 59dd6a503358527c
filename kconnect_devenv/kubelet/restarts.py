"""When a container that exited starts again: ``restartPolicy`` and the crash-loop back-off. Pure.

Like the real kubelet, the first restart after a crash is immediate and each further one waits
twice as long as the one before, from ``base`` up to ``cap``: 0, base, 2 base, 4 base, ... The
real kubelet uses a base of 10 s and a cap of 5 min; the test kubelet's defaults (1 s, 20 s) keep
crash-loop tests short. A run that lasted at least ``reset_after`` (by default twice the cap)
forgets the earlier crashes, as the real kubelet's back-off entries expire.
"""

from __future__ import annotations

from typing import Final

DEFAULT_BASE_S: Final = 1.0
DEFAULT_CAP_S: Final = 20.0


def should_restart(restart_policy: str, exit_code: int) -> bool:
    """Whether a (non-init or init) container that exited with ``exit_code`` runs again."""
    if restart_policy == "Never":
        return False
    if restart_policy == "OnFailure":
        return exit_code != 0
    return True  # Always


def backoff_delay(crashes: int, base: float, cap: float) -> float:
    """How long to wait before the restart after the ``crashes``-th consecutive exit (from 1)."""
    if crashes <= 1:
        return 0.0
    return float(min(base * 2 ** (crashes - 2), cap))


def crashes_after(previous_crashes: int, ran_for: float, reset_after: float) -> int:
    """The consecutive-exit count after an exit of a run that lasted ``ran_for`` seconds."""
    return 1 if ran_for >= reset_after else previous_crashes + 1
