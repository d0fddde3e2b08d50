"""Two small UDP probes for building and constrained devices: CoAP and BACnet/IP.

CoAP (5683): a confirmable GET of ``/.well-known/core``; the link-format answer lists
the device's resources and becomes the banner. BACnet/IP (47808): a unicast Who-Is;
the I-Am names the device instance and the vendor identifier (ASHRAE's registry).
Neither has fields of its own yet; the banner carries what was said.

Must not: write anything (no CoAP PUT/POST, no BACnet WriteProperty), or raise on junk.
"""

from __future__ import annotations

import secrets

from fleetwarden.adapters.discovery.active.draft import Draft
from fleetwarden.adapters.discovery.active.net import Dialer

#: BVLC original-unicast, NPDU version 1 without routing, unconfirmed Who-Is.
WHO_IS = bytes([0x81, 0x0A, 0x00, 0x08, 0x01, 0x00, 0x10, 0x08])


def coap_request(message_id: int, token: bytes) -> bytes:
    """CON GET /.well-known/core (Uri-Path options 11)."""
    head = bytes([0x40 | len(token), 0x01]) + message_id.to_bytes(2, "big") + token
    return head + bytes([0xBB]) + b".well-known" + bytes([0x04]) + b"core"


def coap_payload(datagram: bytes, message_id: int, token: bytes) -> bytes | None:
    """The payload of an answer to our request (piggy-backed ACK or separate), else None."""
    if len(datagram) < 4 or datagram[0] >> 6 != 1:
        return None
    tkl = datagram[0] & 0x0F
    if tkl > 8 or datagram[4:4 + tkl] != token:
        return None
    kind = (datagram[0] >> 4) & 0x03
    if kind == 2 and int.from_bytes(datagram[2:4], "big") != message_id:
        return None  # an ACK must echo our message id
    marker = datagram.find(b"\xff", 4 + tkl)
    return datagram[marker + 1:] if marker >= 0 else b""


async def identify_coap(dialer: Dialer, port: int) -> Draft | None:
    message_id, token = secrets.randbelow(1 << 16), secrets.token_bytes(4)
    for datagram in await dialer.exchange(
            port, [coap_request(message_id, token)], timeout=dialer.udp_timeout,
            until=lambda d: coap_payload(d, message_id, token) is not None):
        payload = coap_payload(datagram, message_id, token)
        if payload is not None:
            draft = Draft(port, "udp", "coap")
            code = datagram[1]
            draft.set_banner(f"{code >> 5}.{code & 0x1F:02d} ".encode() + payload)
            return draft
    return None


def parse_i_am(datagram: bytes) -> tuple[int, int] | None:
    """(device instance, vendor id) of a BACnet I-Am, else None."""
    if len(datagram) < 4 or datagram[0] != 0x81:
        return None
    npdu = datagram[4:]
    if len(npdu) < 2 or npdu[0] != 0x01:
        return None
    control, pos = npdu[1], 2
    if control & 0x20:  # destination present: DNET(2) DLEN(1) DADR(DLEN)
        if len(npdu) < pos + 3:
            return None
        pos += 3 + npdu[pos + 2]
    if control & 0x08:  # source present
        if len(npdu) < pos + 3:
            return None
        pos += 3 + npdu[pos + 2]
    if control & 0x20:
        pos += 1  # hop count
    apdu = npdu[pos:]
    if len(apdu) < 7 or apdu[0] != 0x10 or apdu[1] != 0x00 or apdu[2] != 0xC4:
        return None
    instance = int.from_bytes(apdu[3:7], "big") & 0x3FFFFF
    rest, values = apdu[7:], []
    for _ in range(3):  # max-APDU, segmentation, vendor id: one-octet tag, short values
        if not rest or rest[0] & 0x08 or len(rest) < 1 + (rest[0] & 0x07):
            break
        size = rest[0] & 0x07
        values.append(int.from_bytes(rest[1:1 + size], "big"))
        rest = rest[1 + size:]
    vendor = values[2] if len(values) == 3 else -1
    return instance, vendor


async def identify_bacnet(dialer: Dialer, port: int) -> Draft | None:
    for datagram in await dialer.exchange(port, [WHO_IS], timeout=dialer.udp_timeout,
                                          until=lambda d: parse_i_am(d) is not None):
        found = parse_i_am(datagram)
        if found is not None:
            draft = Draft(port, "udp", "bacnet")
            draft.set_banner(f"BACnet device {found[0]} vendor {found[1]}")
            return draft
    return None
