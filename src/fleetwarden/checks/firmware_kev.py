"""The device's software has an open vulnerability listed in CISA's Known Exploited
Vulnerabilities catalogue: it is being exploited in the wild."""

from __future__ import annotations

from fleetwarden.checks._helpers import clip, head
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, manual, passed


def check(facts: DeviceFacts) -> Outcome:
    vulns = facts.vulns
    if vulns is None:
        return manual("Vulnerability findings were not available for this device; match it "
                      "against the feeds first.")
    if vulns.kev:
        ids = [clip(v, 64) for v in head(vulns.kev)]
        return failed(f"{len(vulns.kev)} open known-exploited vulnerabilities (e.g. {ids[0]}): "
                      "update the firmware now or isolate the device.",
                      kev=ids, count=len(vulns.kev))
    if not vulns.has_sbom:
        return manual("No software inventory, cannot tell whether known-exploited "
                      "vulnerabilities apply; import an SBOM for its firmware.", has_sbom=False)
    return passed("No open known-exploited vulnerability in the device's software inventory.",
                  has_sbom=True)
