"""A small MQTT broker on each simulated device (MQTT 3.1.1 and 5, plain and over TLS).

Gateways, telematics units and drone docks run a broker (often mosquitto) that scanners
probe for anonymous access, retained telemetry and the ``$SYS`` version topic. Each
device has its own broker (connected clients and retained messages, kept in
``lab.device_state``), seeded on first use with the persona's telemetry topic and a
mosquitto-style ``$SYS/broker/version``. Without the ``mqtt_no_auth`` weakness a client
must log in with credentials the device accepts.

Served: CONNECT (with will and username/password), SUBSCRIBE with ``+``/``#`` filters
(granted QoS 0 or 1), UNSUBSCRIBE, PUBLISH at QoS 0 and 1 (a QoS 2 publish gets its
PUBREC/PUBCOMP and is delivered at QoS 1), retained messages, PINGREQ, DISCONNECT and
keep-alive: a client silent for 1.5 keep-alives is dropped, but never later than
``MAX_IDLE`` (600 s), however long a keep-alive it asked for; MQTT 5 clients asking for
more than ``MAX_KEEPALIVE`` are told the broker's (Server Keep Alive), as mosquitto's
``max_keepalive`` does. Sessions are not persisted; enhanced (AUTH) authentication, topic aliases,
subscription identifiers and shared subscriptions are not offered, and MQTT 5 clients
are told so in the CONNACK. MQTT 3.1 (level 3, "MQIsdp") is accepted too and answered
like 3.1.1, as mosquitto does.

Must not: let a client exceed the bounds below (packet size, subscriptions, retained
messages, output buffered for a slow reader), deliver messages between devices, or let
clients overwrite ``$`` topics such as ``$SYS/broker/version``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleetwarden.adapters.lab.protocols.base import (
    IDLE_TIMEOUT,
    LabContext,
    component_version,
    read_exactly,
)
from fleetwarden.adapters.wire.mqtt import (
    Malformed,
    decode_varint,
    encode_varint,
    packet,
    read_varint,
    string,
)
from fleetwarden.domain.lab import LabDevice, LabService, Weakness

#: Largest remaining length a client may send; a bigger packet ends the connection.
MAX_PACKET = 256 * 1024
#: Topic filters one client may hold.
_MAX_SUBSCRIPTIONS = 64
#: Retained topics, and their payload bytes, one device's broker keeps.
_MAX_RETAINED = 256
_MAX_RETAINED_BYTES = 4 * 1024 * 1024
#: Output buffered for a client that does not read; deliveries beyond it are dropped.
_MAX_BACKLOG = 1024 * 1024
#: Longest silence a keep-alive buys: a client asking for 65535 s (18 hours, 1.5 times
#: over) must not pin one of the lab's connections for a day.
MAX_IDLE = 600.0
#: The longest keep-alive the broker honours (1.5 of it is ``MAX_IDLE``).
MAX_KEEPALIVE = int(MAX_IDLE / 1.5)
#: The mosquitto version announced when the firmware lists no mosquitto component.
DEFAULT_MOSQUITTO = "2.0.18"

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = range(1, 8)
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)

#: CONNACK codes: MQTT 3.1.1 return codes, then MQTT 5 reason codes.
V3_BAD_VERSION, V3_BAD_CLIENT_ID, V3_NOT_AUTHORISED = 1, 2, 5
V5_BAD_AUTH_METHOD, V5_NOT_AUTHORISED = 0x8C, 0x87
#: MQTT 5 reason codes of SUBACK/UNSUBACK/DISCONNECT.
_V5_BAD_FILTER, _V5_QUOTA, _V5_NO_SHARED, _V5_NO_SUBSCRIPTION = 0x8F, 0x97, 0x9E, 0x11
_V5_TAKEN_OVER, _V5_WITH_WILL = 0x8E, 0x04
_V3_SUB_FAILURE = 0x80

#: MQTT 5 property identifiers and how each is encoded (spec section 2.2.2.2).
_PROPERTY_KINDS: dict[int, str] = {
    0x01: "byte", 0x02: "u32", 0x03: "text", 0x08: "text", 0x09: "binary", 0x0B: "varint",
    0x11: "u32", 0x12: "text", 0x13: "u16", 0x15: "text", 0x16: "binary", 0x17: "byte",
    0x18: "u32", 0x19: "byte", 0x1A: "text", 0x1C: "text", 0x1F: "text", 0x21: "u16",
    0x22: "u16", 0x23: "u16", 0x24: "byte", 0x25: "byte", 0x26: "pair", 0x27: "u32",
    0x28: "byte", 0x29: "byte", 0x2A: "byte",
}
_AUTH_METHOD, _MAX_PACKET_SIZE, _TOPIC_ALIAS, _SUBSCRIPTION_ID = 0x15, 0x27, 0x23, 0x0B
_ASSIGNED_CLIENT_ID, _SUBSCRIPTION_IDS_AVAILABLE, _SHARED_AVAILABLE = 0x12, 0x29, 0x2A
_SERVER_KEEP_ALIVE = 0x13


class UnsupportedVersion(Exception):
    """A CONNECT for a protocol level other than 3 (3.1), 4 (3.1.1) or 5."""


# --------------------------------------------------------------------- decoding
class _Reader:
    """A cursor over one packet's body; running off its end means a malformed packet."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Malformed("packet shorter than its fields")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def byte(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def varint(self) -> int:
        value, self.pos = decode_varint(self.data, self.pos)
        return value

    def binary(self) -> bytes:
        return self.take(self.u16())

    def text(self) -> str:
        """An MQTT UTF-8 string: well-formed, no surrogates (Python refuses them), no NUL."""
        try:
            text = self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed("string is not UTF-8") from None
        if "\x00" in text:
            raise Malformed("string contains U+0000")
        return text

    def pair(self) -> tuple[str, str]:
        return self.text(), self.text()


