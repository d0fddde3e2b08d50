"""``/api/v1/alerts``: what discovery raised (new, changed, missing, rogue seen).

Newest first, paged by ``before_id``; acknowledging is audited. The same alerts go to
the tenant's webhook (``services.alerts.deliver``, run by ``fleetwarden serve``).

What it must not do: decide who may acknowledge (``services.alerts`` does).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.schemas import MAX_ID, NOT_FOUND, AlertOut, AlertPage
from fleetwarden.services import alerts

router = APIRouter(prefix="/alerts", tags=["alerts"])
MAX_ALERTS = 500
AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="Alert id")]


@router.get("", response_model=AlertPage, summary="Alerts, newest first",
            description="Pass `next_before_id` back as `before_id` for older alerts, "
            "keeping the same filters.")
def list_alerts(
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    kind: Annotated[list[Annotated[str, Query(max_length=32)]], Query(
        max_length=8, description="new, changed, missing, rogue_seen, vuln.new or vuln.kev"
        " (repeatable)")] = [],  # noqa: B006 - FastAPI query list
    unacknowledged: Annotated[bool, Query(description="Only alerts nobody acknowledged")]
    = False,
    since: Annotated[datetime | None, Query(description="Only alerts raised at or after "
                                            "this time (ISO 8601; UTC when no offset)")]
    = None,
    device_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only about this "
                                           "device")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ALERTS)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only alerts older "
                                           "than this one")] = None,
) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    found = alerts.list_alerts(platform, principal, kinds=tuple(kind),
                               unacknowledged=unacknowledged, since=since,
                               device_id=device_id, limit=limit + 1, before_id=before_id)
    items = [alerts.alert_view(a) for a in found[:limit]]
    return {"items": items,
            "next_before_id": items[-1]["id"] if len(found) > limit else None}


@router.post("/{alert_id}/acknowledge", response_model=AlertOut,
             summary="Acknowledge an alert",
             description="Acknowledging twice is harmless: the first acknowledgement stays.",
             responses=NOT_FOUND)
def acknowledge(
    platform: CurrentPlatform, principal: CurrentPrincipal, alert_id: AlertId
) -> dict[str, Any]:
    return alerts.alert_view(alerts.acknowledge(platform, principal, alert_id))
