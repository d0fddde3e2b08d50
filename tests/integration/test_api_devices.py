"""The device endpoints of the REST API on real SQLite and PostgreSQL: register, list
(filters, sorting, keyset cursors), edit, lifecycle, delete, history, lookup, bulk
import, change requests, tenant isolation, and the audit chain after it all."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.entrypoints.api import create_app
from fleetwarden.services import accounts
from tests.integration.helpers import V1, Api, bearer, make_env


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    env = make_env(database_url)
    other = accounts.create_tenant(env.platform, "cli:test", "Southshire",
                                   "admin@southshire.example")
    viewer = accounts.add_user(env.platform, env.admin, "viewer@northshire.example", "viewer")
    with TestClient(create_app(env.app)) as client:
        a = Api(env, client, bearer(env.token), bearer(other.token), bearer(viewer.token))
        for site in ("HQ", "Depot"):
            assert a.post("/sites", {"name": site}).status_code == 201
        assert a.post("/segments", {"name": "hq-cctv", "site": "HQ", "zone": "iot-cctv",
                                    "cidrs": ["127.20.1.0/24"]}).status_code == 201
        yield a
    env.app.engine.dispose()


CAM = {"name": "hq-cam-1", "device_type": "cctv_camera", "vendor": "Axis", "model": "P3245",
       "serial": "AX-1", "mac_addresses": ["AA-BB-CC-00-00-01"],
       "ip_addresses": ["127.20.1.10"], "site": "HQ", "segment": "hq-cctv",
       "owner": "iao.cctv@northshire.example", "criticality": "high",
       "last_seen": "2026-01-02T03:04:05Z", "tags": ["perimeter"]}


def error(response: Any) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]  # type: ignore[no-any-return]


def test_register_show_edit_lookup_history_and_delete(api: Api) -> None:
    r = api.post("/devices", CAM)
    assert r.status_code == 201, r.text
    dev = r.json()
    assert r.headers["location"] == f"{V1}/devices/{dev['id']}"
    assert dev["mac_addresses"] == ["aa:bb:cc:00:00:01"]
    assert (dev["tenant"], dev["site"], dev["segment"], dev["vendor"], dev["lifecycle_state"]) \
        == ("Northshire", "HQ", "hq-cctv", "Axis", "planned")
    assert dev["site_id"] and dev["model_id"] and dev["ever_in_service"] is False
    assert dev["last_seen"] == "2026-01-02T03:04:05Z"
    path = f"/devices/{dev['id']}"
    assert api.get(path).json() == dev
    assert api.get(path, api.viewer).status_code == 200

    r = api.patch(path, {"firmware_version": "11.2", "owner": None, "tags": ["a", "b"]},
                  params={"reason": "firmware upgrade"})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["firmware_version"], edited["owner"], edited["tags"]) == ("11.2", None,
                                                                            ["a", "b"])
    assert edited["serial"] == "AX-1" and edited["site"] == "HQ"  # untouched fields kept

    for kind, value in (("serial", "AX-1"), ("mac", "aabb.cc00.0001"), ("ip", "127.20.1.10")):
        r = api.get("/devices/lookup", params={"kind": kind, "value": value})
        assert r.status_code == 200 and [d["id"] for d in r.json()["items"]] == [dev["id"]]
    assert api.get("/devices/lookup", params={"kind": "serial", "value": "nope"}).json() \
        == {"items": []}
    assert api.get("/devices/lookup", params={"kind": "colour", "value": "x"}).status_code \
        == 422
    assert api.get("/devices/lookup", params={"kind": "mac", "value": "zz"}).status_code == 422

    history = api.get(f"{path}/history").json()["items"]
    assert [e["action"] for e in history] == ["device.create", "device.update"]
    assert history[1]["reason"] == "firmware upgrade"
    assert history[1]["after"]["firmware_version"] == "11.2"

    assert api.delete(path).status_code == 422  # a reason is required
    r = api.delete(path, params={"reason": "ordered twice"})
    assert r.status_code == 204 and r.content == b""
    assert error(api.get(path))["code"] == "not_found"
    assert api.post("/devices", CAM).status_code == 201  # its identifiers are free again


def test_bad_input_is_refused_and_changes_nothing(api: Api) -> None:
    dev = api.post("/devices", CAM).json()
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        (CAM | {"name": "dup", "mac_addresses": []}, 409, "conflict", "serial AX-1"),
        (CAM | {"name": "dup2", "serial": "AX-2", "mac_addresses": ["aa:bb:cc:00:00:01"]},
         409, "conflict", "mac aa:bb:cc:00:00:01"),
        (CAM | {"serial": "AX-3", "mac_addresses": ["zz:zz"]}, 422, "invalid_input",
         "mac_addresses"),
        (CAM | {"serial": "AX-4", "mac_addresses": [], "ip_addresses": ["300.1.1.1"]}, 422,
         "invalid_input", "ip_addresses"),
        (CAM | {"serial": "AX-5", "mac_addresses": "zz"}, 422, "invalid_input",
         "mac_addresses"),
        (CAM | {"name": 5}, 422, "invalid_input", "name"),
        (CAM | {"colour": "red"}, 422, "invalid_input", "colour: unknown field"),
        (CAM | {"device_type": "toaster"}, 422, "invalid_input", "device_type"),
        (CAM | {"serial": "AX-6", "mac_addresses": [], "site": "Mars"}, 422, "invalid_input",
         "site"),
        ({"device_type": "cctv_camera"}, 422, "invalid_input", "name: required"),
    ]
    for body, status, code, fragment in cases:
        r = api.post("/devices", body)
        assert r.status_code == status, (body, r.text)
        err = error(r)
        assert err["code"] == code and fragment in err["message"], (body, err)
        assert "Traceback" not in r.text
    r = api.patch(f"/devices/{dev['id']}", {"lifecycle_state": "disposed"})
    assert r.status_code == 422 and "lifecycle_state" in error(r)["message"]
    r = api.patch(f"/devices/{dev['id']}", {"name": None})
    assert r.status_code == 422 and error(r)["message"].startswith("name")
    r = api.patch(f"/devices/{dev['id']}", {"ip_addresses": ["not-an-ip"]})
    assert r.status_code == 422
    r = api.post("/devices", headers=api.admin | {"Content-Type": "application/json"},
                 content=b'{"name": "x",')
    assert r.status_code == 400 and error(r)["code"] == "malformed_json"
    r = api.post("/devices", headers=api.admin | {"Content-Type": "text/plain"},
                 content=b"name=x")
    assert r.status_code == 422 and "JSON" in error(r)["message"]
    r = api.post("/devices", headers=api.admin | {"Content-Type": "application/json"},
                 content=b"[1, 2]")
    assert r.status_code == 422
    for bad in ({"limit": 0}, {"limit": 1001}, {"sort": "serial"}, {"state": "lost"},
                {"type": "toaster"}, {"cursor": "not-a-cursor"}, {"site": "Mars"}):
        r = api.get("/devices", params=bad)
        assert r.status_code == 422, (bad, r.text)
        assert error(r)["code"] == "invalid_input"
    assert api.get("/devices/abc").status_code == 422
    assert api.get(f"/devices/{2**62}").status_code == 404
    assert api.get(f"/devices/{2**62 + 1}").status_code == 422
    assert api.post("/changes", {"device_id": 10**30, "reason": "x"}).status_code == 422
    huge = base64.urlsafe_b64encode(b'{"s":"id","d":false,"v":1e400,"i":%d}' % 10**30)
    assert api.get("/devices", params={"cursor": huge.decode()}).status_code == 422
    page = api.get("/devices", params={"include_total": "true"}).json()
    assert page["total"] == 1
    assert api.get(f"/devices/{dev['id']}").json() == dev


def _seed(api: Api, n: int) -> None:
    rows = [
        {"name": f"dev-{i:03d}", "device_type": "cctv_camera" if i % 3 else "door_lock",
         "serial": f"SN-{i:03d}", "site": "HQ" if i % 2 else "Depot",
         "lifecycle_state": "in_service" if i % 4 == 0 else "planned",
         "last_seen": f"2026-01-{1 + (i * 7) % 28:02d}T00:00:00Z"}
        for i in range(n)
    ]
    r = api.post("/devices/import", rows)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == n and r.json()["committed"] is True


def _walk(api: Api, params: dict[str, Any]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        r = api.get("/devices", params=params | ({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        page = r.json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination does not end")


def test_pagination_filters_and_sorting(api: Api) -> None:
    _seed(api, 120)
    everything = _walk(api, {"limit": 25})
    ids = [d["id"] for d in everything]
    assert len(ids) == 120 and ids == sorted(ids) and len(set(ids)) == 120

    first = api.get("/devices", params={"limit": 25, "include_total": "true"}).json()
    assert first["total"] == 120 and len(first["items"]) == 25
    assert api.get("/devices").json()["total"] is None
    assert len(api.get("/devices").json()["items"]) == 50  # the default page size

    by_name_desc = _walk(api, {"limit": 7, "sort": "-name"})
    names = [d["name"] for d in by_name_desc]
    assert names == sorted(names, reverse=True) and len(names) == 120

    by_seen = _walk(api, {"limit": 11, "sort": "last_seen"})
    keys = [(d["last_seen"], d["id"]) for d in by_seen]
    assert keys == sorted(keys) and len({d["id"] for d in by_seen}) == 120
    by_seen_desc = _walk(api, {"limit": 13, "sort": "-last_seen"})
    assert [d["id"] for d in by_seen_desc] == [d["id"] for d in reversed(by_seen)]

    expected = {d["id"] for d in everything
                if d["device_type"] == "cctv_camera" and d["site"] == "HQ"}
    hq = api.get("/sites").json()["items"][0]
    for site in ("HQ", str(hq["id"])):
        cams = _walk(api, {"type": "cctv_camera", "site": site, "limit": 9})
        assert {d["id"] for d in cams} == expected
    r = api.get("/devices", params={"type": "cctv_camera", "site": "HQ",
                                    "include_total": "true", "limit": 1})
    assert r.json()["total"] == len(expected)
    live = _walk(api, {"state": "in_service", "limit": 100})
    assert len(live) == 30 and all(d["lifecycle_state"] == "in_service" for d in live)
    assert [d["name"] for d in _walk(api, {"q": "dev-11"})] == [
        f"dev-{i}" for i in range(110, 120)]
    assert _walk(api, {"segment": "hq-cctv"}) == []

    cursor = api.get("/devices", params={"limit": 5}).json()["next_cursor"]
    r = api.get("/devices", params={"limit": 5, "cursor": cursor, "sort": "-name"})
    assert r.status_code == 422 and "sort" in error(r)["message"]
    r = api.get("/devices", params={"cursor": cursor[:-3] + "zzz"})
    assert r.status_code == 422

    # tenant B sees none of it
    assert api.get("/devices", api.other, params={"include_total": "true"}).json() == {
        "items": [], "next_cursor": None, "total": 0}


def test_paging_by_last_seen_with_devices_never_seen(api: Api) -> None:
    rows = [{"name": f"d{i}", "device_type": "sensor"}
            | ({"last_seen": f"2026-01-0{i}T00:00:00Z"} if i % 2 else {}) for i in range(1, 9)]
    assert api.post("/devices/import", rows).status_code == 200
    for sort in ("last_seen", "-last_seen"):
        assert len({d["id"] for d in _walk(api, {"limit": 3, "sort": sort})}) == 8


def test_lifecycle_over_the_api(api: Api) -> None:
    dev = api.post("/devices", CAM).json()
    path = f"/devices/{dev['id']}"
    r = api.post(f"{path}/transition", {"state": "in_service", "reason": "skip ahead"})
    assert r.status_code == 409
    err = error(r)
    assert err["code"] == "illegal_transition"
    assert "cannot go from planned to in_service" in err["message"]
    assert api.get(path).json() == dev  # nothing changed
    assert [e["action"] for e in api.get(f"{path}/history").json()["items"]] == [
        "device.create"]
    assert api.post(f"{path}/transition", {"state": "procured"}).status_code == 422
    assert api.post(f"{path}/transition", {"state": "lost", "reason": "x"}).status_code == 422

    for state in ("procured", "commissioning", "in_service"):
        r = api.post(f"{path}/transition", {"state": state, "reason": f"to {state}"})
        assert r.status_code == 200, r.text
    assert r.json()["lifecycle_state"] == "in_service" and r.json()["ever_in_service"]

    r = api.delete(path, params={"reason": "tidy up"})
    assert r.status_code == 409 and "ever in service" in error(r)["message"]
    assert api.get(path).status_code == 200

    # change control: an approved request from someone else, used once
    accounts.set_change_approval(api.env.platform, api.env.admin, True)
    api.client.app.state.token_cache.clear()  # tenant settings ride on the cached principal
    r = api.post(f"{path}/transition", {"state": "maintenance", "reason": "firmware"})
    assert r.status_code == 409 and error(r)["code"] == "approval_required"
    r = api.patch(path, {"firmware_version": "12"})
    assert r.status_code == 409 and error(r)["code"] == "approval_required"
    r = api.post("/changes", {"device_id": dev["id"], "reason": "firmware", "reference": "CAB-1"})
    assert r.status_code == 201, r.text
    cr = r.json()
    assert (cr["status"], cr["requester"]) == ("pending", "admin@northshire.example")
    r = api.post(f"/changes/{cr['id']}/approve", {"reason": "ok"})
    assert r.status_code == 403 and "own change request" in error(r)["message"]
    assert api.post(f"/changes/{cr['id']}/approve", {"reason": "ok"},
                    api.viewer).status_code == 403
    cab = accounts.add_user(api.env.platform, api.env.admin, "cab@northshire.example", "admin")
    r = api.post(f"/changes/{cr['id']}/approve", {"reason": "CAB approved"}, bearer(cab.token))
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["approver"] == "cab@northshire.example"
    r = api.post(f"/changes/{cr['id']}/reject", {"reason": "too late"}, bearer(cab.token))
    assert r.status_code == 409
    r = api.post(f"{path}/transition", {"state": "maintenance", "reason": "firmware",
                                        "change_request": cr["id"]})
    assert r.status_code == 200 and r.json()["lifecycle_state"] == "maintenance"
    listed = api.get("/changes", params={"device_id": dev["id"]}).json()["items"]
    assert [c["status"] for c in listed] == ["used"]
    r2 = api.post("/changes", {"device_id": dev["id"], "reason": "second"}).json()
    r = api.post(f"/changes/{r2['id']}/reject", {"reason": "no"}, bearer(cab.token))
    assert r.json()["status"] == "rejected"
    assert api.post("/changes", {"device_id": 999999, "reason": "x"}).status_code == 404
    assert api.post("/changes/999999/approve", {"reason": "x"}).status_code == 404


def test_tenant_b_gets_404_for_tenant_a_devices(api: Api) -> None:
    dev = api.post("/devices", CAM).json()
    path = f"/devices/{dev['id']}"
    b = api.other
    cr = api.post("/changes", {"device_id": dev["id"], "reason": "x"}).json()
    calls = [
        api.get(path, b),
        api.patch(path, {"name": "stolen"}, b),
        api.delete(path, b, params={"reason": "x"}),
        api.post(f"{path}/transition", {"state": "procured", "reason": "x"}, b),
        api.get(f"{path}/history", b),
        api.post("/changes", {"device_id": dev["id"], "reason": "x"}, b),
        api.post(f"/changes/{cr['id']}/approve", {"reason": "x"}, b),
    ]
    for r in calls:
        assert r.status_code == 404, r.text
        assert error(r)["code"] == "not_found"
    assert api.get("/devices/lookup", b, params={"kind": "serial", "value": "AX-1"}).json() \
        == {"items": []}
    assert api.get("/changes", b).json() == {"items": []}
    assert api.get(path).json() == dev  # untouched
    # the same identifiers are free in tenant B: tenants are separate registers
    elsewhere = CAM | {"site": None, "segment": None}
    assert api.post("/devices", elsewhere, b).status_code == 201


def test_viewer_reads_but_cannot_write(api: Api) -> None:
    dev = api.post("/devices", CAM).json()
    path = f"/devices/{dev['id']}"
    v = api.viewer
    assert api.get("/devices", v).status_code == 200
    assert api.get(f"{path}/history", v).status_code == 200
    writes = [
        api.post("/devices", CAM | {"serial": "V-1", "mac_addresses": []}, v),
        api.patch(path, {"firmware_version": "1"}, v),
        api.delete(path, v, params={"reason": "x"}),
        api.post(f"{path}/transition", {"state": "procured", "reason": "x"}, v),
        api.post("/devices/import", [CAM | {"serial": "V-2", "mac_addresses": []}], v),
        api.post("/changes", {"device_id": dev["id"], "reason": "x"}, v),
        api.post("/sites", {"name": "Viewer site"}, v),
        api.get("/audit/verify", v),
        api.get("/audit/events", v),
    ]
    for r in writes:
        assert r.status_code == 403, r.text
        assert error(r)["code"] == "forbidden"
    assert api.get(path).json() == dev
    assert api.get("/devices", params={"include_total": "true"}).json()["total"] == 1
    me = api.get("/me", v).json()
    assert me == {"email": "viewer@northshire.example", "role": "viewer",
                  "tenant": "Northshire", "user_id": me["user_id"]}


def test_import_all_or_nothing(api: Api) -> None:
    good = [CAM | {"name": f"cam-{i}", "serial": f"S-{i}", "mac_addresses": [],
                   "ip_addresses": []} for i in range(3)]
    bad = good + [{"name": "broken", "device_type": "cctv_camera",
                   "mac_addresses": ["not-a-mac"]},
                  {"name": "dup", "device_type": "cctv_camera", "serial": "S-0"}]
    r = api.post("/devices/import", bad)
    assert r.status_code == 422
    report = r.json()
    assert report["committed"] is False and report["error_count"] == 2
    assert [e["row"] for e in report["errors"]] == [4, 5]
    assert "MAC" in report["errors"][0]["message"]
    assert "S-0" in report["errors"][1]["message"]
    assert api.get("/devices", params={"include_total": "true"}).json()["total"] == 0

    r = api.post("/devices/import", good, params={"dry_run": "true"})
    assert r.status_code == 200 and r.json()["dry_run"] is True
    assert r.json()["committed"] is False
    assert api.get("/devices", params={"include_total": "true"}).json()["total"] == 0

    csv_body = ("name,device_type,vendor,model,serial,mac_addresses,site,lifecycle_state\n"
                "gate-1,door_lock,Salto,XS4,SA-1,aa:bb:cc:00:10:01;aa:bb:cc:00:10:02,HQ,"
                "in_service\n"
                "gate-2,door_lock,Salto,XS4,SA-2,,Depot,\n")
    r = api.post("/devices/import", headers=api.admin | {"Content-Type": "text/csv"},
                 content=csv_body.encode())
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["models_created"], r.json()["committed"]) == (
        2, 1, True)
    gate = api.get("/devices/lookup", params={"kind": "serial", "value": "SA-1"}).json()
    assert gate["items"][0]["mac_addresses"] == ["aa:bb:cc:00:10:01", "aa:bb:cc:00:10:02"]
    assert gate["items"][0]["lifecycle_state"] == "in_service"

    r = api.post("/devices/import", headers=api.admin | {"Content-Type": "application/x-ndjson"},
                 content=b'{"name": "nd-1", "device_type": "sensor"}\n'
                         b'{"name": "nd-2", "device_type": "sensor"}\n')
    assert r.status_code == 200 and r.json()["created"] == 2

    for content_type, body, status in (
        ("text/csv", b"name,colour\nx,red\n", 422),  # unknown column
        ("text/csv", b"", 422),
        ("text/csv", b"name\n\xff\xfe\n", 422),  # not UTF-8
        ("application/json", b"[{\"name\": \"x\",", 422),
        ("application/json", b"{}", 422),
        ("application/json", b"[]", 422),
        ("application/xml", b"<devices/>", 415),
    ):
        r = api.post("/devices/import", headers=api.admin | {"Content-Type": content_type},
                     content=body)
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()
    assert api.get("/devices", params={"include_total": "true"}).json()["total"] == 4


def test_audit_chain_verifies_after_api_changes(api: Api) -> None:
    _seed(api, 10)
    dev = api.post("/devices", CAM).json()
    path = f"/devices/{dev['id']}"
    api.patch(path, {"firmware_version": "2"})
    api.post(f"{path}/transition", {"state": "procured", "reason": "ordered"})
    assert api.delete(path, params={"reason": "never arrived"}).status_code == 204
    site = api.post("/sites", {"name": "Annex"}).json()
    api.patch(f"/sites/{site['id']}", {"code": "ANX"})
    api.delete(f"/sites/{site['id']}")

    r = api.get("/audit/verify")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["ok"] is True and report["first_break"] is None
    total = report["events_checked"]
    assert total == report["last_seq"] >= 12

    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = api.get("/audit/events", params={"after_seq": after, "limit": 5}).json()
        events.extend(page["items"])
        if page["next_after_seq"] is None:
            break
        after = page["next_after_seq"]
    assert [e["seq"] for e in events] == list(range(1, total + 1))
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(events, events[1:], strict=False))
    actions = [e["action"] for e in events]
    for action in ("device.import", "device.create", "device.update", "device.transition",
                   "device.delete", "site.create", "site.update", "site.delete"):
        assert action in actions
    assert all(api.env.token not in str(e) for e in events)
    auditor = accounts.add_user(api.env.platform, api.env.admin, "audit@northshire.example",
                                "auditor")
    assert api.get("/audit/verify", bearer(auditor.token)).json()["ok"] is True
    assert api.get("/audit/events", api.other).json()["items"][0]["after"] == {
        "name": "Southshire"}
