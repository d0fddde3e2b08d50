"""What one ARP, DHCP, mDNS, SSDP or HTTP message says about hosts, as effects.

Each decoder is a pure function from a message's bytes (and who sent it) to a tuple of
effects; ``apply`` writes effects into a ``HostTable`` with the packet's time. Keeping
the two apart lets ``_frames`` remember the effects of a message and, when the same
announcement comes again (devices repeat them all day), only refresh what a later time
can change: which MAC an address belongs to.

DHCP options are walked by hand: ``dpkt.dhcp`` copies the rest of the packet for every
option (quadratic on a padded, hostile packet) and does not check the magic cookie.
DNS records are walked with dnspython's wire parser and name decoder (which guard
against compression-pointer loops) rather than ``dns.message.from_wire``: building a
whole message, rdata objects and de-duplicated rrsets costs ~0.75 ms per announcement,
this a small fraction of that.

Must not: keep state, read files, or raise anything for hostile bytes but the errors in
``DECODE_ERRORS``.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import dns.exception
import dns.name
import dns.wire

from fleetwarden.adapters.discovery.passive._common import (
    RANK_DHCP,
    RANK_MDNS,
    UPNP_LOCATION,
    UPNP_USN,
    device_mac,
)
from fleetwarden.adapters.discovery.passive._hosts import HostTable
from fleetwarden.domain.discovery import Field, bounded

MDNS_PORT, SSDP_PORT = 5353, 1900
HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ",
                b"CONNECT ", b"TRACE ")
#: Effect kinds: (BIND, ip, mac, strength), (SEEN, mac), (FIELD, on_mac, key, field,
#: text), (NAME, on_mac, key, name, rank), (SERVICE, ip, port, transport, name,
#: ((field, text), ...), (tls version, CertificateInfo) | None).
BIND, SEEN, FIELD, NAME, SERVICE = range(5)
Effect = tuple[Any, ...]
_DHCP_COOKIE = b"\x63\x82\x53\x63"
_DHCP_REQUEST, _DHCP_ACK = b"\x03", b"\x05"
_A, _PTR, _TXT, _SRV = 1, 12, 16, 33
_DNS_SD = "_services._dns-sd._udp"


class Malformed(ValueError):
    """The message is not what its headers say."""


DECODE_ERRORS = (Malformed, IndexError, struct.error, UnicodeError, OSError,
                 dns.exception.DNSException)
"""What hostile bytes can raise from a decoder; anything else is a bug and propagates."""


def apply(table: HostTable, effects: tuple[Effect, ...], ts: int) -> None:
    """Write ``effects`` into ``table`` as seen at ``ts`` (microseconds)."""
    for effect in effects:
        kind = effect[0]
        if kind == BIND:
            table.bind(effect[1], effect[2], ts, effect[3])
        elif kind == SEEN:
            table.mac(effect[1], ts)
        elif kind == SERVICE:
            facts = table.ip(effect[1], ts)
            if facts is not None:
                service = facts.service(effect[2], effect[3], effect[4], ts)
                for name, text in effect[5]:
                    service.field(name, text, ts)
                if effect[6] is not None:
                    service.tls(effect[6][0], effect[6][1], ts)
        else:
            facts = table.mac(effect[2], ts) if effect[1] else table.ip(effect[2], ts)
            if facts is not None:
                if kind == FIELD:
                    facts.field(effect[3], effect[4], ts)
                else:
                    facts.name(effect[3], effect[4], ts)


def ip4(raw: bytes) -> str | None:
    """The dotted address if it can be a device's own (not 0/8, multicast, broadcast)."""
    if len(raw) != 4 or raw[0] == 0 or raw[0] >= 224:
        return None
    return socket.inet_ntoa(raw)


