"""Errors on dashboard pages: HTML for people, the API's JSON everywhere else.

The API's handlers decide the status and the one-line message (so both surfaces say
the same thing); under ``/ui/`` that message is shown on an error page instead. A page
that needs a session sends the browser to sign in and back.

Must not: show a traceback, SQL or a secret (the API handlers already answer 5xx
generically).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fleetwarden.entrypoints.api import errors as api_errors
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import (
    LOGIN_PATH,
    SignInRequired,
    redirect,
    signed_in,
)
from fleetwarden.errors import AuthenticationError, FleetwardenError

Handler = Callable[[Request, Exception], Awaitable[Response]]
HEADINGS = {400: "Bad request", 401: "Not signed in", 403: "Not allowed",
            404: "Not found", 409: "Conflict", 413: "Too large", 422: "Not accepted",
            429: "Too busy"}


async def to_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    query = {"next": exc.next_path}
    return redirect(f"{LOGIN_PATH}?{urlencode(query)}")


def _either(json_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await json_handler(request, exc)
        if not request.url.path.startswith("/ui/"):
            return response
        if isinstance(exc, AuthenticationError):
            return redirect(LOGIN_PATH)
        body = bytes(response.body)
        try:
            message = json.loads(body)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = "the request could not be completed"
        status = response.status_code
        try:
            session = signed_in(request)
        except SignInRequired:
            session = None
        return page(request, "ui/error.html", {
            "heading": HEADINGS.get(status, "Something went wrong"),
            "message": message[:1].upper() + message[1:],
        }, session=session, status=status)

    return handle


def install(app: FastAPI) -> None:
    """Register after ``api.errors.install``: these wrap its handlers."""
    app.add_exception_handler(SignInRequired, to_sign_in)
    app.add_exception_handler(FleetwardenError, _either(api_errors.fleetwarden_error))
    app.add_exception_handler(RequestValidationError, _either(api_errors.validation_error))
    app.add_exception_handler(StarletteHTTPException, _either(api_errors.http_error))
