"""``/ui/vulns``: vulnerability findings, KEV first and by due date, with triage in place;
``/ui/vulns/summary``: the same findings counted by model or by site; the user's saved
filters of the list.

Filters are the query parameters the overview links to: ``kev=1``, ``priority=P1..P4``
(repeatable), ``overdue=1``, ``status`` (repeatable), ``site``, ``model`` (VENDOR/MODEL
or id), ``cve``. A bad value shows the page with a one-line error (400). Pages come from
``services.vulns.findings`` (offset paging, at most ``PAGE`` rows read per page).

Must not: decide what a valid triage is (``domain.findings.decide`` via the service) or
who may triage (the service refuses a viewer's forged post), or echo query-string text
as a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from fleetwarden.domain.findings import TRIAGE_CHOICES, FindingQuery, FindingStatus
from fleetwarden.domain.model import DeviceModel, Site
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.vulns import VexJustification
from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.web import queues_common as q
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session, redirect, require_csrf
from fleetwarden.errors import FleetwardenError, InputError, NotFound, PermissionDenied
from fleetwarden.services import registry, saved_filters, vulns
from fleetwarden.services.signin import WebSession

router = APIRouter(include_in_schema=False)

PATH = "/ui/vulns"
PAGE = 50
FILTER_KEYS = ("kev", "priority", "overdue", "status", "site", "model", "cve")
MAX_CHOICES = 1000
NOTICES = {
    "triaged": "Triage recorded (and audited).",
    "saved": "Filter saved.",
    "deleted": "Saved filter deleted.",
}
Text = Annotated[str, Form(max_length=256)]


@dataclass
class Filters:
    """The list's filters as the user gave them (for the form and links) and as a query."""

    raw: dict[str, list[str]] = field(default_factory=dict)
    query: FindingQuery = field(default_factory=FindingQuery)
    offset: int = 0

    def params(self, **extra: Any) -> dict[str, Any]:
        return {**{k: v for k, v in self.raw.items() if k in FILTER_KEYS}, **extra}

    def one(self, key: str) -> str:
        values = self.raw.get(key) or [""]
        return values[0]


def _pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def kept_query(pairs: list[tuple[str, str]], *, offset: bool = True) -> dict[str, list[str]]:
    """Only the list's own parameters, each bounded: what a link or saved filter keeps."""
    keep = (*FILTER_KEYS, "offset") if offset else FILTER_KEYS
    out: dict[str, list[str]] = {}
    for key, value in pairs[:40]:
        if key in keep and value.strip():
            out.setdefault(key, []).append(value.strip()[:128])
    return out


def parse_filters(platform: Any, session: WebSession, raw: dict[str, list[str]]) -> Filters:
    """The ``FindingQuery`` the parameters ask for; ``InputError`` names a bad one."""
    def one(key: str) -> str | None:
        values = raw.get(key)
        if values and len(values) > 1:
            raise InputError(f"{key}: give it once")
        return values[0] if values else None

    priorities = []
    for p in raw.get("priority", []):
        level = p.upper().removeprefix("P")
        if level not in ("1", "2", "3", "4"):
            raise InputError("priority: P1, P2, P3 or P4")
        priorities.append(int(level))
    statuses = []
    for s in raw.get("status", []):
        try:
            statuses.append(FindingStatus(s))
        except ValueError:
            raise InputError("status: one of " + ", ".join(x.value for x in FindingStatus)
                             ) from None
    model_id = None
    model = q.text(one("model"), "model", 256)
    if model is not None:
        try:
            found = registry.find(platform, session.principal, RecordKind.MODEL, model)
        except NotFound:
            raise InputError(f"model {model[:64]!r} is not in the register (give "
                             "VENDOR/MODEL or its id)") from None
        model_id = found.id
    cve = q.text(one("cve"), "cve", 64)
    query = FindingQuery(
        vulnerability_id=vulns.normalise_id(cve) if cve else None,
        kev=q.flag(one("kev"), "kev"), priorities=tuple(sorted(set(priorities))),
        overdue=q.flag(one("overdue"), "overdue"), statuses=tuple(dict.fromkeys(statuses)),
        site=q.text(one("site"), "site"), model_id=model_id, limit=PAGE,
        offset=q.offset(one("offset")))
    return Filters(raw, query, query.offset)


