"""The assessment's deeper probes (full TLS scan, default credentials) against the lab.

One small lab for the whole file: devices picked from a planned ``small-force`` estate
(seed 7) for the weaknesses under test, re-addressed onto this worker's loopback
addresses, plus one hand-made FTP camera. Discovery scans them once; the probes get its
observations, and every assertion is scored against the lab's truth. A TLS server of the
test's own, configured the way Mozilla's intermediate profile asks (with its own CA),
shows what a compliant device grades as. Small servers of the test's own misbehave on
purpose, and a bare listening socket proves an unauthorised host gets no traffic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fleetwarden.adapters.assess.credentials import (
    DefaultCredential,
    entries_for,
    load_default_credentials,
    test_default_credentials,
)
from fleetwarden.adapters.assess.tls import scan_tls
from fleetwarden.adapters.discovery.active import scan_sync
from fleetwarden.adapters.lab.catalogue import families
from fleetwarden.adapters.lab.plan import plan_lab
from fleetwarden.domain.compliance.facts import CredentialTest
from fleetwarden.domain.discovery import Field, ServiceObservation
from fleetwarden.domain.lab import (
    SAME_LOGIN,
    TLS_SERVICES,
    Credential,
    LabDevice,
    Service,
    Weakness,
    truth_record,
)
from fleetwarden.errors import InputError
from tests.integration.lab.harness import ROOT, make_device, next_ip, running_lab

W = Weakness
PLAN = plan_lab("small-force", count=300, seed=7, privileged=ROOT)
CATALOGUE = load_default_credentials()
BUDGET = 3
#: Lab service -> the login kind the prober reports.
KIND = {"http": "http", "https": "http", "rtsp": "rtsp", "telnet": "telnet", "ftp": "ftp",
        "ssh": "ssh", "mqtt": "mqtt", "mqtts": "mqtt"}
#: Which port of a shared login is tried (TLS first), by kind.
PREFERRED = {"http": (Service.HTTPS, Service.HTTP), "mqtt": (Service.MQTTS, Service.MQTT)}


def _pick(what: str, pred: Callable[[LabDevice], bool]) -> LabDevice:
    """The plan's first device matching ``pred``, moved to a fresh address of ours."""
    for device in PLAN.devices:
        if pred(device):
            return dataclasses.replace(device, ip=next_ip())
    raise AssertionError(f"the small-force/7 plan has no {what} device any more")


def _coverable(device: LabDevice, credential: Credential) -> bool:
    kind = KIND[credential.service.value]
    return any(e.username == credential.username and e.password == credential.password
               for e in entries_for(CATALOGUE, device.vendor, kind)[:BUDGET])


def _has(device: LabDevice, *weaknesses: Weakness) -> bool:
    return all(w in device.weaknesses for w in weaknesses)


def _https(device: LabDevice) -> bool:
    return device.service(Service.HTTPS) is not None


# ------------------------------------------------------------------------- the lab
WITH_DEFAULTS = [
    _pick(f"{family} with defaults", lambda d, f=family: d.family == f  # type: ignore[misc]
          and _has(d, W.DEFAULT_CREDENTIALS) and (d.family != "building" or d.vendor == "APC"))
    for family in ("hikvision", "dahua", "axis", "access", "gateway", "router", "building")
]
TELNET_DEFAULTS = _pick("telnet with a public default", lambda d: any(
    c.service is Service.TELNET and _coverable(d, c) for c in d.credentials))
FTP_CAMERA = make_device(
    [Service.FTP], vendor="Axis Communications", model="P3245-LVE", family="axis",
    weaknesses=[W.DEFAULT_CREDENTIALS, W.FTP_OPEN],
    credentials=[Credential(Service.FTP, "root", "pass")],
    persona={"ftp_banner": "220 AXIS P3245-LVE Network Camera 10.12.1 (hq-cam-0001) ready."})
