"""The outermost layer: access log, security headers and the last-resort 500.

Every request, success or failure, gives one line on the ``fleetwarden.access``
logger: method, path (never the query string), status, token id, client address and
duration. The token id is the public ``fw_<id>_`` part (``accounts.token_id_of``),
or ``-``; the token itself is never logged. Responses of 401 are logged at WARNING.

An exception nothing else handled is logged with its traceback on ``fleetwarden.api``
and answered with a generic 500 error body carrying a request id to quote; this
middleware runs inside Starlette's ``ServerErrorMiddleware``, so that one never sees
it and nothing re-raises into the server.

What it must not do: read the body, or log headers, tokens or query strings.
"""

from __future__ import annotations

import logging
import secrets
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleetwarden.entrypoints.api.errors import error_response
from fleetwarden.services.accounts import token_id_of

access_log = logging.getLogger("fleetwarden.access")
api_log = logging.getLogger("fleetwarden.api")

#: Sent with every response. The HTML pages need nothing but their own origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _token_id(headers: Headers) -> str:
    value = headers.get("authorization", "")
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return "-"
    return token_id_of(credentials) or "-"


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = secrets.token_hex(6)
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                headers["X-Request-ID"] = request_id
                # Time until the response starts: what the benchmarks call server time.
                elapsed = (time.perf_counter() - start) * 1000
                headers["Server-Timing"] = f"app;dur={elapsed:.2f}"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            api_log.exception("unhandled error on %s %s (request %s)", scope["method"],
                              scope["path"], request_id)
            if started:
                raise  # headers are out: nothing sensible left to send
            response = error_response(
                500, "internal_error",
                f"internal server error; quote request id {request_id} to the administrator",
            )
            await response(scope, receive, send_wrapper)
        finally:
            elapsed_ms = (time.perf_counter() - start) * 1000
            client = scope.get("client")
            address = client[0] if client else "-"
            token = _token_id(Headers(scope=scope))
            level = logging.WARNING if status == 401 else logging.INFO
            access_log.log(
                level, "%s %s %s token=%s client=%s %.1fms id=%s",
                scope["method"], scope["path"], status, token, address, elapsed_ms,
                request_id,
                extra={"http_method": scope["method"], "http_path": scope["path"],
                       "http_status": status, "token_id": token, "client": address,
                       "duration_ms": round(elapsed_ms, 2), "request_id": request_id},
            )