def properties(reader: _Reader) -> dict[int, Any]:
    """An MQTT 5 property block, parsed property by property so its length is honest."""
    block = _Reader(reader.take(reader.varint()))
    found: dict[int, Any] = {}
    while not block.done:
        ident = block.varint()
        kind = _PROPERTY_KINDS.get(ident)
        if kind is None:
            raise Malformed(f"unknown property {ident:#x}")
        found[ident] = getattr(block, kind)()
    return found


async def read_packet(reader: asyncio.StreamReader,
                      timeout: float) -> tuple[int, int, bytes] | None:
    """(type, flags, body) of the next packet; None when the client left or went quiet,
    ``Malformed`` when its remaining length is over-long or over ``MAX_PACKET``."""
    head = await read_exactly(reader, 1, timeout=timeout)
    if not head:
        return None
    length = await read_varint(lambda: read_exactly(reader, 1, timeout=timeout))
    if length is None:
        return None
    if length > MAX_PACKET:
        raise Malformed(f"packet of {length} bytes is over the limit")
    body = await read_exactly(reader, length, timeout=timeout) if length else b""
    if body is None:
        return None
    return head[0] >> 4, head[0] & 0x0F, body


# --------------------------------------------------------------------- encoding
def property_block(*items: bytes) -> bytes:
    body = b"".join(items)
    return encode_varint(len(body)) + body


def connack(version: int, code: int, assigned_id: str | None = None,
            keep_alive: int | None = None) -> bytes:
    """CONNACK (never "session present": sessions are not kept); MQTT 5 says what the
    broker does not offer, so clients do not try it, and the keep-alive it imposes."""
    if version != 5:
        return packet(CONNACK << 4, bytes([0, code]))
    items = [bytes([_MAX_PACKET_SIZE]) + MAX_PACKET.to_bytes(4, "big"),
             bytes([_SUBSCRIPTION_IDS_AVAILABLE, 0]), bytes([_SHARED_AVAILABLE, 0])]
    if assigned_id is not None:
        items.append(bytes([_ASSIGNED_CLIENT_ID]) + string(assigned_id))
    if keep_alive is not None:
        items.append(bytes([_SERVER_KEEP_ALIVE]) + keep_alive.to_bytes(2, "big"))
    return packet(CONNACK << 4, bytes([0, code]) + property_block(*items))


