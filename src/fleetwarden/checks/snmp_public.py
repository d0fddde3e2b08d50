"""SNMP answers a well-known default community (``public``, ``private``)."""

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

#: Communities everyone knows; naming them in evidence gives nothing away. Any other
#: community is a secret and is never repeated.
DEFAULT_COMMUNITIES = ("public", "private")


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = services_named(facts, ("snmp",))
    if not found:
        return not_applicable("No SNMP agent answered on the probed ports.")
    bad, unknown = [], []
    for s in found:
        community = field(s, Field.SNMP_COMMUNITY)
        if community is None:
            unknown.append(s)
        elif community in DEFAULT_COMMUNITIES:
            bad.append({**where(s), "community": community})
    if bad:
        return failed(f"SNMP on port {ports_text(b['port'] for b in bad)} answers the default "
                      f"community '{bad[0]['community']}': change it, or move to SNMPv3 with "
                      "authentication.", services=head(bad))
    if unknown:
        return manual(f"SNMP answers on port {ports_text(s.port for s in unknown)} but the "
                      "community it accepts was not recorded; test 'public' by hand.",
                      services=head(where(s) for s in unknown))
    return passed("SNMP answered only a non-default community.",
                  services=head(where(s) for s in found))
