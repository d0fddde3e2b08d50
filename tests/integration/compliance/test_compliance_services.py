"""Compliance services end to end on real SQLite and PostgreSQL: assessments from stored
discovery observations (no network), attestations with evidence files, waivers, the
compliance and summary reports, risk in context, each change audited, each tenant alone."""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from fleetwarden.domain.compliance.records import StoredResult
from fleetwarden.domain.compliance.report import ComplianceReport, RequirementResult
from fleetwarden.domain.compliance.results import Status
from fleetwarden.domain.records import RecordKind
from fleetwarden.errors import InputError, NotFound
from fleetwarden.services import attestations as att
from fleetwarden.services import audit, devices, registry
from fleetwarden.services import compliance_report as cr
from fleetwarden.services.assessment import AssessmentRun, AssessRequest, assess
from fleetwarden.services.attestations import EvidenceUpload
from fleetwarden.services.context import Platform, Principal
from fleetwarden.services.risk import risk_show
from tests.integration.compliance import estate
from tests.integration.helpers import Env, add_tenant, make_env

#: A requirement no automated check covers (supplier duty, attested per model).
NO_CHECKS = "psti/2"
#: Another one, used for the estate-wide waiver and the report bounds.
NO_CHECKS_2 = "owasp-iot-2018/I3"
#: Decided by telnet-open (FAIL on gw-1), ftp-open and the cleartext HTTP checks.
CLEARTEXT = "etsi-en-303-645/5.5-7"
APPROVER = "cso@northshire.example"
STATEMENT = "Supplier's lab report 2026-114 shows vulnerability disclosure is in place"
#: Decided by services-unapproved (medium), telnet-open (high) and other login checks.
ACCESS = "nistir-8259a/LA"
CONTRACT_KEYS = {"device_id", "ip", "check_id", "status", "severity", "requirements",
                 "evidence", "reason"}
NETWORK_NEEDS = {"services", "tls", "credentials"}


class _Later:
    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> datetime:
        return datetime.now(UTC) + self.delta


@dataclass
class Estate:
    env: Env
    ids: dict[str, int]

    @property
    def p(self) -> Platform:
        return self.env.platform

    @property
    def admin(self) -> Principal:
        return self.env.admin

    def later(self, days: float) -> Platform:
        """The platform as it will be ``days`` from now (only the clock moves)."""
        return replace(self.p, clock=_Later(timedelta(days=days)))

    def assess_segment(self) -> AssessmentRun:
        return assess(self.p, self.admin, AssessRequest(segment=estate.IOT_SEGMENT,
                                                        probe=False))

    def results(self, device: str | None = None) -> list[StoredResult]:
        with self.p.uow(self.admin.tenant, False) as uow:
            return uow.compliance.results(
                device_id=self.ids[device] if device else None)

    def statuses(self, device: str) -> dict[str, Status]:
        return {r.check_id: r.status for r in self.results(device)}

    def verdicts(self, device: str, platform: Platform | None = None) -> dict[str, dict[str, Any]]:
        return {v["requirement_id"]: v for v in cr.device_compliance(
            platform or self.p, self.admin, self.ids[device])}

    def verdict(self, device: str, requirement: str, platform: Platform | None = None) -> str:
        return str(self.verdicts(device, platform)[requirement]["status"])

    def events(self, action: str | None = None) -> list[Any]:
        return [e for e in audit.export(self.p, self.admin)
                if action is None or e.action == action]

    def attest(self, requirement: str = NO_CHECKS, *, subject_type: str = "model",
               subject_id: int | None = None, status: str = "PASS",
               days: int = 365, **kw: Any) -> Any:
        sid = subject_id if subject_id is not None else (
            self.ids["model"] if subject_type == "model" else None)
        return att.attest(self.p, self.admin, requirement, subject_type=subject_type,
                          subject_id=sid, status=status,
                          statement=kw.pop("statement", STATEMENT),
                          method=kw.pop("method", "supplier-statement"),
                          expires_at=kw.pop("expires_at", self.p.now() + timedelta(days=days)),
                          **kw)

    def waive(self, *, check: str | None = None, requirement: str | None = None,
              subject_type: str = "device", device: str | None = "gw-1",
              approver: str = APPROVER, days: int = 90) -> Any:
        return att.waive(self.p, self.admin, check_id=check, requirement_id=requirement,
                         subject_type=subject_type,
                         subject_id=self.ids[device] if device else None,
                         justification="Telnet is firewalled off until the firmware upgrade "
                                       "in change CHG-2291",
                         approver=approver, expires_at=self.p.now() + timedelta(days=days))