def _finding_row(f: Any) -> dict[str, Any]:
    c = f.component
    return {
        "vid": f.vulnerability_id, "summary": q.inert(f.summary, 240),
        "priority": f"P{f.priority}", "kev": f.kev, "due": f.due_date, "overdue": f.overdue,
        "status": f.status.value, "device_id": f.device_id,
        "device": q.inert(f.device_name, 120),
        "component": q.inert(" ".join(x for x in (c.name, c.version) if x), 120) if c else "",
        "cvss": f"{f.cvss_score:.1f}" if f.cvss_score is not None else "",
        "epss": f"{f.epss:.3f}" if f.epss is not None else "",
        "site": f.site or "", "model": f.model or "",
        "firmware": q.inert(f.firmware_version, 80),
        "reasons": [q.inert(r, 200) for r in f.reasons[:8]],
        "justification": f.justification, "note": q.inert(f.note, 500),
        "approver": f.approver, "expires_at": f.expires_at, "decided_by": f.decided_by,
        "vex": f.vex,
    }


def _saved(platform: Any, session: WebSession) -> list[dict[str, Any]]:
    if session.principal.user_id is None:
        return []
    return [{"id": s.id, "name": s.name,
             "href": q.link(PATH, kept_query(parse_qsl(s.query), offset=False))}
            for s in saved_filters.list_filters(platform, session.principal, "vulns")]


def _list(request: Request, session: WebSession, pairs: list[tuple[str, str]], *,
          error: str | None = None, code: int = 200) -> Response:
    platform = fleetwarden_app(request).platform
    raw = kept_query(pairs)
    filters = Filters(raw)
    findings: list[dict[str, Any]] = []
    more = stale = False
    try:
        filters = parse_filters(platform, session, raw)
    except InputError as exc:
        error, code = q.sentence(exc), 400
    else:
        found = vulns.findings(platform, session.principal, filters.query)
        findings = [_finding_row(f) for f in found.items]
        more, stale = found.more, found.stale
    start = filters.offset
    done = dict(pairs).get("done")
    return page(request, "ui/vulns.html", {
        "findings": findings, "f": filters, "first": start + 1,
        "last": start + len(findings),
        "newer": q.link(PATH, filters.params(offset=max(0, start - PAGE))) if start else None,
        "older": q.link(PATH, filters.params(offset=start + PAGE)) if more else None,
        "summary_model": q.link(PATH + "/summary", filters.params(by="model")),
        "summary_site": q.link(PATH + "/summary", filters.params(by="site")),
        "back": q.link("", filters.params(offset=start or None)).lstrip("?"),
        "this_query": q.link("", filters.params()).lstrip("?"),
        "stale": stale, "notice": q.notice(done, NOTICES), "error": error,
        "statuses": [s.value for s in FindingStatus],
        "triage_choices": [s.value for s in TRIAGE_CHOICES],
        "justifications": [j.value for j in VexJustification],
        "sites": _site_names(platform, session), "models": _model_refs(platform, session),
        "saved": _saved(platform, session),
    }, session=session, status=code)


def _site_names(platform: Any, session: WebSession) -> list[str]:
    items, _ = registry.list_records(platform, session.principal, RecordKind.SITE,
                                     limit=MAX_CHOICES, sort="name")
    return [s.name for s in items if isinstance(s, Site)]


def _model_refs(platform: Any, session: WebSession) -> list[str]:
    items, _ = registry.list_records(platform, session.principal, RecordKind.MODEL,
                                     limit=MAX_CHOICES, sort="id")
    return [f"{m.vendor}/{m.model}" for m in items if isinstance(m, DeviceModel)]


