"""``vulns`` and ``settings vulns`` end to end: the real CLI against a real database
(SQLite and PostgreSQL), on the estate of ``tests/integration/vulns/estate.py``.

The estate is registered and matched through the services with a clock 40 days behind,
so its findings were first seen 40 days ago: P1 (7 days) and P2 (30 days) findings are
overdue, P3 (60 days) ones are not. The CLI then runs on the real clock.

Findings of the estate (device ids in order of creation):
  CVE-2021-36260 (KEV, camera firmware): cam-old-1 (1) P1, cam-old-2 (2) P1
  CVE-2022-0778 (openssl 1.0.2k):        cam-old-2 (2) P2, cam-old-1 (1) P3, cam-other (4) P3
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fleetwarden.domain.findings import FindingQuery, FindingStatus
from fleetwarden.entrypoints.cli.vulns import parse_expires
from fleetwarden.entrypoints.vulns_views import ROW_COLUMNS, finding_row
from fleetwarden.errors import InputError, PermissionDenied
from fleetwarden.services import accounts, audit, devices, vulns
from tests.integration.helpers import Env, add_tenant, make_env, run_cli
from tests.integration.vulns import estate

KEV_CVE, SSL_CVE = "CVE-2021-36260", "CVE-2022-0778"
AGO = timedelta(days=40)
CONTRACT = {"device_id": int, "device_name": str, "vulnerability_id": str, "aliases": list,
            "component": dict, "source": str, "cvss": dict, "epss": float, "kev": bool,
            "priority": str, "due_date": str, "status": str, "reasons": list}


class _PastClock:
    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> datetime:
        return datetime.now(UTC) - self.delta


@dataclass
class Estate:
    db: str
    env: Env
    ids: dict[str, int]
    first_seen: date
    """The day the estate's findings were first seen (40 days ago)."""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, db=self.db)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        r = self.cli(*args)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr, r.stderr
        return r

    def refused(self, *args: str) -> str:
        """Exit 2 with exactly one ``error: ...`` line on stderr, nothing on stdout."""
        r = self.cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
        assert r.stdout == "", r.stdout
        return lines[0]

    def json(self, *args: str) -> Any:
        r = self.ok(*args, "--format", "json")
        return json.loads(r.stdout)

    def findings(self, **query: Any) -> list[Any]:
        q = FindingQuery(**{"statuses": tuple(FindingStatus), **query})
        return list(vulns.findings(self.env.platform, self.env.admin, q).items)

    def status(self, vid: str, device: int) -> str:
        (f,) = self.findings(vulnerability_id=vid, device_id=device)
        return f.status.value


@pytest.fixture
def est(database_url: str, tmp_path: Path) -> Iterator[Estate]:
    env = make_env(database_url)
    past = replace(env.app, platform=replace(env.app.platform, clock=_PastClock(AGO)))
    ids = estate.build(Env(past, env.admin, env.token), tmp_path)
    ids = {k: v for k, v in ids.items() if not k.startswith("_")}
    try:
        yield Estate(database_url, env, ids, (datetime.now(UTC) - AGO).date())
    finally:
        env.app.engine.dispose()


def _pairs(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(i["vulnerability_id"], i["device_id"]) for i in items]


