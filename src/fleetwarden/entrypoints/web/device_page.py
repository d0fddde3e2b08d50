"""``/ui/devices/{id}``: one device in depth, and the actions on it.

Sections: identity, lifecycle timeline (the device's audit events, and the bulk import it
came in with when no event records its creation), what discovery saw
(services, TLS, certificates, the TLS checks), software components, vulnerability
findings, compliance per requirement with the check evidence and the attestations and
waivers behind each verdict, and risk with every factor. Every read is about this one
device, so the page costs the same in a register of ten devices or a million.

Actions post back here (CSRF-checked) and call the service, which checks the role and
writes the audit event: lifecycle transition, triage of a finding, attestation, waiver.
A refusal re-renders the page with the service's one-line reason.

Must not: decide who may act (the services do; the template only hides what ``can``
says is not allowed), or show a free-text message taken from the address.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from fleetwarden.domain.compliance.exceptions import Method
from fleetwarden.domain.findings import TRIAGE_CHOICES, FindingQuery
from fleetwarden.domain.lifecycle import needs_change_approval
from fleetwarden.domain.vulns import VexJustification
from fleetwarden.entrypoints.api.auth import fleetwarden_app
from fleetwarden.entrypoints.api.cursor import MAX_ID
from fleetwarden.entrypoints.web import device_sections as sections
from fleetwarden.entrypoints.web.render import page
from fleetwarden.entrypoints.web.session import Session, redirect, require_csrf
from fleetwarden.errors import FleetwardenError, InputError, PermissionDenied
from fleetwarden.services import (
    assessment,
    attestations,
    audit,
    changes,
    compliance_report,
    device_view,
    devices,
    software,
    vulns,
)
from fleetwarden.services.context import Permission, Platform, Principal, can
from fleetwarden.services.risk import risk_show
from fleetwarden.services.signin import WebSession

router = APIRouter(include_in_schema=False)

DeviceId = Annotated[int, Path(ge=1, le=MAX_ID, description="Device id")]
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=256)]
MAX_FINDINGS = 200
MAX_COMPONENTS = 500
MAX_EVIDENCE = 1024 * 1024
"""The dashboard's request limit; larger evidence files go through the API or CLI."""
NOTICES = {
    "transitioned": "Lifecycle state changed.",
    "triaged": "Triage decision recorded.",
    "attested": "Attestation recorded.",
    "waived": "Waiver recorded.",
}


def _render(request: Request, session: WebSession, device_id: int, *,
            notice: str | None = None, error: str | None = None,
            status: int = 200) -> HTMLResponse:
    platform, p = fleetwarden_app(request).platform, session.principal
    device = devices.get_device(platform, p, device_id)
    verdicts = compliance_report.device_compliance(platform, p, device_id)
    found = vulns.findings(platform, p, FindingQuery(device_id=device_id,
                                                     limit=MAX_FINDINGS))
    att, waived = device_view.exceptions(
        platform, p, {v["attestation_id"] for v in verdicts if v["attestation_id"]},
        {v["waiver_id"] for v in verdicts if v["waiver_id"]})
    network_results, other_results = sections.split_results(
        assessment.device_results(platform, p, device_id))
    components = software.components(platform, p, device_id=device_id)
    change_control = (p.tenant.settings.require_change_approval
                      and needs_change_approval(device.lifecycle_state))
    today = platform.now().date()
    history = audit.history(platform, p, "device", device_id)
    # an import writes one event for its whole file: a device no ``device.create``
    # names came in with one of them
    created = any(e.action == "device.create" for e in history)
    ctx: dict[str, Any] = {
        "d": device, "risk": risk_show(platform, p, device_id),
        "timeline": [(e, sections.changes(e)) for e in reversed(history)],
        "bulk_imports": None if created else sections.bulk_imports(
            device_view.bulk_imports(platform, p)),
        "hosts": sections.network(device_view.hosts(platform, p, device_id)),
        "network_results": network_results, "other_results": other_results,
        "components": components[:MAX_COMPONENTS], "component_count": len(components),
        "findings": found.items, "more_findings": found.more, "stale": found.stale,
        "frameworks": sections.frameworks(verdicts),
        "requirement_options": sections.requirement_options(verdicts),
        "attestations": att, "waivers": waived,
        "next_states": sections.next_states(device.lifecycle_state),
        "change_control": change_control,
        "change_requests": [c for c in changes.list_requests(platform, p, device_id)
                            if c.status == "approved"]
        if change_control and can(p, Permission.TRANSITION) else [],
        "triage_choices": [s.value for s in TRIAGE_CHOICES],
        "justifications": [j.value for j in VexJustification],
        "methods": [m.value for m in Method],
        "check_ids": sorted({c for v in verdicts for c in v["checks"]}
                            | {r.result.check_id for r in network_results + other_results}),
        "defaults": {"attest": today + timedelta(days=365), "waive": today + timedelta(days=90),
                     "min": today + timedelta(days=1)},
        "notice": notice, "error": error,
    }
    return page(request, "ui/device.html", ctx, session=session, status=status)


