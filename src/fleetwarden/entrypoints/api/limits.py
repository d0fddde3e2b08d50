"""Request body size limits (1 MiB by default, 64 MiB for device imports).

Two layers, both from the framework's own machinery where it has one:

* FastAPI's ``max_body_size`` (app default and per route) counts the bytes actually
  streamed, so a chunked body or a lying ``Content-Length`` is cut off at the limit;
  the 413 it raises is rendered by ``errors.http_error``.
* ``ContentLengthLimit`` below refuses a request whose declared ``Content-Length`` is
  over the limit for its path before routing, authentication or reading a byte, so a
  client sending 10 GB gets its 413 at once, whatever route it aimed at.

What it must not do: buffer bodies (it only looks at headers).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from fleetwarden.entrypoints.api.errors import error_response

MIB = 1024 * 1024
DEFAULT_BODY_LIMIT = 1 * MIB
IMPORT_BODY_LIMIT = 64 * MIB
IMPORT_PATH = "/api/v1/devices/import"


class ContentLengthLimit:
    """Pure ASGI middleware: 413 for a declared body larger than its path allows."""

    def __init__(
        self, app: ASGIApp, default: int = DEFAULT_BODY_LIMIT,
        per_path: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path or {})

    def limit_for(self, path: str) -> int:
        return self.per_path.get(path.rstrip("/") or "/", self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = Headers(scope=scope).get("content-length")
            if declared is not None:
                limit = self.limit_for(scope["path"])
                try:
                    size = int(declared)
                except ValueError:
                    size = -1
                if size < 0:
                    response = error_response(400, "bad_request", "invalid Content-Length")
                    await response(scope, receive, send)
                    return
                if size > limit:
                    response = error_response(
                        413, "too_large", f"request body too large (limit {limit} bytes)",
                        headers={"Connection": "close"},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
