"""Generic storage for the register's reference records (sites, segments, ...).

One mapping from ``RecordKind`` to table; list-valued fields are stored as JSON text
so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from fleetwarden.adapters.db.tables import (
    data_items,
    device_models,
    devices,
    iot_systems,
    segments,
    sites,
    software_components,
    suppliers,
)
from fleetwarden.domain.classification import Classification
from fleetwarden.domain.model import DataFlow, RaciEntry
from fleetwarden.domain.records import SPECS, Record, RecordKind
from fleetwarden.domain.vocab import Category, DeviceType, Zone

TABLES: dict[RecordKind, Table] = {
    RecordKind.SITE: sites,
    RecordKind.SEGMENT: segments,
    RecordKind.SUPPLIER: suppliers,
    RecordKind.MODEL: device_models,
    RecordKind.SYSTEM: iot_systems,
    RecordKind.DATA_ITEM: data_items,
    RecordKind.COMPONENT: software_components,
}
NAME_COLUMN = {RecordKind.MODEL: "model"}
JSON_FIELDS = {"cidrs", "data_flows", "raci", "device_ids", "protected_by", "aggregate_of",
               "approved_services"}
NULLABLE_JSON = {"approved_services"}
ENUM_FIELDS: dict[str, Any] = {
    "zone": Zone,
    "device_type": DeviceType,
    "category": Category,
    "classification": Classification,
}


def _to_row(record: Record) -> dict[str, Any]:
    row = {}
    for key, value in asdict(record).items():
        if key == "id":
            continue
        if key in NULLABLE_JSON and value is None:
            pass
        elif key in JSON_FIELDS:
            value = json.dumps(list(value), separators=(",", ":"))
        elif key in ENUM_FIELDS and value is not None:
            value = value.value
        row[key] = value
    return row


def _from_row(kind: RecordKind, row: Any) -> Record:
    cls = SPECS[kind].cls
    data = {}
    for f in fields(cls):
        value = getattr(row, f.name)
        if f.name in NULLABLE_JSON and value is None:
            pass
        elif f.name in JSON_FIELDS:
            items = json.loads(value or "[]")
            if f.name == "data_flows":
                items = [DataFlow(**i) for i in items]
            elif f.name == "raci":
                items = [
                    RaciEntry(
                        task=i["task"],
                        responsible=tuple(i["responsible"]),
                        accountable=i["accountable"],
                        consulted=tuple(i["consulted"]),
                        informed=tuple(i["informed"]),
                    )
                    for i in items
                ]
            value = tuple(items)
        elif f.name in ENUM_FIELDS and value is not None:
            value = ENUM_FIELDS[f.name](value)
        elif isinstance(value, str) and f.name == "end_of_support":
            value = date.fromisoformat(value)
        data[f.name] = value
    return cls(**data)  # type: ignore[no-any-return]


class SqlRecordRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def get(self, kind: RecordKind, record_id: int) -> Record | None:
        t = TABLES[kind]
        row = self._conn.execute(
            select(t).where(t.c.tenant_id == self._tenant, t.c.id == record_id)
        ).first()
        return _from_row(kind, row) if row else None

    def by_name(self, kind: RecordKind, name: str) -> Record | None:
        t = TABLES[kind]
        if kind is RecordKind.MODEL:
            vendor, _, model = name.partition("/")
            cond = [t.c.vendor == vendor.strip(), t.c.model == model.strip()]
        else:
            cond = [t.c.name == name]
        row = self._conn.execute(select(t).where(t.c.tenant_id == self._tenant, *cond)).first()
        return _from_row(kind, row) if row else None

    def list(
        self, kind: RecordKind, *, limit: int, offset: int, sort: str, descending: bool
    ) -> list[Record]:
        t = TABLES[kind]
        col = t.c.get(sort, t.c.id)
        order = [col.desc() if descending else col.asc(), t.c.id]
        rows = self._conn.execute(
            select(t).where(t.c.tenant_id == self._tenant).order_by(*order)
            .limit(limit).offset(offset)
        ).all()
        return [_from_row(kind, r) for r in rows]

    def count(self, kind: RecordKind) -> int:
        t = TABLES[kind]
        return int(self._conn.execute(
            select(func.count()).select_from(t).where(t.c.tenant_id == self._tenant)
        ).scalar_one())

    def add(self, record: Record) -> Record:
        kind = _kind_of(record)
        row = _to_row(record) | {"tenant_id": self._tenant}
        new_id = self._conn.execute(insert(TABLES[kind]).values(**row)).inserted_primary_key[0]
        stored = self.get(kind, new_id)
        assert stored is not None
        return stored

    def update(self, record: Record) -> Record:
        kind = _kind_of(record)
        t = TABLES[kind]
        row = _to_row(record) | {"tenant_id": self._tenant}
        self._conn.execute(
            update(t).where(t.c.tenant_id == self._tenant, t.c.id == record.id).values(**row)
        )
        assert record.id is not None
        stored = self.get(kind, record.id)
        assert stored is not None
        return stored

    def delete(self, kind: RecordKind, record_id: int) -> None:
        t = TABLES[kind]
        self._conn.execute(delete(t).where(t.c.tenant_id == self._tenant, t.c.id == record_id))

    def in_use(self, kind: RecordKind, record_id: int) -> str | None:
        refs: dict[RecordKind, list[tuple[Table, str, str]]] = {
            RecordKind.SITE: [(devices, "site_id", "devices"), (segments, "site_id", "segments")],
            RecordKind.SEGMENT: [(devices, "segment_id", "devices")],
            RecordKind.SUPPLIER: [(device_models, "supplier_id", "device models")],
            RecordKind.MODEL: [(devices, "model_id", "devices"),
                               (software_components, "model_id", "software components")],
            RecordKind.SYSTEM: [(data_items, "system_id", "data items")],
            RecordKind.DATA_ITEM: [],
            RecordKind.COMPONENT: [],
        }
        for table, column, label in refs[kind]:
            n = self._conn.execute(
                select(func.count()).select_from(table).where(
                    table.c.tenant_id == self._tenant, table.c[column] == record_id
                )
            ).scalar_one()
            if n:
                return f"{n} {label} still refer to it"
        if kind is RecordKind.DATA_ITEM:
            for item in self.list(kind, limit=10_000, offset=0, sort="id", descending=False):
                if record_id in getattr(item, "aggregate_of", ()):
                    return f"data item {item.name!r} aggregates it"
        return None


def _kind_of(record: Record) -> RecordKind:
    for kind, spec in SPECS.items():
        if isinstance(record, spec.cls):
            return kind
    raise TypeError(type(record).__name__)
