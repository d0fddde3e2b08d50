"""The device page of the dashboard on real SQLite and PostgreSQL: every section from
data made through the services (register, a discovery host with hostile text, SBOM
and feed findings, an assessment, the audit trail), each action by a role allowed to
take it (changed and audited), and the refusals: a viewer sees no forms and a forged
post gets 403, a post without its CSRF token gets 403, unknown and foreign ids 404."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.domain.audit import AuditEvent
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation, TlsInfo
from fleetwarden.domain.findings import FindingQuery
from fleetwarden.ports import DeviceQuery
from fleetwarden.services import accounts, audit, devices, importing, vulns
from fleetwarden.services import compliance_report as cr
from fleetwarden.services.assessment import AssessRequest, assess
from fleetwarden.services.changes import decide, request
from tests.integration.compliance.estate import add_host
from tests.integration.helpers import Env, add_tenant
from tests.integration.vulns import estate
from tests.integration.web.conftest import WebUser, csrf_of, sign_in, web_user

KEV_CVE = "CVE-2021-36260"
SSL_CVE = "CVE-2022-0778"
HOSTILE = "<script>alert(1)</script>"
ANSI = "\x1b[31mred\x1b[0m"
BANNER = f"{HOSTILE} {ANSI} " + "A" * 5000
CERT_SHA = "d4" * 32
HOSTILE_CN = '<img src=x onerror="alert(2)">'
TELNET_CHECK = "telnet-open"
CLEARTEXT = "etsi-en-303-645/5.5-7"
"""Decided by telnet-open (FAIL here)."""
NO_CHECKS = "psti/2"
"""A requirement no check covers: MANUAL until attested."""


@dataclass
class Cam:
    env: Env
    id: int
    host_ip: str

    def device(self) -> Any:
        return devices.get_device(self.env.platform, self.env.admin, self.id)

    def events(self, action: str) -> list[AuditEvent]:
        return [e for e in audit.export(self.env.platform, self.env.admin) if e.action == action]

    def event_count(self) -> int:
        return len(list(audit.export(self.env.platform, self.env.admin)))

    def verdict(self, requirement: str) -> str:
        return next(str(v["status"]) for v in cr.device_compliance(self.env.platform, self.env.admin,
                                                               self.id)
                    if v["requirement_id"] == requirement)

    def finding_status(self, vid: str) -> str:
        page = vulns.findings(self.env.platform, self.env.admin,
                              FindingQuery(device_id=self.id))
        return next(f.status.value for f in page.items if f.vulnerability_id == vid)


def _services() -> tuple[ServiceObservation, ...]:
    cert = CertificateInfo(
        subject=f"CN={HOSTILE_CN}", issuer=f"CN={HOSTILE_CN}", not_before="2026-01-01T00:00:00Z",
        not_after="2099-01-01T00:00:00Z", sha256=CERT_SHA, self_signed=True, sans=("cam-1",),
        public_key_sha256="e5" * 32, key_type="rsa", key_bits=1024,
        signature_algorithm="sha256WithRSAEncryption")
    return (
        ServiceObservation(port=23, transport="tcp", service="telnet",
                           banner=BANNER, fields={"telnet.banner": BANNER}),
        ServiceObservation(port=443, transport="tcp", service="https", product="lighttpd",
                           fields={"http.title": f"<b>{HOSTILE}</b>"},
                           tls=TlsInfo(version="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256",
                                       certificate=cert)),
    )


@pytest.fixture
def cam(env: Env, tmp_path: Path) -> Cam:
    """cam-old-1 of the findings estate, seen by discovery, assessed, and moved once."""
    ids = estate.build(env, tmp_path)
    device_id = ids["cam-old-1"]
    p, admin = env.platform, env.admin
    devices.update_device(p, admin, device_id, {"serial": "HK-CAM-0001", "owner": "Estates"})
    add_host(env, device_id=device_id, ip="127.30.1.10", services=_services())
    assess(p, admin, AssessRequest(device_id=device_id, probe=False))
    devices.transition(p, admin, device_id, "procured", "Delivered with PO 4471")
    return Cam(env, device_id, "127.30.1.10")


def as_user(client: TestClient, user: WebUser) -> str:
    """Sign in; the CSRF token of the session."""
    client.cookies.clear()
    assert sign_in(client, user).status_code == 303
    return csrf_of(client.get("/ui/devices").text)


FORMS = ("transition", "triage", "attest", "waive")


def _forms(text: str, device_id: int) -> set[str]:
    return {f for f in FORMS if f'action="/ui/devices/{device_id}/{f}"' in text}


def _later(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


# ----------------------------------------------------------------------- reading
def test_every_section_from_real_data_with_hostile_text_inert(
        env: Env, client: TestClient, cam: Cam) -> None:
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))
    page = client.get(f"/ui/devices/{cam.id}")
    assert page.status_code == 200
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    text = page.text
    # identity
    for shown in ("cam-old-1", "HK-CAM-0001", "Estates", "Hikvision DS-2CD2026G2-IU/SL",
                  estate.OLD, "hq-cctv", "CCTV camera", "procured"):
        assert shown in text, shown
    # lifecycle timeline from the audit log: who, what, before -> after, why
    assert "device.create" in text and "device.transition" in text
    assert "Delivered with PO 4471" in text
    assert re.search(r'<span class="before">planned</span> →\s*<span class="after">procured'
                     r'</span>', text)
    assert "admin@northshire.example" in text
    # network: the host, its services, TLS and the certificate, all device text escaped
    assert "Host 127.30.1.10" in text and "tcp/23" in text and "tcp/443" in text
    assert "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256" in text and CERT_SHA in text
    assert "rsa 1024 bits" in text and "self-signed" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in text
    assert "<script>alert(1)" not in text and "<img src=x" not in text
    assert "\\x1b[31mred" in text and "\x1b" not in text  # ANSI shown, not sent
    # the long banner, also sent as the telnet.banner field, is shown once: its first
    # 200 characters, and behind a disclosure all discovery keeps of it (4,096)
    assert '<span class="muted">banner, telnet.banner</span> <details class="said">' in text
    assert f"all {len(BANNER):,} characters</span></summary>" in text
    runs = [len(r) for r in re.findall(r"A{100,}", text)]
    assert runs == [200 - len(f"{HOSTILE} {ANSI} "), 4096 - len(f"{HOSTILE} {ANSI} ")]
    assert f"… ({len(BANNER):,} characters)" in text
    network = text.split('id="network"', 1)[1].split('id="software"', 1)[0]
    assert "<dt>Hostname</dt><dd>-</dd>" in network  # none seen: plain, not device text
    # TLS checks next to the services, with their evidence
    assert "cert-self-signed" in text and "cert-weak-key" in text
    # software from the firmware SBOM
    assert "openssl" in text and "1.0.2k" in text and "busybox" in text
    # vulnerabilities: KEV first, priority, CVSS, EPSS, due date
    assert text.index(KEV_CVE) < text.index(SSL_CVE)
    assert '<span class="badge kev"' in text and '<span class="badge P1">P1</span>' in text
    # compliance: per requirement verdicts and the check results with evidence
    assert TELNET_CHECK in text and '<span class="badge FAIL">' in text
    assert CLEARTEXT in text and "psti/2" in text
    # risk with its factors
    assert "Inherent risk" in text and "Residual risk" in text
    risk_factors = re.findall(r"<tr><td>(inherent|residual)</td><td>([^<]+)</td>", text)
    assert len(risk_factors) >= 4
    assert "<td>device function</td><td>CCTV camera</td>" in text  # a label, not cctv_camera
    assert "<h3>Threats to a CCTV camera</h3>" in text
    # a viewer sees no action at all
    assert _forms(text, cam.id) == set()


def test_a_bulk_imported_device_names_the_import_that_created_it(
        env: Env, client: TestClient) -> None:
    """An import writes one audit event for its whole file: the timeline of a device it
    made says which event that is, rather than "no events"."""
    p, admin = env.platform, env.admin

    def import_file(name: str, *names: str) -> AuditEvent:
        importing.import_devices(p, admin, enumerate(
            ({"name": n, "device_type": "cctv_camera"} for n in names), start=1),
            source={"file": name, "format": "csv", "sha256": name * 8})
        return [e for e in audit.export(p, admin) if e.action == "device.import"][-1]

    first = import_file("estate.csv", "imp-cam-1", "imp-cam-2")
    made = devices.create_device(p, admin, {"name": "made-cam", "device_type": "cctv_camera"})
    ids = {d.name: d.id for d in devices.list_devices(p, admin, DeviceQuery(limit=10)).items}
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))
    text = client.get(f"/ui/devices/{ids['imp-cam-1']}").text
    lifecycle = text.split('id="lifecycle"', 1)[1].split('id="network"', 1)[0]
    assert "No recorded events" not in lifecycle and "<table" not in lifecycle
    assert re.search(rf"Created by the bulk import recorded as audit event\s*#{first.seq}\s*"
                     rf"\({re.escape(first.at[:19].replace('T', ' '))} UTC, by "
                     rf"{re.escape(admin.actor)}: 2 devices from estate.csv\)", lifecycle)
    assert "no audited change to it since" in lifecycle
    # its later changes are listed above it; a device made one by one has no such line
    devices.transition(p, admin, ids["imp-cam-1"], "procured", "Delivered")
    lifecycle = client.get(f"/ui/devices/{ids['imp-cam-1']}").text.split(
        'id="lifecycle"', 1)[1].split('id="network"', 1)[0]
    assert lifecycle.index("device.transition") < lifecycle.index("Created by the bulk")
    assert "no audited change" not in lifecycle
    made_page = client.get(f"/ui/devices/{made.id}").text
    assert "device.create" in made_page and "bulk import" not in made_page
    # with two imports in the log, the page cannot tell which: it names both
    second = import_file("more.csv", "imp-cam-3")
    text = client.get(f"/ui/devices/{ids['imp-cam-2']}").text
    assert (f"Created by one of this tenant's bulk imports, the latest:\n  #{second.seq} "
            f"({second.at[:19].replace('T', ' ')} UTC, more.csv), #{first.seq} "
            f"({first.at[:19].replace('T', ' ')} UTC, estate.csv).") in text


def test_unknown_and_foreign_devices_are_404(env: Env, client: TestClient, cam: Cam) -> None:
    as_user(client, web_user(env, "vi@northshire.example", "viewer"))
    other = add_tenant(env, "Southshire", "admin@southshire.example")
    foreign = devices.create_device(env.platform, other, {"name": "theirs",
                                                          "device_type": "sensor"})
    for device_id in (999_999, foreign.id):
        page = client.get(f"/ui/devices/{device_id}")
        assert page.status_code == 404
        assert "Not found" in page.text and f"Device {device_id} not found" in page.text
        assert "theirs" not in page.text
    assert client.get("/ui/devices/not-a-number").status_code == 422


# ----------------------------------------------------------------------- actions
def test_engineer_moves_the_device_through_its_lifecycle(env: Env, client: TestClient,
                                                         cam: Cam) -> None:
    csrf = as_user(client, web_user(env, "eng@northshire.example", "engineer"))
    page = client.get(f"/ui/devices/{cam.id}")
    assert _forms(page.text, cam.id) == set(FORMS)
    assert '<option value="commissioning">' in page.text  # procured -> commissioning
    assert '<option value="in_service">' not in page.text  # not allowed from procured
    moved = client.post(f"/ui/devices/{cam.id}/transition", data={
        "csrf": csrf, "state": "commissioning", "reason": "Mounted on the HQ east wall"},
        follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/ui/devices/{cam.id}?done=transitioned#lifecycle"
    assert "Lifecycle state changed." in client.get(moved.headers["location"]).text
    assert cam.device().lifecycle_state.value == "commissioning"
    event = cam.events("device.transition")[-1]
    assert event.actor == "eng@northshire.example"
    assert event.after == {"lifecycle_state": "commissioning"}
    assert event.reason == "Mounted on the HQ east wall"

    # an illegal move is refused with the service's reason, and nothing changes
    illegal = client.post(f"/ui/devices/{cam.id}/transition", data={
        "csrf": csrf, "state": "disposed", "reason": "skip ahead"})
    assert illegal.status_code == 409
    assert "cannot go from commissioning to disposed; allowed: decommissioning, in_service, " \
        "quarantined" in illegal.text
    assert 'class="error"' in illegal.text and "cam-old-1" in illegal.text
    no_reason = client.post(f"/ui/devices/{cam.id}/transition", data={
        "csrf": csrf, "state": "in_service", "reason": "  "})
    assert no_reason.status_code == 422 and "Reason: required" in no_reason.text
    assert cam.device().lifecycle_state.value == "commissioning"


def test_change_control_needs_an_approved_change_request(env: Env, client: TestClient,
                                                         cam: Cam) -> None:
    p, admin = env.platform, env.admin
    devices.transition(p, admin, cam.id, "commissioning", "installed")
    devices.transition(p, admin, cam.id, "in_service", "live")
    accounts.set_change_approval(p, admin, True)
    eng = web_user(env, "eng@northshire.example", "engineer")
    csrf = as_user(client, eng)
    refused = client.post(f"/ui/devices/{cam.id}/transition", data={
        "csrf": csrf, "state": "maintenance", "reason": "firmware upgrade"})
    assert refused.status_code == 409
    assert "needs an approved change request" in refused.text
    assert cam.device().lifecycle_state.value == "in_service"

    cr_ = request(p, admin, cam.id, "Upgrade to V5.5.800", "CHG-1001")
    cab = accounts.authenticate(p, accounts.add_user(p, admin, "cab@northshire.example",
                                                     "admin").token)
    assert cr_.id is not None
    decide(p, cab, cr_.id, True, "CAB approved")
    page = client.get(f"/ui/devices/{cam.id}")
    assert f'<option value="{cr_.id}">#{cr_.id} CHG-1001' in page.text
    done = client.post(f"/ui/devices/{cam.id}/transition", data={
        "csrf": csrf, "state": "maintenance", "reason": "firmware upgrade",
        "change_request": str(cr_.id)}, follow_redirects=False)
    assert done.status_code == 303
    assert cam.device().lifecycle_state.value == "maintenance"
    assert cam.events("device.transition")[-1].after == {"lifecycle_state": "maintenance",
                                                         "change_request": cr_.id}


def test_engineer_triages_a_finding(env: Env, client: TestClient, cam: Cam) -> None:
    csrf = as_user(client, web_user(env, "eng@northshire.example", "engineer"))
    missing = client.post(f"/ui/devices/{cam.id}/triage", data={
        "csrf": csrf, "vulnerability_id": SSL_CVE, "status": "not_affected"})
    assert missing.status_code == 422 and "Not_affected needs a justification" in missing.text
    self_accepted = client.post(f"/ui/devices/{cam.id}/triage", data={
        "csrf": csrf, "vulnerability_id": KEV_CVE, "status": "risk_accepted",
        "approver": "eng@northshire.example", "expires": _later(30)})
    assert self_accepted.status_code == 422 and "someone else than you" in self_accepted.text
    assert cam.finding_status(SSL_CVE) == "open"

    done = client.post(f"/ui/devices/{cam.id}/triage", data={
        "csrf": csrf, "vulnerability_id": SSL_CVE, "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
        "note": "The camera never parses client certificates"}, follow_redirects=False)
    assert done.status_code == 303 and "done=triaged" in done.headers["location"]
    accepted = client.post(f"/ui/devices/{cam.id}/triage", data={
        "csrf": csrf, "vulnerability_id": KEV_CVE, "status": "risk_accepted",
        "approver": "ciso@northshire.example", "expires": _later(30)}, follow_redirects=False)
    assert accepted.status_code == 303
    assert cam.finding_status(SSL_CVE) == "not_affected"
    assert cam.finding_status(KEV_CVE) == "risk_accepted"
    page = client.get(done.headers["location"])
    assert "Triage decision recorded." in page.text
    assert "vulnerable code not in execute path" in page.text
    assert "accepted by ciso@northshire.example" in page.text
    events = cam.events("vulns.triage")
    assert {e.after["vulnerability_id"] for e in events if e.after} == {SSL_CVE, KEV_CVE}
    assert all(e.actor == "eng@northshire.example" for e in events)


def test_attest_and_waive_with_their_rules(env: Env, client: TestClient, cam: Cam) -> None:
    csrf = as_user(client, web_user(env, "eng@northshire.example", "engineer"))
    assert cam.verdict(NO_CHECKS) == "MANUAL"
    attested = client.post(f"/ui/devices/{cam.id}/attest", data={
        "csrf": csrf, "requirement_id": NO_CHECKS, "status": "PASS",
        "method": "supplier-statement",
        "statement": "Supplier letter 2026-14 describes the disclosure policy",
        "expires": _later(365)},
        files={"evidence": ("letter.txt", b"the supplier's letter", "text/plain")},
        follow_redirects=False)
    assert attested.status_code == 303 and "done=attested" in attested.headers["location"]
    assert cam.verdict(NO_CHECKS) == "PASS"
    page = client.get(attested.headers["location"])
    assert "Attestation recorded." in page.text and "Supplier letter 2026-14" in page.text
    assert "letter.txt" in page.text
    event = cam.events("compliance.attest")[-1]
    assert event.actor == "eng@northshire.example" and event.after
    assert event.after["subject_type"] == "device" and event.after["subject_id"] == cam.id

    too_long = client.post(f"/ui/devices/{cam.id}/waive", data={
        "csrf": csrf, "check": TELNET_CHECK,
        "justification": "Telnet is firewalled off until CHG-2291",
        "approver": "ciso@northshire.example", "expires": _later(400)})
    assert too_long.status_code == 422 and "A waiver lasts at most 365 days" in too_long.text
    own = client.post(f"/ui/devices/{cam.id}/waive", data={
        "csrf": csrf, "check": TELNET_CHECK,
        "justification": "Telnet is firewalled off until CHG-2291",
        "approver": "eng@northshire.example", "expires": _later(90)})
    assert own.status_code == 422 and "cannot be the person who requests it" in own.text
    both = client.post(f"/ui/devices/{cam.id}/waive", data={
        "csrf": csrf, "check": TELNET_CHECK, "requirement": CLEARTEXT,
        "justification": "Telnet is firewalled off until CHG-2291",
        "approver": "ciso@northshire.example", "expires": _later(90)})
    assert both.status_code == 422 and "choose a check or give a requirement" in both.text
    assert cam.verdict(CLEARTEXT) == "FAIL"
    waived = client.post(f"/ui/devices/{cam.id}/waive", data={
        "csrf": csrf, "check": TELNET_CHECK,
        "justification": "Telnet is firewalled off until CHG-2291",
        "approver": "ciso@northshire.example", "expires": _later(90)}, follow_redirects=False)
    assert waived.status_code == 303
    assert cam.verdict(CLEARTEXT) != "FAIL"
    page = client.get(waived.headers["location"])
    assert "Waiver recorded." in page.text and "firewalled off until CHG-2291" in page.text
    assert cam.events("compliance.waive")[-1].actor == "eng@northshire.example"
    by_requirement = client.post(f"/ui/devices/{cam.id}/waive", data={
        "csrf": csrf, "requirement": "psti/3",
        "justification": "Covered by the supplier contract's update clause",
        "approver": "ciso@northshire.example", "expires": _later(30)}, follow_redirects=False)
    assert by_requirement.status_code == 303
    assert cam.verdict("psti/3") == "WAIVED"
    assert cam.events("compliance.waive")[-1].after["target"] == "requirement:psti/3"  # type: ignore[index]


# ----------------------------------------------------------------------- refusals
def _valid_posts(cam: Cam) -> dict[str, dict[str, str]]:
    return {
        "transition": {"state": "commissioning", "reason": "forged"},
        "triage": {"vulnerability_id": SSL_CVE, "status": "affected"},
        "attest": {"requirement_id": NO_CHECKS, "status": "PASS", "method": "inspection",
                   "statement": "Looked at it closely enough", "expires": _later(30)},
        "waive": {"check": TELNET_CHECK, "justification": "Because I say so ok",
                  "approver": "someone@northshire.example", "expires": _later(30)},
    }


@pytest.mark.parametrize("role", ["viewer", "analyst", "auditor"])
def test_read_only_roles_see_no_forms_and_forged_posts_are_refused(
        env: Env, client: TestClient, cam: Cam, role: str) -> None:
    csrf = as_user(client, web_user(env, f"{role}@northshire.example", role))
    page = client.get(f"/ui/devices/{cam.id}")
    assert page.status_code == 200 and _forms(page.text, cam.id) == set()
    before = cam.event_count()
    for action, data in _valid_posts(cam).items():
        forged = client.post(f"/ui/devices/{cam.id}/{action}", data={"csrf": csrf, **data})
        assert forged.status_code == 403, (action, forged.text)
        assert f"Role {role} may not" in forged.text
    assert cam.event_count() == before
    assert cam.device().lifecycle_state.value == "procured"
    assert cam.finding_status(SSL_CVE) == "open"
    assert cam.verdict(NO_CHECKS) == "MANUAL" and cam.verdict(CLEARTEXT) == "FAIL"


def test_posts_without_the_sessions_csrf_token_are_refused(env: Env, client: TestClient,
                                                           cam: Cam) -> None:
    as_user(client, web_user(env, "eng@northshire.example", "engineer"))
    before = cam.event_count()
    for action, data in _valid_posts(cam).items():
        for token in ({}, {"csrf": "forged"}):
            refused = client.post(f"/ui/devices/{cam.id}/{action}", data={**token, **data})
            assert refused.status_code == 403, (action, refused.text)
            assert "the form has expired" in refused.text.lower()
    assert cam.event_count() == before
    assert cam.device().lifecycle_state.value == "procured"
