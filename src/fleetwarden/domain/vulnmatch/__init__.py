"""Does a component carry a vulnerability? OSV ranges and NVD configurations, as written.

- purl/OSV first: when a component has a purl and an OSV ``affected`` entry names that
  package, the entry's ranges and versions decide (``introduced``, ``fixed``,
  ``last_affected``, ``limit``) under the ecosystem's version order (``osv``).
- Otherwise NVD configurations, through the component's own CPE: AND/OR nodes,
  ``negate``, version ranges, and ``vulnerable: false`` platform entries that other CPEs
  of the same firmware image may satisfy but that are never reported as affected
  (``nvd``; ``component`` chooses between the two).
- ``VulnIndex`` is built once per feed snapshot; its ``candidates`` narrows ~300k
  vulnerabilities to the few worth evaluating for one component (``index``).

Logic is three-valued: a version that cannot be compared makes its entry *unknown*,
never true, so it cannot make a configuration true, not even through ``negate``; such
cases come back as ``Assessment.undecided`` for the operator to see. The result values
live in ``results``.

This package's public API is what it re-exports below; its modules are internals.

Must not: match on product name alone, on a vendor guess, or on a version it cannot
compare; report a platform as affected; do I/O.
"""

from fleetwarden.domain.vulnmatch.component import (
    assess_component,
    component_cpe,
    match_component,
)
from fleetwarden.domain.vulnmatch.index import VulnIndex
from fleetwarden.domain.vulnmatch.nvd import CpeIndex, match_cpe_config
from fleetwarden.domain.vulnmatch.osv import match_osv
from fleetwarden.domain.vulnmatch.results import (
    Assessment,
    Basis,
    CpeHit,
    Match,
    NvdMatch,
    OsvMatch,
    Tri,
)

__all__ = [
    "Assessment",
    "Basis",
    "CpeHit",
    "CpeIndex",
    "Match",
    "NvdMatch",
    "OsvMatch",
    "Tri",
    "VulnIndex",
    "assess_component",
    "component_cpe",
    "match_component",
    "match_cpe_config",
    "match_osv",
]
