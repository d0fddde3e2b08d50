"""Vulnerability data as values: what feeds say, what SBOMs list, what VEX decides (R5).

Feed adapters (NVD CVE JSON 2.0, OSV, CISA KEV, EPSS, VEX) and SBOM adapters
(CycloneDX, SPDX) produce these; the matching core (``domain/cpe.py``,
``domain/versions.py``, ``domain/vulnmatch/``) reads them. Text from feeds and SBOMs
is untrusted data and already bounded by the adapters.

Must not: do I/O, parse file formats, or compare versions (``versions`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class FeedSource(StrEnum):
    NVD = "nvd"
    OSV = "osv"
    KEV = "kev"
    EPSS = "epss"
    VEX = "vex"


@dataclass(frozen=True, slots=True)
class Cpe:
    """A CPE 2.3 name, split into its attributes (``*`` = ANY, ``-`` = NA)."""

    part: str
    """a (application), o (operating system) or h (hardware)."""
    vendor: str
    product: str
    version: str = "*"
    update: str = "*"
    edition: str = "*"
    language: str = "*"
    sw_edition: str = "*"
    target_sw: str = "*"
    target_hw: str = "*"
    other: str = "*"


@dataclass(frozen=True, slots=True)
class CpeMatch:
    """One ``cpeMatch`` of an NVD configuration node."""

    criteria: Cpe
    vulnerable: bool = True
    """False: a platform the vulnerable software must run on, never itself affected."""
    version_start_including: str | None = None
    version_start_excluding: str | None = None
    version_end_including: str | None = None
    version_end_excluding: str | None = None


@dataclass(frozen=True, slots=True)
class ConfigNode:
    operator: str
    """AND or OR over ``matches``."""
    negate: bool = False
    matches: tuple[CpeMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class Configuration:
    """One entry of an NVD CVE's ``configurations``: nodes joined by ``operator``."""

    nodes: tuple[ConfigNode, ...]
    operator: str = "OR"
    negate: bool = False


@dataclass(frozen=True, slots=True)
class OsvEvent:
    kind: str
    """introduced, fixed, last_affected or limit."""
    value: str


@dataclass(frozen=True, slots=True)
class OsvRange:
    type: str
    """SEMVER, ECOSYSTEM or GIT (GIT ranges cannot be evaluated on versions; skipped)."""
    events: tuple[OsvEvent, ...]


@dataclass(frozen=True, slots=True)
class OsvAffected:
    ecosystem: str
    """OSV ecosystem name (``PyPI``, ``npm``, ``Debian:12``, ``Alpine:v3.18``, ...)."""
    name: str
    purl: str | None = None
    ranges: tuple[OsvRange, ...] = ()
    versions: tuple[str, ...] = ()
    """Versions listed one by one (affected whatever the ranges say)."""


@dataclass(frozen=True, slots=True)
class Cvss:
    version: str
    """2.0, 3.0, 3.1 or 4.0."""
    vector: str
    score: float
    """Base score as the feed states it (recomputed by the cvss library when imported)."""
    source: str | None = None
    """Who scored it (``nvd@nist.gov``, a CNA)."""
    primary: bool = True


@dataclass(frozen=True, slots=True)
class Vulnerability:
    id: str
    """CVE-2024-1234, GHSA-..., OSV-..."""
    source: FeedSource
    aliases: tuple[str, ...] = ()
    summary: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    withdrawn: datetime | None = None
    """OSV ``withdrawn`` or NVD ``Rejected``: matched by nothing."""
    cvss: tuple[Cvss, ...] = ()
    configurations: tuple[Configuration, ...] = ()
    """NVD applicability statements (empty for OSV records)."""
    affected: tuple[OsvAffected, ...] = ()
    """OSV affected packages (empty for NVD records)."""
    references: tuple[str, ...] = ()


_CVSS_ORDER = {"4.0": 0, "3.1": 1, "3.0": 2, "2.0": 3}


def best_cvss(v: Vulnerability) -> Cvss | None:
    """The score shown and weighed: the primary scorer's, newest CVSS version first."""
    ranked = sorted(v.cvss, key=lambda c: (not c.primary, _CVSS_ORDER.get(c.version, 9)))
    return ranked[0] if ranked else None


@dataclass(frozen=True, slots=True)
class KevEntry:
    cve_id: str
    vendor: str | None = None
    product: str | None = None
    date_added: date | None = None
    due_date: date | None = None
    known_ransomware: bool = False
    required_action: str | None = None


@dataclass(frozen=True, slots=True)
class EpssScore:
    cve_id: str
    epss: float
    """Probability of exploitation activity in the next 30 days, 0..1."""
    percentile: float
    scored_on: date | None = None


class VexStatus(StrEnum):
    NOT_AFFECTED = "not_affected"
    AFFECTED = "affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"


class VexJustification(StrEnum):
    """The CISA/OpenVEX justifications (CycloneDX's map onto them)."""

    COMPONENT_NOT_PRESENT = "component_not_present"
    VULNERABLE_CODE_NOT_PRESENT = "vulnerable_code_not_present"
    VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = "vulnerable_code_not_in_execute_path"
    VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = (
        "vulnerable_code_cannot_be_controlled_by_adversary")
    INLINE_MITIGATIONS_ALREADY_EXIST = "inline_mitigations_already_exist"


@dataclass(frozen=True, slots=True)
class VexStatement:
    vulnerability_id: str
    products: tuple[str, ...]
    """purls, CPEs or product identifiers the statement is about."""
    status: VexStatus
    justification: VexJustification | None = None
    impact_statement: str | None = None
    action_statement: str | None = None
    timestamp: datetime | None = None
    author: str | None = None
    document: str | None = None
    """The VEX document's id (CSAF tracking id, OpenVEX @id, CycloneDX serialNumber)."""


@dataclass(frozen=True, slots=True)
class SbomComponent:
    name: str
    version: str | None = None
    purl: str | None = None
    cpe: str | None = None
    """CPE 2.3 formatted string as the SBOM gives it."""
    supplier: str | None = None
    type: str | None = None
    """library, application, operating-system, firmware, device ..."""


@dataclass(frozen=True, slots=True)
class Sbom:
    format: str
    """cyclonedx-1.4 ... cyclonedx-1.6, spdx-2.3."""
    components: tuple[SbomComponent, ...]
    name: str | None = None
    """What the SBOM describes (its metadata component or SPDX document name)."""
    version: str | None = None
    serial: str | None = None
    """CycloneDX serialNumber or SPDX documentNamespace."""
    created: datetime | None = None
