"""The compliance endpoints of the REST API on real SQLite, with no network: assessments
from stored observations (``probe=false``), catalogues, per-device compliance and risk,
attestations with evidence files (multipart and JSON), waivers, service profiles,
assessment settings and the report downloads; who may do what, and tenant isolation."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from fleetwarden.entrypoints.api import create_app
from fleetwarden.entrypoints.api.compliance import AssessmentJobs
from fleetwarden.services import accounts
from fleetwarden.services.assessment import AssessmentRun
from tests.integration.helpers import Api as BaseApi
from tests.integration.helpers import bearer, make_env

ADMIN = "admin@northshire.example"
REQ = "etsi-en-303-645/5.1-1"
ATTESTATION_KEYS = {"id", "requirement_id", "subject_type", "subject_id", "status",
                    "statement", "method", "attested_by", "attested_at", "expires_at",
                    "revoked_at", "revoked_by", "active", "files"}
FINDING_KEYS = {"device_id", "host_id", "device_name", "ip", "check_id", "title", "status",
                "severity", "requirements", "evidence", "reason"}
PDF = b"%PDF-1.4\n% evidence\x00\xff\x10 binary bytes\n%%EOF\n"


@dataclass
class Api(BaseApi):
    engineer: dict[str, str]
    ids: dict[str, int]

    def created(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    def attestation_ids(self, headers: dict[str, str] | None = None) -> list[int]:
        r = self.get("/attestations", headers=headers)
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["items"]]


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def attestation(**overrides: Any) -> dict[str, Any]:
    return {"requirement_id": REQ, "subject_type": "device", "status": "PASS",
            "statement": "Inspected the admin UI: no universal default password is set.",
            "method": "inspection", "expires_at": later(365)} | overrides


def error(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    message = body["error"]["message"]
    assert message and "\n" not in message and "Traceback" not in response.text
    return body["error"]  # type: ignore[no-any-return]


def _register(api: Api, headers: dict[str, str], prefix: str) -> dict[str, int]:
    """A site, a segment and a model, through the API."""
    ids = {}
    ids["site"] = api.created(api.post("/sites", {"name": f"{prefix}HQ"}, headers))["id"]
    ids["segment"] = api.created(api.post("/segments", {
        "name": f"{prefix}cams", "cidrs": ["127.76.0.0/24"], "zone": "iot-cctv",
        "site": f"{prefix}HQ"}, headers))["id"]
    ids["model"] = api.created(api.post("/models", {
        "vendor": "Hikvision", "model": f"{prefix}DS-2CD", "device_type": "cctv_camera"},
        headers))["id"]
    ids["device"] = _camera(api, headers, prefix, 0)
    return ids


def _camera(api: Api, headers: dict[str, str], prefix: str, n: int) -> int:
    """One in-service camera of the model on the segment."""
    return int(api.created(api.post("/devices", {
        "name": f"{prefix}cam-{n}", "device_type": "cctv_camera", "vendor": "Hikvision",
        "model": f"{prefix}DS-2CD", "ip_addresses": [f"127.76.0.{10 + n}"],
        "site": f"{prefix}HQ", "segment": f"{prefix}cams", "lifecycle_state": "in_service",
        "criticality": "high"}, headers))["id"])


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One database and app for the module (building the app is most of a test's cost);
    each test gets its own tenant-A device (``api.ids["device"]``) and looks only at what
    it made, so the tests do not depend on each other or on their order."""
    tmp = tmp_path_factory.mktemp("compliance-api")
    with pytest.MonkeyPatch.context() as mp:
        (tmp / "home").mkdir()
        mp.setenv("FLEETWARDEN_HOME", str(tmp / "home"))
        env = make_env(f"sqlite:///{tmp / 'fleetwarden.db'}")
        other = accounts.create_tenant(env.platform, "cli:test", "Southshire",
                                       "admin@southshire.example")
        tokens = {role: accounts.add_user(env.platform, env.admin,
                                          f"{role}@northshire.example", role).token
                  for role in ("viewer", "engineer")}
        with TestClient(create_app(env.app)) as client:
            api = Api(env, client, bearer(env.token), bearer(other.token),
                      bearer(tokens["viewer"]), bearer(tokens["engineer"]), {})
            api.ids = _register(api, api.admin, "")
            api.ids |= {f"other_{k}": v for k, v in _register(api, api.other, "S-").items()}
            yield api
        env.app.engine.dispose()


