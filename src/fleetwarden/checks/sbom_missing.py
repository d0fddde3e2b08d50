"""Neither the device nor its firmware image has a software inventory (SBOM), so its
exposure to new vulnerabilities cannot be told."""

from __future__ import annotations

from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, manual, passed


def check(facts: DeviceFacts) -> Outcome:
    if facts.vulns is None:
        return manual("Whether the device has a software inventory was not looked up.")
    if not facts.vulns.has_sbom:
        return failed("No software inventory for this device or its firmware: obtain an SBOM "
                      "from the supplier or generate one from the firmware image.",
                      has_sbom=False)
    return passed("The device's firmware has a software inventory.", has_sbom=True)
