"""``read_pcap`` on the lab's own capture: every device of the plan, with what it said,
checked against the plan; and the same result from pcapng, nanosecond, big-endian,
Linux cooked and multi-process reads of the same packets."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dpkt
import pytest

from fleetwarden.adapters.discovery.passive import PassiveResult, read_pcap
from fleetwarden.adapters.discovery.passive import pcap as pcap_module
from fleetwarden.adapters.discovery.passive._common import UPNP_LOCATION, UPNP_USN
from fleetwarden.adapters.lab.certs import LabCertificates
from fleetwarden.adapters.lab.pcap import (
    MANAGEMENT_STATION,
    START,
    UPDATE_SERVER,
    update_request,
    vendor_class,
    write_pcap,
)
from fleetwarden.adapters.lab.plan import LabPlan, plan_lab
from fleetwarden.adapters.lab.protocols import ssdp
from fleetwarden.adapters.lab.protocols.base import wire
from fleetwarden.adapters.lab.protocols.dnssd import advertised
from fleetwarden.domain.discovery import Field, HostObservation, Source, bounded
from fleetwarden.domain.lab import LabDevice, Service


@pytest.fixture(scope="module")
def plan() -> LabPlan:
    return plan_lab("small-force", count=40)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> LabCertificates:
    return LabCertificates(tmp_path_factory.mktemp("lab"))


@pytest.fixture(scope="module")
def capture(plan, certificates, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pcap") / "estate.pcap"
    write_pcap(plan, path, certificates)
    return path


@pytest.fixture(scope="module")
def result(capture) -> PassiveResult:
    return read_pcap(capture, workers=1)


def _by_mac(result: PassiveResult) -> dict[str, HostObservation]:
    return {o.mac: o for o in result.observations if o.mac}


def _by_ip(result: PassiveResult) -> dict[str, HostObservation]:
    return {o.ip: o for o in result.observations if o.ip}


def _text(raw: bytes) -> str | None:
    """What a device's bytes become once read (decoded, bounded)."""
    return bounded(raw)


# ------------------------------------------------------------------------ identity
def test_every_device_appears_with_its_mac_and_ip(plan, result):
    hosts = _by_mac(result)
    for device in plan.devices:
        assert device.mac in hosts, device.hostname
        assert hosts[device.mac].ip == device.ip
    assert not result.warnings
    assert result.stats["malformed"] == 0
    assert result.stats["packets"] > 20 * len(plan.devices)


def test_every_observation_has_its_source_and_packet_time(plan, result):
    last = START + timedelta(seconds=len(plan.devices) + 1)
    for host in result.observations:
        assert host.source is Source.PCAP
        seen = datetime.fromisoformat(host.observed_at.replace("Z", "+00:00"))
        assert seen.tzinfo is not None and START <= seen <= last
    first = _by_mac(result)[plan.devices[0].mac]
    assert first.observed_at == START.strftime("%Y-%m-%dT%H:%M:%S.000000Z")  # DISCOVER
    assert [o.observed_at for o in result.observations] == sorted(
        o.observed_at for o in result.observations)


def test_dhcp_gives_hostname_vendor_class_and_parameter_list(plan, result):
    hosts = _by_mac(result)
    for device in plan.devices:
        host = hosts[device.mac]
        name = _text(wire(device.hostname)[:255])
        assert host.hostname == name
        assert host.fields[Field.DHCP_HOSTNAME] == name
        assert host.fields[Field.DHCP_VENDOR_CLASS] == _text(wire(vendor_class(device))[:255])
        codes = host.fields[Field.DHCP_PARAMETER_LIST].split(",")
        assert codes[0] == "1" and all(c.isdigit() for c in codes)


def test_http_user_agent_is_a_fact_of_the_device(plan, result):
    hosts = _by_mac(result)
    for device in plan.devices:
        line = next(h for h in update_request(device).split(b"\r\n")
                    if h.startswith(b"User-Agent: "))
        assert hosts[device.mac].fields[Field.HTTP_USER_AGENT] == _text(line[12:])
    updates = _by_ip(result)[UPDATE_SERVER]  # behind the gateway: no MAC of its own
    assert updates.mac is None
    web = {(s.port, s.transport): s for s in updates.services}[(80, "tcp")]
    assert web.service == "http" and web.fields[Field.HTTP_SERVER] == "nginx"


