"""``/ui/unregistered``: the hosts discovery found that the register does not know, and
the three decisions on each: approve into the register, merge into a registered device,
mark rogue (``services.inventory``).

Everything a host said (banners, titles, certificate subjects, hostnames) is shown as
inert text: escaped by the template, control characters made visible by ``inert``.

Must not: decide what a host is or who may act (the service does: a viewer's forged
post is refused there), or put free text from the query string on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from fleetwarden.domain.inventory import DiscoveredHost
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.vocab import DeviceType
from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.web import queues_common as q
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session, redirect, require_csrf
from fleetwarden.errors import FleetwardenError, InputError, PermissionDenied
from fleetwarden.services import inventory, registry
from fleetwarden.services.context import Permission, Platform, can
from fleetwarden.services.signin import WebSession

router = APIRouter(include_in_schema=False)

PATH = "/ui/unregistered"
PAGE = 50
STATUSES = ("unregistered", "rogue", "registered", "all")
NOTICES = {
    "approved": "Host approved: it is now a device in the register.",
    "merged": "Host merged into the registered device.",
    "rogue": "Host marked rogue: every new sighting raises an alert.",
}
MAX_CHOICES = 1000
"""Sites, segments and models offered or named on the page (the register's own cap)."""

Text = Annotated[str, Form(max_length=256)]
Note = Annotated[str, Form(max_length=1000)]


def _records(platform: Platform, session: WebSession, kind: RecordKind) -> list[Any]:
    items, _ = registry.list_records(platform, session.principal, kind, limit=MAX_CHOICES,
                                     sort="id")
    return items


def _service_row(s: Any) -> dict[str, Any]:
    tls = s.get("tls") or {}
    cert = tls.get("certificate") if isinstance(tls, dict) else None
    fields = s.get("fields") or {}
    texts = [(k, q.inert(v)) for k, v in sorted(fields.items())
             if v not in (None, "") and k != "http.title"]  # the title is shown already
    if s.get("banner") and not any(k == "banner" for k, _ in texts):
        texts.insert(0, ("banner", q.inert(s["banner"])))
    return {
        "port": s.get("port"), "transport": q.inert(s.get("transport"), 8),
        "service": q.inert(s.get("service"), 40),
        "product": q.inert(" ".join(str(x) for x in (s.get("product"), s.get("version"))
                                    if x), 120),
        "title": q.inert(fields.get("http.title"), 160),
        "texts": texts,
        "tls": {"version": q.inert(tls.get("version"), 20),
                "subject": q.inert(cert.get("subject") if cert else None),
                "issuer": q.inert(cert.get("issuer") if cert else None),
                "not_after": q.inert(cert.get("not_after") if cert else None, 40),
                "self_signed": bool(cert and cert.get("self_signed"))} if tls else None,
    }


def _host_row(h: DiscoveredHost, segments: dict[int, str]) -> dict[str, Any]:
    fp = h.fingerprint or {}
    return {
        "id": h.id, "status": h.status.value, "device_id": h.device_id,
        "ip": q.inert(h.ip, 64), "mac": q.inert(h.mac, 32),
        "hostname": q.inert(h.hostname, 120), "vendor": q.inert(h.vendor, 80),
        "model": q.inert(h.model, 80), "device_type": q.inert(h.device_type, 40),
        "firmware": q.inert(h.firmware_version, 80), "os": q.inert(h.os, 80),
        "serial": q.inert(h.serial, 80),
        "confidence": round(100 * (h.confidence or 0)),
        "segment": segments.get(h.segment_id or -1),
        "sources": ", ".join(h.sources), "first_seen": h.first_seen,
        "last_seen": h.last_seen, "note": q.inert(h.note, 1000),
        "services": [_service_row(s) for s in h.services],
        "evidence": [{"attribute": e.get("attribute"), "value": q.inert(e.get("value"), 160),
                      "source": q.inert(e.get("source"), 60),
                      "rule": q.inert(e.get("rule"), 80),
                      "certainty": round(100 * float(e.get("certainty") or 0))}
                     for e in fp.get("evidence", [])[:40]],
        "suggested_model": (f"{h.vendor}/{h.model}" if h.vendor and h.model
                            and h.vendor.isprintable() and h.model.isprintable() else ""),
    }


def _queue(request: Request, session: WebSession, *, status: str | None, offset: str | None,
           done: str | None = None, error: str | None = None, code: int = 200) -> Response:
    platform = fleetwarden_app(request).platform
    principal = session.principal
    chosen = status or "unregistered"
    try:
        if chosen not in STATUSES:
            raise InputError(f"status: one of {', '.join(STATUSES)}")
        start = q.offset(offset)
    except InputError as exc:
        chosen, start, code = "unregistered", 0, 400
        error = q.sentence(exc)
    found = inventory.list_hosts(platform, principal, chosen, limit=PAGE + 1, offset=start)
    segments = {s.id: s.name for s in _records(platform, session, RecordKind.SEGMENT)}
    writer = can(principal, Permission.WRITE)
    ctx: dict[str, Any] = {
        "hosts": [_host_row(h, segments) for h in found[:PAGE]],
        "status": chosen, "statuses": STATUSES, "offset": start,
        "first": start + 1, "last": start + min(len(found), PAGE),
        "newer": q.link(PATH, {"status": chosen, "offset": max(0, start - PAGE)})
        if start else None,
        "older": q.link(PATH, {"status": chosen, "offset": start + PAGE})
        if len(found) > PAGE else None,
        "notice": q.notice(done, NOTICES), "error": error,
        "back": q.link(PATH, {"status": chosen, "offset": start}),
    }
    if writer:
        ctx["sites"] = [s.name for s in _records(platform, session, RecordKind.SITE)]
        ctx["models"] = [f"{m.vendor}/{m.model}"
                         for m in _records(platform, session, RecordKind.MODEL)]
        ctx["device_types"] = [t.value for t in DeviceType]
    return page(request, "ui/unregistered.html", ctx, session=session, status=code)


@router.get(PATH, response_class=HTMLResponse)
def queue(request: Request, session: Session, status: str | None = None,
          offset: str | None = None, done: str | None = None) -> Response:
    return _queue(request, session, status=status, offset=offset, done=done)


def _act(request: Request, session: WebSession, action: Callable[[], object],
         done: str) -> Response:
    """Run one decision; refusals of the input are shown on the queue, not a bare page."""
    try:
        action()
    except PermissionDenied:
        raise
    except FleetwardenError as exc:
        return _queue(request, session, status="unregistered", offset=None,
                      error=q.sentence(exc), code=exc.http_status)
    return redirect(f"{PATH}?done={done}")


@router.post(PATH + "/{host_id}/approve", response_class=HTMLResponse)
def approve(request: Request, session: Session, host_id: int,
            csrf: Annotated[str, Form()] = "", model: Text = "", device_type: Text = "",
            name: Text = "", site: Text = "", note: Note = "") -> Response:
    require_csrf(request, session, csrf)
    given = {"model": model, "device_type": device_type, "name": name, "site": site,
             "note": note}
    fields = {k: v.strip() for k, v in given.items() if v.strip()}
    platform = fleetwarden_app(request).platform
    return _act(request, session, lambda: inventory.approve(
        platform, session.principal, host_id, fields), "approved")


@router.post(PATH + "/{host_id}/merge", response_class=HTMLResponse)
def merge(request: Request, session: Session, host_id: int,
          csrf: Annotated[str, Form()] = "", device_id: Text = "",
          note: Note = "") -> Response:
    require_csrf(request, session, csrf)
    platform = fleetwarden_app(request).platform

    def run() -> None:
        if not device_id.strip().isdigit():
            raise InputError("merge: give the id of the registered device it is")
        inventory.merge(platform, session.principal, host_id, int(device_id.strip()),
                        note.strip() or None)

    return _act(request, session, run, "merged")


@router.post(PATH + "/{host_id}/rogue", response_class=HTMLResponse)
def rogue(request: Request, session: Session, host_id: int,
          csrf: Annotated[str, Form()] = "", reason: Note = "") -> Response:
    require_csrf(request, session, csrf)
    platform = fleetwarden_app(request).platform
    return _act(request, session, lambda: inventory.mark_rogue(
        platform, session.principal, host_id, reason), "rogue")