# ------------------------------------------------------------------------- list
def test_list_json_contract_and_filters(est: Estate) -> None:
    one, two, other = est.ids["cam-old-1"], est.ids["cam-old-2"], est.ids["cam-other"]
    items = est.json("vulns", "list")
    assert _pairs(items) == [(KEV_CVE, one), (KEV_CVE, two), (SSL_CVE, two), (SSL_CVE, one),
                             (SSL_CVE, other)]
    for item in items:
        for key, kind in CONTRACT.items():
            assert isinstance(item[key], kind), (key, item[key])
        assert set(item["component"]) == {"name", "version", "purl", "cpe"}
        assert set(item["cvss"]) == {"version", "score", "vector"}
        assert item["priority"] in ("P1", "P2", "P3", "P4")
        assert date.fromisoformat(item["due_date"]) >= est.first_seen
        assert all(isinstance(r, str) for r in item["reasons"])
    kev = items[0]
    assert kev["kev"] is True and kev["priority"] == "P1" and kev["status"] == "open"
    assert kev["component"]["name"] == "camera-firmware" and kev["source"] == "sbom"
    assert kev["cvss"] == {"version": "3.1", "score": 9.8,
                           "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    assert kev["due_date"] == (est.first_seen + timedelta(days=7)).isoformat()
    assert any("KEV" in r for r in kev["reasons"]) and kev["reasons"][-1].endswith("-> P1")
    assert items[2]["component"]["purl"] == "pkg:generic/openssl@1.0.2k"

    assert _pairs(est.json("vulns", "list", "--kev")) == [(KEV_CVE, one), (KEV_CVE, two)]
    assert _pairs(est.json("vulns", "list", "--priority", "2", "--priority", "p3")) == [
        (SSL_CVE, two), (SSL_CVE, one), (SSL_CVE, other)]
    # first seen 40 days ago: P1 (7 days) and P2 (30 days) are late, P3 (60 days) is not
    overdue = est.json("vulns", "list", "--overdue")
    assert _pairs(overdue) == [(KEV_CVE, one), (KEV_CVE, two), (SSL_CVE, two)]
    assert all(i["overdue"] for i in overdue)
    assert _pairs(est.json("vulns", "list", "--cve", "cve-2022-0778", "--site", "Depot")) \
        == [(SSL_CVE, other)]
    assert _pairs(est.json("vulns", "list", "--device", str(two), "--status", "open")) == [
        (KEV_CVE, two), (SSL_CVE, two)]

    page = est.ok("vulns", "list", "--limit", "2", "--offset", "1")
    assert "showing 2–3; more: --offset 3" in page.stdout
    assert page.stdout.count("CVE-20") == 2 and page.stderr == ""
    assert "--priority 'P5'" in est.refused("vulns", "list", "--priority", "P5")


def test_csv_round_trip_formula_guard_and_markup(est: Estate, tmp_path: Path) -> None:
    p, admin = est.env.platform, est.env.admin
    hostile = {est.ids["cam-old-1"]: "[bold red]cam-old-1[/bold red]",
               est.ids["cam-old-2"]: "=HYPERLINK(\"http://127.0.0.1/x\",\"cam\")",
               est.ids["cam-other"]: "-2+3+cmd|' /C calc'!A0"}
    for device_id, name in hostile.items():
        devices.update_device(p, admin, device_id, {"name": name})
    shown = est.findings(statuses=())
    r = est.ok("vulns", "list", "--format", "csv")
    reader = csv.DictReader(io.StringIO(r.stdout))
    assert tuple(reader.fieldnames or ()) == ROW_COLUMNS
    got = list(reader)
    assert len(got) == len(shown) == 5
    for row, f in zip(got, shown, strict=True):
        want = {k: "" if v is None else str(v) for k, v in finding_row(f).items()}
        if want["device_name"][:1] in ("=", "-"):
            assert row["device_name"] == "'" + want["device_name"]  # neutralised
            row["device_name"] = row["device_name"][1:]
        assert row == want
    # the export writes the same rows, atomically, to a file
    target = tmp_path / "findings.csv"
    done = est.ok("vulns", "export", "--format", "csv", "--out", str(target))
    assert target.read_text(encoding="utf-8") == r.stdout
    assert done.stdout == "" and "5 findings" in done.stderr
    # Rich markup in a device name is printed as text, not interpreted
    table = est.ok("vulns", "list", "--device", str(est.ids["cam-old-1"]))
    assert "[bold red]cam-old-1[/bold red]" in table.stdout


# ----------------------------------------------------------------------- triage
def test_triage_records_each_status_with_its_facts(est: Estate) -> None:
    one, two, other = est.ids["cam-old-1"], est.ids["cam-old-2"], est.ids["cam-other"]
    me = f"cli:{getpass.getuser()}"
    refusals = [
        (("--device", str(one), "--status", "not_affected"), "needs a justification"),
        (("--device", str(other), "--status", "risk_accepted", "--approver", me,
          "--expires", "30d"), "someone else"),
        (("--device", str(other), "--status", "risk_accepted", "--approver", "CISO",
          "--expires", "2020-01-31"), "in the future"),
    ]
    for args, message in refusals:
        assert message in est.refused("vulns", "triage", SSL_CVE, *args)
    assert {f.status for f in est.findings()} == {FindingStatus.OPEN}  # nothing changed

    r = est.ok("vulns", "triage", SSL_CVE, "--device", str(one), "--status", "not_affected",
               "--justification", "vulnerable_code_not_in_execute_path", "--note", "TLS off")
    assert r.stdout.count("\n") == 1
    assert "not_affected (vulnerable_code_not_in_execute_path) (was open)" in r.stdout
    est.ok("vulns", "triage", SSL_CVE.lower(), "--device", str(two), "--status",
           "false_positive", "--note", "openssl is only the CLI tool here")
    est.ok("vulns", "triage", SSL_CVE, "--device", str(other), "--status", "risk_accepted",
           "--approver", "CISO", "--expires", "30d", "--note", "replaced in Q1")
    est.ok("vulns", "triage", KEV_CVE, "--model", estate.CAM_MODEL, "--firmware", estate.OLD,
           "--status", "affected")
    by = {(f.vulnerability_id, f.device_id): f for f in est.findings()}
    assert by[SSL_CVE, one].status is FindingStatus.NOT_AFFECTED
    assert by[SSL_CVE, one].justification == "vulnerable_code_not_in_execute_path"
    assert by[SSL_CVE, two].status is FindingStatus.FALSE_POSITIVE
    accepted = by[SSL_CVE, other]
    assert accepted.status is FindingStatus.RISK_ACCEPTED and accepted.approver == "CISO"
    assert accepted.expires_at is not None
    assert (accepted.expires_at.date() - date.today()).days in (29, 30, 31)
    assert by[KEV_CVE, one].status is by[KEV_CVE, two].status is FindingStatus.AFFECTED

    shown = est.ok("vulns", "show", SSL_CVE).stdout
    assert "TLS off" in shown and "approved by CISO" in shown and "false_positive" in shown
    assert "75 points -> P3" in shown and "versionEndExcluding 1.0.2zd" in shown
    # open withdraws the decision; an ISO date expires at the end of that day, UTC
    # open withdraws the decision
    est.ok("vulns", "triage", SSL_CVE, "--device", str(one), "--status", "open")
    assert est.status(SSL_CVE, one) == "open"
    events = audit.export(est.env.platform, est.env.admin)
    assert sum(e.action == "vulns.triage" for e in events) == 5


def test_expires_accepts_durations_and_dates() -> None:
    now = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    assert parse_expires("30d", now) == now + timedelta(days=30)
    assert parse_expires("12h", now) == now + timedelta(hours=12)
    assert parse_expires("2027-01-31", now) == datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_expires("2027-01-31T08:00", now) == datetime(2027, 1, 31, 8, tzinfo=UTC)
    for bad in ("30", "soon", "2027-13-01", "-5d"):
        with pytest.raises(InputError):
            parse_expires(bad, now)


def test_viewer_cannot_triage(est: Estate) -> None:
    # the CLI always acts as the local administrator; other roles reach the service
    # through tokens (API), so the viewer's refusal is checked there
    r = est.ok("users", "add", "viewer@northshire.example", "--role", "viewer")
    token = next(line.split(": ", 1)[1] for line in r.stdout.splitlines()
                 if line.startswith("token: "))
    viewer = accounts.authenticate(est.env.platform, token)
    assert len(vulns.findings(est.env.platform, viewer, FindingQuery()).items) == 5
    with pytest.raises(PermissionDenied):
        vulns.triage(est.env.platform, viewer, SSL_CVE, "affected",
                     device_id=est.ids["cam-other"])
    with pytest.raises(PermissionDenied):
        vulns.set_response_days(est.env.platform, viewer, (1, 2, 3, 4))
    assert est.status(SSL_CVE, est.ids["cam-other"]) == "open"


# ----------------------------------------------------------------------- report
def test_report_by_cve_model_site(est: Estate) -> None:
    by_cve = est.json("vulns", "report")
    assert [(i["cve"], i["devices"], i["active"], i["overdue"], i["kev"], i["top_priority"])
            for i in by_cve] == [(KEV_CVE, 2, 2, 2, True, "P1"),
                                 (SSL_CVE, 3, 3, 1, False, "P2")]
    assert (by_cve[1]["p2"], by_cve[1]["p3"]) == (1, 2)
    cam, other = estate.CAM_MODEL.replace("/", " ", 1), estate.OTHER_MODEL.replace("/", " ", 1)
    by_model = est.json("vulns", "report", "--by", "model")
    assert [(i["model"], i["devices"], i["findings"]) for i in by_model] == [
        (cam, 2, 4), (other, 1, 1)]
    r = est.ok("vulns", "report", "--by", "site", "--format", "csv", "--priority", "P3")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    # equal counts: by name
    assert [(x["site"], x["findings"], x["p3"]) for x in rows] == [("Depot", "1", "1"),
                                                                  ("HQ", "1", "1")]
    assert "'vendor'" in est.refused("vulns", "report", "--by", "vendor")


# ----------------------------------------------------------------------- export
def _validate(doc: dict[str, Any]) -> None:
    """Against the CycloneDX 1.5 JSON schema (cyclonedx-python-lib's strict validator)."""
    from cyclonedx.model.bom import Bom

    Bom.from_json(doc)  # type: ignore[attr-defined]  # its enums refuse unknown values
    pytest.importorskip("jsonschema", reason="cyclonedx-python-lib[json-validation] "
                                             "is not installed")
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(doc))
    assert error is None, error


