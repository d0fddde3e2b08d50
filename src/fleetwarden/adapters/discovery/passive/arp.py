"""Imported discovery from a saved ARP or neighbour table (``discover --arp-table FILE``).

Understood, line by line and mixed freely: Linux ``ip neigh`` output, ``/proc/net/arp``,
Linux net-tools ``arp -n``, BSD/macOS/Linux ``arp -a`` (``host (ip) at mac ...``, which
also names the host) and Windows ``arp -a`` (``ip  aa-bb-cc-dd-ee-ff  dynamic``).
Every complete entry for a device MAC becomes a host (``arp_table`` source); incomplete
or failed entries, and broadcast or multicast MACs, are counted and left out. A table
has no times, so entries are observed at the file's modification time.

A line that matches no format is counted as malformed; a file where no line looks like
any of these tables is a one-line ``InputError``.

Must not: resolve names or addresses, or hold the file in memory.
"""

from __future__ import annotations

import re
from pathlib import Path

from fleetwarden.adapters.discovery.passive._common import (
    Notes,
    PassiveResult,
    Progress,
    device_ip,
    device_mac,
    file_time,
    lines,
    open_input,
)
from fleetwarden.domain.discovery import HostObservation, Source, bounded
from fleetwarden.errors import InputError

_MAC = r"(?P<mac>[0-9a-fA-F]{1,2}(?:[:-][0-9a-fA-F]{1,2}){5})"
_IPV4 = r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3})"
#: Complete entries, each with its format's name (for the counters).
_ENTRIES = (
    ("ip_neigh", re.compile(r"^(?P<ip>[0-9a-fA-F.:]+)\s+(?:dev\s+\S+\s+)?lladdr\s+" + _MAC
                            + r"(?:\s+\S+)*?\s+(?P<state>[A-Z_]+)\s*$")),
    ("proc_net_arp", re.compile(r"^" + _IPV4 + r"\s+0x[0-9a-fA-F]+\s+(?P<flags>0x[0-9a-fA-F]+)"
                                r"\s+" + _MAC + r"\s+\S+\s+\S+\s*$")),
    ("bsd_arp", re.compile(r"^(?P<name>\S+)\s+\((?P<ip>[^)\s]+)\)\s+at\s+" + _MAC + r"(?:\s|$)")),
    ("net_tools_arp", re.compile(r"^" + _IPV4 + r"\s+ether\s+" + _MAC + r"\s")),
    ("windows_arp", re.compile(r"^\s+" + _IPV4 + r"\s+" + _MAC + r"\s+\w+\s*$")),
)
#: Entries without a MAC yet (still resolving, or failed): tables say so in these ways.
_INCOMPLETE = re.compile(r"^\S+\s+(?:dev\s+\S+\s+)?(?:\S+\s+)*?(?:INCOMPLETE|FAILED)\s*$"
                         r"|\(incomplete\)|<incomplete>|^\S+\s+0x[0-9a-fA-F]+\s+0x0\s+"
                         r"00:00:00:00:00:00")
#: Lines that are part of a table but no entry (headers, Windows interface lines).
_STRUCTURE = re.compile(r"^\s*(?:IP address\s+HW type|Address\s+HWtype|Internet Address\s+"
                        r"Physical Address|Interface:\s|\?\s*$)")
_FAILED_STATES = {"INCOMPLETE", "FAILED", "NONE"}


def read_arp_table(path: Path, *, progress: Progress | None = None) -> PassiveResult:
    """Hosts in a saved ARP / neighbour table."""
    fh, size = open_input(path)
    notes = Notes(path)
    written = file_time(path)
    hosts: dict[tuple[str, str], HostObservation] = {}
    counts = {"incomplete": 0, "not_devices": 0, "structure": 0}
    with fh:
        for number, text in lines(fh, notes, size, progress):
            if not text.strip():
                continue
            entry = _entry(text)
            if entry is None:
                if _INCOMPLETE.search(text):
                    counts["incomplete"] += 1
                elif _STRUCTURE.match(text):
                    counts["structure"] += 1
                else:
                    notes.skip("lines", f"line {number:,}: not an ARP table entry")
                continue
            kind, ip_text, mac_text, name = entry
            counts[kind] = counts.get(kind, 0) + 1
            ip, mac = device_ip(ip_text), device_mac(mac_text)
            if ip is None or mac is None:
                counts["not_devices"] += 1
                continue
            hosts.setdefault((ip, mac), HostObservation(
                source=Source.ARP_TABLE, observed_at=written, ip=ip, mac=mac,
                hostname=bounded(name) if name and name != "?" else None))
    entries = sum(n for k, n in counts.items() if k not in ("incomplete", "not_devices",
                                                           "structure"))
    if entries + counts["incomplete"] + counts["structure"] == 0:
        raise InputError(f"{path}: not an ARP table (no line looks like ip neigh, "
                         "/proc/net/arp or arp -a output)")
    if not hosts:
        notes.say("no complete entry for a device in the table")
    stats = {"bytes": size, "hosts": len(hosts), "malformed": notes.skipped, **counts}
    return PassiveResult(Source.ARP_TABLE, str(path), tuple(hosts.values()),
                         notes.warnings(), stats)


def _entry(text: str) -> tuple[str, str, str, str | None] | None:
    """(format, address, MAC, name) of a complete entry, or None."""
    for kind, pattern in _ENTRIES:
        match = pattern.match(text)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("state") in _FAILED_STATES or groups.get("flags") in ("0x0", "0x00"):
            return None
        return kind, groups["ip"], groups["mac"], groups.get("name")
    return None