def test_mdns_services_txt_and_names(plan, result):
    hosts = _by_mac(result)
    announcing = [d for d in plan.devices if d.service(Service.MDNS) and advertised(d)]
    assert announcing
    for device in announcing:
        host = hosts[device.mac]
        kinds = host.fields[Field.MDNS_SERVICES].split(",")
        assert kinds == [a.kind for a in advertised(device)]
        txt = [t for a in advertised(device) for t in a.txt]
        if txt:
            assert host.fields[Field.MDNS_TXT].split(";")[0] == _text(txt[0])
        assert any(s.service == "mdns" and s.port == 5353 for s in host.services)


def test_ssdp_notify_gives_server_location_and_usn(plan, result):
    hosts = _by_mac(result)
    notifying = [d for d in plan.devices if d.service(Service.SSDP) and ssdp.location(d)]
    assert notifying
    for device in notifying:
        service = {(s.port, s.transport): s for s in hosts[device.mac].services}[(1900, "udp")]
        assert service.service == "ssdp"
        assert service.fields[Field.UPNP_SERVER] == _text(ssdp.server(device))
        assert service.fields[UPNP_LOCATION] == _text(ssdp.location(device) or b"")
        assert service.fields[UPNP_USN] == _text(ssdp.targets(device)[0][1])
    quiet = [d for d in plan.devices if not d.service(Service.SSDP)]
    assert all((1900, "udp") not in {(s.port, s.transport) for s in hosts[d.mac].services}
               for d in quiet)


def test_tls_certificates_are_the_ones_the_devices_present(plan, result, certificates):
    hosts = _by_mac(result)
    secured = [d for d in plan.devices if d.service(Service.HTTPS)]
    assert secured
    for device in secured:
        port = device.service(Service.HTTPS).port
        service = {(s.port, s.transport): s for s in hosts[device.mac].services}[(port, "tcp")]
        assert service.service == ("https" if port == 443 else "tls")
        assert service.tls is not None and service.tls.version == "TLSv1.2"
        cert = service.tls.certificate
        assert cert is not None
        assert cert.sha256 == hashlib.sha256(certificates.certificate_der(device)).hexdigest()
        assert service.fields[Field.TLS_SUBJECT] == cert.subject
        assert cert.not_after.endswith("Z") and cert.key_type in ("ec", "rsa")


def test_the_probing_station_shows_the_names_it_asked_for(plan, result):
    station = _by_ip(result)[MANAGEMENT_STATION]
    names = station.fields[Field.TLS_SNI].split(",")
    hostnames = {_text(wire(d.hostname)[:255]) for d in plan.devices}
    assert names and set(names) <= hostnames
    assert len(names) == len(set(names)) <= 32


def test_hosts_are_not_split_or_doubled(plan, result):
    macs = [o.mac for o in result.observations if o.mac]
    ips = [o.ip for o in result.observations if o.ip]
    assert len(macs) == len(set(macs)) and len(ips) == len(set(ips))
    gateway_macs = {o.mac for o in result.observations if o.mac and o.mac.startswith("02:fa")}
    device_ips = {d.ip for d in plan.devices}
    assert all(_by_mac(result)[m].ip not in device_ips for m in gateway_macs)


def test_progress_reaches_the_file_size(capture):
    calls: list[tuple[int, int]] = []
    read_pcap(capture, workers=1, progress=lambda done, total: calls.append((done, total)))
    size = capture.stat().st_size
    assert calls and calls[-1][1] == size and calls[-1][0] >= size - 24
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


# ------------------------------------------------------------- same packets, other files
def _records(path: Path) -> list[tuple[int, bytes]]:
    """(microseconds, frame) of a classic little-endian capture."""
    data, out, off = path.read_bytes(), [], 24
    while off < len(data):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", data, off)
        out.append((sec * 1_000_000 + usec, data[off + 16:off + 16 + caplen]))
        off += 16 + caplen
    return out


def _same(a: PassiveResult, b: PassiveResult) -> None:
    assert a.observations == b.observations
    assert a.warnings == b.warnings == ()


