"""Plain-dict views of discovery's stored values, shared by the CLI and the API.

Device-supplied text (banners, titles, certificate subjects) passes through unchanged:
it is data. Each renderer makes it inert for its medium (Rich escapes it, JSON encodes it,
HTML templates autoescape it).
"""

from __future__ import annotations

from typing import Any

from fleetwarden.domain.inventory import DiscoveredHost, ScanRecord, Schedule


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def host_view(h: DiscoveredHost) -> dict[str, Any]:
    """A stored host in the shape of the ``discover`` JSON contract, plus queue fields."""
    return {
        "id": h.id, "status": h.status.value, "device_id": h.device_id, "ip": h.ip,
        "mac": h.mac, "hostname": h.hostname, "serial": h.serial,
        "ssh_host_key": h.ssh_host_key, "certificates": list(h.certificates),
        "services": [dict(s) for s in h.services], "fingerprint": dict(h.fingerprint),
        "overrides": dict(h.overrides), "sources": list(h.sources),
        "segment_id": h.segment_id, "first_seen": _ts(h.first_seen),
        "last_seen": _ts(h.last_seen), "missing_since": _ts(h.missing_since),
        "last_scan_id": h.last_scan_id, "note": h.note,
    }


def host_row(h: DiscoveredHost) -> dict[str, Any]:
    """One line per host for tables and CSV."""
    return {
        "id": h.id, "status": h.status.value, "device_id": h.device_id, "ip": h.ip,
        "mac": h.mac, "hostname": h.hostname, "vendor": h.vendor, "model": h.model,
        "device_type": h.device_type, "firmware_version": h.firmware_version,
        "confidence": round(h.confidence, 2),
        "services": ", ".join(f"{s.get('port')}/{s.get('service')}" for s in h.services),
        "first_seen": _ts(h.first_seen), "last_seen": _ts(h.last_seen),
    }


def scan_view(s: ScanRecord) -> dict[str, Any]:
    return {
        "id": s.id, "status": s.status, "sources": list(s.sources), "actor": s.actor,
        "targets": list(s.targets), "options": dict(s.options),
        "outside_scope": s.outside_scope, "registered": s.registered,
        "segment_id": s.segment_id, "schedule_id": s.schedule_id,
        "started_at": _ts(s.started_at), "finished_at": _ts(s.finished_at),
        "summary": dict(s.summary), "error": s.error,
    }


def schedule_view(s: Schedule) -> dict[str, Any]:
    return {
        "id": s.id, "segment": s.segment, "segment_id": s.segment_id,
        "every_seconds": s.every_seconds, "options": dict(s.options), "enabled": s.enabled,
        "next_run_at": _ts(s.next_run_at), "last_run_at": _ts(s.last_run_at),
        "last_scan_id": s.last_scan_id, "last_error": s.last_error,
        "created_by": s.created_by, "created_at": _ts(s.created_at),
    }
