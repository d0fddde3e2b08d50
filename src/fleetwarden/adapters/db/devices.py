"""Device storage: rows <-> ``Device`` values, identifier indexes, bulk insert.

Every statement filters on the unit of work's tenant. Duplicate strong identifiers
are refused by the primary key of ``device_identifiers`` and reported as
``Conflict`` naming the identifier.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from fleetwarden.adapters.db.tables import (
    device_addresses,
    device_identifiers,
    device_models,
    devices,
    segments,
    sites,
)
from fleetwarden.domain.device_input import DeviceDraft
from fleetwarden.domain.identifiers import STRONG_KINDS, IdentifierKind
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.model import Device
from fleetwarden.domain.vocab import Criticality, DeviceType
from fleetwarden.errors import Conflict, InputError
from fleetwarden.ports import DeviceQuery

SORTABLE = {"id": devices.c.id, "name": devices.c.name, "last_seen": devices.c.last_seen}

_COLUMNS = [
    devices,
    device_models.c.vendor,
    device_models.c.model,
    sites.c.name.label("site_name"),
    segments.c.name.label("segment_name"),
]


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _split(text_value: str) -> tuple[str, ...]:
    return tuple(text_value.split(";")) if text_value else ()


def row_to_device(r: Any) -> Device:
    return Device(
        id=r.id,
        tenant_id=r.tenant_id,
        name=r.name,
        device_type=DeviceType(r.device_type),
        lifecycle_state=LifecycleState(r.lifecycle_state),
        model_id=r.model_id,
        vendor=r.vendor,
        model=r.model,
        serial=r.serial,
        mac_addresses=_split(r.mac_addresses),
        ip_addresses=_split(r.ip_addresses),
        imei=r.imei,
        iccid=r.iccid,
        vin=r.vin,
        hostname=r.hostname,
        cert_sha256=r.cert_sha256,
        firmware_version=r.firmware_version,
        site_id=r.site_id,
        site=r.site_name,
        segment_id=r.segment_id,
        segment=r.segment_name,
        owner=r.owner,
        criticality=Criticality(r.criticality),
        first_seen=_utc(r.first_seen),
        last_seen=_utc(r.last_seen),
        tags=_split(r.tags),
        ever_in_service=bool(r.ever_in_service),
    )


def device_values(d: Device, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": d.tenant_id,
        "name": d.name,
        "device_type": d.device_type.value,
        "lifecycle_state": d.lifecycle_state.value,
        "model_id": d.model_id,
        "serial": d.serial,
        "mac_addresses": ";".join(d.mac_addresses),
        "ip_addresses": ";".join(d.ip_addresses),
        "imei": d.imei,
        "iccid": d.iccid,
        "vin": d.vin,
        "hostname": d.hostname,
        "cert_sha256": d.cert_sha256,
        "firmware_version": d.firmware_version,
        "site_id": d.site_id,
        "segment_id": d.segment_id,
        "owner": d.owner,
        "criticality": d.criticality.value,
        "first_seen": d.first_seen,
        "last_seen": d.last_seen,
        "tags": ";".join(d.tags),
        "ever_in_service": d.ever_in_service,
        "updated_at": now,
    }


def identifiers_of(d: Device) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(strong, weak) identifier pairs of a device, as stored."""
    K = IdentifierKind
    strong: list[tuple[str, str]] = []
    if d.serial:
        strong.append((K.SERIAL.value, d.serial))
    strong.extend((K.MAC.value, m) for m in d.mac_addresses)
    for kind, value in ((K.IMEI, d.imei), (K.ICCID, d.iccid), (K.VIN, d.vin),
                        (K.CERT_SHA256, d.cert_sha256)):
        if value:
            strong.append((kind.value, value))
    weak = [(K.IP.value, ip) for ip in d.ip_addresses]
    if d.hostname:
        weak.append((K.HOSTNAME.value, d.hostname))
    return strong, weak


