"""A well-known default account (from the default-credential catalogue) logs in.

Reads the credential probe's record only: the account name and the catalogue entry id,
never a password. Testing is done only where the tenant authorised it for the segment.
"""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import clip, field, head, not_probed, ports_text
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import (
    Outcome,
    failed,
    manual,
    not_applicable,
    passed,
)
from fleetwarden.domain.discovery import Field, ServiceObservation

_ALWAYS_LOGIN = frozenset({"telnet", "ftp", "ssh"})


def login_service(s: ServiceObservation) -> bool:
    """Whether discovery saw the service ask for credentials (so defaults can be tried)."""
    name = s.service.lower()
    if name in _ALWAYS_LOGIN:
        return True
    if name in ("http", "https", "upnp"):
        return field(s, Field.HTTP_AUTH) is not None
    if name in ("rtsp", "rtsps"):
        return field(s, Field.RTSP_REALM) is not None
    if name in ("mqtt", "mqtts"):
        return field(s, Field.MQTT_AUTH) == "required"
    return False


def check(facts: DeviceFacts) -> Outcome:
    test = facts.credentials
    seen = {s.port: s.service for s in facts.services or () if login_service(s)}
    if test is None:
        if facts.services is None:
            return not_probed()
        if not seen:
            return not_applicable("No login service was seen on the probed ports.")
        return manual("Default credentials were not tested in this assessment; run it with "
                      "credential testing, or try the vendor defaults by hand.")
    if not test.authorised:
        segment = clip(facts.segment, 64) if facts.segment else "this device's segment"
        return manual(f"Credential testing is not authorised for {segment}; authorise it for "
                      "the segment or try the vendor defaults by hand.",
                      segment=facts.segment)
    accepted = [a for a in test.attempts if a.accepted]
    if accepted:
        first = accepted[0]
        return failed(
            f"Default credentials log in on port {first.port} ({clip(first.service, 32)}) as "
            f"'{clip(first.username, 64)}' (catalogue entry {clip(first.entry, 64)}): change "
            "the password on every account of this device.",
            accepted=head({"port": a.port, "service": clip(a.service, 32),
                           "username": clip(a.username, 64), "entry": clip(a.entry, 64)}
                          for a in accepted),
            services_tested=sorted(test.services_tested))
    if facts.services is None:
        return manual("Credential attempts failed, but the device's services were not "
                      "observed, so it is unknown whether every login was tried.",
                      services_tested=sorted(test.services_tested))
    logins = dict(seen)
    for a in test.attempts:
        logins.setdefault(a.port, a.service)
    for port in test.services_tested:
        logins.setdefault(port, "login")
    if not logins:
        return not_applicable("No login service was seen on the probed ports.")
    tested = set(test.services_tested)
    untested: list[dict[str, Any]] = []
    for port in sorted(logins):
        if port not in tested:
            why = test.skipped.get(port, "not tested")
            untested.append({"port": port, "service": clip(logins[port], 32),
                             "why": clip(why)})
    evidence: dict[str, Any] = {
        "services_tested": sorted(tested), "attempts": len(test.attempts),
        "login_ports": sorted(logins)}
    if untested:
        first_u = untested[0]
        return manual(f"Default credentials were not tried to the end on port "
                      f"{ports_text(u['port'] for u in untested)} ({first_u['why']}); finish "
                      "the test or try the vendor defaults by hand.",
                      untested=head(untested), **evidence)
    return passed(f"No default credential was accepted on any login service "
                  f"({len(test.attempts)} attempts on port {ports_text(sorted(tested))}).",
                  **evidence)
