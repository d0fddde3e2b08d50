"""Stored compliance rows as values: a check result as kept, one to store, and the register
facts an assessment reads about a device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fleetwarden.domain.compliance.results import Severity, Status


@dataclass(frozen=True, slots=True)
class StoredResult:
    device_id: int | None
    host_id: int | None
    ip: str | None
    check_id: str
    status: Status
    severity: Severity
    reason: str
    evidence: Mapping[str, Any]
    assessment_id: int
    assessed_at: datetime
    tool: str


@dataclass(frozen=True, slots=True)
class NewResult:
    device_id: int | None
    host_id: int | None
    ip: str | None
    check_id: str
    status: Status
    severity: Severity
    reason: str
    evidence: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """Register facts an assessment and the risk score read about one device."""

    device_id: int
    model_id: int | None
    site: str | None
    segment: str | None
    zone: str | None
    approved_services: tuple[str, ...] | None
    end_of_support: date | None
    firmware_updated_at: datetime | None
    has_sbom: bool
