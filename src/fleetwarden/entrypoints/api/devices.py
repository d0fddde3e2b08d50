"""``/api/v1/devices``: list, register, show, edit, delete, transition, history, lookup.

Parse the request, call ``services.devices`` (or ``services.audit`` for history),
render with ``entrypoints.presenters``. The bulk import lives in ``imports.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from fleetwarden.domain.identifiers import IdentifierKind
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.vocab import DeviceType
from fleetwarden.entrypoints.api import cursor as cursors
from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.schemas import (
    CONFLICT,
    MAX_ID,
    NOT_FOUND,
    DeviceCreate,
    DeviceDetail,
    DeviceList,
    DevicePage,
    DevicePatch,
    EventList,
    TransitionIn,
)
from fleetwarden.entrypoints.presenters import device_detail, device_row, event_view
from fleetwarden.errors import InputError, NotFound
from fleetwarden.ports import DeviceQuery
from fleetwarden.services import audit
from fleetwarden.services import devices as service
from fleetwarden.services.context import Platform, Principal

router = APIRouter(prefix="/devices", tags=["devices"])

DeviceId = Annotated[int, Path(ge=1, le=MAX_ID, description="Device id")]
Reason = Annotated[str, Query(min_length=1, max_length=2000, description="Why (audited).")]


def _filter_id(platform: Platform, principal: Principal, kind: RecordKind,
               ref: str | None) -> int | None:
    if ref is None:
        return None
    try:
        return service.resolve_site_or_segment(platform, principal, kind, ref.strip())
    except NotFound:
        raise InputError(f"{kind.value}: unknown {kind.value} {ref[:60]!r}") from None


@router.get("", response_model=DevicePage, summary="List devices",
            description="Filter, sort and page through the register. Pages are keyset "
            "cursors: pass `next_cursor` back as `cursor`, keeping the same filters and "
            "sort.")
def list_devices(
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    state: Annotated[LifecycleState | None, Query(description="Lifecycle state")] = None,
    device_type: Annotated[DeviceType | None, Query(alias="type",
                                                    description="Device type")] = None,
    site: Annotated[str | None, Query(max_length=128, description="Site name or id")] = None,
    segment: Annotated[str | None, Query(max_length=128,
                                         description="Segment name or id")] = None,
    q: Annotated[str | None, Query(max_length=128, description="Substring of name, "
                                   "serial or hostname")] = None,
    sort: Annotated[str, Query(pattern=r"^-?(id|name|last_seen)$",
                               description="id, name or last_seen; prefix - for "
                               "descending")] = "id",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE, description="Page size")] = 50,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR,
                                        description="`next_cursor` of the previous page")]
    = None,
    include_total: Annotated[bool, Query(description="Also count all matching devices "
                                         "(slower on large registers)")] = False,
) -> dict[str, Any]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    query = DeviceQuery(
        state=state.value if state else None,
        device_type=device_type.value if device_type else None,
        site_id=_filter_id(platform, principal, RecordKind.SITE, site),
        segment_id=_filter_id(platform, principal, RecordKind.SEGMENT, segment),
        search=q.strip() or None if q else None,
        sort=key,
        descending=descending,
        limit=limit,
        after=cursors.decode(cursor, key, descending) if cursor else None,
    )
    page = service.list_devices(platform, principal, query, with_total=include_total)
    tenant = principal.tenant.name
    return {
        "items": [device_row(d, tenant) for d in page.items],
        "next_cursor": (cursors.encode(key, descending, page.next_cursor)
                        if page.next_cursor else None),
        "total": page.total,
    }


@router.post("", response_model=DeviceDetail, status_code=status.HTTP_201_CREATED,
             summary="Register a device", responses=CONFLICT)
def create_device(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: DeviceCreate,
    request: Request, response: Response,
) -> dict[str, Any]:
    device = service.create_device(platform, principal,
                                   body.model_dump(mode="json", exclude_unset=True))
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{device.id}"
    return device_detail(device, principal.tenant.name)


@router.get("/lookup", response_model=DeviceList, summary="Find devices by identifier",
            description="Exact match on a normalised identifier (a MAC in any spelling "
            "finds the device).")
def lookup(
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    kind: Annotated[IdentifierKind, Query(description="Identifier kind")],
    value: Annotated[str, Query(min_length=1, max_length=256)],
) -> dict[str, Any]:
    found = service.lookup(platform, principal, kind.value, value)
    return {"items": [device_row(d, principal.tenant.name) for d in found]}


@router.get("/{device_id}", response_model=DeviceDetail, summary="Show a device",
            responses=NOT_FOUND)
def get_device(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId
) -> dict[str, Any]:
    return device_detail(service.get_device(platform, principal, device_id),
                         principal.tenant.name)


@router.patch("/{device_id}", response_model=DeviceDetail, summary="Edit a device",
              responses=NOT_FOUND | CONFLICT)
def update_device(
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
    device_id: DeviceId,
    body: DevicePatch,  # type: ignore[valid-type]
    change_request: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Approved change "
                                                "request, when the tenant requires one")]
    = None,
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> dict[str, Any]:
    raw = body.model_dump(mode="json", exclude_unset=True)  # type: ignore[attr-defined]
    device = service.update_device(platform, principal, device_id, raw,
                                   change_request=change_request, reason=reason)
    return device_detail(device, principal.tenant.name)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a device that never went live",
               description="Refused with 409 for devices that were ever in service: "
               "decommission and dispose of those with a transition.",
               responses=NOT_FOUND | CONFLICT)
def delete_device(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId,
    reason: Reason,
) -> Response:
    service.delete_device(platform, principal, device_id, reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{device_id}/transition", response_model=DeviceDetail,
             summary="Move a device through its lifecycle",
             description="Illegal moves are refused with 409 and the reason.",
             responses=NOT_FOUND | CONFLICT)
def transition(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId,
    body: TransitionIn,
) -> dict[str, Any]:
    device = service.transition(platform, principal, device_id, body.state.value, body.reason,
                                change_request=body.change_request)
    return device_detail(device, principal.tenant.name)


@router.get("/{device_id}/history", response_model=EventList,
            summary="Audit events of a device", responses=NOT_FOUND)
def history(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId
) -> dict[str, Any]:
    # history() alone cannot tell "no events" from "not yours": check the device first.
    service.get_device(platform, principal, device_id)
    events = audit.history(platform, principal, "device", device_id)
    return {"items": [event_view(e) for e in events]}
