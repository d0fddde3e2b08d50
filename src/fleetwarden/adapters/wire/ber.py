"""BER (X.690) as SNMP uses it: tags, lengths, INTEGER, OCTET STRING, OBJECT IDENTIFIER.

The lab's SNMP agent and the scanner's SNMP probe both build and read messages with
these primitives; which TLV comes where (the message shape) stays in those modules.
The encoders write definite, minimal lengths and minimal integers. ``Reader`` walks
``data[pos:end]`` one TLV at a time and checks every length against ``end`` before
using it, so it gives up with ``Malformed`` at a truncated header, a multi-byte tag, an
indefinite or over-long (more than 4 octets) length, or a length past the end; the
decoders refuse an integer wider than the caller allows and an OID that is empty, over
128 octets, unfinished, non-minimal or has an arc over 2**32 - 1. Non-minimal definite
lengths are accepted, because BER allows them and real clients (nmap's probes among
them) send them.

Must not: raise anything but ``Malformed`` on any input, recurse (callers nest readers
only as deep as their fixed message shape), or know about PDUs, communities or MIBs.
"""

from __future__ import annotations

Oid = tuple[int, ...]

INTEGER, OCTET_STRING, NULL, OBJECT_IDENTIFIER, SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
#: Largest OID arc: SNMP's sub-identifiers are 32-bit unsigned (RFC 2578).
MAX_ARC = 0xFFFFFFFF
_MAX_LENGTH_OCTETS = 4
_MAX_OID_OCTETS = 128


class Malformed(Exception):
    """Input that is not the BER the caller expects; the only error decoding raises."""


# ------------------------------------------------------------------ encoding
def encode_length(size: int) -> bytes:
    """Definite length octets in the short form, or the shortest long form."""
    if size < 0x80:
        return bytes((size,))
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(value)) + value


def integer(value: int, tag: int = INTEGER) -> bytes:
    """An INTEGER, or a type encoded like one (TimeTicks), in the fewest octets."""
    width = (value + (value < 0)).bit_length() // 8 + 1
    return tlv(tag, value.to_bytes(width, "big", signed=True))


def octet_string(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def oid(arcs: Oid) -> bytes:
    """An OBJECT IDENTIFIER of at least two arcs, the first 0, 1 or 2."""
    out = bytearray()
    for arc in (arcs[0] * 40 + arcs[1], *arcs[2:]):
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(OBJECT_IDENTIFIER, bytes(out))


# ------------------------------------------------------------------ decoding
def decode_length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(length, where the value starts) for the length octets at ``data[pos]``, whose
    value must end by ``end`` (``0 <= pos <= end <= len(data)``)."""
    if pos >= end:
        raise Malformed("truncated length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > _MAX_LENGTH_OCTETS or count > end - pos:
            raise Malformed("indefinite, over-long or truncated length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if length > end - pos:
        raise Malformed("length beyond the end")
    return length, pos


def decode_integer(raw: bytes, max_octets: int) -> int:
    """An INTEGER's value octets; at most ``max_octets`` of them."""
    if not 1 <= len(raw) <= max_octets:
        raise Malformed("integer width")
    return int.from_bytes(raw, "big", signed=True)


def decode_oid(raw: bytes) -> Oid:
    """An OBJECT IDENTIFIER's value octets."""
    if not 1 <= len(raw) <= _MAX_OID_OCTETS:
        raise Malformed("OID size")
    arcs: list[int] = []
    value, fresh = 0, True
    for byte in raw:
        if fresh and byte == 0x80:
            raise Malformed("non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        if value > MAX_ARC:
            raise Malformed("OID arc too large")
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    if not fresh:
        raise Malformed("unfinished OID arc")
    top = min(arcs[0] // 40, 2)
    return (top, arcs[0] - 40 * top, *arcs[1:])


class Reader:
    """Consecutive TLVs in ``data[pos:end]``; never looks past ``end``."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.end = data, 0, len(data)

    @property
    def done(self) -> bool:
        return self.pos >= self.end

    def _header(self) -> tuple[int, int, int]:
        """(tag, value start, value end) of the next TLV, which the reader moves past."""
        if self.end - self.pos < 2:
            raise Malformed("truncated header")
        tag = self.data[self.pos]
        if tag & 0x1F == 0x1F:
            raise Malformed("multi-byte tag")
        length, start = decode_length(self.data, self.pos + 1, self.end)
        self.pos = start + length
        return tag, start, self.pos

    def _expect(self, tag: int) -> tuple[int, int]:
        got, start, stop = self._header()
        if got != tag:
            raise Malformed(f"tag {got:#x}, expected {tag:#x}")
        return start, stop

    def next(self) -> tuple[int, bytes]:
        """(tag, value) of the next TLV, whatever its tag."""
        tag, start, stop = self._header()
        return tag, self.data[start:stop]

    def value(self, tag: int) -> bytes:
        """The value of the next TLV, which must carry ``tag``."""
        start, stop = self._expect(tag)
        return self.data[start:stop]

    def inner(self, tag: int) -> Reader:
        """A reader over the value of the next TLV (a SEQUENCE or a PDU) carrying ``tag``."""
        start, stop = self._expect(tag)
        inner = Reader(self.data)
        inner.pos, inner.end = start, stop
        return inner

    def integer(self, max_octets: int) -> int:
        return decode_integer(self.value(INTEGER), max_octets)

    def oid(self) -> Oid:
        return decode_oid(self.value(OBJECT_IDENTIFIER))

    def raw(self) -> bytes:
        """The next TLV whole, tag and length included."""
        start = self.pos
        self._header()
        return self.data[start:self.pos]

    def finish(self) -> None:
        """Refuse anything left after the TLVs read so far."""
        if self.pos != self.end:
            raise Malformed("trailing bytes")
