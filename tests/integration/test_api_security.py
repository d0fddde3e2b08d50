"""The API's edges on real SQLite and PostgreSQL: bearer tokens (missing, malformed,
wrong, revoked; the short-lived token cache), the access log (every attempt, never the
token), body size limits, and one error body for every kind of failure."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from fleetwarden.entrypoints.api import create_app
from fleetwarden.entrypoints.api.auth import TokenCache
from fleetwarden.errors import StorageError
from fleetwarden.services import accounts
from tests.integration.helpers import Env, make_env

MIB = 1024 * 1024
ME = "/api/v1/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return body["error"]  # type: ignore[no-any-return]


@dataclass
class Server:
    env: Env
    client: TestClient


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    env = make_env(database_url)
    with TestClient(create_app(env.app)) as client:
        yield Server(env, client)
    env.app.engine.dispose()


def test_requests_without_a_valid_token_get_401(server: Server) -> None:
    c, token = server.client, server.env.token
    token_id = accounts.token_id_of(token)
    assert token_id
    wrong_secret = f"fw_{token_id}_{'A' * 43}"
    unknown_id = f"fw_{'0' * 12}_{token.rsplit('_', 1)[1]}"
    cases = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {token}"},
        {"Authorization": token},
        bearer("not-a-token"),
        bearer(wrong_secret),
        bearer(unknown_id),
        bearer(token + "x"),
    ]
    for headers in cases:
        for method, path in (("GET", ME), ("GET", "/api/v1/devices"),
                             ("POST", "/api/v1/devices"), ("GET", "/api/v1/audit/verify"),
                             ("DELETE", "/api/v1/sites/1")):
            r = c.request(method, path, headers=headers)
            assert r.status_code == 401, (headers, path, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer"), r.headers
            assert error(r) == {"code": "unauthenticated",
                                "message": "missing or invalid bearer token"}
    assert c.get(ME, headers=bearer(wrong_secret)).headers["www-authenticate"] == \
        'Bearer error="invalid_token"'
    r = c.get(ME, headers=bearer(token))
    assert r.status_code == 200
    assert r.json() == {"email": "admin@northshire.example", "role": "admin",
                        "tenant": "Northshire", "user_id": r.json()["user_id"]}
    assert c.get(ME, headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_revoked_tokens_are_refused(server: Server) -> None:
    env = server.env
    eng = accounts.add_user(env.platform, env.admin, "eng@northshire.example", "engineer")
    with TestClient(create_app(env.app, token_cache_ttl=0)) as uncached:
        assert uncached.get(ME, headers=bearer(eng.token)).status_code == 200
        assert server.client.get(ME, headers=bearer(eng.token)).status_code == 200  # cached
        assert accounts.revoke_tokens(env.platform, env.admin, "eng@northshire.example") == 1
        r = uncached.get(ME, headers=bearer(eng.token))
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    # The caching app trusts the token until its cache entry expires (documented TTL).
    assert server.client.get(ME, headers=bearer(eng.token)).status_code == 200
    server.client.app.state.token_cache.clear()  # type: ignore[attr-defined]
    assert server.client.get(ME, headers=bearer(eng.token)).status_code == 401
    assert server.client.get(ME, headers=bearer(env.token)).status_code == 200


def test_token_cache_expires_and_stays_bounded(server: Server) -> None:
    now = [1000.0]
    cache = TokenCache(ttl=30, max_entries=3, clock=lambda: now[0])
    principal = server.env.admin
    cache.put("t1", principal)
    assert cache.get("t1") is principal and cache.get("t2") is None
    now[0] += 29.9
    assert cache.get("t1") is principal
    now[0] += 0.2
    assert cache.get("t1") is None and len(cache) == 0
    for name in ("a", "b", "c", "d"):
        cache.put(name, principal)
    assert len(cache) == 3 and cache.get("a") is None and cache.get("d") is principal
    assert all(len(k) == 64 and k != "d" for k in cache._entries)  # digests, not tokens
    off = TokenCache(ttl=0)
    off.put("t", principal)
    assert off.get("t") is None


def test_access_log_records_every_attempt_but_never_the_token(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    c, token = server.client, server.env.token
    token_id = accounts.token_id_of(token)
    wrong = f"fw_{token_id}_{'B' * 43}"
    caplog.set_level(logging.INFO, logger="fleetwarden.access")
    assert c.get(ME, headers=bearer(token)).status_code == 200
    assert c.get("/api/v1/devices", headers=bearer(token),
                 params={"q": "cam"}).status_code == 200
    assert c.get(ME, headers=bearer(wrong)).status_code == 401
    assert c.get(ME).status_code == 401
    assert c.get("/api/v1/devices/999", headers=bearer(token)).status_code == 404
    assert c.get("/").status_code == 200

    records = [r for r in caplog.records if r.name == "fleetwarden.access"]
    lines = [r.getMessage() for r in records]
    access = [r for r in records if hasattr(r, "http_status")]
    assert [(r.http_method, r.http_path, r.http_status, r.token_id) for r in access] == [
        ("GET", ME, 200, token_id),
        ("GET", "/api/v1/devices", 200, token_id),
        ("GET", ME, 401, token_id),
        ("GET", ME, 401, "-"),
        ("GET", "/api/v1/devices/999", 404, token_id),
        ("GET", "/", 200, "-"),
    ]
    assert all(r.client == "testclient" and r.duration_ms >= 0 for r in access)
    assert f"GET {ME} 200 token={token_id} client=testclient" in lines[0]
    assert "q=cam" not in " ".join(lines)  # no query strings
    failures = [r for r in records if r.levelno == logging.WARNING]
    assert len(failures) == 4  # two "authentication failed" lines and two 401 access lines
    assert any("authentication failed: token rejected" in r.getMessage() for r in failures)
    assert any("authentication failed: no bearer token" in r.getMessage() for r in failures)
    secret = token.removeprefix(f"fw_{token_id}_")  # the secret may itself contain "_"
    for r in caplog.records:
        text = r.getMessage() + repr(r.__dict__)
        assert token not in text and secret not in text and "B" * 43 not in text


def test_body_limits(server: Server) -> None:
    c, h = server.client, bearer(server.env.token)
    big = b'{"name": "' + b"x" * MIB + b'"}'
    r = c.post("/api/v1/devices", headers=h | {"Content-Type": "application/json"},
               content=big)
    assert r.status_code == 413 and error(r)["code"] == "too_large"
    assert "1048576" in error(r)["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    r = c.post("/api/v1/sites", headers=h | {"Content-Type": "application/json"},
               content=chunks())
    assert r.status_code == 413 and error(r)["code"] == "too_large"
    # unauthenticated and unknown routes get the same answer before anything is read
    r = c.post("/api/v1/nowhere", headers={"Content-Type": "application/json"}, content=big)
    assert r.status_code == 413 and error(r)["code"] == "too_large"
    r = c.post("/api/v1/devices/import", content=b"[]",
               headers=h | {"Content-Type": "application/json",
                            "Content-Length": str(64 * MIB + 1)})
    assert r.status_code == 413 and error(r)["code"] == "too_large"

    # the import endpoint takes more than 1 MiB
    padded = b"[" + b" " * (2 * MIB) + b'{"name": "big-1", "device_type": "sensor"}]'
    r = c.post("/api/v1/devices/import", headers=h | {"Content-Type": "application/json"},
               content=padded)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    r = c.get("/api/v1/devices", headers=h, params={"include_total": "true"})
    assert r.json()["total"] == 1  # nothing else got in


def test_every_failure_has_the_same_error_body(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    api = server.client.app
    h = bearer(server.env.token)

    def boom() -> None:
        raise RuntimeError("secret internals: /etc/fleetwarden password=hunter2")

    def db_down() -> None:
        raise StorageError("database unavailable: host=db.internal password=hunter2")

    api.add_api_route("/api/v1/_boom", boom)  # type: ignore[attr-defined]
    api.add_api_route("/api/v1/_db_down", db_down)  # type: ignore[attr-defined]
    c = server.client
    caplog.set_level(logging.INFO)

    r = c.get("/api/v1/_boom", headers=h)
    assert r.status_code == 500
    err = error(r)
    assert err["code"] == "internal_error" and r.headers["x-request-id"] in err["message"]
    assert "hunter2" not in r.text and "Traceback" not in r.text and "Runtime" not in r.text
    logged = [x for x in caplog.records if x.name == "fleetwarden.api"]
    assert logged and logged[0].exc_info and "hunter2" in str(logged[0].exc_info[1])

    r = c.get("/api/v1/_db_down", headers=h)
    assert r.status_code == 503 and error(r)["code"] == "storage"
    assert "hunter2" not in r.text and "db.internal" not in r.text

    r = c.get("/api/v1/no-such-thing", headers=h)
    assert r.status_code == 404 and error(r)["code"] == "not_found"
    r = c.get("/nowhere")
    assert r.status_code == 404 and error(r)["code"] == "not_found"
    r = c.put("/api/v1/devices", headers=h, json={})
    assert r.status_code == 405 and error(r)["code"] == "method_not_allowed"
    r = c.get("/api/v1/devices", headers=h, params={"limit": "lots"})
    assert r.status_code == 422 and error(r)["message"].startswith("limit:")
    r = c.post("/api/v1/sites", headers=h, json={"name": "HQ", "code": 7, "kind": []})
    assert r.status_code == 422
    assert error(r)["message"].startswith("code:") and "1 more" in error(r)["message"]
    r = c.post("/api/v1/sites", headers=h | {"Content-Type": "application/json"},
               content=b"\xff\xfe")
    assert r.status_code in (400, 422) and "error" in r.json()
    r = c.post("/api/v1/sites", headers=h | {"Content-Type": "application/json"},
               content=b"null")
    assert r.status_code == 422 and "error" in r.json()
    for r in (c.get("/api/v1/me", headers=h), c.get("/api/v1/_boom", headers=h)):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "default-src 'self'"