# ------------------------------------------------------------------------- ARP
def arp(body: bytes) -> tuple[Effect, ...]:
    """The sender's MAC and address (Ethernet/IPv4 ARP only); a probe (sender address
    0.0.0.0) only shows the MAC."""
    if len(body) < 28:
        raise Malformed("ARP message cut short")
    if body[:6] != b"\x00\x01\x08\x00\x06\x04":
        return ()
    mac = device_mac(body[8:14])
    if mac is None:
        return ()
    ip = ip4(body[14:18])
    return ((SEEN, mac),) if ip is None else ((BIND, ip, mac, 1),)


# ------------------------------------------------------------------------ DHCP
def dhcp(p: bytes) -> tuple[Effect, ...]:
    """Client facts from BOOTREQUESTs (hostname, option 55, vendor class); the address
    from a REQUEST (weakly: the server may refuse it) and from an ACK."""
    if len(p) < 240 or p[236:240] != _DHCP_COOKIE:
        raise Malformed("not a DHCP message")
    mac = device_mac(p[28:34]) if p[1] == 1 and p[2] == 6 else None
    if mac is None:
        return ()
    opts = _dhcp_options(p, 240)
    kind = opts.get(53, b"")[:1]
    out: list[Effect] = [(SEEN, mac)]
    if p[0] == 1:
        if 12 in opts:
            out += [(FIELD, True, mac, Field.DHCP_HOSTNAME, opts[12]),
                    (NAME, True, mac, opts[12], RANK_DHCP)]
        if 55 in opts:
            out.append((FIELD, True, mac, Field.DHCP_PARAMETER_LIST,
                        ",".join(str(b) for b in opts[55])))
        if 60 in opts:
            out.append((FIELD, True, mac, Field.DHCP_VENDOR_CLASS, opts[60]))
        if kind == _DHCP_REQUEST:
            wanted = opts.get(50, b"")
            ip = ip4(wanted if len(wanted) == 4 else p[12:16])
            if ip is not None:
                out.append((BIND, ip, mac, 0))
    elif p[0] == 2 and kind == _DHCP_ACK:
        ip = ip4(p[16:20])
        if ip is not None:
            out.append((BIND, ip, mac, 1))
    return tuple(out)


def _dhcp_options(p: bytes, at: int) -> dict[int, bytes]:
    """Options up to END; the first of a repeated code wins. Lengths are checked."""
    out: dict[int, bytes] = {}
    n = len(p)
    while at < n:
        code = p[at]
        if code == 255:
            break
        if code == 0:
            at += 1
            continue
        if at + 2 > n or at + 2 + p[at + 1] > n:
            raise Malformed(f"DHCP option {code} runs past the end")
        size = p[at + 1]
        out.setdefault(code, p[at + 2:at + 2 + size])
        at += 2 + size
    return out


# ------------------------------------------------------------------------ mDNS
def mdns(ip: str, sport: int, payload: bytes) -> tuple[Effect, ...]:
    """DNS-SD service types (PTR, SRV owners), TXT pairs and host names (SRV targets, A
    records) of an mDNS response; nothing from a query."""
    if len(payload) < 12:
        raise Malformed("DNS header cut short")
    if not payload[2] & 0x80:
        return ()
    questions, *records = struct.unpack_from("!HHHH", payload, 4)
    parser = dns.wire.Parser(payload, 12)
    for _ in range(questions):
        dns.name.from_wire_parser(parser)
        parser.get_bytes(4)
    services: dict[str, None] = {}
    txt: dict[str, None] = {}
    out: list[Effect] = []
    for _ in range(sum(records)):
        owner = dns.name.from_wire_parser(parser)
        rtype, _, _, size = struct.unpack("!HHIH", parser.get_bytes(10))
        with parser.restrict_to(size):
            if rtype == _PTR:
                kind, target = _service_type(owner), dns.name.from_wire_parser(parser)
                if kind == _DNS_SD:
                    kind = _service_type(target)
                if kind and kind != _DNS_SD:
                    services.setdefault(kind, None)
            elif rtype == _SRV:
                parser.get_bytes(6)  # priority, weight, port
                kind = _service_type(owner)
                if kind and kind != _DNS_SD:
                    services.setdefault(kind, None)
                name = _host_label(dns.name.from_wire_parser(parser))
                if name:
                    out.append((NAME, False, ip, name, RANK_MDNS))
            elif rtype == _TXT:
                while parser.remaining():
                    text = bounded(parser.get_counted_bytes())
                    if text:
                        txt.setdefault(text, None)
            elif rtype == _A and size == 4:
                name, address = _host_label(owner), ip4(parser.get_bytes(4))
                if name and address:
                    out.append((NAME, False, address, name, RANK_MDNS))
            else:
                parser.get_bytes(size)
    out += [(FIELD, False, ip, Field.MDNS_SERVICES, kind) for kind in services]
    out += [(FIELD, False, ip, Field.MDNS_TXT, text) for text in txt]
    if sport == MDNS_PORT:
        out.append((SERVICE, ip, MDNS_PORT, "udp", "mdns", (), None))
    return tuple(out)


