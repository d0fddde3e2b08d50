"""``/ui/login`` and ``/ui/logout``: the dashboard's sign-in with password and TOTP code.

Must not: tell which of email, password or code was wrong; echo the password back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import (
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    Session,
    checked_form,
    clear_session_cookie,
    login_csrf_ok,
    login_csrf_token,
    redirect,
    safe_next,
    set_login_csrf,
    set_session_cookie,
)
from fleetwarden.errors import FleetwardenError
from fleetwarden.services import accounts, signin

router = APIRouter(include_in_schema=False)


def _login_form(request: Request, *, next_path: str, email: str = "", tenant: str = "",
                error: str = "", status: int = 200) -> Response:
    platform = fleetwarden_app(request).platform
    token = login_csrf_token(request)
    response = page(request, "ui/login.html", {
        "next": safe_next(next_path), "email": email, "tenant_name": tenant,
        "ask_tenant": len(accounts.tenants(platform)) > 1, "error": error,
        "login_csrf": token}, status=status)
    set_login_csrf(request, response, token)
    return response


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_page(request: Request, next: str = "/ui/") -> Response:  # noqa: A002
    return _login_form(request, next_path=next)


@router.post(LOGIN_PATH, response_class=HTMLResponse)
def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
    tenant: Annotated[str, Form(max_length=128)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/ui/",  # noqa: A002
) -> Response:
    if not login_csrf_ok(request, csrf):
        return _login_form(request, next_path=next, email=email, tenant=tenant,
                           error="The sign-in form expired: try again.", status=403)
    platform = fleetwarden_app(request).platform
    client = request.client.host if request.client else "-"
    try:
        found = accounts.resolve_tenant(platform, tenant.strip() or None)
        session = signin.sign_in(platform, found, email, password, code, client)
    except FleetwardenError as exc:
        message = str(exc) if exc.http_status == 401 else signin.REFUSED
        return _login_form(request, next_path=next, email=email, tenant=tenant,
                           error=message[:1].upper() + message[1:] + ".", status=401)
    response = redirect(safe_next(next))
    set_session_cookie(request, response, session)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/ui/logout")
async def logout(request: Request, session: Session) -> Response:
    await checked_form(request, session)
    await run_in_threadpool(signin.sign_out, fleetwarden_app(request).platform, session)
    response = redirect(LOGIN_PATH)
    clear_session_cookie(request, response)
    return response
