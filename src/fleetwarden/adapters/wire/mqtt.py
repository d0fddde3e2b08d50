"""MQTT framing: the Variable Byte Integer (the fixed header's remaining length, and MQTT
5's property lengths), a packet's fixed header, and UTF-8 strings.

The lab's broker and the scanner's MQTT probe both frame packets with these. A Variable
Byte Integer is at most four bytes (up to ``MAX_VARINT``); a longer one, or one cut
short, is ``Malformed``. ``read_varint`` reads one from a stream a byte at a time through
a callable, because the lab and discovery read their streams through different helpers.

Must not: read more than four bytes for a length, hold a packet-size limit (each side has
its own), or know about packet types, sessions or brokers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

#: The largest Variable Byte Integer, and so the largest remaining length (256 MiB - 1).
MAX_VARINT = 268_435_455
_MAX_VARINT_BYTES = 4


class Malformed(Exception):
    """Bytes that break MQTT's rules; whoever reads them hangs up."""


def encode_varint(value: int) -> bytes:
    if not 0 <= value <= MAX_VARINT:
        raise ValueError(f"{value} does not fit a variable byte integer")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def decode_varint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """(value, position after it) of the Variable Byte Integer at ``data[pos]``."""
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        if pos + index >= len(data):
            raise Malformed("variable byte integer cut short")
        byte = data[pos + index]
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            return value, pos + index + 1
    raise Malformed("variable byte integer longer than 4 bytes")


async def read_varint(read_byte: Callable[[], Awaitable[bytes | None]]) -> int | None:
    """A Variable Byte Integer read through ``read_byte`` (one byte, or b""/None at EOF or
    timeout); None when the stream ends first, ``Malformed`` when it is over-long."""
    raw = bytearray()
    while True:
        byte = await read_byte()
        if not byte:
            return None
        raw += byte
        if not byte[0] & 0x80 or len(raw) == _MAX_VARINT_BYTES:
            return decode_varint(bytes(raw))[0]


def packet(first: int, body: bytes = b"") -> bytes:
    """A whole packet: the first byte (type and flags), the remaining length, the body."""
    return bytes((first,)) + encode_varint(len(body)) + body


def string(text: str) -> bytes:
    """An MQTT UTF-8 string: a two-byte length, then at most 65535 bytes of ``text``."""
    raw = text.encode("utf-8", "surrogateescape")[:0xFFFF]
    return len(raw).to_bytes(2, "big") + raw
