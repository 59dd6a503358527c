"""The secured broker's listeners for the real node's pods: they listen on, and advertise, the
address pods reach the host at, while the super user's PLAINTEXT listener stays on loopback."""

from __future__ import annotations

from pathlib import Path

from kconnect_devenv import kafka, kafka_pki, nodenetwork


def test_a_listener_for_pods_listens_and_advertises_the_pods_address(tmp_path: Path) -> None:
    config = kafka.broker_config(
        port=9092,
        controller_port=9093,
        log_dir=tmp_path,
        extra_listeners=[
            kafka.Listener("SASL_SSL", "SASL_SSL", 9094, nodenetwork.HOST_ADDRESS),
            kafka.Listener("SSL", "SSL", 9095),
        ],
    )
    pods = f"SASL_SSL://{nodenetwork.HOST_ADDRESS}:9094"
    assert pods in config["listeners"].split(",")
    assert pods in config["advertised.listeners"].split(",")
    assert f"SSL://{kafka.HOST}:9095" in config["advertised.listeners"].split(",")
    assert f"PLAINTEXT://{kafka.HOST}:9092" in config["advertised.listeners"].split(",")
    assert "SASL_SSL:SASL_SSL" in config["listener.security.protocol.map"]


def test_the_broker_certificate_names_the_pods_address() -> None:
    assert f"IP:{nodenetwork.HOST_ADDRESS}" in kafka_pki.BROKER_SAN
    assert "IP:127.0.0.1" in kafka_pki.BROKER_SAN
