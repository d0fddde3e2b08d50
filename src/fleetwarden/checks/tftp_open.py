"""TFTP is open: files can be read (often configuration or firmware) with no login at all."""

from __future__ import annotations

from fleetwarden.checks._helpers import head, not_probed, ports_text, where
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, not_applicable

TFTP_PORT = 69


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = [s for s in facts.services
             if s.service.lower() == "tftp" or (s.transport == "udp" and s.port == TFTP_PORT)]
    if not found:
        return not_applicable("No TFTP service was seen on the probed ports.")
    return failed(f"TFTP answers on UDP port {ports_text(s.port for s in found)}: disable it "
                  "(it has no authentication) or restrict it to a provisioning network.",
                  services=head(where(s) for s in found))
