"""The lab's UDP personalities (SNMP, SSDP, mDNS) on the wire, read by real clients.

net-snmp's tools and nmap read the SNMP agent, dnspython (and dig, when installed)
the DNS-SD responder, a raw socket the SSDP answers. Hostile and malformed input goes
in too: a device must stay silent on garbage, keep answering afterwards and never
count a handler error.
"""

from __future__ import annotations

import random
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rdataclass
import dns.rdatatype
import pytest

from fleetwarden.adapters.lab.protocols.base import upnp_uuid
from fleetwarden.adapters.lab.runtime import LabRuntime
from fleetwarden.domain.lab import LabDevice, Service, Weakness
from tests.integration.lab.harness import ROOT, client_tool, make_device, next_ip, running_lab

HOSTILE_DESCR = b"DS-2CD2143G2-I \xff\xfe\xc3( <script>alert('snmp')</script>"
CAMERA_DESCR = "AXIS P3245-LVE Network Camera 10.12.199"
SERVER = "Linux/4.14 UPnP/1.0 AXIS/10.12"
DEVICE_TYPE = "urn:schemas-upnp-org:device:Basic:1"
SECRET = "n0t-public-c0mmunity"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
#: Silence is checked by waiting this long for a datagram that must not come.
QUIET = 0.5


@dataclass(frozen=True)
class Lab:
    runtime: LabRuntime
    camera: LabDevice
    private: LabDevice
    hostile: LabDevice
    injected: LabDevice
    no_upnp: LabDevice


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    camera = make_device(
        [Service.HTTP, Service.HTTPS, Service.RTSP, Service.SNMP, Service.SSDP, Service.UPNP,
         Service.MDNS],
        weaknesses=[Weakness.SNMP_PUBLIC, Weakness.UPNP_EXPOSED],
        persona={"snmp_sysdescr": CAMERA_DESCR, "snmp_sysobjectid": "1.3.6.1.4.1.368.4",
                 "snmp_contact": "facilities@northshire.example", "upnp_server": SERVER,
                 "upnp_device_type": DEVICE_TYPE,
                 "mdns_services": "_axis-video._tcp,_http._tcp,_rtsp._tcp,_ssh._tcp"},
        mac="AC:CC:8E:12:34:56", hostname="hq-cam-0042", vendor="Axis Communications",
        model="P3245-LVE", serial="ACCC8E123456", firmware_version="10.12.199")
    private = make_device([Service.SNMP], secret=SECRET, hostname="hq-nvr-0001")
    hostile = make_device(
        [Service.SNMP], weaknesses=[Weakness.SNMP_PUBLIC, Weakness.HOSTILE_BANNER],
        persona={"snmp_sysdescr": HOSTILE_DESCR.decode("utf-8", "surrogateescape")})
    injected = make_device(
        [Service.SSDP, Service.UPNP], weaknesses=[Weakness.UPNP_EXPOSED],
        persona={"upnp_server": "Evil/1.0\r\nX-Injected: yes",
                 "upnp_device_type": "urn:schemas-upnp-org:device:Basic:1\r\nX-Also: 1"})
    no_upnp = make_device([Service.HTTP, Service.SSDP], weaknesses=[Weakness.UPNP_EXPOSED])
    devices = [camera, private, hostile, injected, no_upnp]
    with running_lab(devices, tmp_path_factory.mktemp("udp-lab")) as runtime:
        yield Lab(runtime, camera, private, hostile, injected, no_upnp)


@pytest.fixture(autouse=True)
def no_handler_errors(lab: Lab) -> Iterator[None]:
    """Whatever a test sends, no handler may raise."""
    yield
    assert lab.runtime.stats.handler_errors == 0


# ------------------------------------------------------------------ helpers
def port(device: LabDevice, service: Service) -> int:
    offered = device.service(service)
    assert offered is not None
    return offered.port


