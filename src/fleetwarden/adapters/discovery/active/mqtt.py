"""MQTT identification: does the broker let an anonymous client in, and what is it?

One MQTT 3.1.1 CONNECT without user name or password, clean session. CONNACK 0 means
``mqtt.auth`` = open; any refusal means required. When open, a SUBSCRIBE to
``$SYS/broker/version`` (mosquitto and friends publish it retained) is read for a short
while, then the client says DISCONNECT. Works the same over TLS (8883).

Must not: publish, send credentials, subscribe to anything but the version topic, or
read a packet larger than ``MAX_PACKET``.
"""

from __future__ import annotations

import secrets
import time

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Stream
from fleetwarden.adapters.discovery.active.products import from_broker_version
from fleetwarden.adapters.wire.mqtt import Malformed, packet, read_varint, string
from fleetwarden.domain.discovery import Field

MAX_PACKET = 64 * 1024
VERSION_TOPIC = "$SYS/broker/version"
#: How long a retained version message may take to arrive after the SUBACK.
_VERSION_WAIT = 1.0
CONNACK, PUBLISH, SUBACK = 2, 3, 9


def connect_packet() -> bytes:
    client = f"fleetwarden-{secrets.token_hex(4)}"
    body = string("MQTT") + bytes([4, 0x02]) + (30).to_bytes(2, "big") + string(client)
    return packet(0x10, body)


async def read_packet(stream: Stream, timeout: float) -> tuple[int, int, bytes] | None:
    """(type, flags, body) of the next packet, or None (EOF, timeout, too big, junk)."""
    head = await stream.read_exactly(1, timeout)
    if not head:
        return None
    try:
        length = await read_varint(lambda: stream.read_exactly(1, timeout))
    except Malformed:
        return None
    if length is None or length > MAX_PACKET:
        return None
    body = await stream.read_exactly(length, timeout) if length else b""
    if body is None:
        return None
    return head[0] >> 4, head[0] & 0x0F, body


async def identify(stream: Stream, draft: Draft, timeout: float) -> bool:
    """True when the service answered CONNECT with a CONNACK."""
    stream.send(connect_packet())
    answer = await read_packet(stream, timeout)
    if answer is None or answer[0] != CONNACK or len(answer[2]) != 2:
        return False
    draft.service = "mqtts" if stream.ssl_object() else "mqtt"
    accepted = answer[2][1] == 0
    draft.put(Field.MQTT_AUTH, "open" if accepted else "required")
    if accepted:
        version = await _broker_version(stream, timeout)
        draft.put(Field.MQTT_BROKER, version)
        draft.set_product(*from_broker_version(version))
        stream.send(b"\xe0\x00")  # DISCONNECT
    return True


async def _broker_version(stream: Stream, timeout: float) -> str | None:
    stream.send(packet(0x82, (1).to_bytes(2, "big") + string(VERSION_TOPIC) + b"\x00"))
    deadline = time.monotonic() + timeout + _VERSION_WAIT
    for _ in range(16):  # a few packets at most: SUBACK, the retained version
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        incoming = await read_packet(stream, min(left, timeout))
        if incoming is None:
            return None
        kind, flags, body = incoming
        if kind != PUBLISH or len(body) < 2:
            continue
        size = int.from_bytes(body[:2], "big")
        topic = body[2:2 + size].decode("utf-8", "replace")
        payload = body[2 + size + (2 if (flags >> 1) & 3 else 0):]
        if topic == VERSION_TOPIC:
            return payload.decode("utf-8", "replace")
    return None
