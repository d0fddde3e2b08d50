"""CSV renderer of the compliance and summary reports, for spreadsheets.

Compliance: one row per (framework, requirement, entry), plus one row per requirement
that has no entries (its subject and entry columns empty), so every requirement appears.
The requirement's counts repeat on each of its rows; ``collected_at`` is the newest and
``expires_at`` the earliest over the entry's evidence; the provenance columns
(``generated_at``, ``generated_by``, ``audit_head_hash``) repeat on every row so a row cut
out of the sheet still says where it came from.

Summary: one row per measure.

Text cells go through ``csv_cell`` (control characters -> ``?``; a cell starting with
``= + @``, tab or CR gets a leading ``'``) and, as in ``vuln_exports``, a leading ``-``
is neutralised too. Numbers (counts, measure values) are written as numbers: a number a
renderer formatted itself cannot be a formula, and ``-3`` must stay a number.

Must not: read or write files, or drop a requirement.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fleetwarden.domain.compliance.report import ComplianceReport
from fleetwarden.domain.compliance.results import Status
from fleetwarden.domain.compliance.summary import SummaryReport
from fleetwarden.entrypoints.presenters import csv_cell
from fleetwarden.entrypoints.reports._common import evidence_window, ts

COMPLIANCE_COLUMNS: tuple[str, ...] = (
    "framework", "requirement_id", "title", "group", "mandatory", "requirement_status",
    "pass", "fail", "manual", "not_applicable", "error", "waived",
    "subject_type", "subject_id", "subject_name", "ip", "site", "status", "check_id",
    "severity", "reason", "evidence_summary", "collected_at", "expires_at",
    "generated_at", "generated_by", "audit_head_hash",
)
"""A contract for people's spreadsheets: add columns at the end, never rename."""

_COUNT_COLUMNS = ((Status.PASS, "pass"), (Status.FAIL, "fail"), (Status.MANUAL, "manual"),
                  (Status.NOT_APPLICABLE, "not_applicable"), (Status.ERROR, "error"),
                  (Status.WAIVED, "waived"))

SUMMARY_COLUMNS: tuple[str, ...] = (
    "key", "label", "value", "unit", "previous", "change", "direction", "better",
    "improved", "tenant", "generated_at", "generated_by", "audit_head_seq", "audit_head_hash",
)

_FORMULA = ("-",)
"""``csv_cell`` handles ``= + @`` and tab/CR; spreadsheets also run a leading ``-``."""


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = csv_cell(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _write(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")


def _compliance_rows(report: ComplianceReport) -> Iterable[dict[str, Any]]:
    provenance = {"generated_at": ts(report.generated_at), "generated_by": report.generated_by,
                  "audit_head_hash": report.audit_head_hash}
    for fw in report.frameworks:
        for r in fw.requirements:
            head: dict[str, Any] = {
                "framework": fw.id, "requirement_id": r.requirement_id, "title": r.title,
                "group": r.group, "mandatory": r.mandatory, "requirement_status": r.status.value,
                **{name: r.counts.get(status, 0) for status, name in _COUNT_COLUMNS},
                **provenance,
            }
            if not r.entries:
                yield head
            for e in r.entries:
                collected, expires = evidence_window(e)
                yield head | {
                    "subject_type": e.subject_type, "subject_id": e.subject_id,
                    "subject_name": e.subject_name, "ip": e.ip, "site": e.site,
                    "status": e.status.value, "check_id": e.check_id,
                    "severity": e.severity.value if e.severity else None, "reason": e.reason,
                    "evidence_summary": " | ".join(
                        f"{ev.kind}/{ev.method}: {ev.summary}" for ev in e.evidence),
                    "collected_at": ts(collected), "expires_at": ts(expires),
                }


def render_compliance(report: ComplianceReport) -> bytes:
    return _write(COMPLIANCE_COLUMNS, _compliance_rows(report))


def render_summary(report: SummaryReport) -> bytes:
    base: dict[str, Any] = {"tenant": report.tenant, "generated_at": ts(report.generated_at),
                            "generated_by": report.generated_by,
                            "audit_head_seq": report.audit_head_seq,
                            "audit_head_hash": report.audit_head_hash}
    rows = (base | {"key": m.key, "label": m.label, "value": m.value, "unit": m.unit,
                    "previous": m.previous, "change": m.change,
                    "direction": m.direction.value if m.direction else None,
                    "better": m.better, "improved": m.improved}
            for m in report.measures)
    return _write(SUMMARY_COLUMNS, rows)
