"""Vulnerability findings: match, list, triage and report them (R5).

``match`` brings a tenant's findings up to date with the feeds (a catch-up of what was
imported since its last run, or ``full``); feed and SBOM imports match incrementally
in their own transactions (``matching.Matcher``). ``findings`` lists device x
vulnerability findings with priority, reasons and due date; ``triage`` records a
person's decision for one device or for every device on a firmware image; ``report``
counts them by vulnerability, model or site. Every change is audited in its transaction.

Must not: hide suppressed findings, or let a decision through without its facts
(``domain/findings.decide``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleetwarden.domain import priority as prio
from fleetwarden.domain.findings import Decision, Finding, FindingQuery, FindingStatus, decide
from fleetwarden.domain.model import Tenant, TenantSettings
from fleetwarden.domain.vocab import Role
from fleetwarden.domain.vulns import SbomComponent
from fleetwarden.errors import InputError, NotFound
from fleetwarden.ports import UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.accounts import update_settings
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.matching import Matcher, MatchRun, Progress
from fleetwarden.services.software import find_model

MAX_LIMIT = 10_000
REPORT_BY = ("cve", "model", "site")


@dataclass(frozen=True, slots=True)
class FindingPage:
    items: tuple[Finding, ...]
    offset: int
    limit: int
    more: bool
    stale: bool
    """Feeds were imported after this tenant's last matching run (run ``vulns match``)."""


# ----------------------------------------------------------------------- matching
def match(platform: Platform, principal: Principal, *, full: bool = False,
          progress: Progress | None = None) -> tuple[MatchRun, str]:
    """Bring findings up to date; (what the run did, ``full`` or ``catch-up``)."""
    require(principal, Permission.WRITE)
    now = platform.now()
    with platform.uow(principal.tenant, True) as uow:
        _, watermark, runs = uow.findings.state()
        newest = uow.feeds.newest_import()
        uow.findings.refresh_data_classes()
        subjects = uow.findings.firmware_subjects() + uow.findings.device_subjects()
        mode = "full" if full or runs == 0 else "catch-up"
        matcher = Matcher(uow, now, alerts=mode == "catch-up", progress=progress)
        if mode == "full":
            matcher.match(subjects, None)
        else:
            changed = uow.feeds.ids_imported_after(watermark)
            if changed:
                matcher.match(subjects, set(changed))
        matcher.verify_fixes()
        uow.findings.save_state(now, newest)
        audit.record(platform, uow, principal.actor, "vulns.match", "tenant", uow.tenant.id,
                     after={"mode": mode, **matcher.run.view()})
        uow.commit()
    return matcher.run, mode


MATCHER = "system:matcher"


def catch_up_all(platform: Platform) -> int:
    """Match feeds other tenants imported into every tenant whose findings are stale (the
    worker of ``fleetwarden serve``); how many tenants were brought up to date."""
    with platform.uow(None, False) as uow:
        tenants = uow.tenants.all()
    done = 0
    for tenant in tenants:
        with platform.uow(tenant, False) as uow:
            stale = _stale(uow) and uow.findings.state()[2] > 0
        if stale:
            match(platform, Principal(tenant, MATCHER, Role.ENGINEER))
            done += 1
        else:
            verify_fixes(platform, tenant)
    return done


def verify_fixes(platform: Platform, tenant: Tenant) -> int:
    """Mark triaged findings whose device moved to a firmware that no longer has them as
    fixed (the worker does this every round, so a fix shows without a full match)."""
    now = platform.now()
    with platform.uow(tenant, True) as uow:
        fixed = Matcher(uow, now, alerts=False).verify_fixes()
        if fixed:
            audit.record(platform, uow, MATCHER, "vulns.verify", "tenant", uow.tenant.id,
                         after={"verified_fixed": fixed})
            uow.commit()
    return fixed