CLEAN = [
    _pick("hikvision without defaults", lambda d: d.family == "hikvision"
          and not _has(d, W.DEFAULT_CREDENTIALS)),
    _pick("gateway with a login-only broker", lambda d: d.family == "gateway"
          and not _has(d, W.DEFAULT_CREDENTIALS) and not _has(d, W.MQTT_NO_AUTH)),
]
OPEN_BROKER = _pick("open broker", lambda d: _has(d, W.MQTT_NO_AUTH)
                    and not _has(d, W.DEFAULT_CREDENTIALS))
LEGACY = _pick("legacy TLS", lambda d: _https(d) and _has(d, W.LEGACY_TLS)
               and not _has(d, W.WEAK_CIPHERS))
WEAK = _pick("weak ciphers", lambda d: _https(d) and _has(d, W.WEAK_CIPHERS)
             and not _has(d, W.LEGACY_TLS))
MODERN = _pick("modern TLS", lambda d: _https(d) and not _has(d, W.WEAK_CIPHERS)
               and not _has(d, W.LEGACY_TLS))
CREDENTIAL_DEVICES = [*WITH_DEFAULTS, TELNET_DEFAULTS, FTP_CAMERA, *CLEAN, OPEN_BROKER]
ALL = [*CREDENTIAL_DEVICES, LEGACY, WEAK, MODERN]


@dataclasses.dataclass
class Lab:
    runtime: Any
    services: dict[str, tuple[ServiceObservation, ...]]
    """Discovery's observations, by ip."""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    run_dir = tmp_path_factory.mktemp("assess-lab")
    with running_lab(ALL, run_dir) as runtime:
        ports = sorted({s.port for d in ALL for s in d.services if s.transport == "tcp"})
        found = scan_sync([d.ip for d in ALL], ",".join(map(str, ports)))
        yield Lab(runtime, {host.ip or "": host.services for host in found})
    assert runtime.stats.handler_errors == 0


def _hosts(lab: Lab, devices: list[LabDevice]) -> list[tuple[str, str | None,
                                                            tuple[ServiceObservation, ...]]]:
    return [(d.ip, d.vendor, lab.services.get(d.ip, ())) for d in devices]


