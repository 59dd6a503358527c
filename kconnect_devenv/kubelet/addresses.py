"""Pod IPs: each pod gets its own loopback address. Pure.

All of 127.0.0.0/8 reaches this host on Linux without any configuration, so a pod's IP is an
address of ``<prefix>.2`` to ``<prefix>.254`` (default prefix ``127.0.1``), and its workers bind
that address, so two pods never clash on a port. ``127.0.0.1`` is the node's (host) IP.

Invariants: no two live pods share an IP; addresses are handed out round-robin after the last one
given, so an address just freed (with connections still in TIME_WAIT, and perhaps still in some
client's cache) is the last to be reused. An address that some process on this host already
listens on (another kubelet's pod, say) is skipped too: see :func:`listening_ips`. When all 253 are
taken, allocation fails (None) and the pod is not run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from typing import Final

DEFAULT_PREFIX: Final = "127.0.1"
AUTO: Final = "auto"
"""The first prefix of 127.0.1, 127.0.2, ... 127.0.254 no other kubelet on this machine uses."""
HOST_IP: Final = "127.0.0.1"
FIRST: Final = 2
LAST: Final = 254


def parse_prefix(text: str) -> str:
    """A validated pod IP prefix: three octets inside 127.0.0.0/8 other than ``127.0.0``, or
    ``auto``."""
    if text.strip() == AUTO:
        return AUTO
    parts = text.strip().rstrip(".").split(".")
    try:
        if len(parts) != 3:
            raise ValueError
        address = ipaddress.IPv4Address(".".join([*parts, "0"]))
    except ValueError:
        raise ValueError(
            f"pod IP prefix {text!r}: expected three octets of a loopback address, e.g. 127.0.1"
        ) from None
    if not address.is_loopback or str(address) == "127.0.0.0":
        raise ValueError(
            f"pod IP prefix {text!r}: must be in 127.0.0.0/8 and not 127.0.0 (the host's)"
        )
    return ".".join(parts)


def prefix_candidates(wanted: str) -> list[str]:
    """The prefixes to try, in order: the one wanted, or for ``auto`` 127.0.1 to 127.0.254."""
    if wanted == AUTO:
        return [f"127.0.{third}" for third in range(1, 255)]
    return [wanted]


def candidates(prefix: str) -> list[str]:
    return [f"{prefix}.{host}" for host in range(FIRST, LAST + 1)]


def next_ip(prefix: str, in_use: Collection[str], last: str | None) -> str | None:
    """The first free address after ``last`` (wrapping around), or None when all are in use."""
    pool = candidates(prefix)
    start = pool.index(last) + 1 if last in pool else 0
    for offset in range(len(pool)):
        ip = pool[(start + offset) % len(pool)]
        if ip not in in_use:
            return ip
    return None


def in_pool(prefix: str, ip: str | None) -> bool:
    return ip is not None and ip in set(candidates(prefix))


def listening_ips(tables: Iterable[str]) -> set[str]:
    """The IPv4 addresses with a listening TCP socket (or a bound UDP one) in the texts of
    ``/proc/net/tcp`` and ``/proc/net/udp``, where addresses are little-endian hex."""
    found = set()
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4:
                continue
            address, state = fields[1].split(":")[0], fields[3]
            if len(address) != 8 or state not in {"0A", "07"}:  # LISTEN; UDP's unconnected
                continue
            found.add(str(ipaddress.IPv4Address(bytes.fromhex(address)[::-1])))
    return found


def host_listening_ips() -> set[str]:
    tables = []
    for path in ("/proc/net/tcp", "/proc/net/udp"):
        try:
            with open(path, encoding="ascii") as handle:
                tables.append(handle.read())
        except OSError:
            continue
    return listening_ips(tables)
