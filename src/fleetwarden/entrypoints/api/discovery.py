"""``/api/v1/discovery``: scans, discovered hosts and their queue, schedules (R4).

``POST /discovery/scans`` starts a scan on a small pool of background threads owned by
this API process (``ScanJobs``, at most two at once; more is a 429) and answers 202 as
soon as ``services.discovery`` has checked the scope and recorded the scan, so scope and
input errors still come back synchronously; ``?wait=true`` answers with the full report
instead. Reports of recent runs stay in memory for ``GET /discovery/scans/{id}``; the
database keeps the scan record and every host, so nothing is lost when they are evicted
or the process restarts.

Also ``GET /devices/{id}/discovery``: what discovery knows about a registered device.

Device-supplied text (banners, titles, certificate subjects) is returned as JSON
strings: inert data for the client to escape for its own medium.

What it must not do: decide scope, roles or reconciliation (the services do), open a
unit of work, or run a scan on the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from fleetwarden.domain.durations import parse_duration
from fleetwarden.domain.inventory import ScanRecord
from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.jobs import BackgroundJobs
from fleetwarden.entrypoints.api.schemas import (
    CONFLICT,
    MAX_ID,
    NOT_FOUND,
    ApproveIn,
    DeviceDetail,
    ErrorBody,
    HostOut,
    HostPage,
    MergeIn,
    OverridesIn,
    RogueIn,
    ScanAccepted,
    ScanDetail,
    ScanIn,
    ScanList,
    ScanOptionsIn,
    ScanReportOut,
    ScheduleIn,
    ScheduleList,
    ScheduleOut,
)
from fleetwarden.entrypoints.discovery_views import host_row, host_view, scan_view, schedule_view
from fleetwarden.entrypoints.presenters import device_detail
from fleetwarden.errors import NotFound
from fleetwarden.ports import ScanOptions
from fleetwarden.services import devices, inventory, schedules
from fleetwarden.services import discovery as service
from fleetwarden.services.context import Principal
from fleetwarden.services.discovery import DiscoverRequest, DiscoveryReport

log = logging.getLogger("fleetwarden.api")

router = APIRouter(prefix="/discovery", tags=["discovery"])
device_router = APIRouter(prefix="/devices", tags=["discovery"])

MAX_RUNNING = 2
"""Scans one API process runs at once (each may use many sockets and a core)."""
KEEP_REPORTS = 16
"""Finished reports kept in memory for ``GET /discovery/scans/{id}``."""
MAX_HOST_PAGE = 500
MIN_EVERY = 60
MAX_EVERY = 366 * 86400

ScanId = Annotated[int, Path(ge=1, le=MAX_ID, description="Scan id")]
HostId = Annotated[int, Path(ge=1, le=MAX_ID, description="Discovered host id")]
ScheduleId = Annotated[int, Path(ge=1, le=MAX_ID, description="Schedule id")]
DeviceId = Annotated[int, Path(ge=1, le=MAX_ID, description="Device id")]

BUSY: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "This server already runs as many scans as it "
          "may; try again later (see Retry-After)"}}

# ------------------------------------------------------------------ scan jobs
class ScanJobs(BackgroundJobs[ScanRecord, DiscoveryReport]):
    """The background scans of one API process and the reports of recent ones."""

    def __init__(self, max_running: int = MAX_RUNNING, keep: int = KEEP_REPORTS) -> None:
        super().__init__(what="scan", list_path="/api/v1/discovery/scans",
                         key=lambda scan: scan.id or 0, max_running=max_running, keep=keep)


def _jobs(request: Request) -> ScanJobs:
    jobs: ScanJobs = request.app.state.scan_jobs
    return jobs


def _tenant(principal: Principal) -> int:
    return principal.tenant.id or 0


def _options(body: ScanOptionsIn) -> ScanOptions:
    return ScanOptions(ports=body.ports.strip(), udp=body.udp, profile=body.profile,
                       rate=body.rate)


def _report_view(report: DiscoveryReport) -> dict[str, Any]:
    return {"scan": scan_view(report.scan), "hosts": report.hosts,
            "warnings": list(report.warnings), "counts": dict(report.counts)}


# ---------------------------------------------------------------------- scans
@router.post(
    "/scans", status_code=status.HTTP_202_ACCEPTED, response_model=None,
    summary="Run a discovery scan",
    description="Checks the targets against the tenant's scope (its segments' CIDRs), "
    "records the scan, then scans in the background: 202 with the scan id and a "
    "Location to poll. With `wait=true` the scan runs before the answer, which is 200 "
    "with the full report (hosts in the `discover --format json` contract). Targets "
    "outside the scope are a 403 unless an admin sets `allow_outside_scope`.",
    responses={202: {"model": ScanAccepted, "description": "Scan started"},
               200: {"model": ScanReportOut, "description": "With wait=true: the report"},
               **NOT_FOUND, **BUSY})
def start_scan(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: ScanIn, request: Request,
    wait: Annotated[bool, Query(description="Answer when the scan is done, with its "
                                "report")] = False,
) -> JSONResponse:
    discover_request = DiscoverRequest(
        targets=tuple(t.strip() for t in body.targets),
        segment=body.segment.strip() if body.segment is not None else None,
        options=_options(body), register=body.register_hosts,
        allow_outside_scope=body.allow_outside_scope)

    def run(on_start: Callable[[ScanRecord], None]) -> DiscoveryReport:
        return service.discover(platform, principal, discover_request, on_start=on_start)

    job = _jobs(request).start(_tenant(principal), run)
    assert job.first is not None
    if wait:
        job.finished.wait()
        if job.error is not None:
            raise job.error
        assert job.result is not None
        return JSONResponse(jsonable_encoder(_report_view(job.result)))
    return JSONResponse(
        {"scan_id": job.first.id, "status": job.first.status},
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"{request.url.path.rstrip('/')}/{job.first.id}"})


@router.get("/scans", response_model=ScanList, summary="Recent scans, newest first")
def list_scans(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=inventory.MAX_PAGE)] = 50,
) -> dict[str, Any]:
    return {"items": [scan_view(s) for s in inventory.list_scans(platform, principal, limit)]}


@router.get("/scans/{scan_id}", response_model=ScanDetail, summary="Show a scan",
            description="`status` is running, done or failed. `hosts`, `warnings` and "
            "`counts` are the run's report while this server still holds it (recent scans "
            "it ran), else null: the hosts themselves are under /discovery/hosts.",
            responses=NOT_FOUND)
def get_scan(
    platform: CurrentPlatform, principal: CurrentPrincipal, scan_id: ScanId, request: Request,
) -> dict[str, Any]:
    scan = inventory.get_scan(platform, principal, scan_id)
    report = _jobs(request).result(_tenant(principal), scan_id,
                                   settle=5.0 if scan.status != "running" else 0.0)
    extra: dict[str, Any] = {"hosts": None, "warnings": None, "counts": None}
    if report is not None:
        extra = {"hosts": report.hosts, "warnings": list(report.warnings),
                 "counts": dict(report.counts)}
    return scan_view(scan) | extra


# ---------------------------------------------------------------------- hosts
@router.get("/hosts", response_model=HostPage, summary="Discovered hosts",
            description="`status=unregistered` is the queue of hosts waiting to be "
            "approved, merged or marked rogue.")
def list_hosts(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    host_status: Annotated[Literal["unregistered", "registered", "rogue", "all"],
                           Query(alias="status")] = "all",
    limit: Annotated[int, Query(ge=1, le=MAX_HOST_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict[str, Any]:
    found = inventory.list_hosts(platform, principal, host_status, limit=limit + 1,
                                 offset=offset)
    return {"items": [host_row(h) for h in found[:limit]],
            "next_offset": offset + limit if len(found) > limit else None}


@router.get("/hosts/{host_id}", response_model=HostOut, summary="Show a discovered host",
            responses=NOT_FOUND)
def get_host(
    platform: CurrentPlatform, principal: CurrentPrincipal, host_id: HostId
) -> dict[str, Any]:
    return host_view(inventory.get_host(platform, principal, host_id))


@router.put("/hosts/{host_id}/overrides", response_model=HostOut,
            summary="Override fingerprint attributes",
            description="Overrides win over every rule and are audited. `set` adds or "
            "replaces, `clear` removes; other overrides are kept.", responses=NOT_FOUND)
def set_overrides(
    platform: CurrentPlatform, principal: CurrentPrincipal, host_id: HostId,
    body: OverridesIn,
) -> dict[str, Any]:
    host = inventory.set_overrides(platform, principal, host_id, body.set, tuple(body.clear))
    return host_view(host)


@router.post("/hosts/{host_id}/approve", response_model=DeviceDetail,
             status_code=status.HTTP_201_CREATED, summary="Register a queued host",
             description="Creates the device from what was seen; the body fills or "
             "corrects fields. 409 unless the host is in the unregistered queue.",
             responses=NOT_FOUND | CONFLICT)
def approve(
    platform: CurrentPlatform, principal: CurrentPrincipal, host_id: HostId,
    body: ApproveIn, response: Response,
) -> dict[str, Any]:
    device = inventory.approve(platform, principal, host_id,
                               body.model_dump(mode="json", exclude_none=True))
    response.headers["Location"] = f"/api/v1/devices/{device.id}"
    return device_detail(device, principal.tenant.name)


@router.post("/hosts/{host_id}/merge", response_model=DeviceDetail,
             summary="Merge a queued host into a registered device",
             description="The host is that device: its addresses are added to it.",
             responses=NOT_FOUND | CONFLICT)
def merge(
    platform: CurrentPlatform, principal: CurrentPrincipal, host_id: HostId, body: MergeIn,
) -> dict[str, Any]:
    device = inventory.merge(platform, principal, host_id, body.device_id, body.note)
    return device_detail(device, principal.tenant.name)


@router.post("/hosts/{host_id}/rogue", response_model=HostOut,
             summary="Mark a queued host rogue",
             description="Kept out of the register; raises an alert whenever seen again.",
             responses=NOT_FOUND | CONFLICT)
def rogue(
    platform: CurrentPlatform, principal: CurrentPrincipal, host_id: HostId, body: RogueIn,
) -> dict[str, Any]:
    return host_view(inventory.mark_rogue(platform, principal, host_id, body.reason))


@device_router.get("/{device_id}/discovery", response_model=HostOut,
                   summary="What discovery knows about a device",
                   description="404 when the device does not exist or was never seen.",
                   responses=NOT_FOUND)
def device_discovery(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId
) -> dict[str, Any]:
    devices.get_device(platform, principal, device_id)  # "no such device" comes first
    host = inventory.host_of_device(platform, principal, device_id)
    if host is None:
        raise NotFound(f"device {device_id} has not been seen by discovery")
    return host_view(host)


# ------------------------------------------------------------------ schedules
@router.get("/schedules", response_model=ScheduleList, summary="Scan schedules")
def list_schedules(platform: CurrentPlatform, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"items": [schedule_view(s) for s in schedules.list_schedules(platform, principal)]}


@router.post("/schedules", response_model=ScheduleOut, status_code=status.HTTP_201_CREATED,
             summary="Scan a segment every so often",
             description="`fleetwarden serve` runs due schedules. One per segment (409).",
             responses=NOT_FOUND | CONFLICT)
def add_schedule(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: ScheduleIn,
) -> dict[str, Any]:
    every = parse_duration(body.every, option="every", minimum=MIN_EVERY, maximum=MAX_EVERY)
    stored = schedules.add_schedule(platform, principal, body.segment.strip(), every,
                                    _options(body))
    return schedule_view(stored)


@router.delete("/schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a schedule", responses=NOT_FOUND)
def remove_schedule(
    platform: CurrentPlatform, principal: CurrentPrincipal, schedule_id: ScheduleId,
) -> Response:
    schedules.remove_schedule(platform, principal, schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
