"""``read_pcap`` on damaged and hostile captures: a one-line ``InputError`` when nothing
can be read, what was read plus warnings otherwise, never a traceback or a hang."""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

import dpkt
import pytest

from fleetwarden.adapters.discovery.passive import read_pcap
from fleetwarden.adapters.discovery.passive._hosts import HostTable
from fleetwarden.adapters.lab.pcap import client_hello, server_flight, write_pcap
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.domain.discovery import Field, Source
from fleetwarden.errors import InputError

HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
T0 = 1_772_442_000
CAMERA_MAC, CAMERA_IP = "ac:cc:8e:00:00:01", "192.0.2.10"
STATION_MAC, STATION_IP = "02:00:00:00:00:02", "192.0.2.20"


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pcap") / "small.pcap"
    write_pcap(plan_lab("small-force", count=10), path, None)
    return path


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ether(src: str, dst: str, etype: int, payload: bytes) -> bytes:
    return _mac(dst) + _mac(src) + struct.pack("!H", etype) + payload


def _ip(src: str, dst: str, transport: dpkt.Packet) -> bytes:
    proto = dpkt.ip.IP_PROTO_TCP if isinstance(transport, dpkt.tcp.TCP) else \
        dpkt.ip.IP_PROTO_UDP
    return bytes(dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto,
                            data=transport))


def _udp(src: str, dst: str, sport: int, dport: int, payload: bytes,
         dst_mac: str = "ff:ff:ff:ff:ff:ff", src_mac: str = CAMERA_MAC) -> bytes:
    datagram = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    datagram.ulen = 8 + len(payload)
    return _ether(src_mac, dst_mac, 0x0800, _ip(src, dst, datagram))


def _tcp(src: str, dst: str, sport: int, dport: int, seq: int, payload: bytes,
         flags: int = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH) -> bytes:
    segment = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=flags, data=payload)
    return _ether(STATION_MAC, CAMERA_MAC, 0x0800, _ip(src, dst, segment))


def _arp(mac: str, ip: str) -> bytes:
    body = dpkt.arp.ARP(op=dpkt.arp.ARP_OP_REQUEST, sha=_mac(mac), spa=socket.inet_aton(ip),
                        tha=b"\0" * 6, tpa=socket.inet_aton(ip))
    return _ether(mac, "ff:ff:ff:ff:ff:ff", 0x0806, bytes(body))


def _pcap(path: Path, frames: list[bytes]) -> Path:
    with path.open("wb") as fh:
        fh.write(HEADER)
        for i, frame in enumerate(frames):
            fh.write(struct.pack("<IIII", T0 + i, 0, len(frame), len(frame)) + frame)
    return path


def _error(path: Path) -> str:
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        read_pcap(path, workers=1)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


# ----------------------------------------------------------------- not a capture
def test_random_bytes_are_not_a_capture(tmp_path):
    path = tmp_path / "random.pcap"
    path.write_bytes(os.urandom(64 * 1024))
    assert "not a pcap or pcapng capture" in _error(path)


def test_empty_file_and_missing_file(tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.touch()
    assert "starts with nothing" in _error(empty)
    assert "no such file" in _error(tmp_path / "absent.pcap")
    assert "is a directory" in _error(tmp_path)


def test_corrupt_or_unsupported_file_header(tmp_path):
    short = tmp_path / "short.pcap"
    short.write_bytes(HEADER[:10])
    assert "header cut short" in _error(short)
    version = tmp_path / "version.pcap"
    version.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 9, 4, 0, 0, 65535, 1))
    assert "version 9.4" in _error(version)
    wifi = tmp_path / "wifi.pcap"
    wifi.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105))
    assert "link type 105 is not supported" in _error(wifi)
    ng = tmp_path / "bad.pcapng"
    ng.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\xff" * 28)
    assert "corrupt pcapng section header" in _error(ng)


def test_header_only_capture_is_empty_not_an_error(tmp_path):
    result = read_pcap(_pcap(tmp_path / "none.pcap", []), workers=1)
    assert result.observations == ()
    assert result.warnings == (f"{tmp_path / 'none.pcap'}: the capture holds no packets",)


# ------------------------------------------------------------------------- damage
def test_truncated_last_packet_keeps_what_was_read(capture, tmp_path):
    whole = read_pcap(capture, workers=1)
    path = tmp_path / "cut.pcap"
    path.write_bytes(capture.read_bytes()[:-7])
    result = read_pcap(path, workers=1)
    assert len(result.warnings) == 1
    assert "ends inside the packet at byte" in result.warnings[0]
    assert "truncated capture" in result.warnings[0]
    assert f"after {whole.stats['packets'] - 1:,} packets" in result.warnings[0]
    assert {o.mac for o in result.observations} == {o.mac for o in whole.observations}


