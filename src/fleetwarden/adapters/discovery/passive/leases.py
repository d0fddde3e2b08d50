"""Imported discovery from a DHCP server's lease database (``discover --dhcp-leases``):
ISC dhcpd (``dhcpd.leases``) or dnsmasq (``dnsmasq.leases``), told apart by content.

ISC dhcpd writes a journal of ``lease ADDRESS { ... }`` blocks; the last block for an
address is the current one. A lease with a ``hardware ethernet`` becomes a host with its
``client-hostname`` and ``vendor-class-identifier`` (DHCP option 60), observed at the
client's last transaction (``cltt``), else the lease start. Abandoned and failover
backup leases have no client and are left out. dnsmasq writes one line per lease
(``expiry MAC address hostname client-id``); it carries no time of contact, so its
leases are observed at the file's modification time, when dnsmasq last wrote them.
When several leases name one MAC, the latest is the host's.

A malformed line or block is skipped and counted; a file where nothing parses is a
one-line ``InputError``. Lines are read with a length limit (``MAX_LINE``).

Must not: trust a hostname (it is what the client claimed), or hold the file in memory.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fleetwarden.adapters.discovery.passive._common import (
    Notes,
    PassiveResult,
    Progress,
    device_ip,
    device_mac,
    file_time,
    iso_from_seconds,
    lines,
    open_input,
)
from fleetwarden.domain.discovery import Field, HostObservation, Source, bounded
from fleetwarden.errors import InputError

_ISC_START = re.compile(r"^\s*lease\s+(\S+)\s*\{\s*$")
_ISC_MARKERS = re.compile(r"^\s*(lease\s+\S+\s*\{|authoring-byte-order\s|server-duid\s|"
                          r"failover\s+peer\s|host\s+\S+\s*\{|ia-[nt]a\s)")
_DNSMASQ = re.compile(r"^(\d+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(\S+))?\s*$")
_STRING = r'"((?:[^"\\]|\\.)*)"'
_HARDWARE = re.compile(r"^\s*hardware\s+ethernet\s+([0-9a-fA-F:]+)\s*;")
_HOSTNAME = re.compile(r"^\s*client-hostname\s+" + _STRING + r"\s*;")
_VENDOR = re.compile(r"^\s*set\s+vendor-class-identifier\s*=\s*" + _STRING + r"\s*;")
_STATE = re.compile(r"^\s*binding\s+state\s+([a-z-]+)\s*;")
_TIME = re.compile(r"^\s*(starts|ends|cltt)\s+(?:\d\s+(\d{4}/\d{1,2}/\d{1,2}\s+\d{1,2}:\d{2}:\d{2})"
                   r"|epoch\s+(\d+)|never)\s*;")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)")
_NO_CLIENT = {"abandoned", "backup"}


@dataclass
class _Lease:
    ip: str
    line: int
    mac: str | None = None
    hostname: str | None = None
    vendor: str | None = None
    state: str | None = None
    starts: float | None = None
    cltt: float | None = None

    @property
    def when(self) -> float | None:
        """The last time the client is known to have been there."""
        return self.cltt or self.starts


def read_dhcp_leases(path: Path, *, progress: Progress | None = None) -> PassiveResult:
    """Hosts that hold (or held) a lease, with what their DHCP client said."""
    fh, size = open_input(path)
    with fh:
        kind = _detect(fh, path)
        fh.seek(0)
        notes = Notes(path)
        stream = lines(fh, notes, size, progress)
        leases = _isc(stream, notes) if kind == "isc" else _dnsmasq(stream, notes)
    hosts = _latest_per_mac(leases, file_time(path))
    if not hosts and notes.skipped:
        raise InputError(f"{path}: no lease could be read ({notes.skipped:,} malformed "
                         f"lines or blocks; first: {next(iter(notes.first.values()))})")
    if not hosts:
        notes.say("the file holds no leases with a MAC address")
    stats = {"bytes": size, "leases": len(leases), "hosts": len(hosts),
             "malformed": notes.skipped}
    return PassiveResult(Source.DHCP_LEASES, str(path), tuple(hosts), notes.warnings(),
                         {**stats, f"format_{kind}": 1})


def _detect(fh: BinaryIO, path: Path) -> str:
    """``isc`` or ``dnsmasq`` from the first lines that say something."""
    checked = 0
    for _, text in lines(fh, Notes(path)):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if _ISC_MARKERS.match(stripped):
            return "isc"
        match = _DNSMASQ.match(stripped)
        if match and device_mac(match.group(2)) and device_ip(match.group(3)) \
                or stripped.startswith("duid "):
            return "dnsmasq"
        checked += 1
        if checked >= 50:
            break
    raise InputError(f"{path}: not an ISC dhcpd.leases or dnsmasq leases file")


# ---------------------------------------------------------------------- ISC dhcpd
def _isc(stream: Iterator[tuple[int, str]], notes: Notes) -> list[_Lease]:
    current: dict[str, _Lease] = {}
    lease: _Lease | None = None
    depth = 0  # braces open outside a lease block (host, failover, ia-na ...)
    for number, text in stream:
        line = text.strip()
        if not line or line.startswith("#"):
            continue
        if lease is None:
            start = _ISC_START.match(line) if depth == 0 else None
            if start:
                ip = device_ip(start.group(1))
                if ip is None:
                    notes.skip("blocks", f"line {number:,}: lease for a bad address")
                    depth += 1
                else:
                    lease = _Lease(ip, number)
                continue
            depth = max(0, depth + _braces(line))
            continue
        if line == "}":
            current.pop(lease.ip, None)  # the journal's last block for an address wins
            current[lease.ip] = lease
            lease = None
            continue
        _isc_statement(lease, line, number, notes)
    if lease is not None:
        notes.skip("blocks", f"line {lease.line:,}: the lease block is never closed "
                             "(truncated file?)")
    return [lease for lease in current.values()
            if lease.mac is not None and lease.state not in _NO_CLIENT]


def _isc_statement(lease: _Lease, line: str, number: int, notes: Notes) -> None:
    if (match := _HARDWARE.match(line)) is not None:
        lease.mac = device_mac(match.group(1))
        if lease.mac is None:
            notes.skip("lines", f"line {number:,}: not a device MAC address")
    elif (match := _HOSTNAME.match(line)) is not None:
        lease.hostname = _unquote(match.group(1))
    elif (match := _VENDOR.match(line)) is not None:
        lease.vendor = _unquote(match.group(1))
    elif (match := _STATE.match(line)) is not None:
        lease.state = match.group(1)
    elif (match := _TIME.match(line)) is not None:
        moment = _isc_time(match.group(2), match.group(3))
        if match.group(2) and moment is None:
            notes.skip("lines", f"line {number:,}: bad date")
        elif match.group(1) == "starts":
            lease.starts = moment
        elif match.group(1) == "cltt":
            lease.cltt = moment
    elif line.startswith(("hardware", "client-hostname", "starts", "ends", "cltt",
                          "binding")):
        notes.skip("lines", f"line {number:,}: malformed lease statement")


def _isc_time(date: str | None, epoch: str | None) -> float | None:
    """dhcpd writes UTC as ``W YYYY/MM/DD HH:MM:SS`` (or ``epoch N`` with local times)."""
    if epoch is not None:
        return float(epoch)
    if date is None:
        return None
    try:
        return float(calendar.timegm(time.strptime(date, "%Y/%m/%d %H:%M:%S")))
    except (ValueError, OverflowError):
        return None


def _unquote(text: str) -> str | None:
    """dhcpd's string escapes (``\\"``, ``\\\\``, octal) undone; device text, bounded."""
    raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF])
                      if m.group(1)[:1].isdigit() else m.group(1),
                      text.encode("utf-8", "surrogateescape"))
    return bounded(raw)