def ack(kind: int, version: int, packet_id: int, flags: int = 0) -> bytes:
    """PUBACK/PUBREC/PUBCOMP: MQTT 5 adds reason "success" and an empty property block."""
    body = packet_id.to_bytes(2, "big") + (b"\x00\x00" if version == 5 else b"")
    return packet(kind << 4 | flags, body)


# --------------------------------------------------------------------- topics
def valid_topic(topic: str) -> bool:
    return bool(topic) and "+" not in topic and "#" not in topic


def valid_filter(topic_filter: str) -> bool:
    """``+`` fills a whole level; ``#`` is a whole level and the last one."""
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def matches(topic_filter: str, topic: str) -> bool:
    """Whether a topic falls under a filter; wildcards never open ``$`` topics."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels, names = topic_filter.split("/"), topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(names) or level not in ("+", names[i]):
            return False
    return len(levels) == len(names)


# --------------------------------------------------------------------- broker state
@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: bytes = b"\x00"
    """The MQTT 5 PUBLISH property block, forwarded unaltered to MQTT 5 subscribers."""


@dataclass(frozen=True, slots=True)
class Subscription:
    qos: int
    no_local: bool = False
    retain_as_published: bool = False


@dataclass
class Broker:
    """One device's broker: who is connected, and the retained messages."""

    retained: dict[str, Message] = field(default_factory=dict)
    clients: dict[str, Session] = field(default_factory=dict)
    retained_bytes: int = 0

    def attach(self, session: Session) -> None:
        """A second connection with the same client id takes over the first (MQTT rule)."""
        old = self.clients.get(session.client_id)
        if old is not None:
            old.kick()
        self.clients[session.client_id] = session

    def detach(self, session: Session) -> None:
        if self.clients.get(session.client_id) is session:
            del self.clients[session.client_id]

    def publish(self, sender: Session | None, message: Message) -> None:
        """Retain and fan out a client's message (or will); ``$`` topics are the broker's."""
        if message.topic.startswith("$"):
            return
        if message.retain:
            self.keep(message)
        for session in list(self.clients.values()):
            session.forward(sender, message)

    def keep(self, message: Message) -> None:
        """Store a retained message; an empty payload deletes the topic's message."""
        old = self.retained.pop(message.topic, None)
        if old is not None:
            self.retained_bytes -= len(old.payload)
        size = len(message.payload)
        if (not size or len(self.retained) >= _MAX_RETAINED
                or self.retained_bytes + size > _MAX_RETAINED_BYTES):
            return
        self.retained[message.topic] = Message(message.topic, message.payload, message.qos,
                                               True, message.properties)
        self.retained_bytes += size


def mosquitto_version(device: LabDevice) -> str:
    return component_version(device, "mosquitto") or DEFAULT_MOSQUITTO


def status_topic(device: LabDevice) -> str:
    return device.persona.get("mqtt_topic") or f"devices/{device.serial}/status"


def new_broker(device: LabDevice) -> Broker:
    """A device's broker as it boots: its telemetry and the ``$SYS`` version retained."""
    broker = Broker()
    status = json.dumps({"serial": device.serial, "model": device.model,
                         "firmware": device.firmware_version, "status": "online"})
    version = f"mosquitto version {mosquitto_version(device)}"
    for topic, payload in ((status_topic(device), status), ("$SYS/broker/version", version)):
        broker.keep(Message(topic, payload.encode("utf-8", "surrogateescape"), 0, True))
    return broker


# --------------------------------------------------------------------- CONNECT
@dataclass
class Connect:
    version: int
    client_id: str
    clean: bool
    keepalive: int
    username: str | None
    password: str | None
    will: Message | None
    max_packet: int
    auth_method: bool


