"""An SNMP v1/v2c agent with a tiny read-only MIB: the system and interfaces groups.

Discovery and scanners read sysDescr, sysObjectID and sysName here, and the device's MAC
from ifPhysAddress. Requests are decoded with the shared BER reader (``wire.ber``),
walking the fixed SNMP message shape (so nesting never goes deeper than the varbind,
five levels) and giving up at the first thing it does not like: a length past the
datagram, a multi-byte tag, an indefinite or over-long (more than 4 octets) length, an
integer wider than 5 octets, a non-minimal OID arc, trailing bytes. Non-minimal
definite lengths are accepted, because BER allows them and real clients (nmap's probes
among them) send them.

Must not: raise on any datagram, answer a community the device does not accept (real
agents stay silent), change anything on a SetRequest, or send more than ~8 KiB.
"""

from __future__ import annotations

import hmac
import time
from bisect import bisect_right
from dataclasses import dataclass

from fleetwarden.adapters.lab.protocols.base import LabContext, wire
from fleetwarden.adapters.wire import ber
from fleetwarden.adapters.wire.ber import Oid
from fleetwarden.domain.lab import LabDevice, LabService, Weakness

#: Largest request decoded; anything bigger is dropped unread.
_MAX_REQUEST = 16384
#: Largest reply sent (the runtime cuts datagrams at 8 KiB; a cut reply is garbage).
_MAX_REPLY = 8000
_MAX_REPETITIONS = 50
_MAX_INT_OCTETS = 5

_V1, _V2C = 0, 1
_GET, _GETNEXT, _RESPONSE, _SET, _GETBULK = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5
_TIMETICKS = 0x43
_NO_SUCH_OBJECT, _NO_SUCH_INSTANCE, _END_OF_MIB_VIEW = 0x80, 0x81, 0x82
_TOO_BIG, _NO_SUCH_NAME, _NO_CREATION, _NOT_WRITABLE = 1, 2, 11, 17

_SYSTEM: Oid = (1, 3, 6, 1, 2, 1, 1)
_IF_NUMBER: Oid = (1, 3, 6, 1, 2, 1, 2, 1, 0)
_IF_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1)
_DEFAULT_OBJECT_ID = "1.3.6.1.4.1.8072.3.2.10"
#: sysServices: layers 4 (end-to-end) and 7 (applications), as hosts report.
_SYS_SERVICES = 72
_ETHERNET_CSMACD = 6
#: DisplayString is at most 255 octets.
_DISPLAY_MAX = 255


# ------------------------------------------------------------------ requests
@dataclass(frozen=True, slots=True)
class _Request:
    version: int
    community: bytes
    pdu: int
    request_id: int
    second: int
    """error-status, or non-repeaters in a GetBulkRequest."""
    third: int
    """error-index, or max-repetitions in a GetBulkRequest."""
    bindings: tuple[tuple[Oid, bytes], ...]
    """(name, the value's TLV as sent) per varbind."""


def _parse(data: bytes) -> _Request:
    """The request in ``data``; ``ber.Malformed`` for anything the agent does not serve."""
    if len(data) > _MAX_REQUEST:
        raise ber.Malformed("oversized request")
    outer = ber.Reader(data)
    message = outer.inner(ber.SEQUENCE)
    outer.finish()
    version = message.integer(_MAX_INT_OCTETS)
    community = message.value(ber.OCTET_STRING)
    pdu, value = message.next()
    message.finish()
    if version not in (_V1, _V2C) or pdu not in (_GET, _GETNEXT, _SET, _GETBULK):
        raise ber.Malformed("unsupported version or PDU")
    body = ber.Reader(value)
    request_id = body.integer(_MAX_INT_OCTETS)
    second, third = body.integer(_MAX_INT_OCTETS), body.integer(_MAX_INT_OCTETS)
    varbinds = body.inner(ber.SEQUENCE)
    body.finish()
    bindings = []
    while not varbinds.done:
        varbind = varbinds.inner(ber.SEQUENCE)
        bindings.append((varbind.oid(), varbind.raw()))
        varbind.finish()
    return _Request(version, community, pdu, request_id, second, third, tuple(bindings))


