"""CRUD for the register's reference records: sites, segments, suppliers, models,
IoT systems (scope, data flows, RACI) and data items (classification, R7)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from typing import Any

from fleetwarden.domain.classification import check_aggregate
from fleetwarden.domain.model import DataItem, IoTSystem, SoftwareComponent
from fleetwarden.domain.records import (
    SPECS,
    UNNAMED_KINDS,
    Record,
    RecordKind,
    parse_record,
    to_plain,
)
from fleetwarden.errors import Conflict, InputError, NotFound
from fleetwarden.ports import UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require

MAX_PAGE = 1000


def _resolver(uow: UnitOfWork) -> Any:
    def resolve(kind: RecordKind, ref: object) -> int:
        if isinstance(ref, int) and not isinstance(ref, bool):
            if uow.records.get(kind, ref) is None:
                raise InputError(f"{kind.value}: no {kind.value} with id {ref}")
            return ref
        if isinstance(ref, str) and ref.strip():
            found = uow.records.by_name(kind, ref.strip())
            if found is None or found.id is None:
                raise InputError(f"{kind.value}: unknown {kind.value} {ref.strip()[:60]!r}")
            return found.id
        raise InputError(f"{kind.value}: expected an id or a name")

    return resolve


def _validate(uow: UnitOfWork, record: Record) -> None:
    """Cross-record rules the parser cannot check alone."""
    if (isinstance(record, SoftwareComponent) and record.device_id is not None
            and uow.devices.get(record.device_id) is None):
        raise InputError(f"device_id: device {record.device_id} not found")
    if isinstance(record, IoTSystem):
        for device_id in record.device_ids:
            if uow.devices.get(device_id) is None:
                raise InputError(f"device_ids: device {device_id} not found")
    if isinstance(record, DataItem) and record.id is not None:
        for other in uow.records.list(RecordKind.DATA_ITEM, limit=MAX_PAGE, offset=0,
                                      sort="id", descending=False):
            if isinstance(other, DataItem) and record.id in other.aggregate_of:
                problem = check_aggregate(other.classification, [record.classification])
                if problem:
                    raise InputError(f"classification: {other.name!r} aggregates this item "
                                     f"and would be {problem}")
    if isinstance(record, DataItem) and record.aggregate_of:
        if record.id is not None and record.id in record.aggregate_of:
            raise InputError("aggregate_of: a data item cannot aggregate itself")
        members = []
        for item_id in record.aggregate_of:
            item = uow.records.get(RecordKind.DATA_ITEM, item_id)
            assert isinstance(item, DataItem)
            members.append(item.classification)
        problem = check_aggregate(record.classification, members)
        if problem:
            raise InputError(f"classification: {problem}")


def _unique(uow: UnitOfWork, record: Record) -> None:
    kind = _kind(record)
    if kind in UNNAMED_KINDS:
        return
    key = (f"{record.vendor}/{record.model}" if kind is RecordKind.MODEL  # type: ignore[union-attr]
           else record.name)  # type: ignore[union-attr]
    other = uow.records.by_name(kind, key)
    if other is not None and other.id != record.id:
        raise Conflict(f"{kind.value} {SPECS[kind].label(record)!r} already exists (id {other.id})")


def _kind(record: Record) -> RecordKind:
    return next(k for k, s in SPECS.items() if isinstance(record, s.cls))


def create(
    platform: Platform, principal: Principal, kind: RecordKind, raw: Mapping[str, Any]
) -> Record:
    require(principal, Permission.WRITE)
    assert principal.tenant.id is not None
    with platform.uow(principal.tenant, True) as uow:
        record = parse_record(kind, raw, principal.tenant.id, _resolver(uow))
        _unique(uow, record)
        _validate(uow, record)
        stored = uow.records.add(record)
        audit.record(platform, uow, principal.actor, f"{kind.value}.create", kind.value,
                     stored.id, after=to_plain(stored))
        uow.commit()
        return stored


def get(platform: Platform, principal: Principal, kind: RecordKind, record_id: int) -> Record:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return _get(uow, kind, record_id)


def _get(uow: UnitOfWork, kind: RecordKind, record_id: int) -> Record:
    found = uow.records.get(kind, record_id)
    if found is None:
        raise NotFound(f"{kind.value} {record_id} not found")
    return found


def find(platform: Platform, principal: Principal, kind: RecordKind, ref: str) -> Record:
    """A record by id or name (``vendor/model`` for models), for the CLI."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        if ref.isdigit():
            found = uow.records.get(kind, int(ref))
            if found is not None:
                return found
        found = uow.records.by_name(kind, ref)
        if found is None:
            raise NotFound(f"{kind.value} {ref!r} not found")
        return found


def list_records(
    platform: Platform,
    principal: Principal,
    kind: RecordKind,
    *,
    limit: int = 100,
    offset: int = 0,
    sort: str = "id",
    descending: bool = False,
) -> tuple[list[Record], int]:
    require(principal, Permission.READ)
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InputError(f"limit: between 1 and {MAX_PAGE}; offset: 0 or more")
    fields = {f.name for f in dataclass_fields(SPECS[kind].cls)}
    if sort not in fields:
        raise InputError(f"sort: unknown field {sort!r}; one of {', '.join(sorted(fields))}")
    with platform.uow(principal.tenant, False) as uow:
        items = uow.records.list(kind, limit=limit, offset=offset, sort=sort,
                                 descending=descending)
        return items, uow.records.count(kind)


def update(
    platform: Platform,
    principal: Principal,
    kind: RecordKind,
    record_id: int,
    raw: Mapping[str, Any],
) -> Record:
    require(principal, Permission.WRITE)
    assert principal.tenant.id is not None
    with platform.uow(principal.tenant, True) as uow:
        current = _get(uow, kind, record_id)
        record = parse_record(kind, raw, principal.tenant.id, _resolver(uow), existing=current)
        _unique(uow, record)
        _validate(uow, record)
        before, after = to_plain(current), to_plain(record)
        changed = [k for k in after if after[k] != before[k]]
        if not changed:
            return current
        stored = uow.records.update(record)
        audit.record(platform, uow, principal.actor, f"{kind.value}.update", kind.value,
                     record_id, before={k: before[k] for k in changed},
                     after={k: after[k] for k in changed})
        uow.commit()
        return stored


def delete(platform: Platform, principal: Principal, kind: RecordKind, record_id: int) -> None:
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        current = _get(uow, kind, record_id)
        why = uow.records.in_use(kind, record_id)
        if why:
            raise Conflict(f"{kind.value} {record_id} is in use: {why}")
        uow.records.delete(kind, record_id)
        audit.record(platform, uow, principal.actor, f"{kind.value}.delete", kind.value,
                     record_id, before=to_plain(current))
        uow.commit()