def parse_connect(body: bytes) -> Connect:
    reader = _Reader(body)
    name, level = reader.text(), reader.byte()
    if name not in ("MQTT", "MQIsdp"):
        raise Malformed(f"protocol name {name!r}")
    if level not in (3, 4, 5):
        raise UnsupportedVersion(level)
    if (name == "MQIsdp") != (level == 3):
        raise Malformed(f"protocol name {name!r} with level {level}")
    flags, keepalive = reader.byte(), reader.u16()
    if flags & 0x01 or (not flags & 0x04 and flags & 0x38):
        raise Malformed("reserved or will flags set wrongly")
    props = properties(reader) if level == 5 else {}
    client_id = reader.text()
    will = _read_will(reader, flags, level) if flags & 0x04 else None
    username = reader.text() if flags & 0x80 else None
    password = reader.binary().decode("utf-8", "surrogateescape") if flags & 0x40 else None
    if level < 5 and password is not None and username is None:
        raise Malformed("password without user name")
    if not reader.done:
        raise Malformed("bytes after the CONNECT payload")
    return Connect(level, client_id, bool(flags & 0x02), keepalive, username, password, will,
                   min(props.get(_MAX_PACKET_SIZE) or MAX_PACKET + 5, MAX_PACKET + 5),
                   _AUTH_METHOD in props)


def _read_will(reader: _Reader, flags: int, level: int) -> Message:
    qos = (flags >> 3) & 3
    if qos == 3:
        raise Malformed("will QoS 3")
    if level == 5:
        properties(reader)  # will delay and friends: not kept (the will goes out at once)
    topic, payload = reader.text(), reader.binary()
    if not valid_topic(topic):
        raise Malformed("will topic")
    return Message(topic, payload, qos, bool(flags & 0x20))


def authorised(device: LabDevice, service: LabService, connect: Connect) -> bool:
    """Anyone gets in on a ``mqtt_no_auth`` device; elsewhere only accepted credentials."""
    if Weakness.MQTT_NO_AUTH in device.weaknesses:
        return True
    if connect.username is None or connect.password is None:
        return False
    return device.accepts(service.service, connect.username, connect.password)


def refusal(device: LabDevice, service: LabService, connect: Connect) -> int | None:
    """The CONNACK code refusing this client, or None to let it in."""
    v5 = connect.version == 5
    if not connect.client_id and (connect.version == 3 or not (v5 or connect.clean)):
        return V3_BAD_CLIENT_ID
    if v5 and connect.auth_method:
        return V5_BAD_AUTH_METHOD
    if not authorised(device, service, connect):
        return V5_NOT_AUTHORISED if v5 else V3_NOT_AUTHORISED
    return None