@pytest.fixture
def est(database_url: str) -> Iterator[Estate]:
    env = make_env(database_url)
    yield Estate(env, estate.build(env))
    env.app.engine.dispose()


def _requirement(report: ComplianceReport, rid: str) -> RequirementResult:
    return next(r for f in report.frameworks for r in f.requirements if r.requirement_id == rid)


def _digest(results: list[StoredResult]) -> str:
    """What the assessment's audit event pins, recomputed from the stored rows."""
    h = hashlib.sha256()
    for r in results:
        h.update(json.dumps([r.device_id, r.host_id, r.check_id, r.status.value, r.reason,
                             r.evidence], sort_keys=True, default=str).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------- assess
def test_assess_without_probing_stores_results_and_the_contract(est: Estate) -> None:
    run = est.assess_segment()
    assert (run.devices, run.unregistered, run.scan_id) == (3, 0, None)
    checks = est.p.compliance_tools().checks()
    assert len(run.findings) == 3 * len(checks) == sum(run.counts.values())
    for f in run.findings:
        assert set(f) >= CONTRACT_KEYS, f
    gw1 = {f["check_id"]: f for f in run.findings if f["device_id"] == est.ids["gw-1"]}
    telnet = gw1["telnet-open"]
    assert (telnet["status"], telnet["severity"], telnet["ip"]) == ("FAIL", "high",
                                                                   estate.GW1_IP)
    assert CLEARTEXT in telnet["requirements"] and telnet["reason"]
    assert telnet["evidence"]["services"][0]["port"] == 23
    unapproved = gw1["services-unapproved"]
    assert unapproved["status"] == "FAIL"
    assert {"port": 23, "transport": "tcp", "service": "telnet"} in \
        unapproved["evidence"]["unapproved"]
    assert unapproved["evidence"]["approved"] == sorted(estate.APPROVED)
    assert gw1["device-unregistered"]["status"] == "PASS"
    assert gw1["mqtt-no-auth"]["status"] == "FAIL"
    assert gw1["cert-self-signed"]["status"] == "FAIL"
    # what was returned is what was stored
    stored = est.statuses("gw-1")
    assert stored == {c: Status(f["status"]) for c, f in gw1.items()}
    assert est.statuses("gw-2")["services-unapproved"] is Status.PASS
    assert est.statuses("gw-2")["telnet-open"] is Status.NOT_APPLICABLE


def test_never_pass_on_missing_data(est: Estate) -> None:
    run = assess(est.p, est.admin, AssessRequest(device_id=est.ids["gw-silent"],
                                                 probe=False))
    assert run.devices == 1
    assert {f["ip"] for f in run.findings} == {estate.SILENT_IP}
    checks = est.p.compliance_tools().checks()
    stored = est.statuses("gw-silent")
    assert set(stored) == set(checks)
    # the register knows it: that is positive evidence; nothing else can pass
    assert [c for c, s in stored.items() if s is Status.PASS] == ["device-unregistered"]
    for cid, status in stored.items():
        if NETWORK_NEEDS & set(checks[cid].meta.needs) and cid != "device-unregistered":
            assert status is Status.MANUAL, cid
    # a device never assessed has no results and no requirement passes on it
    assert est.results("sensor-depot") == []
    assert {v["status"] for v in est.verdicts("sensor-depot").values()} == {"MANUAL"}


def test_reassessing_replaces_results_and_is_audited(est: Estate) -> None:
    first = est.assess_segment()
    rows = len(est.results())
    # a later sighting of gw-1 without Telnet: the newest observation is assessed
    estate.add_host(est.env, device_id=est.ids["gw-1"], ip=estate.GW1_IP,
                    services=estate.GW1_FIXED, ago=timedelta(minutes=1))
    second = est.assess_segment()
    assert second.id != first.id
    assert len(est.results()) == rows
    by_check: dict[tuple[int | None, str], int] = {}
    for r in est.results():
        by_check[(r.device_id, r.check_id)] = by_check.get((r.device_id, r.check_id), 0) + 1
    assert set(by_check.values()) == {1}
    fixed = est.statuses("gw-1")
    assert fixed["telnet-open"] is Status.NOT_APPLICABLE
    assert fixed["services-unapproved"] is fixed["cert-self-signed"] is Status.PASS
    assert {r.assessment_id for r in est.results()} == {second.id}
    # each run: a start and a done event; done pins the stored results by digest
    starts = est.events("compliance.assessment.start")
    dones = est.events("compliance.assessment.done")
    assert [e.object_id for e in starts] == [str(first.id), str(second.id)]
    assert [e.object_id for e in dones] == [str(first.id), str(second.id)]
    done = dones[-1].after
    assert done["results"] == rows and done["devices"] == 3
    assert done["counts"] == dict(second.counts)
    order = {cid: i for i, cid in enumerate(est.p.compliance_tools().checks())}
    kept = sorted(est.results(), key=lambda r: (r.device_id or 0, order[r.check_id]))
    assert done["digest"] == _digest(kept)
    assert dones[0].after["digest"] != done["digest"]
    report = audit.verify(est.p, est.admin)
    assert report.ok and report.first_break is None


def test_a_certificate_another_host_presents_is_shared(est: Estate) -> None:
    # a stored sighting of an unregistered host with gw-1's certificate
    estate.add_host(est.env, device_id=None, ip=estate.UNREGISTERED_IP,
                    services=estate.GW1_SERVICES[1:2])
    assess(est.p, est.admin, AssessRequest(device_id=est.ids["gw-1"], probe=False))
    stored = est.statuses("gw-1")
    assert stored["cert-shared"] is Status.FAIL and stored["key-shared"] is Status.FAIL
    assert est.results("gw-2") == []  # only the named device was assessed


# ------------------------------------------------------------------------- attest
def test_attestations_decide_what_no_check_can(est: Estate) -> None:
    est.assess_segment()
    assert est.verdict("gw-1", NO_CHECKS) == "MANUAL"
    model = est.attest()
    for name in ("gw-1", "gw-2", "gw-silent"):
        v = est.verdicts(name)[NO_CHECKS]
        assert (v["status"], v["decided_by"], v["attestation_id"]) == (
            "PASS", "attestation", model.id)
    assert est.verdict("sensor-depot", NO_CHECKS) == "MANUAL"  # another model
    # the device's own attestation beats its model's
    own = est.attest(subject_type="device", subject_id=est.ids["gw-2"], status="FAIL",
                     statement="Disclosure contact on the label is out of date", method="inspection")
    assert est.verdicts("gw-2")[NO_CHECKS]["attestation_id"] == own.id
    assert est.verdict("gw-2", NO_CHECKS) == "FAIL"
    assert est.verdict("gw-1", NO_CHECKS) == "PASS"
    # an attested PASS never overrides a check that failed on the wire
    est.attest(CLEARTEXT, subject_type="device", subject_id=est.ids["gw-1"],
               statement="Telnet was disabled by the supplier's engineer", method="inspection")
    v = est.verdicts("gw-1")[CLEARTEXT]
    assert (v["status"], v["decided_by"], v["check_id"]) == ("FAIL", "check", "telnet-open")
    actions = [e.action for e in est.events()]
    assert actions.count("compliance.attest") == 3


def test_attestations_lapse_and_are_revoked(est: Estate) -> None:
    est.assess_segment()
    a = est.attest(days=10)
    assert est.verdict("gw-1", NO_CHECKS) == "PASS"
    later = est.later(11)
    assert est.verdict("gw-1", NO_CHECKS, later) == "MANUAL"
    assert att.attestations(later, est.admin, active_only=True) == []
    assert [x.id for x in att.attestations(later, est.admin)] == [a.id]  # kept, lapsed
    # still in force today, until revoked
    assert est.verdict("gw-1", NO_CHECKS) == "PASS"
    with pytest.raises(InputError, match="reason"):
        att.revoke_attestation(est.p, est.admin, a.id, "")
    revoked = att.revoke_attestation(est.p, est.admin, a.id, "superseded by lab report")
    assert revoked.revoked_at is not None and revoked.revoked_by == est.admin.actor
    assert est.verdict("gw-1", NO_CHECKS) == "MANUAL"
    assert att.attestations(est.p, est.admin, active_only=True) == []
    with pytest.raises(InputError, match="already revoked"):
        att.revoke_attestation(est.p, est.admin, a.id, "twice over")
    [event] = est.events("compliance.attest.revoke")
    assert event.object_id == str(a.id) and event.reason == "superseded by lab report"
    assert event.before["id"] == a.id


def test_evidence_files_are_hashed_and_returned_byte_identical(est: Estate) -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 64 + b"\x00\xff%%EOF"
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 10
    a = est.attest(files=[EvidenceUpload(r"C:\reports\lab-2026-114.pdf", pdf,
                                         "application/pdf"),
                          EvidenceUpload("label.png", photo, "image/png")])
    assert [f.name for f in a.files] == ["lab-2026-114.pdf", "label.png"]
    assert [f.sha256 for f in a.files] == [hashlib.sha256(pdf).hexdigest(),
                                           hashlib.sha256(photo).hexdigest()]
    [stored] = att.attestations(est.p, est.admin, requirement_id=NO_CHECKS)
    assert [(f.name, f.sha256, f.size) for f in stored.files] == [
        (f.name, f.sha256, f.size) for f in a.files]
    for f, content in zip(stored.files, (pdf, photo), strict=True):
        assert f.id is not None
        meta, body = att.evidence_file(est.p, est.admin, f.id)
        assert body == content and meta.sha256 == hashlib.sha256(body).hexdigest()
        assert meta.media_type == f.media_type and meta.size == len(content)
    [event] = est.events("compliance.attest")
    assert [f["sha256"] for f in event.after["files"]] == [f.sha256 for f in a.files]
    with pytest.raises(NotFound):
        att.evidence_file(est.p, est.admin, 999_999)


def test_refused_attestations_change_nothing(est: Estate) -> None:
    est.attest(NO_CHECKS_2, subject_type="tenant")
    huge = EvidenceUpload("huge.bin", b"\0" * (att.MAX_EVIDENCE_BYTES + 1))
    refusals: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"requirement": "psti/99"}, NotFound, "no catalogue"),
        ({"requirement": "not an id"}, InputError, "FRAMEWORK/ID"),
        ({"statement": "ok"}, InputError, "statement"),
        ({"days": 3 * 365 + 2}, InputError, "at most"),
        ({"days": -1}, InputError, "not in the future"),
        ({"status": "MANUAL"}, InputError, "PASS, FAIL or NOT_APPLICABLE"),
        ({"files": [EvidenceUpload("ok.pdf", b"%PDF"), huge]}, InputError, "larger than"),
        ({"files": [EvidenceUpload("empty.txt", b"")]}, InputError, "empty"),
        ({"subject_id": 999_999}, NotFound, "model 999999"),
        ({"subject_type": "tenant", "status": "NOT_APPLICABLE"}, InputError,
         "waive the requirement instead"),
    ]
    before = (att.attestations(est.p, est.admin), len(est.events()))
    for change, error, message in refusals:
        kw = dict(change)
        requirement = kw.pop("requirement", NO_CHECKS)
        with pytest.raises(error, match=message):
            est.attest(requirement, **kw)
        assert (att.attestations(est.p, est.admin), len(est.events())) == before, change
    assert audit.verify(est.p, est.admin).ok


