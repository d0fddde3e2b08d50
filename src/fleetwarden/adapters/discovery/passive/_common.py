"""What every passive reader shares: the result shape, file checks, notes, text helpers.

A passive source is a file somebody else wrote (a capture, an nmap report, a lease
database, an ARP table), so everything in it is untrusted. Readers report damage as
counted one-line warnings naming the file and keep what was good; a file with nothing
usable in it is a one-line ``InputError``.

Must not: parse any file format (the readers do), or decide what a device is
(fingerprint rules do).
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fleetwarden.domain.discovery import (
    Field,
    HostObservation,
    Source,
)
from fleetwarden.errors import InputError

Progress = Callable[[int, int], None]
"""Called with (bytes read, file size) as a reader goes."""

#: SSDP facts the ``Field`` vocabulary has no name for yet (kept under these names).
UPNP_LOCATION = "upnp.location"
UPNP_USN = "upnp.usn"

#: Fields that gather several values (first seen first), joined with the separator.
MULTI_VALUED: Mapping[str, str] = {
    Field.MDNS_SERVICES: ",",
    Field.MDNS_TXT: ";",
    Field.TLS_SNI: ",",
    Field.HTTP_USER_AGENT: "\n",  # a header value cannot hold a newline
}
#: Distinct values kept per multi-valued field (a management station sends many SNIs).
MAX_VALUES = 32
#: Hosts one reader keeps; beyond this a file is more likely hostile than a network.
MAX_HOSTS = 200_000
#: Hostname sources, best first.
RANK_DHCP, RANK_MDNS, RANK_OTHER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class PassiveResult:
    """What a passive reader got out of one file."""

    source: Source
    path: str
    observations: tuple[HostObservation, ...]
    warnings: tuple[str, ...] = ()
    """One line each, naming the file: damage that was skipped (never silently)."""
    stats: Mapping[str, int] = field(default_factory=dict)
    """Counters such as ``packets``, ``bytes``, ``malformed``, ``hosts``."""


# ------------------------------------------------------------------------ files
def open_input(path: Path) -> tuple[BinaryIO, int]:
    """The file opened for reading and its size, or a one-line ``InputError``."""
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not a file")
        fh = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return fh, size


def file_time(path: Path) -> str:
    """When the file was last written: the time of a snapshot that carries no times."""
    try:
        return iso_from_seconds(path.stat().st_mtime)
    except OSError:
        return iso_from_seconds(time.time())


def iso_from_us(us: int) -> str:
    """ISO 8601 UTC with microseconds (``2026-03-02T09:00:00.123456Z``)."""
    seconds, micros = divmod(us, 1_000_000)
    try:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    except (OverflowError, OSError, ValueError):  # a hostile time stamp
        stamp = "1970-01-01T00:00:00"
    return f"{stamp}.{micros:06d}Z"


def iso_from_seconds(seconds: float) -> str:
    return iso_from_us(int(seconds * 1_000_000))


_MAC_PARTS = re.compile(r"^([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]"
                        r"([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})$")
_MAC_DOTTED = re.compile(r"^([0-9a-f]{4})\.([0-9a-f]{4})\.([0-9a-f]{4})$")


def device_mac(text: str | bytes) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for a unicast device MAC; None for broadcast, multicast,
    all-zero or anything that is not a MAC. Accepts 6 raw bytes, colon or dash
    separated (one-digit groups too, as macOS prints them) and Cisco's dotted form."""
    if isinstance(text, bytes):
        raw = text if len(text) == 6 else b""
    else:
        low = text.strip().lower()
        parts = _MAC_PARTS.match(low)
        if parts:
            raw = bytes(int(p, 16) for p in parts.groups())
        else:
            dotted = _MAC_DOTTED.match(low)
            raw = bytes.fromhex("".join(dotted.groups())) if dotted else b""
    if len(raw) != 6 or raw[0] & 1 or raw == b"\x00" * 6:
        return None
    return raw.hex(":")


def device_ip(text: str) -> str | None:
    """The compressed address if it can be a device's own (not 0.0.0.0, broadcast,
    multicast or unspecified)."""
    try:
        addr = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if addr.is_multicast or addr.is_unspecified or str(addr) == "255.255.255.255":
        return None
    return str(addr)


#: Longest line a text reader takes; a longer one is skipped as malformed.
MAX_LINE = 64 * 1024


def lines(fh: BinaryIO, notes: Notes, size: int = 0,
          progress: Progress | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text) of a text file, decoded as UTF-8 with replacement; a line
    longer than ``MAX_LINE`` is skipped (and counted) without being held whole."""
    number = 0
    while True:
        raw = fh.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = fh.readline(MAX_LINE)
            notes.skip("lines", f"line {number:,} is longer than {MAX_LINE // 1024} KiB")
            continue
        if progress is not None and number % 4096 == 0:
            progress(min(fh.tell(), size), size)
        yield number, raw.decode("utf-8", "replace").rstrip("\r\n")


def one_line(text: object, limit: int = 160) -> str:
    """A detail safe to put in a one-line message (no control characters, bounded)."""
    clean = "".join(c if c.isprintable() else "?" for c in str(text)[:limit])
    return clean + ("..." if len(str(text)) > limit else "")


class Notes:
    """Warnings for one file: damage is counted per kind, with the first example."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts: dict[str, int] = {}
        self.first: dict[str, str] = {}
        self.lines: list[str] = []

    def skip(self, what: str, detail: str) -> None:
        """One more ``what`` (``packets``, ``lines``) skipped as malformed."""
        if what not in self.counts:
            self.counts[what] = 0
            self.first[what] = one_line(detail)
        self.counts[what] += 1

    def say(self, text: str) -> None:
        self.lines.append(f"{self.path}: {one_line(text, 300)}")

    def merge(self, other: Notes) -> None:
        """Add the notes of a later part of the same file."""
        for what, count in other.counts.items():
            if what not in self.counts:
                self.counts[what] = 0
                self.first[what] = other.first[what]
            self.counts[what] += count
        self.lines += other.lines

    @property
    def skipped(self) -> int:
        return sum(self.counts.values())

    def warnings(self) -> tuple[str, ...]:
        counted = [f"{self.path}: {n:,} {what if n != 1 else what.removesuffix('s')} "
                   f"skipped as malformed (first: {self.first[what]})"
                   for what, n in self.counts.items()]
        return (*self.lines, *counted)
