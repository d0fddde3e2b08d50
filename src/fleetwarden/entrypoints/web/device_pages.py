"""``/ui/devices``: the register as a filtered, sorted, keyset-paged table; its CSV
export (``/ui/devices.csv``, streamed in batches); the user's saved filters.

One page is one bounded query (page size + 1 rows, to know whether there is a next
page) plus the small site, segment and model lists for the filter form; the total is
counted only when asked (``count=1``), since counting a million rows is not free.

Must not: load the register whole, count it unasked, or take a saved filter's query
string from anywhere but ``device_listing.canonical``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.model import Device, DeviceModel, Segment, Site
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.vocab import Criticality, DeviceType
from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.api.cursor import MAX_CURSOR, MAX_ID
from fleetwarden.entrypoints.web import device_listing as listing
from fleetwarden.entrypoints.web.labels import vendor_model
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session, redirect, require_csrf
from fleetwarden.errors import InputError, NotFound
from fleetwarden.services import devices as service
from fleetwarden.services import registry, saved_filters
from fleetwarden.services.context import Platform, Principal

router = APIRouter(include_in_schema=False)

PAGE = "devices"
#: Sites, segments and models offered in the filter form (a larger register still
#: filters by any id given in the address).
MAX_OPTIONS = 500
EXPORT_BATCH = service.MAX_PAGE
MAX_EXPORT = 1_000_000
CSV = "text/csv; charset=utf-8"
NOTICES = {"filter-saved": "Filter saved.", "filter-deleted": "Saved filter deleted."}
FilterId = Annotated[int, Path(ge=1, le=MAX_ID)]


@dataclass(frozen=True, slots=True)
class Listed:
    devices: list[Device]
    next: str | None
    previous: str | None
    total: int | None
    by_identifier: bool
    """Found by exact IP or MAC (one short list, no paging)."""


def _options(platform: Platform, principal: Principal) -> dict[str, list[tuple[int, str]]]:
    def listed(kind: RecordKind, sort: str) -> list[Any]:
        return registry.list_records(platform, principal, kind, limit=MAX_OPTIONS,
                                     sort=sort)[0]

    return {
        "sites": [(r.id, r.name) for r in listed(RecordKind.SITE, "name")
                  if isinstance(r, Site) and r.id is not None],
        "segments": [(r.id, r.name) for r in listed(RecordKind.SEGMENT, "name")
                     if isinstance(r, Segment) and r.id is not None],
        "models": [(r.id, vendor_model(r.vendor, r.model))
                   for r in listed(RecordKind.MODEL, "vendor")
                   if isinstance(r, DeviceModel) and r.id is not None],
    }


def _check_ids(platform: Platform, principal: Principal, f: listing.ListFilters,
               options: dict[str, list[tuple[int, str]]]) -> None:
    """An id in the address that is none of the tenant's is a bad filter, not an empty
    page (looked up only when the short option lists do not hold it)."""
    for wanted, key, kind in ((f.site, "sites", RecordKind.SITE),
                              (f.segment, "segments", RecordKind.SEGMENT),
                              (f.model, "models", RecordKind.MODEL)):
        if wanted is None or any(i == wanted for i, _ in options[key]):
            continue
        try:
            registry.get(platform, principal, kind, wanted)
        except NotFound:
            raise InputError(f"{kind.value}: no {kind.value} has id {wanted}") from None


def _listed(platform: Platform, principal: Principal, f: listing.ListFilters,
            cursor: str, before: str, count: bool) -> Listed:
    found = f.lookup()
    if found is not None:
        matches = [d for d in service.lookup(platform, principal, *found) if f.keeps(d)]
        return Listed(matches[:f.limit], None, None, len(matches), True)
    if before:
        got = service.list_devices(platform, principal, f.device_query(
            limit=f.limit + 1, descending=not f.descending,
            after=listing.decode_previous(f, before))).items
        items = list(reversed(got[:f.limit]))
        return Listed(
            items, listing.next_cursor(f, items[-1]) if items else None,
            listing.previous_cursor(f, items[0]) if len(got) > f.limit else None,
            None, False)
    after = listing.decode_next(f, cursor) if cursor else None
    result = service.list_devices(platform, principal,
                                  f.device_query(limit=f.limit + 1, after=after),
                                  with_total=count)
    items = result.items[:f.limit]
    return Listed(
        items, listing.next_cursor(f, items[-1]) if len(result.items) > f.limit else None,
        listing.previous_cursor(f, items[0]) if cursor and items else None,
        result.total, False)


def _raw(request: Request) -> dict[str, str]:
    return {k: v[:MAX_CURSOR + 1] for k, v in request.query_params.items()}


@router.get("/ui/devices", response_class=HTMLResponse)
def devices_page(request: Request, session: Session) -> HTMLResponse:
    platform, principal = fleetwarden_app(request).platform, session.principal
    raw = _raw(request)
    options = _options(platform, principal)
    ctx: dict[str, Any] = {
        **options, "types": [t.value for t in DeviceType],
        "states": [s.value for s in LifecycleState],
        "criticalities": [c.value for c in Criticality], "sorts": listing.SORTS,
        "page_sizes": listing.PAGE_SIZES,
        "saved": saved_filters.list_filters(platform, principal, PAGE),
        "notice": NOTICES.get(raw.get("done", "")),
    }
    try:
        f = listing.parse(raw)
        _check_ids(platform, principal, f, options)
        listed = _listed(platform, principal, f, raw.get("cursor", ""), raw.get("before", ""),
                         raw.get("count") == "1")
    except InputError as exc:
        message = str(exc)
        return page(request, "ui/devices.html", {
            **ctx, "f": listing.ListFilters(), "listed": None,
            "error": message[:1].upper() + message[1:] + "."}, session=session, status=400)
    return page(request, "ui/devices.html", {**ctx, "f": f, "listed": listed},
                session=session)


def _export(platform: Platform, principal: Principal,
            f: listing.ListFilters) -> Iterator[str]:
    tenant = principal.tenant.name
    yield listing.csv_lines((), tenant, header=True)
    found = f.lookup()
    if found is not None:
        matches = [d for d in service.lookup(platform, principal, *found) if f.keeps(d)]
        yield listing.csv_lines(matches, tenant, header=False)
        return
    sent = 0
    after: tuple[Any, int] | None = None
    while sent < MAX_EXPORT:
        batch = service.list_devices(platform, principal, f.device_query(
            limit=min(EXPORT_BATCH, MAX_EXPORT - sent), after=after))
        if batch.items:
            yield listing.csv_lines(batch.items, tenant, header=False)
        sent += len(batch.items)
        if batch.next_cursor is None:
            return
        after = batch.next_cursor


@router.get("/ui/devices.csv")
def devices_csv(request: Request, session: Session) -> Response:
    """Every device the filter selects (up to a million), in the import format."""
    platform, principal = fleetwarden_app(request).platform, session.principal
    f = listing.parse(_raw(request))
    _check_ids(platform, principal, f, {"sites": [], "segments": [], "models": []})
    response = StreamingResponse(_export(platform, principal, f), media_type=CSV, headers={
        "Content-Disposition": 'attachment; filename="devices.csv"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
    return response


@router.post("/ui/devices/filters")
def save_filter(
    request: Request, session: Session,
    csrf: Annotated[str, Form(max_length=128)] = "",
    name: Annotated[str, Form(max_length=saved_filters.MAX_NAME * 2)] = "",
    query: Annotated[str, Form(max_length=saved_filters.MAX_QUERY)] = "",
) -> Response:
    require_csrf(request, session, csrf)
    kept = listing.canonical(query)
    saved_filters.save_filter(fleetwarden_app(request).platform, session.principal, PAGE,
                              name, kept)
    return redirect("/ui/devices?" + (f"{kept}&" if kept else "") + "done=filter-saved")


@router.post("/ui/devices/filters/{filter_id}/delete")
def delete_filter(
    request: Request, session: Session, filter_id: FilterId,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    require_csrf(request, session, csrf)
    saved_filters.delete_filter(fleetwarden_app(request).platform, session.principal,
                                filter_id)
    return redirect("/ui/devices?done=filter-deleted")