# -------------------------------------------------------------------------- waive
def test_a_check_waiver_turns_fail_into_waived_until_it_lapses(est: Estate) -> None:
    est.assess_segment()
    assert est.verdict("gw-1", CLEARTEXT) == "FAIL"
    before = _requirement(cr.compliance_report(est.p, est.admin), CLEARTEXT).counts
    w = est.waive(check="telnet-open", days=5)
    v = est.verdicts("gw-1")[CLEARTEXT]
    assert (v["status"], v["decided_by"], v["waiver_id"]) == ("WAIVED", "waiver", w.id)
    assert APPROVER in v["reason"]
    after = _requirement(cr.compliance_report(est.p, est.admin), CLEARTEXT)
    assert after.counts[Status.FAIL] == before[Status.FAIL] - 1
    assert after.counts[Status.WAIVED] == before[Status.WAIVED] + 1
    [entry] = [e for e in after.entries if e.subject_id == est.ids["gw-1"]]
    assert entry.status is Status.WAIVED
    assert {ev.kind for ev in entry.evidence} == {"check", "waiver"}
    # the waiver covers its device only, and lapses by date
    assert est.statuses("gw-1")["telnet-open"] is Status.FAIL  # the result itself stays
    assert est.verdict("gw-1", CLEARTEXT, est.later(6)) == "FAIL"
    [event] = est.events("compliance.waive")
    assert event.after["approver"] == APPROVER and event.after["target"] == "check:telnet-open"


