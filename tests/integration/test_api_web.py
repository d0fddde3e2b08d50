"""The public pages and the OpenAPI document, and the API served for real by uvicorn
on a loopback port. Everything must work air-gapped: no page refers to another origin."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from fleetwarden.entrypoints.api import create_app
from tests.integration.helpers import Env, make_env

CSP = "default-src 'self'"


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    e = make_env(database_url)
    yield e
    e.app.engine.dispose()


def _no_foreign_resources(html: str) -> None:
    assert "<script" not in html.lower()
    assert " style=" not in html.lower() and "<style" not in html.lower()
    for attr in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert attr.startswith(("/", "#")), attr


def test_home_docs_and_openapi(env: Env) -> None:
    with TestClient(create_app(env.app)) as c:
        home = c.get("/")
        assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
        assert home.headers["content-security-policy"] == CSP
        text = home.text
        for needle in ("fleetwarden", "/docs", "/openapi.json", "Authorization: Bearer",
                       "fleetwarden init", "fleetwarden demo", "token: fw_"):
            assert needle in text, needle
        _no_foreign_resources(text)

        css = c.get("/static/style.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert "http" not in css.text and "@import" not in css.text

        docs = c.get("/docs")
        assert docs.status_code == 200 and docs.headers["content-security-policy"] == CSP
        _no_foreign_resources(docs.text)
        for needle in ("/api/v1/devices", "/api/v1/devices/{device_id}/transition",
                       "/api/v1/data-items", "/api/v1/audit/verify", "List devices",
                       "DeviceRow", "next_cursor"):
            assert needle in docs.text, needle
        assert c.get("/redoc").status_code == 404

        spec = c.get("/openapi.json").json()
        assert spec["info"]["title"] == "fleetwarden"
        assert spec["components"]["securitySchemes"]["bearer"] == {
            "type": "http", "scheme": "bearer",
            "description": spec["components"]["securitySchemes"]["bearer"]["description"]}
        tags = {t["name"] for t in spec["tags"]}
        assert {"devices", "sites", "segments", "suppliers", "models", "systems",
                "data-items", "changes", "audit", "account"} <= tags
        paths = spec["paths"]
        for path, method in (("/api/v1/devices", "get"), ("/api/v1/devices", "post"),
                             ("/api/v1/devices/{device_id}", "patch"),
                             ("/api/v1/devices/{device_id}", "delete"),
                             ("/api/v1/devices/import", "post"),
                             ("/api/v1/devices/lookup", "get"),
                             ("/api/v1/sites/{record_id}", "patch"),
                             ("/api/v1/changes/{change_id}/approve", "post"),
                             ("/api/v1/audit/events", "get"), ("/api/v1/me", "get")):
            op = paths[path][method]
            assert op["summary"] and op["tags"], (path, method)
            assert op["security"] == [{"bearer": []}], (path, method)
            assert "401" in op["responses"], (path, method)
        import_body = paths["/api/v1/devices/import"]["post"]["requestBody"]["content"]
        assert {"application/json", "text/csv"} <= set(import_body)
        listing = paths["/api/v1/devices"]["get"]["responses"]["200"]
        assert listing["content"]["application/json"]["schema"]["$ref"].endswith("DevicePage")
        assert not any(p.startswith(("/docs", "/static")) or p == "/" for p in paths)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_server_on_loopback(env: Env) -> None:
    port = _free_port()
    config = uvicorn.Config(create_app(env.app), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False, ws="none",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                          trust_env=False) as http:
            r = http.get("/api/v1/me", headers={"Authorization": f"Bearer {env.token}"})
            assert r.status_code == 200 and r.json()["tenant"] == "Northshire"
            assert r.headers["x-content-type-options"] == "nosniff"
            r = http.get("/api/v1/devices")
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["error"]["code"] == "unauthenticated"
            r = http.post("/api/v1/sites", content=b"x" * (2 * 1024 * 1024),
                          headers={"Content-Type": "application/json"})
            assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
            r = http.get("/")
            assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
            name, _, duration = r.headers["server-timing"].partition(";dur=")
            assert name == "app" and float(duration) >= 0
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    assert not thread.is_alive()