# ------------------------------------------------------------------------ reading
def findings(platform: Platform, principal: Principal, query: FindingQuery) -> FindingPage:
    """A page of findings, most urgent first, each with its reasons and due date."""
    require(principal, Permission.READ)
    _check(query)
    if query.vulnerability_id is not None:
        query = replace(query, vulnerability_id=normalise_id(query.vulnerability_id))
    now = platform.now()
    with platform.uow(principal.tenant, False) as uow:
        if query.device_id is not None and uow.devices.get(query.device_id) is None:
            raise NotFound(f"device {query.device_id} not found")
        days = response_days(uow.tenant.settings)
        rows = uow.findings.findings(replace(query, limit=query.limit + 1), now, days)
        stale = _stale(uow)
    more = len(rows) > query.limit
    items = tuple(to_finding(r, days) for r in rows[:query.limit])
    return FindingPage(items, query.offset, query.limit, more, stale)


def report(platform: Platform, principal: Principal, by: str,
           query: FindingQuery | None = None) -> list[dict[str, Any]]:
    """Finding counts per vulnerability, model or site, most urgent first."""
    require(principal, Permission.READ)
    if by not in REPORT_BY:
        raise InputError(f"report by {by[:16]!r}: one of {', '.join(REPORT_BY)}")
    q = query or FindingQuery()
    _check(q)
    now = platform.now()
    with platform.uow(principal.tenant, False) as uow:
        if q.device_id is not None and uow.devices.get(q.device_id) is None:
            raise NotFound(f"device {q.device_id} not found")
        rows = uow.findings.report(by, q, now, response_days(uow.tenant.settings))
    out = []
    for r in rows:
        key = {"cve": "vulnerability_id", "model": "model", "site": "site"}[by]
        out.append({by: r[key], "devices": int(r["devices"]), "findings": int(r["findings"]),
                    "active": int(r["active"] or 0), "overdue": int(r["overdue"] or 0),
                    "kev": int(r["kev"] or 0) > 0,
                    "top_priority": f"P{r['top_priority']}" if r["top_priority"] else None,
                    **{f"p{lvl}": int(r[f'p{lvl}'] or 0) for lvl in (1, 2, 3, 4)}})
    return out


def to_finding(r: dict[str, Any], days: tuple[int, int, int, int]) -> Finding:
    """A decoded findings row, with its priority explained."""
    ctx = prio.DeviceContext(bool(r["exposed"]), r["zone"], r["criticality"],
                             r["classification"])
    reasons: list[str] = list(r["signal_reasons"])
    if r["component_name"] is not None:
        # the stored signal points plus this context are the row's points
        base = int(r["points"]) - prio.context_points(ctx)[0]
        reasons = list(prio.explain(base, reasons, ctx, bool(r["kev"])).reasons)
    if r["vex_source"]:
        reasons.append(f"VEX {r['vex_source']}")
    component = None
    if r["component_name"] is not None:
        component = SbomComponent(r["component_name"], r["component_version"],
                                  r["component_purl"], r["component_cpe"])
    first_seen = r["first_seen"]
    return Finding(
        device_id=r["device_id"], device_name=r["device_name"],
        vulnerability_id=r["vulnerability_id"],
        aliases=tuple(a for a in (r["aliases"] or "").split(";") if a),
        summary=r["summary"], component=component, source=r["component_source"],
        basis=r["basis"], match_reasons=tuple(r["reasons"]),
        cvss_version=r["cvss_version"], cvss_score=r["cvss_score"],
        cvss_vector=r["cvss_vector"], epss=r["epss"], kev=bool(r["kev"]),
        priority=int(r["priority"]), points=int(r["points"]), reasons=tuple(reasons),
        first_seen=first_seen, due_date=prio.due_date(first_seen.date(), int(r["priority"]),
                                                      days),
        status=FindingStatus(r["status"]), overdue=bool(r["overdue"]), site=r["site"],
        model=r["model"], firmware_version=r["firmware_version"],
        justification=r["justification"], note=r["note"], approver=r["approver"],
        expires_at=r["expires_at"], decided_by=r["decided_by"], vex=r["vex_source"],
        fixed_at=r["fixed_at"])


def normalise_id(vulnerability_id: str) -> str:
    """CVE ids in upper case (as feeds write them); other ids (GHSA, OSV) as given."""
    vid = vulnerability_id.strip()
    return vid.upper() if vid.upper().startswith("CVE-") else vid