def test_waiver_refusals_and_revocation(est: Estate) -> None:
    est.assess_segment()
    count = len(est.events())
    with pytest.raises(InputError, match="cannot be the person"):
        est.waive(check="telnet-open", approver=est.admin.actor.upper())
    with pytest.raises(InputError, match="at most 365"):
        est.waive(check="telnet-open", days=400)
    with pytest.raises(InputError, match="unknown check"):
        est.waive(check="telnet-closed")
    with pytest.raises(InputError, match="either a check"):
        est.waive(check="telnet-open", requirement=CLEARTEXT)
    assert att.waivers(est.p, est.admin) == [] and len(est.events()) == count
    w = est.waive(check="telnet-open")
    att.revoke_waiver(est.p, est.admin, w.id, "firmware upgraded")
    assert est.verdict("gw-1", CLEARTEXT) == "FAIL"
    assert att.waivers(est.p, est.admin, active_only=True) == []


def test_a_tenant_wide_waiver_applies_to_every_device(est: Estate) -> None:
    est.assess_segment()
    w = est.waive(requirement=NO_CHECKS_2, subject_type="tenant", device=None)
    assert w.subject_id is None
    for name in ("gw-1", "gw-2", "gw-silent", "sensor-depot"):
        v = est.verdicts(name)[NO_CHECKS_2]
        assert (v["status"], v["waiver_id"]) == ("WAIVED", w.id), name
    report = cr.compliance_report(est.p, est.admin)
    counts = _requirement(report, NO_CHECKS_2).counts
    assert counts[Status.WAIVED] == report.device_count == 4