# --------------------------------------------------------------------- a session
class Session:
    """One connected client: its subscriptions, and the packets it sends and gets."""

    def __init__(self, broker: Broker, writer: asyncio.StreamWriter, connect: Connect,
                 client_id: str) -> None:
        self.broker, self.writer, self.client_id = broker, writer, client_id
        self.version, self.max_packet = connect.version, connect.max_packet
        self.subscriptions: dict[str, Subscription] = {}
        self._packet_id = 0
        self._handlers: dict[int, Callable[[int, bytes], None]] = {
            PUBLISH: self.on_publish, PUBACK: self.on_ack, PUBREC: self.on_ack,
            PUBREL: self.on_pubrel, PUBCOMP: self.on_ack, SUBSCRIBE: self.on_subscribe,
            UNSUBSCRIBE: self.on_unsubscribe, PINGREQ: self.on_ping,
        }

    @property
    def v5(self) -> bool:
        return self.version == 5

    def send(self, data: bytes) -> None:
        if not self.writer.transport.is_closing():
            self.writer.write(data)

    def kick(self) -> None:
        """Hang up on this client because another connection took its client id."""
        if self.v5:
            self.send(packet(DISCONNECT << 4, bytes([_V5_TAKEN_OVER, 0])))
        self.writer.close()

    def handle(self, kind: int, flags: int, body: bytes) -> None:
        expected = 0x02 if kind in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) else 0
        if kind != PUBLISH and flags != expected:
            raise Malformed(f"packet type {kind} with flags {flags:#x}")
        handler = self._handlers.get(kind)
        if handler is None:
            raise Malformed(f"packet type {kind} is not for a broker now")
        handler(flags, body)

    # ---------------------------------------------------------------- outgoing
    def forward(self, sender: Session | None, message: Message) -> None:
        """Deliver a live message if a subscription wants it (once, at the best QoS)."""
        wanted = [sub for topic_filter, sub in self.subscriptions.items()
                  if matches(topic_filter, message.topic)
                  and not (sub.no_local and sender is self)]
        if not wanted:
            return
        qos = min(message.qos, max(sub.qos for sub in wanted))
        retain = message.retain and any(sub.retain_as_published for sub in wanted)
        self.deliver(message, qos, retain)

    def deliver(self, message: Message, qos: int, retain: bool) -> None:
        if self.writer.transport.get_write_buffer_size() > _MAX_BACKLOG:
            return
        body = string(message.topic)
        if qos:
            self._packet_id = self._packet_id % 0xFFFF + 1
            body += self._packet_id.to_bytes(2, "big")
        body += (message.properties if self.v5 else b"") + message.payload
        data = packet(PUBLISH << 4 | qos << 1 | int(retain), body)
        if len(data) <= self.max_packet:
            self.send(data)

    # ---------------------------------------------------------------- incoming
    def on_publish(self, flags: int, body: bytes) -> None:
        qos, retain = (flags >> 1) & 3, bool(flags & 1)
        if qos == 3:
            raise Malformed("PUBLISH with QoS 3")
        reader = _Reader(body)
        topic = reader.text()
        packet_id = reader.u16() if qos else 0
        if qos and not packet_id:
            raise Malformed("PUBLISH without a packet id")
        props = b"\x00"
        if self.v5:
            start = reader.pos
            found = properties(reader)
            if _TOPIC_ALIAS in found or _SUBSCRIPTION_ID in found:
                raise Malformed("topic alias or subscription id in PUBLISH")
            props = body[start:reader.pos]
        if not valid_topic(topic):
            raise Malformed(f"topic name {topic!r}")
        self.broker.publish(self, Message(topic, reader.rest(), min(qos, 1), retain, props))
        if qos:
            self.send(ack(PUBACK if qos == 1 else PUBREC, self.version, packet_id))

    def on_ack(self, flags: int, body: bytes) -> None:
        """The client acknowledges a delivery; nothing is re-sent, so nothing to do."""
        if len(body) < 2:
            raise Malformed("acknowledgement without a packet id")

    def on_pubrel(self, flags: int, body: bytes) -> None:
        if len(body) < 2:
            raise Malformed("PUBREL without a packet id")
        self.send(ack(PUBCOMP, self.version, int.from_bytes(body[:2], "big")))

    def on_ping(self, flags: int, body: bytes) -> None:
        if body:
            raise Malformed("PINGREQ with a body")
        self.send(packet(PINGRESP << 4))

    def on_subscribe(self, flags: int, body: bytes) -> None:
        reader = _Reader(body)
        packet_id = reader.u16()
        if self.v5:
            properties(reader)
        codes: list[int] = []
        fresh: list[tuple[str, Subscription]] = []
        while not reader.done:
            topic_filter = reader.text()
            code, send_retained = self.subscribe(topic_filter, reader.byte())
            codes.append(code)
            if send_retained:
                fresh.append((topic_filter, self.subscriptions[topic_filter]))
        if not codes:
            raise Malformed("SUBSCRIBE without topic filters")
        props = b"\x00" if self.v5 else b""
        self.send(packet(SUBACK << 4, packet_id.to_bytes(2, "big") + props + bytes(codes)))
        for topic_filter, sub in fresh:
            for message in list(self.broker.retained.values()):
                if matches(topic_filter, message.topic):
                    self.deliver(message, min(message.qos, sub.qos), True)

    def subscribe(self, topic_filter: str, options: int) -> tuple[int, bool]:
        """(SUBACK code, whether retained messages go out now) for one topic filter."""
        sub, handling = self.options(options)
        if not valid_filter(topic_filter):
            return (_V5_BAD_FILTER if self.v5 else _V3_SUB_FAILURE), False
        if topic_filter.startswith("$share/"):
            return (_V5_NO_SHARED if self.v5 else _V3_SUB_FAILURE), False
        new = topic_filter not in self.subscriptions
        if new and len(self.subscriptions) >= _MAX_SUBSCRIPTIONS:
            return (_V5_QUOTA if self.v5 else _V3_SUB_FAILURE), False
        self.subscriptions[topic_filter] = sub
        return sub.qos, handling == 0 or (handling == 1 and new)

    def options(self, options: int) -> tuple[Subscription, int]:
        """The subscription options byte: QoS (granted at most 1), and MQTT 5 extras."""
        qos = options & 0x03
        if qos == 3:
            raise Malformed("subscription QoS 3")
        if not self.v5:
            if options & 0xFC:
                raise Malformed("reserved subscription option bits set")
            return Subscription(min(qos, 1)), 0
        handling = (options >> 4) & 0x03
        if options & 0xC0 or handling == 3:
            raise Malformed("reserved subscription option bits set")
        return Subscription(min(qos, 1), bool(options & 0x04), bool(options & 0x08)), handling

    def on_unsubscribe(self, flags: int, body: bytes) -> None:
        reader = _Reader(body)
        packet_id = reader.u16()
        if self.v5:
            properties(reader)
        codes = []
        while not reader.done:
            existed = self.subscriptions.pop(reader.text(), None) is not None
            codes.append(0 if existed else _V5_NO_SUBSCRIPTION)
        if not codes:
            raise Malformed("UNSUBSCRIBE without topic filters")
        rest = b"\x00" + bytes(codes) if self.v5 else b""
        self.send(packet(UNSUBACK << 4, packet_id.to_bytes(2, "big") + rest))