def _service_type(name: dns.name.Name) -> str | None:
    """``_http._tcp`` for ``x._http._tcp.local.`` (the two labels before ``local``)."""
    labels = [label.decode("utf-8", "replace").lower() for label in name.labels if label]
    if labels[-4:] == ["_services", "_dns-sd", "_udp", "local"]:
        return _DNS_SD
    if len(labels) >= 3 and labels[-1] == "local" and labels[-2] in ("_tcp", "_udp") \
            and labels[-3].startswith("_"):
        return bounded(".".join(labels[-3:-1]))
    return None


def _host_label(name: dns.name.Name) -> str:
    """``cam-01`` for ``cam-01.local.``: the name a host gave itself."""
    labels = [label.decode("utf-8", "replace") for label in name.labels if label]
    if labels and labels[-1].lower() == "local":
        labels = labels[:-1]
    return bounded(".".join(labels)) or ""


# ------------------------------------------------------------------------ SSDP
def ssdp(ip: str, sport: int, dport: int, payload: bytes) -> tuple[Effect, ...]:
    """NOTIFY (to port 1900) and search responses (from 1900): SERVER, LOCATION, USN
    and the device type; M-SEARCH is a client asking, not a device telling."""
    if not (payload.startswith(b"NOTIFY ") and dport == SSDP_PORT
            or payload.startswith(b"HTTP/1.") and sport == SSDP_PORT):
        return ()
    headers = headers_of(payload)
    fields = [(Field.UPNP_SERVER, headers.get("server")),
              (UPNP_LOCATION, headers.get("location")), (UPNP_USN, headers.get("usn"))]
    kind = headers.get("nt") or headers.get("st") or ""
    if kind.startswith("urn:") and ":device:" in kind:
        fields.append((Field.UPNP_DEVICE_TYPE, kind))
    return ((SERVICE, ip, SSDP_PORT, "udp", "ssdp", tuple(f for f in fields if f[1]), None),)


# ------------------------------------------------------------------------ HTTP
def http(ip: str, sport: int, payload: bytes) -> tuple[Effect, ...]:
    """A request's User-Agent (a client fact) or a response's Server header (a fact
    of the service on ``sport``)."""
    if payload.startswith(b"HTTP/1."):
        server = headers_of(payload[:8192]).get("server")
        return ((SERVICE, ip, sport, "tcp", "http",
                 ((Field.HTTP_SERVER, server),) if server else (), None),)
    agent = headers_of(payload[:8192]).get("user-agent")
    return ((FIELD, False, ip, Field.HTTP_USER_AGENT, agent),) if agent else ()


def headers_of(payload: bytes) -> dict[str, str]:
    """HTTP-style header lines (lower-case names, first wins) up to the blank line."""
    head = payload.split(b"\r\n\r\n", 1)[0]
    out: dict[str, str] = {}
    for line in head.split(b"\n")[1:128]:
        name, sep, value = line.partition(b":")
        if sep:
            key = name.strip().lower().decode("latin-1")
            out.setdefault(key, bounded(value.strip()) or "")
    return out