# ------------------------------------------------------------------------- report
def test_compliance_report_counts_and_bounds(est: Estate) -> None:
    est.assess_segment()
    est.attest()
    report = cr.compliance_report(est.p, est.admin, entry_limit=1, list_manual=True)
    assert report.device_count == 4 and report.tenant == est.admin.tenant.name
    assert report.assessed_from is not None and report.assessed_to is not None
    for f in report.frameworks:
        for r in f.requirements:
            assert sum(r.counts.values()) == report.device_count, r.requirement_id
            assert set(r.counts) == set(Status)
            assert len(r.entries) <= 1
            listed = sum(r.counts[s] for s in (Status.FAIL, Status.ERROR, Status.MANUAL,
                                               Status.WAIVED))
            assert r.entries_omitted == listed - len(r.entries), r.requirement_id
    manual = _requirement(report, NO_CHECKS_2)
    assert manual.checks == () and manual.status is Status.MANUAL
    assert manual.counts[Status.MANUAL] == 4 and manual.entries_omitted == 3
    attested = _requirement(report, NO_CHECKS)
    assert (attested.counts[Status.PASS], attested.counts[Status.MANUAL]) == (3, 1)
    [entry] = attested.entries
    assert entry.subject_name == "sensor-depot"
    cleartext = _requirement(report, CLEARTEXT)
    assert cleartext.status is Status.FAIL
    [worst] = cleartext.entries  # worst first
    assert (worst.subject_id, worst.status, worst.check_id) == (
        est.ids["gw-1"], Status.FAIL, "telnet-open")
    assert worst.evidence[0].method == "automated-probe"
    # unbounded: every listed device is an entry
    full = _requirement(cr.compliance_report(est.p, est.admin, entry_limit=100, list_manual=True), NO_CHECKS_2)
    assert len(full.entries) == 4 and full.entries_omitted == 0
    none = _requirement(cr.compliance_report(est.p, est.admin, entry_limit=0, list_manual=True), NO_CHECKS_2)
    assert none.entries == () and none.entries_omitted == 4
    with pytest.raises(InputError):
        cr.compliance_report(est.p, est.admin, entry_limit=-1)


