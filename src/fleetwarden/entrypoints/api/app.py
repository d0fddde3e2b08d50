"""Assembling the FastAPI application: routers, error handlers, middleware, pages.

``create_app(app)`` takes the wired ``bootstrap.App`` and returns an ASGI app;
``fleetwarden serve`` runs it with uvicorn. Layers, outermost first: access log and
security headers (``middleware``), declared body size (``limits``), Starlette's
error handling with our handlers (``errors``), the per-route streamed body limit,
then the routes: ``/api/v1/...`` (token required), ``/``, ``/docs``, ``/static``,
``/openapi.json``.

What it must not do: contain business logic, or import SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from fleetwarden import __version__
from fleetwarden.bootstrap import App
from fleetwarden.entrypoints import web
from fleetwarden.entrypoints.api import (
    accounts,
    alerts,
    audit,
    changes,
    compliance,
    devices,
    discovery,
    errors,
    imports,
    records,
    vulns,
)
from fleetwarden.entrypoints.api.auth import DEFAULT_MAX_ENTRIES, DEFAULT_TTL, TokenCache
from fleetwarden.entrypoints.api.limits import (
    DEFAULT_BODY_LIMIT,
    IMPORT_BODY_LIMIT,
    IMPORT_PATH,
    ContentLengthLimit,
)
from fleetwarden.entrypoints.api.middleware import AccessLogMiddleware
from fleetwarden.entrypoints.api.schemas import ERROR_RESPONSES

API_PREFIX = "/api/v1"

DESCRIPTION = """\
The asset register of fleetwarden: devices and their lifecycle, the reference records
they hang off (sites, segments, suppliers, models, IoT systems, data items), change
requests for live devices, and the tenant's tamper-evident audit log.

Every `/api/v1` operation needs `Authorization: Bearer <token>` (a token printed by
`fleetwarden init` or `fleetwarden demo`). Everything is scoped to the token's tenant:
objects of other tenants are simply not found (404). Errors always have the body
`{"error": {"code": "...", "message": "..."}}`.
"""

TAGS = [
    {"name": "devices", "description": "The device register: list, register, edit, "
     "lifecycle transitions, history, identifier lookup and bulk import."},
    *({"name": spec.tag, "description": spec.description} for spec in records.KINDS),
    {"name": "changes", "description": "Change requests: approved changes to live devices."},
    {"name": "discovery", "description": "Discovery scans (scope-checked, audited), the "
     "hosts they found, the unregistered-devices queue (approve, merge, mark rogue), "
     "fingerprint overrides and scan schedules."},
    {"name": "alerts", "description": "Alerts raised by discovery: new, changed, missing "
     "and rogue devices."},
    {"name": "vulnerabilities", "description": "Vulnerability findings (a vulnerability on "
     "a device, prioritised, with a due date): list, report, export as CycloneDX VDR/VEX "
     "or CSV, triage (audited) and matching against the feeds."},
    {"name": "settings", "description": "Tenant settings (admins)."},
    {"name": "audit", "description": "The tamper-evident audit log (auditors and admins)."},
    {"name": "account", "description": "The caller's identity."},
]


def create_app(
    app: App, *, token_cache_ttl: float = DEFAULT_TTL,
    token_cache_size: int = DEFAULT_MAX_ENTRIES, max_scans: int = discovery.MAX_RUNNING,
) -> FastAPI:
    """The ASGI application serving ``app``.

    ``token_cache_ttl`` is how long (seconds) a verified token is trusted without a
    database lookup: revocations take effect within it (0 disables the cache).
    ``max_scans`` is how many discovery scans this process runs at once.
    """
    scan_jobs = discovery.ScanJobs(max_running=max_scans)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # Let running scans finish and record how they ended, off the event loop.
        await run_in_threadpool(scan_jobs.close)

    api = FastAPI(
        title="fleetwarden",
        version=__version__,
        summary="Lifecycle security management for connected devices.",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        openapi_url="/openapi.json",
        docs_url=None,  # CDN-hosted Swagger UI: replaced by web.home /docs
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    api.state.fleetwarden = app
    api.state.token_cache = TokenCache(ttl=token_cache_ttl, max_entries=token_cache_size)
    api.state.scan_jobs = scan_jobs
    errors.install(api)

    v1 = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES,
                   max_body_size=DEFAULT_BODY_LIMIT)
    v1.include_router(imports.router)  # before /devices/{id}
    v1.include_router(devices.router)
    v1.include_router(discovery.device_router)
    for router in records.routers:
        v1.include_router(router)
    v1.include_router(changes.router)
    v1.include_router(discovery.router)
    v1.include_router(alerts.router)
    v1.include_router(vulns.router)
    v1.include_router(vulns.device_router)
    v1.include_router(vulns.settings_router)
    v1.include_router(compliance.router)
    v1.include_router(audit.router)
    v1.include_router(accounts.router)
    api.include_router(v1)

    for router in web.routers:
        api.include_router(router)
    web.install_errors(api)
    api.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    api.add_middleware(ContentLengthLimit, default=DEFAULT_BODY_LIMIT,
                       per_path={IMPORT_PATH: IMPORT_BODY_LIMIT,
                                 "/api/v1/attestations": compliance.ATTESTATION_BODY_LIMIT})
    api.add_middleware(AccessLogMiddleware)  # added last: outermost
    return api