def _binding(name: Oid, value: bytes) -> bytes:
    return ber.tlv(ber.SEQUENCE, ber.oid(name) + value)


# ------------------------------------------------------------------ the MIB
def _text_oid(text: str) -> Oid:
    """A dotted OID from the persona; the net-snmp default when it is not one."""
    try:
        arcs = tuple(int(part) for part in text.strip().strip(".").split("."))
    except ValueError:
        arcs = ()
    if len(arcs) < 2 or arcs[0] > 2 or any(not 0 <= a <= ber.MAX_ARC for a in arcs):
        return _text_oid(_DEFAULT_OBJECT_ID)
    return arcs


def _mac_bytes(mac: str) -> bytes:
    try:
        raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    except ValueError:
        return b""
    return raw if len(raw) == 6 else b""


def _uptime(device: LabDevice, lab: LabContext) -> int:
    """Centiseconds since the lab first heard from this device's agent."""
    started: float = lab.device_state(device, "snmp", time.monotonic)
    return int((time.monotonic() - started) * 100) % 2**32


def _display(text: str) -> bytes:
    """Persona text as sent: raw bytes (invalid UTF-8 stays invalid), at most 255."""
    return ber.octet_string(wire(text)[:_DISPLAY_MAX])


def _mib(device: LabDevice, lab: LabContext) -> dict[Oid, bytes]:
    """Every object the agent serves, name -> encoded value."""
    persona = device.persona
    descr = persona.get("snmp_sysdescr") or (
        f"{device.vendor} {device.model} {device.firmware_version}")
    return {
        _SYSTEM + (1, 0): _display(descr),
        _SYSTEM + (2, 0): ber.oid(_text_oid(persona.get("snmp_sysobjectid", ""))),
        _SYSTEM + (3, 0): ber.integer(_uptime(device, lab), _TIMETICKS),
        _SYSTEM + (4, 0): _display(persona.get("snmp_contact", "")),
        _SYSTEM + (5, 0): _display(device.hostname),
        _SYSTEM + (6, 0): _display(device.site or ""),
        _SYSTEM + (7, 0): ber.integer(_SYS_SERVICES),
        _IF_NUMBER: ber.integer(1),
        _IF_ENTRY + (1, 1): ber.integer(1),
        _IF_ENTRY + (2, 1): _display("eth0"),
        _IF_ENTRY + (3, 1): ber.integer(_ETHERNET_CSMACD),
        _IF_ENTRY + (6, 1): ber.octet_string(_mac_bytes(device.mac)),
    }


class _View:
    """The MIB in lexicographic order, for GET and GETNEXT."""

    def __init__(self, objects: dict[Oid, bytes]) -> None:
        self.objects = objects
        self.names = sorted(objects)

    def successor(self, name: Oid) -> Oid | None:
        at = bisect_right(self.names, name)
        return self.names[at] if at < len(self.names) else None

    def missing(self, name: Oid) -> int:
        """noSuchInstance under a known object, else noSuchObject (v2c GET)."""
        known = any(name[:len(n) - 1] == n[:-1] for n in self.names)
        return _NO_SUCH_INSTANCE if known else _NO_SUCH_OBJECT


# ------------------------------------------------------------------ operations
class _Fail(Exception):
    """A v1 error response: error-status and 1-based error-index."""

    def __init__(self, status: int, index: int) -> None:
        super().__init__(status, index)
        self.status, self.index = status, index


def _get(req: _Request, view: _View) -> list[bytes]:
    out = []
    for index, (name, _) in enumerate(req.bindings, 1):
        value = view.objects.get(name)
        if value is None:
            if req.version == _V1:
                raise _Fail(_NO_SUCH_NAME, index)
            value = ber.tlv(view.missing(name), b"")
        out.append(_binding(name, value))
    return out