def _braces(line: str) -> int:
    """Opened minus closed braces on a line, outside quoted strings."""
    unquoted = re.sub(_STRING, "", line)
    return unquoted.count("{") - unquoted.count("}")


# ------------------------------------------------------------------------ dnsmasq
def _dnsmasq(stream: Iterator[tuple[int, str]], notes: Notes) -> list[_Lease]:
    leases: list[_Lease] = []
    for number, text in stream:
        line = text.strip()
        if not line or line.startswith(("#", "duid ")):
            continue
        match = _DNSMASQ.match(line)
        if match is None:
            notes.skip("lines", f"line {number:,}: not a dnsmasq lease line")
            continue
        _, hwaddr, address, name, _ = match.groups()
        ip = device_ip(address)
        if ip is None:
            notes.skip("lines", f"line {number:,}: bad address")
            continue
        mac = device_mac(hwaddr)
        if mac is None and ":" not in ip:  # IPv6 leases name an IAID, not a MAC
            notes.skip("lines", f"line {number:,}: not a device MAC address")
            continue
        leases.append(_Lease(ip, number, mac=mac,
                             hostname=None if name == "*" else bounded(name)))
    return leases


# ------------------------------------------------------------------------ results
def _latest_per_mac(leases: list[_Lease], written: str) -> list[HostObservation]:
    """One host per MAC (its most recent lease); MAC-less IPv6 leases per address.
    ``written``: when the file was last written, for leases that carry no time."""
    best: dict[str, _Lease] = {}
    for lease in leases:
        key = lease.mac or lease.ip
        old = best.get(key)
        if old is None or (lease.when or 0) >= (old.when or 0):
            best[key] = lease
    return [_observation(lease, written) for lease in best.values()]


def _observation(lease: _Lease, written: str) -> HostObservation:
    fields: dict[str, str] = {}
    if lease.hostname:
        fields[Field.DHCP_HOSTNAME] = lease.hostname
    if lease.vendor:
        fields[Field.DHCP_VENDOR_CLASS] = lease.vendor
    return HostObservation(
        source=Source.DHCP_LEASES,
        observed_at=iso_from_seconds(lease.when) if lease.when is not None else written,
        ip=lease.ip, mac=lease.mac, hostname=lease.hostname,
        fields=dict(sorted(fields.items())))