_cameras = itertools.count(1)


@pytest.fixture
def api(shared: Api) -> Api:
    ids = dict(shared.ids) | {"device": _camera(shared, shared.admin, "", next(_cameras))}
    return replace(shared, ids=ids)


def multipart(api: Api, fields: dict[str, Any], files: list[tuple[str, bytes, str]],
              headers: dict[str, str] | None = None) -> Any:
    return api.client.post(
        "/api/v1/attestations", headers=headers or api.admin,
        data={k: str(v) for k, v in fields.items()},
        files=[("files", f) for f in files])


# ----------------------------------------------------------------- attestations
def test_attestation_with_files_keeps_their_hashes_and_serves_them_back(api: Api) -> None:
    html = b"<html><script>alert(1)</script></html>"
    r = multipart(api, attestation(subject_id=api.ids["device"]), [
        ("Pr\u00fcfbericht 2025.pdf", PDF, "application/pdf"),
        ('..\\..\\sub/evil"name;.html', html, "text/html; charset=utf-8"),
    ])
    made = api.created(r)
    assert r.headers["location"] == f"/api/v1/attestations/{made['id']}"
    assert set(made) == ATTESTATION_KEYS
    assert (made["status"], made["attested_by"], made["active"]) == ("PASS", ADMIN, True)

    shown = api.get(f"/attestations/{made['id']}").json()
    assert shown == made
    pdf, page = shown["files"]
    assert pdf["name"] == "Pr\u00fcfbericht 2025.pdf"
    assert page["name"].startswith("evil") and page["name"].endswith("name;.html")
    assert "/" not in page["name"] and "\\" not in page["name"]  # the path is gone
    assert pdf["sha256"] == hashlib.sha256(PDF).hexdigest() and pdf["size"] == len(PDF)
    assert page["sha256"] == hashlib.sha256(html).hexdigest()
    assert pdf["media_type"] == "application/pdf" and page["media_type"] == "text/html"

    r = api.client.get(pdf["download"], headers=api.admin)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["etag"] == f'"{pdf["sha256"]}"'
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"Pr_fbericht 2025.pdf\"; "
        "filename*=UTF-8''Pr%C3%BCfbericht%202025.pdf")

    # Script-capable types are never served as themselves.
    r = api.client.get(page["download"], headers=api.viewer)
    assert r.status_code == 200 and r.content == html
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="evil')
    ascii_name = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert ascii_name.endswith("name_.html") and not set(ascii_name) & set('"\\;/')

    # JSON without files, organisation-wide.
    org = api.created(api.post("/attestations", attestation(
        subject_type="tenant", requirement_id="etsi-en-303-645/5.2-1")))
    assert org["files"] == [] and org["subject_type"] == "tenant"
    assert {made["id"], org["id"]} <= set(api.attestation_ids(headers=api.viewer))
    by_req = api.get("/attestations", params={"requirement_id": REQ}).json()["items"]
    assert made["id"] in {a["id"] for a in by_req}
    assert {a["requirement_id"] for a in by_req} == {REQ}

    # The attestation decides the device's requirement; revoking it withdraws that.
    rows = {r["requirement_id"]: r for r in api.get(
        f"/devices/{api.ids['device']}/compliance",
        params={"framework": "etsi-en-303-645"}).json()["requirements"]}
    assert rows[REQ]["attestation_id"] == made["id"]
    r = api.post(f"/attestations/{made['id']}/revoke", {"reason": "supplier changed"})
    assert r.status_code == 200, r.text
    assert r.json()["revoked_by"] == ADMIN and r.json()["active"] is False
    error(api.post(f"/attestations/{made['id']}/revoke", {"reason": "again"}), 422)
    active = {a["id"] for a in api.get("/attestations", params={"active": "true"})
              .json()["items"]}
    assert org["id"] in active and made["id"] not in active
    assert api.post(f"/attestations/{org['id']}/revoke", {"reason": "test done"}) \
        .status_code == 200


