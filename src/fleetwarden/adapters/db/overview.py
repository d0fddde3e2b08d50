"""Aggregates for the dashboard's overview: the register counted in one GROUP BY, site
names, and when the daily summary snapshot was taken. Tenant-scoped.

Must not: return a row per device for the whole register (at 1,000,000 devices that is
the difference between a second in SQL and a minute in Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Connection, func, select

from fleetwarden.adapters.db.tables import as_utc, devices, report_snapshots, segments, sites
from fleetwarden.ports import DeviceGroup

_CHUNK = 500


class SqlOverviewRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def _keys(self) -> tuple[object, ...]:
        d = devices.c
        return (d.device_type, d.lifecycle_state, d.site_id, d.criticality, segments.c.zone)

    def device_groups(self) -> list[DeviceGroup]:
        keys = self._keys()
        stmt = (select(*keys, func.count())
                .select_from(devices.outerjoin(segments, segments.c.id == devices.c.segment_id))
                .where(devices.c.tenant_id == self._tenant).group_by(*keys))
        return [DeviceGroup(*row[:5], count=int(row[5])) for row in self._conn.execute(stmt)]

    def device_groups_of(self, device_ids: Sequence[int]) -> dict[int, DeviceGroup]:
        out: dict[int, DeviceGroup] = {}
        ids = sorted(set(device_ids))
        for start in range(0, len(ids), _CHUNK):
            stmt = (select(devices.c.id, *self._keys())
                    .select_from(devices.outerjoin(segments,
                                                   segments.c.id == devices.c.segment_id))
                    .where(devices.c.tenant_id == self._tenant,
                           devices.c.id.in_(ids[start:start + _CHUNK])))
            for row in self._conn.execute(stmt):
                out[int(row[0])] = DeviceGroup(*row[1:], count=1)
        return out

    def site_names(self) -> dict[int, str]:
        return {int(i): str(n) for i, n in self._conn.execute(
            select(sites.c.id, sites.c.name).where(sites.c.tenant_id == self._tenant))}

    def snapshot_taken_at(self, day: date) -> datetime | None:
        s = report_snapshots.c
        return as_utc(self._conn.execute(select(s.taken_at).where(
            s.tenant_id == self._tenant, s.day == day)).scalar())
