"""The pure side of `python -m bench.compare --listener sasl_ssl` (bench.listeners)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import listeners
from bench.listeners import Row

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def test_runs_alternate_runtimes_and_listeners() -> None:
    runs = list(listeners.order(2))
    assert runs == [
        (0, "kconnect", "PLAINTEXT"),
        (0, "kconnect", "SASL_SSL"),
        (0, "java", "PLAINTEXT"),
        (0, "java", "SASL_SSL"),
        (1, "java", "SASL_SSL"),
        (1, "java", "PLAINTEXT"),
        (1, "kconnect", "SASL_SSL"),
        (1, "kconnect", "PLAINTEXT"),
    ]


def test_security_keys_go_to_every_client_as_java_needs_them() -> None:
    props = listeners.java_style("host:1", {"security.protocol": "SASL_SSL"})
    assert props == {
        "bootstrap.servers": "host:1",
        "security.protocol": "SASL_SSL",
        "producer.security.protocol": "SASL_SSL",
        "consumer.security.protocol": "SASL_SSL",
        "admin.security.protocol": "SASL_SSL",
    }


def test_the_ratio_is_sasl_ssl_over_plaintext_and_a_missing_side_shows() -> None:
    row = Row(
        "w", "a workload", "kconnect", {"PLAINTEXT": (100.0, 300.0, 200.0), "SASL_SSL": (50.0,)}
    )
    assert row.ratio == pytest.approx(0.25)
    table = "\n".join(listeners.table([row, Row("w", "a workload", "java", {"PLAINTEXT": (1.0,)})]))
    assert "| a workload | kconnect | 200 (100–300) | 50 | 0.25× |" in table
    assert "| a workload | Apache Kafka Connect (Java) | 1 | not run | — |" in table


def test_the_section_replaces_only_its_span_of_the_real_page() -> None:
    page = DOC.read_text("utf-8")
    section = listeners.render_section([], {"records per run": "10"})
    updated = listeners.replace_section(page, section)
    before, after = page.split(listeners.SECTION_BEGIN)[0], page.split(listeners.SECTION_END)[1]
    assert updated == before + section + after
    assert listeners.replace_section(updated, section) == updated


def test_a_page_without_the_span_is_refused() -> None:
    with pytest.raises(ValueError, match="sasl-ssl:begin"):
        listeners.replace_section("# Benchmarks\n", listeners.render_section([], {}))