def test_refused_attestations_store_nothing(api: Api) -> None:
    device = api.ids["device"]
    before = api.attestation_ids()
    refusals: list[tuple[dict[str, Any], int, str]] = [
        (attestation(subject_id=device, requirement_id="nope"), 422, "FRAMEWORK/ID"),
        (attestation(subject_id=device, requirement_id="etsi-en-303-645/99.9"), 404,
         "no catalogue"),
        (attestation(subject_id=device, statement="  ok  "), 422, "at least 10"),
        (attestation(subject_id=device, expires_at=later(3 * 365 + 2)), 422, "at most"),
        (attestation(subject_id=device, expires_at=later(-1)), 422, "not in the future"),
        (attestation(subject_id=device, status="MAYBE"), 422, "PASS, FAIL"),
        (attestation(subject_id=device, method="guess"), 422, "method"),
        (attestation(subject_id=device, subject_type="planet"), 422, "subject"),
        (attestation(), 422, "give the device"),
        (attestation(subject_id=999999), 404, "not found"),
        (attestation(subject_id=api.ids["other_device"]), 404, "not found"),
        (attestation(subject_id=device, colour="red"), 422, "colour: unknown field"),
        (attestation(subject_id=str(device)), 422, "subject_id"),
        (attestation(subject_id=device, expires_at="next week"), 422, "expires_at"),
    ]
    for body, status, words in refusals:
        err = error(api.post("/attestations", body), status)
        assert words.lower() in err["message"].lower(), (body, err)
    # The same rules over multipart, and a bad file refuses the whole attestation.
    for fields, files, status, words in [
        (attestation(subject_id=device, statement="short"), [("a.pdf", PDF, "application/pdf")],
         422, "at least 10"),
        (attestation(subject_id=device), [("empty.txt", b"", "text/plain")], 422, "empty"),
        (attestation(subject_id=device, expires_at=later(4000)),
         [("a.pdf", PDF, "application/pdf")], 422, "at most"),
        (attestation(subject_id=device, extra="x"), [("a.pdf", PDF, "application/pdf")],
         422, "extra: unknown field"),
    ]:
        err = error(multipart(api, fields, files), status)
        assert words in err["message"], (fields, err)
    r = api.client.post("/api/v1/attestations", content=b'{"status": ', headers={
        **api.admin, "Content-Type": "application/json"})
    assert error(r, 400)["code"] == "malformed_json"
    r = api.client.post("/api/v1/attestations", content=b"requirement_id=x", headers={
        **api.admin, "Content-Type": "text/plain"})
    error(r, 415)
    assert api.attestation_ids() == before


# ----------------------------------------------------------------------- waivers
def test_waivers_need_another_approver(api: Api) -> None:
    before = api.get("/waivers").json()["items"]
    base = {"check_id": "telnet-open", "subject_type": "device",
            "subject_id": api.ids["device"], "expires_at": later(90),
            "justification": "Telnet needed until the firmware update in Q3."}
    err = error(api.post("/waivers", base | {"approver": ADMIN.upper()}), 422)
    assert "cannot be the person who requests it" in err["message"]
    error(api.post("/waivers", base | {"approver": "ciso@northshire.example",
                                       "expires_at": later(400)}), 422)
    error(api.post("/waivers", base | {"approver": "ciso@northshire.example",
                                       "check_id": "no-such-check"}), 422)
    error(api.post("/waivers", base | {"approver": "ciso@northshire.example",
                                       "requirement_id": REQ}), 422)
    assert api.get("/waivers").json()["items"] == before

    w = api.created(api.post("/waivers", base | {"approver": "ciso@northshire.example"}))
    assert (w["target"], w["requested_by"], w["active"]) == ("check:telnet-open", ADMIN, True)
    assert [x["id"] for x in api.get("/waivers", headers=api.viewer).json()["items"]] == \
        [w["id"]] + [x["id"] for x in before]
    r = api.post(f"/waivers/{w['id']}/revoke", {"reason": "firmware fixed"})
    assert r.status_code == 200 and r.json()["active"] is False
    assert w["id"] not in {x["id"] for x in api.get("/waivers", params={"active": "true"})
                           .json()["items"]}


