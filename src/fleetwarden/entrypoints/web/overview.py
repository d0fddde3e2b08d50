"""``/ui/``: the estate at a glance (being built: see issue 7)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session

router = APIRouter(include_in_schema=False)


@router.get("/ui/", response_class=HTMLResponse)
def overview(request: Request, session: Session) -> HTMLResponse:
    return page(request, "ui/overview.html", {}, session=session)