def _props(entry: dict[str, Any]) -> dict[str, str]:
    return {p["name"].removeprefix("fleetwarden:"): p["value"]
            for p in entry.get("properties", ())}


def test_export_vdr_and_vex_are_valid_cyclonedx(est: Estate, tmp_path: Path) -> None:
    p, admin = est.env.platform, est.env.admin
    one, two = est.ids["cam-old-1"], est.ids["cam-old-2"]
    vulns.triage(p, admin, SSL_CVE, "not_affected", device_id=one,
                 justification="vulnerable_code_cannot_be_controlled_by_adversary",
                 note="no untrusted certificates parsed")
    vulns.triage(p, admin, SSL_CVE, "risk_accepted", device_id=two, approver="CISO",
                 expires_at=datetime.now(UTC) + timedelta(days=30))

    vdr = json.loads(est.ok("vulns", "export", "--format", "vdr").stdout)
    assert vdr["bomFormat"] == "CycloneDX" and vdr["specVersion"] == "1.5"
    assert vdr["serialNumber"].startswith("urn:uuid:")
    assert vdr["metadata"]["component"]["name"] == "Northshire"
    assert [v["id"] for v in vdr["vulnerabilities"]] == [KEV_CVE, SSL_CVE]
    kev = vdr["vulnerabilities"][0]
    assert kev["source"]["name"] == "NVD" and kev["ratings"][0]["method"] == "CVSSv31"
    assert kev["ratings"][0]["score"] == 9.8 and kev["ratings"][0]["severity"] == "critical"
    assert _props(kev) == {
        "priority": "P1", "kev": "true", "epss": "0.94432",
        "due_date": (est.first_seen + timedelta(days=7)).isoformat(),
        "devices": "2", "devices_active": "2", "devices_overdue": "2", "findings": "2"}
    refs = {c["bom-ref"]: c for c in vdr["components"]}
    assert refs[kev["affects"][0]["ref"]]["name"] == "camera-firmware"
    ssl = vdr["vulnerabilities"][1]
    (affected,) = ssl["affects"]  # one component, three devices
    assert refs[affected["ref"]]["purl"] == "pkg:generic/openssl@1.0.2k"
    assert affected["versions"] == [{"version": "1.0.2k", "status": "affected"}]
    assert _props(ssl)["devices"] == "3" and _props(ssl)["devices_active"] == "1"
    _validate(vdr)

    out = tmp_path / "estate.vex.json"
    done = est.ok("vulns", "export", "--format", "vex", "--out", str(out))
    assert done.stdout == "" and f"wrote {out}" in done.stderr
    vex = json.loads(out.read_text(encoding="utf-8"))
    analyses = sorted((v["id"], v["analysis"]["state"], v["analysis"].get("justification"),
                       _props(v)["status"]) for v in vex["vulnerabilities"])
    assert analyses == [
        (KEV_CVE, "in_triage", None, "open"),
        (SSL_CVE, "exploitable", None, "risk_accepted"),
        (SSL_CVE, "in_triage", None, "open"),
        (SSL_CVE, "not_affected", "protected_by_mitigating_control", "not_affected")]
    accepted = next(v for v in vex["vulnerabilities"] if _props(v)["status"] == "risk_accepted")
    assert "CISO" in accepted["analysis"]["detail"]
    assert accepted["analysis"]["response"] == ["will_not_fix"]
    # the three openssl devices disagree: each analysis names its own copy of openssl
    ssl_refs = [v["affects"][0]["ref"] for v in vex["vulnerabilities"] if v["id"] == SSL_CVE]
    assert len(set(ssl_refs)) == 3
    comps = {c["bom-ref"]: c for c in vex["components"]}
    assert {comps[r]["purl"] for r in ssl_refs} == {"pkg:generic/openssl@1.0.2k"}
    assert len({_props(comps[r])["variant_of"] for r in ssl_refs}) == 1
    _validate(vex)


