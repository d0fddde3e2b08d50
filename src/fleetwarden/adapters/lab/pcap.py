"""Writes a packet capture of a lab estate's background traffic (``lab pcap``).

Passive discovery learns from what devices say on their own: DHCP fingerprints, ARP,
mDNS and SSDP announcements, the User-Agent of an update check, the certificate a TLS
service presents. This module writes that traffic for every device of a plan as a
classic libpcap file (Ethernet), one device after another, with timestamps counted from
a fixed start so the same plan gives the same file (apart from certificate bytes, which
are made per run directory). Packets are written as they are made, never held.

What a device announces (DNS-SD services, SSDP targets and LOCATION, the components its
DHCP client reveals) comes from the same functions the lab's responders use, so the
passive and the active view of a device agree.

Fictional infrastructure completes the picture: a gateway and DHCP server on each /24
(``.1`` unless a device has it), a management station and a firmware update server.
Their MACs are locally administered (``02:fa`` + the IPv4 address).

The TLS handshake shows only what the wire shows of a certificate grab: ClientHello,
then ServerHello, Certificate and ServerHelloDone, then the client hangs up. The cipher
suite is picked so that this server flight is complete without a ServerKeyExchange (no
signature can be made without the device's key), so suites here are not evidence of a
device's TLS settings; the certificate is.

Must not: open sockets, write anything but ``path`` (certificates are made by
``LabCertificates`` in its own directory), or hold the whole capture in memory.
"""

from __future__ import annotations

import email.utils
import hashlib
import ipaddress
import json
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dpkt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.SRV import SRV

from fleetwarden.adapters.lab.catalogue import families
from fleetwarden.adapters.lab.certs import LabCertificates
from fleetwarden.adapters.lab.plan import LabPlan
from fleetwarden.adapters.lab.protocols import ssdp
from fleetwarden.adapters.lab.protocols.base import component_version, header_value, wire
from fleetwarden.adapters.lab.protocols.dnssd import (
    HOST_TTL,
    OTHER_TTL,
    advertised,
    instance_label,
)
from fleetwarden.domain.lab import LabDevice, Service, Weakness
from fleetwarden.errors import InputError

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
MANAGEMENT_STATION = "127.20.2.50"
UPDATE_SERVER = "127.20.3.10"
UPDATE_HOST = "updates.northshire.example"
DHCP_DOMAIN = "lab.northshire.example"
#: Microseconds between the first packets of consecutive devices.
DEVICE_SLOT_US = 1_000_000
MSS = 1460
BROADCAST = "ff:ff:ff:ff:ff:ff"
MDNS_GROUP, MDNS_MAC = "224.0.0.251", "01:00:5e:00:00:fb"
SSDP_GROUP, SSDP_MAC = "239.255.255.250", "01:00:5e:7f:ff:fa"

_PRL_UDHCP = bytes([1, 3, 6, 12, 15, 28, 42])
_PRL_DHCPCD = bytes([1, 121, 33, 3, 6, 12, 15, 26, 28, 51, 54, 58, 59, 119])
_PRL_EMBEDDED = bytes([1, 3, 6, 15, 42])
_SYN_OPTIONS = b"\x02\x04" + MSS.to_bytes(2, "big") + b"\x01\x01\x04\x02"  # MSS, SACK ok
_CLIENT_SUITES = (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC02D, 0xC004,
                  0x009C, 0x002F, 0x000A)
_HANDSHAKE, _TLS12, _TLS10 = 22, 0x0303, 0x0301


