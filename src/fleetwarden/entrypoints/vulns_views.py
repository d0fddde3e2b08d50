"""Plain-dict views of findings, shared by the CLI and the API.

``finding_view`` is the ``vulns list --format json`` contract: ``device_id``,
``device_name``, ``vulnerability_id``, ``aliases``, ``component`` {``name``, ``version``,
``purl``, ``cpe``}, ``source``, ``cvss`` {``version``, ``score``, ``vector``}, ``epss``,
``kev``, ``priority``, ``due_date``, ``status``, ``reasons``, then fields that explain
them (match basis and reasons, triage, VEX, overdue). Text from feeds and SBOMs passes
through as data; each renderer makes it inert for its medium.
"""

from __future__ import annotations

from typing import Any

from fleetwarden.domain.findings import Finding


def _ts(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def finding_view(f: Finding) -> dict[str, Any]:
    c = f.component
    return {
        "device_id": f.device_id, "device_name": f.device_name,
        "vulnerability_id": f.vulnerability_id, "aliases": list(f.aliases),
        "component": {"name": c.name if c else None, "version": c.version if c else None,
                      "purl": c.purl if c else None, "cpe": c.cpe if c else None},
        "source": f.source,
        "cvss": {"version": f.cvss_version, "score": f.cvss_score, "vector": f.cvss_vector},
        "epss": f.epss, "kev": f.kev, "priority": f"P{f.priority}",
        "due_date": f.due_date.isoformat(), "status": f.status.value,
        "reasons": list(f.reasons),
        "overdue": f.overdue, "points": f.points, "first_seen": _ts(f.first_seen),
        "match": {"basis": f.basis, "reasons": list(f.match_reasons)},
        "summary": f.summary, "site": f.site, "model": f.model,
        "firmware_version": f.firmware_version,
        "triage": {"justification": f.justification, "note": f.note,
                   "approver": f.approver, "expires_at": _ts(f.expires_at),
                   "decided_by": f.decided_by},
        "vex": f.vex, "fixed_at": _ts(f.fixed_at),
    }


ROW_COLUMNS = ("priority", "due_date", "status", "kev", "epss", "cvss", "vulnerability_id",
               "device_id", "device_name", "component", "version", "source", "site",
               "model", "overdue")


def finding_row(f: Finding) -> dict[str, Any]:
    """One flat line per finding, for tables and CSV."""
    c = f.component
    return {
        "priority": f"P{f.priority}", "due_date": f.due_date.isoformat(),
        "status": f.status.value, "kev": "yes" if f.kev else "",
        "epss": f"{f.epss:.3f}" if f.epss is not None else "",
        "cvss": f"{f.cvss_score:.1f}" if f.cvss_score is not None else "",
        "vulnerability_id": f.vulnerability_id, "device_id": f.device_id,
        "device_name": f.device_name, "component": c.name if c else "",
        "version": (c.version or "") if c else "", "source": f.source or "",
        "site": f.site or "", "model": f.model or "",
        "overdue": "yes" if f.overdue else "",
    }
