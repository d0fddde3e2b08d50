"""SSDP/UPnP answers: the device advertises itself (model, serial, firmware) to anyone
who asks and may offer port-mapping or control actions without authentication."""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import (
    clip,
    field,
    head,
    not_probed,
    ports_text,
    services_named,
    where,
)
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, not_applicable
from fleetwarden.domain.discovery import Field

NAMES = ("ssdp", "upnp")
_SHOWN = (Field.UPNP_SERVER, Field.UPNP_MANUFACTURER, Field.UPNP_MODEL_NAME,
          Field.UPNP_FIRMWARE, Field.UPNP_DEVICE_TYPE)


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = services_named(facts, NAMES)
    if not found:
        return not_applicable("No SSDP or UPnP service was seen on the probed ports.")
    evidence: list[dict[str, Any]] = []
    for s in head(found):
        item = where(s)
        for name in _SHOWN:
            value = field(s, name)
            if value:
                item[str(name)] = clip(value)
        evidence.append(item)
    return failed(f"SSDP/UPnP answers on port {ports_text(s.port for s in found)}: disable "
                  "UPnP on the device (it discloses its identity and may open ports).",
                  services=evidence)
