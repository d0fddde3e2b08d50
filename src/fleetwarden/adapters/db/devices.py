"""Device storage: rows <-> ``Device`` values, identifier indexes, bulk insert.

Every statement filters on the unit of work's tenant. Duplicate strong identifiers
are refused by the primary key of ``device_identifiers`` and reported as
``Conflict`` naming the identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from fleetwarden.adapters.db.tables import (
    as_utc,
    device_addresses,
    device_identifiers,
    device_models,
    devices,
    segments,
    sites,
)
from fleetwarden.domain.identifiers import STRONG_KINDS, IdentifierKind
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.model import Device
from fleetwarden.domain.vocab import Criticality, DeviceType
from fleetwarden.errors import Conflict
from fleetwarden.ports import DeviceQuery

SORTABLE = {"id": devices.c.id, "name": devices.c.name, "last_seen": devices.c.last_seen}

_COLUMNS = [
    devices,
    device_models.c.vendor,
    device_models.c.model,
    sites.c.name.label("site_name"),
    segments.c.name.label("segment_name"),
]


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
        first_seen=as_utc(r.first_seen),
        last_seen=as_utc(r.last_seen),
        tags=_split(r.tags),
        ever_in_service=bool(r.ever_in_service),
        firmware_updated_at=as_utc(r.firmware_updated_at),
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
        "firmware_updated_at": d.firmware_updated_at,
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

    def get_many(self, device_ids: Iterable[int]) -> dict[int, Device]:
        """Many devices by id in a few queries (missing or foreign ids are left out)."""
        ids = sorted(set(device_ids))
        out: dict[int, Device] = {}
        for i in range(0, len(ids), 500):
            rows = self._conn.execute(self._base().where(devices.c.id.in_(ids[i:i + 500])))
            out.update((r.id, row_to_device(r)) for r in rows)
        return out

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
        if q.criticality:
            stmt = stmt.where(c.criticality == q.criticality)
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
        """One page in keyset order.

        The page's ids are chosen from ``devices`` alone and only those rows are joined
        to models, sites and segments: otherwise PostgreSQL without fresh statistics
        joins every matching row before sorting.
        """
        col = SORTABLE[q.sort]
        ids = self._filtered(
            select(devices.c.id).where(devices.c.tenant_id == self._tenant), q
        )
        if q.after is not None:
            ids = ids.where(_after(col, q.after, q.descending, nullable=q.sort == "last_seen"))
        order = _order(col, q.descending, nullable=q.sort == "last_seen")
        page = ids.order_by(*order).limit(q.limit).scalar_subquery()
        stmt = self._base().where(devices.c.id.in_(page)).order_by(*order)
        return [row_to_device(r) for r in self._conn.execute(stmt).all()]

    def refresh_statistics(self) -> None:
        """Let PostgreSQL's planner see a bulk load at once instead of at the next
        autovacuum (without it, the first list queries after a big import are ~30x
        slower). SQLite plans these queries well without statistics."""
        if self._conn.dialect.name == "postgresql":
            self._conn.exec_driver_sql("ANALYZE devices, device_identifiers, device_addresses")

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

    def lookup(self, kind: IdentifierKind, value: str) -> list[Device]:
        """Devices holding an identifier, in one round trip."""
        table = device_identifiers if kind in STRONG_KINDS else device_addresses
        holders = select(table.c.device_id).where(
            table.c.tenant_id == self._tenant,
            table.c.kind == kind.value,
            table.c.value == value,
        )
        rows = self._conn.execute(
            self._base().where(devices.c.id.in_(holders)).order_by(devices.c.id)
        ).all()
        return [row_to_device(r) for r in rows]

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
        now = self._now()
        values = device_values(device, now) | {"tenant_id": self._tenant}
        # A new firmware version is an update: remember when (the old row decides).
        values["firmware_updated_at"] = case(
            (devices.c.firmware_version.is_distinct_from(device.firmware_version), now),
            else_=devices.c.firmware_updated_at)
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
    # Imports write millions of rows, so this path skips the ORM-ish statement building:
    # rows are plain tuples, written with one executemany per table (SQLite) or COPY
    # (PostgreSQL). Column values are converted exactly as the Core path would.

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
        ts = _timestamp_writer(self._conn.dialect)
        stored_now = ts(now)
        bulk_row = self._bulk_rows
        prepared = [bulk_row(i, d, stored_now, ts) for i, d in zip(ids, batch, strict=True)]
        refused = (IntegrityError, self._conn.dialect.loaded_dbapi.IntegrityError)
        try:
            with self._conn.begin_nested():
                self._insert_rows(prepared)
            return []
        except refused:
            pass
        errors: list[tuple[int, str]] = []
        for index, rows in enumerate(prepared):
            try:
                with self._conn.begin_nested():
                    self._insert_rows([rows])
            except refused:
                errors.append((index, self._duplicate_message(rows[1])))
        return errors

    def _bulk_rows(self, new_id: int, d: Device, now: Any, ts: Any) -> tuple[
        tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]
    ]:
        """(devices row, device_identifiers rows, device_addresses rows) as tuples in
        ``_BULK_COLUMNS`` / ``_IDENT_COLUMNS`` order, timestamps already as stored
        (``now`` is; ``ts`` converts the others). ``_value_`` is the enum's plain
        attribute: ``.value`` is a property, measurably slower a million times over."""
        t = self._tenant
        macs, ips, tags = d.mac_addresses, d.ip_addresses, d.tags
        first, last, fw_at = d.first_seen, d.last_seen, d.firmware_updated_at
        values = (
            new_id, t, d.name, d.device_type._value_, d.lifecycle_state._value_, d.model_id,
            d.serial, ";".join(macs) if macs else "", ";".join(ips) if ips else "",
            d.imei, d.iccid, d.vin, d.hostname, d.cert_sha256, d.firmware_version,
            d.site_id, d.segment_id, d.owner, d.criticality._value_,
            None if first is None else ts(first), None if last is None else ts(last),
            ";".join(tags) if tags else "", d.ever_in_service, now, now,
            None if fw_at is None else ts(fw_at),
        )  # fmt: skip
        strong: list[tuple[Any, ...]] = []
        if d.serial:
            strong.append((t, "serial", d.serial, new_id))
        for m in macs:
            strong.append((t, "mac", m, new_id))
        if d.imei:
            strong.append((t, "imei", d.imei, new_id))
        if d.iccid:
            strong.append((t, "iccid", d.iccid, new_id))
        if d.vin:
            strong.append((t, "vin", d.vin, new_id))
        if d.cert_sha256:
            strong.append((t, "cert_sha256", d.cert_sha256, new_id))
        weak = [(t, "ip", ip, new_id) for ip in ips]
        if d.hostname:
            weak.append((t, "hostname", d.hostname, new_id))
        return values, strong, weak

    def _insert_rows(self, prepared: Sequence[tuple[Any, list[Any], list[Any]]]) -> None:
        device_rows = [p[0] for p in prepared]
        strong = [r for p in prepared for r in p[1]]
        weak = [r for p in prepared for r in p[2]]
        if self._conn.dialect.name == "postgresql":
            self._copy_rows(device_rows, strong, weak)
            return
        if self._conn.dialect.name != "sqlite":  # pragma: no cover - only two backends
            self._core_insert_rows(device_rows, strong, weak)
            return
        self._conn.exec_driver_sql(_SQLITE_INSERT_DEVICES, device_rows)
        if strong:
            self._conn.exec_driver_sql(_SQLITE_INSERT_IDENTIFIERS, strong)
        if weak:
            self._conn.exec_driver_sql(_SQLITE_INSERT_ADDRESSES, weak)

    def _copy_rows(self, device_rows: list[tuple[Any, ...]], strong: list[tuple[Any, ...]],
                   weak: list[tuple[Any, ...]]) -> None:
        """PostgreSQL: COPY ... FROM STDIN on the unit of work's own connection."""
        raw = self._conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            for sql, rows in ((_PG_COPY_DEVICES, device_rows),
                              (_PG_COPY_IDENTIFIERS, strong),
                              (_PG_COPY_ADDRESSES, weak)):
                if rows:
                    with cur.copy(sql) as copy:
                        for row in rows:
                            copy.write_row(row)

    def _core_insert_rows(self, device_rows: list[tuple[Any, ...]],
                          strong: list[tuple[Any, ...]], weak: list[tuple[Any, ...]]) -> None:
        self._conn.execute(insert(devices), [dict(zip(_BULK_COLUMNS, r, strict=True))
                                             for r in device_rows])
        for table, rows in ((device_identifiers, strong), (device_addresses, weak)):
            if rows:
                self._conn.execute(insert(table), [dict(zip(_IDENT_COLUMNS, r, strict=True))
                                                   for r in rows])

    def _duplicate_message(self, strong_rows: list[tuple[Any, ...]]) -> str:
        for _tenant, kind, value, _device in strong_rows:
            owner = self._owner_of(kind, value)
            if owner is not None:
                if self._first_bulk_id is not None and owner >= self._first_bulk_id:
                    return f"duplicate {kind} {value} (also earlier in this import)"
                return f"duplicate {kind} {value} (already device {owner})"
        kinds = [(r[1], r[2]) for r in strong_rows]
        if len(set(kinds)) < len(kinds):
            return "the same identifier is listed twice in this row"
        return "duplicate identifier"


