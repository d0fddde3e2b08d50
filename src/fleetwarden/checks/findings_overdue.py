"""Priority 1 or 2 vulnerability findings are open past their due date."""

from __future__ import annotations

from fleetwarden.checks._helpers import clip, head
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, manual, passed


def check(facts: DeviceFacts) -> Outcome:
    vulns = facts.vulns
    if vulns is None:
        return manual("Vulnerability findings were not available for this device; match it "
                      "against the feeds first.")
    if vulns.overdue_p1_p2:
        ids = [clip(v, 64) for v in head(vulns.overdue_p1_p2)]
        return failed(f"{len(vulns.overdue_p1_p2)} P1/P2 findings are past their due date "
                      f"(e.g. {ids[0]}): remediate them or record a risk acceptance.",
                      overdue=ids, count=len(vulns.overdue_p1_p2))
    if not vulns.has_sbom:
        return manual("No software inventory, cannot tell whether findings are overdue; "
                      "import an SBOM for its firmware.", has_sbom=False)
    return passed("No P1/P2 finding is past its due date.", has_sbom=True)
