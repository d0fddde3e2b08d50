"""What matching returns: the match, the assessment and their parts, as frozen values.

Also ``Tri``, the three-valued truth the matchers compute with. Must not: hold any
matching logic (the other modules of ``vulnmatch`` decide; this one only names the
answers), do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fleetwarden.domain.vulns import Cpe

Tri = bool | None
"""True, False, or None for "cannot tell" (a version that does not compare)."""


class Basis(StrEnum):
    PURL = "purl"
    """An OSV affected entry for the component's package."""
    CPE = "cpe"
    """An NVD configuration, through the component's CPE."""


@dataclass(frozen=True, slots=True)
class CpeHit:
    cpe: Cpe
    """One of the input CPEs, as given."""
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NvdMatch:
    hits: tuple[CpeHit, ...]
    """Input CPEs matched by a vulnerable entry of a satisfied configuration."""
    platform_reasons: tuple[str, ...] = ()
    """Platform conditions (``vulnerable: false``) that were met: context, not findings."""

    @property
    def affected(self) -> tuple[Cpe, ...]:
        return tuple(h.cpe for h in self.hits)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r for h in self.hits for r in h.reasons) + self.platform_reasons


@dataclass(frozen=True, slots=True)
class OsvMatch:
    ecosystem: str
    name: str
    version: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Match:
    vulnerability_id: str
    basis: Basis
    reasons: tuple[str, ...]
    cpes: tuple[Cpe, ...] = ()
    """The component's CPE when matched through NVD configurations."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """A match, or why no decision could be made (reported, never counted as affected)."""

    vulnerability_id: str
    match: Match | None
    undecided: tuple[str, ...] = ()

