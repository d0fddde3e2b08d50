"""JSON renderer (and reader) of the compliance and summary reports.

A stable, documented shape: every field of the value objects under its own name, plus a
``format`` / ``format_version`` header and derived figures marked below. Keys are never
renamed; new keys may be added (readers ignore keys they do not know). Timestamps are
ISO 8601 in UTC with ``Z`` (``2025-03-01T09:30:00Z``, microseconds only when present);
calendar dates (trend points) are ``YYYY-MM-DD``. Text is UTF-8, unaltered (JSON escapes
control characters), so the JSON keeps exactly what the report held.

Compliance (``format: "fleetwarden-compliance-report"``, ``format_version: 1``)::

    tenant, generated_at, generated_by, audit_head_seq, audit_head_hash, tool,
    device_count, site|null, assessed_from|null, assessed_to|null,
    frameworks: [{id, title, version, source,
                  compliance_percent|null          (derived, ignored when read),
                  requirements: [{requirement_id, title, group, reference, mandatory,
                                  status, counts: {PASS, FAIL, MANUAL, NOT_APPLICABLE,
                                  ERROR, WAIVED: int}, checks: [str], entries_omitted,
                                  entries: [{subject_type, subject_id, subject_name,
                                             status, reason, ip|null, site|null,
                                             check_id|null, severity|null,
                                             evidence: [{kind, summary, method,
                                                         tool|null, collected_at|null,
                                                         expires_at|null, by|null,
                                                         files: [{name, sha256}],
                                                         details: {...}}]}]}]}]

Summary (``format: "fleetwarden-summary-report"``, ``format_version: 1``)::

    tenant, generated_at, generated_by, audit_head_seq, audit_head_hash, tool,
    measures: [{key, label, value|null, unit, previous|null, better,
                change|null, direction|null   (derived, ignored when read)}],
    trend: [{at: "YYYY-MM-DD", values: {measure key: number}}]   (oldest first)

``load_compliance`` / ``load_summary`` read these back into the value objects (so an
archived JSON report can be rendered again in another format).

Must not: read or write files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from fleetwarden.domain.compliance.report import (
    ComplianceReport,
    Entry,
    EvidenceRecord,
    FrameworkResult,
    RequirementResult,
)
from fleetwarden.domain.compliance.results import Severity, Status
from fleetwarden.domain.compliance.summary import Measure, SummaryReport, TrendPoint
from fleetwarden.entrypoints.reports._common import ts
from fleetwarden.errors import InputError

COMPLIANCE_FORMAT = "fleetwarden-compliance-report"
SUMMARY_FORMAT = "fleetwarden-summary-report"
FORMAT_VERSION = 1


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")


# --------------------------------------------------------------------- compliance
def _evidence(ev: EvidenceRecord) -> dict[str, Any]:
    return {"kind": ev.kind, "summary": ev.summary, "method": ev.method, "tool": ev.tool,
            "collected_at": ts(ev.collected_at), "expires_at": ts(ev.expires_at), "by": ev.by,
            "files": [{"name": name, "sha256": sha} for name, sha in ev.files],
            "details": dict(ev.details)}


def _entry(e: Entry) -> dict[str, Any]:
    return {"subject_type": e.subject_type, "subject_id": e.subject_id,
            "subject_name": e.subject_name, "status": e.status.value, "reason": e.reason,
            "ip": e.ip, "site": e.site, "check_id": e.check_id,
            "severity": e.severity.value if e.severity else None,
            "evidence": [_evidence(ev) for ev in e.evidence]}


def _requirement(r: RequirementResult) -> dict[str, Any]:
    return {"requirement_id": r.requirement_id, "title": r.title, "group": r.group,
            "reference": r.reference, "mandatory": r.mandatory, "status": r.status.value,
            "counts": {s.value: r.counts.get(s, 0) for s in Status},
            "checks": list(r.checks), "entries_omitted": r.entries_omitted,
            "entries": [_entry(e) for e in r.entries]}


def compliance_document(report: ComplianceReport) -> dict[str, Any]:
    return {
        "format": COMPLIANCE_FORMAT, "format_version": FORMAT_VERSION,
        "tenant": report.tenant, "generated_at": ts(report.generated_at),
        "generated_by": report.generated_by, "audit_head_seq": report.audit_head_seq,
        "audit_head_hash": report.audit_head_hash, "tool": report.tool,
        "device_count": report.device_count, "site": report.site,
        "assessed_from": ts(report.assessed_from), "assessed_to": ts(report.assessed_to),
        "frameworks": [{"id": fw.id, "title": fw.title, "version": fw.version,
                        "source": fw.source, "compliance_percent": fw.compliance_percent,
                        "requirements": [_requirement(r) for r in fw.requirements]}
                       for fw in report.frameworks],
    }


def render_compliance(report: ComplianceReport) -> bytes:
    return _dump(compliance_document(report))


# ------------------------------------------------------------------------ summary
def summary_document(report: SummaryReport) -> dict[str, Any]:
    return {
        "format": SUMMARY_FORMAT, "format_version": FORMAT_VERSION,
        "tenant": report.tenant, "generated_at": ts(report.generated_at),
        "generated_by": report.generated_by, "audit_head_seq": report.audit_head_seq,
        "audit_head_hash": report.audit_head_hash, "tool": report.tool,
        "measures": [{"key": m.key, "label": m.label, "value": m.value, "unit": m.unit,
                      "previous": m.previous, "better": m.better, "change": m.change,
                      "direction": m.direction.value if m.direction else None}
                     for m in report.measures],
        "trend": [{"at": p.at.isoformat(), "values": dict(p.values)} for p in report.trend],
    }


def render_summary(report: SummaryReport) -> bytes:
    return _dump(summary_document(report))


# ------------------------------------------------------------------------ reading
def _parse(data: bytes | str, expected: str) -> Mapping[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InputError(f"not a {expected} JSON document: {exc}") from None
    if not isinstance(doc, Mapping) or doc.get("format") != expected:
        raise InputError(f"not a {expected} JSON document (format is not {expected!r})")
    if doc.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{expected}: unsupported format_version "
                         f"{doc.get('format_version')!r}")
    return doc


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def load_compliance(data: bytes | str) -> ComplianceReport:
    """The report a ``render_compliance`` JSON document holds; InputError if malformed."""
    doc = _parse(data, COMPLIANCE_FORMAT)
    try:
        return ComplianceReport(
            tenant=doc["tenant"], generated_at=datetime.fromisoformat(doc["generated_at"]),
            generated_by=doc["generated_by"], audit_head_seq=doc["audit_head_seq"],
            audit_head_hash=doc["audit_head_hash"], tool=doc["tool"],
            device_count=doc["device_count"], site=doc.get("site"),
            assessed_from=_time(doc.get("assessed_from")),
            assessed_to=_time(doc.get("assessed_to")),
            frameworks=tuple(FrameworkResult(
                id=f["id"], title=f["title"], version=f["version"], source=f["source"],
                requirements=tuple(_load_requirement(r) for r in f["requirements"]))
                for f in doc["frameworks"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{COMPLIANCE_FORMAT}: malformed document ({exc!r})") from None


def _load_requirement(r: Mapping[str, Any]) -> RequirementResult:
    return RequirementResult(
        requirement_id=r["requirement_id"], title=r["title"], group=r["group"],
        reference=r["reference"], mandatory=r["mandatory"], status=Status(r["status"]),
        counts={Status(k): int(v) for k, v in r["counts"].items()},
        checks=tuple(r["checks"]), entries_omitted=r.get("entries_omitted", 0),
        entries=tuple(Entry(
            subject_type=e["subject_type"], subject_id=e["subject_id"],
            subject_name=e["subject_name"], status=Status(e["status"]), reason=e["reason"],
            ip=e.get("ip"), site=e.get("site"), check_id=e.get("check_id"),
            severity=Severity(e["severity"]) if e.get("severity") else None,
            evidence=tuple(EvidenceRecord(
                kind=ev["kind"], summary=ev["summary"], method=ev["method"],
                tool=ev.get("tool"), collected_at=_time(ev.get("collected_at")),
                expires_at=_time(ev.get("expires_at")), by=ev.get("by"),
                files=tuple((f["name"], f["sha256"]) for f in ev.get("files", ())),
                details=ev.get("details", {})) for ev in e.get("evidence", ())))
            for e in r.get("entries", ())))


def load_summary(data: bytes | str) -> SummaryReport:
    """The summary a ``render_summary`` JSON document holds; InputError if malformed."""
    doc = _parse(data, SUMMARY_FORMAT)
    try:
        return SummaryReport(
            tenant=doc["tenant"], generated_at=datetime.fromisoformat(doc["generated_at"]),
            generated_by=doc["generated_by"], audit_head_seq=doc["audit_head_seq"],
            audit_head_hash=doc["audit_head_hash"], tool=doc["tool"],
            measures=tuple(Measure(key=m["key"], label=m["label"], value=m["value"],
                                   unit=m["unit"], previous=m.get("previous"),
                                   better=m.get("better", "down"))
                           for m in doc["measures"]),
            trend=tuple(TrendPoint(at=date.fromisoformat(p["at"]), values=p["values"])
                        for p in doc["trend"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{SUMMARY_FORMAT}: malformed document ({exc!r})") from None
