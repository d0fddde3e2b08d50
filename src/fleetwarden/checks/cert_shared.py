"""Another device presents the very same certificate: its private key is shared (the
vendor's, baked into the firmware), so one extracted key impersonates them all."""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import certificate_check
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation


def check(facts: DeviceFacts) -> Outcome:
    peers = facts.certificate_peers

    def judge(_: ServiceObservation, cert: CertificateInfo) -> dict[str, Any] | None | str:
        # Absent means nobody counted, not "unique": the assessment puts 0 for a
        # certificate it compared and found on no other device.
        if cert.sha256 not in peers:
            return "the certificate was not compared with other devices'"
        count = peers[cert.sha256]
        return {"other_devices": count} if count > 0 else None

    return certificate_check(
        facts, what="The same certificate is presented by other devices",
        fix="generate a unique key and certificate on this device",
        ok="No other device presents the same certificate.", judge=judge)