def leaves_will(version: int, body: bytes) -> bool:
    """Whether a DISCONNECT still wants the will sent (MQTT 5 reason 0x04)."""
    return version == 5 and body[:1] == bytes([_V5_WITH_WILL])


# --------------------------------------------------------------------- the handler
async def serve_mqtt(device: LabDevice, service: LabService, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter, lab: LabContext) -> None:
    """Serve one client of the device's broker; protocol errors end only this client."""
    broker: Broker = lab.device_state(device, "mqtt", lambda: new_broker(device))
    try:
        await _serve(device, service, broker, reader, writer)
    except Malformed:
        return


async def _serve(device: LabDevice, service: LabService, broker: Broker,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    first = await read_packet(reader, IDLE_TIMEOUT)
    if first is None or first[0] != CONNECT or first[1]:
        return
    try:
        connect = parse_connect(first[2])
    except UnsupportedVersion:
        writer.write(connack(4, V3_BAD_VERSION))
        return
    code = refusal(device, service, connect)
    if code is not None:
        writer.write(connack(connect.version, code))
        return
    assigned = None if connect.client_id else f"auto-{uuid.uuid4()}"
    session = Session(broker, writer, connect, connect.client_id or str(assigned))
    broker.attach(session)
    will = connect.will
    try:
        v5 = connect.version == 5
        imposed = MAX_KEEPALIVE if v5 and connect.keepalive > MAX_KEEPALIVE else None
        writer.write(connack(connect.version, 0, assigned if v5 else None, imposed))
        await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
        if await _session(session, reader, connect):
            will = None
    finally:
        broker.detach(session)
        if will is not None:
            broker.publish(None, will)


async def _session(session: Session, reader: asyncio.StreamReader, connect: Connect) -> bool:
    """Serve packets until the client leaves; True when it said DISCONNECT without will."""
    timeout = idle_timeout(connect.keepalive)
    while True:
        incoming = await read_packet(reader, timeout)
        if incoming is None:
            return False
        kind, flags, body = incoming
        if kind == DISCONNECT:
            if flags:
                raise Malformed("DISCONNECT with flags")
            return not leaves_will(session.version, body)
        session.handle(kind, flags, body)
        await asyncio.wait_for(session.writer.drain(), IDLE_TIMEOUT)


def idle_timeout(keepalive: int) -> float:
    """Seconds of silence before the broker hangs up: 1.5 keep-alives (MQTT 3.1.2.10),
    ``IDLE_TIMEOUT`` for a client without one, and never more than ``MAX_IDLE``."""
    if not keepalive:
        return IDLE_TIMEOUT
    return min(keepalive * 1.5, MAX_IDLE)
