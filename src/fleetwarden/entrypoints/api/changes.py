"""``/api/v1/changes``: change requests for live devices (request, approve, reject).

Separation of duties (the requester cannot approve) and roles are enforced by
``services.changes``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.schemas import (
    CONFLICT,
    MAX_ID,
    NOT_FOUND,
    ChangeIn,
    ChangeList,
    ChangeOut,
    DecisionIn,
)
from fleetwarden.entrypoints.presenters import change_view
from fleetwarden.services import changes

router = APIRouter(prefix="/changes", tags=["changes"])
ChangeId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("", response_model=ChangeList, summary="List change requests")
def list_changes(
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    device_id: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                           description="Only for this device")] = None,
) -> dict[str, Any]:
    return {"items": [change_view(c) for c in changes.list_requests(platform, principal,
                                                                     device_id)]}


@router.post("", response_model=ChangeOut, status_code=status.HTTP_201_CREATED,
             summary="Request a change to a live device", responses=NOT_FOUND)
def request_change(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: ChangeIn, response: Response
) -> dict[str, Any]:
    cr = changes.request(platform, principal, body.device_id, body.reason, body.reference)
    response.headers["Location"] = f"/api/v1/changes/{cr.id}"
    return change_view(cr)


@router.post("/{change_id}/approve", response_model=ChangeOut,
             summary="Approve a change request",
             description="Admins only; the requester cannot approve their own request.",
             responses=NOT_FOUND | CONFLICT)
def approve(
    platform: CurrentPlatform, principal: CurrentPrincipal, change_id: ChangeId,
    body: DecisionIn,
) -> dict[str, Any]:
    return change_view(changes.decide(platform, principal, change_id, True, body.reason))


@router.post("/{change_id}/reject", response_model=ChangeOut,
             summary="Reject a change request", responses=NOT_FOUND | CONFLICT)
def reject(
    platform: CurrentPlatform, principal: CurrentPrincipal, change_id: ChangeId,
    body: DecisionIn,
) -> dict[str, Any]:
    return change_view(changes.decide(platform, principal, change_id, False, body.reason))
