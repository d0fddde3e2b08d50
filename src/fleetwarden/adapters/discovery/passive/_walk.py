"""Walks the records of a pcap or pcapng file, or of a byte range of one, and hands the
frames worth decoding to a ``Decoder``.

The file is read in chunks and never held whole. Frame boundaries are walked with
``struct`` rather than through ``dpkt.pcap.Reader`` (whose per-packet objects cost more
than the whole walk here), and every frame is first judged by a few bytes (EtherType,
IP protocol, ports, TCP flags, the payload's first byte, open TLS streams) so that most
of a capture (bulk TCP data, ACKs, other protocols) is dropped without being decoded.
The common case (Ethernet, IPv4 without options) is tested inline in the loop; the
rest goes through ``_filter``.

A walker given a range starts at the first record boundary it can find at or after the
range's start (``resync_*``: a chain of plausible headers) and stops at the first
record at or after its end, then follows the TLS handshakes still open for at most
``TAIL_BYTES`` more. ``pcap.py`` checks that the ranges joined up exactly.

Must not: raise for damage (it is recorded in ``damage`` and the walk stops; the
caller decides between an error and a warning), decode a frame the filter rules out,
or loop without moving forward (every record or block advances the offset).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fleetwarden.adapters.discovery.passive._common import Notes
from fleetwarden.adapters.discovery.passive._frames import (
    DECODE_ERRORS,
    ETH_ARP,
    ETH_IP4,
    ETH_IP6,
    LINKTYPE_ETHERNET,
    LINKTYPE_SLL,
    LINKTYPE_SLL2,
    SUPPORTED_LINKTYPES,
    TCP_FIRST,
    UDP_PORTS,
    VLAN_TAGS,
    Decoder,
)
from fleetwarden.adapters.discovery.passive._hosts import HostTable

CHUNK = 4 * 1024 * 1024
#: Longest record a sane capture holds (Wireshark's own limit); more means corruption.
MAX_RECORD = 262_144
#: Longest pcapng block (a record plus options).
MAX_BLOCK = 16 * 1024 * 1024
#: How far past its range a walker follows the TLS handshakes it saw begin.
TAIL_BYTES = 4 * 1024 * 1024
#: Plausible headers in a row that count as finding the record boundaries again.
SYNC_CHAIN = 8
#: How far into a range a walker looks for the boundaries before giving up.
SYNC_WINDOW = 4 * 1024 * 1024
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_L3_OFFSET = {LINKTYPE_ETHERNET: 14, LINKTYPE_SLL: 16, LINKTYPE_SLL2: 20}
_ETYPE_OFFSET = {LINKTYPE_ETHERNET: 12, LINKTYPE_SLL: 14, LINKTYPE_SLL2: 0}
_EPB, _SPB, _PB, _IDB = 6, 3, 2, 1
_SHB_TYPE = 0x0A0D0D0A
_BLOCK_TYPES = frozenset({_SHB_TYPE, _IDB, _PB, _SPB, 4, 5, _EPB, 7, 9, 10,
                          0x00000BAD, 0x40000BAD})

Interface = tuple[int, int, int]
"""(link type, time units per second, offset in microseconds) of a pcapng interface."""


@dataclass(frozen=True, slots=True)
class Format:
    """What the file header says, for every walker of the file."""

    kind: str
    """``pcap`` or ``pcapng``."""
    order: str
    """struct byte order of the (first) section: ``<`` or ``>``."""
    body: int
    """Offset of the first record (pcap) or of the first block after the first
    section's header and interface blocks (pcapng)."""
    linktype: int = LINKTYPE_ETHERNET
    per_unit: int = 1
    """pcap: time stamp fraction units per microsecond (1, or 1,000 for nanoseconds)."""
    snaplen: int = MAX_RECORD
    interfaces: tuple[Interface, ...] = ()


