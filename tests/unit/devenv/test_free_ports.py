"""Ports for test and development servers: out of the kernel's ephemeral range, and never handed
out twice while a server may still be about to bind them."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kconnect_devenv import processes


@pytest.fixture
def claims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "claims"
    monkeypatch.setattr(processes, "_PORT_CLAIMS", path)
    return path


def _three_bindable() -> range:
    """Three adjacent free ports below the pool, where no other picker on the machine looks."""
    for start in range(15000, processes.PORT_POOL.start - 3, 3):
        if all(processes._bindable(p) for p in range(start, start + 3)):
            return range(start, start + 3)
    raise AssertionError("the pool has no three adjacent free ports")


def test_ports_are_distinct_below_the_ephemeral_range_and_recorded(claims: Path) -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = processes.free_ports(5)
    assert len(set(ports)) == 5
    assert all(processes.PORT_POOL.start <= p < min(low, processes.PORT_POOL.stop) for p in ports)
    recorded = {int(line.split()[0]) for line in claims.read_text().splitlines()}
    assert recorded == set(ports)


def test_a_claimed_port_is_not_picked_again_until_its_claim_expires(
    claims: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = _three_bindable()
    monkeypatch.setattr(processes, "PORT_POOL", pool)
    first = processes.free_ports(2)
    [third] = processes.free_ports(1)
    assert third not in first
    with pytest.raises(RuntimeError, match=f"no 1 free ports left in {pool[0]}-{pool[2]}"):
        processes.free_ports(1)
    monkeypatch.setattr(processes, "PORT_CLAIM_S", 0.0)
    assert len(processes.free_ports(3)) == 3


def test_ports_in_use_or_to_avoid_are_passed_over(
    claims: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = _three_bindable()
    monkeypatch.setattr(processes, "PORT_POOL", pool)
    with socket.socket() as taken:
        taken.bind((processes.HOST, pool[0]))
        taken.listen()
        assert processes.free_ports(1, avoid={pool[1]}) == [pool[2]]


def test_garbage_in_the_claims_file_is_ignored(claims: Path) -> None:
    claims.parent.mkdir(parents=True, exist_ok=True)
    claims.write_text("not a claim\n25000\n25001 soon\n\n")
    assert len(processes.free_ports(2)) == 2