@router.get("/ui/devices/{device_id}", response_class=HTMLResponse)
def device_page(request: Request, session: Session, device_id: DeviceId,
                done: str = "") -> HTMLResponse:
    return _render(request, session, device_id, notice=NOTICES.get(done))


# ------------------------------------------------------------------------ actions
def _act(request: Request, session: WebSession, device_id: int, csrf: str,
         action: Callable[[Platform, Principal], object], done: str, anchor: str) -> Response:
    """CSRF first, then the service; its refusal is shown on the page (a role refusal
    on the error page, with 403)."""
    require_csrf(request, session, csrf)
    try:
        action(fleetwarden_app(request).platform, session.principal)
    except PermissionDenied:
        raise
    except FleetwardenError as exc:
        if exc.http_status >= 500:
            raise
        message = str(exc)
        return _render(request, session, device_id, status=exc.http_status,
                       error=message[:1].upper() + message[1:] + ".")
    return redirect(f"/ui/devices/{device_id}?done={done}#{anchor}")


def _expiry(text: str, what: str) -> datetime:
    """A date from the form, as the start of that day in UTC."""
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(), UTC)
    except ValueError:
        raise InputError(f"{what}: give a date (YYYY-MM-DD)") from None


def _optional(text: str) -> str | None:
    return text.strip() or None


@router.post("/ui/devices/{device_id}/transition")
def transition(request: Request, session: Session, device_id: DeviceId,
               csrf: Short = "", state: Short = "", reason: Text = "",
               change_request: Short = "") -> Response:
    def run(platform: Platform, principal: Principal) -> object:
        cr = change_request.strip()
        if cr and not (cr.isdigit() and 0 < int(cr) <= MAX_ID):
            raise InputError("change request: give its number")
        return devices.transition(platform, principal, device_id, state, reason,
                                  change_request=int(cr) if cr else None)

    return _act(request, session, device_id, csrf, run, "transitioned", "lifecycle")


@router.post("/ui/devices/{device_id}/triage")
def triage(request: Request, session: Session, device_id: DeviceId,
           csrf: Short = "", vulnerability_id: Short = "", status: Short = "",
           justification: Short = "", note: Text = "", approver: Short = "",
           expires: Short = "") -> Response:
    def run(platform: Platform, principal: Principal) -> object:
        return vulns.triage(
            platform, principal, vulnerability_id, status.strip(), device_id=device_id,
            justification=_optional(justification), note=_optional(note),
            approver=_optional(approver),
            expires_at=_expiry(expires, "expiry") if expires.strip() else None)

    return _act(request, session, device_id, csrf, run, "triaged", "vulnerabilities")


@router.post("/ui/devices/{device_id}/attest")
def attest(request: Request, session: Session, device_id: DeviceId,
           csrf: Annotated[str, Form(max_length=256)] = "",
           requirement_id: Short = "", status: Short = "", method: Short = "",
           statement: Text = "", expires: Short = "",
           evidence: Annotated[UploadFile | None, File()] = None) -> Response:
    def run(platform: Platform, principal: Principal) -> object:
        files = []
        if evidence is not None and evidence.filename:
            content = evidence.file.read(MAX_EVIDENCE + 1)
            if len(content) > MAX_EVIDENCE:
                raise InputError("evidence file: at most 1 MiB from the dashboard (use the "
                                 "API or CLI for larger files)")
            files.append(attestations.EvidenceUpload(evidence.filename, content))
        return attestations.attest(
            platform, principal, requirement_id.strip(), subject_type="device",
            subject_id=device_id, status=status, statement=statement, method=method,
            expires_at=_expiry(expires, "expiry"), files=files)

    return _act(request, session, device_id, csrf, run, "attested", "compliance")


@router.post("/ui/devices/{device_id}/waive")
def waive(request: Request, session: Session, device_id: DeviceId,
          csrf: Short = "", check: Short = "", requirement: Short = "",
          justification: Text = "", approver: Short = "", expires: Short = "") -> Response:
    def run(platform: Platform, principal: Principal) -> object:
        if bool(check.strip()) == bool(requirement.strip()):
            raise InputError("waive: choose a check or give a requirement (one of them)")
        return attestations.waive(
            platform, principal, check_id=_optional(check),
            requirement_id=_optional(requirement), subject_type="device",
            subject_id=device_id, justification=justification, approver=approver,
            expires_at=_expiry(expires, "expiry"))

    return _act(request, session, device_id, csrf, run, "waived", "compliance")
