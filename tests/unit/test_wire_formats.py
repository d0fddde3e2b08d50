"""The wire formats the lab and discovery share: BER for SNMP, MQTT's framing.

Round trips at the edges of each encoding, and hostile input (truncated, over-long,
junk) refused with the module's one error type and nothing else.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import suppress

import pytest

from fleetwarden.adapters.wire import ber
from fleetwarden.adapters.wire import mqtt as wire_mqtt

# ------------------------------------------------------------------ BER


@pytest.mark.parametrize("value", [
    0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 2**31 - 1, 2**32 - 1,
    -1, -127, -128, -129, -255, -256, -32768, -32769, -(2**31)])
def test_ber_integer_round_trips_in_the_fewest_octets(value: int) -> None:
    encoded = ber.integer(value)
    reader = ber.Reader(encoded)
    assert reader.integer(5) == value
    assert reader.done
    content = encoded[2:]
    assert encoded[:2] == bytes((ber.INTEGER, len(content)))
    if len(content) > 1:  # minimal: the first 9 bits are never all equal
        assert not (content[0] == 0x00 and content[1] < 0x80)
        assert not (content[0] == 0xFF and content[1] >= 0x80)


@pytest.mark.parametrize(("value", "octets"), [
    (0, "00"), (127, "7f"), (128, "0080"), (255, "00ff"), (256, "0100"),
    (-1, "ff"), (-128, "80"), (-129, "ff7f")])
def test_ber_integer_octets(value: int, octets: str) -> None:
    assert ber.integer(value)[2:].hex() == octets


def test_ber_integer_keeps_another_tag_and_refuses_over_wide_values() -> None:
    assert ber.integer(1, 0x43) == b"\x43\x01\x01"  # TimeTicks
    with pytest.raises(ber.Malformed):
        ber.decode_integer(b"", 5)
    with pytest.raises(ber.Malformed):
        ber.decode_integer(bytes(6), 5)
    assert ber.decode_integer(bytes(8), 8) == 0


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 65535, 65536])
def test_ber_length_round_trips_in_the_shortest_form(size: int) -> None:
    encoded = ber.encode_length(size)
    assert len(encoded) == (1 if size < 128 else 2 + (size > 255) + (size > 65535))
    data = encoded + bytes(size)
    assert ber.decode_length(data, 0, len(data)) == (size, len(encoded))
    value = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert ber.Reader(ber.octet_string(value)).value(ber.OCTET_STRING) == value


@pytest.mark.parametrize(("length", "why"), [
    (b"", "nothing"),
    (b"\x80", "indefinite"),
    (b"\x85\x00\x00\x00\x00\x01", "five octets"),
    (b"\x82\x01", "length octets cut short"),
    (b"\x05", "value past the end"),
    (b"\x84\xff\xff\xff\xff", "value far past the end"),
])
def test_ber_bad_lengths_are_refused(length: bytes, why: str) -> None:
    data = length + b"\x00\x00"
    with pytest.raises(ber.Malformed):
        ber.decode_length(data, 0, len(length))


def test_ber_non_minimal_definite_lengths_are_accepted() -> None:
    """BER allows them, and real clients (nmap's probes) send them."""
    assert ber.Reader(b"\x04\x82\x00\x02hi").value(ber.OCTET_STRING) == b"hi"


@pytest.mark.parametrize("arcs", [
    (1, 3, 6, 1, 2, 1, 1, 1, 0),
    (0, 0),
    (2, 999, 3),
    (1, 3, 6, 1, 4, 1, 2**28, 2**28 + 1, 2**31, ber.MAX_ARC),
    (1, 3, *range(120)),
])
def test_ber_oid_round_trips_with_large_arcs(arcs: ber.Oid) -> None:
    encoded = ber.oid(arcs)
    assert encoded[0] == ber.OBJECT_IDENTIFIER
    assert ber.Reader(encoded).oid() == arcs


def test_ber_oid_known_encoding() -> None:
    assert ber.oid((1, 3, 6, 1, 2, 1, 1, 1, 0)).hex() == "06082b06010201010100"
    assert ber.oid((1, 3, 6, 1, 4, 1, ber.MAX_ARC)).hex() == "060a2b060104018fffffff7f"


@pytest.mark.parametrize(("raw", "why"), [
    (b"", "empty"),
    (b"\x2b\x06\x81", "last arc unfinished"),
    (b"\x2b\x80\x01", "non-minimal arc"),
    (b"\x2b\x90\x80\x80\x80\x00", "arc over 2**32 - 1"),
    (b"\x2b" + b"\x01" * 128, "over 128 octets"),
])
def test_ber_bad_oids_are_refused(raw: bytes, why: str) -> None:
    with pytest.raises(ber.Malformed):
        ber.decode_oid(raw)


def test_ber_reader_walks_nested_tlvs_within_bounds() -> None:
    message = ber.tlv(ber.SEQUENCE, ber.integer(1) + ber.octet_string(b"public")
                      + ber.tlv(ber.SEQUENCE, ber.oid((1, 3, 6)) + ber.tlv(ber.NULL, b"")))
    outer = ber.Reader(message + b"tail")
    sequence = outer.inner(ber.SEQUENCE)
    assert sequence.integer(5) == 1
    assert sequence.value(ber.OCTET_STRING) == b"public"
    inner = sequence.inner(ber.SEQUENCE)
    sequence.finish()
    assert inner.oid() == (1, 3, 6)
    assert inner.raw() == b"\x05\x00"
    assert inner.done
    with pytest.raises(ber.Malformed, match="trailing"):
        outer.finish()
    with pytest.raises(ber.Malformed, match="tag"):
        ber.Reader(message).inner(ber.INTEGER)
    assert ber.Reader(b"\x05\x00").next() == (ber.NULL, b"")


@pytest.mark.parametrize("data", [
    b"", b"\x30", b"\x1f\x01\x00", b"\x3f\x81\x01\x00", b"\x30\x80\x05\x00\x00\x00",
    b"\x30\x84\xff\xff\xff\xff", b"\x30\x85\x00\x00\x00\x00\x02\x05\x00",
    b"\x30\x03\x05\x00",
])
def test_ber_reader_refuses_truncated_and_overlong_input(data: bytes) -> None:
    with pytest.raises(ber.Malformed):
        ber.Reader(data).inner(ber.SEQUENCE).next()


def _walk(data: bytes) -> None:
    """Everything a caller might do with a reader, down to the leaves."""
    readers = [ber.Reader(data)]
    while readers:
        reader = readers.pop()
        while not reader.done:
            tag, value = reader.next()
            if tag & 0x20:
                readers.append(ber.Reader(value))
            elif tag == ber.INTEGER:
                ber.decode_integer(value, 8)
            elif tag == ber.OBJECT_IDENTIFIER:
                ber.decode_oid(value)
        reader.finish()


def test_ber_junk_raises_only_malformed() -> None:
    rng = random.Random(8161)
    valid = ber.tlv(ber.SEQUENCE, ber.integer(1) + ber.octet_string(b"public") + ber.tlv(
        0xA2, ber.integer(-7) + ber.tlv(ber.SEQUENCE, ber.tlv(
            ber.SEQUENCE, ber.oid((1, 3, 6, 1, 2**30)) + ber.octet_string(b"x" * 200)))))
    _walk(valid)
    for _ in range(5000):
        data = bytearray(valid)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        for junk in (bytes(data[:rng.randrange(len(data) + 1)]),
                     rng.randbytes(rng.randrange(64))):
            with suppress(ber.Malformed):
                _walk(junk)


# ------------------------------------------------------------------ MQTT


@pytest.mark.parametrize(("value", "encoded"), [
    (0, "00"), (127, "7f"), (128, "8001"), (16383, "ff7f"), (16384, "808001"),
    (2097151, "ffff7f"), (2097152, "80808001"), (268435455, "ffffff7f")])
def test_mqtt_remaining_length_round_trips(value: int, encoded: str) -> None:
    assert wire_mqtt.encode_varint(value).hex() == encoded
    raw = bytes.fromhex(encoded)
    assert wire_mqtt.decode_varint(raw) == (value, len(raw))
    assert wire_mqtt.decode_varint(b"\x10" + raw + b"rest", 1) == (value, 1 + len(raw))
    assert asyncio.run(wire_mqtt.read_varint(_ByteSource(raw + b"rest"))) == value


@pytest.mark.parametrize("value", [-1, wire_mqtt.MAX_VARINT + 1])
def test_mqtt_values_that_do_not_fit_are_not_encoded(value: int) -> None:
    with pytest.raises(ValueError, match="variable byte integer"):
        wire_mqtt.encode_varint(value)


@pytest.mark.parametrize("raw", [b"\xff\xff\xff\xff\x01", b"\x80\x80\x80\x80\x00",
                                 b"\xff\xff\xff\xff"])
def test_mqtt_five_byte_lengths_are_refused(raw: bytes) -> None:
    with pytest.raises(wire_mqtt.Malformed, match="longer than 4"):
        wire_mqtt.decode_varint(raw + b"\x00")
    read = _ByteSource(raw + b"\x00")
    with pytest.raises(wire_mqtt.Malformed, match="longer than 4"):
        asyncio.run(wire_mqtt.read_varint(read))
    assert read.taken == 4  # the fifth byte is never read


@pytest.mark.parametrize("raw", [b"", b"\x80", b"\xff\xff\xff"])
def test_mqtt_cut_short_lengths(raw: bytes) -> None:
    with pytest.raises(wire_mqtt.Malformed, match="cut short"):
        wire_mqtt.decode_varint(raw)
    assert asyncio.run(wire_mqtt.read_varint(_ByteSource(raw))) is None


def test_mqtt_packet_and_string() -> None:
    assert wire_mqtt.packet(0xC0) == b"\xc0\x00"
    big = wire_mqtt.packet(0x30, bytes(200))
    assert big[:3] == b"\x30\xc8\x01" and len(big) == 203
    assert wire_mqtt.string("MQTT") == b"\x00\x04MQTT"
    assert wire_mqtt.string("x" * 70000)[:2] == b"\xff\xff"


class _ByteSource:
    """An async "read one byte" over ``data``: b"" at its end, like a closed stream."""

    def __init__(self, data: bytes) -> None:
        self.data, self.taken = data, 0

    async def __call__(self) -> bytes:
        chunk = self.data[self.taken:self.taken + 1]
        self.taken += len(chunk)
        return chunk