@router.get(PATH, response_class=HTMLResponse)
def findings_page(request: Request, session: Session) -> Response:
    return _list(request, session, _pairs(request))


@router.get(PATH + "/summary", response_class=HTMLResponse)
def summary(request: Request, session: Session, by: str = "model") -> Response:
    """Counted per model or site: the report joins every finding, so it runs only here,
    when asked, never on the list page."""
    platform = fleetwarden_app(request).platform
    raw = kept_query(_pairs(request), offset=False)
    error, code, rows = None, 200, []
    filters = Filters(raw)
    try:
        if by not in ("model", "site"):
            raise InputError("by: model or site")
        filters = parse_filters(platform, session, raw)
    except InputError as exc:
        error, code = q.sentence(exc), 400
    else:
        rows = vulns.report(platform, session.principal, by, filters.query)
    refs = {m.replace("/", " ", 1): m for m in _model_refs(platform, session)}
    for r in rows:
        key = r.get(by)
        target = refs.get(key or "") if by == "model" else key
        r["href"] = q.link(PATH, {**filters.params(), by: target}) if target else None
    return page(request, "ui/vulns_summary.html", {
        "by": by if by in ("model", "site") else "model", "rows": rows, "error": error,
        "back": q.link(PATH, filters.params()), "f": filters,
        "other": q.link(PATH + "/summary", filters.params(
            by="site" if by == "model" else "model")),
    }, session=session, status=code)


def _expiry(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError("expiry: a date (YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.post(PATH + "/triage", response_class=HTMLResponse)
def triage(request: Request, session: Session, csrf: Annotated[str, Form()] = "",
           vulnerability_id: Text = "", device_id: Text = "", status: Text = "",
           justification: Text = "", note: Annotated[str, Form(max_length=2000)] = "",
           approver: Text = "", expires: Text = "",
           back: Annotated[str, Form(max_length=2000)] = "") -> Response:
    require_csrf(request, session, csrf)
    platform = fleetwarden_app(request).platform
    pairs = parse_qsl(back)
    try:
        if not device_id.strip().isdigit():
            raise InputError("triage: which device (its id)")
        vulns.triage(platform, session.principal, vulnerability_id, status.strip(),
                     device_id=int(device_id.strip()),
                     justification=justification.strip() or None, note=note or None,
                     approver=approver.strip() or None, expires_at=_expiry(expires))
    except PermissionDenied:
        raise
    except FleetwardenError as exc:
        return _list(request, session, pairs, error=q.sentence(exc),
                     code=exc.http_status)
    return redirect(q.link(PATH, {**kept_query(pairs), "done": "triaged"}))


@router.post(PATH + "/filters", response_class=HTMLResponse)
def save_filter(request: Request, session: Session, csrf: Annotated[str, Form()] = "",
                name: Annotated[str, Form(max_length=64)] = "",
                query: Annotated[str, Form(max_length=2000)] = "") -> Response:
    require_csrf(request, session, csrf)
    platform = fleetwarden_app(request).platform
    kept = q.link("", kept_query(parse_qsl(query), offset=False)).lstrip("?")
    try:
        saved_filters.save_filter(platform, session.principal, "vulns", name, kept)
    except InputError as exc:
        return _list(request, session, parse_qsl(kept),
                     error=q.sentence(exc), code=exc.http_status)
    return redirect(q.link(PATH, {**kept_query(parse_qsl(kept)), "done": "saved"}))


@router.post(PATH + "/filters/{filter_id}/delete", response_class=HTMLResponse)
def delete_filter(request: Request, session: Session, filter_id: int,
                  csrf: Annotated[str, Form()] = "") -> Response:
    require_csrf(request, session, csrf)
    saved_filters.delete_filter(fleetwarden_app(request).platform, session.principal,
                                filter_id)
    return redirect(f"{PATH}?done=deleted")
