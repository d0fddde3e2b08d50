"""Decodes the frames of a capture that say something about a device into a HostTable.

ARP and DHCP bind an address to a MAC; DHCP also gives the hostname, the parameter
request list (option 55) and the vendor class (option 60); mDNS responses give DNS-SD
service types, TXT records and names; SSDP NOTIFY and search responses give SERVER,
LOCATION and USN; a SYN-ACK shows an open port; an HTTP request shows the client's
User-Agent and a response the server's Server header; a TLS ClientHello shows SNI and a
server's first flight its version and certificate.

Unicast IP facts go to the IP address, never to the frame's MAC, which may be a
router's; ARP, DHCP and link-local multicast (which is never routed) say which MAC an
address is. ``_walk`` drops uninteresting frames before they get here; this module
decodes the rest in full, checking every length.

Devices repeat themselves: the same ARP, DHCP renewal, announcement or update check,
hour after hour. The effects of each distinct message (keyed by its sender and bytes,
DHCP without its transaction id) are remembered, and a repeat only refreshes the
address bindings, the one thing a later time can change. TLS is never taken from this
memory: every handshake is read.

Must not: read files, keep more than ``MAX_FLOWS`` TLS streams, ``MAX_HANDSHAKE`` bytes
of one or ``MEMORY_BYTES`` of remembered messages, or raise anything for hostile bytes
but ``DECODE_ERRORS`` (the caller counts the packet as malformed and goes on).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from fleetwarden.adapters.discovery.passive import _protocols as proto
from fleetwarden.adapters.discovery.passive import _tls
from fleetwarden.adapters.discovery.passive._common import device_mac
from fleetwarden.adapters.discovery.passive._hosts import HostTable
from fleetwarden.adapters.discovery.passive._protocols import (
    BIND,
    DECODE_ERRORS,
    FIELD,
    SERVICE,
    Effect,
    Malformed,
)
from fleetwarden.domain.discovery import CertificateInfo, Field

__all__ = ["DECODE_ERRORS", "Decoder", "Malformed"]

LINKTYPE_ETHERNET, LINKTYPE_SLL, LINKTYPE_SLL2 = 1, 113, 276
SUPPORTED_LINKTYPES = {LINKTYPE_ETHERNET: "Ethernet", LINKTYPE_SLL: "Linux cooked (SLL)",
                       LINKTYPE_SLL2: "Linux cooked v2 (SLL2)"}
ETH_IP4, ETH_ARP, ETH_IP6 = 0x0800, 0x0806, 0x86DD
VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100})
DHCP_PORTS = frozenset({67, 68})
_DHCP_LOW = frozenset({67, 68})
"""The low bytes of the DHCP ports (whose high bytes are 0)."""
UDP_PORTS = frozenset({67, 68, proto.MDNS_PORT, proto.SSDP_PORT})
#: First payload bytes worth a look on TCP: a TLS handshake record, an HTTP method or
#: ``HTTP/`` (GET, POST/PUT/PATCH, HEAD, DELETE, OPTIONS, CONNECT, TRACE).
TCP_FIRST = frozenset(b"\x16GPHDOCT")
#: TLS streams followed at once; the oldest is dropped beyond this.
MAX_FLOWS = 4096
#: Bytes of remembered messages (keys) before the memory starts afresh.
MEMORY_BYTES = 32 * 1024 * 1024
_CERTIFICATES = 4096
COUNTED = ("arp", "dhcp", "mdns", "ssdp", "http", "open_ports", "tls_client_hello",
           "tls_server_hello", "certificates", "fragments")
_TLS_PORT_NAMES = {443: "https", 8443: "https", 4443: "https", 8883: "mqtts"}


class _Flow:
    """A TLS handshake being read from one direction of a TCP connection."""

    __slots__ = ("stream", "ip", "port", "version", "reported")

    def __init__(self, seq: int, ip: str, port: int) -> None:
        self.stream = _tls.HandshakeStream(seq)
        self.ip = ip
        self.port = port
        self.version: str | None = None
        self.reported = False
        """The server's version was written to the table."""