def test_compliance_report_scope_and_audit_head(est: Estate) -> None:
    est.assess_segment()
    depot = cr.compliance_report(est.p, est.admin, site="Depot", frameworks=["psti"])
    assert depot.device_count == 1 and depot.site == "Depot"
    assert [f.id for f in depot.frameworks] == ["psti"]
    assert cr.compliance_report(est.p, est.admin, site="HQ").device_count == 3
    with pytest.raises(NotFound):
        cr.compliance_report(est.p, est.admin, site="Nowhere")
    with pytest.raises(InputError, match="unknown framework"):
        cr.compliance_report(est.p, est.admin, frameworks=["iso-27001"])
    devices.transition(est.p, est.admin, est.ids["sensor-depot"], "disposed",
                       "shredded by the supplier")
    report = cr.compliance_report(est.p, est.admin)
    assert report.device_count == 3
    chain = audit.verify(est.p, est.admin)
    assert chain.ok
    assert (report.audit_head_seq, report.audit_head_hash) == (chain.last_seq,
                                                               chain.last_hash)


def test_bounded_entries_are_the_worst_ones(est: Estate) -> None:
    # gw-1 (listed first by id) now only fails a medium check of the requirement, gw-2 a
    # high one: with room for one entry, the report shows gw-2's.
    estate.add_host(est.env, device_id=est.ids["gw-1"], ip=estate.GW1_IP, ago=timedelta(0),
                    services=(*estate.GW1_FIXED,
                              replace(estate.GW1_FIXED[0], port=8443)))
    estate.add_host(est.env, device_id=est.ids["gw-2"], ip=estate.GW2_IP, ago=timedelta(0),
                    services=(*estate.GW2_SERVICES, estate.TELNET))
    est.assess_segment()
    gw1, gw2 = est.verdicts("gw-1")[ACCESS], est.verdicts("gw-2")[ACCESS]
    assert (gw1["status"], gw1["check_id"]) == ("FAIL", "services-unapproved")
    assert (gw2["status"], gw2["check_id"]) == ("FAIL", "telnet-open")
    full = _requirement(cr.compliance_report(est.p, est.admin), ACCESS)
    assert [e.subject_name for e in full.entries][:2] == ["gw-2", "gw-1"]
    bounded = _requirement(cr.compliance_report(est.p, est.admin, entry_limit=1), ACCESS)
    assert [e.subject_name for e in bounded.entries] == ["gw-2"]
    assert bounded.entries_omitted == full.entries_omitted + len(full.entries) - 1


def test_a_site_report_closes_the_results_it_does_not_read(est: Estate) -> None:
    # Results are streamed by device id beside the devices in scope; a scope that ends
    # first must close the stream (a PostgreSQL server-side cursor), not leave it to GC.
    est.assess_segment()
    assess(est.p, est.admin, AssessRequest(device_id=est.ids["sensor-depot"], probe=False))
    assert cr.compliance_report(est.p, est.admin, site="HQ").device_count == 3
    gc.collect()
    devices.transition(est.p, est.admin, est.ids["sensor-depot"], "disposed",
                       "shredded by the supplier")
    assert cr.compliance_report(est.p, est.admin, site="Depot").device_count == 0
    gc.collect()


