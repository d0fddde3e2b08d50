"""``read_nmap_xml``: a report written after nmap's documented XML structure, and hostile
XML (entity bombs, external entities and DTDs, cut-off files, other roots)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fleetwarden.adapters.discovery.passive import read_nmap_xml
from fleetwarden.adapters.discovery.passive.nmap_xml import NMAP_CPE, NMAP_EXTRAINFO
from fleetwarden.domain.discovery import Field, Source
from fleetwarden.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data" / "discovery"


def _error(path: Path) -> str:
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        read_nmap_xml(path)
    assert time.monotonic() - started < 2  # refused before anything is expanded
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.fixture(scope="module")
def scan():
    return read_nmap_xml(DATA / "nmap-scan.xml")


def test_hosts_that_were_up_with_addresses_vendor_and_names(scan):
    assert scan.source is Source.NMAP_XML and scan.warnings == ()
    assert [(o.ip, o.mac) for o in scan.observations] == [
        ("192.0.2.5", "ac:cc:8e:75:52:79"), ("192.0.2.6", "00:80:f4:01:02:03"),
        ("2001:db8::10", None)]
    camera, plc, gateway = scan.observations
    assert camera.fields[Field.MAC_VENDOR] == "Axis Communications AB"
    assert camera.hostname == "kstn-cam-0501.lab.example"
    assert camera.observed_at == "2026-03-02T09:01:05.000000Z"  # the host's end time
    assert gateway.observed_at == "2026-03-02T09:00:00.000000Z"  # the scan's start
    assert gateway.hostname == "gateway.lab.example"
    assert all(o.source is Source.NMAP_XML for o in scan.observations)


def test_open_ports_only_with_service_product_and_version(scan):
    camera, plc, gateway = scan.observations
    ports = {(s.port, s.transport): s for s in camera.services}
    assert sorted(ports) == [(22, "tcp"), (80, "tcp"), (443, "tcp"), (554, "tcp")]  # not 23
    ssh = ports[(22, "tcp")]
    assert (ssh.service, ssh.product, ssh.version) == ("ssh", "OpenSSH", "8.4")
    assert ssh.fields[NMAP_EXTRAINFO] == "protocol 2.0"
    assert ssh.fields[NMAP_CPE].startswith("cpe:/a:openbsd:openssh:8.4")
    assert len(ssh.fields[Field.SSH_HOST_KEY]) == 64
    web = ports[(80, "tcp")]
    assert web.fields[Field.HTTP_TITLE] == "AXIS P3245-LVE Network Camera"
    assert web.fields[Field.HTTP_SERVER] == "Boa/0.94.14rc21"
    assert ports[(554, "tcp")].fields == {}  # rtsp-methods says nothing about the device
    assert {s.service for s in plc.services} == {"modbus", "ftp", "snmp"}
    assert [s.service for s in gateway.services] == ["https"]


def test_certificate_is_read_from_the_pem(scan):
    camera = scan.observations[0]
    https = {s.port: s for s in camera.services}[443]
    assert https.service == "https" and https.tls is not None
    cert = https.tls.certificate
    assert cert is not None
    assert cert.sha256 == (DATA / "nmap-scan.cert.sha256").read_text().strip()
    assert cert.self_signed and cert.key_type == "ec" and cert.key_bits == 256
    assert cert.not_after == "2036-01-01T00:00:00Z"
    assert cert.sans == ("DNS:kstn-cam-0501", "IP:192.0.2.5")
    assert cert.signature_algorithm == "ecdsa-with-SHA256"
    assert https.fields[Field.TLS_SUBJECT] == cert.subject


def test_script_text_is_kept_as_untrusted_text(scan):
    plc = scan.observations[1]
    services = {s.port: s for s in plc.services}
    assert services[21].banner == "220 BMX P34 2020 FTP server (VxWorks 6.9) ready." \
                                  "<script>alert(1)</script>"
    assert services[21].fields[Field.BANNER] == services[21].banner
    assert services[161].fields[Field.SNMP_SYSDESCR] == "Schneider Electric BMX P34 2020"
    assert services[161].transport == "udp"


def test_progress_is_reported(tmp_path):
    calls: list[tuple[int, int]] = []
    read_nmap_xml(DATA / "nmap-scan.xml", progress=lambda done, total: calls.append((done, total)))
    assert calls and all(total == (DATA / "nmap-scan.xml").stat().st_size for _, total in calls)


# ------------------------------------------------------------------------ hostile
def test_billion_laughs_is_refused():
    assert "XML bomb" in _error(DATA / "nmap-bomb.xml")


def test_external_entity_is_refused():
    assert "refused" in _error(DATA / "nmap-xxe.xml")


def test_external_dtd_is_refused():
    assert "external DTD (http://192.0.2.200/nmap.dtd)" in _error(DATA / "nmap-external-dtd.xml")


def test_other_xml_is_not_an_nmap_report():
    assert "not an nmap XML report (root element <report>" in _error(
        DATA / "nmap-not-nmap.xml")


def test_report_cut_in_its_first_host_is_an_error():
    assert "not well-formed XML (line 28" in _error(DATA / "nmap-truncated.xml")


def test_report_cut_after_a_host_keeps_it_with_a_warning():
    path = DATA / "nmap-truncated-after-host.xml"
    result = read_nmap_xml(path)
    assert [o.ip for o in result.observations] == ["192.0.2.5"]
    assert result.warnings == (f"{path}: the XML breaks off at line 60, column 26 (unclosed "
                               "token); the 1 host before it was read",)


def test_random_bytes_empty_and_missing_files(tmp_path):
    junk = tmp_path / "junk.xml"
    junk.write_bytes(os.urandom(4096).replace(b"<", b"."))
    assert "not well-formed XML" in _error(junk)
    empty = tmp_path / "empty.xml"
    empty.touch()
    assert "not well-formed XML" in _error(empty)
    assert "no such file" in _error(tmp_path / "absent.xml")


def test_a_large_report_is_streamed(tmp_path):
    hosts = "".join(
        f'<host endtime="1772442001"><status state="up"/>'
        f'<address addr="10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" addrtype="ipv4"/>'
        f'<ports><port protocol="tcp" portid="80"><state state="open"/>'
        f'<service name="http" product="{"x" * 5000}"/></port></ports></host>\n'
        for i in range(1, 3001))
    path = tmp_path / "large.xml"
    path.write_text(f'<?xml version="1.0"?>\n<!DOCTYPE nmaprun>\n<nmaprun start="1772442000">'
                    f"\n{hosts}</nmaprun>\n")
    result = read_nmap_xml(path)
    assert len(result.observations) == 3000
    assert len(result.observations[0].services[0].product or "") == 4096  # bounded
