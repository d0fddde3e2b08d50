"""Modbus TCP on simulated PLCs and building controllers (port 502), read-only.

Scanners identify Modbus devices by reading registers and by Read Device Identification
(function 43, MEI type 14), which names vendor, product code and firmware revision. The
lab answers:

* 3 / 4 (read holding / input registers): 1..125 registers, values derived only from the
  device and the address, so every scan sees the same numbers. Holding registers 0-9
  carry the model name and 10-17 the serial number (two ASCII characters a register),
  18-19 the firmware's major and minor version; everything else is a stable pseudo
  measurement.
* 43 / 14 (Read Device Identification): read codes 1 (basic: objects 0-2), 2 (regular:
  objects 0-5) and 4 (one object), conformity level 0x82, split over several answers
  when the objects do not fit one PDU.
* every other function, writes (5, 6, 15, 16, 22, 23) included: exception 01 (ILLEGAL
  FUNCTION). The register map is read-only, and a server without write support answers
  writes exactly so; exception 04 would instead claim a device failure.

Every unit id is answered (a TCP-only device, no serial gateway behind it). A frame
whose MBAP header is wrong (protocol id not 0, length outside 2..254) ends the
connection, as real stacks do.

Must not: change any state (nothing is writable), or read more than one ADU at a time.
"""

from __future__ import annotations

import asyncio
import re
import struct
import zlib
from collections.abc import Sequence

from fleetwarden.adapters.lab.protocols.base import LabContext, read_exactly, wire
from fleetwarden.domain.lab import LabDevice, LabService

#: transaction id, protocol id, length (unit id + PDU), unit id.
MBAP = struct.Struct(">HHHB")
#: The MBAP length field's bounds: an ADU is at most 260 bytes (7 header + 253 PDU).
_MIN_LENGTH, _MAX_LENGTH = 2, 254
_MAX_PDU = 253
#: Requests served on one connection before the device hangs up.
_MAX_REQUESTS = 10_000

READ_HOLDING, READ_INPUT, ENCAPSULATED = 3, 4, 43
MEI_DEVICE_ID = 0x0E
ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE = 1, 2, 3
#: Regular identification, stream and individual access.
CONFORMITY = 0x82
#: Highest object id of the basic (read code 1) and regular (read code 2) categories.
_LAST_OBJECT = {1: 0x02, 2: 0x05}
_MODEL_REGISTERS, _SERIAL_REGISTERS = range(0, 10), range(10, 18)
_FIRMWARE_MAJOR, _FIRMWARE_MINOR = 18, 19


async def serve_modbus(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, lab: LabContext) -> None:
    """Answer Modbus TCP requests one ADU at a time until the client leaves."""
    for _ in range(_MAX_REQUESTS):
        header = await read_exactly(reader, MBAP.size)
        if header is None:
            return
        transaction, protocol, length, unit = MBAP.unpack(header)
        if protocol != 0 or not _MIN_LENGTH <= length <= _MAX_LENGTH:
            return
        pdu = await read_exactly(reader, length - 1)
        if pdu is None:
            return
        reply = answer(device, pdu)
        writer.write(MBAP.pack(transaction, 0, len(reply) + 1, unit) + reply)
        await writer.drain()


def answer(device: LabDevice, pdu: bytes) -> bytes:
    """The response PDU to one request PDU (never empty: MBAP length is at least 2)."""
    function = pdu[0]
    if function in (READ_HOLDING, READ_INPUT):
        return read_registers(device, pdu)
    if function == ENCAPSULATED:
        return device_identification(device, pdu)
    return exception(function, ILLEGAL_FUNCTION)


def exception(function: int, code: int) -> bytes:
    return bytes([function | 0x80, code])


# --------------------------------------------------------------------- registers
def read_registers(device: LabDevice, pdu: bytes) -> bytes:
    function = pdu[0]
    if len(pdu) != 5:
        return exception(function, ILLEGAL_VALUE)
    address, quantity = struct.unpack(">HH", pdu[1:])
    if not 1 <= quantity <= 125:
        return exception(function, ILLEGAL_VALUE)
    if address + quantity > 0x10000:
        return exception(function, ILLEGAL_ADDRESS)
    values = [register(device, function, address + i) for i in range(quantity)]
    return bytes([function, 2 * quantity]) + struct.pack(f">{quantity}H", *values)