# ------------------------------------------------------------------------ summary
def test_summary_measures_snapshots_and_trend(est: Estate) -> None:
    est.assess_segment()
    first = cr.summary_report(est.p, est.admin)
    values = {m.key: m.value for m in first.measures}
    frameworks = [f.id for f in est.p.compliance_tools().frameworks()]
    assert set(values) == {
        "devices_total", "devices_unregistered", "devices_kev", "findings_p1",
        "findings_p2", "findings_overdue", "checks_failed", "devices_assessed_30d",
        *(f"compliance_{f}" for f in frameworks)}
    assert values["devices_total"] == 4 and values["devices_unregistered"] == 1
    assert values["devices_kev"] == values["findings_p1"] == values["findings_overdue"] == 0
    failed = sum(1 for r in est.results() if r.status is Status.FAIL)
    assert values["checks_failed"] == failed > 0
    assert values["devices_assessed_30d"] == 75.0
    for f in frameworks:
        assert 0 <= values[f"compliance_{f}"] <= 100
    assert all(m.previous is None for m in first.measures)
    assert [t.at for t in first.trend] == [est.p.now().date()]

    def snapshots() -> list[tuple[date, dict[str, float]]]:
        with est.p.uow(est.admin.tenant, False) as uow:
            return uow.compliance.snapshots(date(2000, 1, 1))

    cr.summary_report(est.p, est.admin)
    assert len(snapshots()) == 1
    # the next day, after gw-1 was fixed: a second snapshot, compared with the first
    estate.add_host(est.env, device_id=est.ids["gw-1"], ip=estate.GW1_IP,
                    services=estate.GW1_FIXED, ago=timedelta(minutes=1))
    est.assess_segment()
    tomorrow = est.later(1)
    second = cr.summary_report(tomorrow, est.admin)
    assert [t.at for t in second.trend] == [est.p.now().date(), tomorrow.now().date()]
    assert len(snapshots()) == 2
    measured = {m.key: m for m in second.measures}
    checks = measured["checks_failed"]
    assert checks.previous == failed and checks.value is not None and checks.value < failed
    assert checks.improved is True
    # the report pins the audit chain as it was
    chain = audit.verify(est.p, est.admin)
    assert (second.audit_head_seq, second.audit_head_hash) == (chain.last_seq,
                                                               chain.last_hash)


# --------------------------------------------------------------------------- risk
def test_risk_explains_every_point_and_weighs_the_context(est: Estate) -> None:
    est.assess_segment()
    shown = risk_show(est.p, est.admin, est.ids["gw-1"])
    score = shown.score
    assert shown.systems == (estate.SYSTEM,)
    assert sum(f.points for f in score.factors) == pytest.approx(score.residual, abs=0.011)
    inherent = [f for f in score.factors if f.stage == "inherent"]
    assert sum(f.points for f in inherent) == pytest.approx(score.inherent, abs=0.011)
    by_name = {f.name: f for f in score.factors}
    assert by_name["business impact"].value == "C high, I medium, A high"
    assert estate.SYSTEM in by_name["business impact"].evidence
    assert by_name["data classification"].value == "SECRET"
    assert estate.SECRET_ITEM in by_name["data classification"].evidence
    assert by_name["network zone"].value == "iot-building"
    assert "failed high checks" in by_name  # telnet-open, mqtt-no-auth
    assert shown.inputs.open_services is not None and len(shown.inputs.open_services) == 3
    # the same device in the DMZ, then critical: more inherent risk each time
    devices.update_device(est.p, est.admin, est.ids["gw-1"], {"segment": estate.DMZ_SEGMENT})
    dmz = risk_show(est.p, est.admin, est.ids["gw-1"]).score
    assert dmz.inherent > score.inherent
    assert {f.name: f.value for f in dmz.factors}["network zone"] == "dmz"
    devices.update_device(est.p, est.admin, est.ids["gw-1"], {"criticality": "critical"})
    critical = risk_show(est.p, est.admin, est.ids["gw-1"]).score
    assert critical.inherent > dmz.inherent
    # a device of no system: the missing context is named, not ignored
    lone = {f.name for f in risk_show(est.p, est.admin, est.ids["gw-2"]).score.factors}
    assert {"business impact not assessed", "data classification not recorded"} <= lone
    with pytest.raises(NotFound):
        risk_show(est.p, est.admin, 999_999)


