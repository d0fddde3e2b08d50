"""The compliance report as values: what every renderer (table, JSON, CSV, HTML, PDF,
OSCAL) draws from. Grouped by requirement; each requirement carries its rolled-up status,
counts per status and the device-level entries behind them (bounded by the service).

Must not: render anything or know a file format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetwarden.domain.compliance.results import Severity, Status


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """One piece of evidence behind an entry."""

    kind: str
    """check (a probe or register fact), attestation or waiver."""
    summary: str
    method: str
    """automated-probe, register, attestation, waiver."""
    tool: str | None = None
    """e.g. ``fleetwarden 0.1.0 / sslyze 6.3.1``."""
    collected_at: datetime | None = None
    expires_at: datetime | None = None
    by: str | None = None
    """Who attested, approved or ran the assessment."""
    files: tuple[tuple[str, str], ...] = ()
    """(file name, SHA-256) of stored evidence files."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """The check's evidence mapping (JSON-ready)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One device's (or model's) status for one requirement."""

    subject_type: str
    """device or model."""
    subject_id: int
    subject_name: str
    status: Status
    reason: str
    ip: str | None = None
    site: str | None = None
    check_id: str | None = None
    """The check that decided the status (the worst one), if any."""
    severity: Severity | None = None
    evidence: tuple[EvidenceRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RequirementResult:
    requirement_id: str
    """``FRAMEWORK/ID``."""
    title: str
    group: str
    reference: str
    mandatory: bool
    status: Status
    """Rolled up over every device in scope: the worst device status."""
    counts: Mapping[Status, int]
    """Devices per status (every status present, zero or not)."""
    checks: tuple[str, ...]
    """Automated checks mapped to it; empty means attestation only (MANUAL until attested)."""
    entries: tuple[Entry, ...] = ()
    """Device-level entries that are not PASS or NOT_APPLICABLE, worst first, bounded."""
    entries_omitted: int = 0
    """Entries left out by the bound (the counts are always complete)."""


@dataclass(frozen=True, slots=True)
class FrameworkResult:
    id: str
    title: str
    version: str
    source: str
    requirements: tuple[RequirementResult, ...]

    @property
    def compliance_percent(self) -> float | None:
        """PASS + NOT_APPLICABLE (+ WAIVED) device-requirement pairs over all decided pairs;
        None when nothing is in scope. MANUAL and ERROR count as not compliant."""
        good = bad = 0
        for r in self.requirements:
            for status, n in r.counts.items():
                if status in (Status.PASS, Status.NOT_APPLICABLE, Status.WAIVED):
                    good += n
                else:
                    bad += n
        return round(100.0 * good / (good + bad), 1) if good + bad else None


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    tenant: str
    generated_at: datetime
    generated_by: str
    audit_head_seq: int
    audit_head_hash: str
    """The tenant's audit-chain head when the report was made: ties it to the log."""
    tool: str
    """``fleetwarden <version>``."""
    device_count: int
    frameworks: tuple[FrameworkResult, ...]
    site: str | None = None
    """The site filter, if any."""
    assessed_from: datetime | None = None
    assessed_to: datetime | None = None
    """Oldest and newest check result used."""
