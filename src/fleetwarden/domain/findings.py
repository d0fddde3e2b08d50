"""Findings: a vulnerability on a device, and what people decided about it (R5).

A finding is open until someone triages it: *affected* (to be fixed), *not_affected*
with a VEX justification, *false_positive*, or *risk_accepted* with an approver and an
expiry (it reopens by itself when the acceptance lapses). A VEX statement that says
not_affected (or fixed) *suppresses* it: still listed, marked suppressed with the
statement's source, never hidden. *fixed* is never claimed, only observed: the finding
stops matching because the device or its firmware image changed.

Must not: store anything, or accept a decision without the facts it needs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from fleetwarden.domain.cpe import cpe_matches, parse_cpe, with_version
from fleetwarden.domain.vulns import SbomComponent, VexJustification
from fleetwarden.errors import InputError

MAX_ACCEPTANCE = timedelta(days=730)
"""A risk is accepted for at most two years before someone must look again."""


class FindingStatus(StrEnum):
    OPEN = "open"
    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    FALSE_POSITIVE = "false_positive"
    RISK_ACCEPTED = "risk_accepted"
    SUPPRESSED = "suppressed"
    """A VEX statement says not_affected or fixed."""
    FIXED = "fixed"


TRIAGE_CHOICES = (FindingStatus.AFFECTED, FindingStatus.NOT_AFFECTED,
                  FindingStatus.FALSE_POSITIVE, FindingStatus.RISK_ACCEPTED,
                  FindingStatus.OPEN)
"""What a person may set (``open`` withdraws an earlier decision)."""

ACTIVE = frozenset({FindingStatus.OPEN, FindingStatus.AFFECTED})
"""Statuses that still need remediation (count towards overdue and reports)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A person's triage of one vulnerability on a device or a firmware image."""

    status: FindingStatus
    justification: VexJustification | None = None
    note: str | None = None
    approver: str | None = None
    expires_at: datetime | None = None


def decide(status: str, *, justification: str | None = None, note: str | None = None,
           approver: str | None = None, expires_at: datetime | None = None,
           actor: str, now: datetime) -> Decision:
    """Check a triage decision; ``InputError`` names what is missing or wrong."""
    try:
        chosen = FindingStatus(status)
    except ValueError:
        raise InputError(f"status {status[:32]!r}: choose one of "
                         + ", ".join(s.value for s in TRIAGE_CHOICES)) from None
    if chosen not in TRIAGE_CHOICES:
        raise InputError(f"status {chosen.value!r} cannot be set by hand: "
                         + ("fixed is verified by matching the device's new firmware"
                            if chosen is FindingStatus.FIXED
                            else "it comes from VEX statements (feeds import)"))
    just = None
    if justification is not None:
        try:
            just = VexJustification(justification)
        except ValueError:
            raise InputError(f"justification {justification[:64]!r}: choose one of "
                             + ", ".join(j.value for j in VexJustification)) from None
    note = (note or "").strip()[:2000] or None
    if chosen is FindingStatus.NOT_AFFECTED and just is None:
        raise InputError("not_affected needs a justification (one of the VEX ones: "
                         + ", ".join(j.value for j in VexJustification) + ")")
    if chosen is not FindingStatus.NOT_AFFECTED and just is not None:
        raise InputError("a justification is only for not_affected")
    if chosen is FindingStatus.FALSE_POSITIVE and note is None:
        raise InputError("false_positive needs a note saying why the match is wrong")
    if chosen is FindingStatus.RISK_ACCEPTED:
        approver = (approver or "").strip()[:256] or None
        if approver is None or expires_at is None:
            raise InputError("risk_accepted needs an approver and an expiry")
        if _person(approver) == _person(actor):
            raise InputError("risk_accepted: the approver must be someone else than you")
        if expires_at <= now:
            raise InputError("risk_accepted: the expiry must be in the future")
        if expires_at - now > MAX_ACCEPTANCE:
            raise InputError("risk_accepted: the expiry can be at most 730 days ahead")
    elif approver or expires_at:
        raise InputError("an approver and an expiry are only for risk_accepted")
    return Decision(chosen, just, note, approver if chosen is FindingStatus.RISK_ACCEPTED
                    else None, expires_at)


