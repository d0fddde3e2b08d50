"""``/api/v1/vulns``: findings (list, per device, report, export), triage, matching, and
the tenant's response times (``PUT /api/v1/settings/vulns``) (R5).

Parse the query or body into ``services.vulns`` arguments, render with
``entrypoints.vulns_views`` (the ``vulns list --format json`` contract) or, for
exports, ``entrypoints.vuln_exports`` (CycloneDX VDR/VEX, CSV). Lists page by offset
like ``/discovery/hosts``: ``next_offset`` is null on the last page, and ``stale``
says feeds were imported after the last matching run.

What it must not do: decide roles, priorities or what a valid decision is (the
services and ``domain.findings`` do), or open a unit of work. Every route is a plain
``def``, so FastAPI runs it in its threadpool: a long matching run does not block the
event loop.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from fleetwarden.domain.findings import Finding, FindingQuery, FindingStatus
from fleetwarden.entrypoints.api.auth import CurrentPlatform, CurrentPrincipal
from fleetwarden.entrypoints.api.schemas import (
    MAX_ID,
    NOT_FOUND,
    FindingPageOut,
    MatchIn,
    MatchOut,
    TriageIn,
    TriageOutcome,
    VulnReportOut,
    VulnSettingsIn,
    VulnSettingsOut,
)
from fleetwarden.entrypoints.vulns_views import finding_view
from fleetwarden.services import vulns as service
from fleetwarden.services.context import Platform, Principal

router = APIRouter(prefix="/vulns", tags=["vulnerabilities"])
device_router = APIRouter(prefix="/devices", tags=["vulnerabilities"])
settings_router = APIRouter(prefix="/settings", tags=["settings"])

MAX_PAGE = 1000
EXPORT_PAGE = service.MAX_LIMIT
"""Findings read per query while collecting an export."""
MAX_UNDECIDED_SHOWN = 20
CYCLONEDX_JSON = "application/vnd.cyclonedx+json"
CSV = "text/csv; charset=utf-8"

DeviceId = Annotated[int, Path(ge=1, le=MAX_ID, description="Device id")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Findings to skip: the "
                              "`next_offset` of the previous page")]
DeviceFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this device")]


def _vuln_id(value: str) -> str:
    """CVE ids as NVD writes them (upper case); any other id as given."""
    value = value.strip()
    return value.upper() if value[:4].upper() == "CVE-" else value


def finding_filters(
    cve: Annotated[str | None, Query(min_length=1, max_length=64, description="Only this "
                                     "vulnerability (CVE, GHSA, ... id)")] = None,
    kev: Annotated[bool, Query(description="Only vulnerabilities in CISA's Known Exploited "
                               "Vulnerabilities catalogue")] = False,
    priority: Annotated[list[Annotated[str, Query(pattern=r"^[Pp]?[1-4]$")]], Query(
        max_length=4, description="P1, P2, P3 or P4 (repeatable: any of them)")]
    = [],  # noqa: B006 - FastAPI query list
    overdue: Annotated[bool, Query(description="Only findings past their due date that "
                                   "still need remediation")] = False,
    status: Annotated[list[FindingStatus], Query(
        max_length=7, description="open, affected, not_affected, false_positive, "
        "risk_accepted, suppressed or fixed (repeatable; default: all but fixed)")]
    = [],  # noqa: B006 - FastAPI query list
    site: Annotated[str | None, Query(min_length=1, max_length=128,
                                      description="Only devices at this site (its name)")]
    = None,
) -> FindingQuery:
    """The filters shared by the list, device, report and export endpoints."""
    return FindingQuery(
        vulnerability_id=_vuln_id(cve) if cve and cve.strip() else None, kev=kev,
        priorities=tuple(sorted({int(p[-1]) for p in priority})), overdue=overdue,
        statuses=tuple(dict.fromkeys(status)), site=site.strip() or None if site else None)


Filters = Annotated[FindingQuery, Depends(finding_filters)]


def _page(platform: Platform, principal: Principal, query: FindingQuery) -> dict[str, Any]:
    page = service.findings(platform, principal, query)
    return {"items": [finding_view(f) for f in page.items],
            "next_offset": page.offset + page.limit if page.more else None,
            "stale": page.stale}


# ------------------------------------------------------------------------ findings
@router.get("", response_model=FindingPageOut, summary="Vulnerability findings",
            description="One item per vulnerability on a device, most urgent first "
            "(priority, then KEV, then first seen), with the reasons for its priority and "
            "its due date. Suppressed and triaged findings are listed, never hidden. Pass "
            "`next_offset` back as `offset`, keeping the same filters.",
            responses=NOT_FOUND)
def list_findings(
    platform: CurrentPlatform, principal: CurrentPrincipal, filters: Filters,
    device_id: DeviceFilter = None, limit: Limit = 100, offset: Offset = 0,
) -> dict[str, Any]:
    return _page(platform, principal,
                 replace(filters, device_id=device_id, limit=limit, offset=offset))


@device_router.get("/{device_id}/vulns", response_model=FindingPageOut,
                   summary="Vulnerability findings of a device",
                   description="As `GET /vulns?device_id=`; 404 when there is no such "
                   "device.", responses=NOT_FOUND)
def device_findings(
    platform: CurrentPlatform, principal: CurrentPrincipal, device_id: DeviceId,
    filters: Filters, limit: Limit = 100, offset: Offset = 0,
) -> dict[str, Any]:
    return _page(platform, principal,
                 replace(filters, device_id=device_id, limit=limit, offset=offset))


@router.get("/report", response_model=VulnReportOut, summary="Findings counted",
            description="Per vulnerability (`by=cve`), model or site, most urgent first: "
            "devices and findings, how many still need remediation, how many are overdue, "
            "and the active findings per priority. Fixed findings are left out; the "
            "`status` filter does not apply.", response_model_exclude_unset=True)
def report(
    platform: CurrentPlatform, principal: CurrentPrincipal, filters: Filters,
    by: Annotated[Literal["cve", "model", "site"], Query(description="What to count by")]
    = "cve",
    device_id: DeviceFilter = None,
) -> dict[str, Any]:
    rows = service.report(platform, principal, by, replace(filters, device_id=device_id))
    return {"by": by, "items": rows}


def _all_findings(platform: Platform, principal: Principal,
                  query: FindingQuery) -> list[Finding]:
    found: list[Finding] = []
    offset = 0
    while True:
        page = service.findings(platform, principal,
                                replace(query, limit=EXPORT_PAGE, offset=offset))
        found += page.items
        if not page.more:
            return found
        offset += EXPORT_PAGE


@router.get(
    "/export", response_class=Response, summary="Export findings",
    description="Every finding that matches the filters, as a CycloneDX "
    "vulnerability disclosure report (`vdr`), a CycloneDX VEX document (`vex`: what was "
    "decided about each) or CSV, with a download file name.",
    responses={200: {"description": "The document",
                     "content": {CYCLONEDX_JSON: {"schema": {"type": "object"}},
                                 "text/csv": {"schema": {"type": "string"}}}},
               **NOT_FOUND})
def export(
    platform: CurrentPlatform, principal: CurrentPrincipal, filters: Filters,
    fmt: Annotated[Literal["vdr", "vex", "csv"], Query(
        alias="format", description="vdr or vex (CycloneDX JSON), or csv")] = "vdr",
    device_id: DeviceFilter = None,
) -> Response:
    # The renderers live beside the CLI's; imported here so the API starts without them.
    from fleetwarden.entrypoints.vuln_exports import csv_text, cyclonedx_vdr, cyclonedx_vex

    found = _all_findings(platform, principal, replace(filters, device_id=device_id))
    now = platform.now()
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        return Response(csv_text(found), media_type=CSV, headers=_attachment(
            f"fleetwarden-findings-{stamp}.csv"))
    render = cyclonedx_vdr if fmt == "vdr" else cyclonedx_vex
    doc = render(found, tenant=principal.tenant.name, now=now)
    return JSONResponse(jsonable_encoder(doc), media_type=CYCLONEDX_JSON,
                        headers=_attachment(f"fleetwarden-{fmt}-{stamp}.cdx.json"))


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


# ------------------------------------------------------------------------- triage
@router.post("/triage", response_model=TriageOutcome, summary="Triage a finding",
             description="Record a decision about a vulnerability on a device, or on every "
             "device running a firmware image (`model` + `firmware`). not_affected needs a "
             "justification, false_positive a note, risk_accepted an approver other than "
             "you and an expiry; `open` withdraws an earlier decision. Audited. 404 when "
             "the vulnerability is not a finding there.", responses=NOT_FOUND)
def triage(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: TriageIn,
) -> dict[str, Any]:
    expires = body.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    done = service.triage(
        platform, principal, body.vulnerability_id, body.status.strip(),
        device_id=body.device_id, model=body.model, firmware=body.firmware,
        justification=body.justification.strip() if body.justification else None,
        note=body.note, approver=body.approver, expires_at=expires)
    d = done.decision
    return {
        "vulnerability_id": done.vulnerability_id, "subject": done.subject,
        "status": d.status.value,
        "justification": d.justification.value if d.justification else None,
        "note": d.note if d.status is not FindingStatus.OPEN else None,
        "approver": d.approver,
        "expires_at": d.expires_at.isoformat() if d.approver and d.expires_at else None,
        "decided_by": done.decided_by, "before": done.before,
    }


# ----------------------------------------------------------------------- matching
@router.post("/match", response_model=MatchOut, summary="Bring findings up to date",
             description="Matches the inventory against the feeds: by default a catch-up "
             "with what was imported since the last run (the first run is full). Engineers "
             "and admins. Can take seconds on a large estate. Audited.")
def match(
    platform: CurrentPlatform, principal: CurrentPrincipal,
    body: Annotated[MatchIn | None, Body(description="Optional: `{\"full\": true}` to "
                                         "re-match everything")] = None,
) -> dict[str, Any]:
    run, mode = service.match(platform, principal, full=body.full if body else False)
    return {"mode": mode, **run.view(),
            "undecided_examples": run.undecided[:MAX_UNDECIDED_SHOWN]}


# ----------------------------------------------------------------------- settings
@settings_router.put("/vulns", response_model=VulnSettingsOut,
                     summary="Set the response time per priority",
                     description="Days to remediate a P1, P2, P3 and P4 finding; due dates "
                     "and overdue follow at once. Admins only. Audited.")
def set_vuln_settings(
    platform: CurrentPlatform, principal: CurrentPrincipal, body: VulnSettingsIn,
) -> dict[str, Any]:
    tenant = service.set_response_days(platform, principal, body.response_days)
    return {"response_days": list(service.response_days(tenant.settings))}
