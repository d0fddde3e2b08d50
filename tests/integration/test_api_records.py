"""CRUD over the API for the register's reference records (sites, segments, suppliers,
models, IoT systems, data items) on real SQLite and PostgreSQL: list paging and
sorting, partial updates, conflicts, deletes refused while in use, tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwarden.entrypoints.api import create_app
from fleetwarden.services import accounts
from tests.integration.helpers import make_env

V1 = "/api/v1"


class Client:
    def __init__(self, client: TestClient, token: str) -> None:
        self.c = client
        self.h = {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        return self.c.request(method, V1 + path, json=json, headers=self.h, **kw)


@pytest.fixture
def clients(database_url: str) -> Iterator[tuple[Client, Client, Client]]:
    env = make_env(database_url)
    other = accounts.create_tenant(env.platform, "cli:test", "Southshire",
                                   "admin@southshire.example")
    viewer = accounts.add_user(env.platform, env.admin, "viewer@northshire.example", "viewer")
    with TestClient(create_app(env.app)) as client:
        yield Client(client, env.token), Client(client, other.token), Client(client,
                                                                             viewer.token)
    env.app.engine.dispose()


def error_code(r: Any) -> str:
    body = r.json()
    assert set(body) == {"error"}, body
    return body["error"]["code"]  # type: ignore[no-any-return]


def test_crud_for_every_kind(clients: tuple[Client, Client, Client]) -> None:
    a, b, viewer = clients
    site = a("POST", "/sites", {"name": "HQ", "code": "HQ", "address": "1 High St",
                                "kind": "station"})
    assert site.status_code == 201, site.text
    assert site.headers["location"] == f"{V1}/sites/{site.json()['id']}"
    site = site.json()
    assert site == {"id": site["id"], "name": "HQ", "code": "HQ", "address": "1 High St",
                    "kind": "station"}
    seg = a("POST", "/segments", {"name": "hq-cctv", "cidrs": ["127.20.1.0/24"], "vlan": 101,
                                  "zone": "iot-cctv", "site": "HQ"}).json()
    assert (seg["site_id"], seg["cidrs"], seg["zone"]) == (site["id"], ["127.20.1.0/24"],
                                                           "iot-cctv")
    sup = a("POST", "/suppliers", {"name": "Axis", "contact_email": "psirt@axis.example",
                                   "disclosure_url": "https://axis.example/psirt"}).json()
    model = a("POST", "/models", {"vendor": "Axis", "model": "P3245", "device_type":
                                  "cctv_camera", "category": "sensor", "supplier": "Axis",
                                  "end_of_support": "2030-06-30"})
    assert model.status_code == 201, model.text
    model = model.json()
    assert (model["supplier_id"], model["end_of_support"]) == (sup["id"], "2030-06-30")
    dev = a("POST", "/devices", {"name": "cam", "vendor": "Axis", "model": "P3245",
                                 "serial": "AX-1", "site": "HQ"}).json()
    system = a("POST", "/systems", {
        "name": "HQ CCTV", "scope": "cameras and recorders at HQ",
        "data_flows": [{"source": "camera", "destination": "nvr", "data": "video",
                        "protocol": "rtsp"}],
        "raci": [{"task": "patching", "responsible": ["cctv team"], "accountable": "IAO",
                  "informed": ["SOC"]}],
        "device_ids": [dev["id"]],
    })
    assert system.status_code == 201, system.text
    system = system.json()
    assert system["raci"][0] == {"task": "patching", "responsible": ["cctv team"],
                                 "accountable": "IAO", "consulted": [], "informed": ["SOC"]}
    footage = a("POST", "/data-items", {"name": "footage", "classification": "OFFICIAL",
                                        "system": "HQ CCTV",
                                        "protected_by": ["encrypted at rest"]}).json()
    archive = a("POST", "/data-items", {"name": "archive", "classification":
                                        "OFFICIAL-SENSITIVE", "aggregate_of": ["footage"]})
    assert archive.status_code == 201, archive.text
    assert archive.json()["aggregate_of"] == [footage["id"]]
    assert footage["system_id"] == system["id"]

    created = {"sites": site, "segments": seg, "suppliers": sup, "models": model,
               "systems": system, "data-items": footage}
    for plural, record in created.items():
        path = f"/{plural}/{record['id']}"
        assert a("GET", path).json() == record
        assert viewer("GET", path).json() == record
        page = a("GET", f"/{plural}").json()
        assert set(page) == {"items", "total", "limit", "offset"}
        assert record in page["items"] and page["total"] == len(page["items"])
        for r in (b("GET", path), b("PATCH", path, {}), b("DELETE", path)):
            assert r.status_code == 404 and error_code(r) == "not_found", (plural, r.text)
        assert b("GET", f"/{plural}").json()["total"] == 0
        assert viewer("DELETE", path).status_code == 403
        assert a("GET", f"/{plural}/99999").status_code == 404

    # partial updates keep what is not given; null clears
    r = a("PATCH", f"/sites/{site['id']}", {"address": None, "kind": "HQ"})
    assert r.status_code == 200 and r.json() == site | {"address": None, "kind": "HQ"}
    r = a("PATCH", f"/segments/{seg['id']}", {"vlan": 102})
    assert r.json() == seg | {"vlan": 102}
    r = a("PATCH", f"/data-items/{archive.json()['id']}", {"classification": "OFFICIAL"})
    assert r.status_code == 200  # still at or above its item
    secret = a("POST", "/data-items", {"name": "informant", "classification": "SECRET"})
    r = a("PATCH", f"/data-items/{archive.json()['id']}",
          {"aggregate_of": [footage["id"], secret.json()["id"]]})
    assert r.status_code == 422 and "classification" in r.json()["error"]["message"]

    # bad input and conflicts
    for path, body, status in (
        ("/sites", {"name": "HQ"}, 409),
        ("/sites", {"name": 5}, 422),
        ("/sites", {"name": "x", "colour": "red"}, 422),
        ("/segments", {"name": "s", "cidrs": ["300.0.0.0/8"]}, 422),
        ("/segments", {"name": "s", "vlan": 5000}, 422),
        ("/segments", {"name": "s", "site": "Mars"}, 422),
        ("/models", {"vendor": "Axis", "model": "P3245", "device_type": "cctv_camera"}, 409),
        ("/models", {"vendor": "Axis", "model": "Q1", "device_type": "toaster"}, 422),
        ("/suppliers", {"name": "X", "disclosure_url": "ftp://x"}, 422),
        ("/systems", {"name": "S", "device_ids": [99999]}, 422),
        ("/systems", {"name": "S", "raci": [{"task": "t", "responsible": [],
                                             "accountable": "x"}]}, 422),
        ("/data-items", {"name": "d", "classification": "RESTRICTED"}, 422),
    ):
        r = a("POST", path, body)
        assert r.status_code == status, (path, body, r.text)
        assert error_code(r) in ("conflict", "invalid_input")

    # deletes are refused while something refers to the record
    for path in (f"/sites/{site['id']}", f"/models/{model['id']}",
                 f"/suppliers/{sup['id']}", f"/systems/{system['id']}"):
        r = a("DELETE", path)
        assert r.status_code == 409 and error_code(r) == "conflict", (path, r.text)
    r = a("DELETE", f"/data-items/{archive.json()['id']}")
    assert r.status_code == 204
    assert a("GET", f"/data-items/{archive.json()['id']}").status_code == 404


def test_list_paging_and_sorting(clients: tuple[Client, Client, Client]) -> None:
    a, _, _ = clients
    for i in range(12):
        assert a("POST", "/sites", {"name": f"site-{i:02d}", "code": f"C{11 - i:02d}"}
                 ).status_code == 201
    page = a("GET", "/sites", params={"limit": 5, "offset": 10}).json()
    assert [s["name"] for s in page["items"]] == ["site-10", "site-11"]
    assert (page["total"], page["limit"], page["offset"]) == (12, 5, 10)
    names = [s["name"] for s in a("GET", "/sites", params={"sort": "-name"}).json()["items"]]
    assert names == sorted(names, reverse=True)
    codes = [s["code"] for s in a("GET", "/sites", params={"sort": "code"}).json()["items"]]
    assert codes == sorted(codes)
    for bad in ({"sort": "colour"}, {"limit": 0}, {"limit": 1001}, {"offset": -1}):
        r = a("GET", "/sites", params=bad)
        assert r.status_code == 422 and error_code(r) == "invalid_input", bad
