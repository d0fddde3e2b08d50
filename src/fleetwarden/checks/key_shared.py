"""Another device's certificate carries the same public key: the private key is shared,
even when the certificates differ (re-issued over a vendor-wide key)."""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import certificate_check
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation


def check(facts: DeviceFacts) -> Outcome:
    peers = facts.public_key_peers

    def judge(_: ServiceObservation, cert: CertificateInfo) -> dict[str, Any] | None | str:
        key = cert.public_key_sha256
        if key is None:
            return "the certificate's public key could not be read"
        if key not in peers:
            return "the public key was not compared with other devices'"
        count = peers[key]
        return {"public_key_sha256": key, "other_devices": count} if count > 0 else None

    return certificate_check(
        facts, what="The same key pair is used by other devices",
        fix="generate a unique key pair on this device and re-issue its certificate",
        ok="No other device uses the same public key.", judge=judge)
