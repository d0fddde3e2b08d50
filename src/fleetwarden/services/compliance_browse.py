"""Reading compliance one framework or one requirement at a time (the dashboard).

The catalogue list is cheap (no database). A framework's or a requirement's status comes
from ``compliance_report`` restricted to that one framework: it still reads every device
in scope once (about 24 s per 100,000 devices), so callers run it for one framework per
request, with a small entry cap, and a site narrows it. A requirement's evidence adds the
attestations and waivers that apply to it.

Must not: write, or show a requirement as met because nothing is known about it (the
report's rules hold: MANUAL until attested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleetwarden.domain.compliance.catalogue import Framework, Requirement
from fleetwarden.domain.compliance.exceptions import Attestation, Waiver
from fleetwarden.domain.compliance.report import ComplianceReport, RequirementResult
from fleetwarden.domain.compliance.results import Status
from fleetwarden.errors import NotFound
from fleetwarden.services.compliance_report import compliance_report
from fleetwarden.services.context import Permission, Platform, Principal, require

MAX_ENTRIES = 200
"""Devices listed under one requirement (the counts are always complete)."""
MAX_EXCEPTIONS = 200
"""Attestations and waivers listed beside one requirement's entries."""
_MET = (Status.PASS, Status.NOT_APPLICABLE, Status.WAIVED)


@dataclass(frozen=True, slots=True)
class FrameworkInfo:
    id: str
    title: str
    version: str
    source: str
    requirements: int
    automated: int
    """Requirements an automated check evidences (the rest need attestations)."""


@dataclass(frozen=True, slots=True)
class CheckInfo:
    id: str
    title: str
    severity: str


@dataclass(frozen=True, slots=True)
class RequirementDetail:
    framework: Framework
    requirement: Requirement
    result: RequirementResult
    report: ComplianceReport
    """The one-framework report the result comes from (scope, time, audit head)."""
    checks: tuple[CheckInfo, ...]
    attestations: tuple[Attestation, ...]
    """Active attestations of this requirement, on any subject (newest first, bounded)."""
    waivers: tuple[Waiver, ...]
    """Active waivers of this requirement or of one of its checks (bounded)."""
    more_attestations: int = 0
    more_waivers: int = 0


def frameworks(platform: Platform, principal: Principal) -> list[FrameworkInfo]:
    require(principal, Permission.READ)
    tools = platform.compliance_tools()
    mapped = {rid for rid, checks in tools.requirement_checks().items() if checks}
    return [FrameworkInfo(f.id, f.title, f.version, f.source, len(f.requirements),
                          sum(1 for r in f.requirements if r.id in mapped))
            for f in tools.frameworks()]


def framework_report(platform: Platform, principal: Principal, framework_id: str, *,
                     site: str | None = None) -> ComplianceReport:
    """Every requirement of one framework with its counts, no device entries."""
    require(principal, Permission.READ)
    _framework(platform, framework_id)
    return compliance_report(platform, principal, frameworks=(framework_id,), site=site,
                             entry_limit=0)


def requirement_detail(platform: Platform, principal: Principal, requirement_id: str, *,
                       site: str | None = None, entries: int = 50,
                       list_manual: bool = False) -> RequirementDetail:
    """One requirement: its counts, the worst ``entries`` devices with their evidence,
    and the attestations and waivers that bear on it."""
    require(principal, Permission.READ)
    framework_id = requirement_id.partition("/")[0]
    framework = _framework(platform, framework_id)
    requirement = framework.get(requirement_id)
    if requirement is None:
        raise NotFound(f"requirement {requirement_id[:80]!r} not found in {framework_id}")
    report = compliance_report(platform, principal, frameworks=(framework_id,), site=site,
                               entry_limit=max(0, min(entries, MAX_ENTRIES)),
                               list_manual=list_manual)
    result = next(r for f in report.frameworks for r in f.requirements
                  if r.requirement_id == requirement_id)
    tools = platform.compliance_tools()
    meta = {cid: c.meta for cid, c in tools.checks().items()}
    checks = tuple(CheckInfo(c, meta[c].title, meta[c].severity.value) if c in meta
                   else CheckInfo(c, c, "") for c in result.checks)
    now = platform.now()
    targets = {f"requirement:{requirement_id}", *(f"check:{c}" for c in result.checks)}
    with platform.uow(principal.tenant, False) as uow:
        attested = uow.compliance.attestations(requirement_id=requirement_id, active_at=now)
        waived = [w for w in uow.compliance.waivers(active_at=now) if w.target in targets]
    attested.sort(key=lambda a: a.attested_at, reverse=True)
    return RequirementDetail(
        framework, requirement, result, report, checks,
        tuple(attested[:MAX_EXCEPTIONS]), tuple(waived[:MAX_EXCEPTIONS]),
        max(0, len(attested) - MAX_EXCEPTIONS), max(0, len(waived) - MAX_EXCEPTIONS))


def _framework(platform: Platform, framework_id: str) -> Framework:
    found = next((f for f in platform.compliance_tools().frameworks()
                  if f.id == framework_id), None)
    if found is None:
        raise NotFound(f"framework {framework_id[:64]!r} not found")
    return found


def percent_met(counts: Mapping[Status, int]) -> float | None:
    """PASS, NOT_APPLICABLE and WAIVED devices over all devices of one requirement (the
    framework figure, ``compliance_percent``, per requirement)."""
    good = sum(n for s, n in counts.items() if s in _MET)
    total = sum(counts.values())
    return round(100.0 * good / total, 1) if total else None
