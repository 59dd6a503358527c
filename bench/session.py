"""A benchmark session's private broker: started in a temporary directory, stopped on every path.

Both harnesses (``make bench``, ``make bench-java``) measure against a broker of their own, so no
other test or run shares its topics or its CPU. On the way out, in this order: every worker the
harness started is killed, the harness's own Kafka clients are closed (so they do not log the
broker going away), the broker is stopped, and the directory is removed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.distributed import Distributed
from bench.measure import Bench
from bench.procs import kill_all
from kconnect_devenv import kafka


@contextlib.contextmanager
def private_broker(
    prefix: str, timeout: float, log: Callable[[str], None]
) -> Iterator[tuple[str, Bench, Distributed]]:
    """The broker's bootstrap address, and the standalone and distributed runners bound to it,
    each with `timeout` seconds for any single run."""
    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    workdir = state_dir / "runs"
    workdir.mkdir()
    bench: Bench | None = None
    dist: Distributed | None = None
    try:
        log(f"starting a private broker in {state_dir}")
        broker = kafka.start(state_dir / "kafka", die_with_parent=True)
        bench = Bench(broker.bootstrap, workdir, timeout)
        dist = Distributed(broker.bootstrap, workdir, timeout)
        yield broker.bootstrap, bench, dist
    finally:
        kill_all()
        if bench is not None:
            bench.close()
        if dist is not None:
            dist.close()
        # Dropping the last references destroys the Kafka clients before the broker stops.
        bench = dist = None
        try:
            kafka.stop(state_dir / "kafka")
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
