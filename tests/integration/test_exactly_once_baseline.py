"""The baseline of `test_exactly_once_chaos.py`: the same kill rounds with exactly-once off lose
nothing and repeat records (at-least-once delivery re-sends what was produced after the last
offset commit of a killed worker), so the exactly-once check there can fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import exactly_once as eos
from tests.support.cluster import Cluster

pytestmark = pytest.mark.integration


def test_without_exactly_once_killed_workers_repeat_records(
    tmp_path: Path, new_topic: Any, kafka_bootstrap: str
) -> None:
    """The same run at least once: nothing lost, and (what makes the check above meaningful)
    the kills repeat records."""
    topic = new_topic()
    cluster = Cluster(tmp_path, kafka_bootstrap, **eos.QUICK_FAILOVER)
    try:
        seqs, rounds = eos.run(cluster, topic)
        repeated = sorted(s for s, n in seqs.items() if n > 1)
        missing = sorted(set(range(eos.TOTAL)) - set(seqs))
        print(f"at-least-once: {rounds} kill rounds, {len(repeated)} repeated, {len(missing)} lost")
        assert missing == []
        assert rounds >= 2
        assert repeated, "no record was repeated: the kills did not hit a task mid-commit"
    finally:
        cluster.close()
