"""A debug or maintenance console answers on the network."""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import clip, head, not_probed, ports_text, services_named, where
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, not_applicable

#: Discovery's name for an unsolicited console, plus nmap's names for common debuggers.
NAMES = ("debug", "adb", "jdwp", "gdbserver")


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = services_named(facts, NAMES)
    if not found:
        return not_applicable("No debug console was seen on the probed ports.")
    evidence: list[dict[str, Any]] = []
    for s in head(found):
        item = where(s)
        if s.banner:
            item["banner"] = clip(s.banner)
        evidence.append(item)
    return failed(f"A debug console answers on port {ports_text(s.port for s in found)}: "
                  "disable it in the device's configuration or firmware.", services=evidence)
