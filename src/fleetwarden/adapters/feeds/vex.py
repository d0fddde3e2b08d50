"""VEX documents (CycloneDX, OpenVEX, CSAF 2.0 ``csaf_vex``) into ``VexStatement`` values.

Documents are read whole (at most ``MAX_DOCUMENT``), since statements point at products
defined elsewhere in the same document. Every statement names its products by purl when
the document gives one, else CPE, else the document's own product name or id.

CycloneDX (``vulnerabilities[].analysis``; ``affects[].ref`` resolved through the
``bom-ref`` of ``metadata.component`` and every nested component, BOM-Links by their
fragment). States:

======================  ===================================================
exploitable             affected
in_triage               under_investigation
not_affected            not_affected
false_positive          not_affected (the impact statement says "false positive")
resolved                fixed
resolved_with_pedigree  fixed
======================  ===================================================

Justifications (CycloneDX -> CISA/OpenVEX; the original is kept in the impact statement
when the document gives no ``detail``):

===============================  =================================================
code_not_present                 vulnerable_code_not_present
code_not_reachable               vulnerable_code_not_in_execute_path
requires_configuration           vulnerable_code_cannot_be_controlled_by_adversary
requires_dependency              vulnerable_code_cannot_be_controlled_by_adversary
requires_environment             vulnerable_code_cannot_be_controlled_by_adversary
protected_by_compiler            inline_mitigations_already_exist
protected_at_runtime             inline_mitigations_already_exist
protected_at_perimeter           inline_mitigations_already_exist
protected_by_mitigating_control  inline_mitigations_already_exist
===============================  =================================================

An entry with no ``analysis.state`` is a vulnerability report (VDR) entry, not a
statement: it is skipped with a warning. A BOM with no vulnerabilities at all is an SBOM
and is refused.

OpenVEX (``statements[]``, v0.0.1 strings or v0.2 objects): statuses and justifications
are already the CISA ones. Products are the ``@id``s (or identifiers) of ``products``;
``subcomponents`` narrow a statement in the document but have no place in
``VexStatement``, so the statement is recorded against the product. ``not_affected``
needs a justification or an impact statement (the spec's MUST): without, a bad record.

CSAF 2.0 (``document.category == "csaf_vex"``): product ids from ``product_tree``
(branches, ``full_product_names``, ``relationships``) resolve to
``product_identification_helper`` purl or CPE (a relationship product, "X as a
component of Y", without a helper of its own takes X's); ``product_status`` known_not_affected ->
not_affected, known_affected / first_affected / last_affected -> affected, fixed /
first_fixed -> fixed, under_investigation -> under_investigation. ``flags[].label`` gives
the justification, ``threats`` of category ``impact`` the impact statement and
``remediations`` the action statement, per product or product group. A
known_not_affected product with neither flag nor impact threat is a bad record (the
CSAF VEX profile requires one).

Must not: decide what a statement suppresses (the matching and triage services do).
"""

from __future__ import annotations

from fleetwarden.adapters.feeds._vex_common import MAX_DOCUMENT
from fleetwarden.adapters.feeds._vex_csaf import CSAF_STATUSES, read_csaf
from fleetwarden.adapters.feeds._vex_cyclonedx import (
    CYCLONEDX_JUSTIFICATIONS,
    CYCLONEDX_STATES,
    read_cyclonedx,
)
from fleetwarden.adapters.feeds._vex_openvex import read_openvex

__all__ = ["CSAF_STATUSES", "CYCLONEDX_JUSTIFICATIONS", "CYCLONEDX_STATES", "MAX_DOCUMENT",
           "read_csaf", "read_cyclonedx", "read_openvex"]
