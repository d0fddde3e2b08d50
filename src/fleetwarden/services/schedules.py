"""Continuous monitoring: scan a segment every so often (``fleetwarden serve`` runs them).

A schedule is one per segment. ``run_due`` claims each due schedule (moves its next run
forward) before scanning, so a crash mid-scan does not make it fire in a loop; the scan
itself is audited like any other, as the ``scheduler`` actor.

Must not: scan outside the segment it was made for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from fleetwarden.domain.inventory import Schedule
from fleetwarden.domain.vocab import Role
from fleetwarden.errors import Conflict, FleetwardenError, InputError, NotFound
from fleetwarden.ports import ScanOptions
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.discovery import DiscoverRequest, discover

MIN_EVERY = 60
MAX_EVERY = 366 * 86400
SCHEDULER = "scheduler"
log = logging.getLogger(__name__)


def _options(raw: Mapping[str, Any]) -> ScanOptions:
    return ScanOptions(ports=str(raw.get("ports", "iot-top")), udp=bool(raw.get("udp", False)),
                       profile=str(raw.get("profile", "normal")),
                       rate=int(raw["rate"]) if raw.get("rate") else None)


def add_schedule(platform: Platform, principal: Principal, segment: str, every_seconds: int,
                 options: ScanOptions | None = None) -> Schedule:
    require(principal, Permission.WRITE)
    if not MIN_EVERY <= every_seconds <= MAX_EVERY:
        raise InputError("--every: between 1 minute and 366 days")
    options = options or ScanOptions()
    platform.tools().check_options(options)
    with platform.uow(principal.tenant, True) as uow:
        seg = uow.discovery.segment_cidrs().get(segment)
        if seg is None:
            raise NotFound(f"segment {segment!r} not found")
        if not seg[1]:
            raise InputError(f"segment {segment!r} has no CIDR to scan")
        if uow.discovery.schedule_for(seg[0]) is not None:
            raise Conflict(f"segment {segment!r} already has a schedule "
                           "(remove it first: discover schedule remove ID)")
        now = platform.now()
        stored = uow.discovery.add_schedule(Schedule(
            id=None, tenant_id=uow.tenant.id or 0, segment_id=seg[0],
            every_seconds=every_seconds,
            options={"ports": options.ports, "udp": options.udp, "profile": options.profile,
                     "rate": options.rate},
            next_run_at=now, created_by=principal.actor, created_at=now, segment=segment))
        audit.record(platform, uow, principal.actor, "discovery.schedule.create", "schedule",
                     stored.id, after={"segment": segment, "every_seconds": every_seconds,
                                       "options": dict(stored.options)})
        uow.commit()
        return stored


def list_schedules(platform: Platform, principal: Principal) -> list[Schedule]:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.discovery.schedules()


def remove_schedule(platform: Platform, principal: Principal, schedule_id: int) -> None:
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        found = uow.discovery.schedule(schedule_id)
        if found is None:
            raise NotFound(f"schedule {schedule_id} not found")
        uow.discovery.delete_schedule(schedule_id)
        audit.record(platform, uow, principal.actor, "discovery.schedule.delete", "schedule",
                     schedule_id, before={"segment": found.segment,
                                          "every_seconds": found.every_seconds})
        uow.commit()


def run_due(platform: Platform) -> int:
    """Run every tenant's due schedules one after another; how many ran."""
    with platform.uow(None, False) as uow:
        tenants = uow.tenants.all()
    ran = 0
    for tenant in tenants:
        with platform.uow(tenant, False) as uow:
            due = uow.discovery.due_schedules(platform.now())
        for schedule in due:
            _run_one(platform, Principal(tenant, SCHEDULER, Role.ENGINEER), schedule)
            ran += 1
    return ran


def _run_one(platform: Platform, principal: Principal, schedule: Schedule) -> None:
    assert schedule.id is not None
    started = platform.now()
    with platform.uow(principal.tenant, True) as uow:  # claim it first
        uow.discovery.save_schedule_run(
            schedule.id, next_run_at=started + timedelta(seconds=schedule.every_seconds),
            last_run_at=started, last_scan_id=schedule.last_scan_id, last_error=None)
        audit.record(platform, uow, principal.actor, "discovery.schedule.run", "schedule",
                     schedule.id, after={"segment": schedule.segment,
                                         "started_at": started.isoformat()})
        uow.commit()
    error, scan_id = None, schedule.last_scan_id
    try:
        report = discover(platform, principal, DiscoverRequest(
            segment=schedule.segment, options=_options(schedule.options),
            schedule_id=schedule.id))
        scan_id = report.scan.id
    except FleetwardenError as exc:
        error = str(exc)[:500]
        log.warning("scheduled scan of segment %s failed: %s", schedule.segment, error)
    with platform.uow(principal.tenant, True) as uow:
        uow.discovery.save_schedule_run(
            schedule.id, next_run_at=started + timedelta(seconds=schedule.every_seconds),
            last_run_at=started, last_scan_id=scan_id, last_error=error)
        audit.record(platform, uow, principal.actor,
                     f"discovery.schedule.{'failed' if error else 'done'}", "schedule",
                     schedule.id, after={"scan_id": scan_id, "error": error})
        uow.commit()