# ---------------------------------------------------------- roles and tenants
def test_readers_may_not_write_and_tenants_see_only_their_own(api: Api) -> None:
    ids = api.ids
    theirs = api.created(multipart(api, attestation(subject_id=ids["other_device"]),
                                   [("s.pdf", PDF, "application/pdf")], headers=api.other))
    their_file = theirs["files"][0]["id"]
    their_waiver = api.created(api.post("/waivers", {
        "requirement_id": REQ, "subject_type": "tenant", "approver": "boss@southshire.example",
        "justification": "Estate-wide exception, see risk register 7.", "expires_at": later(30)},
        headers=api.other))

    v = api.viewer
    for method, path, body in [
        ("post", "/attestations", attestation(subject_id=ids["device"])),
        ("post", "/waivers", {"check_id": "telnet-open", "subject_type": "tenant",
                              "approver": "x@y.example", "expires_at": later(9),
                              "justification": "long enough text here"}),
        ("post", "/assessments", {"device_id": ids["device"], "probe": False}),
        ("put", f"/models/{ids['model']}/service-profile", {"services": ["tcp/443"]}),
        ("put", "/settings/assess", {"update_max_age_days": 30}),
    ]:
        assert error(getattr(api, method)(path, body, headers=v), 403)["code"] == "forbidden"
    error(multipart(api, attestation(subject_id=ids["device"]),
                    [("a.pdf", PDF, "application/pdf")], headers=v), 403)
    error(api.put("/settings/assess", {"update_max_age_days": 30}, headers=api.engineer), 403)

    # Readers read; nothing of the other tenant exists for them.
    assert theirs["id"] not in api.attestation_ids(headers=v) + api.attestation_ids()
    assert their_waiver["id"] not in {w["id"] for w in api.get("/waivers", headers=v)
                                      .json()["items"]}
    assert api.get("/attestations", params={"requirement_id": REQ}, headers=api.other) \
        .json()["items"][0]["subject_id"] == ids["other_device"]
    for path in (f"/attestations/{theirs['id']}", f"/evidence/{their_file}",
                 f"/devices/{ids['other_device']}/compliance",
                 f"/devices/{ids['other_device']}/risk"):
        error(api.get(path, headers=v), 404)
        error(api.get(path), 404)
    error(api.post(f"/attestations/{theirs['id']}/revoke", {"reason": "mine now"}), 404)
    error(api.post(f"/waivers/{their_waiver['id']}/revoke", {"reason": "mine now"}), 404)
    error(api.put(f"/models/{ids['other_model']}/service-profile", {"services": None}), 404)
    assert api.attestation_ids(headers=api.other) == [theirs["id"]]
    assert api.get(f"/attestations/{theirs['id']}", headers=api.other).status_code == 200


# ------------------------------------------------------------------- assessments
def test_assessment_from_stored_observations_returns_findings(api: Api) -> None:
    device = api.ids["device"]
    [ip] = api.get(f"/devices/{device}").json()["ip_addresses"]
    r = api.post("/assessments", {"device_id": device, "probe": False},
                 params={"wait": "true"}, headers=api.engineer)
    assert r.status_code == 200, r.text
    run = r.json()
    assert set(run) == {"id", "scan_id", "counts", "devices", "unregistered", "warnings",
                        "findings"}
    assert (run["scan_id"], run["devices"], run["unregistered"]) == (None, 1, 0)
    assert run["findings"] and sum(run["counts"].values()) == len(run["findings"])
    for f in run["findings"]:
        assert set(f) == FINDING_KEYS, set(f) ^ FINDING_KEYS
        assert f["device_id"] == device and f["ip"] == ip
        assert f["status"] in {"PASS", "FAIL", "MANUAL", "NOT_APPLICABLE", "ERROR"}
    assert {f["check_id"] for f in run["findings"]} >= {"telnet-open", "sbom-missing"}

    listed = api.get("/assessments", headers=api.viewer).json()["items"][0]
    assert (listed["id"], listed["status"], listed["actor"]) == \
        (run["id"], "done", "engineer@northshire.example")
    shown = api.get(f"/assessments/{run['id']}").json()
    assert shown["run"]["findings"] == run["findings"]
    compliance = api.get(f"/devices/{device}/compliance").json()
    assert {x["check_id"] for x in compliance["results"]} == \
        {f["check_id"] for f in run["findings"]}
    assert sum(compliance["counts"].values()) == len(compliance["requirements"])

    # In the background: 202, then the run is there to read.
    r = api.post("/assessments", {"device_id": device, "probe": False,
                                  "frameworks": ["owasp-iot-2018"]})
    assert r.status_code == 202, r.text
    started = r.json()
    assert r.headers["location"] == f"/api/v1/assessments/{started['id']}"
    jobs: AssessmentJobs = api.client.app.state.assessment_jobs  # type: ignore[attr-defined]
    assert jobs.run_of(api.env.admin.tenant.id or 0, started["id"], settle=60) is not None
    later_run = api.get(f"/assessments/{started['id']}").json()
    assert later_run["status"] == "done" and later_run["options"]["frameworks"] == \
        ["owasp-iot-2018"]
    assert all(req.startswith("owasp-iot-2018/") for f in later_run["run"]["findings"]
               for req in f["requirements"])

    # Refused before anything is recorded.
    runs = api.get("/assessments").json()["items"]
    for body, status in [({"device_id": device, "probe": False, "frameworks": ["nope"]}, 422),
                         ({"probe": False}, 422), ({"device_id": 999999, "probe": False}, 404),
                         ({"device_id": api.ids["other_device"], "probe": False}, 404),
                         ({"targets": ["127.76.0.10"], "probe": False}, 422),
                         ({"device_id": device, "profile": "ludicrous"}, 422)]:
        error(api.post("/assessments", body, params={"wait": "true"}), status)
    assert api.get("/assessments").json()["items"] == runs
    assert not {run["id"], started["id"]} & {
        x["id"] for x in api.get("/assessments", headers=api.other).json()["items"]}
    error(api.get(f"/assessments/{run['id']}", headers=api.other), 404)


