"""The benchmark harness behind ``make bench``: throughput per task, memory and start-up time of a
standalone worker against a private broker, reported in ``docs/benchmarks.md`` and
``bench/results/latest.json``. The harness measures and reports; it asserts nothing."""
