"""``/ui/compliance``: frameworks, then one framework's requirements with status counts
and % met, then one requirement's devices with the evidence behind each status (check
results, attestations with their files, waivers); ``/ui/evidence/{id}`` downloads an
evidence file for a signed-in user, with the API's safe headers.

The catalogue list costs nothing and shows each framework's % met from the latest daily
summary snapshot (``services.overview.latest_snapshot``: a few rows), with a bar chart;
a framework or requirement view runs the compliance report for that one framework
(every device in scope once: ~24 s per 100,000 devices), once per request, and only
when asked: "% met now for every framework" is a button, and a site narrows every view
(the daily summary covers every site, so it is shown only for the whole estate).

Must not: compute a status itself (``services.compliance_report`` does), or show device
text (check evidence, banners) other than as escaped text.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from fleetwarden.domain.compliance.results import Status
from fleetwarden.domain.model import Site
from fleetwarden.domain.records import RecordKind
from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.api.compliance import download_evidence
from fleetwarden.entrypoints.web import charts
from fleetwarden.entrypoints.web import queues_common as q
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session
from fleetwarden.errors import InputError
from fleetwarden.services import compliance_browse, registry
from fleetwarden.services.compliance_report import compliance_report
from fleetwarden.services.overview import Snapshot, latest_snapshot
from fleetwarden.services.signin import WebSession

router = APIRouter(include_in_schema=False)

PATH = "/ui/compliance"
ENTRIES = 50
STATUSES = (Status.FAIL, Status.ERROR, Status.MANUAL, Status.WAIVED, Status.PASS,
            Status.NOT_APPLICABLE)
MAX_SITES = 1000
MAX_DETAILS = 4000


def _sites(platform: Any, session: WebSession) -> list[str]:
    items, _ = registry.list_records(platform, session.principal, RecordKind.SITE,
                                     limit=MAX_SITES, sort="name")
    return [s.name for s in items if isinstance(s, Site)]


def _site(value: str | None, sites: list[str]) -> str | None:
    site = q.text(value, "site")
    if site is not None and site not in sites:
        raise InputError("site: not a site in the register")
    return site


def _requirement_path(requirement_id: str) -> str:
    return f"{PATH}/requirement/{quote(requirement_id, safe='/')}"


def _counts(counts: Any) -> dict[str, int]:
    return {s.value: int(counts.get(s, 0)) for s in STATUSES}


@router.get(PATH, response_class=HTMLResponse)
def compliance(request: Request, session: Session, framework: str | None = None,
               site: str | None = None, all: str | None = None) -> Response:  # noqa: A002
    platform = fleetwarden_app(request).platform
    principal = session.principal
    sites = _sites(platform, session)
    ctx: dict[str, Any] = {"sites": sites, "site": None, "framework": None,
                           "frameworks": compliance_browse.frameworks(platform, principal)}
    try:
        ctx["site"] = chosen = _site(site, sites)
        every = q.flag(all, "all")
    except InputError as exc:
        ctx["error"] = q.sentence(exc)
        return page(request, "ui/compliance.html", ctx, session=session, status=400)
    if framework:
        report = compliance_browse.framework_report(platform, principal, framework,
                                                    site=chosen)
        fw = report.frameworks[0]
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in fw.requirements:
            groups.setdefault(r.group, []).append({
                "id": r.requirement_id, "title": r.title, "mandatory": r.mandatory,
                "status": r.status.value, "counts": _counts(r.counts),
                "percent": compliance_browse.percent_met(r.counts),
                "automated": bool(r.checks),
                "href": q.link(_requirement_path(r.requirement_id), {"site": chosen}),
            })
        ctx.update(framework=fw, report=report, groups=groups, percent=fw.compliance_percent,
                   statuses=[s.value for s in STATUSES])
    else:
        if chosen is None:
            ctx.update(_daily(latest_snapshot(platform, principal)))
        if every:
            report = compliance_report(platform, principal, site=chosen, entry_limit=0)
            ctx["percents"] = {f.id: f.compliance_percent for f in report.frameworks}
            ctx["report"] = report
    return page(request, "ui/compliance.html", ctx, session=session)


def _daily(snapshot: Snapshot | None) -> dict[str, Any]:
    """The daily summary's % met per framework, its change since the summary before,
    and a bar chart of them."""
    if snapshot is None:
        return {"snapshot": None}
    measured = [f for f in snapshot.compliance if f.percent is not None]
    return {
        "snapshot": snapshot,
        "daily": {f.id: {"percent": f.percent,
                         "change": None if f.percent is None or f.previous is None
                         else round(f.percent - f.previous, 1)}
                  for f in snapshot.compliance},
        "daily_chart": charts.bars(
            [charts.Bar(f.id, f.percent or 0.0,
                        q.link(PATH, {"framework": f.id}), text=f"{f.percent:.1f} %",
                        colour=charts.PALETTE[2]) for f in measured],
            title=f"Device-requirement pairs met per framework, {snapshot.day.isoformat()}",
            scale_to=100, width=520) if measured else None,
    }


def _evidence(e: Any, files: dict[str, int]) -> dict[str, Any]:
    details = ""
    if e.details:
        details = json.dumps(e.details, indent=1, sort_keys=True, default=str)
        if len(details) > MAX_DETAILS:
            details = details[:MAX_DETAILS] + "\n…"
    return {"kind": e.kind, "summary": q.inert(e.summary, 1000), "method": e.method,
            "tool": e.tool, "collected_at": e.collected_at, "expires_at": e.expires_at,
            "by": e.by, "details": details,
            "files": [{"name": q.inert(name, 200), "sha256": sha, "id": files.get(sha)}
                      for name, sha in e.files]}


@router.get(PATH + "/requirement/{requirement_id:path}", response_class=HTMLResponse)
def requirement(request: Request, session: Session, requirement_id: str,
                site: str | None = None, manual: str | None = None) -> Response:
    platform = fleetwarden_app(request).platform
    sites = _sites(platform, session)
    try:
        chosen = _site(site, sites)
        list_manual = q.flag(manual, "manual")
    except InputError as exc:
        return page(request, "ui/error.html", {
            "heading": "Bad request", "message": q.sentence(exc),
            "back": PATH}, session=session, status=400)
    detail = compliance_browse.requirement_detail(
        platform, session.principal, requirement_id, site=chosen, entries=ENTRIES,
        list_manual=list_manual)
    files = {f.sha256: f.id for a in detail.attestations for f in a.files
             if f.id is not None}
    result = detail.result
    return page(request, "ui/compliance_requirement.html", {
        "d": detail, "r": result, "site": chosen, "sites": sites, "manual": list_manual,
        "counts": _counts(result.counts), "percent": compliance_browse.percent_met(
            result.counts),
        "entries": [{"subject_id": e.subject_id, "name": q.inert(e.subject_name, 120),
                     "ip": e.ip, "site": e.site, "status": e.status.value,
                     "severity": e.severity.value if e.severity else "",
                     "check": e.check_id, "reason": q.inert(e.reason, 1000),
                     "evidence": [_evidence(x, files) for x in e.evidence]}
                    for e in result.entries],
        "omitted": result.entries_omitted,
        "framework_href": q.link(PATH, {"framework": detail.framework.id, "site": chosen}),
        "manual_href": q.link(_requirement_path(requirement_id),
                              {"site": chosen, "manual": not list_manual}),
        "statuses": [s.value for s in STATUSES],
    }, session=session)


@router.get("/ui/evidence/{file_id}")
def evidence_file(request: Request, session: Session, file_id: int) -> Response:
    """The API's download (attachment, nosniff, sandboxing CSP), for a signed-in user."""
    return download_evidence(fleetwarden_app(request).platform, session.principal, file_id)
