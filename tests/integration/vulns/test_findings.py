"""Findings end to end on real SQLite and PostgreSQL: SBOMs and feeds in the standard
formats go in, device findings with priorities, due dates, triage, VEX, fixes and alerts
come out, each change audited, each tenant alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.domain.findings import FindingQuery, FindingStatus
from fleetwarden.errors import InputError, NotFound, PermissionDenied
from fleetwarden.services import accounts, alerts, audit, devices, feeds, software, vulns
from tests.integration.feeds.helpers import cve, feed
from tests.integration.helpers import Env, add_tenant, make_env
from tests.integration.vulns import estate

HIK, SSL = "CVE-2021-36260", "CVE-2022-0778"


@dataclass
class Estate:
    env: Env
    ids: dict[str, Any]
    tmp: Path

    @property
    def platform(self):  # type: ignore[no-untyped-def]
        return self.env.platform

    def find(self, **query: Any) -> list[Any]:
        return list(vulns.findings(self.platform, self.env.admin,
                                   FindingQuery(**query)).items)

    def pairs(self, **query: Any) -> set[tuple[str, str]]:
        return {(f.device_name, f.vulnerability_id) for f in self.find(**query)}


@pytest.fixture
def est(database_url: str, tmp_path: Path) -> Iterator[Estate]:
    env = make_env(database_url)
    ids = estate.build(env, tmp_path)
    yield Estate(env, ids, tmp_path)
    env.app.engine.dispose()


class _Later:
    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> datetime:
        return datetime.now(UTC) + self.delta


def test_configurations_are_evaluated_with_the_models_hardware_cpe(est: Estate) -> None:
    # CVE-2021-36260 needs the firmware AND the camera model: the other model (no hardware
    # CPE) and the fixed firmware are not affected; OpenSSL 1.0.2k is, on every model.
    assert est.pairs() == {("cam-old-1", HIK), ("cam-old-2", HIK), ("cam-old-1", SSL),
                           ("cam-old-2", SSL), ("cam-other", SSL)}
    run = est.ids["_import"].matching
    assert run.new == 3 and run.subjects == 3  # stored per image, not per device


def test_priority_reasons_and_due_dates(est: Estate) -> None:
    by = {(f.device_name, f.vulnerability_id): f for f in est.find()}
    hik = by[("cam-old-1", HIK)]
    assert (hik.priority, hik.kev, hik.status) == (1, True, FindingStatus.OPEN)
    assert hik.cvss_score == 9.8 and hik.epss is not None and hik.epss > 0.9
    assert any("in CISA KEV" in r for r in hik.reasons)
    assert hik.due_date == (hik.first_seen + timedelta(days=7)).date()
    # the same vulnerability weighs more on a critical camera in the DMZ
    ssl_dmz, ssl_cctv = by[("cam-old-2", SSL)], by[("cam-old-1", SSL)]
    assert ssl_dmz.points > ssl_cctv.points and ssl_dmz.priority < ssl_cctv.priority
    assert "segment zone dmz (+15)" in ssl_dmz.reasons
    assert "device criticality critical (+15)" in ssl_dmz.reasons
    assert ssl_cctv.due_date == (ssl_cctv.first_seen + timedelta(days=60)).date()
    assert ssl_cctv.component is not None and ssl_cctv.component.version == "1.0.2k"
    assert ssl_cctv.basis == "cpe" and ssl_cctv.match_reasons
    # filters
    assert est.pairs(kev=True) == {("cam-old-1", HIK), ("cam-old-2", HIK)}
    assert est.pairs(priorities=(3,)) == {("cam-old-1", SSL), ("cam-other", SSL)}
    assert est.pairs(device_id=est.ids["cam-other"]) == {("cam-other", SSL)}
    assert est.pairs(site="Depot") == {("cam-other", SSL)}
    assert est.pairs(overdue=True) == set()


def test_overdue_and_tenant_response_times(est: Estate) -> None:
    later = replace(est.platform, clock=_Later(timedelta(days=8)))
    page = vulns.findings(later, est.env.admin, FindingQuery(overdue=True))
    assert {(f.device_name, f.vulnerability_id) for f in page.items} == {
        ("cam-old-1", HIK), ("cam-old-2", HIK)}
    vulns.set_response_days(est.platform, est.env.admin, [10, 30, 60, 90])
    page = vulns.findings(later, est.env.admin, FindingQuery(overdue=True))
    assert page.items == ()
    with pytest.raises(InputError, match="shorter"):
        vulns.set_response_days(est.platform, est.env.admin, [30, 7, 60, 90])


def test_triage_on_a_device_and_on_a_firmware_image(est: Estate) -> None:
    p, admin = est.platform, est.env.admin
    vulns.triage(p, admin, SSL, "not_affected", model=estate.CAM_MODEL, firmware=estate.OLD,
                 justification="vulnerable_code_not_in_execute_path")
    vulns.triage(p, admin, SSL, "affected", device_id=est.ids["cam-old-2"],
                 note="exposed in the DMZ")
    by = {(f.device_name, f.vulnerability_id): f for f in est.find()}
    assert by[("cam-old-1", SSL)].status is FindingStatus.NOT_AFFECTED
    assert by[("cam-old-1", SSL)].justification == "vulnerable_code_not_in_execute_path"
    assert by[("cam-old-2", SSL)].status is FindingStatus.AFFECTED  # the device's own wins
    assert by[("cam-other", SSL)].status is FindingStatus.OPEN  # another model's image
    events = [e for e in audit.export(p, admin) if e.action == "vulns.triage"]
    assert len(events) == 2 and events[-1].after["status"] == "affected"
    # withdrawing a decision reopens
    vulns.triage(p, admin, SSL, "open", device_id=est.ids["cam-old-2"])
    assert {f.status for f in est.find(device_id=est.ids["cam-old-2"],
                                       vulnerability_id=SSL)} == {FindingStatus.NOT_AFFECTED}


@pytest.mark.parametrize(("status", "facts", "message"), [
    ("not_affected", {}, "needs a justification"),
    ("false_positive", {}, "needs a note"),
    ("risk_accepted", {"approver": "cso@northshire.example"}, "needs an approver and an expiry"),
    ("risk_accepted", {"approver": "admin@northshire.example",
                       "expires_at": datetime.now(UTC) + timedelta(days=5)}, "someone else"),
    ("risk_accepted", {"approver": "cso@northshire.example",
                       "expires_at": datetime.now(UTC) - timedelta(days=1)}, "future"),
    ("fixed", {}, "verified by matching"),
    ("suppressed", {}, "VEX"),
    ("bogus", {}, "choose one of"),
])
def test_triage_refuses_decisions_without_their_facts(est: Estate, status: str,
                                                      facts: dict[str, Any],
                                                      message: str) -> None:
    before = len(list(audit.export(est.platform, est.env.admin)))
    with pytest.raises(InputError, match=message):
        vulns.triage(est.platform, est.env.admin, SSL, status,
                     device_id=est.ids["cam-old-1"], **facts)
    assert len(list(audit.export(est.platform, est.env.admin))) == before


def test_triage_of_what_is_not_a_finding_or_by_a_viewer(est: Estate) -> None:
    with pytest.raises(NotFound, match="not a finding"):
        vulns.triage(est.platform, est.env.admin, HIK, "affected",
                     device_id=est.ids["cam-other"])
    with pytest.raises(NotFound, match="device 999999"):
        vulns.triage(est.platform, est.env.admin, HIK, "affected", device_id=999999)
    issued = accounts.add_user(est.platform, est.env.admin, "viewer@northshire.example",
                                  "viewer")
    viewer = accounts.authenticate(est.platform, issued.token)
    with pytest.raises(PermissionDenied):
        vulns.triage(est.platform, viewer, SSL, "affected", device_id=est.ids["cam-old-1"])
    assert vulns.findings(est.platform, viewer, FindingQuery()).items  # viewers may read


def test_risk_acceptance_lapses_by_itself(est: Estate) -> None:
    vulns.triage(est.platform, est.env.admin, HIK, "risk_accepted",
                 device_id=est.ids["cam-old-1"], approver="cso@northshire.example",
                 expires_at=datetime.now(UTC) + timedelta(days=3))
    [now] = est.find(device_id=est.ids["cam-old-1"], vulnerability_id=HIK)
    assert now.status is FindingStatus.RISK_ACCEPTED and now.approver
    later = replace(est.platform, clock=_Later(timedelta(days=4)))
    [then] = vulns.findings(later, est.env.admin, FindingQuery(
        device_id=est.ids["cam-old-1"], vulnerability_id=HIK)).items
    assert then.status is FindingStatus.OPEN and then.overdue is False


def test_vex_suppresses_and_shows_the_statement(est: Estate) -> None:
    vex = est.tmp / "vendor.openvex.json"
    vex.write_text(json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://vendor.example/vex/1",
        "author": "Camera Vendor PSIRT", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": SSL},
                        "products": [{"@id": "pkg:generic/openssl@1.0.2k"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path"}]}))
    done = feeds.import_feeds(est.platform, est.env.admin, [str(vex)])
    assert done.matching is not None
    ssl = est.find(vulnerability_id=SSL)
    assert {f.status for f in ssl} == {FindingStatus.SUPPRESSED}  # listed, not hidden
    assert all(f.vex and "Camera Vendor PSIRT" in f.vex for f in ssl)
    assert est.pairs(statuses=(FindingStatus.OPEN,)) == {("cam-old-1", HIK),
                                                          ("cam-old-2", HIK)}


def test_a_new_sbom_fixes_and_a_device_upgrade_verifies_the_fix(est: Estate) -> None:
    p, admin = est.platform, est.env.admin
    vulns.triage(p, admin, HIK, "affected", device_id=est.ids["cam-old-1"])
    # the device moves to the fixed firmware: the triaged finding is verified fixed
    devices.update_device(p, admin, est.ids["cam-old-1"], {"firmware_version": estate.NEW})
    run, mode = vulns.match(p, admin)
    assert mode == "catch-up" and run.verified_fixed == 1
    fixed = est.find(statuses=(FindingStatus.FIXED,))
    assert [(f.device_name, f.vulnerability_id) for f in fixed] == [("cam-old-1", HIK)]
    assert fixed[0].fixed_at is not None
    assert ("cam-old-1", HIK) not in est.pairs()
    # the vendor re-issues the old firmware's SBOM with a patched OpenSSL
    software.import_sbom(p, admin, str(estate.cyclonedx(
        est.tmp / "old2.cdx.json", estate.firmware_components(estate.OLD, "1.0.2zd"))),
        model=estate.CAM_MODEL, firmware=estate.OLD)
    assert ("cam-old-2", SSL) not in est.pairs()
    assert ("cam-old-2", SSL) in est.pairs(statuses=(FindingStatus.FIXED,))
    assert ("cam-other", SSL) in est.pairs()  # another model's image is unchanged


def test_new_cves_and_kev_entries_raise_alerts_for_the_devices_they_affect(
        est: Estate) -> None:
    p, admin = est.platform, est.env.admin
    busybox = cve(4242, configurations=[{"nodes": [{"operator": "OR", "negate": False,
                                                     "cpeMatch": []}]}])
    busybox["cve"]["configurations"] = []
    osv = est.tmp / "busybox.osv.json"
    osv.write_text(json.dumps({
        "schema_version": "1.6.0", "id": "OSV-2026-1", "modified": "2026-11-01T00:00:00Z",
        "aliases": ["CVE-2026-11111"], "summary": "busybox test advisory",
        "affected": [{"package": {"ecosystem": "Generic", "name": "busybox",
                                  "purl": "pkg:generic/busybox"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [
                          {"introduced": "0"}, {"fixed": "1.36.0"}]}]}]}))
    nvd = feed(est.tmp / "delta.json", [cve(7, configurations=[{"nodes": [{
        "operator": "OR", "negate": False, "cpeMatch": [{
            "vulnerable": True, "criteria": "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*",
            "versionEndExcluding": "1.0.2u",
            "matchCriteriaId": "A1B2C3D4-0001-4000-8000-00000000aaaa"}]}]}])])
    done = feeds.import_feeds(p, admin, [str(nvd), str(osv)])
    assert done.matching is not None and done.matching.alerts >= 1
    new = alerts.list_alerts(p, admin, kinds=["vuln.new"])
    titles = {a.title for a in new}
    assert any(t.startswith("CVE-2024-00007") and "3 devices" in t for t in titles), titles
    [a] = [a for a in new if a.title.startswith("CVE-2024-00007")]
    assert a.details["device_count"] == 3 and sorted(a.details["devices"]) == sorted(
        [est.ids["cam-old-1"], est.ids["cam-old-2"], est.ids["cam-other"]])
    # CVE-2022-0778 enters KEV: one vuln.kev alert, the findings re-scored
    kev = est.tmp / "kev.json"
    kev.write_text(json.dumps({
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2026.11.20", "dateReleased": "2026-11-20T00:00:00Z", "count": 1,
        "vulnerabilities": [{"cveID": SSL, "vendorProject": "OpenSSL", "product": "OpenSSL",
                             "vulnerabilityName": "test", "dateAdded": "2026-11-20",
                             "shortDescription": "test", "requiredAction": "patch",
                             "dueDate": "2026-12-11", "knownRansomwareCampaignUse": "Unknown",
                             "notes": ""}]}))
    feeds.import_feeds(p, admin, [str(kev)])
    [k] = alerts.list_alerts(p, admin, kinds=["vuln.kev"])
    assert k.title.startswith(SSL) and k.details["device_count"] == 3
    assert all(f.kev and f.priority <= 2 for f in est.find(vulnerability_id=SSL))
    # importing the same KEV again raises nothing new
    feeds.import_feeds(p, admin, [str(kev)])
    assert len(alerts.list_alerts(p, admin, kinds=["vuln.kev"])) == 1
    actions = [e.action for e in audit.export(p, admin)]
    assert actions.count("vulns.match") >= 3


def test_each_tenant_sees_only_its_own_findings(est: Estate) -> None:
    other = add_tenant(est.env, "Southshire", "admin@southshire.example")
    assert vulns.findings(est.platform, other, FindingQuery()).items == ()
    assert vulns.report(est.platform, other, "cve") == []
    with pytest.raises(NotFound):
        vulns.findings(est.platform, other, FindingQuery(device_id=est.ids["cam-old-1"]))
    with pytest.raises(NotFound):
        vulns.triage(est.platform, other, SSL, "affected", device_id=est.ids["cam-old-1"])
    # the other tenant's feeds view is shared data, its match sees no inventory
    run, mode = vulns.match(est.platform, other)
    assert (mode, run.new) == ("full", 0)


def test_reports_by_vulnerability_model_and_site(est: Estate) -> None:
    by_cve = {r["cve"]: r for r in vulns.report(est.platform, est.env.admin, "cve")}
    assert by_cve[HIK]["devices"] == 2 and by_cve[HIK]["kev"] and by_cve[HIK]["p1"] == 2
    assert by_cve[SSL]["devices"] == 3
    by_model = {r["model"]: r for r in vulns.report(est.platform, est.env.admin, "model")}
    assert by_model["Hikvision DS-2CD2026G2-IU/SL"]["findings"] == 4
    by_site = {r["site"]: r for r in vulns.report(est.platform, est.env.admin, "site")}
    assert by_site["HQ"]["findings"] == 4 and by_site["Depot"]["findings"] == 1
    with pytest.raises(InputError):
        vulns.report(est.platform, est.env.admin, "colour")


def test_full_rematch_is_idempotent_and_audited(est: Estate) -> None:
    before = est.pairs()
    run, mode = vulns.match(est.platform, est.env.admin, full=True)
    assert mode == "full" and (run.new, run.fixed) == (0, 0)
    assert est.pairs() == before
    [event] = [e for e in audit.export(est.platform, est.env.admin)
               if e.action == "vulns.match" and e.after.get("mode") == "full"]
    assert event.after["subjects"] == 3
    assert audit.verify(est.platform, est.env.admin).ok


def test_feeds_one_tenant_imports_reach_the_others_through_the_worker(
        est: Estate, tmp_path: Path) -> None:
    from fleetwarden.domain.records import RecordKind
    from fleetwarden.services import registry

    p = est.platform
    other = add_tenant(est.env, "Southshire", "admin@southshire.example")
    registry.create(p, other, RecordKind.MODEL, {"vendor": "Acme", "model": "Door-1",
                                                 "device_type": "door_lock"})
    devices.create_device(p, other, {"name": "door-1", "device_type": "door_lock",
                                     "vendor": "Acme", "model": "Door-1",
                                     "firmware_version": "2.0"})
    software.import_sbom(p, other, str(estate.cyclonedx(
        tmp_path / "door.cdx.json", estate.firmware_components("2.0", "1.0.2k"))),
        model="Acme/Door-1", firmware="2.0")
    # the shared feeds already hold CVE-2022-0778: the import matched it at once
    assert {f.vulnerability_id for f in vulns.findings(p, other, FindingQuery()).items} == {SSL}
    # the first tenant imports a new record; the other tenant is stale until the worker runs
    feeds.import_feeds(p, est.env.admin, [str(feed(tmp_path / "n.json", [cve(8)]))])
    page = vulns.findings(p, other, FindingQuery())
    assert page.stale and {f.vulnerability_id for f in page.items} == {SSL}
    assert vulns.catch_up_all(p) == 1
    page = vulns.findings(p, other, FindingQuery())
    assert not page.stale
    assert {f.vulnerability_id for f in page.items} == {SSL, "CVE-2024-00008"}
    assert [a.title for a in alerts.list_alerts(p, other, kinds=["vuln.new"])] == [
        "CVE-2024-00008 (CVSS 7.5) affects 1 device"]
    assert vulns.catch_up_all(p) == 0


def test_the_worker_verifies_a_fix_without_a_full_match(est: Estate) -> None:
    p, admin = est.platform, est.env.admin
    vulns.triage(p, admin, SSL, "affected", device_id=est.ids["cam-other"])
    devices.update_device(p, admin, est.ids["cam-other"], {"firmware_version": "9.9"})
    assert vulns.catch_up_all(p) == 0  # nothing stale, but the fix is seen
    fixed = est.find(statuses=(FindingStatus.FIXED,), site="Depot")
    assert [(f.device_name, f.vulnerability_id) for f in fixed] == [("cam-other", SSL)]
    assert est.find(statuses=(FindingStatus.FIXED,), site="HQ") == []
    assert [e for e in audit.export(p, admin) if e.action == "vulns.verify"]


def test_report_ranks_by_what_is_still_active(est: Estate) -> None:
    p, admin = est.platform, est.env.admin
    for name in ("cam-old-1", "cam-old-2", "cam-other"):
        vulns.triage(p, admin, SSL, "false_positive", device_id=est.ids[name],
                     note="the build disables the affected code")
    [row] = [r for r in vulns.report(p, admin, "cve") if r["cve"] == SSL]
    assert (row["active"], row["top_priority"], row["findings"]) == (0, None, 3)


def test_a_cli_actor_cannot_approve_its_own_risk(est: Estate) -> None:
    local = accounts.local_principal(est.env.admin.tenant, "root")
    with pytest.raises(InputError, match="someone else"):
        vulns.triage(est.platform, local, SSL, "risk_accepted",
                     device_id=est.ids["cam-other"], approver="ROOT",
                     expires_at=datetime.now(UTC) + timedelta(days=30))