def udp(ip: str, to: int, payload: bytes, *, timeout: float = 2.0) -> bytes | None:
    """One request, its first answer (None when the device stays silent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (ip, to))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def all_silent(ip: str, to: int, payloads: list[bytes]) -> list[bytes]:
    """Send every payload from one socket; whatever came back within ``QUIET``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for payload in payloads:
            sock.sendto(payload, (ip, to))
        sock.settimeout(QUIET)
        answers = []
        try:
            while True:
                answers.append(sock.recv(65535))
        except TimeoutError:
            return answers


def snmp(tool: str, device: LabDevice, *args: str, community: str = "public",
         version: str = "2c") -> subprocess.CompletedProcess[str]:
    """A net-snmp tool against the device: numeric OIDs, no MIB loading, 1 s, no retry."""
    where = f"{device.ip}:{port(device, Service.SNMP)}"
    return subprocess.run(
        [client_tool(tool), f"-v{version}", "-c", community, "-m", "", "-On", "-t", "1",
         "-r", "0", where, *args],
        capture_output=True, text=True, errors="replace", timeout=20, check=False)


def values(output: str) -> dict[str, str]:
    """``.oid = TYPE: value`` lines as {oid without leading dot: "TYPE: value"}; an
    endOfMibView line repeats the last name, so the first value of a name wins."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            found.setdefault(name.lstrip("."), value.strip())
    return found


# Raw SNMP, encoded here independently of the agent's own BER code.
RID = bytes.fromhex("1234abcd")
OID_SYS_DESCR = bytes.fromhex("2b06010201010100")
OID_SYSTEM = bytes.fromhex("2b0601020101")


def ber(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes((tag, len(body))) + body
    return bytes((tag, 0x82)) + len(body).to_bytes(2, "big") + body


def request(*, community: bytes = b"public", version: int = 1, pdu: int = 0xA0,
            oids: tuple[bytes, ...] = (OID_SYS_DESCR,), rid: bytes = RID,
            second: bytes = b"\x00", third: bytes = b"\x00") -> bytes:
    binds = b"".join(ber(0x30, ber(0x06, oid) + b"\x05\x00") for oid in oids)
    body = ber(0x02, rid) + ber(0x02, second) + ber(0x02, third) + ber(0x30, binds)
    return ber(0x30, ber(0x02, bytes((version,))) + ber(0x04, community) + ber(pdu, body))


# ------------------------------------------------------------------ SNMP
@pytest.mark.parametrize("version", ["1", "2c"])
def test_snmpget_reads_the_system_group(lab: Lab, version: str):
    done = snmp("snmpget", lab.camera, SYS_DESCR, SYS_OBJECT_ID, SYS_NAME, version=version)
    assert done.returncode == 0, done.stderr
    got = values(done.stdout)
    assert got[SYS_DESCR] == f'STRING: "{CAMERA_DESCR}"'
    assert got[SYS_OBJECT_ID] == "OID: .1.3.6.1.4.1.368.4"
    assert got[SYS_NAME] == 'STRING: "hq-cam-0042"'


def test_snmpwalk_system_and_interfaces(lab: Lab):
    system = snmp("snmpwalk", lab.camera, "1.3.6.1.2.1.1", version="1")
    assert system.returncode == 0, system.stderr
    got = values(system.stdout)
    assert sorted(got) == [f"1.3.6.1.2.1.1.{n}.0" for n in range(1, 8)]
    assert got["1.3.6.1.2.1.1.4.0"] == 'STRING: "facilities@northshire.example"'
    assert got["1.3.6.1.2.1.1.6.0"] == 'STRING: "HQ"'
    assert got["1.3.6.1.2.1.1.7.0"] == "INTEGER: 72"
    first = int(re.findall(r"Timeticks: \((\d+)\)", got["1.3.6.1.2.1.1.3.0"])[0])

    time.sleep(0.05)
    mib2 = snmp("snmpwalk", lab.camera, "1.3.6.1.2.1")  # v2c: ends at endOfMibView
    assert mib2.returncode == 0, mib2.stderr
    got = values(mib2.stdout)
    assert int(re.findall(r"Timeticks: \((\d+)\)", got["1.3.6.1.2.1.1.3.0"])[0]) >= first
    assert got["1.3.6.1.2.1.2.1.0"] == "INTEGER: 1"
    assert got["1.3.6.1.2.1.2.2.1.2.1"] == 'STRING: "eth0"'
    assert got["1.3.6.1.2.1.2.2.1.3.1"] == "INTEGER: 6"
    assert got["1.3.6.1.2.1.2.2.1.6.1"] == "Hex-STRING: AC CC 8E 12 34 56"


def test_snmpbulkwalk_and_bounded_getbulk(lab: Lab):
    walk = snmp("snmpbulkwalk", lab.camera, "-Cr5", "1.3.6.1.2.1")
    assert walk.returncode == 0, walk.stderr
    got = values(walk.stdout)
    assert len(got) == 12 and got[SYS_NAME] == 'STRING: "hq-cam-0042"'
    assert got["1.3.6.1.2.1.2.2.1.6.1"] == "Hex-STRING: AC CC 8E 12 34 56"

    bulk = snmp("snmpbulkget", lab.camera, "-Cn1", "-Cr1000", SYS_NAME, "1.3.6.1.2.1.1")
    assert bulk.returncode == 0, bulk.stderr
    lines = bulk.stdout.splitlines()
    assert lines[0] == '.1.3.6.1.2.1.1.6.0 = STRING: "HQ"'  # non-repeater: after sysName
    assert len(lines) == 1 + 12 + 1  # then the whole MIB once, then endOfMibView
    assert "No more variables left in this MIB View" in lines[-1]

    # 60 repeaters x 1,000 repetitions: the agent caps the reply instead of exploding.
    greedy = request(version=1, pdu=0xA5, oids=(OID_SYSTEM,) * 60, third=b"\x03\xe8")
    reply = udp(lab.camera.ip, port(lab.camera, Service.SNMP), greedy)
    assert reply is not None and len(reply) <= 8192
    assert ber(0x02, RID) in reply and b"\xa2" in reply


def test_unknown_objects_and_sets(lab: Lab):
    v2 = snmp("snmpget", lab.camera, "1.3.6.1.2.1.1.9.0", "1.3.6.1.2.1.1.1.5")
    got = values(v2.stdout)
    assert got["1.3.6.1.2.1.1.9.0"].startswith("No Such Object")
    assert got["1.3.6.1.2.1.1.1.5"].startswith("No Such Instance")
    v1 = snmp("snmpget", lab.camera, "1.3.6.1.2.1.1.9.0", version="1")
    assert v1.returncode != 0 and "noSuchName" in v1.stderr

    assert "notWritable" in snmp("snmpset", lab.camera, SYS_NAME, "s", "pwned").stderr
    assert "noSuchName" in snmp("snmpset", lab.camera, SYS_NAME, "s", "pwned",
                                version="1").stderr
    after = snmp("snmpget", lab.camera, SYS_NAME)
    assert values(after.stdout)[SYS_NAME] == 'STRING: "hq-cam-0042"'


def test_communities(lab: Lab):
    wrong = snmp("snmpget", lab.camera, SYS_NAME, community="private")
    assert wrong.returncode != 0 and "Timeout" in wrong.stderr
    public = snmp("snmpget", lab.private, SYS_NAME, version="1")
    assert public.returncode != 0 and "Timeout" in public.stderr
    secret = snmp("snmpget", lab.private, SYS_NAME, community=SECRET)
    assert values(secret.stdout)[SYS_NAME] == 'STRING: "hq-nvr-0001"'
    # The camera has a secret too, and it works beside "public".
    assert snmp("snmpget", lab.camera, SYS_NAME, community="labsecret123").returncode == 0


def test_hostile_sysdescr_bytes_arrive_exact(lab: Lab):
    reply = udp(lab.hostile.ip, port(lab.hostile, Service.SNMP), request())
    assert reply is not None
    assert ber(0x04, HOSTILE_DESCR) in reply and ber(0x02, RID) in reply

    done = snmp("snmpget", lab.hostile, "-Ox", "-Oqv", SYS_DESCR)
    assert done.returncode == 0, done.stderr
    assert bytes.fromhex(done.stdout.replace('"', "")) == HOSTILE_DESCR


def malformed_snmp() -> list[bytes]:
    valid = request()
    rng = random.Random(161)
    deep = b"\x05\x00"
    for _ in range(300):
        deep = ber(0x30, deep)
    return [
        b"", b"\x30", b"\x30\x00", valid[:-3], valid[:12], valid + b"\x00",
        b"\x30\x84\xff\xff\xff\xff" + valid[2:],                  # length far past the end
        b"\x30\x85\x00\x00\x00\x00" + bytes((len(valid) - 2,)) + valid[2:],  # 5 length octets
        b"\x30\x80" + valid[2:] + b"\x00\x00",                    # indefinite length
        b"\x3f\x81\x01\x00", deep,
        request(oids=(bytes.fromhex("2b0601020101800100"),)),     # non-minimal OID arc
        request(rid=bytes(6)),                                    # over-wide integer
        request(version=0, pdu=0xA5),                             # GetBulk is not v1
        request(version=3), request(pdu=0xA4), request(pdu=0xA2),  # v3, trap, response
        bytes.fromhex("303a020103300f02024a69020300ffe30401040201030410300e0400020100"
                      "020100040004000400301204000400a00c020237f00201000201003000"),
        *(rng.randbytes(rng.randrange(1, 200)) for _ in range(20)),
    ]


def test_malformed_snmp_gets_silence_and_the_agent_survives(lab: Lab):
    ip, to = lab.camera.ip, port(lab.camera, Service.SNMP)
    assert all_silent(ip, to, malformed_snmp()) == []

    rng = random.Random(1161)
    valid = request(version=1, pdu=0xA1)
    mutants = []
    for _ in range(400):
        data = bytearray(valid)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        mutants.append(bytes(data[:rng.randrange(1, len(data) + 1)]))
    for answer in all_silent(ip, to, mutants):
        assert answer[0] == 0x30 and len(answer) <= 8192
    assert udp(ip, to, request()) is not None
    assert snmp("snmpget", lab.camera, SYS_NAME).returncode == 0


def test_nmap_reads_sysdescr(lab: Lab):
    nmap = client_tool("nmap")
    if not ROOT:
        pytest.skip("nmap -sU needs root, and snmp-sysdescr port 161")
    done = subprocess.run(
        [nmap, "-sU", "-Pn", "-n", "-p", str(port(lab.camera, Service.SNMP)),
         "--max-retries", "1", "--host-timeout", "20s", "--script", "snmp-sysdescr",
         lab.camera.ip],
        capture_output=True, text=True, errors="replace", timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert f"snmp-sysdescr: {CAMERA_DESCR}" in done.stdout


# ------------------------------------------------------------------ SSDP
def m_search(st: str, *, man: str = 'MAN: "ssdp:discover"') -> bytes:
    return ("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
            f"{man}\r\nMX: 1\r\nST: {st}\r\n\r\n").encode()


def ssdp_answer(device: LabDevice, payload: bytes) -> dict[str, str]:
    reply = udp(device.ip, port(device, Service.SSDP), payload)
    assert reply is not None
    head, _, rest = reply.decode("utf-8").partition("\r\n")
    assert head == "HTTP/1.1 200 OK" and rest.endswith("\r\n\r\n")
    headers = {}
    for line in rest.removesuffix("\r\n\r\n").split("\r\n"):
        name, colon, value = line.partition(":")
        assert colon, line
        headers[name.lower()] = value.strip()
    return headers


def test_ssdp_search_answers(lab: Lab):
    cam = lab.camera
    udn = f"uuid:{upnp_uuid(cam)}"
    got = ssdp_answer(cam, m_search("ssdp:all"))
    assert got["location"] == (f"http://{cam.ip}:{port(cam, Service.UPNP)}/description.xml")
    assert got["server"] == SERVER and got["cache-control"] == "max-age=1800"
    assert got["ext"] == "" and got["date"].endswith("GMT")
    assert got["st"] == "upnp:rootdevice" and got["usn"] == f"{udn}::upnp:rootdevice"

    assert ssdp_answer(cam, m_search("upnp:rootdevice"))["usn"] == f"{udn}::upnp:rootdevice"
    by_uuid = ssdp_answer(cam, m_search(udn.upper().replace("UUID", "uuid")))
    assert by_uuid["st"] == udn and by_uuid["usn"] == udn
    by_type = ssdp_answer(cam, m_search(DEVICE_TYPE, man="man: ssdp:discover"))
    assert by_type["st"] == DEVICE_TYPE and by_type["usn"] == f"{udn}::{DEVICE_TYPE}"


def test_ssdp_silence_and_header_injection(lab: Lab):
    cam = lab.camera
    rng = random.Random(1900)
    ignored = [
        m_search("urn:schemas-upnp-org:device:MediaRenderer:1"),
        m_search("ssdp:all", man="X-NOTHING: 1"),
        m_search("ssdp:all", man='MAN: "ssdp:alive"'),
        b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n",
        b"GET /description.xml HTTP/1.1\r\nHost: x\r\n\r\n",
        b"M-SEARCH * HTTP/1.1\r\n" + b"X" * 20000,
        b"", *(rng.randbytes(rng.randrange(1, 300)) for _ in range(20)),
    ]
    assert all_silent(cam.ip, port(cam, Service.SSDP), ignored) == []

    got = ssdp_answer(lab.injected, m_search("ssdp:all"))
    assert "x-injected" not in got and "x-also" not in got
    assert got["location"].endswith(f":{port(lab.injected, Service.UPNP)}/description.xml")
    assert got["server"] == "Evil/1.0X-Injected: yes"
    assert got["usn"] == f"uuid:{upnp_uuid(lab.injected)}::upnp:rootdevice"


def test_ssdp_without_a_upnp_description_stays_silent(lab: Lab):
    device = lab.no_upnp  # a web server is no description to point at
    searches = [m_search(st) for st in ("ssdp:all", "upnp:rootdevice", DEVICE_TYPE,
                                        f"uuid:{upnp_uuid(device)}")]
    assert all_silent(device.ip, port(device, Service.SSDP), searches) == []


# ------------------------------------------------------------------ mDNS / DNS-SD
def ask(device: LabDevice, name: str, rdtype: str, *, timeout: float = 2.0) -> dns.message.Message:
    """A legacy unicast query (random source port): id and question come back."""
    query = dns.message.make_query(name, rdtype)
    response = dns.query.udp(query, device.ip, port=port(device, Service.MDNS), timeout=timeout)
    assert response.flags & dns.flags.AA
    assert all(rrset.ttl <= 10 for rrset in response.answer + response.additional)
    return response


def records(response: dns.message.Message, rdtype: str, *,
            section: str = "answer") -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    rrsets = getattr(response, section)
    return sorted(rd.to_text() for rrset in rrsets if rrset.rdtype == wanted for rd in rrset)


def test_dns_sd_browse_resolve_and_address(lab: Lab):
    cam = lab.camera
    services = ask(cam, "_services._dns-sd._udp.local.", "PTR")
    assert records(services, "PTR") == [  # no _ssh._tcp: the camera runs no SSH
        "_axis-video._tcp.local.", "_http._tcp.local.", "_rtsp._tcp.local."]

    browse = ask(cam, "_axis-video._tcp.local.", "PTR")
    assert records(browse, "PTR") == ["hq-cam-0042._axis-video._tcp.local."]
    http = port(cam, Service.HTTP)
    assert records(browse, "SRV", section="additional") == [f"0 0 {http} hq-cam-0042.local."]
    assert records(browse, "A", section="additional") == [cam.ip]
    txt = records(browse, "TXT", section="additional")[0]
    for pair in ("vendor=Axis Communications", "model=P3245-LVE", "serial=ACCC8E123456",
                 "fw=10.12.199", "macaddress=ACCC8E123456"):
        assert f'"{pair}"' in txt

    rtsp = ask(cam, "hq-cam-0042._rtsp._tcp.local.", "SRV")
    assert records(rtsp, "SRV") == [f"0 0 {port(cam, Service.RTSP)} hq-cam-0042.local."]
    assert records(ask(cam, "hq-cam-0042._http._tcp.local.", "SRV"), "SRV") == [
        f"0 0 {http} hq-cam-0042.local."]
    assert "macaddress" not in records(ask(cam, "HQ-CAM-0042._http._tcp.local.", "TXT"),
                                       "TXT")[0]
    assert records(ask(cam, "hq-cam-0042.local.", "A"), "A") == [cam.ip]
    every = ask(cam, "hq-cam-0042._rtsp._tcp.local.", "ANY")
    assert records(every, "SRV") and records(every, "TXT")
    assert records(ask(cam, "hq-cam-0042.local.", "AAAA"), "NSEC") == ["hq-cam-0042.local. A"]

    with pytest.raises(dns.exception.Timeout):  # not its name: no answer, not NXDOMAIN
        ask(cam, "someone-else.local.", "A", timeout=QUIET)
    for name, rdtype in (("_ssh._tcp.local.", "PTR"), ("hq-cam-0042._ssh._tcp.local.", "SRV")):
        with pytest.raises(dns.exception.Timeout):  # a type with nothing behind it
            ask(cam, name, rdtype, timeout=QUIET)


def test_mdns_querier_on_5353_gets_no_question_back(lab: Lab):
    cam = lab.camera
    query = dns.message.make_query("hq-cam-0042.local.", "A")
    query.question[0].rdclass = dns.rdataclass.RdataClass.make(0x8001)  # QU bit
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((next_ip(), 5353))
        except OSError as exc:
            pytest.skip(f"cannot bind a 5353 client socket: {exc}")
        sock.settimeout(2)
        sock.sendto(query.to_wire(), (cam.ip, port(cam, Service.MDNS)))
        response = dns.message.from_wire(sock.recv(65535))
    assert response.id == query.id and not response.question
    assert records(response, "A") == [cam.ip] and response.answer[0].ttl > 10


def test_dig_browses_services(lab: Lab):
    dig = shutil.which("dig")
    if dig is None:
        pytest.skip("dig not installed")
    done = subprocess.run(
        [dig, "+short", "+time=1", "+tries=1", "-p", str(port(lab.camera, Service.MDNS)),
         f"@{lab.camera.ip}", "_services._dns-sd._udp.local.", "PTR"],
        capture_output=True, text=True, timeout=15, check=False)
    assert "_axis-video._tcp.local." in done.stdout.split()


def test_nmap_dns_service_discovery(lab: Lab):
    nmap = client_tool("nmap")
    if not ROOT:
        pytest.skip("nmap -sU needs root, and dns-service-discovery port 5353")
    done = subprocess.run(
        [nmap, "-sU", "-Pn", "-n", "-p", str(port(lab.camera, Service.MDNS)),
         "--max-retries", "1", "--host-timeout", "20s", "--script", "dns-service-discovery",
         lab.camera.ip],
        capture_output=True, text=True, errors="replace", timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "axis-video" in done.stdout and f"{port(lab.camera, Service.RTSP)}/tcp rtsp" in (
        done.stdout)


def test_malformed_mdns_gets_silence_and_the_responder_survives(lab: Lab):
    cam = lab.camera
    valid = dns.message.make_query("hq-cam-0042.local.", "A")
    answer = dns.message.make_response(valid).to_wire()
    update = dns.message.make_query("hq-cam-0042.local.", "A")
    update.set_opcode(dns.opcode.UPDATE)
    wire = valid.to_wire()
    rng = random.Random(5353)
    junk = [b"", wire[:11], wire[:-2], wire + b"\x00\x00", answer, update.to_wire(),
            wire[:4] + b"\xff\xff" + wire[6:],                       # 65,535 questions
            wire[:12] + b"\xc0\x0c" + wire[-4:],                     # compression loop
            wire + b"\x00" * 9000,
            *(rng.randbytes(rng.randrange(1, 300)) for _ in range(30))]
    assert all_silent(cam.ip, port(cam, Service.MDNS), junk) == []
    assert records(ask(cam, "hq-cam-0042.local.", "A"), "A") == [cam.ip]