def test_pcapng_reads_the_same(capture, result, tmp_path):
    path = tmp_path / "estate.pcapng"
    with path.open("wb") as fh:
        writer = dpkt.pcapng.Writer(fh, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        for us, frame in _records(capture):
            writer.writepkt(frame, ts=us / 1e6)
    _same(read_pcap(path, workers=1), result)


def test_big_endian_nanosecond_pcap_reads_the_same(capture, result, tmp_path):
    path = tmp_path / "estate-ns-be.pcap"
    with path.open("wb") as fh:
        fh.write(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        for us, frame in _records(capture):
            seconds, micros = divmod(us, 1_000_000)
            fh.write(struct.pack(">IIII", seconds, micros * 1000 + 999, len(frame), len(frame)))
            fh.write(frame)
    _same(read_pcap(path, workers=1), result)


def test_linux_cooked_capture_reads_the_same(capture, result, tmp_path):
    """SLL keeps the sender's MAC and the EtherType; the destination MAC is gone."""
    path = tmp_path / "estate-sll.pcap"
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 113))
        for us, frame in _records(capture):
            sll = struct.pack(">HHH8sH", 0, 1, 6, frame[6:12] + b"\0\0",
                              int.from_bytes(frame[12:14], "big")) + frame[14:]
            fh.write(struct.pack("<IIII", *divmod(us, 1_000_000), len(sll), len(sll)) + sll)
    _same(read_pcap(path, workers=1), result)


def test_several_processes_read_the_same(capture, result):
    parallel = read_pcap(capture, workers=3)
    _same(parallel, result)
    assert parallel.stats["parts"] == 3
    assert parallel.stats["packets"] == result.stats["packets"]


def test_a_device_that_changed_address_keeps_its_latest(plan, capture, tmp_path):
    """The same traffic again an hour later with the first device on a new address:
    one host for its MAC, at the new address, first seen at the old time."""
    device: LabDevice = plan.devices[0]
    old, new = bytes(map(int, device.ip.split("."))), bytes([192, 0, 2, 200])
    path = tmp_path / "moved.pcap"
    data = capture.read_bytes()
    later = bytearray(data[24:])
    off = 0
    while off < len(later):  # shift the copy by an hour and swap the address in ARP/DHCP
        sec, usec, caplen, _ = struct.unpack_from("<IIII", later, off)
        struct.pack_into("<I", later, off, sec + 3600)
        frame = bytes(later[off + 16:off + 16 + caplen])
        later[off + 16:off + 16 + caplen] = frame.replace(old, new)
        off += 16 + caplen
    path.write_bytes(data + bytes(later))
    moved = read_pcap(path, workers=1)
    host = _by_mac(moved)[device.mac]
    assert host.ip == "192.0.2.200"
    assert host.observed_at == START.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert datetime.fromisoformat(host.observed_at.replace("Z", "+00:00")).tzinfo == UTC


def test_pcapng_read_by_several_processes_reads_the_same(capture, result, tmp_path):
    path = tmp_path / "estate.pcapng"
    with path.open("wb") as fh:
        writer = dpkt.pcapng.Writer(fh, snaplen=65535, linktype=dpkt.pcap.DLT_EN10MB)
        for us, frame in _records(capture):
            writer.writepkt(frame, ts=us / 1e6)
    _same(read_pcap(path, workers=3), result)
    twice = tmp_path / "two-sections.pcapng"  # a second section: the ranges cannot join
    twice.write_bytes(path.read_bytes() * 2)
    serial, parallel = read_pcap(twice, workers=1), read_pcap(twice, workers=3)
    assert parallel.observations == serial.observations == result.observations
    assert parallel.stats["parts"] == 1 and parallel.stats["packets"] == 2 * result.stats[
        "packets"]


def test_progress_of_several_processes_and_a_failing_worker(capture, result, monkeypatch):
    calls: list[tuple[int, int]] = []
    read_pcap(capture, workers=2, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1][0] >= capture.stat().st_size // 2
    monkeypatch.setattr(pcap_module, "_WORKER", "fleetwarden.no_such_module")
    fallback = read_pcap(capture, workers=2)  # the workers fail: one process reads instead
    _same(fallback, result)
    assert fallback.stats["parts"] == 1