def test_assessment_jobs_refuse_more_than_they_may_run() -> None:
    jobs = AssessmentJobs(max_running=1)
    release = threading.Event()

    def slow(on_start: Any) -> AssessmentRun:
        on_start(7)
        release.wait()
        return AssessmentRun(7, None, [], {}, 0, 0)

    try:
        job = jobs.start(1, slow)
        assert job.run_id == 7 and jobs.running == 1
        with pytest.raises(HTTPException) as refused:
            jobs.start(1, slow)
        assert refused.value.status_code == 429
        assert refused.value.headers == {"Retry-After": "30"}
    finally:
        release.set()
        jobs.close()
    assert jobs.run_of(1, 7) is not None and jobs.running == 0


# ---------------------------------------------------------- catalogues and risk
def test_catalogues_list_frameworks_requirements_and_checks(api: Api) -> None:
    frameworks = {f["id"]: f for f in api.get("/compliance/frameworks").json()["items"]}
    assert {"etsi-en-303-645", "owasp-iot-2018", "psti", "ncsp-iot"} <= set(frameworks)
    etsi = frameworks["etsi-en-303-645"]
    assert 0 < etsi["automated"] < etsi["requirements"]
    reqs = api.get("/compliance/frameworks/etsi-en-303-645/requirements").json()["items"]
    assert len(reqs) == etsi["requirements"]
    assert sum(1 for r in reqs if r["checks"]) == etsi["automated"]
    assert {"id", "local_id", "title", "reference", "group", "mandatory", "applies_to",
            "checks", "framework"} == set(reqs[0])
    assert error(api.get("/compliance/frameworks/nope/requirements"), 404)["code"] == \
        "not_found"
    checks = {c["id"]: c for c in api.get("/compliance/checks",
                                          headers=api.viewer).json()["items"]}
    telnet = checks["telnet-open"]
    assert telnet["severity"] in {"critical", "high"} and telnet["remediation"]
    assert telnet["requirements"] and "services" in telnet["needs"]


