"""The MQTT broker accepts an anonymous client: anyone can read and publish topics."""

from __future__ import annotations

from fleetwarden.checks._helpers import field, head, not_probed, ports_text, services_named, where
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import (
    Outcome,
    failed,
    manual,
    not_applicable,
    passed,
)
from fleetwarden.domain.discovery import Field

NAMES = ("mqtt", "mqtts")


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = services_named(facts, NAMES)
    if not found:
        return not_applicable("No MQTT broker was seen on the probed ports.")
    open_ = [s for s in found if field(s, Field.MQTT_AUTH) == "open"]
    if open_:
        return failed(f"The MQTT broker on port {ports_text(s.port for s in open_)} accepts "
                      "anonymous clients: require a username and password (or client "
                      "certificates).", services=head(where(s) for s in open_))
    unknown = [s for s in found if field(s, Field.MQTT_AUTH) != "required"]
    if unknown:
        return manual(f"MQTT answers on port {ports_text(s.port for s in unknown)} but whether "
                      "it requires a login was not recorded; try an anonymous CONNECT by hand.",
                      services=head(where(s) for s in unknown))
    return passed("Every MQTT broker refused an anonymous client.",
                  services=head(where(s) for s in found))
