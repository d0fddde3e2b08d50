"""SNMP v2c identification: GET sysDescr, sysObjectID and sysName with given communities.

Each community goes out in its own GetRequest (distinct request ids, one socket, one
wait); the first answer names the community that worked (``snmp.community``: an answer
to ``public`` is a finding). An agent that does not accept a community stays silent,
so silence is the normal "no". With the community that worked, one GetBulk down
ifPhysAddress gives the host's MAC (the first non-zero 6-byte address).

The BER primitives are the hand-written ones the lab's agent uses too (``wire.ber``):
three GETs do not justify a whole SNMP stack's dependencies and attack surface, and a
few dozen lines can be read whole. The decoder walks only the fixed message shape,
checks every length against the datagram, and gives up at the first thing it does not
expect, with ``Malformed`` and nothing else.

Must not: send SET requests, walk more of the MIB than those few objects, or raise on
any datagram.
"""

from __future__ import annotations

import secrets
from contextlib import suppress

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer
from fleetwarden.adapters.wire import ber
from fleetwarden.adapters.wire.ber import Malformed, Oid, decode_oid
from fleetwarden.domain.discovery import Field

SYS_DESCR: Oid = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID: Oid = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_NAME: Oid = (1, 3, 6, 1, 2, 1, 1, 5, 0)
#: ifPhysAddress, the interfaces table's MAC column (walked with one GetBulk).
IF_PHYS_ADDRESS: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 6)
_FIELDS = {SYS_DESCR: Field.SNMP_SYSDESCR, SYS_OBJECT_ID: Field.SNMP_SYSOBJECTID,
           SYS_NAME: Field.SNMP_SYSNAME}
#: Communities asked in one scan at most (each is one datagram per host).
MAX_COMMUNITIES = 16

_GET, _RESPONSE, _GETBULK = 0xA0, 0xA2, 0xA5
_MAX_BINDINGS = 32
_MAX_INT_OCTETS = 8
_BULK_REPETITIONS = 8
_V2C = 1


# ------------------------------------------------------------------ encoding
def _message(community: bytes, pdu_tag: int, request_id: int, second: int, third: int,
             oids: tuple[Oid, ...]) -> bytes:
    null = ber.tlv(ber.NULL, b"")
    bindings = b"".join(ber.tlv(ber.SEQUENCE, ber.oid(o) + null) for o in oids)
    pdu = ber.tlv(pdu_tag, ber.integer(request_id) + ber.integer(second) + ber.integer(third)
                  + ber.tlv(ber.SEQUENCE, bindings))
    return ber.tlv(ber.SEQUENCE, ber.integer(_V2C) + ber.octet_string(community) + pdu)


def get_request(community: bytes, request_id: int, oids: tuple[Oid, ...]) -> bytes:
    return _message(community, _GET, request_id, 0, 0, oids)


def bulk_request(community: bytes, request_id: int, oid: Oid, repetitions: int) -> bytes:
    """GetBulk: no non-repeaters, ``repetitions`` successors of ``oid``."""
    return _message(community, _GETBULK, request_id, 0, repetitions, (oid,))


# ------------------------------------------------------------------ decoding
def parse_response(datagram: bytes) -> tuple[bytes, int, list[tuple[Oid, int, bytes]]]:
    """(community, request id, [(oid, tag, raw value)]) of a GetResponse; raises
    ``Malformed`` for anything else, an error status included."""
    message = ber.Reader(datagram).inner(ber.SEQUENCE)
    message.integer(_MAX_INT_OCTETS)
    community = message.value(ber.OCTET_STRING)
    pdu = message.inner(_RESPONSE)
    request_id = pdu.integer(_MAX_INT_OCTETS)
    if pdu.integer(_MAX_INT_OCTETS) != 0:
        raise Malformed("error status")
    pdu.integer(_MAX_INT_OCTETS)
    bindings = pdu.inner(ber.SEQUENCE)
    values: list[tuple[Oid, int, bytes]] = []
    for _ in range(_MAX_BINDINGS):
        if bindings.done:
            break
        binding = bindings.inner(ber.SEQUENCE)
        oid = binding.oid()
        tag, raw = binding.next()
        values.append((oid, tag, raw))
    return community, request_id, values


def text_values(values: list[tuple[Oid, int, bytes]]) -> dict[Oid, str]:
    """OCTET STRING and OID values as text; other types, and OIDs that do not decode,
    are left out."""
    out: dict[Oid, str] = {}
    for oid, tag, raw in values:
        if tag == ber.OCTET_STRING:
            out[oid] = raw.decode("utf-8", "replace")
        elif tag == ber.OBJECT_IDENTIFIER:
            with suppress(Malformed):
                out[oid] = ".".join(map(str, decode_oid(raw)))
    return out


def first_mac(values: list[tuple[Oid, int, bytes]]) -> str | None:
    """The first real MAC in an ifPhysAddress column (loopbacks have none, or zeros)."""
    for oid, tag, raw in values:
        if (oid[:len(IF_PHYS_ADDRESS)] == IF_PHYS_ADDRESS and tag == ber.OCTET_STRING
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
    except Malformed:
        return None
    index = request_id - base
    if not 0 <= index < len(asked) or community != asked[index]:
        return None
    return index, values
