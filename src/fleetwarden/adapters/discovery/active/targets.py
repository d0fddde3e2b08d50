"""What an active scan may touch: target addresses and port lists, parsed and bounded.

``parse_targets`` turns the CLI's TARGET strings (an IPv4 address, a CIDR, a range
``a.b.c.d-e.f.g.h`` or ``a.b.c.d-h``) into merged address ranges; ``parse_ports`` turns
``iot-top`` or a list such as ``22,80,443,8000-8100,U:161`` into TCP and UDP ports.
Anything malformed is one ``InputError`` line naming the bad piece.

Scope is enforced here and again by the scanner: without ``allow_non_loopback`` only
127.0.0.0/8 is accepted. Even with it, addresses nobody may scan (0.0.0.0/8, multicast,
the reserved 240/4 block and broadcast) are refused.

Must not: resolve host names, touch the network, or accept more than ``MAX_ADDRESSES``
addresses in one scan.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fleetwarden.domain.lab import PORT_OFFSET
from fleetwarden.domain.scope import merge
from fleetwarden.errors import InputError

#: Addresses one scan may cover (a /12); larger sweeps are split by the caller.
MAX_ADDRESSES = 1_048_576
#: Target strings one scan may take.
MAX_TARGET_SPECS = 4096
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
#: Never scanned, whatever the caller's scope says.
FORBIDDEN = (
    ipaddress.IPv4Network("0.0.0.0/8"),
    ipaddress.IPv4Network("224.0.0.0/4"),
    ipaddress.IPv4Network("240.0.0.0/4"),
)

#: The lab (and some appliances run unprivileged) move ports below 1024 up by this much.
LAB_PORT_OFFSET = PORT_OFFSET

#: TCP ports most worth asking on IoT/OT networks: remote access, web UIs, video,
#: messaging, industrial protocols and vendor consoles.
IOT_TCP: tuple[int, ...] = (
    21, 22, 23, 25, 80, 81, 82, 102, 443, 502, 515, 554, 631, 1443, 1883, 1911, 1962,
    2323, 2332, 2404, 3000, 3389, 4242, 4443, 4840, 4911, 5000, 5001,
    5555, 5900, 7001, 7547, 8000, 8001, 8008, 8080, 8081, 8088, 8291, 8443, 8554, 8728,
    8883, 8888, 9000, 9100, 9527, 9999, 10001, 18245, 20000, 34567, 37777, 44818, 49152,
    49153, 55443,
)
#: UDP ports the scanner has a probe for (SNMP, SSDP, mDNS, CoAP, BACnet).
IOT_UDP: tuple[int, ...] = (161, 1900, 5353, 5683, 47808)
#: ``iot-top`` also asks the lab's shifted ports: a lab (or device) that may not bind a
#: port below 1024 listens on nominal + ``LAB_PORT_OFFSET`` (21 -> 20021, 161 -> 20161).
IOT_TOP_TCP = tuple(sorted({*IOT_TCP, *(p + LAB_PORT_OFFSET for p in IOT_TCP if p < 1024)}))
IOT_TOP_UDP = tuple(sorted({*IOT_UDP, *(p + LAB_PORT_OFFSET for p in IOT_UDP if p < 1024)}))

NAMED_PORT_LISTS = {"iot-top": (IOT_TOP_TCP, IOT_TOP_UDP)}


@dataclass(frozen=True, slots=True)
class Targets:
    """Merged, sorted inclusive ranges of IPv4 addresses (as integers)."""

    ranges: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return sum(last - first + 1 for first, last in self.ranges)

    def __iter__(self) -> Iterator[str]:
        for first, last in self.ranges:
            for value in range(first, last + 1):
                yield str(ipaddress.IPv4Address(value))

    def outside_loopback(self) -> bool:
        low, high = int(LOOPBACK.network_address), int(LOOPBACK.broadcast_address)
        return any(first < low or last > high for first, last in self.ranges)


@dataclass(frozen=True, slots=True)
class PortPlan:
    tcp: tuple[int, ...]
    udp: tuple[int, ...] = ()
    """Asked only when the scan runs with ``udp=True``."""


# ------------------------------------------------------------------------ targets
def parse_targets(specs: Iterable[str] | str, *, allow_non_loopback: bool = False) -> Targets:
    """The addresses named by ``specs``; refused outside loopback unless allowed."""
    if isinstance(specs, str):
        specs = [specs]
    ranges: list[tuple[int, int]] = []
    for count, spec in enumerate(specs, 1):
        if count > MAX_TARGET_SPECS:
            raise InputError(f"more than {MAX_TARGET_SPECS} targets in one scan")
        ranges.append(_parse_one(spec.strip()))
    if not ranges:
        raise InputError("no target given: name an address, a CIDR or a range")
    targets = Targets(tuple(merge(ranges)))
    check_scope(targets, allow_non_loopback=allow_non_loopback)
    if len(targets) > MAX_ADDRESSES:
        raise InputError(f"{len(targets)} addresses: at most {MAX_ADDRESSES} per scan "
                         "(a /12); split the scan")
    return targets


def check_scope(targets: Targets, *, allow_non_loopback: bool) -> None:
    """Refuse forbidden blocks always, and anything outside loopback unless allowed."""
    for first, last in targets.ranges:
        for block in FORBIDDEN:
            low, high = int(block.network_address), int(block.broadcast_address)
            if first <= high and last >= low:
                raise InputError(f"{_addr(max(first, low))}: {block} is never scanned")
    if targets.outside_loopback() and not allow_non_loopback:
        low, high = int(LOOPBACK.network_address), int(LOOPBACK.broadcast_address)
        first, last = next((f, t) for f, t in targets.ranges if f < low or t > high)
        raise InputError(f"{_addr(first if first < low else high + 1)}: outside 127.0.0.0/8;"
                         " targets outside loopback need an authorised scope")


def _addr(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _parse_one(spec: str) -> tuple[int, int]:
    shown = spec[:64] + ("..." if len(spec) > 64 else "")
    if not spec:
        raise InputError("empty target: name an address, a CIDR or a range")
    try:
        if "/" in spec:
            net = ipaddress.IPv4Network(spec, strict=False)
            return int(net.network_address), int(net.broadcast_address)
        if "-" in spec:
            start_text, _, end_text = spec.partition("-")
            start = ipaddress.IPv4Address(start_text.strip())
            end_text = end_text.strip()
            if end_text.isdigit() and len(end_text) <= 3:
                end = ipaddress.IPv4Address(f"{str(start).rsplit('.', 1)[0]}.{end_text}")
            else:
                end = ipaddress.IPv4Address(end_text)
            if int(end) < int(start):
                raise InputError(f"target {shown!r}: the range ends before it starts")
            return int(start), int(end)
        value = int(ipaddress.IPv4Address(spec))
        return value, value
    except ValueError:  # AddressValueError and NetmaskValueError are ValueErrors
        raise InputError(f"target {shown!r}: not an IPv4 address, CIDR or range "
                         "(e.g. 10.0.0.5, 10.0.0.0/24, 10.0.0.1-10.0.0.50 or 10.0.0.1-50)"
                         ) from None


# ------------------------------------------------------------------------ ports
def parse_ports(spec: str) -> PortPlan:
    """``iot-top`` or ``22,80,8000-8100,U:161,T:443``: ``U:`` items are UDP, others TCP.

    A TCP-only list still asks the UDP probes' own ports when the scan runs with
    ``udp=True`` and the list names one of them (``161`` then means SNMP too).
    """
    text = spec.strip().lower()
    if text in NAMED_PORT_LISTS:
        named_tcp, named_udp = NAMED_PORT_LISTS[text]
        return PortPlan(named_tcp, named_udp)
    if not text:
        raise InputError("empty port list: use iot-top or a list such as 22,80,8000-8100")
    tcp: set[int] = set()
    udp: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        into = tcp
        if item[:2] in ("u:", "t:"):
            into = udp if item[0] == "u" else tcp
            item = item[2:]
        first, last = _port_range(item, spec)
        into.update(range(first, last + 1))
    if not tcp and not udp:
        raise InputError(f"port list {spec[:64]!r} names no port")
    implied = {p for p in tcp if p in IOT_TOP_UDP}
    return PortPlan(tuple(sorted(tcp)), tuple(sorted(udp | implied)))


def _port_range(item: str, spec: str) -> tuple[int, int]:
    start, dash, end = item.partition("-")
    if not start.isdigit() or (dash and not end.isdigit()) or len(item) > 11:
        raise InputError(f"port list {spec[:64]!r}: {item[:16]!r} is not a port or range "
                         "(e.g. 22,80,443,8000-8100,U:161)")
    first = int(start)
    last = int(end) if dash else first
    if not 1 <= first <= last <= 65535:
        raise InputError(f"port list {spec[:64]!r}: {item!r} is outside 1-65535 or reversed")
    return first, last