def _person(name: str) -> str:
    """Who a name stands for: ``cli:root`` and ``root`` are the same person."""
    return name.strip().lower().removeprefix("cli:").removeprefix("api:")


def effective(decided: str | None, expires_at: datetime | None, suppressed: bool,
              now: datetime) -> FindingStatus:
    """What a finding shows now: a person's decision, else a VEX suppression, else open.

    A lapsed risk acceptance counts as open again."""
    if decided is not None and decided != FindingStatus.OPEN:
        if decided == FindingStatus.RISK_ACCEPTED and expires_at is not None \
                and expires_at <= now:
            return FindingStatus.SUPPRESSED if suppressed else FindingStatus.OPEN
        return FindingStatus(decided)
    return FindingStatus.SUPPRESSED if suppressed else FindingStatus.OPEN


# ------------------------------------------------------------ what storage hands over
@dataclass(frozen=True, slots=True)
class InstalledComponent:
    component: SbomComponent
    source: str
    """sbom, discovery or manual (where the inventory learnt of it)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """What matching runs on: one firmware image (all its devices) or one device's own
    components. ``platform`` holds the CPEs beside the components (the model's hardware
    CPE; for a device, also its image's components), which AND configurations need."""

    firmware_id: int | None
    device_id: int | None
    label: str
    components: tuple[InstalledComponent, ...]
    platform: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewMatch:
    """A match to store for a subject."""

    vulnerability_id: str
    component: InstalledComponent
    basis: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoredMatch:
    id: int
    key: str
    vulnerability_id: str
    firmware_id: int | None
    device_id: int | None
    fixed: bool
    kev: bool
    component_purl: str | None
    component_cpe: str | None


@dataclass(frozen=True, slots=True)
class FindingQuery:
    device_id: int | None = None
    vulnerability_id: str | None = None
    kev: bool = False
    priorities: tuple[int, ...] = ()
    overdue: bool = False
    statuses: tuple[FindingStatus, ...] = ()
    """Empty: every status but fixed."""
    site: str | None = None
    model_id: int | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability on one device, as listed (priority reasons already explained)."""

    device_id: int
    device_name: str
    vulnerability_id: str
    aliases: tuple[str, ...]
    summary: str | None
    component: SbomComponent | None
    source: str | None
    basis: str | None
    match_reasons: tuple[str, ...]
    cvss_version: str | None
    cvss_score: float | None
    cvss_vector: str | None
    epss: float | None
    kev: bool
    priority: int
    points: int
    reasons: tuple[str, ...]
    first_seen: datetime
    due_date: date
    status: FindingStatus
    overdue: bool
    site: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    justification: str | None = None
    note: str | None = None
    approver: str | None = None
    expires_at: datetime | None = None
    decided_by: str | None = None
    vex: str | None = None
    fixed_at: datetime | None = None


def match_key(firmware_id: int | None, device_id: int | None, vuln_id: str,
              c: SbomComponent) -> str:
    """One stored match per (subject, vulnerability, component)."""
    text = "|".join(str(x) for x in (firmware_id, device_id, vuln_id, c.name, c.version,
                                       c.purl, c.cpe))
    return hashlib.sha256(text.encode()).hexdigest()


def vex_applies(product: str, component: SbomComponent) -> bool:
    """Does a VEX statement's product name this component? purl (a versionless purl
    covers every version) or CPE (by CPE matching, so ``*`` versions cover all)."""
    product = product.strip()
    if product.startswith("pkg:") and component.purl:
        wanted = _purl_base(product)
        have = _purl_base(component.purl)
        if wanted[0] != have[0]:
            return False
        return wanted[1] is None or wanted[1] == have[1]
    if product.lower().startswith("cpe:") and component.cpe:
        try:
            return cpe_matches(parse_cpe(product), with_version(parse_cpe(component.cpe),
                                                                component.version))
        except InputError:
            return False
    return False


def _purl_base(purl: str) -> tuple[str, str | None]:
    """(type/namespace/name in lower case, version) of a purl, qualifiers dropped."""
    body = purl.split("#", 1)[0].split("?", 1)[0]
    name, _, version = body.partition("@")
    return name.lower(), (version or None)