@dataclass
class Part:
    """What one walk of a file or of a range found (picklable: a worker sends it back)."""

    table: HostTable
    notes: Notes
    counts: dict[str, int] = field(default_factory=dict)
    packets: int = 0
    decoded: int = 0
    unsupported: int = 0
    damage: tuple[int, str] | None = None
    first: int | None = None
    next_start: int | None = None
    section_changed: bool = False


def walk_part(path: Path, fmt: Format, index: int, start: int, stop: int | None,
              advance: Callable[[int], None] | None = None) -> Part:
    """Walk the records from ``start`` (found again first unless ``index`` is 0, the
    range at the start of the file) to the first at or after ``stop``."""
    table, notes = HostTable(), Notes(path)
    decoder = Decoder(table)
    walker = Walker(fmt, decoder, notes, advance)
    with path.open("rb") as fh:
        if index:
            found = (resync_classic if fmt.kind == "pcap" else resync_pcapng)(fh, fmt, start)
            if found is None:
                return Part(table, notes)
            start = found
        if fmt.kind == "pcap":
            walker.classic(fh, start, stop)
        else:
            walker.pcapng(fh, start, stop)
    return Part(table, notes, dict(decoder.counts), walker.packets, walker.decoded,
                walker.unsupported, walker.damage, walker.first, walker.next_start,
                walker.section_changed)


