"""The discovery endpoints of the REST API against real lab devices on loopback and a
real database: scans (inline and in the background), scope and input errors, the
unregistered queue (approve, merge, rogue), overrides, alerts, schedules, roles and
tenant isolation."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.domain.inventory import ScanRecord
from fleetwarden.domain.lab import LabDevice, Service
from fleetwarden.domain.records import RecordKind
from fleetwarden.entrypoints.api import create_app
from fleetwarden.entrypoints.api.discovery import ScanJobs
from fleetwarden.errors import ScanError
from fleetwarden.services import accounts, registry
from tests.integration.helpers import V1, bearer, make_env
from tests.integration.helpers import Api as BaseApi
from tests.integration.lab.harness import make_device, running_lab

#: The scan scope of tenant A (its segment ``lab``).
SCOPE = "127.76.0.0/14"
# 127.76.x.y: inside SCOPE, never handed out by ``harness.next_ip`` (127.77-79), and
# distinct per xdist worker.
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").lstrip("gw") or 0)
_hosts = itertools.count(2)


def lab_ip() -> str:
    n = next(_hosts)
    return f"127.76.{_worker % 256}.{n % 250 + 2}"


@dataclass
class Api(BaseApi):
    """The shared API client, plus a synchronous scan."""

    def scan(self, *targets: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.post("/discovery/scans", {"targets": list(targets), "udp": True, **body},
                         headers=headers, params={"wait": "true"})


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    env = make_env(database_url)
    registry.create(env.platform, env.admin, RecordKind.SITE, {"name": "HQ"})
    registry.create(env.platform, env.admin, RecordKind.SEGMENT,
                    {"name": "lab", "cidrs": [SCOPE], "site": "HQ"})
    other = accounts.create_tenant(env.platform, "cli:test", "Southshire",
                                   "admin@southshire.example")
    viewer = accounts.add_user(env.platform, env.admin, "viewer@northshire.example", "viewer")
    with TestClient(create_app(env.app)) as client:
        yield Api(env, client, bearer(env.token), bearer(other.token), bearer(viewer.token))
    env.app.engine.dispose()


def camera(serial: str, mac: str, hostname: str, **fields: Any) -> LabDevice:
    return make_device((Service.HTTP, Service.RTSP, Service.SSH, Service.SSDP, Service.UPNP),
                       ip=lab_ip(), serial=serial, mac=mac, hostname=hostname, **fields)


def error(response: Any) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in response.text
    return body["error"]  # type: ignore[no-any-return]


def wait_done(api: Api, location: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = api.client.get(location, headers=api.admin)
        assert r.status_code == 200, r.text
        if r.json()["status"] != "running":
            return r.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "the scan did not finish"
        time.sleep(0.05)


# ----------------------------------------------------------------------- scans
def test_scan_with_wait_returns_the_json_contract(api: Api, tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script>'
    cam = camera("DS-API-0001", "24:48:45:10:00:01", "cam-api-1",
                 persona={"http_server": hostile})
    with running_lab([cam], tmp_path / "lab"):
        r = api.scan(cam.ip)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    report = r.json()
    assert set(report) == {"scan", "hosts", "warnings", "counts"}
    scan = report["scan"]
    assert scan["status"] == "done" and scan["registered"] is True
    assert scan["targets"] == [cam.ip] and scan["actor"] == "admin@northshire.example"
    assert report["counts"]["new"] == 1
    [host] = report["hosts"]
    assert {"ip", "mac", "hostname", "services", "fingerprint", "inventory",
            "sources"} <= set(host)
    assert host["ip"] == cam.ip
    assert {"port", "transport", "service", "product", "version", "banner", "tls"} \
        <= set(host["services"][0])
    assert {s["service"] for s in host["services"]} >= {"http", "rtsp", "ssh"}
    fp = host["fingerprint"]
    assert fp["vendor"] == "Hikvision" and fp["device_type"] == "cctv_camera"
    assert {"vendor", "model", "device_type", "firmware_version", "os", "confidence",
            "evidence"} <= set(fp)
    assert {"attribute", "value", "source", "rule", "certainty"} <= set(fp["evidence"][0])
    inv = host["inventory"]
    assert (inv["status"], inv["device_id"], inv["changes"]) == ("new", None, [])
    # Device-supplied text comes back as a JSON string, byte for byte: inert data.
    [web] = [s for s in host["services"] if s["service"] == "http"]
    assert web["fields"]["http.server"] == hostile and hostile in web["banner"]
    assert json.dumps(hostile)[1:-1] in r.text

    # The scan is listed and shows the report this process still holds.
    listed = api.get("/discovery/scans").json()["items"]
    assert [s["id"] for s in listed] == [scan["id"]]
    detail = api.get(f"/discovery/scans/{scan['id']}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["hosts"] == report["hosts"]
    assert detail.json()["counts"] == report["counts"]
    # A fresh process (no report in memory) still shows the stored summary.
    with TestClient(create_app(api.env.app)) as fresh:
        only = fresh.get(f"{V1}/discovery/scans/{scan['id']}", headers=api.admin).json()
    assert only["hosts"] is None and only["summary"]["new"] == 1
    assert api.get(f"/discovery/scans/{scan['id']}", api.viewer).status_code == 200
    assert error(api.get(f"/discovery/scans/{scan['id']}", api.other))["code"] == "not_found"
    assert api.get("/discovery/scans", api.other).json() == {"items": []}


def test_background_scan_answers_202_then_finishes(api: Api, tmp_path: Path) -> None:
    cam = camera("DS-API-0002", "24:48:45:10:00:02", "cam-api-2")
    with running_lab([cam], tmp_path / "lab"):
        r = api.post("/discovery/scans", {"targets": [cam.ip], "register": False})
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["status"] == "running" and isinstance(body["scan_id"], int)
        location = r.headers["location"]
        assert location == f"{V1}/discovery/scans/{body['scan_id']}"
        done = wait_done(api, location)
    assert done["status"] == "done" and done["error"] is None
    assert done["registered"] is False and done["finished_at"]
    assert [h["inventory"]["status"] for h in done["hosts"]] == ["new"]
    assert done["counts"]["new"] == 1
    # register=false: reported, nothing stored but the scan.
    assert api.get("/discovery/hosts").json() == {"items": [], "next_offset": None}
    assert api.get("/alerts").json()["items"] == []


def test_scope_and_input_errors_are_synchronous(api: Api) -> None:
    for wait in ("true", "false"):
        r = api.post("/discovery/scans", {"targets": ["127.1.2.3"]}, params={"wait": wait})
        assert r.status_code == 403, r.text
        err = error(r)
        assert err["code"] == "forbidden" and "outside the scan scope" in err["message"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"targets": ["not-an-address"]}, 422, "not-an-address"),
        ({"targets": ["127.76.0.1"] * 257}, 422, "targets"),
        ({"targets": ["1" * 65]}, 422, "targets.0"),
        ({"targets": [5]}, 422, "targets.0"),
        ({"targets": ["127.76.0.1"], "ports": "http"}, 422, "ports"),
        ({"targets": ["127.76.0.1"], "profile": "turbo"}, 422, "profile"),
        ({"targets": ["127.76.0.1"], "rate": 0}, 422, "rate"),
        ({"targets": ["127.76.0.1"], "register": "yes"}, 422, "register"),
        ({"targets": ["127.76.0.1"], "colour": "red"}, 422, "colour: unknown field"),
        ({}, 422, "nothing to discover"),
        ({"segment": "nope"}, 404, "segment 'nope'"),
    ]
    for body, status, fragment in cases:
        r = api.post("/discovery/scans", body)
        assert r.status_code == status, (body, r.text)
        assert fragment in error(r)["message"], (body, r.text)
    r = api.post("/discovery/scans", {"targets": ["127.76.0.1"]}, api.viewer)
    assert r.status_code == 403 and error(r)["code"] == "forbidden"
    r = api.post("/discovery/scans", {"targets": ["127.1.2.3"], "allow_outside_scope": True},
                 api.viewer)
    assert r.status_code == 403
    assert api.client.post(f"{V1}/discovery/scans", json={"targets": []}).status_code == 401
    assert api.get("/discovery/scans").json() == {"items": []}  # nothing was recorded


def test_too_many_scans_at_once_is_a_429(api: Api) -> None:
    jobs: ScanJobs = api.client.app.state.scan_jobs  # type: ignore[attr-defined]
    release = threading.Event()
    tenant = api.env.admin.tenant.id or 0

    def blocked(on_start: Any) -> Any:
        on_start(ScanRecord(id=10**9 + jobs.running, tenant_id=tenant, sources=("active",),
                            actor="test", status="running", targets=(), options={},
                            started_at=datetime.now(UTC)))
        release.wait(30)
        raise ScanError("released by the test")

    held = [jobs.start(tenant, blocked) for _ in range(jobs.max_running)]
    try:
        r = api.post("/discovery/scans", {"targets": ["127.1.2.3"]})
        assert r.status_code == 429, r.text
        assert error(r)["code"] == "too_many_requests"
        assert "try again" in error(r)["message"] and r.headers["retry-after"]
    finally:
        release.set()
    for job in held:
        assert job.finished.wait(10)
    # The slots are free again: the scope check answers.
    assert api.post("/discovery/scans", {"targets": ["127.1.2.3"]}).status_code == 403


# ------------------------------------------------------------- queue and hosts
def test_queue_approve_merge_rogue_and_overrides(api: Api, tmp_path: Path) -> None:
    cams = [camera(f"DS-Q-000{i}", f"24:48:45:20:00:0{i}", f"cam-q-{i}") for i in (1, 2, 3)]
    with running_lab(cams, tmp_path / "lab"):
        r = api.scan(*(c.ip for c in cams))
    assert r.status_code == 200, r.text
    by_ip = {h["ip"]: h["inventory"]["host_id"] for h in r.json()["hosts"]}
    a, b, c = (by_ip[cam.ip] for cam in cams)

    queue = api.get("/discovery/hosts", params={"status": "unregistered"}).json()
    assert sorted(h["id"] for h in queue["items"]) == sorted([a, b, c])
    assert queue["next_offset"] is None
    row = next(h for h in queue["items"] if h["id"] == a)
    assert row["vendor"] == "Hikvision" and "554/rtsp" in row["services"]
    page = api.get("/discovery/hosts", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_offset"] == 2
    rest = api.get("/discovery/hosts", params={"limit": 2, "offset": 2}).json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    assert api.get("/discovery/hosts", params={"status": "bogus"}).status_code == 422
    assert api.get("/discovery/hosts", params={"limit": 0}).status_code == 422

    host = api.get(f"/discovery/hosts/{a}").json()
    assert host["status"] == "unregistered" and host["ip"] == cams[0].ip
    assert host["fingerprint"]["vendor"] == "Hikvision" and host["services"]
    assert api.get(f"/discovery/hosts/{a}", api.viewer).status_code == 200
    assert error(api.get("/discovery/hosts/999999"))["code"] == "not_found"
    assert api.get(f"/discovery/hosts/{2**63}").status_code == 422

    # Overrides win over the rules, and can be cleared.
    r = api.put(f"/discovery/hosts/{a}/overrides",
                {"set": {"vendor": "Axis", "model": "Q1615"}})
    assert r.status_code == 200, r.text
    assert r.json()["overrides"] == {"vendor": "Axis", "model": "Q1615"}
    assert r.json()["fingerprint"]["vendor"] == "Axis"
    r = api.put(f"/discovery/hosts/{a}/overrides", {"clear": ["vendor", "model"]})
    assert r.json()["overrides"] == {} and r.json()["fingerprint"]["vendor"] == "Hikvision"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"set": {"colour": "red"}}, "colour"), ({"set": {"vendor": "x" * 129}}, "set.vendor"),
        ({"set": {"vendor": ""}}, "set.vendor"), ({"clear": "vendor"}, "clear"),
        ({"sett": {}}, "unknown field")]
    for body, fragment in bad:
        r = api.put(f"/discovery/hosts/{a}/overrides", body)
        assert r.status_code == 422 and fragment in error(r)["message"], (body, r.text)

    # Roles and tenants.
    writes: list[tuple[str, dict[str, Any]]] = [
        (f"/discovery/hosts/{a}/approve", {}),
        (f"/discovery/hosts/{a}/rogue", {"reason": "x"}),
        (f"/discovery/hosts/{a}/merge", {"device_id": 1})]
    for path, body in writes:
        assert error(api.post(path, body, api.viewer))["code"] == "forbidden", path
        assert error(api.post(path, body, api.other))["code"] == "not_found", path
    assert error(api.put(f"/discovery/hosts/{a}/overrides", {"set": {"os": "x"}},
                         api.viewer))["code"] == "forbidden"
    assert error(api.put(f"/discovery/hosts/{a}/overrides", {"set": {"os": "x"}},
                         api.other))["code"] == "not_found"
    assert error(api.get(f"/discovery/hosts/{a}", api.other))["code"] == "not_found"
    assert api.get("/discovery/hosts", api.other).json()["items"] == []

    # Approve: a new device from what was seen, corrected by the body.
    r = api.post(f"/discovery/hosts/{a}/approve",
                 {"name": "cam-front", "model": "Hikvision/DS-2CD2143G2-I", "site": "HQ",
                  "criticality": "high", "note": "checked on site"})
    assert r.status_code == 201, r.text
    dev = r.json()
    assert r.headers["location"] == f"{V1}/devices/{dev['id']}"
    assert (dev["name"], dev["vendor"], dev["site"], dev["segment"], dev["criticality"],
            dev["lifecycle_state"]) == ("cam-front", "Hikvision", "HQ", "lab", "high",
                                        "in_service")
    assert dev["ip_addresses"] == [cams[0].ip] and dev["serial"] == "DS-Q-0001"
    assert error(api.post(f"/discovery/hosts/{a}/approve", {}))["code"] == "conflict"
    seen = api.get(f"/devices/{dev['id']}/discovery").json()
    assert (seen["id"], seen["status"], seen["device_id"], seen["note"]) == \
        (a, "registered", dev["id"], "checked on site")
    assert api.post(f"/discovery/hosts/{b}/approve", {"model": "no-slash"}).status_code == 422
    assert api.post(f"/discovery/hosts/{b}/approve",
                    {"device_type": "toaster"}).status_code == 422

    # Merge: the host is a device registered by hand.
    existing = api.post("/devices", {"name": "cam-side", "device_type": "cctv_camera"}).json()
    assert error(api.get(f"/devices/{existing['id']}/discovery"))["code"] == "not_found"
    assert error(api.post(f"/discovery/hosts/{b}/merge",
                          {"device_id": 999999}))["code"] == "not_found"
    r = api.post(f"/discovery/hosts/{b}/merge", {"device_id": existing["id"], "note": "same"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == existing["id"] and r.json()["ip_addresses"] == [cams[1].ip]
    assert api.get(f"/devices/{existing['id']}/discovery").json()["id"] == b

    # Rogue: stays out of the register.
    assert api.post(f"/discovery/hosts/{c}/rogue", {"reason": ""}).status_code == 422
    r = api.post(f"/discovery/hosts/{c}/rogue", {"reason": "not ours"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["note"], r.json()["device_id"]) == \
        ("rogue", "not ours", None)

    assert api.get("/discovery/hosts", params={"status": "unregistered"}).json()["items"] == []
    statuses = {h["id"]: h["status"] for h in api.get("/discovery/hosts").json()["items"]}
    assert statuses == {a: "registered", b: "registered", c: "rogue"}
    assert error(api.get("/devices/999999/discovery"))["code"] == "not_found"
    assert error(api.get(f"/devices/{dev['id']}/discovery", api.other))["code"] == "not_found"
    actions = [e["action"] for e in api.get("/audit/events", params={"limit": 1000})
               .json()["items"]]
    for action in ("discovery.override", "discovery.host.approve", "discovery.host.merge",
                   "discovery.host.rogue"):
        assert action in actions, action
    assert api.get("/audit/verify").json()["ok"] is True


# ----------------------------------------------------------------------- alerts
def test_alerts_list_filter_page_and_acknowledge(api: Api, tmp_path: Path) -> None:
    cams = [camera(f"DS-AL-000{i}", f"24:48:45:30:00:0{i}", f"cam-al-{i}") for i in (1, 2)]
    with running_lab(cams, tmp_path / "lab"):
        assert api.scan(*(c.ip for c in cams)).status_code == 200
    items = api.get("/alerts").json()
    assert [a["kind"] for a in items["items"]] == ["device.new", "device.new"]
    assert items["next_before_id"] is None
    newest, oldest = items["items"]
    assert newest["id"] > oldest["id"] and newest["severity"] == "warning"
    assert newest["acknowledged_at"] is None and newest["details"]["ip"] in (cams[0].ip,
                                                                             cams[1].ip)
    first = api.get("/alerts", params={"limit": 1}).json()
    assert [a["id"] for a in first["items"]] == [newest["id"]]
    assert first["next_before_id"] == newest["id"]
    second = api.get("/alerts", params={"limit": 1, "before_id": newest["id"]}).json()
    assert [a["id"] for a in second["items"]] == [oldest["id"]]
    assert second["next_before_id"] is None

    assert len(api.get("/alerts", params={"kind": "new"}).json()["items"]) == 2
    assert api.get("/alerts", params={"kind": ["changed", "missing"]}).json()["items"] == []
    r = api.get("/alerts", params={"kind": "bogus"})
    assert r.status_code == 422 and "bogus" in error(r)["message"]
    future = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert api.get("/alerts", params={"since": future}).json()["items"] == []
    assert len(api.get("/alerts", params={"since": past}).json()["items"]) == 2
    assert api.get("/alerts", params={"since": "yesterday"}).status_code == 422
    assert api.get("/alerts", params={"device_id": 1}).json()["items"] == []

    assert error(api.post(f"/alerts/{newest['id']}/acknowledge",
                          headers=api.viewer))["code"] == "forbidden"
    assert error(api.post(f"/alerts/{newest['id']}/acknowledge",
                          headers=api.other))["code"] == "not_found"
    r = api.post(f"/alerts/{newest['id']}/acknowledge")
    assert r.status_code == 200, r.text
    acked = r.json()
    assert acked["acknowledged_by"] == "admin@northshire.example" and acked["acknowledged_at"]
    again = api.post(f"/alerts/{newest['id']}/acknowledge").json()
    assert again["acknowledged_at"] == acked["acknowledged_at"]
    left = api.get("/alerts", params={"unacknowledged": "true"}, headers=api.viewer).json()
    assert [a["id"] for a in left["items"]] == [oldest["id"]]
    assert error(api.post("/alerts/999999/acknowledge"))["code"] == "not_found"
    assert api.get("/alerts", api.other).json() == {"items": [], "next_before_id": None}


# -------------------------------------------------------------------- schedules
def test_schedules_crud(api: Api) -> None:
    r = api.post("/discovery/schedules", {"segment": "lab", "every": "1h", "ports": "22,80",
                                          "profile": "gentle"})
    assert r.status_code == 201, r.text
    sched = r.json()
    assert (sched["segment"], sched["every_seconds"], sched["created_by"]) == \
        ("lab", 3600, "admin@northshire.example")
    assert sched["options"] == {"ports": "22,80", "udp": False, "profile": "gentle",
                                "rate": None}
    assert api.get("/discovery/schedules", api.viewer).json()["items"] == [sched]
    assert error(api.post("/discovery/schedules", {"segment": "lab", "every": "2h"})
                 )["code"] == "conflict"
    for body, status, fragment in (
            ({"segment": "lab", "every": "5s"}, 422, "every '5s'"),
            ({"segment": "lab", "every": "soon"}, 422, "every 'soon'"),
            ({"segment": "lab", "every": "400d"}, 422, "366 days"),
            ({"segment": "lab"}, 422, "every: required"),
            ({"segment": "lab", "every": "1h", "profile": "turbo"}, 422, "profile"),
            ({"segment": "nope", "every": "1h"}, 404, "nope")):
        r = api.post("/discovery/schedules", body)
        assert r.status_code == status and fragment in error(r)["message"], (body, r.text)
    assert error(api.post("/discovery/schedules", {"segment": "lab", "every": "1h"},
                          api.viewer))["code"] == "forbidden"
    assert api.get("/discovery/schedules", api.other).json() == {"items": []}
    assert error(api.delete(f"/discovery/schedules/{sched['id']}", api.other)
                 )["code"] == "not_found"
    assert error(api.delete(f"/discovery/schedules/{sched['id']}", api.viewer)
                 )["code"] == "forbidden"
    r = api.delete(f"/discovery/schedules/{sched['id']}")
    assert r.status_code == 204 and r.content == b""
    assert error(api.delete(f"/discovery/schedules/{sched['id']}"))["code"] == "not_found"
    assert api.get("/discovery/schedules").json() == {"items": []}


# ---------------------------------------------------------------------- openapi
def test_openapi_documents_discovery_and_alerts(api: Api) -> None:
    r = api.client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert {"discovery", "alerts"} <= {t["name"] for t in spec["tags"]}
    paths = spec["paths"]
    for path, method in (("/api/v1/discovery/scans", "post"),
                         ("/api/v1/discovery/scans", "get"),
                         ("/api/v1/discovery/scans/{scan_id}", "get"),
                         ("/api/v1/discovery/hosts", "get"),
                         ("/api/v1/discovery/hosts/{host_id}", "get"),
                         ("/api/v1/discovery/hosts/{host_id}/overrides", "put"),
                         ("/api/v1/discovery/hosts/{host_id}/approve", "post"),
                         ("/api/v1/discovery/hosts/{host_id}/merge", "post"),
                         ("/api/v1/discovery/hosts/{host_id}/rogue", "post"),
                         ("/api/v1/devices/{device_id}/discovery", "get"),
                         ("/api/v1/discovery/schedules", "get"),
                         ("/api/v1/discovery/schedules", "post"),
                         ("/api/v1/discovery/schedules/{schedule_id}", "delete"),
                         ("/api/v1/alerts", "get"),
                         ("/api/v1/alerts/{alert_id}/acknowledge", "post")):
        op = paths[path][method]
        assert op["summary"] and op["tags"], (path, method)
        assert op["security"] == [{"bearer": []}], (path, method)
        assert {"401", "403", "422"} <= set(op["responses"]), (path, method)
    scan_post = paths["/api/v1/discovery/scans"]["post"]["responses"]
    assert {"200", "202", "404", "429"} <= set(scan_post)
    schemas = spec["components"]["schemas"]
    assert "register" in schemas["ScanIn"]["properties"]
    assert "HostReportOut" in schemas and "AlertPage" in schemas