def test_risk_counts_an_aggregate_that_holds_the_devices_data(est: Estate) -> None:
    # The archive is no system's item, but it aggregates what gw-2's system handles:
    # the device feeds a SECRET collection (domain.risk: "aggregates included").
    p, admin = est.p, est.admin
    registry.create(p, admin, RecordKind.SYSTEM, {"name": "Yard gates",
                                                  "device_ids": [est.ids["gw-2"]]})
    registry.create(p, admin, RecordKind.DATA_ITEM, {
        "name": "Gate opening", "classification": "OFFICIAL", "system": "Yard gates"})
    registry.create(p, admin, RecordKind.DATA_ITEM, {
        "name": "Gate archive", "classification": "SECRET", "aggregate_of": ["Gate opening"]})
    shown = risk_show(p, admin, est.ids["gw-2"])
    factor = {f.name: f for f in shown.score.factors}["data classification"]
    assert factor.value == "SECRET"
    assert "Gate archive" in factor.evidence


# ------------------------------------------------------------------------ tenants
def test_each_tenant_sees_only_its_own_compliance(est: Estate) -> None:
    est.assess_segment()
    a = est.attest(files=[EvidenceUpload("lab.pdf", b"%PDF-1.7 lab report")])
    w = est.waive(check="telnet-open")
    other = add_tenant(est.env, "Southshire", "admin@southshire.example")
    p = est.p
    # the other tenant's estate-wide exception must not reach the first tenant
    att.waive(p, other, check_id=None, requirement_id=CLEARTEXT, subject_type="tenant",
              subject_id=None, justification="Southshire accepts cleartext on its lab network",
              approver="cso@southshire.example", expires_at=p.now() + timedelta(days=30))
    assert est.verdict("gw-2", NO_CHECKS) == "PASS"
    assert est.verdict("gw-silent", CLEARTEXT) == "MANUAL"
    assert att.attestations(p, other) == []
    assert [x.target for x in att.waivers(p, other)] == [f"requirement:{CLEARTEXT}"]
    with p.uow(other.tenant, False) as uow:
        assert uow.compliance.results() == []
        assert uow.compliance.assessments() == []
    report = cr.compliance_report(p, other)
    assert report.device_count == 0
    assert _requirement(report, CLEARTEXT).entries == ()
    assert {m.key: m.value for m in cr.summary_report(p, other).measures}[
        "checks_failed"] == 0
    gw1 = est.ids["gw-1"]
    fid = a.files[0].id
    assert fid is not None and w.id is not None and a.id is not None
    for call in (
        lambda: att.evidence_file(p, other, fid),
        lambda: att.revoke_attestation(p, other, a.id, "not ours"),
        lambda: att.revoke_waiver(p, other, w.id, "not ours"),
        lambda: cr.device_compliance(p, other, gw1),
        lambda: risk_show(p, other, gw1),
        lambda: assess(p, other, AssessRequest(device_id=gw1, probe=False)),
        lambda: att.attest(p, other, NO_CHECKS, subject_type="model",
                           subject_id=est.ids["model"], status="PASS", statement=STATEMENT,
                           method="inspection", expires_at=p.now() + timedelta(days=9)),
        lambda: att.waive(p, other, check_id="telnet-open", requirement_id=None,
                          subject_type="device", subject_id=gw1,
                          justification="not our device at all, refused",
                          approver="cso@southshire.example",
                          expires_at=p.now() + timedelta(days=9)),
    ):
        with pytest.raises(NotFound):
            call()
    # and the first tenant's records are untouched by the attempts
    assert [x.id for x in att.attestations(p, est.admin, active_only=True)] == [a.id]
    assert [x.id for x in att.waivers(p, est.admin, active_only=True)] == [w.id]
    assert audit.verify(p, est.admin).ok and audit.verify(p, other).ok
