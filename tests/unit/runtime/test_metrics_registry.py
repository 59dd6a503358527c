"""The shared Prometheus registry: families gathered at scrape time, summaries, and the checks
that keep the exposition valid. (Kept counters and gauges are covered by the operator's tests,
which run against the same classes.)"""

from __future__ import annotations

import pytest

from kconnect.prometheus import CONTENT_TYPE, Counter, Family, Gauge, Registry


def test_a_collector_is_called_at_each_render_and_merged_in_name_order() -> None:
    registry = Registry()
    kept = Counter("b_events_total", "Events.", registry=registry)
    reads: list[int] = []
    value = {"now": 1.0}

    def collect() -> list[Family]:
        reads.append(1)
        queue = Family("c_queue", "gauge", "Queued.", ("q",))
        queue.add(value["now"], q="in")
        first = Family("a_first", "counter", "First.")
        first.add(7)
        return [queue, first]

    registry.register_collector(collect)
    kept.inc(2)
    assert reads == []  # nothing is read before a scrape
    assert registry.render() == (
        "# HELP a_first First.\n"
        "# TYPE a_first counter\n"
        "a_first 7\n"
        "# HELP b_events_total Events.\n"
        "# TYPE b_events_total counter\n"
        "b_events_total 2\n"
        "# HELP c_queue Queued.\n"
        "# TYPE c_queue gauge\n"
        'c_queue{q="in"} 1\n'
    )
    value["now"] = 2.5
    assert 'c_queue{q="in"} 2.5\n' in registry.render()
    assert len(reads) == 2


def test_a_summary_renders_sum_and_count_per_series_sorted_by_labels() -> None:
    family = Family("job_seconds", "summary", "Job time.", ("job",))
    family.add(3, suffix="_count", job="b")
    family.add(1.5, suffix="_sum", job="b")
    family.add(0.25, suffix="_sum", job="a")
    family.add(1, suffix="_count", job="a")
    assert family.render() == (
        "# HELP job_seconds Job time.\n"
        "# TYPE job_seconds summary\n"
        'job_seconds_count{job="a"} 1\n'
        'job_seconds_sum{job="a"} 0.25\n'
        'job_seconds_count{job="b"} 3\n'
        'job_seconds_sum{job="b"} 1.5\n'
    )
    assert family.samples[0] == ({"job": "b"}, "_count", 3)


def test_family_samples_are_checked_like_kept_series() -> None:
    family = Family("g", "gauge", "h", ("connector", "task"))
    with pytest.raises(ValueError, match=r"missing \['task'\]"):
        family.add(1, connector="c")
    with pytest.raises(ValueError, match="cannot have the suffix '_sum'"):
        family.add(1, suffix="_sum", connector="c", task="0")
    summary = Family("s", "summary", "h")
    with pytest.raises(ValueError, match="cannot have the suffix ''"):
        summary.add(1)
    family.add(1, connector="c", task="0")
    with pytest.raises(ValueError, match="already has the sample"):
        family.add(2, connector="c", task="0")
    with pytest.raises(ValueError, match="invalid metric name"):
        Family("has-dash", "gauge", "h")


def test_two_families_of_one_name_fail_the_render_naming_it() -> None:
    registry = Registry()
    Gauge("same", "kept", registry=registry)
    registry.register_collector(lambda: [Family("same", "gauge", "collected")])
    with pytest.raises(ValueError, match="two metrics are named 'same'"):
        registry.render()


def test_int_values_from_plain_counters_render_as_integers() -> None:
    family = Family("n_total", "counter", "h", ("k",))
    family.add(2**40, k="big")
    family.add(3, k="small")
    assert family.render().splitlines()[2:] == [
        f'n_total{{k="big"}} {2**40}',
        'n_total{k="small"} 3',
    ]


def test_the_content_type_is_the_text_format_0_0_4() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
