"""What a check says about one device: a status, a reason and the evidence behind it.

Must not: decide anything from missing data. A check that cannot see what it needs says
MANUAL (a person must look) or ERROR (the probe failed), never PASS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 (a status, not a password)
    FAIL = "FAIL"
    MANUAL = "MANUAL"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    ERROR = "ERROR"
    WAIVED = "WAIVED"

    @property
    def rank(self) -> int:
        """Worse statuses rank higher: a requirement takes the worst of its checks."""
        return _STATUS_RANK[self]


_STATUS_RANK = {Status.NOT_APPLICABLE: 0, Status.PASS: 1, Status.WAIVED: 2,
                Status.MANUAL: 3, Status.ERROR: 4, Status.FAIL: 5}


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3,
                  Severity.CRITICAL: 4}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One check's verdict on one device."""

    status: Status
    reason: str
    """One sentence a person can act on: what was seen, or why nothing could be decided."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """JSON-ready facts behind the verdict (ports, versions, certificate hashes ...).
    Never a secret: a credential check names the account and the catalogue entry only."""


def passed(reason: str, **evidence: Any) -> Outcome:
    return Outcome(Status.PASS, reason, evidence)


def failed(reason: str, **evidence: Any) -> Outcome:
    return Outcome(Status.FAIL, reason, evidence)


def manual(reason: str, **evidence: Any) -> Outcome:
    return Outcome(Status.MANUAL, reason, evidence)


def not_applicable(reason: str, **evidence: Any) -> Outcome:
    return Outcome(Status.NOT_APPLICABLE, reason, evidence)


def error(reason: str, **evidence: Any) -> Outcome:
    return Outcome(Status.ERROR, reason, evidence)


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The status a requirement takes from its checks; MANUAL when none ran."""
    return max(statuses, key=lambda s: s.rank) if statuses else Status.MANUAL