# ------------------------------------------------------------------------ TLS
def _issue_certificates(directory: Path, ip: str) -> tuple[Path, Path]:
    """A CA and a 90-day P-256 server certificate with the extensions RFC 5280 wants."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Assess test CA")])
    usage = {k: False for k in ("digital_signature", "content_commitment", "key_encipherment",
                                "data_encipherment", "key_agreement", "key_cert_sign",
                                "crl_sign", "encipher_only", "decipher_only")}
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(**{**usage, "digital_signature": True,
                                          "key_cert_sign": True, "crl_sign": True}),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=89))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**{**usage, "digital_signature": True}),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, chain = directory / "ca.pem", directory / "server.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return ca_file, chain


class _Servers:
    """asyncio servers of the test's own, in a background loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[asyncio.Server] = []

    def serve(self, ip: str, handler: Callable[..., Any], *,
              tls: ssl.SSLContext | None = None) -> int:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(handler, ip, 0, ssl=tls)
        server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def close(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def servers() -> Iterator[_Servers]:
    own = _Servers()
    yield own
    own.close()


async def _http_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        pass
    finally:
        writer.close()


def test_tls_scan_flags_legacy_and_weak_devices_and_grades_a_compliant_one(
        lab: Lab, servers: _Servers, tmp_path: Path) -> None:
    ip = next_ip()
    ca_file, chain = _issue_certificates(tmp_path, ip)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE+AESGCM:ECDHE+CHACHA20")
    context.set_ecdh_curve("prime256v1")  # offer no curve the profile does not list
    context.load_cert_chain(chain)
    compliant_port = servers.serve(ip, _http_ok, tls=context)
    closed = next_ip()
    targets = [(d.ip, d.service(Service.HTTPS).port, "https")  # type: ignore[union-attr]
               for d in (LEGACY, WEAK, MODERN)]
    targets += [(ip, compliant_port, "https"), (closed, 443, "https")]
    seen: list[tuple[int, int]] = []

    result = scan_tls(targets, timeout=2, progress=lambda done, total: seen.append(
        (done, total)), ca_file=ca_file)

    assert set(result) == {(t[0], t[1]) for t in targets}
    assert seen[-1] == (5, 5)
    legacy, weak, modern = (result[(t[0], t[1])] for t in targets[:3])
    compliant, unreachable = result[(ip, compliant_port)], result[(closed, 443)]
    for scan in (legacy, weak, modern, compliant):
        assert scan.error is None and scan.tool.startswith("sslyze ")
        assert len(scan.mozilla_issues) <= 10
        assert all(len(issue) <= 160 for issue in scan.mozilla_issues)

    # Lab truth: legacy_tls -> TLS 1.0/1.1 accepted; weak_ciphers -> non-intermediate suites.
    assert "legacy_tls" in truth_record(LEGACY)["weaknesses"]
    assert {"TLSv1", "TLSv1.1"} <= set(legacy.accepted_protocols)
    assert legacy.mozilla_profile not in ("modern", "intermediate")
    assert any(issue.startswith("tls_versions:") for issue in legacy.mozilla_issues)
    assert "weak_ciphers" in truth_record(WEAK)["weaknesses"]
    assert "TLS_RSA_WITH_AES_128_CBC_SHA" in weak.weak_ciphers
    assert weak.mozilla_profile is None
    assert any(issue.startswith("rsa_key_size:") for issue in weak.mozilla_issues)
    # The lab's healthy device: modern protocols and suites only, downgrade protection on.
    assert set(modern.accepted_protocols) <= {"TLSv1.2", "TLSv1.3"}
    assert modern.weak_ciphers == () and modern.fallback_scsv is True
    assert not any(issue.startswith(("tls_versions:", "ciphers:"))
                   for issue in modern.mozilla_issues)
    # A server configured as Mozilla's intermediate profile says meets it.
    assert compliant.mozilla_profile == "intermediate", compliant.mozilla_issues
    assert compliant.mozilla_issues == () and compliant.weak_ciphers == ()
    assert compliant.accepted_protocols == ("TLSv1.2", "TLSv1.3")
    # Nobody listens: an error line, no traceback, nothing else claimed.
    assert unreachable.error and "\n" not in unreachable.error
    assert "Traceback" not in unreachable.error
    assert unreachable.accepted_protocols == () and unreachable.mozilla_profile is None


def _tls_targets(servers: _Servers, tmp_path: Path) -> tuple[list[tuple[str, int, str]], Path]:
    """The lab's TLS services (legacy, weak, modern, shared logins), a compliant server
    of our own, a closed port and a target that is no address."""
    ip = next_ip()
    ca_file, chain = _issue_certificates(tmp_path, ip)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(chain)
    port = servers.serve(ip, _http_ok, tls=context)
    targets = [(d.ip, s.port, s.service.value) for d in (LEGACY, WEAK, MODERN, *WITH_DEFAULTS)
               for s in d.services if s.service in TLS_SERVICES]
    targets += [(ip, port, "https"), (next_ip(), 443, "https"), ("not-an-ip", 443, "https")]
    return targets, ca_file


def test_tls_scan_in_worker_processes_and_with_refused_protocols_skipped_gives_the_same(
        lab: Lab, servers: _Servers, tmp_path: Path) -> None:
    """One process or a pool, refused protocols probed or enumerated suite by suite: the
    same result for every target (legacy, weak and modern lab devices, a compliant
    server, a closed port, a bad address)."""
    targets, ca_file = _tls_targets(servers, tmp_path)
    assert len(targets) >= 8
    seen: list[tuple[int, int]] = []

    full = scan_tls(targets, timeout=2, ca_file=ca_file, processes=1, skip_refused=False)
    here = scan_tls(targets, timeout=2, ca_file=ca_file, processes=1)
    pooled = scan_tls(targets + targets[:2], timeout=2, ca_file=ca_file, processes=2,
                      pool_threshold=2, progress=lambda done, total: seen.append((done, total)))

    assert set(pooled) == set(here) == set(full) == {(t[0], t[1]) for t in targets}
    assert here == full
    assert pooled == here
    legacy = here[(LEGACY.ip, LEGACY.service(Service.HTTPS).port)]  # type: ignore[union-attr]
    assert {"TLSv1", "TLSv1.1"} <= set(legacy.accepted_protocols)  # not skipped: spoken
    assert sum(scan.error is None for scan in pooled.values()) >= len(targets) - 2
    # progress counts every target once, never backwards, and ends at the total
    assert seen[-1] == (len(targets), len(targets))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def _worker_breaks(*args: object) -> object:
    raise RuntimeError("sslyze broke in the worker")


def test_a_failing_tls_worker_gives_its_targets_an_error_and_the_rest_complete(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from fleetwarden.adapters.assess import tls

    targets = [(d.ip, d.service(Service.HTTPS).port, "https")  # type: ignore[union-attr]
               for d in (LEGACY, WEAK, MODERN)]
    monkeypatch.setattr(tls, "_scan_chunk", _worker_breaks)  # what workers are sent

    result = scan_tls(targets, timeout=2, processes=2, pool_threshold=2)

    assert set(result) == {(t[0], t[1]) for t in targets}
    assert all(scan.error == "sslyze worker failed: RuntimeError" for scan in result.values())
    assert all(scan.accepted_protocols == () for scan in result.values())


def test_tls_scan_refuses_a_missing_ca_file_and_reports_bad_targets(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="ca-file"):
        scan_tls([("127.0.0.1", 443, "https")], ca_file=tmp_path / "missing.pem")
    result = scan_tls([("not-an-ip", 443, "https"), ("127.0.0.1", 0, "https")])
    assert all(scan.error and scan.error.startswith("not scanned") for scan in result.values())


# -------------------------------------------------------------------- credentials
def _login_service(device: LabDevice, kind: str) -> Service | None:
    for service in PREFERRED.get(kind, (Service(kind),)):
        if device.service(service) is not None:
            return service
    return None


def _truth(device: LabDevice) -> set[tuple[str, str, str]]:
    return {(c["service"], c["username"], c["password"])
            for c in truth_record(device)["credentials"]}


def _by_id() -> dict[str, DefaultCredential]:
    return {entry.id: entry for entry in CATALOGUE}


def test_default_credentials_are_found_where_the_lab_truth_has_them(
        lab: Lab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fleetwarden.assess")
    calls: list[str] = []

    def authorised(ip: str) -> bool:
        calls.append(ip)
        return True

    results = test_default_credentials(_hosts(lab, CREDENTIAL_DEVICES), authorised=authorised,
                                       delay=0.02, timeout=3)

    assert sorted(calls) == sorted(d.ip for d in CREDENTIAL_DEVICES)
    by_id = _by_id()
    for device in CREDENTIAL_DEVICES:
        result = results[device.ip]
        label = f"{device.family}/{device.vendor} {device.ip}"
        assert result.authorised, label
        truth = _truth(device)
        ports = {s.port: s.service for s in device.services}
        per_port = Counter(a.port for a in result.attempts)
        assert all(count <= BUDGET for count in per_port.values()), (label, per_port)
        failures = Counter(a.username for a in result.attempts if not a.accepted)
        assert all(count <= BUDGET for count in failures.values()), (label, failures)
        accepted = [a for a in result.attempts if a.accepted]
        # Every accepted login is one the lab really has (no false positives) ...
        for attempt in accepted:
            service = ports[attempt.port]
            entry = by_id[attempt.entry]
            assert entry.username == attempt.username
            login = SAME_LOGIN.get(service, service).value
            assert (login, entry.username, entry.password) in truth, (label, attempt)
            assert attempt.port in result.services_tested
        if "default_credentials" not in truth_record(device)["weaknesses"]:
            assert not accepted, label
            continue
        # ... and each login with a public default in reach of the budget is found.
        for kind in {KIND[service] for service, _, _ in truth}:
            service = _login_service(device, kind)
            assert service is not None
            login = SAME_LOGIN.get(service, service)
            reachable = [c for c in device.credentials
                         if c.service is login and _coverable(device, c)]
            if reachable:
                assert any(a.service == kind for a in accepted), (label, kind, result)
        assert accepted, label

    # Shared logins count once, tried over TLS; an open broker has nothing to test.
    gateway = next(d for d in WITH_DEFAULTS if d.family == "gateway")
    assert results[gateway.ip].skipped[gateway.service(Service.MQTT).port] \
        == f"same login as port {gateway.service(Service.MQTTS).port}"  # type: ignore[union-attr]
    assert results[gateway.ip].skipped[gateway.service(Service.HTTP).port] \
        == f"same login as port {gateway.service(Service.HTTPS).port}"  # type: ignore[union-attr]
    broker = OPEN_BROKER.service(Service.MQTT)
    assert broker is not None
    assert "anonymous" in results[OPEN_BROKER.ip].skipped[broker.port]
    assert results[FTP_CAMERA.ip].attempts[0].service == "ftp"
    assert results[FTP_CAMERA.ip].attempts[0].accepted
    assert any(a.service == "telnet" and a.accepted for a in results[TELNET_DEFAULTS.ip].attempts)

    # No password in any result or log line (passwords that are not also user names).
    secrets = {e.password for e in CATALOGUE if len(e.password) >= 4} - {
        e.username for e in CATALOGUE}
    text = repr(results) + "\n".join(r.getMessage() for r in caplog.records)
    assert not {s for s in secrets if s in text}


def test_unauthorised_hosts_get_no_traffic_at_all(lab: Lab) -> None:
    quiet_ip = next_ip()
    listener = socket.socket()
    listener.bind((quiet_ip, 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    services = (ServiceObservation(port, "tcp", "telnet"),
                ServiceObservation(port, "tcp", "http", fields={Field.HTTP_AUTH: "basic"}))
    hosts = [*_hosts(lab, CREDENTIAL_DEVICES), (quiet_ip, "Hikvision", services)]
    time.sleep(0.2)  # let the lab finish counting earlier tests' connections
    before = lab.runtime.stats.connections
    try:
        results = test_default_credentials(hosts, authorised=lambda ip: False, delay=0,
                                           timeout=1)
        time.sleep(0.2)  # anything sent would have been accepted by now
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert lab.runtime.stats.connections == before
    assert set(results) == {h[0] for h in hosts}
    assert all(r == CredentialTest(authorised=False) for r in results.values())


# ---------------------------------------------------------------- hostile services
async def _junk_telnet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\xff\xfd\x01\x1b[2J" + b"garbage without any prompt " * 2000 + b"\r\n")
    await writer.drain()
    writer.close()


async def _hang_up_telnet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\xff\xfb\x01\xff\xfb\x03router login: ")
    await writer.drain()
    await reader.read(100)
    writer.close()


async def _junk_ftp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\x00\xff\xfe not a greeting\r\n")
    await writer.drain()
    await reader.read(100)
    writer.close()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()


async def _junk_mqtt(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1000)
    writer.write(b"\x20\x7f" + b"\xff" * 10)  # a CONNACK that claims 127 bytes, then EOF
    await writer.drain()
    writer.close()


async def _junk_ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-junk\r\n" + bytes(range(256)) * 8)
    await writer.drain()
    await reader.read(100)
    writer.close()


async def _huge_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1000)
    writer.write(b"RTSP/1.0 " + b"9" * 20000 + b" OK\r\n\r\n")
    await writer.drain()
    writer.close()


def test_hostile_services_are_skipped_with_a_reason(servers: _Servers) -> None:
    ip = next_ip()
    plan = [
        (_junk_telnet, "telnet", {}),
        (_hang_up_telnet, "telnet", {}),
        (_junk_ftp, "ftp", {}),
        (_reset, "http", {Field.HTTP_AUTH: "digest"}),
        (_junk_mqtt, "mqtt", {Field.MQTT_AUTH: "required"}),
        (_junk_ssh, "ssh", {}),
        (_huge_status, "rtsp", {Field.RTSP_REALM: "IP Camera(123456)"}),
    ]
    services = tuple(ServiceObservation(servers.serve(ip, handler), "tcp", name, fields=fields)
                     for handler, name, fields in plan)

    result = test_default_credentials([(ip, None, services)], authorised=lambda _: True,
                                      delay=0, timeout=1)[ip]

    assert result.authorised and result.services_tested == ()
    assert not any(a.accepted for a in result.attempts)
    assert set(result.skipped) == {s.port for s in services}
    reasons = {s.service + str(i): result.skipped[s.port] for i, s in enumerate(services)}
    assert all(reason and "\n" not in reason and len(reason) <= 160
               for reason in reasons.values()), reasons
    assert reasons["telnet0"] == "no login prompt"
    assert reasons["telnet1"].endswith("no password prompt after the user name")
    assert reasons["ftp2"] == "no FTP greeting"
    assert reasons["http3"] in ("no HTTP answer", "cannot connect: connection reset by peer") \
        or reasons["http3"].startswith("cannot connect: connect call failed")
    assert reasons["mqtt4"].endswith("no CONNACK")
    assert reasons["ssh5"].startswith("SSH handshake failed")
    assert reasons["rtsp6"] == "no RTSP answer"  # a status line int() refuses


# ------------------------------------------------------------------ the catalogue
def test_every_lab_default_is_a_catalogue_entry_the_budget_reaches() -> None:
    """The lab plants only what a tester could find: each model's defaults are entries
    of the built-in catalogue (its vendor's, or generic), within the attempt budget for
    the vendor the assessor knows (the register's, which the lab shares)."""
    out_of_reach = []
    for family in families().values():
        for model in family.models:
            vendor = model["vendor"]
            for c in family.credentials_for(vendor, model["model"]):
                kind = KIND[c.service.value]
                tried = entries_for(CATALOGUE, vendor, kind)[:BUDGET]
                if not any(e.username == c.username and e.password == c.password
                           for e in tried):
                    out_of_reach.append((family.name, vendor, c.service.value, c.username))
    assert not out_of_reach
    assert len({e.id for e in CATALOGUE}) == len(CATALOGUE)
    assert all(e.source for e in CATALOGUE)
    # Services the lab serves over TLS are tried as their plain login's kind.
    assert {KIND[s.value] for s in TLS_SERVICES} <= {"http", "mqtt"}


@pytest.mark.parametrize(("text", "reason"), [
    ("[[credential]\n", "credential catalogue bad.toml"),
    ('[[credential]]\nid = "a-1"\nvendors = []\nservices = ["smtp"]\nusername = "a"\n'
     'password = "b"\nsource = "manual"\n', "unknown service 'smtp'"),
    ('[[credential]]\nid = "a-1"\nvendors = []\nservices = ["ssh"]\nusername = "a"\n'
     'password = "b"\n', "missing 'source'"),
    ('[[credential]]\nid = "a-1"\nvendors = []\nservices = ["ssh"]\nusername = "a"\n'
     'password = "b"\nsource = "x"\nnotes = "?"\n', "unknown key 'notes'"),
    ('[[credential]]\nid = "a-1"\nvendors = []\nservices = ["ssh"]\nusername = "a"\n'
     'password = "b\\r\\n"\nsource = "x"\n', "printable ASCII"),
    ('[[credential]]\nid = "a-1"\nvendors = []\nservices = ["ssh"]\nusername = "a"\n'
     'password = "b"\nsource = "x"\n[[credential]]\nid = "a-1"\nvendors = []\n'
     'services = ["ssh"]\nusername = "c"\npassword = "d"\nsource = "x"\n', "duplicate id"),
    ('[[credential]]\nid = "root-toor"\nvendors = []\nservices = ["ssh"]\n'
     'username = "root"\npassword = "toor"\nsource = "x"\n', "must not spell out"),
])
def test_a_malformed_catalogue_is_refused_in_one_line(tmp_path: Path, text: str,
                                                     reason: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=reason) as caught:
        load_default_credentials(path)
    assert "\n" not in str(caught.value)