_BULK_COLUMNS: tuple[str, ...] = (
    "id", "tenant_id", "name", "device_type", "lifecycle_state", "model_id", "serial",
    "mac_addresses", "ip_addresses", "imei", "iccid", "vin", "hostname", "cert_sha256",
    "firmware_version", "site_id", "segment_id", "owner", "criticality", "first_seen",
    "last_seen", "tags", "ever_in_service", "created_at", "updated_at", "firmware_updated_at",
)  # fmt: skip
_IDENT_COLUMNS: tuple[str, ...] = ("tenant_id", "kind", "value", "device_id")
assert set(_BULK_COLUMNS) == set(devices.c.keys()), "bulk insert misses a devices column"


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    # Built once at import time from the constants above; no input reaches it.
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608


def _copy_sql(table: str, columns: Sequence[str]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"


_SQLITE_INSERT_DEVICES = _insert_sql("devices", _BULK_COLUMNS)
_SQLITE_INSERT_IDENTIFIERS = _insert_sql("device_identifiers", _IDENT_COLUMNS)
_SQLITE_INSERT_ADDRESSES = _insert_sql("device_addresses", _IDENT_COLUMNS)
_PG_COPY_DEVICES = _copy_sql("devices", _BULK_COLUMNS)
_PG_COPY_IDENTIFIERS = _copy_sql("device_identifiers", _IDENT_COLUMNS)
_PG_COPY_ADDRESSES = _copy_sql("device_addresses", _IDENT_COLUMNS)

_TS_WRITERS: dict[str, Any] = {}


def _iso_space(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")[:26]  # drops any "+00:00"


def _timestamp_writer(dialect: Any) -> Any:
    """How a ``DateTime`` value is passed to the driver: what the Core path would send.

    On SQLite that is SQLAlchemy's text form ``YYYY-MM-DD HH:MM:SS.ffffff``, produced
    here by ``isoformat`` (checked against SQLAlchemy's own processor; if they ever
    differ, the processor is used). PostgreSQL drivers take datetimes as they are.
    """
    found = _TS_WRITERS.get(dialect.name)
    if found is None:
        for name in _BULK_COLUMNS:  # every other column type must need no conversion
            col_type = devices.c[name].type
            if (isinstance(col_type, DateTime)
                    or col_type.dialect_impl(dialect).bind_processor(dialect) is None):
                continue
            if isinstance(col_type, Boolean) and dialect.name in ("sqlite", "postgresql"):
                continue  # both drivers take Python bools (SQLite stores them as 0/1)
            raise AssertionError(f"bulk insert: devices.{name} needs a bind processor")
        proc = devices.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
        if proc is None:
            found = _identity
        else:
            samples = (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                       datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                       datetime(2026, 6, 1))
            found = _iso_space if all(_iso_space(v) == proc(v) for v in samples) else proc
        _TS_WRITERS[dialect.name] = found
    return found


def _identity(value: Any) -> Any:
    return value


def _order(col: Any, descending: bool, *, nullable: bool) -> list[Any]:
    """Never-seen devices (NULL) come first ascending and last descending, on every
    database, so that keyset paging is the exact reverse in each direction."""
    if descending:
        key = col.desc().nulls_last() if nullable else col.desc()
        return [key, devices.c.id.desc()]
    key = col.asc().nulls_first() if nullable else col.asc()
    return [key, devices.c.id.asc()]


def _after(col: Any, cursor: tuple[Any, int], descending: bool, *, nullable: bool) -> Any:
    """Rows strictly after ``cursor`` = (sort value, id) in the order ``_order`` gives."""
    value, last_id = cursor
    if col is devices.c.id:
        return col < last_id if descending else col > last_id
    if descending:
        if value is None:
            return and_(col.is_(None), devices.c.id < last_id)
        later = or_(col < value, and_(col == value, devices.c.id < last_id))
        return or_(later, col.is_(None)) if nullable else later
    if value is None:
        return or_(and_(col.is_(None), devices.c.id > last_id), col.is_not(None))
    return or_(col > value, and_(col == value, devices.c.id > last_id))
