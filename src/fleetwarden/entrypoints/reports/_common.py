"""Small helpers the report renderers share: timestamps, status order, inert text.

Must not: know any output format's syntax (escaping is each renderer's job; ``inert``
only makes device-supplied text harmless to look at).
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime

from fleetwarden.domain.compliance.report import ComplianceReport, Entry
from fleetwarden.domain.compliance.results import Status

STATUS_ORDER: tuple[Status, ...] = (Status.FAIL, Status.ERROR, Status.MANUAL, Status.WAIVED,
                                    Status.PASS, Status.NOT_APPLICABLE)
"""Worst first: the order of count columns in every renderer."""

STATUS_LABEL: dict[Status, str] = {
    Status.FAIL: "Fail", Status.ERROR: "Error", Status.MANUAL: "Manual",
    Status.WAIVED: "Waived", Status.PASS: "Pass", Status.NOT_APPLICABLE: "N/A",
}

SATISFIED = frozenset({Status.PASS, Status.NOT_APPLICABLE, Status.WAIVED})
"""Statuses that count as compliant (as in ``FrameworkResult.compliance_percent``)."""


def utc(when: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already (as the database stores it)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def ts(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``; microseconds only when there are some."""
    return utc(when).isoformat().replace("+00:00", "Z") if when else None


def inert(value: object, limit: int | None = None) -> str:
    """Text a device wrote, made safe to look at: one line, and every control, format or
    direction-changing character written as its escape (ESC -> ``\\x1b``, RLO ->
    ``\\u202e``), so an ANSI sequence or a bidi trick is visible but does nothing; at most
    ``limit`` characters, the rest counted, not shown. Escaping for HTML, CSV or JSON is
    still the renderer's job."""
    if value is None:
        return ""
    text = str(value)
    extra = len(text) - limit if limit is not None else 0
    if extra > 0:
        text = text[:limit]
    out = text if text.isprintable() else "".join(_inert_char(c) for c in text)
    if extra > 0:
        out += f" … [{extra:,} more characters]"
    return out


def _inert_char(c: str) -> str:
    if c.isprintable():
        return c
    if c in "\t\n\r" or unicodedata.category(c) == "Zs":
        return " "
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def evidence_window(entry: Entry) -> tuple[datetime | None, datetime | None]:
    """(newest collected_at, earliest expires_at) over an entry's evidence: when it was
    last seen and when the first piece of it lapses."""
    collected = [e.collected_at for e in entry.evidence if e.collected_at]
    expires = [e.expires_at for e in entry.evidence if e.expires_at]
    return (max(collected, key=utc) if collected else None,
            min(expires, key=utc) if expires else None)


def limit_entries(report: ComplianceReport, per_requirement: int,
                  total: int) -> tuple[ComplianceReport, int]:
    """The report listing at most ``per_requirement`` entries per requirement (the first,
    i.e. worst, ones) and ``total`` in all, in report order; entries left out are added to
    ``entries_omitted`` so "and N more" stays true. Returns it and how many were cut."""
    budget, cut, frameworks = total, 0, []
    for fw in report.frameworks:
        requirements = []
        for r in fw.requirements:
            keep = max(min(per_requirement, budget, len(r.entries)), 0)
            budget -= keep
            dropped = len(r.entries) - keep
            cut += dropped
            requirements.append(replace(r, entries=r.entries[:keep],
                                        entries_omitted=r.entries_omitted + dropped)
                                if dropped else r)
        frameworks.append(replace(fw, requirements=tuple(requirements)))
    return (replace(report, frameworks=tuple(frameworks)) if cut else report), cut