def _next_binding(req: _Request, view: _View, name: Oid, index: int) -> tuple[bytes, bool]:
    """The varbind after ``name`` and whether the view ended there."""
    after = view.successor(name)
    if after is not None:
        return _binding(after, view.objects[after]), False
    if req.version == _V1:
        raise _Fail(_NO_SUCH_NAME, index)
    return _binding(name, ber.tlv(_END_OF_MIB_VIEW, b"")), True


def _get_next(req: _Request, view: _View) -> list[bytes]:
    return [_next_binding(req, view, name, i)[0] for i, (name, _) in enumerate(req.bindings, 1)]


def _get_bulk(req: _Request, view: _View) -> list[bytes]:
    """Non-repeaters once, then whole rows of repeaters while the reply stays small."""
    names = [name for name, _ in req.bindings]
    fixed = min(max(req.second, 0), len(names))
    repetitions = min(max(req.third, 0), _MAX_REPETITIONS)
    out = [_next_binding(req, view, name, 0)[0] for name in names[:fixed]]
    size = sum(map(len, out)) + len(req.community)
    cursor = names[fixed:]
    for _ in range(repetitions if cursor else 0):
        row, ended = [], True
        for i, name in enumerate(cursor):
            binding, done = _next_binding(req, view, name, 0)
            row.append(binding)
            ended = ended and done
            cursor[i] = view.successor(name) or name
        size += sum(map(len, row))
        if size > _MAX_REPLY - 64:
            break
        out += row
        if ended:
            break
    return out


def _set(req: _Request, view: _View) -> None:
    """Nothing is writable: v1 says noSuchName, v2c notWritable (noCreation if unknown)."""
    if not req.bindings:
        return
    if req.version == _V1:
        raise _Fail(_NO_SUCH_NAME, 1)
    name = req.bindings[0][0]
    raise _Fail(_NOT_WRITABLE if name in view.objects else _NO_CREATION, 1)


# ------------------------------------------------------------------ replies
def _reply(req: _Request, bindings: list[bytes], status: int = 0, index: int = 0) -> bytes:
    pdu = (ber.integer(req.request_id) + ber.integer(status) + ber.integer(index)
           + ber.tlv(ber.SEQUENCE, b"".join(bindings)))
    return ber.tlv(ber.SEQUENCE, ber.integer(req.version) + ber.octet_string(req.community)
                + ber.tlv(_RESPONSE, pdu))


def _echo(req: _Request) -> list[bytes]:
    """The request's varbinds as sent (error responses carry them back)."""
    return [_binding(name, value) for name, value in req.bindings]


def _too_big(req: _Request) -> bytes | None:
    reply = _reply(req, _echo(req) if req.version == _V1 else [], _TOO_BIG)
    return reply if len(reply) <= _MAX_REPLY else None


def _accepts(device: LabDevice, community: bytes) -> bool:
    """The device's own secret always; ``public`` only on devices left with it."""
    if device.secret and hmac.compare_digest(community, wire(device.secret)):
        return True
    return community == b"public" and Weakness.SNMP_PUBLIC in device.weaknesses


_OPERATIONS = {_GET: _get, _GETNEXT: _get_next, _GETBULK: _get_bulk}


def answer_snmp(device: LabDevice, service: LabService, datagram: bytes, peer: tuple[str, int],
                lab: LabContext) -> bytes | None:
    """The agent's reply to one datagram, or None when a real agent would stay silent."""
    try:
        req = _parse(datagram)
    except ber.Malformed:
        return None
    if not _accepts(device, req.community) or (req.pdu == _GETBULK and req.version == _V1):
        return None
    view = _View(_mib(device, lab))
    try:
        if req.pdu == _SET:
            _set(req, view)
            bindings = _echo(req)
        else:
            bindings = _OPERATIONS[req.pdu](req, view)
    except _Fail as fail:
        reply = _reply(req, _echo(req), fail.status, fail.index)
        return reply if len(reply) <= _MAX_REPLY else _too_big(req)
    reply = _reply(req, bindings)
    return reply if len(reply) <= _MAX_REPLY else _too_big(req)
