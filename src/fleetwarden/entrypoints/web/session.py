"""Dashboard sessions: the cookie, the signed-in dependency and CSRF checks on forms.

The session cookie is HttpOnly, SameSite=Strict, Path=/ and Secure whenever the page
was served over TLS. Every state-changing form posts a ``csrf`` field that must equal
the session's token (``signin.csrf_token``); a cross-site post also fails SameSite and
the Origin check here. The sign-in form, which has no session yet, uses a double-submit
cookie instead.

Must not: log the cookie, or accept a ``next`` address that leaves ``/ui/``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.errors import AuthenticationError, FleetwardenError
from fleetwarden.services import signin
from fleetwarden.services.signin import WebSession

COOKIE = "fw_session"
LOGIN_CSRF_COOKIE = "fw_signin_csrf"
LOGIN_PATH = "/ui/login"
HOME_PATH = "/ui/"


class SignInRequired(Exception):
    """Raised by ``signed_in``; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str, message: str = "") -> None:
        super().__init__(message)
        self.next_path = next_path
        self.message = message


class CsrfRefused(FleetwardenError):
    http_status = 403
    code = "csrf"


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a dashboard path, never another site."""
    if (not value or not value.startswith("/ui/") or value.startswith("//")
            or "\\" in value or any(c in value for c in "\r\n\t")):
        return HOME_PATH
    return value[:2000]


def signed_in(request: Request) -> WebSession:
    """The request's live session, or a redirect to sign in (FastAPI dependency)."""
    secret = request.cookies.get(COOKIE, "")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = HOME_PATH
    try:
        return signin.session_principal(fleetwarden_app(request).platform, secret)
    except AuthenticationError as exc:
        raise SignInRequired(target, str(exc) if secret else "") from None


Session = Annotated[WebSession, Depends(signed_in)]


def _same_origin(request: Request) -> bool:
    """A browser's Origin, when sent, must be this server (non-browser clients send none
    and still need the token)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def require_csrf(request: Request, session: WebSession, token: object) -> None:
    """Refuse a post whose ``csrf`` field (or origin) is not this session's: for sync
    handlers that take the field as ``Form``."""
    if (not isinstance(token, str) or not hmac.compare_digest(token, session.csrf)
            or not _same_origin(request)):
        raise CsrfRefused("the form has expired or came from another site: reload the "
                          "page and try again")


async def checked_form(request: Request, session: WebSession) -> FormData:
    """The posted form, once its CSRF token and origin are right."""
    form = await request.form()
    require_csrf(request, session, form.get("csrf"))
    return form


def set_session_cookie(request: Request, response: Response, session: WebSession) -> None:
    response.set_cookie(COOKIE, session.secret, max_age=signin.SESSION_HOURS * 3600,
                        path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")


def login_csrf_token(request: Request) -> str:
    """The sign-in form's double-submit token: the browser's, or a new one."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return token if 16 <= len(token) <= 64 else secrets.token_urlsafe(24)


def set_login_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path=LOGIN_PATH,
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def login_csrf_ok(request: Request, posted: object) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return (isinstance(posted, str) and bool(cookie)
            and hmac.compare_digest(posted, cookie) and _same_origin(request))


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
