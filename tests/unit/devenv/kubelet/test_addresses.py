"""Pod IPs on loopback."""

from __future__ import annotations

import pytest

from kconnect_devenv.kubelet import addresses


def test_prefixes_must_be_loopback_and_not_the_hosts() -> None:
    assert addresses.parse_prefix("127.0.1") == "127.0.1"
    assert addresses.parse_prefix("127.9.9.") == "127.9.9"
    for bad in ("127.0.0", "10.0.1", "127.0", "127.0.1.5", "127.0.x"):
        with pytest.raises(ValueError, match="pod IP prefix"):
            addresses.parse_prefix(bad)


def test_addresses_go_round_robin_and_skip_those_in_use() -> None:
    assert addresses.next_ip("127.0.1", set(), None) == "127.0.1.2"
    assert addresses.next_ip("127.0.1", {"127.0.1.3"}, "127.0.1.2") == "127.0.1.4"
    # A freed address is not reused while fresher ones remain.
    assert addresses.next_ip("127.0.1", {"127.0.1.5"}, "127.0.1.5") == "127.0.1.6"
    assert addresses.next_ip("127.0.1", set(), "127.0.1.254") == "127.0.1.2"


def test_allocation_fails_when_all_are_taken() -> None:
    pool = addresses.candidates("127.0.1")
    assert len(pool) == 253
    assert addresses.next_ip("127.0.1", set(pool), None) is None
    assert addresses.next_ip("127.0.1", set(pool) - {"127.0.1.77"}, "127.0.1.200") == "127.0.1.77"


def test_listening_addresses_are_read_from_proc_net() -> None:
    tcp = (
        "  sl  local_address rem_address   st\n"
        "   0: 0201007F:1F90 00000000:0000 0A 00000000\n"  # 127.0.1.2:8080 LISTEN
        "   1: 0301007F:1F90 0100007F:9C40 01 00000000\n"  # 127.0.1.3 ESTABLISHED: not listening
    )
    udp = "  sl  local_address rem_address   st\n   0: 0401007F:0035 00000000:0000 07 0\n"
    assert addresses.listening_ips([tcp, udp]) == {"127.0.1.2", "127.0.1.4"}


def test_auto_tries_every_prefix_of_127_0_in_order() -> None:
    assert addresses.parse_prefix("auto") == "auto"
    tried = addresses.prefix_candidates("auto")
    assert tried[:2] == ["127.0.1", "127.0.2"]
    assert tried[-1] == "127.0.254"
    assert addresses.prefix_candidates("127.3.4") == ["127.3.4"]