def test_truncated_first_packet_is_an_error(tmp_path):
    frame = _arp(CAMERA_MAC, CAMERA_IP)
    path = tmp_path / "first.pcap"
    path.write_bytes(HEADER + struct.pack("<IIII", T0, 0, len(frame), len(frame)) + frame[:5])
    assert "no packet could be read" in _error(path)


def test_corrupt_record_header_stops_with_a_warning(capture, tmp_path):
    data = bytearray(capture.read_bytes())
    off, count = 24, 0
    while count < 100:  # the 101st record gets an impossible length
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
        count += 1
    struct.pack_into("<I", data, off + 8, 0xFFFFFFF0)
    path = tmp_path / "corrupt.pcap"
    path.write_bytes(bytes(data))
    result = read_pcap(path, workers=1)
    assert result.warnings == (f"{path}: corrupt packet header at byte {off:,}; reading "
                               "stopped after 100 packets",)
    assert result.observations
    first = bytearray(capture.read_bytes())
    struct.pack_into("<I", first, 24 + 8, 0xFFFFFFF0)
    path.write_bytes(bytes(first))
    assert "corrupt packet header at byte 24; no packet could be read" in _error(path)


def test_corrupt_capture_read_by_several_processes_stops_at_the_same_place(capture, tmp_path):
    data = bytearray(capture.read_bytes())
    middle = len(data) * 3 // 4
    off = 24
    while off < middle:
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    struct.pack_into("<I", data, off + 8, 0xFFFFFFF0)
    path = tmp_path / "corrupt.pcap"
    path.write_bytes(bytes(data))
    serial, parallel = read_pcap(path, workers=1), read_pcap(path, workers=4)
    assert parallel.observations == serial.observations
    assert parallel.warnings == serial.warnings and len(serial.warnings) == 1


def test_garbage_after_the_header_is_an_error_and_quick(tmp_path):
    path = tmp_path / "garbage.pcap"
    path.write_bytes(HEADER + os.urandom(256 * 1024))
    message = _error(path)
    assert "corrupt packet header at byte 24" in message or "no packet" in message


def test_pcapng_with_a_broken_block_stops_with_a_warning(capture, tmp_path):
    path = tmp_path / "ok.pcapng"
    with path.open("wb") as fh:
        writer = dpkt.pcapng.Writer(fh, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        with capture.open("rb") as src:
            for ts, frame in dpkt.pcap.Reader(src):
                writer.writepkt(frame, ts=ts)
    good = read_pcap(path, workers=1)
    broken = tmp_path / "broken.pcapng"
    broken.write_bytes(path.read_bytes() + struct.pack("<II", 6, 0) + b"\0" * 64)
    result = read_pcap(broken, workers=1)
    assert result.observations == good.observations
    assert len(result.warnings) == 1 and "corrupt block header" in result.warnings[0]
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(path.read_bytes()[:-10])
    assert "ends inside the block" in read_pcap(cut, workers=1).warnings[0]


# -------------------------------------------------------------- hostile contents
def _dhcp(options: bytes) -> bytes:
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 7, 0, 0, b"\0" * 4,
                       b"\0" * 4, b"\0" * 4, b"\0" * 4, _mac(CAMERA_MAC).ljust(16, b"\0"),
                       b"", b"")
    return head + b"\x63\x82\x53\x63" + options


def _mdns_loop() -> bytes:
    """A response whose answer name is a compression pointer to itself."""
    return struct.pack("!HHHHHH", 0, 0x8400, 0, 1, 0, 0) + b"\xc0\x0c" + b"\0" * 10


def test_malformed_packets_are_counted_and_the_rest_is_read(tmp_path):
    frames = [
        _udp("0.0.0.0", "255.255.255.255", 68, 67, _dhcp(b"\x35\x01\x01\x0c\xff" + b"ab")),
        _udp(CAMERA_IP, "224.0.0.251", 5353, 5353, _mdns_loop(), dst_mac="01:00:5e:00:00:fb"),
        _tcp(STATION_IP, CAMERA_IP, 40000, 443, 1, b"\x16\x03\x01\xff\xff\x01" + b"\0" * 40),
        _ether(CAMERA_MAC, "ff:ff:ff:ff:ff:ff", 0x0800, b"\x45\x00\x00"),
        _tcp(CAMERA_IP, STATION_IP, 443, 40001, 1,  # a certificate that is not one
             server_flight(0x009C, b"\x03" * 32, b"", b"garbage, not DER")),
        _arp(CAMERA_MAC, CAMERA_IP),
        _udp(CAMERA_IP, "239.255.255.250", 1900, 1900,
             b"NOTIFY * HTTP/1.1\r\nSERVER: <script>x</script>\r\n\r\n",
             dst_mac="01:00:5e:7f:ff:fa"),
    ]
    result = read_pcap(_pcap(tmp_path / "hostile.pcap", frames), workers=1)
    assert result.stats["malformed"] == 5
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(f"{tmp_path / 'hostile.pcap'}: 5 packets skipped as "
                                         "malformed (first: packet at byte 24: DHCP option 12 ")
    [camera] = [o for o in result.observations if o.mac == CAMERA_MAC]
    assert camera.ip == CAMERA_IP
    services = {s.port: s for s in camera.services}
    assert services[1900].fields[Field.UPNP_SERVER] == "<script>x</script>"  # inert text
    assert services[443].tls is not None and services[443].tls.certificate is None
    assert services[443].tls.version == "TLSv1.2"  # what could be read of the handshake


