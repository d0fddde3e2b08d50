"""One SBOM component against one vulnerability: purl/OSV first, else NVD via its CPE.

The component is parsed once (``prepare``) so the index can assess it against many
vulnerabilities. A withdrawn vulnerability matches nothing; a malformed purl or CPE,
or a version that cannot be compared, comes back as ``Assessment.undecided``, never as
a match.

Must not: evaluate OSV ranges or NVD configurations itself (``osv`` and ``nvd`` do),
look up candidates (``index`` does), do I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetwarden.domain.cpe import parse_cpe, with_version
from fleetwarden.domain.vulnmatch.nvd import (
    CpeIndex,
    as_index,
    could_affect,
    evaluate_configurations,
)
from fleetwarden.domain.vulnmatch.osv import Package, evaluate_affected, package_from_purl
from fleetwarden.domain.vulnmatch.results import Assessment, Basis, Match
from fleetwarden.domain.vulns import Cpe, SbomComponent, Vulnerability
from fleetwarden.errors import InputError


def component_cpe(component: SbomComponent) -> Cpe | None:
    """The component's CPE, its version filled from the SBOM when the CPE leaves it open.

    Raises ``InputError`` when the CPE is malformed.
    """
    if not component.cpe:
        return None
    return with_version(parse_cpe(component.cpe), component.version)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A component parsed once for many vulnerabilities."""

    package: Package | None
    cpe: Cpe | None
    targets: CpeIndex
    version: str | None
    problems: tuple[str, ...]


def prepare(component: SbomComponent, platform: Sequence[Cpe] | CpeIndex) -> Prepared:
    """Parse the component once; a malformed purl or CPE becomes a noted problem."""
    problems: list[str] = []
    package = cpe = None
    if component.purl:
        try:
            package = package_from_purl(component.purl)
        except InputError as exc:
            problems.append(str(exc))
    try:
        cpe = component_cpe(component)
    except InputError as exc:
        problems.append(str(exc))
    targets = as_index(platform)
    if cpe is not None:
        targets = targets.plus(cpe)
    version = component.version or (package.version if package else None)
    return Prepared(package, cpe, targets, version, tuple(problems))


def assess_prepared(p: Prepared, vuln: Vulnerability) -> Assessment:
    """``assess_component`` for a component already prepared (the index's full path)."""
    if vuln.withdrawn is not None:
        return Assessment(vuln.id, None)
    notes: list[str] = []
    if p.package is not None and vuln.affected:
        osv, applicable = evaluate_affected(vuln.affected, p.package, p.version, notes)
        if osv is not None:
            return Assessment(vuln.id, Match(vuln.id, Basis.PURL, osv.reasons))
        if applicable:
            return Assessment(vuln.id, None, tuple(dict.fromkeys(notes)))
    if p.cpe is not None and vuln.configurations:
        nvd_notes: list[str] = []
        nvd = evaluate_configurations(vuln.configurations, p.targets, nvd_notes, only=p.cpe)
        if nvd is not None:
            reasons = nvd.hits[0].reasons + nvd.platform_reasons
            return Assessment(vuln.id, Match(vuln.id, Basis.CPE, reasons, (p.cpe,)))
        if nvd_notes and could_affect(vuln.configurations, p.cpe):
            notes.extend(nvd_notes)
    if (vuln.affected or vuln.configurations) and p.problems:
        notes.extend(p.problems)
    return Assessment(vuln.id, None, tuple(dict.fromkeys(notes)))


def assess_component(component: SbomComponent, vuln: Vulnerability,
                     platform: Sequence[Cpe] | CpeIndex = ()) -> Assessment:
    """Like ``match_component``, also saying what could not be decided and why."""
    return assess_prepared(prepare(component, platform), vuln)


def match_component(component: SbomComponent, vuln: Vulnerability,
                    platform: Sequence[Cpe] | CpeIndex = ()) -> Match | None:
    """Is this component affected? purl/OSV first, else NVD through its own CPE.

    ``platform`` holds the other CPEs of the same firmware image or device (hardware,
    operating system), which configurations joined by AND may need. A withdrawn
    vulnerability matches nothing.
    """
    return assess_prepared(prepare(component, platform), vuln).match
