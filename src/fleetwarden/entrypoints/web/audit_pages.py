"""``/ui/audit``: the tenant's audit log, newest first, searchable by actor, action
prefix, object and time range, with the state of its hash chain.

Verifying the chain reads every event, so it runs only when asked (``?verify=1``, the
"Verify chain" button); otherwise the page shows the head and the newest signed
checkpoint. Searches are bounded by ``services.audit_log`` (a short page may offer to
search further back). Auditors and admins only: the services refuse other roles (403).

Must not: verify on every view, or show a message taken from the query string.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from fleetwarden.domain.audit import AuditEvent
from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.web import queues_common as q
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session
from fleetwarden.errors import InputError
from fleetwarden.services import audit, audit_log

router = APIRouter(include_in_schema=False)

PATH = "/ui/audit"
PAGE = 50
MAX_VALUE = 4000


def _moment(value: str | None, name: str, *, end: bool) -> datetime | None:
    """A date (the whole day: from its start, or up to its end) or a date and time."""
    text = q.text(value, name, 40)
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}: a date (YYYY-MM-DD) or date and time "
                         "(YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _value(v: Any) -> str:
    if v is None:
        return ""
    shown = json.dumps(v, indent=1, sort_keys=True, default=str)
    return shown if len(shown) <= MAX_VALUE else shown[:MAX_VALUE] + "\n…"


def _event(e: AuditEvent) -> dict[str, Any]:
    return {"seq": e.seq, "at": e.at[:19].replace("T", " ") + " UTC", "actor": e.actor,
            "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
            "reason": q.inert(e.reason, 500), "before": _value(e.before),
            "after": _value(e.after), "hash": e.hash,
            "actor_href": q.link(PATH, {"actor": e.actor}),
            "object_href": q.link(PATH, {"object_type": e.object_type,
                                         "object_id": e.object_id})}


@router.get(PATH, response_class=HTMLResponse)
def audit_log_page(request: Request, session: Session, actor: str | None = None,
                   action: str | None = None, object_type: str | None = None,
                   object_id: str | None = None, since: str | None = None,
                   until: str | None = None, before: str | None = None,
                   verify: str | None = None) -> Response:
    platform = fleetwarden_app(request).platform
    principal = session.principal
    state = audit_log.chain_state(platform, principal)  # refuses roles without read_audit
    given = {"actor": actor, "action": action, "object_type": object_type,
             "object_id": object_id, "since": since, "until": until}
    ctx: dict[str, Any] = {"state": state, "given": {k: (v or "").strip()[:256]
                                                      for k, v in given.items()},
                           "events": [], "verified": None}
    code = 200
    try:
        cursor = None
        if before not in (None, ""):
            if not before.isdigit():
                raise InputError("before: an event number")
            cursor = int(before)
        found = audit_log.search(
            platform, principal, actor=q.text(actor, "actor", 256),
            action=q.text(action, "action", 64), object_type=q.text(object_type,
                                                                    "object type", 64),
            object_id=q.text(object_id, "object id", 128),
            since=_moment(since, "from", end=False), until=_moment(until, "to", end=True),
            before_seq=cursor, limit=PAGE)
        if q.flag(verify, "verify"):
            ctx["verified"] = audit.verify(platform, principal)
    except InputError as exc:
        ctx["error"], code = q.sentence(exc), 400
    else:
        ctx["events"] = [_event(e) for e in found.events]
        ctx["searched_to"] = found.searched_to
        if found.older is not None:
            ctx["older"] = q.link(PATH, {**ctx["given"], "before": found.older})
        if cursor is not None:
            ctx["newest"] = q.link(PATH, ctx["given"])
    ctx["verify_href"] = q.link(PATH, {**ctx["given"], "verify": True})
    return page(request, "ui/audit.html", ctx, session=session, status=code)
