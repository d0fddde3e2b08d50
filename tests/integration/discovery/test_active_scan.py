"""The active scanner against simulated lab devices: every probe fills the right fields.

One lab (module scope) holds a device per situation: a camera offering every service
with public SNMP and an open broker, a locked-down device (Basic auth, private SNMP,
MQTT login), TLS weaknesses (expired, self-signed, legacy TLS, weak ciphers), and a
device whose banners are hostile. It is scanned once with UDP; each test reads the
observations. A 300-device planned lab checks open-port recall against the truth.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetwarden.adapters.discovery.active import (
    PortPlan,
    Profile,
    parse_ports,
    scan,
    scan_sync,
)
from fleetwarden.adapters.lab.certs import LabCertificates
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.adapters.lab.protocols.ssh import host_key
from fleetwarden.domain.discovery import (
    MAX_TEXT,
    Field,
    HostObservation,
    ServiceObservation,
    Source,
)
from fleetwarden.domain.lab import WELL_KNOWN, LabDevice, Service, Weakness
from fleetwarden.errors import InputError
from tests.integration.lab.harness import ROOT, make_device, running_lab

_INVALID_UTF8 = b"\xff\xfe\xc3(".decode("utf-8", "surrogateescape")
_LONG = "X" * 5000

CAMERA = make_device(
    [Service.HTTP, Service.HTTPS, Service.RTSP, Service.SSH, Service.TELNET, Service.FTP,
     Service.MQTT, Service.MQTTS, Service.MODBUS, Service.DEBUG, Service.SNMP, Service.SSDP,
     Service.UPNP, Service.MDNS],
    weaknesses=[Weakness.SNMP_PUBLIC, Weakness.MQTT_NO_AUTH, Weakness.UPNP_EXPOSED],
    persona={
        "http_server": "lighttpd/1.4.45", "http_title": "Hikvision DS-2CD2143G2-I",
        "http_auth": "digest", "http_realm": "DS-2CD2143G2-I",
        "rtsp_server": "Rtsp Server/3.0", "rtsp_realm": "IP Camera(0A1B2C)",
        "ssh_version": "SSH-2.0-dropbear_2019.78",
        "telnet_banner": "DS-2CD2143G2-I login console", "telnet_prompt": "login: ",
        "ftp_banner": "220 DS-2CD2143G2-I FTP server ready.",
        "debug_banner": "DS-2CD2143G2-I diagnostic shell\r\n# ",
        "snmp_sysdescr": "Hikvision DS-2CD2143G2-I V5.7.3",
        "snmp_sysobjectid": "1.3.6.1.4.1.39165.1.1",
        "upnp_server": "Linux/3.10.73 UPnP/1.0 DS-2CD2143G2-I/V5.7.3",
        "upnp_manufacturer": "Hikvision", "upnp_model_name": "DS-2CD2143G2-I",
        "upnp_friendly_name": "hq-cam-0001",
        "mdns_services": "_http._tcp,_rtsp._tcp",
        "modbus_vendor": "Hikvision", "modbus_product": "DS-2CD2143G2-I",
    },
    hostname="hq-cam-0001", serial="DS-CAM-0001")
PRIVATE = make_device(
    [Service.HTTP, Service.SSH, Service.MQTT, Service.SNMP],
    persona={"http_server": "GoAhead-Webs", "http_title": "Paxton Net2 Configuration",
             "http_auth": "basic", "http_realm": "Net2 Plus ACU",
             "ssh_version": "SSH-2.0-OpenSSH_9.6p1", "snmp_sysdescr": "Net2"},
    serial="NET2-0002", hostname="hq-acu-0002")
FORM = make_device([Service.HTTP], persona={"http_server": "", "http_title": "WEB SERVICE",
                                            "http_auth": "form"}, serial="FORM-0003")
EXPIRED = make_device([Service.HTTPS], weaknesses=[Weakness.EXPIRED_CERTIFICATE],
                      serial="EXP-0004", hostname="hq-exp-0004")
SELF_SIGNED = make_device([Service.HTTPS], weaknesses=[Weakness.SELF_SIGNED_CERTIFICATE],
                          serial="SELF-0005", hostname="hq-self-0005")
LEGACY = make_device([Service.HTTPS], weaknesses=[Weakness.LEGACY_TLS], serial="LEG-0006")
WEAK = make_device([Service.HTTPS], weaknesses=[Weakness.WEAK_CIPHERS], serial="WEAK-0007")
HOSTILE = make_device(
    [Service.HTTP, Service.TELNET, Service.FTP, Service.RTSP, Service.DEBUG, Service.SNMP],
    weaknesses=[Weakness.HOSTILE_BANNER, Weakness.SNMP_PUBLIC],
    persona={
        "http_title": "<script>document.title='pwned'</script><img src=x onerror=alert(1)>",
        "http_server": "App-webs/<b>x</b>\"'><svg/onload=alert(1)>",
        "telnet_banner": f"\x1b[2J\x1b[31mWARNING\x1b[0m \x1b]0;owned\x07 {_LONG}",
        "ftp_banner": f"220 {_LONG}",
        "rtsp_server": f"RTSP/1.0 {_INVALID_UTF8}\x1b[5mcam",
        "snmp_sysdescr": f"cam {_INVALID_UTF8} <script>alert('snmp')</script>",
        "debug_banner": f"\x1b[?1049h{_LONG}\r\n# ",
    },
    serial="HOST-0008")
DEVICES = [CAMERA, PRIVATE, FORM, EXPIRED, SELF_SIGNED, LEGACY, WEAK, HOSTILE]


def _ports(devices: list[LabDevice]) -> PortPlan:
    tcp = {s.port for d in devices for s in d.services if s.transport == "tcp"}
    udp = {s.port for d in devices for s in d.services if s.transport == "udp"}
    return PortPlan(tuple(sorted(tcp)), tuple(sorted(udp)))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    run_dir = tmp_path_factory.mktemp("discovery-lab")
    with running_lab(DEVICES, run_dir) as runtime:
        yield run_dir
    assert runtime.stats.handler_errors == 0


@pytest.fixture(scope="module")
def found(lab: Path) -> dict[str, HostObservation]:
    calls: list[tuple[int, int, int]] = []
    hosts = scan_sync([d.ip for d in DEVICES], _ports(DEVICES), udp=True,
                      progress=lambda *a: calls.append(a))
    assert calls[-1] == (len(DEVICES), len(DEVICES), len(DEVICES))
    assert [c[0] for c in calls] == list(range(1, len(DEVICES) + 1))
    return {h.ip: h for h in hosts if h.ip}


def _service(found: dict[str, HostObservation], device: LabDevice, kind: Service,
             ) -> ServiceObservation:
    offered = device.service(kind)
    assert offered is not None
    host = found[device.ip]
    return next(s for s in host.services
                if s.port == offered.port and s.transport == offered.transport)


# ------------------------------------------------------------------ ports and names
def test_every_offered_port_is_found_and_named_as_the_truth_says(found):
    for device in DEVICES:
        host = found[device.ip]
        assert host.source is Source.ACTIVE and host.observed_at.endswith("+00:00")
        seen = {(s.port, s.transport): s.service for s in host.services}
        offered = {(s.port, s.transport): s.service.value for s in device.services}
        tcp = {k: v for k, v in offered.items() if k[1] == "tcp"}
        assert {k: v for k, v in seen.items() if k[1] == "tcp"} == tcp, device.serial
        for key, name in offered.items():
            if key[1] == "udp" and (name != "snmp" or Weakness.SNMP_PUBLIC in device.weaknesses):
                assert seen.get(key) == name, (device.serial, key)


def test_private_snmp_stays_silent_and_public_names_its_community(found):
    assert not any(s.service == "snmp" for s in found[PRIVATE.ip].services)
    snmp = _service(found, CAMERA, Service.SNMP)
    assert snmp.fields[Field.SNMP_COMMUNITY] == "public"
    assert snmp.fields[Field.SNMP_SYSDESCR] == "Hikvision DS-2CD2143G2-I V5.7.3"
    assert snmp.fields[Field.SNMP_SYSOBJECTID] == "1.3.6.1.4.1.39165.1.1"
    assert snmp.fields[Field.SNMP_SYSNAME] == "hq-cam-0001"
    assert found[CAMERA.ip].mac == CAMERA.mac  # ifPhysAddress, with the same community
    assert found[PRIVATE.ip].mac is None


def test_snmp_answers_the_devices_own_community_when_asked(lab):
    hosts = scan_sync([PRIVATE.ip], PortPlan((), (PRIVATE.service(Service.SNMP).port,)),
                      udp=True, snmp_communities=("public", "private", PRIVATE.secret))
    [snmp] = hosts[0].services
    assert snmp.fields[Field.SNMP_COMMUNITY] == PRIVATE.secret
    assert snmp.fields[Field.SNMP_SYSDESCR] == "Net2"


# ------------------------------------------------------------------ HTTP, RTSP
def test_http_server_title_and_digest_realm(found):
    http = _service(found, CAMERA, Service.HTTP)
    assert (http.product, http.version) == ("lighttpd", "1.4.45")
    assert http.fields[Field.HTTP_SERVER] == "lighttpd/1.4.45"
    assert http.fields[Field.HTTP_TITLE] == "Hikvision DS-2CD2143G2-I"
    assert http.fields[Field.HTTP_AUTH] == "digest"
    assert http.fields[Field.HTTP_REALM] == "DS-2CD2143G2-I"
    assert http.banner and http.banner.startswith("HTTP/1.1 401")


def test_basic_realm_and_form_login(found):
    basic = _service(found, PRIVATE, Service.HTTP)
    assert basic.fields[Field.HTTP_AUTH] == "basic"
    assert basic.fields[Field.HTTP_REALM] == "Net2 Plus ACU"
    assert (basic.product, basic.version) == ("GoAhead-Webs", None)
    form = _service(found, FORM, Service.HTTP)
    assert form.fields[Field.HTTP_AUTH] == "form"
    assert form.fields[Field.HTTP_TITLE] == "WEB SERVICE"
    assert Field.HTTP_SERVER not in form.fields and Field.HTTP_REALM not in form.fields


def test_rtsp_server_and_realm(found):
    rtsp = _service(found, CAMERA, Service.RTSP)
    assert rtsp.fields[Field.RTSP_SERVER] == "Rtsp Server/3.0"
    assert rtsp.fields[Field.RTSP_REALM] == "IP Camera(0A1B2C)"
    assert (rtsp.product, rtsp.version) == ("Rtsp Server", "3.0")


# ------------------------------------------------------------------ TLS
def _sha256(lab: Path, device: LabDevice) -> str:
    return hashlib.sha256(LabCertificates(lab).certificate_der(device)).hexdigest()


def test_https_certificate_is_parsed(found, lab):
    https = _service(found, CAMERA, Service.HTTPS)
    assert https.service == "https" and https.tls is not None
    assert https.tls.version == "TLSv1.3" and https.tls.cipher
    cert = https.tls.certificate
    assert cert is not None
    assert cert.subject == "CN=hq-cam-0001,O=Hikvision"
    assert "Northshire Police Device CA" in cert.issuer and not cert.self_signed
    assert cert.sha256 == _sha256(lab, CAMERA)
    assert set(cert.sans) == {"DNS:hq-cam-0001", f"IP:{CAMERA.ip}"}
    assert (cert.key_type, cert.key_bits) == ("ec", 256)
    assert cert.signature_algorithm == "ecdsa-with-SHA256"
    assert cert.public_key_sha256 and len(cert.public_key_sha256) == 64
    assert cert.not_before and cert.not_before < cert.not_after and cert.not_after.endswith("Z")
    assert https.fields[Field.TLS_SUBJECT] == cert.subject
    assert https.fields[Field.HTTP_AUTH] == "digest"  # HTTP over the same TLS connection
    assert "tls.legacy" not in https.fields


def test_expired_and_self_signed_certificates(found, lab):
    expired = _service(found, EXPIRED, Service.HTTPS).tls.certificate
    assert expired.not_after < time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert expired.sha256 == _sha256(lab, EXPIRED)
    own = _service(found, SELF_SIGNED, Service.HTTPS).tls.certificate
    assert own.self_signed and own.subject == own.issuer == "CN=hq-self-0005,O=Hikvision"


def test_legacy_tls_and_weak_ciphers_are_seen(found):
    legacy = _service(found, LEGACY, Service.HTTPS)
    assert legacy.tls.version == "TLSv1.2"
    assert legacy.fields["tls.legacy"] in {"TLSv1", "TLSv1.1"}
    weak = _service(found, WEAK, Service.HTTPS)
    assert weak.tls.cipher in {"AES128-SHA", "AES256-SHA", "DES-CBC3-SHA"}
    assert (weak.tls.certificate.key_type, weak.tls.certificate.key_bits) == ("rsa", 1024)


def test_mqtts_speaks_mqtt_inside_tls(found):
    mqtts = _service(found, CAMERA, Service.MQTTS)
    assert mqtts.service == "mqtts" and mqtts.tls.certificate is not None
    assert mqtts.fields[Field.MQTT_AUTH] == "open"


# ------------------------------------------------------------------ banners
def test_ssh_banner_product_and_stable_host_key(found, lab):
    ssh = _service(found, CAMERA, Service.SSH)
    assert ssh.fields[Field.SSH_BANNER] == "SSH-2.0-dropbear_2019.78"
    assert (ssh.product, ssh.version) == ("dropbear", "2019.78")
    assert ssh.fields[Field.SSH_HOST_KEY] == host_key(CAMERA).get_fingerprint("sha256")
    other = _service(found, PRIVATE, Service.SSH)
    assert (other.product, other.version) == ("OpenSSH", "9.6p1")
    assert other.fields[Field.SSH_HOST_KEY] != ssh.fields[Field.SSH_HOST_KEY]
    again = scan_sync([CAMERA.ip], str(CAMERA.service(Service.SSH).port))
    assert again[0].services[0].fields[Field.SSH_HOST_KEY] == ssh.fields[Field.SSH_HOST_KEY]


def test_telnet_banner_without_negotiation(found):
    telnet = _service(found, CAMERA, Service.TELNET)
    text = telnet.fields[Field.TELNET_BANNER]
    assert text.startswith("DS-2CD2143G2-I login console") and text.endswith("login:")
    assert "\xff" not in text and "\ufffd" not in text
    assert telnet.product == "BusyBox telnetd"  # the device's firmware has busybox


def test_ftp_and_debug_banners(found):
    ftp = _service(found, CAMERA, Service.FTP)
    assert ftp.fields[Field.FTP_BANNER] == "220 DS-2CD2143G2-I FTP server ready."
    debug = _service(found, CAMERA, Service.DEBUG)
    assert debug.service == "debug"
    assert debug.fields[Field.BANNER].startswith("DS-2CD2143G2-I diagnostic shell")


def test_hostile_banners_are_bounded_plain_text(found):
    host = found[HOSTILE.ip]
    for service in host.services:
        texts = [service.banner or "", *service.fields.values()]
        assert all(isinstance(t, str) and len(t) <= MAX_TEXT for t in texts)
    telnet = _service(found, HOSTILE, Service.TELNET)
    assert telnet.banner.startswith("\x1b[2J") and len(telnet.banner) == MAX_TEXT
    title = _service(found, HOSTILE, Service.HTTP).fields[Field.HTTP_TITLE]
    assert title.startswith("<script>")  # kept as data; renderers escape it
    rtsp = _service(found, HOSTILE, Service.RTSP)
    assert "\ufffd" in rtsp.fields[Field.RTSP_SERVER]
    snmp = _service(found, HOSTILE, Service.SNMP)
    assert "\ufffd" in snmp.fields[Field.SNMP_SYSDESCR]
    assert _service(found, HOSTILE, Service.FTP).service == "ftp"
    assert _service(found, HOSTILE, Service.DEBUG).service == "debug"


# ------------------------------------------------------------------ MQTT, Modbus, UDP
def test_mqtt_open_and_required(found):
    open_broker = _service(found, CAMERA, Service.MQTT)
    assert open_broker.fields[Field.MQTT_AUTH] == "open"
    assert open_broker.fields[Field.MQTT_BROKER].startswith("mosquitto version ")
    assert open_broker.product == "mosquitto" and open_broker.version
    locked = _service(found, PRIVATE, Service.MQTT)
    assert locked.fields[Field.MQTT_AUTH] == "required"
    assert Field.MQTT_BROKER not in locked.fields


def test_modbus_device_identification(found):
    modbus = _service(found, CAMERA, Service.MODBUS)
    assert modbus.fields[Field.MODBUS_VENDOR] == "Hikvision"
    assert modbus.fields[Field.MODBUS_PRODUCT] == "DS-2CD2143G2-I"
    assert modbus.fields[Field.MODBUS_REVISION] == CAMERA.firmware_version
    assert (modbus.product, modbus.version) == ("DS-2CD2143G2-I", CAMERA.firmware_version)


def test_ssdp_search_and_upnp_description(found):
    ssdp = _service(found, CAMERA, Service.SSDP)
    assert ssdp.fields[Field.UPNP_SERVER] == "Linux/3.10.73 UPnP/1.0 DS-2CD2143G2-I/V5.7.3"
    assert ssdp.fields[Field.UPNP_MANUFACTURER] == "Hikvision"
    assert ssdp.fields[Field.UPNP_MODEL_NAME] == "DS-2CD2143G2-I"
    assert ssdp.fields[Field.UPNP_SERIAL] == "DS-CAM-0001"
    assert ssdp.fields[Field.UPNP_FIRMWARE] == CAMERA.firmware_version
    assert ssdp.fields[Field.UPNP_FRIENDLY_NAME] == "hq-cam-0001"
    assert ssdp.fields[Field.UPNP_DEVICE_TYPE].startswith("urn:schemas-upnp-org:device:")
    assert _service(found, CAMERA, Service.UPNP).service == "upnp"


def test_mdns_services_txt_and_hostname(found):
    mdns = _service(found, CAMERA, Service.MDNS)
    assert set(mdns.fields[Field.MDNS_SERVICES].split(",")) == {"_http._tcp", "_rtsp._tcp"}
    txt = mdns.fields[Field.MDNS_TXT].split(";")
    assert {"vendor=Hikvision", "serial=DS-CAM-0001"} <= set(txt)
    assert found[CAMERA.ip].hostname == "hq-cam-0001"


# ------------------------------------------------------------------ scope
@pytest.mark.parametrize("target", ["10.0.0.1", "192.168.1.0/24", "126.255.255.255-127.0.0.5",
                                    "127.255.255.250-128.0.0.3"])
def test_targets_outside_loopback_are_refused_before_any_traffic(target):
    with pytest.raises(InputError, match="outside 127.0.0.0/8"):
        asyncio.run(scan([target], "80"))


@pytest.mark.parametrize("target", ["hq-cam-01", "10.0.0.0/33", "10.0.0.5-2", "::1",
                                    "1.2.3", "", "127.0.0.1,127.0.0.2", "10.0.0.0/8-5"])
def test_bad_target_strings_are_one_line_input_errors(target):
    with pytest.raises(InputError) as caught:
        scan_sync([target], "80")
    assert "\n" not in str(caught.value)


def test_bad_profile_rate_and_ports_are_input_errors():
    with pytest.raises(InputError, match="profile"):
        scan_sync(["127.0.0.1"], "80", profile="reckless")
    with pytest.raises(InputError, match="rate"):
        scan_sync(["127.0.0.1"], "80", rate=0)
    with pytest.raises(InputError, match="port list"):
        scan_sync(["127.0.0.1"], "80,70000")


# ------------------------------------------------------------------ a planned lab
# Recall under probe timeouts: kept off the worker that runs the browser tests' demo,
# lab and Chromium (the two together overload a 2-core runner).
@pytest.mark.xdist_group("demo-lab")
def test_planned_300_device_lab_has_full_open_port_recall(tmp_path: Path):
    plan = plan_lab("large-force", count=300, bind="127.60.0.0/16", privileged=ROOT)
    with running_lab(plan.devices, tmp_path) as runtime:
        hosts = scan_sync([d.ip for d in plan.devices], _ports(list(plan.devices)), udp=True,
                          profile=Profile.NORMAL)  # FAST misnames under CI load
    assert runtime.stats.handler_errors == 0
    truth = {(d.ip, s.port, s.transport): s.service.value
             for d in plan.devices for s in d.services}
    seen = {(h.ip, s.port, s.transport): s.service for h in hosts for s in h.services}
    tcp_truth = {k: v for k, v in truth.items() if k[2] == "tcp"}
    tcp_seen = {k: v for k, v in seen.items() if k[2] == "tcp"}
    assert set(tcp_seen) == set(tcp_truth)  # 100 % recall, nothing invented
    assert tcp_seen == tcp_truth  # and every service named as the truth names it
    public = {d.ip for d in plan.devices if Weakness.SNMP_PUBLIC in d.weaknesses}
    for key, name in truth.items():
        if key[2] == "udp" and (name != "snmp" or key[0] in public):
            assert seen.get(key) == name, key
    assert {k for k, v in seen.items() if v == "snmp"} == {
        k for k, v in truth.items() if v == "snmp" and k[0] in public}


def test_iot_top_covers_every_lab_port():
    plan = parse_ports("iot-top")
    for service, (nominal, transport) in WELL_KNOWN.items():
        ports = plan.tcp if transport == "tcp" else plan.udp
        assert nominal in ports, service
        if nominal < 1024:
            assert nominal + 20000 in ports, service
    for debug in (9527, 2323, 9999, 10001, 102, 4242, 2332, 5555):
        assert debug in plan.tcp


def test_gentle_profile_on_a_lab_device_still_identifies(lab):
    hosts = scan_sync([CAMERA.ip], str(CAMERA.service(Service.HTTP).port),
                      profile=Profile.GENTLE)
    assert hosts[0].services[0].fields[Field.HTTP_REALM] == "DS-2CD2143G2-I"


def test_ports_only_scan_skips_identification(lab):
    ports = ",".join(str(s.port) for s in CAMERA.services if s.transport == "tcp")
    began = time.monotonic()
    hosts = scan_sync([CAMERA.ip], ports, identify=False)
    assert {s.service for s in hosts[0].services} == {"unknown"}
    assert len(hosts[0].services) == len([s for s in CAMERA.services if s.transport == "tcp"])
    assert time.monotonic() - began < 5


def test_scan_of_an_address_with_nothing_returns_nothing():
    assert scan_sync(["127.79.255.254"], "80,443") == []


def test_sweep_in_worker_processes_finds_the_same(found):
    """Big sweeps run in worker processes; forced here on a small one (UDP too)."""
    targets = [d.ip for d in DEVICES] + ["127.79.250.0/26"]
    calls: list[tuple[int, int, int]] = []
    hosts = scan_sync(targets, _ports(DEVICES), udp=True, shards=2, profile=Profile.FAST,
                      progress=lambda *a: calls.append(a))
    assert calls[-1] == (len(DEVICES) + 64, len(DEVICES) + 64, len(DEVICES))
    assert {(h.ip, s.port, s.transport, s.service) for h in hosts for s in h.services} == {
        (h.ip, s.port, s.transport, s.service) for h in found.values() for s in h.services}