class Walker:
    """Walks one file (or a range of it) into ``decoder``; damage ends the walk."""

    def __init__(self, fmt: Format, decoder: Decoder, notes: Notes,
                 advance: Callable[[int], None] | None = None) -> None:
        self.fmt, self.decoder, self.notes, self.advance = fmt, decoder, notes, advance
        self.packets = self.decoded = self.bytes = self.unsupported = 0
        self.damage: tuple[int, str] | None = None
        """(file offset, what is wrong) where the walk stopped at damage."""
        self.first: int | None = None
        """Offset of the first record or block walked (where the range joined up)."""
        self.next_start: int | None = None
        """Offset of the first record or block at or after the range's end."""
        self.section_changed = False
        """A pcapng section or interface block was met past the file's first ones."""

    def _read(self, fh: BinaryIO, rest: bytes) -> bytes:
        chunk = fh.read(CHUNK)
        self.bytes += len(chunk)
        if self.advance is not None and chunk:
            self.advance(len(chunk))
        return rest + chunk if chunk else b""

    # ---------------------------------------------------------------- classic pcap
    def classic(self, fh: BinaryIO, start: int, stop: int | None = None) -> None:
        """Records from ``start`` (a record boundary) to the first one at or after
        ``stop`` (the end of the file when None)."""
        fmt = self.fmt
        per_unit, linktype = fmt.per_unit, fmt.linktype
        limit, max_caplen = 1_000_000 * per_unit, MAX_RECORD  # fraction units per second
        record = struct.Struct(fmt.order + "IIII").unpack_from
        # EtherType, IPv4 version/length, total length, protocol, ports, TCP offset, flags
        wide = struct.Struct(fmt.order + "IIII12xBBBxBB5xB10xBBBB8xBB").unpack_from
        keep, frame, notes = _filter(linktype, self.decoder), self.decoder.frame, self.notes
        known = self.decoder.known
        flows, ethernet = self.decoder.flows, linktype == LINKTYPE_ETHERNET
        fh.seek(start)
        self.first = start
        buf, off, base = self._read(fh, b""), 0, start
        while buf:
            n = len(buf)
            packets = self.packets
            end_at = n if stop is None else min(n, stop - base)
            while off + 16 <= n:
                if off >= end_at and stop is not None:
                    self.packets = packets
                    self.next_start = base + off
                    self._tail_classic(fh, buf, off, base, record)
                    return
                if off + 64 <= n:  # the record header and the frame's first 48 bytes
                    (sec, frac, caplen, _, e1, e2, vihl, t1, t2, protocol, s1, s2, d1, d2,
                     doff, flags) = wide(buf, off)
                else:
                    sec, frac, caplen, _ = record(buf, off)
                    e1 = -1  # the general path
                if caplen > max_caplen or frac >= limit:
                    self.packets = packets
                    self.damage = (base + off, f"corrupt packet header at byte {base + off:,}")
                    return
                end = off + 16 + caplen
                if end > n:
                    break
                packets += 1
                at, off = off + 16, end
                # The common case, inline: Ethernet, IPv4 without options (see _filter).
                if ethernet and e1 == 8 and caplen >= 54:
                    simple = e2 == 6  # ARP
                    if e2 == 0 and vihl == 0x45:
                        simple = True
                        if protocol == 6:
                            offset = (doff >> 4) << 2
                            if ((t1 << 8) | t2) - 20 <= offset:
                                if flags & 0x12 != 0x12:
                                    continue
                            elif at + 34 + offset < end:
                                first = buf[at + 34 + offset]
                                if first == 0x16:  # TLS is never remembered: decode it
                                    simple = False
                                elif first not in TCP_FIRST:
                                    if not (flows and buf[at + 26:at + 38] in flows):
                                        continue
                                    simple = False
                        elif protocol == 17:
                            if ((s1 << 8) | s2) not in UDP_PORTS and \
                                    ((d1 << 8) | d2) not in UDP_PORTS:
                                continue
                        else:
                            continue
                    elif not keep(buf, at, end):
                        continue
                else:
                    simple = False
                    if not keep(buf, at, end):
                        continue
                self.decoded += 1
                ts = sec * 1_000_000 + frac // per_unit
                if simple and known(ts, buf, at, end):
                    continue
                try:
                    frame(ts, linktype, buf[at:end])
                except DECODE_ERRORS as exc:
                    notes.skip("packets", f"packet at byte {base + at - 16:,}: {exc}")
            self.packets = packets
            base += off
            rest = buf[off:]
            buf, off = self._read(fh, rest), 0
            if not buf and rest:
                self.damage = (base, f"the file ends inside the packet at byte {base:,} "
                                     "(truncated capture)")
                return
        self.next_start = base + off

    def _tail_classic(self, fh: BinaryIO, buf: bytes, off: int, base: int,
                      record: Callable[[bytes, int], tuple[int, ...]]) -> None:
        """Past the range: only the TLS handshakes this walker saw begin (the next
        walker reads these bytes for everything else)."""
        fmt, flows = self.fmt, self.decoder.flows
        probe = _flow_probe(fmt.linktype, flows)
        walked = 0
        while flows and walked < TAIL_BYTES:
            if off + 16 <= len(buf):
                sec, frac, caplen, _ = record(buf, off)
                end = off + 16 + caplen
                if caplen > MAX_RECORD:
                    return
                if end <= len(buf):
                    at, off = off + 16, end
                    walked += 16 + caplen
                    if probe(buf, at, end):
                        self._decode(sec * 1_000_000 + frac // fmt.per_unit, fmt.linktype,
                                     buf[at:end], base + at - 16)
                    continue
            more = fh.read(CHUNK)
            if not more:
                return
            base, buf, off = base + off, buf[off:] + more, 0

    def _decode(self, ts: int, linktype: int, frame: bytes, offset: int) -> None:
        self.decoded += 1
        try:
            self.decoder.frame(ts, linktype, frame)
        except DECODE_ERRORS as exc:
            self.notes.skip("packets", f"packet at byte {offset:,}: {exc}")

    # ---------------------------------------------------------------------- pcapng
    def pcapng(self, fh: BinaryIO, start: int, stop: int | None = None) -> None:
        """Blocks from ``start`` (a block boundary) to the first one at or after
        ``stop``; a walker starting mid-file uses the first section's interfaces."""
        fmt = self.fmt
        section = _Section(fmt.order, list(fmt.interfaces) if start else [])
        keeps: dict[int, Callable[[bytes, int, int], bool]] = {}
        fh.seek(start)
        self.first = start
        buf, off, base = self._read(fh, b""), 0, start
        while buf:
            n = len(buf)
            while off + 12 <= n:
                if stop is not None and base + off >= stop:
                    self.next_start = base + off
                    self._tail_pcapng(fh, buf, off, base, section)
                    return
                if buf[off:off + 4] == PCAPNG_SHB:
                    section = _Section.start(buf, off)
                    if not section.order:
                        self.damage = (base + off, f"corrupt section header at byte "
                                                   f"{base + off:,}")
                        return
                    self.section_changed |= base + off >= fmt.body
                kind, length = section.head(buf, off)
                if length < 12 or length % 4 or length > MAX_BLOCK:
                    self.damage = (base + off, f"corrupt block header at byte {base + off:,}")
                    return
                end = off + length
                if end > n:
                    break
                if section.tail(buf, end) != length:
                    self.damage = (base + off, f"corrupt block at byte {base + off:,} "
                                               "(its lengths disagree)")
                    return
                if kind == _IDB:
                    section.interface(buf, off + 8, end - 4)
                    self.section_changed |= base + off >= fmt.body
                elif kind in (_EPB, _SPB, _PB):
                    self._ng_packet(section, kind, buf, off + 8, end - 4, base, keeps)
                off = end
            base += off
            rest = buf[off:]
            buf, off = self._read(fh, rest), 0
            if not buf and rest:
                self.damage = (base, f"the file ends inside the block at byte {base:,} "
                                     "(truncated capture)")
                return
        self.next_start = base + off

    def _tail_pcapng(self, fh: BinaryIO, buf: bytes, off: int, base: int,
                     section: _Section) -> None:
        """Past the range: only the TLS handshakes this walker saw begin."""
        flows = self.decoder.flows
        walked = 0
        while flows and walked < TAIL_BYTES:
            if off + 12 <= len(buf):
                kind, length = section.head(buf, off)
                if length < 12 or length % 4 or length > MAX_BLOCK or kind == _SHB_TYPE:
                    return
                end = off + length
                if end <= len(buf):
                    walked += length
                    if kind in (_EPB, _PB):
                        self._ng_packet(section, kind, buf, off + 8, end - 4, base, {},
                                        tail=True)
                    off = end
                    continue
            more = fh.read(CHUNK)
            if not more:
                return
            base, buf, off = base + off, buf[off:] + more, 0

    def _ng_packet(self, section: _Section, kind: int, buf: bytes, at: int, end: int,
                   base: int, keeps: dict[int, Callable[[bytes, int, int], bool]],
                   tail: bool = False) -> None:
        if not tail:
            self.packets += 1
        if kind == _EPB:
            iface, high, low, caplen, _ = section.epb(buf, at)
            data = at + 20
        elif kind == _PB:
            iface, _, high, low, caplen, _ = section.pb(buf, at)
            data = at + 20
        else:  # simple packet block: interface 0, no time stamp (the last one is used)
            iface, high, low, data = 0, -1, 0, at + 4
            caplen = min(section.tail(buf, at + 4), end - data)
        if data + caplen > end:
            if not tail:
                self.notes.skip("packets", f"packet at byte {base + at - 8:,}: record longer "
                                "than its block")
            return
        if iface >= len(section.interfaces):
            if not tail:
                self.notes.skip("packets", f"packet at byte {base + at - 8:,}: unknown "
                                f"interface {iface}")
            return
        linktype, resolution, shift = section.interfaces[iface]
        if linktype not in SUPPORTED_LINKTYPES:
            self.unsupported += not tail
            return
        if tail:
            keep = _flow_probe(linktype, self.decoder.flows)
        else:
            keep = keeps.get(linktype) or keeps.setdefault(
                linktype, _filter(linktype, self.decoder))
        if not keep(buf, data, data + caplen):
            return
        if high >= 0:
            units = (high << 32) | low
            section.last_us = (units if resolution == 1_000_000
                               else units * 1_000_000 // resolution) + shift
        self._decode(section.last_us, linktype, buf[data:data + caplen], base + at - 8)


class _Section:
    """A pcapng section: its byte order and its interfaces."""

    __slots__ = ("order", "interfaces", "last_us", "_head", "_tail", "epb", "pb")

    def __init__(self, order: str, interfaces: list[Interface] | None = None) -> None:
        self.order = order
        self.interfaces: list[Interface] = interfaces or []
        self.last_us = 0
        fmt = order or "<"
        self._head = struct.Struct(fmt + "II").unpack_from
        self._tail = struct.Struct(fmt + "I").unpack_from
        self.epb = struct.Struct(fmt + "IIIII").unpack_from
        self.pb = struct.Struct(fmt + "HHIIII").unpack_from

    @classmethod
    def start(cls, buf: bytes, off: int) -> _Section:
        """The section a header block opens (order '' if its magic is wrong)."""
        magic = buf[off + 8:off + 12]
        return cls({b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(magic, ""))

    def head(self, buf: bytes, off: int) -> tuple[int, int]:
        kind, length = self._head(buf, off)
        return int(kind), int(length)

    def tail(self, buf: bytes, end: int) -> int:
        return int(self._tail(buf, end - 4)[0])

    def interface(self, buf: bytes, at: int, end: int) -> None:
        """An interface description: link type, and time resolution and offset."""
        unpack = struct.Struct(self.order + "HH").unpack_from
        linktype = unpack(buf, at)[0] if at + 8 <= end else -1
        resolution, shift, pos = 1_000_000, 0, at + 8
        while pos + 4 <= end:
            code, size = unpack(buf, pos)
            value = buf[pos + 4:min(pos + 4 + size, end)]
            if code == 0:
                break
            if code == 9 and len(value) >= 1:  # if_tsresol: 10^-n, or 2^-n with the top bit
                exp = value[0] & 0x7F
                resolution = (2 if value[0] & 0x80 else 10) ** min(exp, 30)
            elif code == 14 and len(value) >= 8:  # if_tsoffset, seconds
                shift = int.from_bytes(value[:8], "little" if self.order == "<" else "big",
                                       signed=True) * 1_000_000
            pos += 4 + size + (-size % 4)
        self.interfaces.append((linktype, resolution, shift))


def read_section(data: bytes) -> tuple[str, int, tuple[Interface, ...]] | None:
    """The first section of a pcapng file: (byte order, offset of the first block after
    its header and interface blocks, interfaces); None if the header is damaged."""
    section = _Section.start(data, 0) if len(data) >= 12 else _Section("")
    if not section.order:
        return None
    off = 0
    while off + 12 <= len(data):
        kind, length = section.head(data, off)
        if length < 12 or length % 4 or off + length > len(data) \
                or section.tail(data, off + length) != length:
            return None if off == 0 else (section.order, off, tuple(section.interfaces))
        if kind == _IDB:
            section.interface(data, off + 8, off + length - 4)
        elif kind != _SHB_TYPE or off:
            break
        off += length
    return section.order, off, tuple(section.interfaces)


# --------------------------------------------------------------- finding records
def resync_classic(fh: BinaryIO, fmt: Format, start: int) -> int | None:
    """The first offset at or after ``start`` where ``SYNC_CHAIN`` plausible record
    headers follow one another (or reach the end of the file); None if none does."""
    fh.seek(start)
    data = fh.read(SYNC_WINDOW + SYNC_CHAIN * (MAX_RECORD + 16))
    record = struct.Struct(fmt.order + "IIII").unpack_from
    limit, max_caplen = 1_000_000 * fmt.per_unit, min(fmt.snaplen or MAX_RECORD, MAX_RECORD)
    for candidate in range(min(SYNC_WINDOW, len(data))):
        off, last = candidate, None
        for _ in range(SYNC_CHAIN):
            if off == len(data) and last is not None:
                return start + candidate  # the chain runs exactly to the end of the file
            if off + 16 > len(data):
                break
            sec, frac, caplen, origlen = record(data, off)
            if frac >= limit or caplen > max_caplen or caplen > origlen or caplen < 14 \
                    or (last is not None and abs(sec - last) > 86_400):
                break
            last, off = sec, off + 16 + caplen
        else:
            return start + candidate
    return None


def resync_pcapng(fh: BinaryIO, fmt: Format, start: int) -> int | None:
    """The first 4-byte aligned offset at or after ``start`` where ``SYNC_CHAIN``
    well-formed blocks follow one another (or reach the end of the file)."""
    start += -start % 4
    fh.seek(start)
    data = fh.read(SYNC_WINDOW + SYNC_CHAIN * MAX_BLOCK // 64)
    section = _Section(fmt.order)
    for candidate in range(0, min(SYNC_WINDOW, len(data)), 4):
        off = candidate
        for count in range(SYNC_CHAIN):
            if off == len(data) and count:
                return start + candidate
            if off + 12 > len(data):
                break
            kind, length = section.head(data, off)
            if kind not in _BLOCK_TYPES or length < 12 or length % 4 or length > MAX_BLOCK \
                    or off + length > len(data) or section.tail(data, off + length) != length:
                break
            off += length
        else:
            return start + candidate
    return None


# -------------------------------------------------------------------- filters
def _filter(linktype: int, decoder: Decoder) -> Callable[[bytes, int, int], bool]:
    """A cheap test: could the frame in ``buf[at:end]`` say anything we keep?

    Looks only at the EtherType, the IP protocol, UDP ports, TCP flags and the first
    payload byte (and at open TLS streams). Anything odd (VLAN tags, short frames)
    goes to the decoder, which checks everything."""
    flows = decoder.flows
    l3, etype_at = _L3_OFFSET[linktype], _ETYPE_OFFSET[linktype]

    def keep(buf: bytes, at: int, end: int) -> bool:
        ip = at + l3
        if ip + 40 > end:
            return True  # short: let the decoder judge (ARP, a cut frame)
        etype = (buf[at + etype_at] << 8) | buf[at + etype_at + 1]
        if etype == ETH_IP4:
            ihl = (buf[ip] & 15) << 2
            proto, t = buf[ip + 9], ip + ihl
            payload = ((buf[ip + 2] << 8) | buf[ip + 3]) - ihl
        elif etype == ETH_IP6:
            proto, t = buf[ip + 6], ip + 40
            payload = (buf[ip + 4] << 8) | buf[ip + 5]
        else:
            return etype == ETH_ARP or etype in VLAN_TAGS
        if proto == 6:
            if t + 20 > end:
                return True
            offset = (buf[t + 12] >> 4) << 2
            if payload <= offset:  # no data: only a SYN-ACK (an open port) matters
                return buf[t + 13] & 0x12 == 0x12
            first = t + offset
            return first >= end or buf[first] in TCP_FIRST or bool(flows) and (
                buf[ip + 12:ip + 20] if etype == ETH_IP4 else buf[ip + 8:ip + 40]
            ) + buf[t:t + 4] in flows
        if proto == 17:
            return ((buf[t] << 8) | buf[t + 1]) in UDP_PORTS or \
                ((buf[t + 2] << 8) | buf[t + 3]) in UDP_PORTS
        return False

    return keep


def _flow_probe(linktype: int, flows: Container[bytes]) -> Callable[[bytes, int, int], bool]:
    """A test: is the frame a TCP segment of a TLS handshake being followed?"""
    l3, etype_at = _L3_OFFSET[linktype], _ETYPE_OFFSET[linktype]

    def probe(buf: bytes, at: int, end: int) -> bool:
        ip = at + l3
        if ip + 40 > end:
            return False
        etype = (buf[at + etype_at] << 8) | buf[at + etype_at + 1]
        if etype == ETH_IP4 and buf[ip + 9] == 6:
            t = ip + ((buf[ip] & 15) << 2)
            return buf[ip + 12:ip + 20] + buf[t:t + 4] in flows
        if etype == ETH_IP6 and buf[ip + 6] == 6:
            return buf[ip + 8:ip + 40] + buf[ip + 40:ip + 44] in flows
        return False

    return probe
