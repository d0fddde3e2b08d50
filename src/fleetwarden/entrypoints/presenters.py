"""Plain-data views of domain values shared by the CLI and the API.

The column names are the import format (``devices import`` reads what ``devices
list`` writes), so they are a contract: add, never rename.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleetwarden.domain.audit import AuditEvent
from fleetwarden.domain.device_input import LIST_COLUMNS
from fleetwarden.domain.model import ChangeRequest, Device, User
from fleetwarden.domain.records import Record, to_plain


def _ts(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def device_row(d: Device, tenant: str) -> dict[str, Any]:
    row = {
        "id": d.id,
        "name": d.name,
        "tenant": tenant,
        "device_type": d.device_type.value,
        "vendor": d.vendor,
        "model": d.model,
        "serial": d.serial,
        "mac_addresses": list(d.mac_addresses),
        "ip_addresses": list(d.ip_addresses),
        "imei": d.imei,
        "iccid": d.iccid,
        "vin": d.vin,
        "hostname": d.hostname,
        "cert_sha256": d.cert_sha256,
        "firmware_version": d.firmware_version,
        "site": d.site,
        "segment": d.segment,
        "lifecycle_state": d.lifecycle_state.value,
        "owner": d.owner,
        "criticality": d.criticality.value,
        "first_seen": _ts(d.first_seen),
        "last_seen": _ts(d.last_seen),
        "tags": list(d.tags),
    }
    assert tuple(row) == LIST_COLUMNS
    return row


def device_detail(d: Device, tenant: str) -> dict[str, Any]:
    """The row plus the ids behind the names, for API clients that follow links."""
    return device_row(d, tenant) | {
        "model_id": d.model_id,
        "site_id": d.site_id,
        "segment_id": d.segment_id,
        "ever_in_service": d.ever_in_service,
    }


_FORMULA_STARTS = ("=", "+", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """One CSV cell. Devices write some of this text, so control characters become ``?``
    and a cell a spreadsheet would run as a formula gets a leading ``'``."""
    if value is None:
        return ""
    text = ";".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    return "".join(c if c.isprintable() or c == "\t" else "?" for c in text)


def record_view(r: Record) -> dict[str, Any]:
    return to_plain(r)


def event_view(e: AuditEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "before": e.before,
        "after": e.after,
        "reason": e.reason,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def user_view(u: User) -> dict[str, Any]:
    return {"id": u.id, "email": u.email, "role": u.role.value, "active": u.active}


def change_view(c: ChangeRequest) -> dict[str, Any]:
    return {
        "id": c.id,
        "device_id": c.device_id,
        "requester": c.requester,
        "approver": c.approver,
        "reason": c.reason,
        "reference": c.reference,
        "status": c.status,
    }