def test_tls_handshake_across_segments_retransmitted_and_cut(tmp_path):
    hello = client_hello("kstn-cam-0501", b"\x01" * 32)
    first, second = hello[:40], hello[40:]
    split = [_tcp(STATION_IP, CAMERA_IP, 40000, 443, 1000, first),
             _tcp(STATION_IP, CAMERA_IP, 40000, 443, 1000, first),  # retransmitted
             _tcp(STATION_IP, CAMERA_IP, 40000, 443, 1000 + len(first) - 10,
                  first[-10:] + second)]  # overlaps what was had
    gap = [_tcp(STATION_IP, "192.0.2.11", 40002, 443, 5000, first),
           _tcp(STATION_IP, "192.0.2.11", 40002, 443, 5000 + len(first) + 3, second[3:])]
    result = read_pcap(_pcap(tmp_path / "tls.pcap", split + gap), workers=1)
    [station] = [o for o in result.observations if o.ip == STATION_IP]
    assert station.fields[Field.TLS_SNI] == "kstn-cam-0501"  # once, from the whole hello
    assert result.warnings == ()


def test_snap_length_cut_frames_are_not_misread(tmp_path):
    hello = client_hello("cut-host", b"\x02" * 32)
    frame = _tcp(STATION_IP, CAMERA_IP, 40000, 443, 1, hello)
    path = tmp_path / "snap.pcap"
    with path.open("wb") as fh:
        fh.write(HEADER)
        fh.write(struct.pack("<IIII", T0, 0, 80, len(frame)) + frame[:80])
        arp = _arp(CAMERA_MAC, CAMERA_IP)
        fh.write(struct.pack("<IIII", T0 + 1, 0, len(arp), len(arp)) + arp)
    result = read_pcap(path, workers=1)
    assert all(Field.TLS_SNI not in o.fields for o in result.observations)
    assert [o.mac for o in result.observations] == [CAMERA_MAC]


def test_vlan_tagged_and_ipv6_frames(tmp_path):
    arp = _arp(CAMERA_MAC, CAMERA_IP)
    tagged = arp[:12] + b"\x81\x00\x00\x64" + arp[12:]
    agent = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: Camera/6.0\r\n\r\n"
    segment = dpkt.tcp.TCP(sport=40000, dport=80, flags=dpkt.tcp.TH_ACK, data=agent)
    six = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, "2001:db8::10"),
                       dst=socket.inet_pton(socket.AF_INET6, "2001:db8::1"), nxt=6, hlim=64,
                       data=segment, plen=len(bytes(segment)))
    frames = [tagged, _ether(CAMERA_MAC, STATION_MAC, 0x86DD, bytes(six))]
    result = read_pcap(_pcap(tmp_path / "vlan.pcap", frames), workers=1)
    hosts = {o.ip: o for o in result.observations}
    assert hosts[CAMERA_IP].mac == CAMERA_MAC
    assert hosts["2001:db8::10"].fields[Field.HTTP_USER_AGENT] == "Camera/6.0"


def test_host_table_bounds_its_size():
    table = HostTable(max_hosts=2)
    for i in range(5):
        table.bind(f"192.0.2.{i + 1}", f"02:00:00:00:00:0{i + 1}", i)
    assert len(table.observations(Source.PCAP)) == 2
    assert table.over == 3


def test_a_megabyte_announcement_is_bounded(tmp_path):
    huge = b"NOTIFY * HTTP/1.1\r\nSERVER: " + b"A" * 60_000 + b"\r\n\r\n"
    frame = _udp(CAMERA_IP, "239.255.255.250", 1900, 1900, huge, dst_mac="01:00:5e:7f:ff:fa")
    result = read_pcap(_pcap(tmp_path / "big.pcap", [frame]), workers=1)
    [camera] = result.observations
    assert len(camera.services[0].fields[Field.UPNP_SERVER]) == 4096