# ----------------------------------------------------------- settings and match
def test_settings_vulns_set_the_due_dates(est: Estate) -> None:
    assert "P1 7 days, P2 30 days, P3 60 days, P4 90 days" in est.ok(
        "settings", "vulns").stdout
    changed = est.ok("settings", "vulns", "--response-days", "10, 50,60,90")
    assert "P1 10 days, P2 50 days, P3 60 days, P4 90 days" in changed.stdout
    items = est.json("vulns", "list", "--overdue")
    assert _pairs(items) == [(KEV_CVE, est.ids["cam-old-1"]), (KEV_CVE, est.ids["cam-old-2"])]
    assert items[0]["due_date"] == (est.first_seen + timedelta(days=10)).isoformat()
    assert "shorter" in est.refused("settings", "vulns", "--response-days", "10,5,60,90")


def test_match_and_stale_warning(est: Estate) -> None:
    # feeds are shared: another tenant has never matched against what was imported
    add_tenant(est.env, "Eastshire", "iso@eastshire.example")
    stale = est.cli("--tenant", "Eastshire", "vulns", "list", "--format", "json")
    assert stale.returncode == 0 and json.loads(stale.stdout) == []
    assert "vulns match" in stale.stderr and "warning" in stale.stderr
    run = est.ok("--tenant", "Eastshire", "vulns", "match")
    assert "match (full): 0 subjects" in run.stdout
    fresh = est.ok("--tenant", "Eastshire", "vulns", "list", "--format", "json")
    assert fresh.stderr == ""
    again = est.ok("--tenant", "Northshire", "vulns", "match", "--full")
    assert "match (full): 3 subjects" in again.stdout and "0 new" in again.stdout
    assert len(est.findings(statuses=())) == 5
