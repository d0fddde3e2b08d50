"""Dashboard sign-in: password + TOTP, cookie flags, CSRF, replay, lockout, sign-out, and
the audit trail of each (real SQLite and PostgreSQL, the real app)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fleetwarden.domain.audit import AuditEvent
from fleetwarden.services import audit, signin
from tests.integration.helpers import Env
from tests.integration.web.conftest import WebUser, csrf_of, sign_in, web_user


def _events(env: Env) -> list[AuditEvent]:
    return list(audit.export(env.app.platform, env.admin))


def _actions(env: Env) -> list[str]:
    return [e.action for e in _events(env)]


def test_sign_in_with_password_and_code_then_sign_out(env: Env, client: TestClient) -> None:
    user = web_user(env, "ana@northshire.example", "analyst")
    assert client.get("/ui/", follow_redirects=False).headers["location"].startswith(
        "/ui/login?next=")
    login = client.get("/ui/login")
    assert login.status_code == 200
    csp = login.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    response = sign_in(client, user)
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    cookie = response.headers["set-cookie"]
    assert "fw_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http on loopback; Secure when served over TLS
    home = client.get("/ui/")
    assert home.status_code == 200 and "ana@northshire.example" in home.text
    # sign out needs the form's CSRF token
    assert client.post("/ui/logout", data={"csrf": "forged"}).status_code == 403
    out = client.post("/ui/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/ui/", follow_redirects=False).status_code == 303
    actions = _actions(env)
    assert "user.signin" in actions and "user.signout" in actions


def test_wrong_password_wrong_code_and_replay_are_refused_alike(env: Env,
                                                                  client: TestClient) -> None:
    user = web_user(env, "eve@northshire.example", "viewer")
    wrong_password = sign_in(client, user, password="not the password at all")
    wrong_code = sign_in(client, user, code="000000" if user.code() != "000000" else "111111")
    unknown = sign_in(client, WebUser("nobody@x.example", "p" * 12, user.secret))
    for response in (wrong_password, wrong_code, unknown):
        assert response.status_code == 401
        assert signin.REFUSED.capitalize() in response.text
        assert "not the password" not in response.text
    code = user.code()
    assert sign_in(client, user, code=code).status_code == 303
    client.cookies.clear()
    assert sign_in(client, user, code=code).status_code == 401  # a code is good once
    user.used = user.next_step()
    failures = [e for e in _events(env) if e.action == "user.signin_failed"]
    reasons = {e.after["reason"] for e in failures if e.after}
    assert {"password", "code", "unknown user"} <= reasons
    assert all("not the password" not in str(e.after) for e in failures)


def test_lockout_after_five_failures_and_admin_unlock(env: Env, client: TestClient) -> None:
    user = web_user(env, "mal@northshire.example", "viewer")
    for _ in range(signin.MAX_FAILURES):
        assert sign_in(client, user, password="wrong wrong wrong").status_code == 401
    locked = sign_in(client, user)
    assert locked.status_code == 401 and "try again in" in locked.text
    assert "user.locked" in _actions(env)
    signin.unlock(env.app.platform, env.admin, user.email)
    assert sign_in(client, user).status_code == 303


def test_sign_in_form_needs_its_csrf_cookie(env: Env, client: TestClient) -> None:
    user = web_user(env, "cs@northshire.example", "viewer")
    response = client.post("/ui/login", data={"email": user.email, "password": user.password,
                                              "code": user.code(), "csrf": "x" * 32})
    assert response.status_code == 403
    foreign = client.get("/ui/login")
    response = client.post("/ui/login", headers={"Origin": "http://evil.example"}, data={
        "email": user.email, "password": user.password, "code": user.code(),
        "csrf": csrf_of(foreign.text)})
    assert response.status_code == 403


def test_next_never_leaves_the_dashboard(env: Env, client: TestClient) -> None:
    user = web_user(env, "nx@northshire.example", "viewer")
    for target in ("//evil.example/", "/api/v1/devices"):
        page = client.get("/ui/login", params={"next": target})
        response = client.post("/ui/login", data={
            "email": user.email, "password": user.password, "code": user.code(),
            "csrf": csrf_of(page.text), "next": target}, follow_redirects=False)
        assert response.headers["location"] == "/ui/"
        user.used = user.next_step()
        client.cookies.delete("fw_session")


def test_safe_next() -> None:
    from fleetwarden.entrypoints.web.session import safe_next

    for bad in ("https://evil.example/", "//evil.example", "/ui/\r\nSet-Cookie: x=1",
                "/ui/\\evil", "", None, "/docs"):
        assert safe_next(bad) == "/ui/"
    assert safe_next("/ui/devices?type=cctv_camera") == "/ui/devices?type=cctv_camera"


def test_password_rules_and_no_mfa_no_entry(env: Env, client: TestClient) -> None:
    import pytest

    from fleetwarden.errors import InputError
    from fleetwarden.services import accounts

    with pytest.raises(InputError):
        signin.set_password(env.app.platform, env.admin, env.admin.actor, "short")
    accounts.add_user(env.app.platform, env.admin, "nomfa@northshire.example", "viewer")
    signin.set_password(env.app.platform, env.admin, "nomfa@northshire.example",
                        "a long enough password")
    page = client.get("/ui/login")
    response = client.post("/ui/login", data={
        "email": "nomfa@northshire.example", "password": "a long enough password",
        "code": "123456", "csrf": csrf_of(page.text)})
    assert response.status_code == 401
