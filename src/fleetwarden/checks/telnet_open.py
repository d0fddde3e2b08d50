"""Telnet is open: a remote login whose password and session cross the network in clear."""

from __future__ import annotations

from fleetwarden.checks._helpers import head, not_probed, ports_text, services_named, where
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, not_applicable

NAMES = ("telnet",)


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = services_named(facts, NAMES)
    if not found:
        return not_applicable("No Telnet service was seen on the probed ports.")
    return failed(f"Telnet answers on port {ports_text(s.port for s in found)}: disable it "
                  "and manage the device over SSH or HTTPS.",
                  services=head(where(s) for s in found))
