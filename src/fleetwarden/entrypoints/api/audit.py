"""``/api/v1/audit``: verify the tenant's hash chain, page through its events.

Auditors and admins only; ``services.audit`` enforces it (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.schemas import MAX_ID, EventPage, VerifyOut
from fleetwarden.entrypoints.presenters import event_view
from fleetwarden.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])
MAX_EVENTS = 1000


@router.get("/verify", response_model=VerifyOut, summary="Verify the audit chain",
            description="Checks every event's hash link and every signed checkpoint. "
            "`ok: false` with `first_break` names the first broken link.")
def verify(platform: CurrentPlatform, principal: CurrentPrincipal) -> dict[str, Any]:
    report = audit.verify(platform, principal)
    brk = report.first_break
    return {
        "ok": report.ok,
        "events_checked": report.events_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "last_seq": report.last_seq,
        "last_hash": report.last_hash,
        "first_break": {"seq": brk.seq, "reason": brk.reason} if brk else None,
    }


@router.get("/events", response_model=EventPage, summary="Audit events, oldest first")
def events(
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    after_seq: Annotated[int, Query(ge=0, le=MAX_ID,
                                    description="Return events after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> dict[str, Any]:
    stream = audit.export(platform, principal, after_seq)
    items: list[dict[str, Any]] = []
    more = False
    try:
        for event in stream:
            if len(items) == limit:
                more = True
                break
            items.append(event_view(event))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # ends the read transaction now, not at garbage collection
    return {"items": items, "next_after_seq": items[-1]["seq"] if more else None}