def test_risk_factors_add_up_to_the_scores(api: Api) -> None:
    device = api.ids["device"]
    api.post("/assessments", {"device_id": device, "probe": False}, params={"wait": "true"})
    r = api.get(f"/devices/{device}/risk", headers=api.viewer)
    assert r.status_code == 200, r.text
    risk = r.json()
    assert risk["device_id"] == device and risk["device_type"] == "cctv_camera"
    assert risk["residual_level"] in {"low", "medium", "high", "critical"}
    factors = risk["factors"]
    assert {"name", "value", "weight", "points", "evidence", "stage"} == set(factors[0])
    assert sum(f["points"] for f in factors) == pytest.approx(risk["residual"], abs=0.011)
    assert sum(f["points"] for f in factors if f["stage"] == "inherent") == \
        pytest.approx(risk["inherent"], abs=0.011)
    assert any(f["name"] == "network zone" and f["value"] == "iot-cctv" for f in factors)
    assert risk["threats"] and {t["status"] for t in risk["threats"]} <= \
        {"mitigated", "exposed", "unknown"}
    inputs = risk["inputs"]
    assert (inputs["zone"], inputs["criticality"]) == ("iot-cctv", "high")
    assert sum(inputs["checks"].values()) > 0 and inputs["open_services"] is None
    error(api.get("/devices/999999/risk"), 404)


# ----------------------------------------------------- service profile, settings
def test_service_profile_and_assessment_settings(api: Api) -> None:
    model = api.ids["model"]
    r = api.put(f"/models/{model}/service-profile", {"services": ["tcp/443", "udp/161"]},
                headers=api.engineer)
    assert r.status_code == 200, r.text
    assert r.json()["model_id"] == model and set(r.json()["approved_services"]) == \
        {"tcp/443", "udp/161"}
    r = api.put(f"/models/{model}/service-profile", {"services": None})
    assert r.status_code == 200 and r.json()["approved_services"] is None
    error(api.put(f"/models/{model}/service-profile", {}), 422)
    error(api.put(f"/models/{model}/service-profile", {"services": ["port 80"]}), 422)

    r = api.put("/settings/assess", {"allow_segments": ["cams"], "update_max_age_days": 100})
    assert r.status_code == 200, r.text
    assert r.json() == {"credential_test_segments": ["cams"], "update_max_age_days": 100,
                        "cert_expiry_warning_days": 30}
    r = api.put("/settings/assess", {"deny_segments": ["cams"]})
    assert r.json()["credential_test_segments"] == [] and \
        r.json()["update_max_age_days"] == 100
    error(api.put("/settings/assess", {"allow_segments": ["S-cams"]}), 404)
    error(api.put("/settings/assess", {"update_max_age_days": 0}), 422)


# ----------------------------------------------------------------------- reports
def test_report_downloads_in_each_format(api: Api) -> None:
    device = api.ids["device"]
    api.post("/assessments", {"device_id": device, "probe": False}, params={"wait": "true"})
    expected = {"json": ("application/json", ".json"), "csv": ("text/csv", ".csv"),
                "html": ("text/html", ".html"), "oscal": ("application/oscal+json",
                                                          ".oscal.json")}
    bodies = {}
    for fmt, (media, ext) in expected.items():
        r = api.get("/reports/compliance", headers=api.viewer, params={
            "framework": "etsi-en-303-645", "format": fmt, "entries": 5})
        assert r.status_code == 200, (fmt, r.text)
        assert r.headers["content-type"].split(";")[0] == media, fmt
        disposition = r.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="fleetwarden-compliance-')
        assert disposition.endswith(f'{ext}"'), disposition
        bodies[fmt] = r
    doc = bodies["json"].json()
    assert doc["format"] == "fleetwarden-compliance-report" and doc["device_count"] >= 1
    assert [f["id"] for f in doc["frameworks"]] == ["etsi-en-303-645"]
    assert list(csv.reader(io.StringIO(bodies["csv"].text)))[0]
    assert "<html" in bodies["html"].text.lower()
    assert bodies["oscal"].json()

    other = api.get("/reports/compliance", headers=api.other).json()
    assert other["tenant"] == "Southshire" and other["device_count"] == 1  # only S-cam-0
    error(api.get("/reports/compliance", params={"framework": "nope"}), 422)
    error(api.get("/reports/compliance", params={"site": "Nowhere"}), 404)
    error(api.get("/reports/compliance", params={"format": "xml"}), 422)
    error(api.get("/reports/compliance", params={"entries": -1}), 422)

    r = api.get("/reports/summary", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    summary = api.get("/reports/summary").json()
    assert summary["format"] == "fleetwarden-summary-report"
    assert {m["key"] for m in summary["measures"]} >= {"devices_total", "checks_failed"}
    error(api.get("/reports/summary", params={"format": "oscal"}), 422)
