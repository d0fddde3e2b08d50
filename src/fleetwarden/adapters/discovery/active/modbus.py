"""Modbus TCP identification: Read Device Identification (function 43 / MEI 14, basic).

The basic category holds vendor name (object 0), product code (1) and revision (2),
which become ``modbus.vendor``, ``modbus.product`` and ``modbus.revision``. A device
that answers with an exception is still Modbus, just without identification.

Must not: read or write registers or coils, or send anything but read-code 1 requests
(at most ``_ROUNDS`` of them when the answer says "more follows").
"""

from __future__ import annotations

import struct

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Stream
from fleetwarden.domain.discovery import Field

_MBAP = struct.Struct(">HHHB")
_ROUNDS = 3
_TRANSACTION = 0x4657  # "FW"
_UNIT = 0
_FIELDS = {0: Field.MODBUS_VENDOR, 1: Field.MODBUS_PRODUCT, 2: Field.MODBUS_REVISION}


def request(first_object: int) -> bytes:
    pdu = bytes([0x2B, 0x0E, 0x01, first_object])
    return _MBAP.pack(_TRANSACTION, 0, len(pdu) + 1, _UNIT) + pdu


async def _answer(stream: Stream, timeout: float) -> bytes | None:
    """The response PDU to our request, or None when it is not Modbus."""
    header = await stream.read_exactly(_MBAP.size, timeout)
    if header is None:
        return None
    transaction, protocol, length, _ = _MBAP.unpack(header)
    if transaction != _TRANSACTION or protocol != 0 or not 2 <= length <= 254:
        return None
    return await stream.read_exactly(length - 1, timeout)


def parse_objects(pdu: bytes) -> tuple[dict[int, bytes], int | None]:
    """(objects, next object id when more follow) of a device-identification PDU."""
    if len(pdu) < 7 or pdu[0] != 0x2B or pdu[1] != 0x0E:
        return {}, None
    more, following, count = pdu[4], pdu[5], pdu[6]
    objects: dict[int, bytes] = {}
    pos = 7
    for _ in range(count):
        if pos + 2 > len(pdu):
            break
        ident, size = pdu[pos], pdu[pos + 1]
        objects[ident] = pdu[pos + 2:pos + 2 + size]
        pos += 2 + size
    return objects, (following if more == 0xFF else None)


async def identify(stream: Stream, draft: Draft, timeout: float) -> bool:
    """True when the service answered like a Modbus TCP server."""
    objects: dict[int, bytes] = {}
    first = 0
    for round_ in range(_ROUNDS):
        stream.send(request(first))
        pdu = await _answer(stream, timeout)
        if pdu is None:
            if round_ == 0:
                return False
            break
        draft.service = "modbus"
        found, following = parse_objects(pdu)
        objects.update(found)
        if following is None or following <= first:
            break
        first = following
    for ident, name in _FIELDS.items():
        if ident in objects:
            draft.put(name, objects[ident])
    product = draft.fields.get(Field.MODBUS_PRODUCT)
    draft.set_product(product, draft.fields.get(Field.MODBUS_REVISION))
    return True
