"""SNMP v2c identification: GET sysDescr, sysObjectID and sysName with given communities.

Each community goes out in its own GetRequest (distinct request ids, one socket, one
wait); the first answer names the community that worked (``snmp.community``: an answer
to ``public`` is a finding). An agent that does not accept a community stays silent,
so silence is the normal "no". With the community that worked, one GetBulk down
ifPhysAddress gives the host's MAC (the first non-zero 6-byte address).

The BER encoder and decoder are hand-written on purpose: three GETs do not justify a
whole SNMP stack's dependencies and attack surface, and a few dozen lines can be read
whole. The decoder walks only the fixed message shape, checks every length against the
datagram, and gives up at the first thing it does not expect.

Must not: send SET requests, walk more of the MIB than those few objects, or raise on
any datagram.
"""

from __future__ import annotations

import secrets

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer
from fleetwarden.domain.discovery import Field

Oid = tuple[int, ...]

SYS_DESCR: Oid = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID: Oid = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_NAME: Oid = (1, 3, 6, 1, 2, 1, 1, 5, 0)
#: ifPhysAddress, the interfaces table's MAC column (walked with one GetBulk).
IF_PHYS_ADDRESS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 6)
_FIELDS = {SYS_DESCR: Field.SNMP_SYSDESCR, SYS_OBJECT_ID: Field.SNMP_SYSOBJECTID,
           SYS_NAME: Field.SNMP_SYSNAME}
#: Communities asked in one scan at most (each is one datagram per host).
MAX_COMMUNITIES = 16

_INTEGER, _OCTETS, _NULL, _OID, _SEQUENCE = 0x02, 0x04, 0x05, 0x06, 0x30
_GET, _RESPONSE, _GETBULK = 0xA0, 0xA2, 0xA5
_MAX_BINDINGS = 32
_BULK_REPETITIONS = 8
_V2C = 1


class Malformed(Exception):
    """The datagram is not an SNMP response we can read."""


# ------------------------------------------------------------------ encoding
def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + value


