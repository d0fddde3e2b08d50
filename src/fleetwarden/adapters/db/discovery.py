"""Discovery storage: hosts, scans, schedules and alerts of one tenant.

Every statement filters on the unit of work's tenant. Lookups by identifier take many
values at once (chunked ``IN``) so that reconciling a thousand hosts costs a few dozen
queries, not thousands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from fleetwarden.adapters.db.tables import (
    alerts,
    as_utc,
    device_addresses,
    device_identifiers,
    devices,
    discovered_hosts,
    discovery_scans,
    discovery_schedules,
    segments,
)
from fleetwarden.domain.inventory import (
    Alert,
    AlertKind,
    DiscoveredHost,
    ScanRecord,
    Schedule,
    Severity,
)
from fleetwarden.domain.reconcile import HostStatus

CHUNK = 500
_HOST_COLUMNS = {"ip", "mac", "hostname", "serial", "ssh_host_key"}
_STRONG_DEVICE_KINDS = {"serial", "mac", "cert_sha256"}


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    batch = sorted(set(values))
    for i in range(0, len(batch), CHUNK):
        yield batch[i:i + CHUNK]


def _row_to_host(r: Any) -> DiscoveredHost:
    status = HostStatus(r.status)
    if status is HostStatus.REGISTERED and r.device_id is None:
        status = HostStatus.UNREGISTERED  # its device was deleted: back in the queue
    return DiscoveredHost(
        id=r.id, tenant_id=r.tenant_id, status=status, device_id=r.device_id, ip=r.ip,
        mac=r.mac, hostname=r.hostname, serial=r.serial, ssh_host_key=r.ssh_host_key,
        certificates=tuple(r.certificates.split(";")) if r.certificates else (),
        vendor=r.vendor, model=r.model, device_type=r.device_type,
        firmware_version=r.firmware_version, os=r.os, confidence=r.confidence,
        fingerprint=json.loads(r.fingerprint), services=tuple(json.loads(r.services)),
        overrides=json.loads(r.overrides),
        sources=tuple(r.sources.split(",")) if r.sources else (), segment_id=r.segment_id,
        first_seen=as_utc(r.first_seen), last_seen=as_utc(r.last_seen),
        missing_since=as_utc(r.missing_since), last_scan_id=r.last_scan_id, note=r.note)


def _host_values(h: DiscoveredHost) -> dict[str, Any]:
    return {
        "device_id": h.device_id, "status": h.status.value, "ip": h.ip, "mac": h.mac,
        "hostname": h.hostname, "serial": h.serial, "ssh_host_key": h.ssh_host_key,
        "certificates": ";".join(h.certificates), "vendor": h.vendor, "model": h.model,
        "device_type": h.device_type, "firmware_version": h.firmware_version, "os": h.os,
        "confidence": h.confidence, "fingerprint": json.dumps(h.fingerprint, sort_keys=True),
        "services": json.dumps(list(h.services), sort_keys=True),
        "overrides": json.dumps(dict(h.overrides), sort_keys=True),
        "sources": ",".join(h.sources), "segment_id": h.segment_id,
        "first_seen": h.first_seen, "last_seen": h.last_seen,
        "missing_since": h.missing_since, "last_scan_id": h.last_scan_id, "note": h.note,
    }


def _row_to_scan(r: Any) -> ScanRecord:
    return ScanRecord(
        id=r.id, tenant_id=r.tenant_id, sources=tuple(r.sources.split(",")), actor=r.actor,
        status=r.status, targets=tuple(json.loads(r.targets)), options=json.loads(r.options),
        started_at=as_utc(r.started_at) or datetime.now(UTC), outside_scope=r.outside_scope,
        registered=r.registered, segment_id=r.segment_id, schedule_id=r.schedule_id,
        finished_at=as_utc(r.finished_at), summary=json.loads(r.summary), error=r.error)


def _row_to_schedule(r: Any) -> Schedule:
    return Schedule(
        id=r.id, tenant_id=r.tenant_id, segment_id=r.segment_id,
        every_seconds=r.every_seconds, options=json.loads(r.options),
        next_run_at=as_utc(r.next_run_at) or datetime.now(UTC), created_by=r.created_by,
        created_at=as_utc(r.created_at) or datetime.now(UTC), enabled=r.enabled,
        last_run_at=as_utc(r.last_run_at), last_scan_id=r.last_scan_id,
        last_error=r.last_error, segment=r.segment_name)


def _row_to_alert(r: Any) -> Alert:
    return Alert(
        id=r.id, tenant_id=r.tenant_id, kind=AlertKind(r.kind), severity=Severity(r.severity),
        title=r.title, details=json.loads(r.details),
        created_at=as_utc(r.created_at) or datetime.now(UTC), device_id=r.device_id,
        host_id=r.host_id, scan_id=r.scan_id, acknowledged_at=as_utc(r.acknowledged_at),
        acknowledged_by=r.acknowledged_by, delivered_at=as_utc(r.delivered_at),
        delivery_attempts=r.delivery_attempts, delivery_error=r.delivery_error)


class SqlDiscoveryRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tid = tenant_id

    # ------------------------------------------------------------------- hosts
    def host(self, host_id: int) -> DiscoveredHost | None:
        r = self._conn.execute(select(discovered_hosts).where(
            discovered_hosts.c.tenant_id == self._tid,
            discovered_hosts.c.id == host_id)).first()
        return _row_to_host(r) if r is not None else None

    def hosts_by(self, column: str, values: Iterable[str]) -> list[DiscoveredHost]:
        """Hosts whose ``column`` (ip, mac, hostname, serial, ssh_host_key) is a value."""
        assert column in _HOST_COLUMNS
        col = discovered_hosts.c[column]
        out: list[DiscoveredHost] = []
        for chunk in _chunks(values):
            rows = self._conn.execute(select(discovered_hosts).where(
                discovered_hosts.c.tenant_id == self._tid, col.in_(chunk))).all()
            out += [_row_to_host(r) for r in rows]
        return out

    def hosts_with_certificates(self, shas: Iterable[str]) -> list[DiscoveredHost]:
        out: dict[int, DiscoveredHost] = {}
        for chunk in _chunks(shas):
            cond = or_(*(discovered_hosts.c.certificates.contains(sha) for sha in chunk))
            for r in self._conn.execute(select(discovered_hosts).where(
                    discovered_hosts.c.tenant_id == self._tid, cond)).all():
                out[r.id] = _row_to_host(r)
        return list(out.values())

    def hosts_of_devices(self, device_ids: Iterable[int]) -> list[DiscoveredHost]:
        out: list[DiscoveredHost] = []
        ids = sorted(set(device_ids))
        for i in range(0, len(ids), CHUNK):
            rows = self._conn.execute(select(discovered_hosts).where(
                discovered_hosts.c.tenant_id == self._tid,
                discovered_hosts.c.device_id.in_(ids[i:i + CHUNK]))).all()
            out += [_row_to_host(r) for r in rows]
        return out

    def list_hosts(self, status: HostStatus | None, *, limit: int,
                   offset: int = 0) -> list[DiscoveredHost]:
        stmt = select(discovered_hosts).where(discovered_hosts.c.tenant_id == self._tid)
        if status is HostStatus.UNREGISTERED:
            stmt = stmt.where(or_(discovered_hosts.c.status == status.value,
                                  discovered_hosts.c.device_id.is_(None)
                                  & (discovered_hosts.c.status == "registered")))
        elif status is not None:
            stmt = stmt.where(discovered_hosts.c.status == status.value)
        rows = self._conn.execute(stmt.order_by(discovered_hosts.c.id)
                                  .limit(limit).offset(offset)).all()
        return [_row_to_host(r) for r in rows]

    def count_hosts(self, status: HostStatus) -> int:
        return int(self._conn.execute(select(func.count()).select_from(discovered_hosts).where(
            discovered_hosts.c.tenant_id == self._tid,
            discovered_hosts.c.status == status.value)).scalar_one())

    def add_host(self, host: DiscoveredHost) -> DiscoveredHost:
        new_id = self._conn.execute(insert(discovered_hosts).values(
            tenant_id=self._tid, **_host_values(host))).inserted_primary_key
        assert new_id is not None
        return replace(host, id=new_id[0], tenant_id=self._tid)

    def update_host(self, host: DiscoveredHost) -> DiscoveredHost:
        self._conn.execute(update(discovered_hosts).where(
            discovered_hosts.c.tenant_id == self._tid,
            discovered_hosts.c.id == host.id).values(**_host_values(host)))
        return host

    def delete_host(self, host_id: int) -> None:
        self._conn.execute(delete(discovered_hosts).where(
            discovered_hosts.c.tenant_id == self._tid, discovered_hosts.c.id == host_id))

    # ----------------------------------------------------- the register's side
    def devices_by(self, kind: str, values: Iterable[str]) -> dict[str, list[int]]:
        """Device ids per identifier value (serial, mac, cert_sha256, ip, hostname)."""
        table = device_identifiers if kind in _STRONG_DEVICE_KINDS else device_addresses
        out: dict[str, list[int]] = {}
        for chunk in _chunks(values):
            rows = self._conn.execute(select(table.c.value, table.c.device_id).where(
                table.c.tenant_id == self._tid, table.c.kind == kind,
                table.c.value.in_(chunk))).all()
            for value, device_id in rows:
                out.setdefault(value, []).append(device_id)
        return out

    def mark_seen(self, device_ids: Sequence[int], at: datetime) -> None:
        """Set ``last_seen`` (and a missing ``first_seen``) of many devices at once."""
        ids = sorted(set(device_ids))
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            where = (devices.c.tenant_id == self._tid, devices.c.id.in_(chunk))
            self._conn.execute(update(devices).where(*where).values(last_seen=at))
            self._conn.execute(update(devices).where(*where, devices.c.first_seen.is_(None))
                               .values(first_seen=at))

    def segment_cidrs(self) -> dict[str, tuple[int, tuple[str, ...]]]:
        """Every segment of the tenant: name -> (id, CIDRs). The scan allow-list."""
        rows = self._conn.execute(select(segments.c.id, segments.c.name, segments.c.cidrs)
                                  .where(segments.c.tenant_id == self._tid)).all()
        return {r.name: (r.id, tuple(json.loads(r.cidrs or "[]"))) for r in rows}

    # ------------------------------------------------------------------- scans
    def add_scan(self, scan: ScanRecord) -> ScanRecord:
        new_id = self._conn.execute(insert(discovery_scans).values(
            tenant_id=self._tid, sources=",".join(scan.sources), actor=scan.actor,
            status=scan.status, targets=json.dumps(list(scan.targets)),
            options=json.dumps(dict(scan.options), sort_keys=True),
            outside_scope=scan.outside_scope, registered=scan.registered,
            segment_id=scan.segment_id, schedule_id=scan.schedule_id,
            started_at=scan.started_at, finished_at=scan.finished_at,
            summary=json.dumps(dict(scan.summary), sort_keys=True),
            error=scan.error)).inserted_primary_key
        assert new_id is not None
        return replace(scan, id=new_id[0], tenant_id=self._tid)

    def finish_scan(self, scan_id: int, status: str, finished_at: datetime,
                    summary: dict[str, Any], error: str | None = None) -> None:
        self._conn.execute(update(discovery_scans).where(
            discovery_scans.c.tenant_id == self._tid, discovery_scans.c.id == scan_id).values(
            status=status, finished_at=finished_at, summary=json.dumps(summary, sort_keys=True),
            error=error))

    def scan(self, scan_id: int) -> ScanRecord | None:
        r = self._conn.execute(select(discovery_scans).where(
            discovery_scans.c.tenant_id == self._tid, discovery_scans.c.id == scan_id)).first()
        return _row_to_scan(r) if r is not None else None

    def scans(self, limit: int) -> list[ScanRecord]:
        rows = self._conn.execute(select(discovery_scans).where(
            discovery_scans.c.tenant_id == self._tid)
            .order_by(discovery_scans.c.id.desc()).limit(limit)).all()
        return [_row_to_scan(r) for r in rows]

    # --------------------------------------------------------------- schedules
    def _schedules(self) -> Any:
        return (select(discovery_schedules, segments.c.name.label("segment_name"))
                .join(segments, segments.c.id == discovery_schedules.c.segment_id)
                .where(discovery_schedules.c.tenant_id == self._tid))

    def add_schedule(self, s: Schedule) -> Schedule:
        new_id = self._conn.execute(insert(discovery_schedules).values(
            tenant_id=self._tid, segment_id=s.segment_id, every_seconds=s.every_seconds,
            options=json.dumps(dict(s.options), sort_keys=True), enabled=s.enabled,
            next_run_at=s.next_run_at, created_by=s.created_by,
            created_at=s.created_at)).inserted_primary_key
        assert new_id is not None
        return replace(s, id=new_id[0], tenant_id=self._tid)

    def schedule(self, schedule_id: int) -> Schedule | None:
        r = self._conn.execute(self._schedules().where(
            discovery_schedules.c.id == schedule_id)).first()
        return _row_to_schedule(r) if r is not None else None

    def schedule_for(self, segment_id: int) -> Schedule | None:
        r = self._conn.execute(self._schedules().where(
            discovery_schedules.c.segment_id == segment_id)).first()
        return _row_to_schedule(r) if r is not None else None

    def schedules(self) -> list[Schedule]:
        rows = self._conn.execute(self._schedules().order_by(discovery_schedules.c.id)).all()
        return [_row_to_schedule(r) for r in rows]

    def due_schedules(self, now: datetime) -> list[Schedule]:
        rows = self._conn.execute(self._schedules().where(
            discovery_schedules.c.enabled.is_(True),
            discovery_schedules.c.next_run_at <= now)
            .order_by(discovery_schedules.c.next_run_at)).all()
        return [_row_to_schedule(r) for r in rows]

    def save_schedule_run(self, schedule_id: int, *, next_run_at: datetime,
                          last_run_at: datetime | None, last_scan_id: int | None,
                          last_error: str | None) -> None:
        self._conn.execute(update(discovery_schedules).where(
            discovery_schedules.c.tenant_id == self._tid,
            discovery_schedules.c.id == schedule_id).values(
            next_run_at=next_run_at, last_run_at=last_run_at, last_scan_id=last_scan_id,
            last_error=last_error))

    def delete_schedule(self, schedule_id: int) -> None:
        self._conn.execute(delete(discovery_schedules).where(
            discovery_schedules.c.tenant_id == self._tid,
            discovery_schedules.c.id == schedule_id))

    # ------------------------------------------------------------------ alerts
    def add_alert(self, a: Alert) -> Alert:
        new_id = self._conn.execute(insert(alerts).values(
            tenant_id=self._tid, kind=a.kind.value, severity=a.severity.value,
            title=a.title[:512], details=json.dumps(dict(a.details), sort_keys=True),
            device_id=a.device_id, host_id=a.host_id, scan_id=a.scan_id,
            created_at=a.created_at)).inserted_primary_key
        assert new_id is not None
        return replace(a, id=new_id[0], tenant_id=self._tid)

    def alert(self, alert_id: int) -> Alert | None:
        r = self._conn.execute(select(alerts).where(
            alerts.c.tenant_id == self._tid, alerts.c.id == alert_id)).first()
        return _row_to_alert(r) if r is not None else None

    def alerts(self, *, kinds: Sequence[str] = (), unacknowledged: bool = False,
               since: datetime | None = None, device_id: int | None = None,
               limit: int = 100, before_id: int | None = None) -> list[Alert]:
        stmt = select(alerts).where(alerts.c.tenant_id == self._tid)
        if kinds:
            stmt = stmt.where(alerts.c.kind.in_(list(kinds)))
        if unacknowledged:
            stmt = stmt.where(alerts.c.acknowledged_at.is_(None))
        if since is not None:
            stmt = stmt.where(alerts.c.created_at >= since)
        if device_id is not None:
            stmt = stmt.where(alerts.c.device_id == device_id)
        if before_id is not None:
            stmt = stmt.where(alerts.c.id < before_id)
        rows = self._conn.execute(stmt.order_by(alerts.c.id.desc()).limit(limit)).all()
        return [_row_to_alert(r) for r in rows]

    def acknowledge(self, alert_id: int, by: str, at: datetime) -> None:
        self._conn.execute(update(alerts).where(
            alerts.c.tenant_id == self._tid, alerts.c.id == alert_id).values(
            acknowledged_at=at, acknowledged_by=by))

    def undelivered(self, limit: int, max_attempts: int) -> list[Alert]:
        rows = self._conn.execute(select(alerts).where(
            alerts.c.tenant_id == self._tid, alerts.c.delivered_at.is_(None),
            alerts.c.delivery_attempts < max_attempts)
            .order_by(alerts.c.id).limit(limit)).all()
        return [_row_to_alert(r) for r in rows]

    def mark_delivery(self, alert_id: int, *, delivered_at: datetime | None,
                      error: str | None) -> None:
        self._conn.execute(update(alerts).where(
            alerts.c.tenant_id == self._tid, alerts.c.id == alert_id).values(
            delivered_at=delivered_at, delivery_error=error,
            delivery_attempts=alerts.c.delivery_attempts + 1))