def register(device: LabDevice, function: int, address: int) -> int:
    """One register's value: identity in the first holding registers, else stable noise."""
    if function == READ_HOLDING:
        if address in _MODEL_REGISTERS:
            return _ascii_register(device.model, address - _MODEL_REGISTERS.start)
        if address in _SERIAL_REGISTERS:
            return _ascii_register(device.serial, address - _SERIAL_REGISTERS.start)
        if address in (_FIRMWARE_MAJOR, _FIRMWARE_MINOR):
            return firmware_numbers(device.firmware_version)[address - _FIRMWARE_MAJOR]
    seed = f"{device.serial}:{function}:{address}".encode("utf-8", "surrogateescape")
    return zlib.crc32(seed) % 1000


def _ascii_register(text: str, index: int) -> int:
    pair = wire(text)[2 * index:2 * index + 2].ljust(2, b"\x00")
    return int.from_bytes(pair, "big")


def firmware_numbers(firmware: str) -> tuple[int, int]:
    """(major, minor) of a firmware version such as "V5.7.3 build 220112"; 0 if absent."""
    found = [int(n) % 0x10000 for n in re.findall(r"\d+", firmware)[:2]]
    found += [0] * (2 - len(found))
    return found[0], found[1]


# --------------------------------------------------------------------- identification
def identity_objects(device: LabDevice) -> list[tuple[int, bytes]]:
    """Device identification objects 0-5 (vendor, product code, revision, URL, names)."""
    vendor = device.persona.get("modbus_vendor") or device.vendor
    slug = re.sub(r"[^a-z0-9]", "", (vendor.split() or ["example"])[0].lower()) or "example"
    values = (vendor, device.persona.get("modbus_product") or device.model,
              device.firmware_version, f"https://www.{slug}.com", device.model, device.model)
    # One object must fit a PDU on its own (7 bytes of header, 2 of id and length).
    return [(i, wire(v)[:_MAX_PDU - 9]) for i, v in enumerate(values)]


def device_identification(device: LabDevice, pdu: bytes) -> bytes:
    """Function 43 / MEI 14, stream (codes 1, 2) or individual (code 4) access."""
    if len(pdu) < 2 or pdu[1] != MEI_DEVICE_ID:
        return exception(ENCAPSULATED, ILLEGAL_FUNCTION)
    if len(pdu) != 4:
        return exception(ENCAPSULATED, ILLEGAL_VALUE)
    code, first = pdu[2], pdu[3]
    objects = identity_objects(device)
    if code == 4:
        picked = [(i, v) for i, v in objects if i == first]
        if not picked:
            return exception(ENCAPSULATED, ILLEGAL_ADDRESS)
        return _identification(code, picked, None)
    if code not in _LAST_OBJECT:
        return exception(ENCAPSULATED, ILLEGAL_VALUE)
    last = _LAST_OBJECT[code]
    if first > last:
        first = 0  # the specification: an unknown start object restarts the stream at 0
    return _stream(code, [(i, v) for i, v in objects if first <= i <= last])


def _stream(code: int, objects: Sequence[tuple[int, bytes]]) -> bytes:
    """As many objects as fit one PDU; the rest is announced with "more follows"."""
    size, fitted = 7, 0
    for _, value in objects:
        if size + 2 + len(value) > _MAX_PDU:
            break
        size += 2 + len(value)
        fitted += 1
    following = objects[fitted][0] if fitted < len(objects) else None
    return _identification(code, objects[:fitted], following)


def _identification(code: int, objects: Sequence[tuple[int, bytes]],
                    following: int | None) -> bytes:
    more, next_id = (0xFF, following) if following is not None else (0x00, 0x00)
    body = b"".join(bytes([i, len(v)]) + v for i, v in objects)
    return bytes([ENCAPSULATED, MEI_DEVICE_ID, code, CONFORMITY, more, next_id,
                  len(objects)]) + body
