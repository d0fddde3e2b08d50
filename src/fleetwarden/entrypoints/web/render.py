"""Rendering dashboard pages: one Jinja2 environment (autoescaped), the page context every
template gets, and the headers every page carries.

Everything a device says (banners, titles, certificate subjects) reaches templates as
plain strings and is escaped by Jinja2; nothing is marked safe except markup this
module builds itself (charts from ``charts``, whose text is escaped there). The policy
allows scripts and styles from this origin only: no inline script, no inline style
attribute, no other origin.

Must not: call services (pages do), or build HTML from strings outside ``charts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from fleetwarden import __version__
from fleetwarden.entrypoints.web.labels import (
    label,
    term,
    vendor_model,
    vendor_once,
    with_article,
)
from fleetwarden.services.context import Permission, can
from fleetwarden.services.signin import WebSession

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.autoescape = True

UI_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
          "base-uri 'none'")

#: The navigation bar: (path, label, permission needed).
NAV = (
    ("/ui/", "Overview", Permission.READ),
    ("/ui/devices", "Devices", Permission.READ),
    ("/ui/unregistered", "Unregistered", Permission.READ),
    ("/ui/vulns", "Vulnerabilities", Permission.READ),
    ("/ui/compliance", "Compliance", Permission.READ),
    ("/ui/audit", "Audit log", Permission.READ_AUDIT),
)


def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in UTC, as the whole product shows them."""
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(fmt) + " UTC"


def day(value: object) -> str:
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d") if hasattr(value, "strftime") else str(value)


templates.env.filters["when"] = when
templates.env.filters["day"] = day
templates.env.filters["label"] = label
templates.env.filters["term"] = term
templates.env.filters["with_article"] = with_article
templates.env.filters["vendor_once"] = vendor_once
templates.env.globals["vendor_model"] = vendor_model


def page(request: Request, name: str, context: Mapping[str, Any], *,
         session: WebSession | None = None, status: int = 200) -> HTMLResponse:
    """A dashboard page: the template with the session's user, CSRF token, role checks
    and navigation, sent with the dashboard's CSP and never cached."""
    ctx: dict[str, Any] = {"version": __version__, "path": request.url.path}
    if session is not None:
        principal = session.principal
        ctx.update(
            user=principal.actor, role=principal.role.value, tenant=principal.tenant.name,
            csrf=session.csrf,
            can=lambda permission: can(principal, permission), Permission=Permission,
            nav=[(href, label) for href, label, need in NAV if can(principal, need)],
        )
    ctx.update(context)
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    secure_headers(response)
    return response


def secure_headers(response: HTMLResponse) -> None:
    response.headers["Content-Security-Policy"] = UI_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    # Not "no-referrer": under it browsers send "Origin: null" with every form post, and
    # session.py refuses posts whose Origin is not this server. Other sites get nothing.
    response.headers["Referrer-Policy"] = "same-origin"