def _check(q: FindingQuery) -> None:
    if not 1 <= q.limit <= MAX_LIMIT:
        raise InputError(f"limit must be 1 to {MAX_LIMIT:,}")
    if q.offset < 0:
        raise InputError("offset cannot be negative")
    if any(p not in (1, 2, 3, 4) for p in q.priorities):
        raise InputError("priority: P1, P2, P3 or P4")


def _stale(uow: UnitOfWork) -> bool:
    _, watermark, _ = uow.findings.state()
    newest = uow.feeds.newest_import()
    return newest is not None and (watermark is None or newest > watermark)


def response_days(settings: TenantSettings) -> tuple[int, int, int, int]:
    return (settings.response_days_p1, settings.response_days_p2,
            settings.response_days_p3, settings.response_days_p4)


# ------------------------------------------------------------------------ triage
@dataclass(frozen=True, slots=True)
class Triaged:
    vulnerability_id: str
    subject: str
    decision: Decision
    decided_by: str
    before: dict[str, Any] | None

    @property
    def status(self) -> FindingStatus:
        return self.decision.status


def triage(platform: Platform, principal: Principal, vulnerability_id: str, status: str, *,
           device_id: int | None = None, model: str | None = None,
           firmware: str | None = None, justification: str | None = None,
           note: str | None = None, approver: str | None = None,
           expires_at: datetime | None = None) -> Triaged:
    """Record a decision about a vulnerability on a device, or on every device running a
    firmware image (``model`` + ``firmware``). The device's own decision wins."""
    require(principal, Permission.WRITE)
    vid = normalise_id(vulnerability_id)
    if not vid or len(vid) > 64:
        raise InputError("give the vulnerability id (e.g. CVE-2024-1234)")
    if (device_id is None) == (model is None):
        raise InputError("say where: a device, or a model and its firmware version")
    now = platform.now()
    decision = decide(status, justification=justification, note=note, approver=approver,
                      expires_at=expires_at, actor=principal.actor, now=now)
    with platform.uow(principal.tenant, True) as uow:
        firmware_id = None
        if device_id is not None:
            device = uow.devices.get(device_id)
            if device is None:
                raise NotFound(f"device {device_id} not found")
            subject = f"device {device_id} ({device.name})"
            if not uow.findings.still_matches(vid, device_id=device_id, firmware_id=None):
                raise NotFound(f"{vid} is not a finding on device {device_id}")
        else:
            if not (firmware and firmware.strip()):
                raise InputError("a model needs its firmware version")
            assert model is not None
            m = find_model(uow, model.strip())
            assert m.id is not None
            firmware_id = uow.software.firmware_id(m.id, firmware.strip())
            subject = f"{m.vendor} {m.model} firmware {firmware.strip()}"
            if firmware_id is None or not uow.findings.still_matches(
                    vid, device_id=None, firmware_id=firmware_id):
                raise NotFound(f"{vid} is not a finding on {subject}")
        before = uow.findings.decide(vid, device_id=device_id, firmware_id=firmware_id,
                                     decision=decision, actor=principal.actor, now=now)
        after = {"vulnerability_id": vid, "subject": subject, "status": decision.status.value,
                 "justification": decision.justification.value if decision.justification
                 else None, "note": decision.note, "approver": decision.approver,
                 "expires_at": decision.expires_at.isoformat() if decision.expires_at
                 else None}
        audit.record(platform, uow, principal.actor, "vulns.triage", "finding",
                     f"{vid}@{'device' if device_id is not None else 'firmware'}:"
                     f"{device_id if device_id is not None else firmware_id}",
                     before=before, after=after)
        uow.commit()
    return Triaged(vid, subject, decision, principal.actor, before)


def set_response_days(platform: Platform, principal: Principal,
                      days: Sequence[int]) -> Tenant:
    """The tenant's response time per priority (P1..P4), in days."""
    try:
        checked = prio.check_response_days(tuple(days))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return update_settings(
        platform, principal,
        lambda s: replace(s, response_days_p1=checked[0], response_days_p2=checked[1],
                          response_days_p3=checked[2], response_days_p4=checked[3]),
        lambda s: {"response_days": list(response_days(s))})