class Decoder:
    """Turns frames into facts in ``table``; one per capture (or part of one)."""

    def __init__(self, table: HostTable) -> None:
        self.table = table
        self.flows: dict[bytes, _Flow] = {}
        self.counts = dict.fromkeys(COUNTED, 0)
        self._known: dict[bytes, tuple[int, tuple[tuple[str, str, int], ...], str]] = {}
        """message key -> (time first applied, its bindings (ip, mac, strength), counter)"""
        self._known_bytes = 0
        self._certificates: dict[bytes, CertificateInfo] = {}

    # ------------------------------------------------------------------ link layer
    def frame(self, ts: int, linktype: int, f: bytes) -> None:
        n = len(f)
        if linktype == LINKTYPE_ETHERNET:
            if n < 14:
                raise Malformed("Ethernet header cut short")
            src_mac, multicast = f[6:12], bool(f[0] & 1)
            etype, at = (f[12] << 8) | f[13], 14
            while etype in VLAN_TAGS:
                if n < at + 4:
                    raise Malformed("VLAN tag cut short")
                etype, at = (f[at + 2] << 8) | f[at + 3], at + 4
        elif linktype == LINKTYPE_SLL:
            if n < 16:
                raise Malformed("SLL header cut short")
            src_mac = f[6:12] if ((f[4] << 8) | f[5]) == 6 else b""
            etype, at, multicast = (f[14] << 8) | f[15], 16, False
        elif linktype == LINKTYPE_SLL2:
            if n < 20:
                raise Malformed("SLL2 header cut short")
            src_mac = f[12:18] if f[11] == 6 else b""
            etype, at, multicast = (f[0] << 8) | f[1], 20, False
        else:
            return
        if etype == ETH_IP4:
            if n < at + 20:
                raise Malformed("IPv4 header cut short")
            ihl, total = (f[at] & 15) * 4, (f[at + 2] << 8) | f[at + 3]
            if f[at] >> 4 != 4 or ihl < 20 or total < ihl:
                raise Malformed("bad IPv4 header")
            if ((f[at + 6] << 8) | f[at + 7]) & 0x3FFF:  # a fragment: whole datagrams only
                self.counts["fragments"] += 1
                return
            src = f[at + 12:at + 16]
            self._transport(ts, f[at + 9], proto.ip4(src), src + f[at + 16:at + 20], src_mac,
                            multicast or f[at + 16] >= 224, f, at + ihl, at + total)
        elif etype == ETH_IP6:
            if n < at + 40:
                raise Malformed("IPv6 header cut short")
            if f[at] >> 4 != 6:
                raise Malformed("bad IPv6 header")
            raw = f[at + 8:at + 24]
            ip = None if raw[0] == 0xFF or not any(raw) else socket.inet_ntop(
                socket.AF_INET6, raw)
            self._transport(ts, f[at + 6], ip, f[at + 8:at + 40], src_mac,
                            multicast or f[at + 24] == 0xFF, f, at + 40,
                            at + 40 + ((f[at + 4] << 8) | f[at + 5]))
        elif etype == ETH_ARP:
            body = f[at:at + 28]
            self._remembered(ts, b"A" + body, "arp", None, None, proto.arp, body)

    # ------------------------------------------------------------- seen before
    def known(self, ts: int, buf: bytes, at: int, end: int) -> bool:
        """Deal with an Ethernet frame in ``buf[at:end]`` (IPv4 without options, or ARP)
        without decoding it, if it is a message seen before at an earlier time; False
        means it must go to ``frame``. The keys are those ``frame`` remembers by."""
        if buf[at + 13] == 6:  # ARP
            key = b"A" + buf[at + 14:at + 42]
        elif (buf[at + 20] << 8 | buf[at + 21]) & 0x3FFF:  # a fragment
            return False
        else:
            protocol = buf[at + 23]
            ip_end = at + 14 + (buf[at + 16] << 8 | buf[at + 17])
            if ip_end > end:
                ip_end = end
            if protocol == 17:
                local = (buf[at] & 1 or buf[at + 30] >= 224) and 0 < buf[at + 26] < 224
                key = _udp_key(buf[at + 34:at + 38], buf[at + 6:at + 12], buf[at + 26:at + 30],
                               local, buf[at + 42:ip_end])
            elif protocol == 6:
                tcp = at + 34
                data = tcp + ((buf[tcp + 12] >> 4) << 2)
                if data >= ip_end:
                    if buf[tcp + 13] & 0x12 != 0x12:
                        return False
                    key = b"O" + buf[at + 26:at + 30] + buf[tcp:tcp + 2]
                elif self.flows and buf[at + 26:at + 38] in self.flows:
                    return False
                else:
                    key = b"".join((b"H", buf[at + 26:at + 30], buf[tcp:tcp + 2],
                                    buf[data:ip_end if ip_end - data <= 8192 else data + 8192]))
            else:
                return False
        known = self._known.get(key)
        if known is None or ts < known[0]:
            return False
        self.counts[known[2]] += 1
        if known[1]:
            bind = self.table.bind
            for ip, mac, strength in known[1]:
                bind(ip, mac, ts, strength)
        return True

    # ------------------------------------------------------------- transport layer
    def _transport(self, ts: int, protocol: int, ip: str | None, addresses: bytes,
                   src_mac: bytes, multicast: bool, f: bytes, at: int, end: int) -> None:
        """``ip``: the sender if it can be a device; ``addresses``: source and
        destination as sent; ``end``: where the IP packet ends (may be past the frame
        when the capture's snap length cut it)."""
        cut = end > len(f)
        if protocol == 17:
            if min(end, len(f)) < at + 8:
                raise Malformed("UDP header cut short")
            sport, dport = (f[at] << 8) | f[at + 1], (f[at + 2] << 8) | f[at + 3]
            payload = f[at + 8:end]
            # Link-local multicast is never routed: its sender's MAC is the frame's.
            local = src_mac if multicast and ip is not None else None
            key = _udp_key(f[at:at + 4], src_mac, addresses[:len(addresses) // 2], local,
                           payload)
            if sport in DHCP_PORTS and dport in DHCP_PORTS:
                self._remembered(ts, key, "dhcp", ip, local, proto.dhcp, payload)
            elif ip is None:
                return
            elif proto.MDNS_PORT in (sport, dport):
                self._remembered(ts, key, "mdns", ip, local, proto.mdns, ip, sport, payload)
            elif proto.SSDP_PORT in (sport, dport):
                self._remembered(ts, key, "ssdp", ip, local, proto.ssdp, ip, sport, dport,
                                 payload)
        elif protocol == 6 and ip is not None:
            if min(end, len(f)) < at + 20:
                raise Malformed("TCP header cut short")
            offset = (f[at + 12] >> 4) * 4
            if offset < 20:
                raise Malformed("bad TCP header length")
            sport = (f[at] << 8) | f[at + 1]
            if f[at + 13] & 0x12 == 0x12:  # SYN-ACK: an open port
                self._remembered(ts, b"O" + addresses[:len(addresses) // 2] + f[at:at + 2],
                                 "open_ports", ip, None, _open_port, ip, sport)
            payload = f[at + offset:end]
            if not payload:
                return
            key = addresses + f[at:at + 4]
            flow = self.flows.get(key)
            if flow is None and payload[0] == _tls.HANDSHAKE and len(payload) >= 6 \
                    and payload[1] == 3 and payload[5] in (_tls.CLIENT_HELLO,
                                                          _tls.SERVER_HELLO):
                flow = _Flow(int.from_bytes(f[at + 4:at + 8], "big"), ip, sport)
                if not self._tls(ts, flow, flow.stream.next_seq, payload, cut):
                    if len(self.flows) >= MAX_FLOWS:  # a handshake in several segments
                        del self.flows[next(iter(self.flows))]
                    self.flows[key] = flow
            elif flow is not None:
                try:
                    done = self._tls(ts, flow, int.from_bytes(f[at + 4:at + 8], "big"), payload,
                                     cut)
                except Malformed:
                    del self.flows[key]
                    raise
                if done:
                    del self.flows[key]
            elif payload.startswith(proto.HTTP_METHODS) or payload.startswith(b"HTTP/1."):
                self._remembered(ts, b"".join((b"H", addresses[:len(addresses) // 2],
                                               f[at:at + 2], payload[:8192])),
                                 "http", ip, None, proto.http, ip, sport, payload)

    # ------------------------------------------------------------------- memory
    def _remembered(self, ts: int, key: bytes, counter: str, ip: str | None,
                    local: bytes | None, decode: Callable[..., tuple[Effect, ...]],
                    *args: object) -> None:
        """Apply what the message says; a message seen before (at an earlier time) only
        refreshes its address bindings, as everything else keeps its first sight.
        ``local``: the frame's source MAC when the message was link-local multicast
        from ``ip`` (so ``ip`` is that MAC's)."""
        self.counts[counter] += 1
        known = self._known.get(key)
        if known is not None and ts >= known[0]:
            for bound_ip, mac, strength in known[1]:
                self.table.bind(bound_ip, mac, ts, strength)
            return
        effects = decode(*args)
        sender = device_mac(local) if local else None
        if ip is not None and sender is not None:
            effects = ((BIND, ip, sender, 1), *effects)
        proto.apply(self.table, effects, ts)
        if known is None:
            if self._known_bytes > MEMORY_BYTES:
                self._known.clear()
                self._known_bytes = 0
            self._known_bytes += len(key)
        self._known[key] = (ts, tuple((e[1], e[2], e[3]) for e in effects if e[0] == BIND),
                            counter)

    # ------------------------------------------------------------------------ TLS
    def _tls(self, ts: int, flow: _Flow, seq: int, payload: bytes, cut: bool) -> bool:
        """Read a segment of a handshake; True when there is nothing more to read."""
        stream = flow.stream
        if cut:  # the capture's snap length cut the segment: the stream has a hole
            return True
        certificate: CertificateInfo | None = None
        try:
            for kind, body in stream.feed(seq, payload):
                if kind == _tls.CLIENT_HELLO:
                    self.counts["tls_client_hello"] += 1
                    sni = _tls.client_hello_sni(body)
                    if sni:
                        proto.apply(self.table, ((FIELD, False, flow.ip, Field.TLS_SNI, sni),),
                                    ts)
                    return True
                if kind == _tls.SERVER_HELLO:
                    self.counts["tls_server_hello"] += 1
                    flow.version = _tls.server_hello_version(body)
                    stream.closed = flow.version == "TLSv1.3"  # the rest is encrypted
                elif kind == _tls.CERTIFICATE:
                    certificate = self._certificate(_tls.leaf_certificate(body))
                    stream.closed = True
                elif kind == _tls.SERVER_HELLO_DONE:
                    stream.closed = True
                if stream.closed:
                    break
        except ValueError as exc:  # TlsError, or a certificate that cannot be read
            raise Malformed(f"TLS: {exc}") from None
        finally:
            if flow.version and (certificate or stream.closed or not flow.reported):
                self._server(ts, flow, certificate)
        return stream.closed

    def _certificate(self, der: bytes | None) -> CertificateInfo | None:
        if der is None:
            return None
        self.counts["certificates"] += 1
        certificate = self._certificates.get(der)
        if certificate is None:
            certificate = _tls.certificate_info(der)  # ValueError: malformed
            if len(self._certificates) >= _CERTIFICATES:
                self._certificates.clear()
            self._certificates[der] = certificate
        return certificate

    def _server(self, ts: int, flow: _Flow, certificate: CertificateInfo | None) -> None:
        """The server side's version (once) and certificate (when it comes)."""
        flow.reported = True
        fields = () if certificate is None else (
            (Field.TLS_SUBJECT, certificate.subject), (Field.TLS_ISSUER, certificate.issuer))
        name = _TLS_PORT_NAMES.get(flow.port, "tls")
        proto.apply(self.table, ((SERVICE, flow.ip, flow.port, "tcp", name, fields,
                                  (flow.version, certificate)),), ts)


def _udp_key(ports: bytes, src_mac: bytes, src: bytes, local: object, payload: bytes) -> bytes:
    """What identifies a UDP message: who sent it, to which ports, and its bytes (a DHCP
    message without what changes between renewals: transaction id and seconds)."""
    flag = b"\x01" if local else b"\x00"
    if ports[1] in _DHCP_LOW and ports[3] in _DHCP_LOW and not ports[0] | ports[2] \
            and payload[236:240] == b"\x63\x82\x53\x63":
        return b"".join((ports, src_mac, src, flag, payload[:4], payload[10:]))
    return b"".join((ports, src_mac, src, flag, payload))


def _open_port(ip: str, port: int) -> tuple[Effect, ...]:
    return ((SERVICE, ip, port, "tcp", "unknown", (), None),)
