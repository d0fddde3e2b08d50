"""Which addresses a tenant may scan: its segments' CIDRs, and nothing else unless a user
says so out loud (``--allow-outside-scope``, audited).

Ranges are inclusive pairs of IPv4 addresses as integers, merged and sorted.

Must not: do I/O or parse user text (the scanner's target parser does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Range = tuple[int, int]


def cidr_ranges(cidrs: Iterable[str]) -> list[Range]:
    """The IPv4 CIDRs among ``cidrs`` as ranges (IPv6 segments cannot be swept)."""
    out = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version == 4:
            out.append((int(net.network_address), int(net.broadcast_address)))
    return merge(out)


def merge(ranges: Iterable[Range]) -> list[Range]:
    merged: list[Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def outside(targets: Sequence[Range], allowed: Sequence[Range]) -> list[Range]:
    """The parts of ``targets`` no allowed range covers."""
    left: list[Range] = []
    allowed = merge(allowed)
    for first, last in merge(targets):
        cursor = first
        for low, high in allowed:
            if high < cursor or low > last:
                continue
            if low > cursor:
                left.append((cursor, low - 1))
            cursor = max(cursor, high + 1)
            if cursor > last:
                break
        if cursor <= last:
            left.append((cursor, last))
    return left


def contains(ranges: Sequence[Range], address: str) -> bool:
    try:
        value = int(ipaddress.IPv4Address(address))
    except ValueError:
        return False
    return any(first <= value <= last for first, last in ranges)


def describe(r: Range) -> str:
    first, last = (str(ipaddress.IPv4Address(v)) for v in r)
    return first if first == last else f"{first}-{last}"
