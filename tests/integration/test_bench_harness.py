"""The benchmark harness against a real worker and broker.

`make bench` and `make bench-java` allow each run up to ten minutes. A task that FAILS after it was
seen RUNNING used to leave the harness polling the output for the whole of that; now a run checks
the connector's status about once a second and stops with the worker's own failure.

`python -m bench.compare --listener sasl_ssl` runs both runtimes over a secured broker's PLAINTEXT
and SASL_SSL listeners and checks, from the worker process's own connections, that each run used
the listener it is counted for; a short form of it runs here so the path cannot rot.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from confluent_kafka import Producer

from bench import compare, javaconnect, listeners
from bench.distributed import Distributed
from bench.measure import JSON, Bench
from bench.procs import HarnessError, WorkerFactory, WorkerProcess, kill_all
from bench.session import private_secured_broker
from kconnect_devenv import javaconverter

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


# --- over SASL_SSL (python -m bench.compare --listener sasl_ssl) ---------------------------------


@pytest.mark.timeout(420)
def test_both_runtimes_move_records_over_sasl_ssl_and_plaintext(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The `--listener sasl_ssl` path end to end, with a few records: both runtimes, both
    listeners of one secured broker, each run's connections checked. One workload (the sink);
    the source's clients are configured and checked by the same code."""
    if javaconnect.fetched() is None:
        pytest.fail(
            f"Kafka Connect's jars are not in {javaconnect.libs_dir()}: fetch them with "
            "`make bench-java-fetch`"
        )
    assert (
        compare.main(
            [
                *("--listener", "sasl_ssl", "--only", "sink_string"),
                *("--records", "200", "--repeat", "1", "--light-java"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    # With a few records a runtime may deliver them all before its clock starts (it starts at
    # RUNNING), so a rate can be 0 and its ratio "—": the rows are counted, not their figures.
    rows = [
        line for line in out.splitlines() if line.startswith("| ") and "StringConverter" in line
    ]
    assert len(rows) == 2, out  # {kconnect, Java}
    assert not any("not run" in row for row in rows), out
    for runtime in ("kconnect", "java"):
        for listener in ("PLAINTEXT", "SASL_SSL"):
            assert f"sink_string {runtime} over {listener} 1/1: " in out, out


def test_a_worker_on_another_listener_than_the_one_measured_fails_the_run(
    tmp_path: Path,
) -> None:
    """The listener check can fail: a worker given the PLAINTEXT listener's keys, checked as if it
    ran over SASL_SSL, stops the run naming the port it used."""
    with private_secured_broker("kconnect-test-listener-", 120.0, print) as (broker, bench, dist):
        by_name = listeners.listeners(broker)
        session = compare.Session(
            bench, dist, {"kconnect": WorkerProcess}, records=50, repeat=1, quick=True
        )
        workload = next(w for w in compare.THROUGHPUT if w.name == "sink_string")
        check = listeners.listener_check(by_name["SASL_SSL"], listeners.broker_ports(broker))
        with pytest.raises(HarnessError, match="listener") as info:
            session.throughput_run(workload, "kconnect", by_name["PLAINTEXT"].client, check)
        assert f"port(s) {broker.broker.port}" in str(info.value)
        # The same worker keys pass the check of their own listener.
        ok = listeners.listener_check(by_name["PLAINTEXT"], listeners.broker_ports(broker))
        assert session.throughput_run(workload, "kconnect", by_name["PLAINTEXT"].client, ok)
        del session  # its clients close before the broker stops


# --- Avro through the Schema Registry (make bench-java's sink_avro) -------------------------------


@pytest.mark.timeout(300)
def test_both_runtimes_read_kconnects_avro_records_through_the_registry(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The sink_avro workload with a few records: kconnect's AvroConverter writes the input topic
    and registers its schema in the session's own registry; a kconnect worker and a Java Kafka
    Connect worker with Apicurio's AvroConverter each read every record into a file."""
    bench = Bench(kafka_bootstrap, tmp_path, RUN_TIMEOUT_S)
    dist = Distributed(kafka_bootstrap, tmp_path, RUN_TIMEOUT_S)
    starters: dict[compare.RuntimeName, WorkerFactory] = {
        "kconnect": WorkerProcess,
        "java": functools.partial(
            javaconnect.JavaWorker,
            libs=javaconnect.fetch(),
            extra_libs=[javaconverter.fetch().libs],
            jvm_options=javaconnect.LIGHT_JVM_OPTIONS,
        ),
    }
    session = compare.Session(bench, dist, starters, records=300, repeat=1, quick=True)
    workload = next(w for w in compare.THROUGHPUT if w.name == "sink_avro")
    try:
        with session.services:
            for runtime in ("kconnect", "java"):
                # The run ends when the file holds all 300 lines; a task that cannot read a
                # record FAILS, which stops the run with its trace.
                session.throughput_run(workload, runtime)
    finally:
        kill_all()
        bench.close()
        dist.close()
