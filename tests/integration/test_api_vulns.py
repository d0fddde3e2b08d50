"""The vulnerability endpoints of the REST API on real SQLite and PostgreSQL, over the
shared findings estate (``tests/integration/vulns/estate.py``): the list contract,
filters and paging, the per-device list and tenant isolation, triage (accepted and
refused decisions, audited), matching, reports, exports and response times, and who may
do what."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.entrypoints.api import create_app
from fleetwarden.services import accounts
from tests.integration.helpers import Api as BaseApi
from tests.integration.helpers import bearer, make_env
from tests.integration.vulns import estate

KEV_CVE = "CVE-2021-36260"
"""On the two old cameras of CAM_MODEL: P1, in KEV."""
SSL_CVE = "CVE-2022-0778"
"""OpenSSL 1.0.2k: on both old cameras and on cam-other."""
ADMIN = "admin@northshire.example"
FINDING_KEYS = {
    "device_id", "device_name", "vulnerability_id", "aliases", "component", "source",
    "cvss", "epss", "kev", "priority", "due_date", "status", "reasons", "overdue", "points",
    "first_seen", "match", "summary", "site", "model", "firmware_version", "triage", "vex",
    "fixed_at"}


@dataclass
class Api(BaseApi):
    """The shared API client over the estate, with an auditor and an engineer too."""

    auditor: dict[str, str]
    engineer: dict[str, str]
    ids: dict[str, int]

    def findings(self, headers: dict[str, str] | None = None, **params: Any
                 ) -> list[dict[str, Any]]:
        r = self.get("/vulns", headers=headers, params={"limit": 1000, **params})
        assert r.status_code == 200, r.text
        assert r.json()["next_offset"] is None
        return r.json()["items"]  # type: ignore[no-any-return]

    def statuses(self) -> list[tuple[str, int, str]]:
        return sorted((f["vulnerability_id"], f["device_id"], f["status"])
                      for f in self.findings())

    def audit_actions(self, action: str) -> list[dict[str, Any]]:
        r = self.get("/audit/events", params={"limit": 1000})
        assert r.status_code == 200, r.text
        assert r.json()["next_after_seq"] is None
        return [e for e in r.json()["items"] if e["action"] == action]

    def triage(self, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.post("/vulns/triage", body, headers=headers)


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    env = make_env(database_url)
    ids = estate.build(env, tmp_path)
    del ids["_import"]
    other = accounts.create_tenant(env.platform, "cli:test", "Southshire",
                                   "admin@southshire.example")
    tokens = {role: accounts.add_user(env.platform, env.admin, f"{role}@northshire.example",
                                      role).token
              for role in ("viewer", "auditor", "engineer")}
    with TestClient(create_app(env.app)) as client:
        yield Api(env, client, bearer(env.token), bearer(other.token),
                  bearer(tokens["viewer"]), bearer(tokens["auditor"]),
                  bearer(tokens["engineer"]), ids)
    env.app.engine.dispose()


def error(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    message = body["error"]["message"]
    assert message and "\n" not in message and "Traceback" not in response.text
    return body["error"]  # type: ignore[no-any-return]


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


# ------------------------------------------------------------------------- listing
def test_list_returns_the_finding_contract_most_urgent_first(api: Api) -> None:
    r = api.get("/vulns")
    assert r.status_code == 200, r.text
    page = r.json()
    assert set(page) == {"items", "next_offset", "stale"}
    assert page["next_offset"] is None and isinstance(page["stale"], bool)
    items = page["items"]
    assert len(items) == 5  # 2 x KEV_CVE, 3 x SSL_CVE; cam-new runs fixed firmware
    for f in items:
        assert set(f) == FINDING_KEYS, set(f) ^ FINDING_KEYS
        assert isinstance(f["device_id"], int) and isinstance(f["device_name"], str)
        assert isinstance(f["aliases"], list) and isinstance(f["reasons"], list)
        assert set(f["component"]) == {"name", "version", "purl", "cpe"}
        assert set(f["cvss"]) == {"version", "score", "vector"}
        assert isinstance(f["cvss"]["score"], float) and isinstance(f["epss"], float)
        assert isinstance(f["kev"], bool) and isinstance(f["overdue"], bool)
        assert f["priority"] in ("P1", "P2", "P3", "P4") and isinstance(f["points"], int)
        assert datetime.fromisoformat(f["due_date"]).date() \
            >= datetime.fromisoformat(f["first_seen"]).date()
        assert set(f["match"]) == {"basis", "reasons"}
        assert set(f["triage"]) == {"justification", "note", "approver", "expires_at",
                                    "decided_by"}
        assert f["status"] == "open" and f["fixed_at"] is None
        assert f["reasons"][-1].endswith(f"-> {f['priority']}") or f["kev"]
    assert [f["priority"] for f in items] == sorted(f["priority"] for f in items)
    top = items[0]
    assert (top["vulnerability_id"], top["kev"], top["priority"]) == (KEV_CVE, True, "P1")
    assert top["component"]["name"] == "camera-firmware" and top["source"] == "sbom"
    assert top["model"] == "Hikvision DS-2CD2026G2-IU/SL" and top["site"] == "HQ"
    assert any("KEV" in reason for reason in top["reasons"])


def test_filters_narrow_the_list(api: Api) -> None:
    ids = api.ids

    def shown(**params: Any) -> set[tuple[str, str]]:
        return {(f["vulnerability_id"], f["device_name"]) for f in api.findings(**params)}

    kev = shown(kev="true")
    assert kev == {(KEV_CVE, "cam-old-1"), (KEV_CVE, "cam-old-2")}
    assert shown(priority="P1") == kev
    assert shown(priority=["P2", "p3"]) == {(SSL_CVE, "cam-old-1"), (SSL_CVE, "cam-old-2"),
                                            (SSL_CVE, "cam-other")}
    assert shown(priority="P4") == set()
    assert shown(device_id=ids["cam-old-2"]) == {(KEV_CVE, "cam-old-2"),
                                                 (SSL_CVE, "cam-old-2")}
    assert shown(device_id=ids["cam-new"]) == set()
    assert shown(cve=SSL_CVE.lower()) == shown(cve=SSL_CVE)
    assert len(shown(cve=SSL_CVE)) == 3
    assert shown(site="Depot") == {(SSL_CVE, "cam-other")}
    assert shown(site="Nowhere") == set()
    assert len(shown(status="open")) == 5 and shown(status=["affected", "fixed"]) == set()
    assert shown(overdue="true") == set()  # everything was first seen just now
    assert shown(kev="true", device_id=ids["cam-other"]) == set()

    for params in ({"priority": "P5"}, {"status": "bogus"}, {"limit": 0},
                   {"limit": 1001}, {"offset": -1}, {"kev": "perhaps"},
                   {"device_id": 0}):
        assert error(api.get("/vulns", params=params), 422)["code"] == "invalid_input", params


def test_pages_by_offset_cover_every_finding_once(api: Api) -> None:
    everything = [(f["vulnerability_id"], f["device_id"]) for f in api.findings()]
    seen: list[tuple[str, int]] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        r = api.get("/vulns", params={"limit": 2, "offset": offset})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [(f["vulnerability_id"], f["device_id"]) for f in page["items"]]
        offset = page["next_offset"]
        pages += 1
    assert pages == 3 and seen == everything
    assert api.get("/vulns", params={"offset": 50}).json()["items"] == []


# ------------------------------------------------------------ devices and tenants
def test_device_findings_and_tenant_isolation(api: Api) -> None:
    cam = api.ids["cam-old-2"]
    r = api.get(f"/devices/{cam}/vulns")
    assert r.status_code == 200, r.text
    assert {f["vulnerability_id"] for f in r.json()["items"]} == {KEV_CVE, SSL_CVE}
    assert {f["device_id"] for f in r.json()["items"]} == {cam}
    assert [f["vulnerability_id"] for f in api.get(
        f"/devices/{cam}/vulns", params={"kev": "true"}).json()["items"]] == [KEV_CVE]
    assert api.get(f"/devices/{api.ids['cam-new']}/vulns").json()["items"] == []
    assert error(api.get("/devices/999999/vulns"), 404)["code"] == "not_found"
    assert error(api.get("/vulns", params={"device_id": 999999}), 404)["code"] == "not_found"

    # Tenant B sees none of it, and A's devices do not exist for it.
    assert api.findings(headers=api.other) == []
    error(api.get(f"/devices/{cam}/vulns", headers=api.other), 404)
    error(api.get("/vulns", params={"device_id": cam}, headers=api.other), 404)
    assert api.get("/vulns/report", headers=api.other).json() == {"by": "cve", "items": []}
    error(api.triage(headers=api.other, vulnerability_id=KEV_CVE, device_id=cam,
                     status="affected"), 404)
    error(api.triage(headers=api.other, vulnerability_id=SSL_CVE, model=estate.CAM_MODEL,
                     firmware=estate.OLD, status="affected"), 404)
    assert {s for _, _, s in api.statuses()} == {"open"}


# ------------------------------------------------------------------------ triage
def test_triage_records_decisions_and_audits_each(api: Api) -> None:
    old1, old2, other = api.ids["cam-old-1"], api.ids["cam-old-2"], api.ids["cam-other"]
    r = api.triage(vulnerability_id=KEV_CVE.lower(), device_id=old1, status="affected",
                   note="  patch in the next window ")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "vulnerability_id": KEV_CVE, "subject": f"device {old1} (cam-old-1)",
        "status": "affected", "justification": None, "note": "patch in the next window",
        "approver": None, "expires_at": None, "decided_by": ADMIN, "before": None}

    # One decision for the firmware image covers both old cameras, not cam-other.
    r = api.triage(vulnerability_id=SSL_CVE, model=estate.CAM_MODEL, firmware=estate.OLD,
                   status="not_affected", justification="vulnerable_code_not_in_execute_path")
    assert r.status_code == 200, r.text
    assert r.json()["subject"] == f"Hikvision DS-2CD2026G2-IU/SL firmware {estate.OLD}"
    assert r.json()["justification"] == "vulnerable_code_not_in_execute_path"

    expires = later(30)
    r = api.triage(vulnerability_id=KEV_CVE, device_id=old2, status="risk_accepted",
                   approver="ciso@northshire.example", expires_at=expires)
    assert r.status_code == 200, r.text
    assert r.json()["approver"] == "ciso@northshire.example"
    assert datetime.fromisoformat(r.json()["expires_at"]) == datetime.fromisoformat(expires)

    assert api.statuses() == sorted([
        (KEV_CVE, old1, "affected"), (KEV_CVE, old2, "risk_accepted"),
        (SSL_CVE, old1, "not_affected"), (SSL_CVE, old2, "not_affected"),
        (SSL_CVE, other, "open")])
    [f] = api.findings(device_id=old1, cve=KEV_CVE)
    assert f["triage"]["decided_by"] == ADMIN and f["triage"]["note"] == \
        "patch in the next window"
    assert len(api.findings(status="not_affected")) == 2

    # Withdrawing returns the finding to open and reports what it replaced.
    r = api.triage(vulnerability_id=KEV_CVE, device_id=old1, status="open")
    assert r.status_code == 200, r.text
    assert r.json()["before"]["status"] == "affected" and r.json()["note"] is None
    assert (KEV_CVE, old1, "open") in api.statuses()

    events = api.audit_actions("vulns.triage")
    assert len(events) == 4
    assert [e["after"]["status"] for e in events] == ["affected", "not_affected",
                                                     "risk_accepted", "open"]
    assert all(e["actor"] == ADMIN for e in events)
    assert events[-1]["before"]["status"] == "affected"


def test_refused_triage_changes_nothing(api: Api) -> None:
    cam = api.ids["cam-old-1"]
    before = api.statuses()
    base = {"vulnerability_id": KEV_CVE, "device_id": cam}
    refusals: list[tuple[dict[str, Any], int, str]] = [
        ({**base, "status": "not_affected"}, 422, "justification"),
        ({**base, "status": "not_affected", "justification": "it is fine"}, 422,
         "justification"),
        ({**base, "status": "affected", "justification": "component_not_present"}, 422,
         "only for not_affected"),
        ({**base, "status": "false_positive"}, 422, "note"),
        ({**base, "status": "risk_accepted", "approver": ADMIN.upper(),
          "expires_at": later(30)}, 422, "someone else"),
        ({**base, "status": "risk_accepted", "approver": "ciso@northshire.example",
          "expires_at": later(-1)}, 422, "future"),
        ({**base, "status": "risk_accepted", "approver": "ciso@northshire.example",
          "expires_at": later(1000)}, 422, "730"),
        ({**base, "status": "risk_accepted", "approver": "ciso@northshire.example"}, 422,
         "expiry"),
        ({**base, "status": "fixed"}, 422, "fixed"),
        ({**base, "status": "suppressed"}, 422, "VEX"),
        ({**base, "status": "dunno"}, 422, "choose one of"),
        ({"vulnerability_id": KEV_CVE, "status": "affected"}, 422, ""),
        ({**base, "model": estate.CAM_MODEL, "firmware": estate.OLD, "status": "affected"},
         422, ""),
        ({"vulnerability_id": KEV_CVE, "model": estate.CAM_MODEL, "status": "affected"},
         422, "firmware"),
        ({**base, "status": "affected", "colour": "red"}, 422, "colour: unknown field"),
        ({**base, "status": "affected", "expires_at": "next week"}, 422, "expires_at"),
        ({**base, "device_id": "one", "status": "affected"}, 422, "device_id"),
        ({**base, "vulnerability_id": "CVE-2099-0001", "status": "affected"}, 404,
         "not a finding"),
        ({**base, "device_id": api.ids["cam-new"], "status": "affected"}, 404,
         "not a finding"),
        ({**base, "device_id": 999999, "status": "affected"}, 404, "not found"),
        ({"vulnerability_id": KEV_CVE, "model": estate.OTHER_MODEL, "firmware": estate.OLD,
          "status": "affected"}, 404, "not a finding"),
        ({"vulnerability_id": KEV_CVE, "model": "Nobody/Nothing", "firmware": "1",
          "status": "affected"}, 404, "not found"),
    ]
    for body, status, words in refusals:
        err = error(api.triage(**body), status)
        assert words.lower() in err["message"].lower(), (body, err)
    r = api.client.post("/api/v1/vulns/triage", content=b'{"status": ', headers={
        **api.admin, "Content-Type": "application/json"})
    assert error(r, 400)["code"] == "malformed_json"

    assert api.statuses() == before
    assert api.audit_actions("vulns.triage") == []


# -------------------------------------------------------------------------- roles
def test_readers_read_but_may_not_triage_match_or_configure(api: Api) -> None:
    body = {"vulnerability_id": KEV_CVE, "device_id": api.ids["cam-old-1"],
            "status": "affected"}
    for who in (api.viewer, api.auditor):
        assert len(api.findings(headers=who)) == 5
        assert api.get("/vulns/report", headers=who).status_code == 200
        assert error(api.triage(headers=who, **body), 403)["code"] == "forbidden"
        error(api.post("/vulns/match", {}, headers=who), 403)
        error(api.put("/settings/vulns", {"response_days": [1, 2, 3, 4]}, headers=who), 403)
    error(api.put("/settings/vulns", {"response_days": [1, 2, 3, 4]},
                  headers=api.engineer), 403)
    assert {s for _, _, s in api.statuses()} == {"open"}

    r = api.triage(headers=api.engineer, **body)
    assert r.status_code == 200 and r.json()["decided_by"] == "engineer@northshire.example"


# ---------------------------------------------------------------------- matching
def test_match_catches_up_or_rematches_everything(api: Api) -> None:
    r = api.post("/vulns/match", headers=api.engineer)  # no body: a catch-up
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["mode"] == "catch-up" and run["new"] == 0
    assert set(run) == {"mode", "subjects", "components", "assessed", "candidates", "new",
                        "fixed", "reopened", "alerts", "verified_fixed", "undecided",
                        "undecided_examples"}
    r = api.post("/vulns/match", {"full": True})
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "full" and r.json()["subjects"] >= 3
    assert (r.json()["new"], r.json()["fixed"]) == (0, 0)
    assert len(api.findings()) == 5
    assert api.get("/vulns").json()["stale"] is False
    # The feed import matched first (mode "feeds"), then these two runs.
    assert [e["after"]["mode"] for e in api.audit_actions("vulns.match")][-2:] == \
        ["catch-up", "full"]
    error(api.post("/vulns/match", {"full": "yes"}), 422)
    error(api.post("/vulns/match", {"fast": True}), 422)


# ------------------------------------------------------------------------ reports
def test_report_counts_by_model_cve_and_site(api: Api) -> None:
    r = api.get("/vulns/report", params={"by": "model"})
    assert r.status_code == 200, r.text
    assert r.json()["by"] == "model"
    rows = {row["model"]: row for row in r.json()["items"]}
    cam = rows["Hikvision DS-2CD2026G2-IU/SL"]
    assert set(cam) == {"model", "devices", "findings", "active", "overdue", "kev",
                        "top_priority", "p1", "p2", "p3", "p4"}
    assert (cam["devices"], cam["findings"], cam["active"], cam["kev"],
            cam["top_priority"]) == (2, 4, 4, True, "P1")
    assert (cam["p1"], cam["p2"] + cam["p3"]) == (2, 2)
    other = rows["Hikvision DS-2CD1043G0-I"]
    assert (other["devices"], other["findings"], other["kev"]) == (1, 1, False)
    assert [row["model"] for row in r.json()["items"]][0] == "Hikvision DS-2CD2026G2-IU/SL"

    by_cve = api.get("/vulns/report").json()["items"]
    assert [(row["cve"], row["devices"]) for row in by_cve] == [(KEV_CVE, 2), (SSL_CVE, 3)]
    by_site = api.get("/vulns/report", params={"by": "site", "kev": "true"}).json()["items"]
    assert [(row["site"], row["findings"]) for row in by_site] == [("HQ", 2)]
    error(api.get("/vulns/report", params={"by": "vendor"}), 422)


# ------------------------------------------------------------------------ exports
def test_export_vdr_vex_and_csv(api: Api) -> None:
    pytest.importorskip("fleetwarden.entrypoints.vuln_exports",
                        reason="the CycloneDX/CSV renderers are not in this tree yet")
    r = api.get("/vulns/export", params={"format": "vdr"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.cyclonedx+json"
    assert r.headers["content-disposition"].startswith('attachment; filename="')
    assert r.headers["content-disposition"].endswith('.cdx.json"')
    vdr = r.json()
    assert vdr["bomFormat"] == "CycloneDX" and vdr["specVersion"]
    assert {"version", "metadata", "vulnerabilities"} <= set(vdr)
    assert {v["id"] for v in vdr["vulnerabilities"]} == {KEV_CVE, SSL_CVE}

    r = api.get("/vulns/export", params={"format": "vex", "kev": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["bomFormat"] == "CycloneDX"
    assert {v["id"] for v in r.json()["vulnerabilities"]} == {KEV_CVE}

    r = api.get("/vulns/export", params={"format": "csv", "device_id": api.ids["cam-other"]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["vulnerability_id"], row["device_name"]) for row in rows] == \
        [(SSL_CVE, "cam-other")]

    error(api.get("/vulns/export", params={"format": "pdf"}), 422)
    error(api.get("/vulns/export", params={"device_id": 999999}), 404)
    error(api.get("/vulns/export", headers=api.other,
                  params={"device_id": api.ids["cam-other"]}), 404)
    assert api.get("/vulns/export", params={"format": "vdr"}, headers=api.viewer) \
        .status_code == 200


# ----------------------------------------------------------------------- settings
def test_response_days_move_due_dates(api: Api) -> None:
    due = {(f["vulnerability_id"], f["device_id"]): f for f in api.findings()}
    r = api.put("/settings/vulns", {"response_days": [1, 2, 3, 4]})
    assert r.status_code == 200, r.text
    assert r.json() == {"response_days": [1, 2, 3, 4]}
    for f in api.findings():
        first = datetime.fromisoformat(f["first_seen"]).date()
        days = int(f["priority"][1])
        assert datetime.fromisoformat(f["due_date"]).date() == first + timedelta(days=days)
        assert f["due_date"] < due[(f["vulnerability_id"], f["device_id"])]["due_date"]
    bad: list[tuple[list[Any], str]] = [
        ([90, 60, 30, 7], "shorter"), ([0, 1, 2, 3], "response_days"),
        ([1, 2, 3], "response_days"), (["7", 30, 60, 90], "response_days")]
    for wrong, words in bad:
        err = error(api.put("/settings/vulns", {"response_days": wrong}), 422)
        assert words in err["message"], (wrong, err)
    changes = [e for e in api.audit_actions("tenant.settings")
               if "response_days" in (e["after"] or {})]
    assert [e["after"]["response_days"] for e in changes] == [[1, 2, 3, 4]]
