"""From check results, attestations and waivers to one status per requirement.

For one subject (a device), each requirement takes the worst status of the checks mapped
to it; a check waiver turns that check's FAIL, ERROR or MANUAL into WAIVED. An attestation
decides what no check could (no check mapped, or only MANUAL results) and a FAIL it states
stands; it never overrules a check that FAILed on the wire. A requirement nobody checked
or attested is MANUAL. A requirement waiver turns what is left of FAIL, ERROR or MANUAL
into WAIVED. Every verdict says which of these decided it.

Must not: treat a missing result as a pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleetwarden.domain.compliance.exceptions import Attestation, Waiver
from fleetwarden.domain.compliance.results import Severity, Status

_WAIVABLE = (Status.FAIL, Status.ERROR, Status.MANUAL)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check_id: str
    status: Status
    severity: Severity
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    reason: str
    decided_by: str
    """check, attestation, waiver or none."""
    check_id: str | None = None
    severity: Severity | None = None
    attestation_id: int | None = None
    waiver_id: int | None = None


def verdict(checks: Sequence[str], results: Mapping[str, CheckResult],
            attestation: Attestation | None, check_waivers: Mapping[str, Waiver],
            requirement_waiver: Waiver | None) -> Verdict:
    """The status of one requirement for one subject (see the module docstring)."""
    found = _checked(checks, results, check_waivers)
    if found is None and checks and attestation is None:
        v = Verdict(Status.MANUAL, f"not assessed yet: {', '.join(checks[:4])}"
                    f"{' ...' if len(checks) > 4 else ''} have no result on it "
                    "(run fleetwarden assess)", "none")
    else:
        v = _attested(found, attestation)
    if requirement_waiver is not None and v.status in _WAIVABLE:
        return Verdict(Status.WAIVED,
                       f"waived until {requirement_waiver.expires_at.date().isoformat()}, "
                       f"approved by {requirement_waiver.approver}: "
                       f"{_short(requirement_waiver.justification)} (was {v.status}: {v.reason})",
                       "waiver", v.check_id, v.severity, v.attestation_id, requirement_waiver.id)
    return v


def _checked(checks: Sequence[str], results: Mapping[str, CheckResult],
             check_waivers: Mapping[str, Waiver]) -> Verdict | None:
    worst: Verdict | None = None
    for check_id in checks:
        r = results.get(check_id)
        if r is None:
            continue
        waiver = check_waivers.get(check_id)
        if waiver is not None and r.status in _WAIVABLE:
            v = Verdict(Status.WAIVED,
                        f"{check_id} waived until {waiver.expires_at.date().isoformat()} "
                        f"(approved by {waiver.approver}): {_short(waiver.justification)}",
                        "waiver", check_id, r.severity, waiver_id=waiver.id)
        else:
            v = Verdict(r.status, r.reason, "check", check_id, r.severity)
        if worst is None or _worse(v, worst):
            worst = v
    return worst


def _worse(a: Verdict, b: Verdict) -> bool:
    if a.status.rank != b.status.rank:
        return a.status.rank > b.status.rank
    return (a.severity.rank if a.severity else -1) > (b.severity.rank if b.severity else -1)


def _attested(found: Verdict | None, a: Attestation | None) -> Verdict:
    if a is None:
        if found is None:
            return Verdict(Status.MANUAL, "no automated check covers this: attest it with "
                           "evidence (fleetwarden attest)", "none")
        return found
    said = (f"attested {a.status} by {a.attested_by} on {a.attested_at.date().isoformat()} "
            f"({a.method}, until {a.expires_at.date().isoformat()}): {_short(a.statement)}")
    if found is not None and found.status is Status.FAIL:
        return Verdict(Status.FAIL, f"{found.reason} (an attestation says {a.status}, but the "
                       "automated check failed)", "check", found.check_id, found.severity,
                       a.id)
    if a.status is Status.FAIL or found is None or found.status is Status.MANUAL:
        return Verdict(a.status, said, "attestation",
                       found.check_id if found else None, found.severity if found else None,
                       a.id)
    return Verdict(found.status, f"{found.reason}; also {said}", found.decided_by,
                   found.check_id, found.severity, a.id, found.waiver_id)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