# ------------------------------------------------------------------------ public
def write_pcap(
    plan: LabPlan,
    path: Path,
    certificates: LabCertificates | None,
    *,
    start: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the plan's background traffic to ``path``; returns the packets written."""
    if path.is_dir():
        raise InputError(f"{path} is a directory; give a file name such as estate.pcap")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: no such directory")
    moment = start or START
    if moment.tzinfo is None:  # a naive start means UTC, not the local zone
        moment = moment.replace(tzinfo=UTC)
    epoch_us = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    network = _Network(plan)
    try:
        with path.open("wb") as fh:
            out = _Wire(fh, epoch_us)
            for position, device in enumerate(plan.devices):
                out.now = epoch_us + position * DEVICE_SLOT_US
                https = device.service(Service.HTTPS)
                der = (certificates.certificate_der(device)
                       if certificates is not None and https is not None else None)
                _device_traffic(out, network, device, der)
                if progress is not None:
                    progress(position + 1, len(plan.devices))
    except BaseException:
        path.unlink(missing_ok=True)  # half a capture would pass for a quiet network
        raise
    return out.count


def vendor_class(device: LabDevice) -> str:
    """DHCP option 60 as the device's DHCP client sends it (udhcpc, dhcpcd or the
    vendor's own stack), from what its firmware contains."""
    busybox, linux = component_version(device, "busybox"), component_version(device, "linux")
    if busybox is not None:
        return f"udhcp {busybox}"
    if linux is not None:
        return f"dhcpcd-{_dhcpcd_version(linux)}:Linux-{linux}:armv7l"
    return f"{device.vendor} {device.model}"


# -------------------------------------------------------------------- topology
@dataclass(frozen=True, slots=True)
class _Host:
    mac: str
    ip: str


@dataclass(frozen=True, slots=True)
class _Side:
    """One end of a conversation as seen on the device's segment."""

    src_mac: str
    dst_mac: str
    ip: str
    port: int
    ttl: int


class _Network:
    """Where the fictional hosts live and which MAC a frame carries on the segment."""

    def __init__(self, plan: LabPlan) -> None:
        self.taken = {d.ip for d in plan.devices}
        self.gateways: dict[ipaddress.IPv4Network, _Host] = {}
        self.station = self._infra(MANAGEMENT_STATION)
        self.updates = self._infra(UPDATE_SERVER)
        self.newest = {(m["vendor"], m["model"]): str(m["firmware_versions"][-1])
                       for f in families().values() for m in f.models}

    def gateway(self, ip: str) -> _Host:
        net = _net24(ip)
        if net not in self.gateways:
            self.gateways[net] = self._infra(str(net.network_address + 1))
        return self.gateways[net]

    def toward(self, device: LabDevice, device_port: int, peer: _Host,
               peer_port: int) -> tuple[_Side, _Side]:
        """(device side, peer side) of a conversation, routed via the gateway when the
        peer is on another /24 (then the peer's frames carry the gateway's MAC)."""
        local = _net24(peer.ip) == _net24(device.ip)
        hop = peer.mac if local else self.gateway(device.ip).mac
        return (_Side(device.mac, hop, device.ip, device_port, 64),
                _Side(hop, device.mac, peer.ip, peer_port, 64 if local else 63))

    def _infra(self, preferred: str) -> _Host:
        """A free address near ``preferred`` (devices keep theirs) with a local MAC."""
        address = ipaddress.IPv4Address(preferred)
        net = _net24(preferred)
        candidates = [address] + [net.network_address + h for h in range(254, 0, -1)]
        ip = next((str(a) for a in candidates if str(a) not in self.taken), None)
        if ip is None:
            raise InputError(f"{net}: no free address for the lab's fictional hosts")
        self.taken.add(ip)
        return _Host("02:fa:" + ipaddress.IPv4Address(ip).packed.hex(":"), ip)


def _net24(ip: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{ip}/24", strict=False)


# ------------------------------------------------------------------------- wire
class _Wire:
    """The capture file: each frame a little later than the one before."""

    def __init__(self, fh: BinaryIO, now_us: int) -> None:
        self.writer = dpkt.pcap.Writer(fh, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        self.now = now_us
        self.count = 0
        self.ident = 0

    def frame(self, src_mac: str, dst_mac: str, etype: int, payload: dpkt.Packet,
              gap_us: int) -> None:
        self.now += gap_us
        frame = bytes(dpkt.ethernet.Ethernet(
            src=_mac(src_mac), dst=_mac(dst_mac), type=etype, data=payload))
        self.writer.writepkt(frame.ljust(60, b"\x00"), ts=self.now / 1e6)  # minimum frame
        self.count += 1

    def ip(self, src_mac: str, dst_mac: str, src: str, dst: str, transport: dpkt.Packet,
           *, ttl: int, gap_us: int) -> None:
        self.ident = (self.ident + 1) & 0xFFFF
        proto = dpkt.ip.IP_PROTO_TCP if isinstance(transport, dpkt.tcp.TCP) else \
            dpkt.ip.IP_PROTO_UDP
        packet = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto,
                            ttl=ttl, id=self.ident, df=1, data=transport)
        self.frame(src_mac, dst_mac, dpkt.ethernet.ETH_TYPE_IP, packet, gap_us)

    def udp(self, src: _Side, dst: _Side, payload: bytes, *, gap_us: int) -> None:
        datagram = dpkt.udp.UDP(sport=src.port, dport=dst.port, data=payload)
        datagram.ulen = 8 + len(payload)
        self.ip(src.src_mac, src.dst_mac, src.ip, dst.ip, datagram, ttl=src.ttl, gap_us=gap_us)

    def arp(self, src_mac: str, dst_mac: str, op: int, sender: _Host, target_mac: str,
            target_ip: str, *, gap_us: int) -> None:
        message = dpkt.arp.ARP(op=op, sha=_mac(sender.mac), spa=socket.inet_aton(sender.ip),
                               tha=_mac(target_mac), tpa=socket.inet_aton(target_ip))
        self.frame(src_mac, dst_mac, dpkt.ethernet.ETH_TYPE_ARP, message, gap_us)


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


class _TcpFlow:
    """One TCP connection with consistent sequence and acknowledgement numbers."""

    def __init__(self, out: _Wire, client: _Side, server: _Side, seed: str,
                 rtt_us: int) -> None:
        self.out, self.sides, self.rtt = out, (client, server), rtt_us
        self.seq = [_u32(f"{seed}:client-isn"), _u32(f"{seed}:server-isn")]

    def open(self) -> None:
        self._segment(0, dpkt.tcp.TH_SYN, opts=_SYN_OPTIONS, gap=0)
        self._segment(1, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, opts=_SYN_OPTIONS, gap=self.rtt)
        self._segment(0, dpkt.tcp.TH_ACK, gap=40)

    def send(self, sender: int, data: bytes, *, gap: int = 200) -> None:
        """``data`` from one side in MSS-sized segments, then the other side's ACK."""
        chunks = [data[i:i + MSS] for i in range(0, len(data), MSS)] or [b""]
        for n, chunk in enumerate(chunks):
            flags = dpkt.tcp.TH_ACK | (dpkt.tcp.TH_PUSH if n == len(chunks) - 1 else 0)
            self._segment(sender, flags, chunk, gap=gap if n == 0 else 15)
        self._segment(1 - sender, dpkt.tcp.TH_ACK, gap=self.rtt)

    def close(self, first: int) -> None:
        fin = dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK
        self._segment(first, fin, gap=100)
        self._segment(1 - first, fin, gap=self.rtt)
        self._segment(first, dpkt.tcp.TH_ACK, gap=40)

    def _segment(self, sender: int, flags: int, data: bytes = b"", *, opts: bytes = b"",
                 gap: int) -> None:
        src, dst = self.sides[sender], self.sides[1 - sender]
        ack = self.seq[1 - sender] if flags & dpkt.tcp.TH_ACK else 0
        segment = dpkt.tcp.TCP(sport=src.port, dport=dst.port, seq=self.seq[sender], ack=ack,
                               flags=flags, win=64240, opts=opts, data=data)
        segment.off = 5 + len(opts) // 4
        self.out.ip(src.src_mac, src.dst_mac, src.ip, dst.ip, segment, ttl=src.ttl, gap_us=gap)
        self.seq[sender] = (self.seq[sender] + len(data)
                            + (1 if flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0))
        self.seq[sender] &= 0xFFFFFFFF


def _digest(label: str, size: int = 32) -> bytes:
    return hashlib.blake2b(label.encode(), digest_size=size).digest()


def _u32(label: str) -> int:
    return int.from_bytes(_digest(label, 4), "big")


def _ephemeral_port(label: str) -> int:
    return 32768 + _u32(label) % 28232


# ----------------------------------------------------------------- per device
def _device_traffic(out: _Wire, network: _Network, device: LabDevice, der: bytes | None) -> None:
    """What one device's network sees, from boot to a management station's TLS probe."""
    me = _Host(device.mac, device.ip)
    gateway = network.gateway(device.ip)
    _dhcp(out, device, gateway)
    _arp(out, me, gateway)
    offered = {s.service for s in device.services}
    if Service.MDNS in offered:
        _mdns(out, device)
    if Service.SSDP in offered:
        _ssdp(out, device)
    _update_check(out, network, device)
    https = device.service(Service.HTTPS)
    if https is not None:
        _tls_probe(out, network, device, https.port, der)


def _arp(out: _Wire, me: _Host, gateway: _Host) -> None:
    """A gratuitous announcement of the leased address, then resolving the gateway."""
    zero = "00:00:00:00:00:00"
    out.arp(me.mac, BROADCAST, dpkt.arp.ARP_OP_REQUEST, me, zero, me.ip, gap_us=4_000)
    out.arp(me.mac, BROADCAST, dpkt.arp.ARP_OP_REQUEST, me, zero, gateway.ip, gap_us=2_000)
    out.arp(gateway.mac, me.mac, dpkt.arp.ARP_OP_REPLY, gateway, me.mac, me.ip, gap_us=300)


# ------------------------------------------------------------------------- DHCP
def _dhcp(out: _Wire, device: LabDevice, server: _Host) -> None:
    """DISCOVER, OFFER, REQUEST, ACK: the client asks for its previous address."""
    xid = _u32(f"{device.serial}:dhcp")
    client = _Side(device.mac, BROADCAST, "0.0.0.0", 68, 64)  # noqa: S104 - not a bind
    everyone = _Side(BROADCAST, device.mac, "255.255.255.255", 67, 64)
    to_client = _Side(server.mac, device.mac, server.ip, 67, 64)
    leased = _Side(device.mac, server.mac, device.ip, 68, 64)
    out.udp(client, everyone, _dhcp_client(device, xid, dpkt.dhcp.DHCPDISCOVER, None),
            gap_us=0)
    out.udp(to_client, leased, _dhcp_server(device, xid, dpkt.dhcp.DHCPOFFER, server),
            gap_us=1_200)
    out.udp(client, everyone, _dhcp_client(device, xid, dpkt.dhcp.DHCPREQUEST, server),
            gap_us=900)
    out.udp(to_client, leased, _dhcp_server(device, xid, dpkt.dhcp.DHCPACK, server),
            gap_us=1_100)


def _dhcp_client(device: LabDevice, xid: int, kind: int, server: _Host | None) -> bytes:
    kind_opts = [(dpkt.dhcp.DHCP_OPT_MSGTYPE, bytes([kind])),
                 (61, b"\x01" + _mac(device.mac)),
                 (dpkt.dhcp.DHCP_OPT_REQ_IP, socket.inet_aton(device.ip))]
    if server is not None:
        kind_opts.append((dpkt.dhcp.DHCP_OPT_SERVER_ID, socket.inet_aton(server.ip)))
    opts = [*kind_opts,
            (57, (576).to_bytes(2, "big")),
            (dpkt.dhcp.DHCP_OPT_HOSTNAME, wire(device.hostname)[:255]),
            (dpkt.dhcp.DHCP_OPT_VENDOR_ID, wire(vendor_class(device))[:255]),
            (dpkt.dhcp.DHCP_OPT_PARAM_REQ, _parameter_requests(device))]
    return _bootp(dpkt.dhcp.DHCP_OP_REQUEST, device, xid, opts, yiaddr="0.0.0.0")  # noqa: S104


def _dhcp_server(device: LabDevice, xid: int, kind: int, server: _Host) -> bytes:
    net = _net24(device.ip)
    gateway = socket.inet_aton(server.ip)
    opts = [(dpkt.dhcp.DHCP_OPT_MSGTYPE, bytes([kind])),
            (dpkt.dhcp.DHCP_OPT_SERVER_ID, gateway),
            (dpkt.dhcp.DHCP_OPT_LEASE_SEC, (86400).to_bytes(4, "big")),
            (58, (43200).to_bytes(4, "big")), (59, (75600).to_bytes(4, "big")),
            (dpkt.dhcp.DHCP_OPT_NETMASK, net.netmask.packed),
            (28, net.broadcast_address.packed),
            (dpkt.dhcp.DHCP_OPT_ROUTER, gateway),
            (dpkt.dhcp.DHCP_OPT_DNS_SVRS, gateway),
            (dpkt.dhcp.DHCP_OPT_DOMAIN, DHCP_DOMAIN.encode())]
    return _bootp(dpkt.dhcp.DHCP_OP_REPLY, device, xid, opts, yiaddr=device.ip)


def _bootp(op: int, device: LabDevice, xid: int, opts: list[tuple[int, bytes]],
           *, yiaddr: str) -> bytes:
    message = dpkt.dhcp.DHCP(op=op, xid=xid, chaddr=_mac(device.mac).ljust(16, b"\x00"),
                             yiaddr=int(ipaddress.IPv4Address(yiaddr)), opts=opts)
    raw = bytes(message)
    return raw.ljust(300, b"\x00")  # BOOTP's minimum size, as real clients pad


def _parameter_requests(device: LabDevice) -> bytes:
    if component_version(device, "busybox") is not None:
        return _PRL_UDHCP
    return _PRL_DHCPCD if component_version(device, "linux") is not None else _PRL_EMBEDDED


def _dhcpcd_version(linux: str) -> str:
    """An era-appropriate dhcpcd for the kernel (old firmware, old userland)."""
    major = int(linux.split(".", 1)[0]) if linux.split(".", 1)[0].isdigit() else 0
    return "9.4.1" if major >= 5 else "6.11.5"


# ------------------------------------------------------------------ mDNS, SSDP
def _mdns(out: _Wire, device: LabDevice) -> None:
    """An unsolicited announcement of the persona's DNS-SD services and the address."""
    src = _Side(device.mac, MDNS_MAC, device.ip, 5353, 255)
    out.udp(src, _Side(MDNS_MAC, device.mac, MDNS_GROUP, 5353, 255), mdns_announcement(device),
            gap_us=120_000)


def mdns_announcement(device: LabDevice) -> bytes:
    """The DNS message (PTR, SRV, TXT per advertised service, then A) a device multicasts:
    the records the lab's mDNS responder answers with (``dnssd.advertised``)."""
    message = dns.message.Message(id=0)
    message.flags = dns.flags.QR | dns.flags.AA
    label = instance_label(device)
    host = dns.name.Name([label, b"local", b""])
    for advert in advertised(device):
        service = dns.name.Name([*advert.labels, b"local", b""])
        instance = dns.name.Name([label]).concatenate(service)
        _rr(message, service, OTHER_TTL, PTR(dns.rdataclass.IN, dns.rdatatype.PTR, instance))
        _rr(message, instance, HOST_TTL,
            SRV(dns.rdataclass.IN, dns.rdatatype.SRV, 0, 0, advert.port, host))
        _rr(message, instance, OTHER_TTL, TXT(dns.rdataclass.IN, dns.rdatatype.TXT, advert.txt))
    _rr(message, host, HOST_TTL, A(dns.rdataclass.IN, dns.rdatatype.A, device.ip))
    return message.to_wire()


def _rr(message: dns.message.Message, name: dns.name.Name, ttl: int,
        rdata: dns.rdata.Rdata) -> None:
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdata.rdtype)
    rrset.add(rdata, ttl)
    message.answer.append(rrset)


def _ssdp(out: _Wire, device: LabDevice) -> None:
    """``ssdp:alive`` for the root device, its UDN and its device type (the targets the
    lab's SSDP answers name); nothing from a device with no UPnP description."""
    src = _Side(device.mac, SSDP_MAC, device.ip, 1900, 2)
    group = _Side(SSDP_MAC, device.mac, SSDP_GROUP, 1900, 2)
    for nt, usn in ssdp.targets(device):
        message = ssdp_notify(device, nt, usn)
        if message is None:
            return
        out.udp(src, group, message, gap_us=30_000)


def ssdp_notify(device: LabDevice, nt: bytes, usn: bytes) -> bytes | None:
    """One SSDP NOTIFY ssdp:alive message; None when there is no description to point at
    (no UPnP service, as the lab's SSDP responder then stays silent too)."""
    location = ssdp.location(device)
    if location is None:
        return None
    lines = [
        b"NOTIFY * HTTP/1.1",
        b"HOST: 239.255.255.250:1900",
        b"CACHE-CONTROL: max-age=1800",
        b"LOCATION: " + location,
        b"NT: " + header_value(nt),
        b"NTS: ssdp:alive",
        b"SERVER: " + ssdp.server(device),
        b"USN: " + header_value(usn),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


# ------------------------------------------------------------ HTTP update check
def _update_check(out: _Wire, network: _Network, device: LabDevice) -> None:
    """The device asks the update server whether its firmware is the newest."""
    port = _ephemeral_port(f"{device.serial}:http")
    mine, server = network.toward(device, port, network.updates, 80)
    flow = _TcpFlow(out, mine, server, f"{device.serial}:http", rtt_us=1_500)
    out.now += 150_000
    flow.open()
    flow.send(0, update_request(device))
    newest = network.newest.get((device.vendor, device.model), device.firmware_version)
    flow.send(1, _update_response(device, newest, out.now), gap=4_000)
    flow.close(1)


def update_request(device: LabDevice) -> bytes:
    """The HTTP request; its User-Agent names vendor, model and firmware."""
    path = (f"/v1/firmware/{quote(device.vendor, safe='')}/{quote(device.model, safe='')}"
            f"/latest?current={quote(device.firmware_version, safe='')}")
    return (f"GET {path} HTTP/1.1\r\n".encode() +
            f"Host: {UPDATE_HOST}\r\n".encode() +
            b"User-Agent: FirmwareUpdater/1.0 (" + header_value(device.vendor) + b"; " +
            header_value(device.model) + b"; " + header_value(device.firmware_version) +
            b")\r\n" +
            b"Accept: application/json\r\nConnection: close\r\n\r\n")


def _update_response(device: LabDevice, newest: str, now_us: int) -> bytes:
    body = json.dumps({
        "vendor": device.vendor, "model": device.model, "current": device.firmware_version,
        "latest": newest, "update_available": newest != device.firmware_version,
    }).encode()
    date = email.utils.formatdate(now_us / 1e6, usegmt=True)
    head = (f"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: {date}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode() + body


# --------------------------------------------------------------------- TLS probe
def _tls_probe(out: _Wire, network: _Network, device: LabDevice, port: int,
               der: bytes | None) -> None:
    """The management station grabs the device's certificate and hangs up."""
    mine, station = network.toward(device, port, network.station,
                                   _ephemeral_port(f"{device.serial}:tls"))
    seed = f"{device.serial}:tls"
    flow = _TcpFlow(out, station, mine, seed, rtt_us=800)
    out.now += 200_000
    flow.open()
    flow.send(0, client_hello(device.hostname, _digest(f"{seed}:client-random")))
    suite = _cipher_suite(device, der)
    flight = server_flight(suite, _digest(f"{seed}:server-random"),
                           _digest(f"{seed}:session"), der)
    flow.send(1, flight, gap=1_500)
    flow.close(0)


def client_hello(hostname: str, random: bytes) -> bytes:
    """A TLS 1.2 ClientHello record with SNI = ``hostname``."""
    name = wire(hostname)[:255]
    extensions = b"".join([
        _extension(0, _vec(b"\x00" + _vec(name, 2), 2)),                 # server_name
        _extension(10, _vec(_u16s((0x001D, 0x0017, 0x0018)), 2)),      # supported_groups
        _extension(11, _vec(b"\x00", 1)),                                # ec_point_formats
        _extension(13, _vec(_u16s((0x0403, 0x0804, 0x0401, 0x0503, 0x0201)), 2)),
        _extension(0xFF01, _vec(b"", 1)),                                # renegotiation_info
    ])
    body = (struct.pack("!H", _TLS12) + random + _vec(b"", 1)
            + _vec(_u16s(_CLIENT_SUITES), 2) + _vec(b"\x00", 1) + _vec(extensions, 2))
    return _record(_handshake(1, body), version=_TLS10)


def server_flight(suite: int, random: bytes, session: bytes, der: bytes | None) -> bytes:
    """ServerHello, Certificate (when there is one) and ServerHelloDone records."""
    extensions = _extension(0xFF01, _vec(b"", 1))
    if suite >> 8 == 0xC0:  # an (EC)DH suite: the server says which point formats it takes
        extensions += _extension(11, _vec(b"\x00", 1))
    hello = (struct.pack("!H", _TLS12) + random + _vec(session, 1) + struct.pack("!H", suite)
             + b"\x00" + _vec(extensions, 2))
    records = [_record(_handshake(2, hello))]
    if der is not None:
        records.append(_record(_handshake(11, _vec(_vec(der, 3), 3))))
    records.append(_record(_handshake(14, b"")))
    return b"".join(records)


def _cipher_suite(device: LabDevice, der: bytes | None) -> int:
    """A suite whose server flight has no ServerKeyExchange, matching the key type."""
    weak = Weakness.WEAK_CIPHERS in device.weaknesses
    if der is not None:
        is_rsa = isinstance(x509.load_der_x509_certificate(der).public_key(), rsa.RSAPublicKey)
    else:
        is_rsa = weak
    if is_rsa:
        return 0x000A if weak else 0x009C  # RSA_WITH_3DES_EDE_CBC_SHA / _AES_128_GCM_SHA256
    return 0xC004 if weak else 0xC02D  # ECDH_ECDSA_WITH_AES_128_CBC_SHA / _AES_128_GCM_SHA256


def _record(fragment: bytes, *, version: int = _TLS12) -> bytes:
    return struct.pack("!BHH", _HANDSHAKE, version, len(fragment)) + fragment


def _handshake(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def _extension(kind: int, data: bytes) -> bytes:
    return struct.pack("!HH", kind, len(data)) + data


def _vec(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _u16s(values: Iterable[int]) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)
