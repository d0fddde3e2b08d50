"""Attestations and waivers: what a person states where a probe cannot see, and the
accepted exceptions to a check or requirement. Both expire and lapse by themselves.

Must not: store anything or accept a decision without the facts an auditor will ask for
(who, when, why, until when, and for a waiver who approved it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fleetwarden.domain.compliance.results import Status
from fleetwarden.errors import InputError

MAX_ATTESTATION_DAYS = 3 * 365
"""An attestation is re-examined at least every three years."""
MAX_WAIVER_DAYS = 365
"""A waiver is an exception, not a policy: at most a year, then decided again."""
ATTESTABLE = (Status.PASS, Status.FAIL, Status.NOT_APPLICABLE)
MIN_JUSTIFICATION = 10


class Method(StrEnum):
    """How an attestation's evidence was obtained (kept with the evidence)."""

    INSPECTION = "inspection"
    """Someone examined the device, its configuration or its documentation."""
    TEST = "test"
    """A test outside fleetwarden (penetration test, lab test report)."""
    SUPPLIER_STATEMENT = "supplier-statement"
    CERTIFICATION = "certification"
    """A third-party certificate (e.g. an EN 303 645 assessment)."""
    INTERVIEW = "interview"


class SubjectType(StrEnum):
    DEVICE = "device"
    MODEL = "model"
    TENANT = "tenant"
    """Every device of the tenant (organisation duties, estate-wide waivers)."""


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    name: str
    sha256: str
    size: int
    added_by: str
    added_at: datetime
    id: int | None = None
    media_type: str | None = None


@dataclass(frozen=True, slots=True)
class Attestation:
    id: int | None
    requirement_id: str
    subject_type: SubjectType
    subject_id: int
    status: Status
    statement: str
    method: Method
    attested_by: str
    attested_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    files: tuple[EvidenceFile, ...] = ()

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class Waiver:
    id: int | None
    target: str
    """``check:ID`` or ``requirement:FRAMEWORK/ID``."""
    subject_type: SubjectType
    subject_id: int | None
    justification: str
    approver: str
    requested_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    @property
    def check_id(self) -> str | None:
        kind, _, value = self.target.partition(":")
        return value if kind == "check" else None

    @property
    def requirement_id(self) -> str | None:
        kind, _, value = self.target.partition(":")
        return value if kind == "requirement" else None


def validate_attestation(a: Attestation, now: datetime) -> None:
    """Refuse an attestation an auditor could not rely on; one line per problem."""
    if a.status not in ATTESTABLE:
        raise InputError(f"an attestation states PASS, FAIL or NOT_APPLICABLE, not {a.status}")
    if len(a.statement.strip()) < MIN_JUSTIFICATION:
        raise InputError("--statement must say what was checked and how "
                         f"(at least {MIN_JUSTIFICATION} characters)")
    _check_expiry(a.expires_at, now, MAX_ATTESTATION_DAYS, "attestation")
    if a.subject_type is SubjectType.TENANT and a.status is Status.NOT_APPLICABLE:
        raise InputError("an organisation-wide attestation cannot say NOT_APPLICABLE: "
                         "waive the requirement instead")


def validate_waiver(w: Waiver, now: datetime) -> None:
    kind, _, value = w.target.partition(":")
    if kind not in ("check", "requirement") or not value:
        raise InputError(f"waiver target {w.target[:80]!r} is not check:ID or requirement:ID")
    if len(w.justification.strip()) < MIN_JUSTIFICATION:
        raise InputError(f"--justification must explain the exception "
                         f"(at least {MIN_JUSTIFICATION} characters)")
    if not w.approver.strip():
        raise InputError("--approver is required: a waiver is approved by someone accountable")
    if w.approver.strip().lower() == w.requested_by.strip().lower():
        raise InputError("the approver of a waiver cannot be the person who requests it")
    _check_expiry(w.expires_at, now, MAX_WAIVER_DAYS, "waiver")


def _check_expiry(expires: datetime, now: datetime, max_days: int, what: str) -> None:
    if expires <= now:
        raise InputError(f"the {what}'s expiry {expires.date().isoformat()} is not in the future")
    if expires > now + timedelta(days=max_days):
        raise InputError(f"a {what} lasts at most {max_days} days "
                         f"(expiry {expires.date().isoformat()} is later)")
