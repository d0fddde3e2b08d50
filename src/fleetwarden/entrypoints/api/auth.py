"""Bearer-token authentication for ``/api/v1`` as a FastAPI dependency.

``current_principal`` turns ``Authorization: Bearer <token>`` into the ``Principal``
that services check permissions against (``services.accounts.authenticate``); a
missing or rejected token is a 401 with ``WWW-Authenticate: Bearer``, logged at
WARNING on ``fleetwarden.access`` with the token id, never the token.

Successful lookups are cached in memory for a short TTL (30 s by default), keyed by
the SHA-256 of the token and bounded in size, so a page of the device list costs one
query rather than two. The price, accepted on purpose: **revoking a token, disabling
a user or changing a role takes effect on this API process up to TTL seconds later**
(tenant settings do not wait: every unit of work re-reads them).
``create_app(token_cache_ttl=0)`` turns the cache off. Failures are never cached.

Ordering: FastAPI reads (at most the size limit) and JSON-decodes a request body
before it runs dependencies, so a syntactically broken JSON body is answered 400 even
without a token; nothing reaches a service before authentication.

What it must not do: decide what a principal may do (the services do), or keep the
token itself anywhere (only its digest is a cache key).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from fleetwarden.bootstrap import App
from fleetwarden.errors import AuthenticationError
from fleetwarden.services import accounts
from fleetwarden.services.context import Platform, Principal

log = logging.getLogger("fleetwarden.access")

DEFAULT_TTL = 30.0
DEFAULT_MAX_ENTRIES = 1024


class TokenCache:
    """A small thread-safe LRU of principals with a time-to-live per entry."""

    def __init__(
        self, ttl: float = DEFAULT_TTL, max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        key = self.key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, principal = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return principal

    def put(self, token: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        key = self.key(token)
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token, as printed by `fleetwarden init` or `fleetwarden demo` "
    "(`token: fw_...`). Send it as `Authorization: Bearer <token>`.",
)


def fleetwarden_app(request: Request) -> App:
    app: App = request.app.state.fleetwarden
    return app


async def platform(request: Request) -> Platform:
    return fleetwarden_app(request).platform


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


class BearerRefused(AuthenticationError):
    """A 401 that carries its ``WWW-Authenticate`` challenge (RFC 6750)."""

    def __init__(self, challenge: str) -> None:
        super().__init__("missing or invalid bearer token")
        self.challenge = challenge


def _refuse(request: Request, why: str, token_id: str, challenge: str) -> BearerRefused:
    log.warning("authentication failed: %s token=%s client=%s %s %s", why, token_id,
                _client(request), request.method, request.url.path)
    return BearerRefused(challenge)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise _refuse(request, "no bearer token", "-", "Bearer")
    token = credentials.credentials
    cache: TokenCache = request.app.state.token_cache
    principal = cache.get(token)
    if principal is not None:
        return principal
    try:
        principal = await run_in_threadpool(
            accounts.authenticate, fleetwarden_app(request).platform, token
        )
    except AuthenticationError:
        raise _refuse(request, "token rejected", accounts.token_id_of(token) or "-",
                      'Bearer error="invalid_token"') from None
    cache.put(token, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentPlatform = Annotated[Platform, Depends(platform)]
