"""The benchmark harness against a real worker and broker: a run whose task fails stops there.

`make bench` and `make bench-java` allow each run up to ten minutes. A task that FAILS after it was
seen RUNNING used to leave the harness polling the output for the whole of that; now a run checks
the connector's status about once a second and stops with the worker's own failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Producer

from bench.measure import JSON, Bench
from bench.procs import HarnessError, kill_all

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

# Far beyond the test's own timeout: were the failure not noticed, pytest would stop the test.
RUN_TIMEOUT_S = 900.0


def test_a_sink_run_whose_task_fails_stops_with_the_failure(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    bench = Bench(kafka_bootstrap, tmp_path, RUN_TIMEOUT_S)
    try:
        topic = bench.fresh("poison")
        bench.create_topic(topic)
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(topic, value=b'{"schema":null,"payload":"fine"}')
        producer.produce(topic, value=b"not JSON at all")  # JsonConverter fails the task here
        assert producer.flush(30) == 0
        with pytest.raises(HarnessError, match="FAILED") as info:
            bench.sink_run(JSON, 10, topic)
        assert "Converting byte[] to Kafka Connect data failed" in str(info.value)
    finally:
        kill_all()
        bench.close()