class SqlDeviceRepository:
    def __init__(self, conn: Connection, tenant_id: int, clock_now: Any) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._now = clock_now
        self._first_bulk_id: int | None = None

    def _base(self) -> Any:
        return (
            select(*_COLUMNS)
            .select_from(
                devices.outerjoin(device_models, devices.c.model_id == device_models.c.id)
                .outerjoin(sites, devices.c.site_id == sites.c.id)
                .outerjoin(segments, devices.c.segment_id == segments.c.id)
            )
            .where(devices.c.tenant_id == self._tenant)
        )

    def get(self, device_id: int) -> Device | None:
        row = self._conn.execute(self._base().where(devices.c.id == device_id)).first()
        return row_to_device(row) if row else None

    def _filtered(self, stmt: Any, q: DeviceQuery) -> Any:
        c = devices.c
        if q.state:
            stmt = stmt.where(c.lifecycle_state == q.state)
        if q.device_type:
            stmt = stmt.where(c.device_type == q.device_type)
        if q.site_id is not None:
            stmt = stmt.where(c.site_id == q.site_id)
        if q.segment_id is not None:
            stmt = stmt.where(c.segment_id == q.segment_id)
        if q.model_id is not None:
            stmt = stmt.where(c.model_id == q.model_id)
        if q.search:
            pattern = "%" + q.search.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            stmt = stmt.where(
                or_(
                    c.name.like(pattern, escape="\\"),
                    c.serial.like(pattern, escape="\\"),
                    c.hostname.like(pattern, escape="\\"),
                )
            )
        return stmt

    def find(self, q: DeviceQuery) -> list[Device]:
        col = SORTABLE[q.sort]
        stmt = self._filtered(self._base(), q)
        if q.after is not None:
            value, last_id = q.after
            if q.sort == "id":
                stmt = stmt.where(col < last_id if q.descending else col > last_id)
            elif q.descending:
                stmt = stmt.where(or_(col < value, and_(col == value, devices.c.id < last_id)))
            else:
                stmt = stmt.where(or_(col > value, and_(col == value, devices.c.id > last_id)))
        if q.descending:
            stmt = stmt.order_by(col.desc(), devices.c.id.desc())
        else:
            stmt = stmt.order_by(col.asc(), devices.c.id.asc())
        rows = self._conn.execute(stmt.limit(q.limit)).all()
        return [row_to_device(r) for r in rows]

    def count(self, q: DeviceQuery) -> int:
        stmt = self._filtered(
            select(func.count()).select_from(devices).where(devices.c.tenant_id == self._tenant),
            q,
        )
        return int(self._conn.execute(stmt).scalar_one())

    def iterate(self, q: DeviceQuery, batch: int = 5000) -> Iterator[Device]:
        after: tuple[Any, int] | None = None
        while True:
            page = self.find(replace(q, limit=batch, after=after, sort="id", descending=False))
            yield from page
            if len(page) < batch:
                return
            after = (page[-1].id, page[-1].id or 0)

    def lookup(self, kind: IdentifierKind, value: str) -> list[int]:
        table = device_identifiers if kind in STRONG_KINDS else device_addresses
        rows = self._conn.execute(
            select(table.c.device_id).where(
                table.c.tenant_id == self._tenant,
                table.c.kind == kind.value,
                table.c.value == value,
            )
        ).all()
        return [r[0] for r in rows]

    def _owner_of(self, kind: str, value: str) -> int | None:
        return self._conn.execute(
            select(device_identifiers.c.device_id).where(
                device_identifiers.c.tenant_id == self._tenant,
                device_identifiers.c.kind == kind,
                device_identifiers.c.value == value,
            )
        ).scalar()

    def _check_free(self, device: Device) -> None:
        for kind, value in identifiers_of(device)[0]:
            owner = self._owner_of(kind, value)
            if owner is not None and owner != device.id:
                raise Conflict(f"{kind} {value} already belongs to device {owner}")

    def _write_identifiers(self, device_id: int, device: Device) -> None:
        strong, weak = identifiers_of(device)
        if strong:
            self._conn.execute(
                insert(device_identifiers),
                [{"tenant_id": self._tenant, "kind": k, "value": v, "device_id": device_id}
                 for k, v in strong],
            )
        if weak:
            self._conn.execute(
                insert(device_addresses),
                [{"tenant_id": self._tenant, "kind": k, "value": v, "device_id": device_id}
                 for k, v in weak],
            )

    def add(self, device: Device) -> Device:
        self._check_free(device)
        now = self._now()
        values = device_values(device, now) | {"tenant_id": self._tenant, "created_at": now}
        new_id = self._conn.execute(insert(devices).values(**values)).inserted_primary_key[0]
        self._write_identifiers(new_id, device)
        stored = self.get(new_id)
        assert stored is not None
        return stored

    def update(self, device: Device) -> Device:
        assert device.id is not None
        self._check_free(device)
        values = device_values(device, self._now()) | {"tenant_id": self._tenant}
        self._conn.execute(
            update(devices)
            .where(devices.c.tenant_id == self._tenant, devices.c.id == device.id)
            .values(**values)
        )
        for table in (device_identifiers, device_addresses):
            self._conn.execute(
                delete(table).where(table.c.tenant_id == self._tenant,
                                    table.c.device_id == device.id)
            )
        self._write_identifiers(device.id, device)
        stored = self.get(device.id)
        assert stored is not None
        return stored

    def delete(self, device_id: int) -> None:
        for table in (device_identifiers, device_addresses):
            self._conn.execute(
                delete(table).where(table.c.tenant_id == self._tenant,
                                    table.c.device_id == device_id)
            )
        self._conn.execute(
            delete(devices).where(devices.c.tenant_id == self._tenant, devices.c.id == device_id)
        )

    # -- bulk ---------------------------------------------------------------------
    def _allocate_ids(self, n: int) -> list[int]:
        """Reserve ``n`` device ids inside the current (write-locked) transaction."""
        if self._conn.dialect.name == "postgresql":
            rows = self._conn.execute(
                text("SELECT nextval(pg_get_serial_sequence('devices', 'id')) "
                     "FROM generate_series(1, :n)"),
                {"n": n},
            ).all()
            return [r[0] for r in rows]
        start = self._conn.execute(select(func.coalesce(func.max(devices.c.id), 0))).scalar_one()
        return list(range(start + 1, start + 1 + n))

    def add_many(self, batch: Sequence[Device]) -> list[tuple[int, str]]:
        """Insert new devices; returns (index, message) for rows refused as duplicates.

        The fast path inserts the whole batch; only if the database refuses it is the
        batch replayed row by row, each in a savepoint, to name the offending rows.
        """
        if not batch:
            return []
        now = self._now()
        ids = self._allocate_ids(len(batch))
        if self._first_bulk_id is None:
            self._first_bulk_id = ids[0]
        prepared = [self._bulk_rows(i, d, now) for i, d in zip(ids, batch, strict=True)]
        try:
            with self._conn.begin_nested():
                self._insert_rows(prepared)
            return []
        except IntegrityError:
            pass
        errors: list[tuple[int, str]] = []
        for index, rows in enumerate(prepared):
            try:
                with self._conn.begin_nested():
                    self._insert_rows([rows])
            except IntegrityError:
                errors.append((index, self._duplicate_message(rows[1])))
        return errors

    def _bulk_rows(self, new_id: int, device: Device, now: datetime) -> tuple[
        dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]
    ]:
        values = device_values(device, now)
        values["id"] = new_id
        values["created_at"] = now
        strong, weak = identifiers_of(device)
        t = self._tenant
        return (
            values,
            [{"tenant_id": t, "kind": k, "value": v, "device_id": new_id} for k, v in strong],
            [{"tenant_id": t, "kind": k, "value": v, "device_id": new_id} for k, v in weak],
        )

    def _insert_rows(self, prepared: Sequence[tuple[Any, list[Any], list[Any]]]) -> None:
        self._conn.execute(insert(devices), [p[0] for p in prepared])
        strong = [r for p in prepared for r in p[1]]
        if strong:
            self._conn.execute(insert(device_identifiers), strong)
        weak = [r for p in prepared for r in p[2]]
        if weak:
            self._conn.execute(insert(device_addresses), weak)

    def _duplicate_message(self, strong_rows: list[dict[str, Any]]) -> str:
        for r in strong_rows:
            owner = self._owner_of(r["kind"], r["value"])
            if owner is not None:
                if self._first_bulk_id is not None and owner >= self._first_bulk_id:
                    return f"duplicate {r['kind']} {r['value']} (also earlier in this import)"
                return f"duplicate {r['kind']} {r['value']} (already device {owner})"
        kinds = [(r["kind"], r["value"]) for r in strong_rows]
        if len(set(kinds)) < len(kinds):
            return "the same identifier is listed twice in this row"
        return "duplicate identifier"