def _integer(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return _tlv(_INTEGER, raw)


def _oid(arcs: Oid) -> bytes:
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(_OID, bytes(out))


def _message(community: bytes, pdu_tag: int, request_id: int, second: int, third: int,
             oids: tuple[Oid, ...]) -> bytes:
    bindings = b"".join(_tlv(_SEQUENCE, _oid(o) + _tlv(_NULL, b"")) for o in oids)
    pdu = _tlv(pdu_tag, _integer(request_id) + _integer(second) + _integer(third)
               + _tlv(_SEQUENCE, bindings))
    return _tlv(_SEQUENCE, _integer(_V2C) + _tlv(_OCTETS, community) + pdu)


def get_request(community: bytes, request_id: int, oids: tuple[Oid, ...]) -> bytes:
    return _message(community, _GET, request_id, 0, 0, oids)


def bulk_request(community: bytes, request_id: int, oid: Oid, repetitions: int) -> bytes:
    """GetBulk: no non-repeaters, ``repetitions`` successors of ``oid``."""
    return _message(community, _GETBULK, request_id, 0, repetitions, (oid,))


# ------------------------------------------------------------------ decoding
class _Reader:
    """Consecutive TLVs in ``data[pos:end]``; never looks past ``end``."""

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def next(self) -> tuple[int, bytes]:
        data, pos, end = self.data, self.pos, self.end
        if end - pos < 2:
            raise Malformed("truncated")
        tag, first = data[pos], data[pos + 1]
        pos += 2
        if first & 0x80:
            count = first & 0x7F
            if not 1 <= count <= 4 or count > end - pos:
                raise Malformed("length")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        else:
            length = first
        if length > end - pos:
            raise Malformed("length past the datagram")
        self.pos = pos + length
        return tag, data[pos:pos + length]

    def expect(self, tag: int) -> bytes:
        got, value = self.next()
        if got != tag:
            raise Malformed(f"tag {got:#x}")
        return value

    def inner(self, tag: int) -> _Reader:
        return _Reader(self.expect(tag))

    @property
    def done(self) -> bool:
        return self.pos >= self.end


def _int(raw: bytes) -> int:
    if not 1 <= len(raw) <= 8:
        raise Malformed("integer")
    return int.from_bytes(raw, "big", signed=True)


def decode_oid(raw: bytes) -> Oid:
    if not 1 <= len(raw) <= 128:
        raise Malformed("oid")
    arcs, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if raw[-1] & 0x80:
        raise Malformed("unfinished oid")
    top = min(arcs[0] // 40, 2)
    return (top, arcs[0] - 40 * top, *arcs[1:])


def parse_response(datagram: bytes) -> tuple[bytes, int, list[tuple[Oid, int, bytes]]]:
    """(community, request id, [(oid, tag, raw value)]) of a GetResponse; raises
    ``Malformed`` for anything else, an error status included."""
    message = _Reader(datagram).inner(_SEQUENCE)
    _int(message.expect(_INTEGER))
    community = message.expect(_OCTETS)
    pdu = message.inner(_RESPONSE)
    request_id = _int(pdu.expect(_INTEGER))
    if _int(pdu.expect(_INTEGER)) != 0:
        raise Malformed("error status")
    _int(pdu.expect(_INTEGER))
    bindings = pdu.inner(_SEQUENCE)
    values: list[tuple[Oid, int, bytes]] = []
    for _ in range(_MAX_BINDINGS):
        if bindings.done:
            break
        binding = bindings.inner(_SEQUENCE)
        oid = decode_oid(binding.expect(_OID))
        tag, raw = binding.next()
        values.append((oid, tag, raw))
    return community, request_id, values


def text_values(values: list[tuple[Oid, int, bytes]]) -> dict[Oid, str]:
    """OCTET STRING and OID values as text; other types are left out."""
    out: dict[Oid, str] = {}
    for oid, tag, raw in values:
        if tag == _OCTETS:
            out[oid] = raw.decode("utf-8", "replace")
        elif tag == _OID:
            out[oid] = ".".join(map(str, decode_oid(raw)))
    return out


def first_mac(values: list[tuple[Oid, int, bytes]]) -> str | None:
    """The first real MAC in an ifPhysAddress column (loopbacks have none, or zeros)."""
    for oid, tag, raw in values:
        if (oid[:len(IF_PHYS_ADDRESS)] == IF_PHYS_ADDRESS and tag == _OCTETS
                and len(raw) == 6 and any(raw) and raw != b"\xff" * 6):
            return ":".join(f"{b:02x}" for b in raw)
    return None


async def identify(dialer: Dialer, port: int, communities: tuple[str, ...]
                   ) -> tuple[Draft, str | None] | None:
    """(the SNMP service with the system group, the host's MAC from ifPhysAddress), or
    None when no community was answered."""
    asked = [c.encode("utf-8", "surrogateescape") for c in communities[:MAX_COMMUNITIES]]
    if not asked:
        return None
    base = secrets.randbelow(1 << 30)
    requests = [get_request(c, base + i, tuple(_FIELDS)) for i, c in enumerate(asked)]

    def answered(datagram: bytes) -> bool:
        return _match(datagram, asked, base) is not None

    for datagram in await dialer.exchange(port, requests, timeout=dialer.udp_timeout,
                                          until=answered):
        matched = _match(datagram, asked, base)
        if matched is None:
            continue
        index, values = matched
        draft = Draft(port, "udp", "snmp")
        draft.put(Field.SNMP_COMMUNITY, asked[index])
        texts = text_values(values)
        for oid, name in _FIELDS.items():
            draft.put(name, texts.get(oid))
        return draft, await _mac(dialer, port, asked[index])
    return None


async def _mac(dialer: Dialer, port: int, community: bytes) -> str | None:
    """One GetBulk down the ifPhysAddress column with the community that worked."""
    request_id = secrets.randbelow(1 << 30)
    request = bulk_request(community, request_id, IF_PHYS_ADDRESS, _BULK_REPETITIONS)
    for datagram in await dialer.exchange(
            port, [request], timeout=dialer.udp_timeout,
            until=lambda d: _match(d, [community], request_id) is not None):
        matched = _match(datagram, [community], request_id)
        if matched is not None:
            return first_mac(matched[1])
    return None


def _match(datagram: bytes, asked: list[bytes], base: int
           ) -> tuple[int, list[tuple[Oid, int, bytes]]] | None:
    """(index of the community, values) when ``datagram`` answers one of our requests."""
    try:
        community, request_id, values = parse_response(datagram)
    except (Malformed, IndexError, ValueError):
        return None
    index = request_id - base
    if not 0 <= index < len(asked) or community != asked[index]:
        return None
    return index, values
