"""One error body for every failure the API reports: ``{"error": {"code", "message"}}``.

Maps ``FleetwardenError`` subclasses (their ``http_status``/``code``), FastAPI request
validation errors, Starlette HTTP errors (unknown routes, 405, 413) to that body.
Unexpected exceptions are turned into a generic 500 by the access middleware
(``middleware.py``), which runs outside Starlette's error middleware.

What it must not do: put tracebacks, SQL, file paths or secrets in a response body.
Errors with a 5xx status are logged here with their detail and answered generically.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from fleetwarden.errors import AuthenticationError, FleetwardenError

log = logging.getLogger("fleetwarden.api")

#: ``code`` values for plain HTTP errors (unknown route, wrong method, body too big).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def fleetwarden_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FleetwardenError)
    status = exc.http_status
    if status >= 500:
        # The detail may name a database host or a file: log it, answer generically.
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path,
                  exc)
        return error_response(status, exc.code,
                              "the server could not complete the request; see the server log")
    headers = None
    if isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": getattr(exc, "challenge", "Bearer")}
    return error_response(status, exc.code, _one_line(str(exc)), headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "request"


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    field = _field(loc)
    if kind == "extra_forbidden":
        return f"{field}: unknown field"
    if kind == "missing":
        return f"{field}: required"
    if loc == ("body",) and isinstance(err.get("input"), bytes | bytearray):
        return "body: expected a JSON object (send Content-Type: application/json)"
    return f"{field}: {err.get('msg', 'invalid value')}"


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if not errors:
        return error_response(422, "invalid_input", "invalid request")
    first = errors[0]
    if first.get("type") == "json_invalid":
        ctx = first.get("ctx") or {}
        loc = first.get("loc", ())
        where = f" at position {loc[1]}" if len(loc) > 1 else ""
        detail = f": {ctx['error']}" if ctx.get("error") else ""
        return error_response(400, "malformed_json",
                              _one_line(f"the body is not valid JSON{detail}{where}"))
    message = _describe(first)
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(422, "invalid_input", _one_line(message))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "error")
    if status == 404:
        message = f"no such resource: {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    elif status == 413:
        limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        message = "request body too large" + (f" (limit {limit} bytes)" if limit else "")
    else:
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
    return error_response(status, code, _one_line(message), dict(exc.headers or {}) or None)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(FleetwardenError, fleetwarden_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
