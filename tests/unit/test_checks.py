"""The automated compliance checks on hand-built facts: for every check a FAIL, a PASS or
NOT_APPLICABLE, and the missing-data case that must never PASS; then the registry, the
sidecars and ``run_checks``' handling of a broken check."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from fleetwarden.checks import (
    Check,
    CheckId,
    CheckMeta,
    all_checks,
    load_sidecar,
    parse_sidecar,
    run_checks,
)
from fleetwarden.domain.compliance.facts import (
    CredentialAttempt,
    CredentialTest,
    DeviceFacts,
    TlsScan,
    VulnSummary,
)
from fleetwarden.domain.compliance.results import Outcome, Severity, Status
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation, TlsInfo
from fleetwarden.errors import InputError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CERT_SHA, KEY_SHA = "c" * 64, "k" * 64
P, F, M, NA, E = (Status.PASS, Status.FAIL, Status.MANUAL, Status.NOT_APPLICABLE,
                  Status.ERROR)


# ----------------------------------------------------------------------- builders
def svc(port: int, service: str, transport: str = "tcp", *, banner: str | None = None,
        tls: TlsInfo | None = None, **fields: str) -> ServiceObservation:
    """A service; field names use ``_`` for ``.`` (``http_auth`` -> ``http.auth``)."""
    return ServiceObservation(port=port, transport=transport, service=service, banner=banner,
                              fields={k.replace("_", ".", 1): v for k, v in fields.items()},
                              tls=tls)


def cert(**changes: Any) -> CertificateInfo:
    base = CertificateInfo(subject="CN=cam-0501,O=Force", issuer="CN=Force Device CA",
                           not_before="2025-01-01T00:00:00Z", not_after="2027-01-01T00:00:00Z",
                           sha256=CERT_SHA, self_signed=False, public_key_sha256=KEY_SHA,
                           key_type="rsa", key_bits=2048,
                           signature_algorithm="sha256WithRSAEncryption")
    return replace(base, **changes)


def https(port: int = 443, service: str = "https", **changes: Any) -> ServiceObservation:
    """A TLS service whose certificate has ``changes``; ``certificate=None`` for none read."""
    certificate = changes.pop("certificate") if "certificate" in changes else cert(**changes)
    return svc(port, service, tls=TlsInfo(version="TLSv1.3", certificate=certificate),
               http_server="nginx")


def scan(port: int = 443, **changes: Any) -> TlsScan:
    base = TlsScan(port=port, service="https", accepted_protocols=("TLSv1.2", "TLSv1.3"),
                   fallback_scsv=True, mozilla_profile="intermediate", tool="sslyze 6.3.1")
    return replace(base, **changes)


def facts(*services: ServiceObservation, **kw: Any) -> DeviceFacts:
    """A registered, probed device with ``services``."""
    return DeviceFacts(**{"now": NOW, "ip": "10.1.2.3", "device_id": 7, "probed": True,
                          "segment": "cctv", "services": services, **kw})


UNPROBED = DeviceFacts(now=NOW, device_id=7)
NOTHING = facts()  # probed, no open service
CREDS_OK = CredentialTest(authorised=True, attempts=(
    CredentialAttempt(23, "telnet", "root", "hikvision-telnet-1", False),
    CredentialAttempt(22, "ssh", "admin", "generic-ssh-2", False)), services_tested=(22, 23))
VULNS_CLEAN = VulnSummary(has_sbom=True)


# ------------------------------------------------------------------ the cases
# (check id, facts, expected status, text the reason must contain)
CASES: list[tuple[str, DeviceFacts, Status, str]] = [
    ("telnet-open", facts(svc(23, "telnet")), F, "port 23"),
    ("telnet-open", facts(svc(22, "ssh")), NA, "No Telnet"),
    ("telnet-open", UNPROBED, M, "Not probed"),
    ("ftp-open", facts(svc(21, "ftp")), F, "port 21"),
    ("ftp-open", facts(svc(22, "ssh")), NA, "No cleartext FTP"),
    ("ftp-open", UNPROBED, M, "Not probed"),
    ("tftp-open", facts(svc(69, "tftp", "udp")), F, "UDP port 69"),
    ("tftp-open", facts(svc(69, "unknown", "udp")), F, "UDP port 69"),
    ("tftp-open", facts(svc(69, "unknown", "tcp")), NA, "No TFTP"),
    ("tftp-open", UNPROBED, M, "Not probed"),
    ("debug-port-open", facts(svc(9527, "debug", banner="root@cam:~# ")), F, "port 9527"),
    ("debug-port-open", facts(svc(22, "ssh")), NA, "No debug"),
    ("debug-port-open", UNPROBED, M, "Not probed"),
    ("upnp-exposed", facts(svc(1900, "ssdp", "udp", upnp_server="Linux UPnP/1.0")), F,
     "port 1900"),
    ("upnp-exposed", facts(svc(49152, "upnp")), F, "port 49152"),
    ("upnp-exposed", facts(svc(80, "http")), NA, "No SSDP"),
    ("upnp-exposed", UNPROBED, M, "Not probed"),
    ("snmp-public", facts(svc(161, "snmp", "udp", snmp_community="public")), F, "'public'"),
    ("snmp-public", facts(svc(161, "snmp", "udp", snmp_community="private")), F, "'private'"),
    ("snmp-public", facts(svc(161, "snmp", "udp", snmp_community="Xq7-force")), P,
     "non-default"),
    ("snmp-public", facts(svc(161, "snmp", "udp", snmp_sysdescr="Linux")), M, "not recorded"),
    ("snmp-public", facts(svc(80, "http")), NA, "No SNMP"),
    ("snmp-public", UNPROBED, M, "Not probed"),
    ("mqtt-no-auth", facts(svc(1883, "mqtt", mqtt_auth="open")), F, "anonymous"),
    ("mqtt-no-auth", facts(svc(8883, "mqtts", mqtt_auth="open")), F, "port 8883"),
    ("mqtt-no-auth", facts(svc(1883, "mqtt", mqtt_auth="required")), P, "refused"),
    ("mqtt-no-auth", facts(svc(1883, "mqtt", mqtt_auth="required"), svc(8883, "mqtts")), M,
     "port 8883"),
    ("mqtt-no-auth", facts(svc(80, "http")), NA, "No MQTT"),
    ("mqtt-no-auth", UNPROBED, M, "Not probed"),
    ("http-admin-cleartext", facts(svc(80, "http", http_auth="form")), F, "port 80"),
    ("http-admin-cleartext", facts(svc(8080, "http", http_auth="digest")), F, "port 8080"),
    ("http-admin-cleartext", facts(svc(80, "http", http_title="NVR Admin Login")), F,
     "without TLS"),
    ("http-admin-cleartext", facts(svc(80, "http", http_title="Live view")), P, "No HTTP"),
    ("http-admin-cleartext", facts(svc(443, "https", tls=TlsInfo("TLSv1.3"), http_auth="form")),
     NA, "No HTTP service"),
    ("http-admin-cleartext", facts(svc(80, "http")), M, "not read"),
    ("http-admin-cleartext", UNPROBED, M, "Not probed"),
    ("http-basic-cleartext", facts(svc(80, "http", http_auth="basic")), F, "port 80"),
    ("http-basic-cleartext", facts(svc(554, "rtsp", rtsp_auth="basic")), F, "port 554"),
    ("http-basic-cleartext", facts(svc(80, "http", http_auth="digest")), P, "No service"),
    ("http-basic-cleartext", facts(svc(443, "https", tls=TlsInfo("TLSv1.2"),
                                       http_auth="basic")), NA, "No HTTP"),
    ("http-basic-cleartext", facts(svc(80, "http")), M, "not read"),
    ("http-basic-cleartext", UNPROBED, M, "Not probed"),
    ("default-credentials", facts(svc(23, "telnet"), credentials=replace(CREDS_OK, attempts=(
        CredentialAttempt(23, "telnet", "root", "hikvision-telnet-1", True),))), F,
     "'root' (catalogue entry hikvision-telnet-1)"),
    ("default-credentials", facts(svc(23, "telnet"), svc(22, "ssh"), svc(80, "http"),
                                  credentials=CREDS_OK), P, "No default credential"),
    ("default-credentials", facts(svc(80, "http", http_title="Live")), NA, "No login"),
    ("default-credentials", facts(svc(23, "telnet"),
                                  credentials=CredentialTest(authorised=False)), M,
     "not authorised for cctv"),
    ("default-credentials", facts(svc(23, "telnet"), svc(554, "rtsp", rtsp_realm="IPC"),
                                  credentials=replace(CREDS_OK, skipped={554: "budget spent"})),
     M, "port 554 (budget spent)"),
    ("default-credentials", facts(svc(23, "telnet"), svc(1883, "mqtt", mqtt_auth="required"),
                                  credentials=CREDS_OK), M, "port 1883"),
    ("default-credentials", facts(svc(23, "telnet")), M, "not tested"),
    ("default-credentials", replace(UNPROBED, credentials=CREDS_OK), M, "not observed"),
    ("default-credentials", UNPROBED, M, "Not probed"),
    ("tls-legacy-protocol", facts(https(), tls_scans=(scan(
        accepted_protocols=("TLSv1", "TLSv1.2")),)), F, "port 443"),
    ("tls-legacy-protocol", facts(svc(443, "https", tls=TlsInfo("TLSv1.2"),
                                      tls_legacy="TLSv1.1")), F, "port 443"),
    ("tls-legacy-protocol", facts(svc(443, "https", tls=TlsInfo("TLSv1"))), F, "port 443"),
    ("tls-legacy-protocol", facts(https(), tls_scans=(scan(),)), P, "TLS 1.2 or newer"),
    ("tls-legacy-protocol", facts(https()), M, "not scanned"),
    ("tls-legacy-protocol", facts(https(), https(8883, "mqtts"), tls_scans=(scan(),)), M,
     "port 8883"),
    ("tls-legacy-protocol", facts(https(), tls_scans=(scan(error="handshake timed out"),)), E,
     "scan failed"),
    ("tls-legacy-protocol", facts(svc(80, "http")), NA, "No TLS"),
    ("tls-legacy-protocol", UNPROBED, M, "Not probed"),
    ("tls-weak-ciphers", facts(https(), tls_scans=(scan(
        weak_ciphers=("TLS_RSA_WITH_3DES_EDE_CBC_SHA",)),)), F, "Weak cipher"),
    ("tls-weak-ciphers", facts(https(), tls_scans=(scan(),)), P, "no weak"),
    ("tls-weak-ciphers", facts(https(), tls_scans=(scan(accepted_protocols=()),)), M,
     "no protocol"),
    ("tls-weak-ciphers", facts(https(), tls_scans=None), M, "not scanned"),
    ("tls-weak-ciphers", facts(svc(22, "ssh")), NA, "No TLS"),
    ("tls-downgrade", facts(https(), tls_scans=(scan(fallback_scsv=False),)), F,
     "TLS_FALLBACK_SCSV"),
    ("tls-downgrade", facts(https(), tls_scans=(scan(),)), P, "refuses"),
    ("tls-downgrade", facts(https(), tls_scans=(scan(fallback_scsv=False,
                                                     accepted_protocols=("TLSv1.3",)),)), NA,
     "single protocol"),
    ("tls-downgrade", facts(https(), tls_scans=(scan(fallback_scsv=None),)), M, "not tested"),
    ("tls-downgrade", facts(https()), M, "not scanned"),
    ("tls-mozilla-profile", facts(https(), tls_scans=(scan(mozilla_profile="old",
                                                           mozilla_issues=("TLSv1",)),)), F,
     "intermediate"),
    ("tls-mozilla-profile", facts(https(), tls_scans=(scan(mozilla_profile=None),)), F,
     "port 443"),
    ("tls-mozilla-profile", facts(https(), tls_scans=(scan(mozilla_profile="modern"),)), P,
     "or better"),
    ("tls-mozilla-profile", facts(https()), M, "not scanned"),
    ("cert-expired", facts(https(not_after="2026-02-01T00:00:00Z")), F, "expired"),
    ("cert-expired", facts(https(), https(8883, "mqtts")), P, "No TLS service"),
    ("cert-expired", facts(https(not_after="soon")), M, "could not be read"),
    ("cert-expired", facts(https(certificate=None)), M, "not read"),
    ("cert-expired", facts(svc(80, "http")), NA, "No TLS"),
    ("cert-expired", UNPROBED, M, "Not probed"),
    ("cert-expiring", facts(https(not_after="2026-03-11T00:00:00Z")), F, "within 30 days"),
    ("cert-expiring", facts(https(not_after="2026-03-11T00:00:00Z"),
                            cert_expiry_warning_days=5), P, "next 5 days"),
    ("cert-expiring", facts(https()), P, "No certificate"),
    ("cert-expiring", facts(https(certificate=None)), M, "not read"),
    ("cert-expiring", UNPROBED, M, "Not probed"),
    ("cert-self-signed", facts(https(self_signed=True)), F, "self-signed"),
    ("cert-self-signed", facts(https()), P, "another party"),
    ("cert-self-signed", facts(https(), https(8883, "mqtts", certificate=None)), M,
     "port 8883: certificate not read"),
    ("cert-self-signed", facts(svc(80, "http")), NA, "No TLS"),
    ("cert-weak-key", facts(https(key_bits=1024)), F, "too small"),
    ("cert-weak-key", facts(https(key_type="ec", key_bits=224)), F, "too small"),
    ("cert-weak-key", facts(https(key_type="dsa", key_bits=1024)), F, "too small"),
    ("cert-weak-key", facts(https(key_type="ec", key_bits=256)), P, "at least"),
    ("cert-weak-key", facts(https(key_type="ed25519", key_bits=256)), P, "at least"),
    ("cert-weak-key", facts(https(key_bits=None)), M, "key size was not read"),
    ("cert-weak-key", facts(https(key_type=None)), M, "key type was not read"),
    ("cert-weak-signature", facts(https(signature_algorithm="sha1WithRSAEncryption")), F,
     "MD5 or SHA-1"),
    ("cert-weak-signature", facts(https(signature_algorithm="ecdsa-with-SHA1")), F, "SHA-1"),
    ("cert-weak-signature", facts(https(signature_algorithm="md5WithRSAEncryption")), F,
     "MD5"),
    ("cert-weak-signature", facts(https(signature_algorithm="1.2.840.113549.1.1.5")), F,
     "SHA-1"),
    ("cert-weak-signature", facts(https(signature_algorithm="ecdsa-with-SHA256")), P,
     "No certificate"),
    ("cert-weak-signature", facts(https(signature_algorithm=None)), M,
     "signature algorithm was not read"),
    ("cert-shared", facts(https(), certificate_peers={CERT_SHA: 3}), F, "other devices"),
    ("cert-shared", facts(https(), certificate_peers={CERT_SHA: 0}), P, "No other device"),
    ("cert-shared", facts(https()), M, "not compared"),
    ("cert-shared", facts(svc(80, "http")), NA, "No TLS"),
    ("key-shared", facts(https(), public_key_peers={KEY_SHA: 1}), F, "other devices"),
    ("key-shared", facts(https(), public_key_peers={KEY_SHA: 0}), P, "No other device"),
    ("key-shared", facts(https()), M, "not compared"),
    ("key-shared", facts(https(public_key_sha256=None), public_key_peers={KEY_SHA: 0}), M,
     "could not be read"),
    ("key-shared", UNPROBED, M, "Not probed"),
    ("device-unregistered", facts(device_id=None), F, "10.1.2.3"),
    ("device-unregistered", NOTHING, P, "in the register"),
    ("device-unregistered", DeviceFacts(now=NOW), M, "nothing to tell"),
    ("firmware-kev", facts(vulns=VulnSummary(has_sbom=True, kev=("CVE-2021-36260",))), F,
     "CVE-2021-36260"),
    ("firmware-kev", facts(vulns=VulnSummary(has_sbom=False, kev=("CVE-2017-7921",))), F,
     "CVE-2017-7921"),
    ("firmware-kev", facts(vulns=VULNS_CLEAN), P, "No open"),
    ("firmware-kev", facts(vulns=VulnSummary(has_sbom=False)), M, "No software inventory"),
    ("firmware-kev", facts(), M, "not available"),
    ("findings-overdue", facts(vulns=VulnSummary(has_sbom=True, overdue_p1_p2=("CVE-1",))), F,
     "past their due date"),
    ("findings-overdue", facts(vulns=VULNS_CLEAN), P, "No P1/P2"),
    ("findings-overdue", facts(vulns=VulnSummary(has_sbom=False)), M, "No software inventory"),
    ("findings-overdue", facts(), M, "not available"),
    ("sbom-missing", facts(vulns=VulnSummary(has_sbom=False)), F, "No software inventory"),
    ("sbom-missing", facts(vulns=VULNS_CLEAN), P, "has a software inventory"),
    ("sbom-missing", facts(), M, "not looked up"),
    ("update-stale", facts(firmware_updated=date(2024, 1, 1)), F, "790 days ago (limit 365)"),
    ("update-stale", facts(firmware_updated=date(2025, 12, 1), update_max_age_days=30), F,
     "limit 30"),
    ("update-stale", facts(firmware_updated=date(2025, 12, 1)), P, "90 days ago"),
    ("update-stale", facts(firmware_updated=date(2027, 1, 1)), M, "in the future"),
    ("update-stale", facts(), M, "not recorded"),
    ("end-of-support", facts(end_of_support=date(2026, 2, 28)), F, "ended on 2026-02-28"),
    ("end-of-support", facts(end_of_support=date(2026, 6, 1)), P, "only 92 days"),
    ("end-of-support", facts(end_of_support=date(2030, 1, 1)), P, "until 2030-01-01"),
    ("end-of-support", facts(), M, "end-of-support date not recorded"),
    ("services-unapproved", facts(https(), svc(23, "telnet"), svc(161, "snmp", "udp"),
                                  approved_services=("tcp/443", "UDP/161")), F,
     "tcp/23 (telnet)"),
    ("services-unapproved", facts(https(), approved_services=("tcp/443",)), P, "approved"),
    ("services-unapproved", NOTHING, M, "no approved service profile"),
    ("services-unapproved", replace(UNPROBED, approved_services=("tcp/443",)), M,
     "Not probed"),
]

MISSING_DATA = {
    "not probed", "not recorded", "not read", "not scanned", "not tested", "not available",
    "not looked up", "not compared", "not authorised", "could not be read", "not observed",
    "nothing to tell", "no approved service profile", "no software inventory",
}


@pytest.mark.parametrize(("check_id", "subject", "status", "text"), CASES,
                         ids=[f"{c[0]}-{c[2].value}-{i}" for i, c in enumerate(CASES)])
def test_check(check_id: str, subject: DeviceFacts, status: Status, text: str) -> None:
    outcome = all_checks()[check_id].run(subject)
    assert (outcome.status, text in outcome.reason) == (status, True), outcome
    assert outcome.reason.endswith(".") and len(outcome.reason) <= 400
    json.dumps(outcome.evidence)  # JSON-ready


def test_every_check_has_a_fail_a_pass_or_na_and_a_missing_data_case() -> None:
    by_check: dict[str, set[Status]] = {}
    missing: set[str] = set()
    for check_id, _, status, text in CASES:
        by_check.setdefault(check_id, set()).add(status)
        if status in (M, E) and any(m in text.lower() for m in MISSING_DATA):
            missing.add(check_id)
    for check_id in all_checks():
        statuses = by_check.get(check_id, set())
        assert F in statuses and statuses & {P, NA}, check_id
        assert check_id in missing, f"{check_id} has no missing-data case"


@pytest.mark.parametrize("subject", [DeviceFacts(now=NOW), UNPROBED, NOTHING,
                                     facts(svc(443, "https"))],
                         ids=["nothing-known", "unprobed", "probed-empty", "tls-no-details"])
def test_missing_data_never_passes(subject: DeviceFacts) -> None:
    """With no evidence, only the register fact (registered or not) may pass."""
    passes = [c.meta.id for c, o in run_checks(subject) if o.status is P]
    assert set(passes) <= {"device-unregistered"}


def test_secrets_and_hostile_text_stay_out_of_evidence() -> None:
    hostile = "\x1b[2J" + "A" * 5000
    subject = facts(svc(9527, "debug", banner=hostile), svc(80, "http", http_title=hostile,
                                                            http_auth="form"),
                    svc(161, "snmp", "udp", snmp_community="Xq7-force"))
    for check, outcome in run_checks(subject):
        text = json.dumps(outcome.evidence) + outcome.reason
        assert "Xq7-force" not in text, check.meta.id
        assert "\x1b" not in text and "A" * 201 not in text, check.meta.id


def test_naive_now_is_utc() -> None:
    subject = facts(https(not_after="2026-02-01T00:00:00Z"), now=NOW.replace(tzinfo=None))
    assert all_checks()["cert-expired"].run(subject).status is F


# ---------------------------------------------------------- registry and sidecars
FRAMEWORK_IDS = {
    "etsi-en-303-645": re.compile(r"^(5\.(1[0-3]|[1-9])-\d{1,2}[a-z]?|6-[1-5])$"),
    "dcms-cop": re.compile(r"^([1-9]|1[0-3])$"),
    "psti": re.compile(r"^[1-3]$"),
    "owasp-iot-2018": re.compile(r"^I([1-9]|10)$"),
    "nistir-8259a": re.compile(r"^(DI|DC|DP|LA|SU|CSA)$"),
}


def test_registry_loads_every_sidecar_in_id_order() -> None:
    checks = all_checks()
    assert list(checks) == sorted(c.value for c in CheckId)
    assert all_checks() is checks  # cached
    for check_id, check in checks.items():
        assert check.meta.id == check_id and callable(check.run)
        for rid in check.meta.requirements:
            framework, local = rid.split("/")
            assert FRAMEWORK_IDS[framework].match(local), (check_id, rid)
    assert checks["tls-mozilla-profile"].meta.severity is Severity.LOW
    assert checks["default-credentials"].meta.requirements[:1] == ("etsi-en-303-645/5.1-1",)


GOOD = {"id": "telnet-open", "title": "Telnet is open", "severity": "high",
        "rationale": "Cleartext.", "remediation": "Disable it.", "needs": ["services"],
        "requirements": ["etsi-en-303-645/5.5-1", "owasp-iot-2018/I2"]}


def test_parse_sidecar_reads_a_good_one() -> None:
    meta = parse_sidecar(GOOD, "checks/telnet_open.toml")
    assert meta == CheckMeta(id="telnet-open", title="Telnet is open", severity=Severity.HIGH,
                             rationale="Cleartext.", remediation="Disable it.",
                             needs=("services",),
                             requirements=("etsi-en-303-645/5.5-1", "owasp-iot-2018/I2"))


@pytest.mark.parametrize(("change", "message"), [
    ({"title": None}, "'title' must be a non-empty string"),
    ({"rationale": "  "}, "'rationale' must be a non-empty string"),
    ({"severity": "severe"}, "'severity' must be one of critical, high"),
    ({"severity": ["high"]}, "'severity' must be one of"),
    ({"needs": []}, "'needs' must name at least one"),
    ({"needs": ["network"]}, "'needs' has 'network'"),
    ({"needs": "services"}, "'needs' must be a list of non-empty strings"),
    ({"requirements": ["etsi 5.1-1"]}, "is not FRAMEWORK/ID"),
    ({"requirements": [1]}, "'requirements' must be a list"),
    ({"requirements": ["psti/1", "psti/1"]}, "lists an entry twice"),
    ({"severty": "high"}, "unknown field(s) 'severty'"),
])
def test_parse_sidecar_refuses_malformed(change: dict[str, Any], message: str) -> None:
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(InputError) as caught:
        parse_sidecar(data, "checks/telnet_open.toml")
    assert str(caught.value).startswith("checks/telnet_open.toml: ")
    assert message in str(caught.value)


def test_a_check_without_sidecar_is_refused() -> None:
    with pytest.raises(InputError, match="missing sidecar for check 'no-such-check'"):
        load_sidecar("no-such-check")


# ------------------------------------------------------------------- run_checks
def _check(check_id: str, run: Any) -> Check:
    return Check(meta=replace(all_checks()["telnet-open"].meta, id=check_id), run=run)


def test_run_checks_turns_an_exception_into_error_and_goes_on() -> None:
    def broken(_: DeviceFacts) -> Outcome:
        raise KeyError("port 443\nTraceback (most recent call last): ...")

    def not_an_outcome(_: DeviceFacts) -> Outcome:
        return None  # type: ignore[return-value]

    results = run_checks(NOTHING, [_check("broken", broken), _check("none", not_an_outcome),
                                   all_checks()["telnet-open"]])
    assert [(c.meta.id, o.status) for c, o in results] == [
        ("broken", E), ("none", E), ("telnet-open", NA)]
    reason = results[0][1].reason
    assert "KeyError" in reason and "port 443" in reason and "Traceback" not in reason


def test_run_checks_runs_all_by_default() -> None:
    results = run_checks(UNPROBED)
    assert [c.meta.id for c, _ in results] == list(all_checks())
    assert all(isinstance(o, Outcome) and o.status is not E for _, o in results)
