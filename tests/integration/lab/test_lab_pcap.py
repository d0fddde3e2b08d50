"""`lab pcap`: every device's background traffic, read back with dpkt, dnspython and
cryptography, and checked against the plan and against what the running lab answers."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import subprocess
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import dpkt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from fleetwarden.adapters.lab.certs import LabCertificates
from fleetwarden.adapters.lab.pcap import START, mdns_announcement, write_pcap
from fleetwarden.adapters.lab.plan import LabPlan, plan_lab
from fleetwarden.adapters.lab.protocols.base import upnp_uuid
from fleetwarden.adapters.lab.protocols.dnssd import MAX_TYPES
from fleetwarden.domain.lab import LabDevice, Service, Weakness
from fleetwarden.errors import InputError
from tests.integration.lab.harness import make_device, running_lab

TSHARK = "/usr/bin/tshark"


@pytest.fixture(scope="module")
def plan() -> LabPlan:
    return plan_lab("small-force", count=30, seed=3)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> LabCertificates:
    return LabCertificates(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def capture(plan, certificates, tmp_path_factory):
    path = tmp_path_factory.mktemp("pcap") / "estate.pcap"
    calls: list[tuple[int, int]] = []
    count = write_pcap(plan, path, certificates,
                       progress=lambda done, total: calls.append((done, total)))
    return path, count, calls


def _frames(path: Path) -> list[tuple[float, dpkt.ethernet.Ethernet]]:
    with path.open("rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        assert reader.datalink() == dpkt.pcap.DLT_EN10MB
        return [(ts, dpkt.ethernet.Ethernet(buf)) for ts, buf in reader]


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _udp(frames, port: int):
    for _, eth in frames:
        ip = eth.data
        if (isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.udp.UDP)
                and port in (ip.data.sport, ip.data.dport)):
            yield eth, ip, ip.data


def _streams(frames) -> dict[tuple[str, int, str, int], list[dpkt.tcp.TCP]]:
    """TCP segments per direction (src ip, src port, dst ip, dst port), in order."""
    out: dict[tuple[str, int, str, int], list[dpkt.tcp.TCP]] = defaultdict(list)
    for _, eth in frames:
        ip = eth.data
        if isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP):
            key = (socket.inet_ntoa(ip.src), ip.data.sport, socket.inet_ntoa(ip.dst),
                   ip.data.dport)
            out[key].append(ip.data)
    return out


def _payload(segments: list[dpkt.tcp.TCP]) -> bytes:
    return b"".join(bytes(s.data) for s in segments)


def test_file_is_a_classic_ethernet_pcap_with_ordered_fixed_timestamps(plan, capture):
    path, count, calls = capture
    assert path.read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"  # libpcap, microseconds, LE
    frames = _frames(path)
    assert len(frames) == count > 0
    stamps = [ts for ts, _ in frames]
    assert stamps == sorted(stamps)
    assert stamps[0] == pytest.approx(START.timestamp())
    assert calls[-1] == (len(plan.devices), len(plan.devices))
    for _, eth in frames:  # checksums as written equal checksums recomputed
        ip = eth.data
        if isinstance(ip, dpkt.ip.IP):
            sums = (ip.sum, ip.data.sum)
            ip.sum = ip.data.sum = 0
            again = dpkt.ip.IP(bytes(ip))
            assert (again.sum, again.data.sum) == sums


def test_every_device_announces_itself_with_arp(plan, capture):
    frames = _frames(capture[0])
    arps = [eth.data for _, eth in frames if isinstance(eth.data, dpkt.arp.ARP)]
    gratuitous = {(_mac(a.sha), socket.inet_ntoa(a.spa)) for a in arps
                  if a.op == dpkt.arp.ARP_OP_REQUEST and a.spa == a.tpa}
    assert {(d.mac, d.ip) for d in plan.devices} <= gratuitous
    device_ips = {d.ip for d in plan.devices}
    replies = [a for a in arps if a.op == dpkt.arp.ARP_OP_REPLY]
    assert replies and all(socket.inet_ntoa(a.spa) not in device_ips for a in replies)
    assert all(int(_mac(a.sha)[:2], 16) & 0x02 for a in replies)  # locally administered


def test_dhcp_carries_hostname_vendor_class_and_client_id(plan, capture):
    frames = _frames(capture[0])
    seen: dict[str, list[int]] = defaultdict(list)
    offered: dict[str, list[str]] = defaultdict(list)
    for eth, _, udp in _udp(frames, 67):
        message = dpkt.dhcp.DHCP(bytes(udp.data))
        opts = dict(message.opts)
        kind = opts[dpkt.dhcp.DHCP_OPT_MSGTYPE][0]
        if udp.dport == 67:
            mac = _mac(eth.src)
            device = next(d for d in plan.devices if d.mac == mac)
            assert _mac(message.chaddr[:6]) == mac
            assert opts[dpkt.dhcp.DHCP_OPT_HOSTNAME] == device.hostname.encode()
            assert opts[dpkt.dhcp.DHCP_OPT_VENDOR_ID]
            assert opts[61] == b"\x01" + bytes.fromhex(mac.replace(":", ""))
            assert opts[dpkt.dhcp.DHCP_OPT_PARAM_REQ]
            assert eth.dst == b"\xff" * 6 and udp.sport == 68
            names = {c.name: c.version for c in device.components}
            if "busybox" in names:
                assert opts[dpkt.dhcp.DHCP_OPT_VENDOR_ID] == f"udhcp {names['busybox']}".encode()
            seen[mac].append(kind)
        else:
            offered[_mac(eth.dst)].append(str(ipaddress.IPv4Address(message.yiaddr)))
    for device in plan.devices:
        assert seen[device.mac] == [dpkt.dhcp.DHCPDISCOVER, dpkt.dhcp.DHCPREQUEST]
        assert offered[device.mac] == [device.ip, device.ip]


def test_ssdp_notify_names_the_devices_udn_and_description(plan, capture):
    frames = _frames(capture[0])
    by_ip: dict[str, list[bytes]] = defaultdict(list)
    for eth, ip, udp in _udp(frames, 1900):
        assert socket.inet_ntoa(ip.dst) == "239.255.255.250"
        assert _mac(eth.dst) == "01:00:5e:7f:ff:fa"
        by_ip[socket.inet_ntoa(ip.src)].append(bytes(udp.data))
    ssdp = [d for d in plan.devices if d.service(Service.SSDP)]
    assert ssdp, "the sample plan should have a device offering SSDP"
    assert set(by_ip) == {d.ip for d in ssdp}
    for device in ssdp:
        upnp = device.service(Service.UPNP)
        assert upnp is not None, "the planner offers UPnP with SSDP"
        for message in by_ip[device.ip]:
            head, _, _ = message.partition(b"\r\n\r\n")
            lines = head.decode("utf-8", "surrogateescape").split("\r\n")
            assert lines[0] == "NOTIFY * HTTP/1.1"
            headers = dict(line.split(": ", 1) for line in lines[1:])
            assert headers["NTS"] == "ssdp:alive"
            assert headers["USN"].startswith(f"uuid:{upnp_uuid(device)}")
            assert headers["LOCATION"] == f"http://{device.ip}:{upnp.port}/description.xml"
            assert headers["SERVER"] == device.persona["upnp_server"]
        nts = {dict(line.split(b": ", 1) for line in m.split(b"\r\n")[1:] if b": " in line)[b"NT"]
               for m in by_ip[device.ip]}
        assert b"upnp:rootdevice" in nts


def test_no_notify_without_a_upnp_description(plan, tmp_path):
    device = next(d for d in plan.devices if d.service(Service.SSDP))
    bare = dataclasses.replace(device, services=tuple(
        s for s in device.services if s.service is not Service.UPNP))
    path = tmp_path / "bare.pcap"
    write_pcap(dataclasses.replace(plan, devices=(bare,)), path, None)
    assert list(_udp(_frames(path), 1900)) == []  # the lab's SSDP would not answer either


def test_mdns_announcements_parse_with_dnspython(plan, capture):
    frames = _frames(capture[0])
    by_ip = {}
    for eth, ip, udp in _udp(frames, 5353):
        assert socket.inet_ntoa(ip.dst) == "224.0.0.251" and ip.ttl == 255
        assert _mac(eth.dst) == "01:00:5e:00:00:fb"
        by_ip[socket.inet_ntoa(ip.src)] = dns.message.from_wire(bytes(udp.data))
    mdns = [d for d in plan.devices if d.service(Service.MDNS)]
    assert mdns, "the sample plan should have a device offering mDNS"
    assert set(by_ip) == {d.ip for d in mdns}
    for device in mdns:
        message = by_ip[device.ip]
        answers = {(rr.rdtype, rr.name.to_text()): rr for rr in message.answer}
        host = f"{device.hostname}.local."
        assert [r.address for r in answers[(dns.rdatatype.A, host)]] == [device.ip]
        types = [t.strip() for t in device.persona["mdns_services"].split(",")]
        ptrs = {name for rdtype, name in answers if rdtype == dns.rdatatype.PTR}
        assert ptrs and ptrs <= {f"{t}.local." for t in types}
        for rdtype, name in answers:
            if rdtype == dns.rdatatype.SRV:
                assert name.startswith(f"{device.hostname}._")
                srv = next(iter(answers[(rdtype, name)]))
                assert srv.target.to_text() == host
                assert srv.port in {s.port for s in device.services}
            if rdtype == dns.rdatatype.TXT:
                strings = next(iter(answers[(rdtype, name)])).strings
                assert f"model={device.model}".encode() in strings


def test_tcp_flows_are_complete_and_numbered_consistently(capture):
    streams = _streams(_frames(capture[0]))
    assert streams
    for (src, sport, dst, dport), segments in streams.items():
        back = streams[(dst, dport, src, sport)]
        assert segments[0].flags & dpkt.tcp.TH_SYN and back[0].flags & dpkt.tcp.TH_SYN
        assert any(s.flags & dpkt.tcp.TH_FIN for s in segments)
        expected = segments[0].seq
        for segment in segments:
            assert segment.seq == expected
            expected = (expected + len(segment.data)
                        + bool(segment.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN))) % 2**32
        acks = {s.ack for s in back if s.flags & dpkt.tcp.TH_ACK}
        assert max(acks) == expected  # the peer acknowledged everything sent, FIN included
        assert acks <= _points(segments)


def _points(segments: list[dpkt.tcp.TCP]) -> set[int]:
    """Sequence numbers that are a segment boundary of one direction."""
    out = set()
    for s in segments:
        out.add((s.seq + len(s.data) + bool(s.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN)))
                % 2**32)
    return out


def test_update_check_user_agent_names_vendor_model_and_firmware(plan, capture):
    streams = _streams(_frames(capture[0]))
    requests = {src: _payload(segs) for (src, _, _, dport), segs in streams.items()
                if dport == 80}
    for device in plan.devices:
        request = requests[device.ip]
        assert request.startswith(b"GET /v1/firmware/")
        agent = next(line for line in request.split(b"\r\n") if line.startswith(b"User-Agent:"))
        for part in (device.vendor, device.model, device.firmware_version):
            assert part.encode() in agent


def _tls_messages(data: bytes) -> list[dpkt.Packet]:
    records, used = dpkt.ssl.tls_multi_factory(data)
    assert used == len(data)
    assert all(r.type == 22 for r in records)
    return [dpkt.ssl.TLSHandshake(r.data) for r in records]


def _sni(hello: dpkt.ssl.TLSClientHello) -> str:
    data = dict(hello.extensions)[0]
    names = data[2:]
    assert names[0] == 0  # host_name
    length = int.from_bytes(names[1:3], "big")
    return names[3:3 + length].decode()


def test_tls_handshake_shows_sni_and_the_devices_certificate(plan, capture, certificates):
    streams = _streams(_frames(capture[0]))
    https = [d for d in plan.devices if d.service(Service.HTTPS)]
    assert https
    for device in https:
        port = device.service(Service.HTTPS).port
        (key_out, out_segs), = [(k, s) for k, s in streams.items()
                                if k[2] == device.ip and k[3] == port]
        hello, = _tls_messages(_payload(out_segs))
        assert isinstance(hello.data, dpkt.ssl.TLSClientHello)
        assert key_out[0] == "127.20.2.50"
        assert _sni(hello.data) == device.hostname
        server = _tls_messages(_payload(streams[(device.ip, port, key_out[0], key_out[1])]))
        assert [m.type for m in server] == [2, 11, 14]
        assert isinstance(server[0].data, dpkt.ssl.TLSServerHello)
        assert server[0].data.version == 0x0303
        suite = server[0].data.ciphersuite.code
        assert suite in {c.code for c in hello.data.ciphersuites}
        der, = server[1].data.certificates
        assert der == certificates.certificate_der(device)
        cert = x509.load_der_x509_certificate(der)
        rsa_key = isinstance(cert.public_key(), rsa.RSAPublicKey)
        assert suite in ({0x000A, 0x009C} if rsa_key else {0xC004, 0xC02D})
        common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        if Weakness.SHARED_CERTIFICATE in device.weaknesses:
            assert common_name == f"{device.vendor} {device.model}"
        else:
            assert common_name == device.hostname
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert device.hostname in san.get_values_for_type(x509.DNSName)
            assert ipaddress.ip_address(device.ip) in san.get_values_for_type(x509.IPAddress)


def test_same_plan_and_certificates_give_the_same_file(plan, capture, certificates, tmp_path):
    again = tmp_path / "again.pcap"
    assert write_pcap(plan, again, certificates) == capture[1]
    assert again.read_bytes() == capture[0].read_bytes()


def test_without_certificates_the_certificate_is_left_out(plan, tmp_path):
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    later = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    write_pcap(plan, first, None, start=later)
    write_pcap(plan, second, None, start=later)
    assert first.read_bytes() == second.read_bytes()
    frames = _frames(first)
    assert frames[0][0] == pytest.approx(later.timestamp())
    streams = _streams(frames)
    for device in (d for d in plan.devices if d.service(Service.HTTPS)):
        port = device.service(Service.HTTPS).port
        server = [_payload(s) for k, s in streams.items() if k[0] == device.ip and k[1] == port]
        assert [m.type for m in _tls_messages(server[0])] == [2, 14]


def test_hostile_persona_text_goes_on_the_wire_as_its_bytes(plan, tmp_path):
    hostile = ("\u001b[2J<script>" + b"\xff\xfe".decode("utf-8", "surrogateescape")
               + "\r\nX-Injected: 1")
    device = next(d for d in plan.devices if d.service(Service.SSDP))
    device = dataclasses.replace(device, persona={**device.persona, "upnp_server": hostile})
    path = tmp_path / "hostile.pcap"
    write_pcap(dataclasses.replace(plan, devices=(device,)), path, None)
    notify = next(bytes(udp.data) for _, _, udp in _udp(_frames(path), 1900))
    assert b"SERVER: \x1b[2J<script>\xff\xfeX-Injected: 1\r\n" in notify
    assert b"\r\nX-Injected" not in notify


def test_fictional_hosts_step_aside_for_devices_on_their_addresses(plan, tmp_path):
    first, second = plan.devices[0], plan.devices[1]
    devices = (dataclasses.replace(first, ip="127.20.2.50"),
               dataclasses.replace(second, ip="127.20.9.1"), *plan.devices[2:])
    path = tmp_path / "crowded.pcap"
    write_pcap(dataclasses.replace(plan, devices=devices), path, None)
    frames = _frames(path)
    claimed = defaultdict(set)  # ip -> MACs that announce or answer for it in ARP
    for _, eth in frames:
        if isinstance(eth.data, dpkt.arp.ARP):
            claimed[socket.inet_ntoa(eth.data.spa)].add(_mac(eth.data.sha))
    assert claimed["127.20.2.50"] == {first.mac}
    assert claimed["127.20.9.1"] == {second.mac}
    https = {(d.ip, d.service(Service.HTTPS).port) for d in devices if d.service(Service.HTTPS)}
    stations = {src for (src, _, dst, dport) in _streams(frames) if (dst, dport) in https}
    assert len(stations) == 1
    station, = stations
    assert station != "127.20.2.50" and station.startswith("127.20.2.")


def test_a_directory_as_the_file_is_refused(plan, tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        write_pcap(plan, tmp_path, None)


@pytest.mark.skipif(not os.access(TSHARK, os.X_OK), reason="tshark is not installed")
def test_tshark_reads_the_capture(capture):
    done = subprocess.run([TSHARK, "-r", str(capture[0]), "-q", "-z", "io,stat,0"],
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------- announcement = responder's answers
DnsSdView = dict[str, tuple[int, tuple[bytes, ...]]]


def _view(rrsets) -> DnsSdView:
    """{service type: (SRV port, TXT strings)} of the instances the records describe."""
    srv, txt, types = {}, {}, {}
    for rrset in rrsets:
        for rdata in rrset:
            if rrset.rdtype == dns.rdatatype.PTR and not rrset.name.to_text().startswith(
                    "_services."):
                types[rdata.target.to_text()] = rrset.name.to_text().removesuffix(".local.")
            elif rrset.rdtype == dns.rdatatype.SRV:
                srv[rrset.name.to_text()] = rdata.port
            elif rrset.rdtype == dns.rdatatype.TXT:
                txt[rrset.name.to_text()] = tuple(rdata.strings)
    return {kind: (srv[instance], txt[instance]) for instance, kind in types.items()}


def _responder_view(device: LabDevice) -> DnsSdView:
    """What the running lab's mDNS responder says: browse, then each type's PTR with its
    additional SRV and TXT (legacy unicast, EDNS so nothing is truncated)."""
    where = device.service(Service.MDNS)
    assert where is not None

    def ask(name: str) -> dns.message.Message:
        query = dns.message.make_query(name, "PTR", use_edns=0, payload=4096)
        return dns.query.udp(query, device.ip, port=where.port, timeout=2)

    browse = ask("_services._dns-sd._udp.local.")
    found: DnsSdView = {}
    for rdata in browse.answer[0]:
        reply = ask(rdata.target.to_text())
        found.update(_view(reply.answer + reply.additional))
    return found


def test_the_announcement_lists_what_the_responder_answers(tmp_path):
    extra = [f"_vendor{n}._tcp" for n in range(MAX_TYPES)]  # unknown: the web port
    edge = make_device(
        (Service.HTTP, Service.RTSP, Service.MDNS), hostname="gw-edge-0001",
        mac="00:1e:42:aa:bb:cc", persona={"mdns_services": ",".join([
            "_axis-video._tcp", "_HTTP._tcp.local.", "_rtsp._tcp", "_ssh._tcp", "_https._tcp",
            "bogus", "_http._tcp", *extra])})
    plain = make_device((Service.HTTPS, Service.MDNS), hostname="dock-0001",
                        persona={"mdns_services": "_https._tcp,_http._tcp,_bwvdock._tcp"})
    with running_lab([edge, plain], tmp_path) as lab:
        answered = {d.ip: _responder_view(d) for d in (edge, plain)}
        assert lab.stats.handler_errors == 0
    for device in (edge, plain):
        announced = dns.message.from_wire(mdns_announcement(device))
        assert _view(announced.answer) == answered[device.ip]
    http, rtsp = edge.service(Service.HTTP), edge.service(Service.RTSP)
    https = plain.service(Service.HTTPS)
    assert http is not None and rtsp is not None and https is not None
    view = answered[edge.ip]  # no SSH or HTTPS to point at: those types are left out
    assert set(view) == {"_axis-video._tcp", "_http._tcp", "_rtsp._tcp",
                         *extra[:MAX_TYPES - 3]}  # the first 16 that have a port
    assert view["_rtsp._tcp"][0] == rtsp.port and view["_vendor0._tcp"][0] == http.port
    assert b"macaddress=001E42AABBCC" in view["_axis-video._tcp"][1]
    assert answered[plain.ip] == {kind: (https.port, answered[plain.ip][kind][1])
                                  for kind in ("_https._tcp", "_http._tcp", "_bwvdock._tcp")}
