"""A TLS service presents a self-signed certificate: clients cannot authenticate the
device through a trusted issuer and are taught to accept any certificate."""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import certificate_check
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation


def check(facts: DeviceFacts) -> Outcome:
    def judge(_: ServiceObservation, cert: CertificateInfo) -> dict[str, Any] | None | str:
        return {"self_signed": True} if cert.self_signed else None

    return certificate_check(
        facts, what="The certificate is self-signed",
        fix="replace it with one issued by the force's device CA",
        ok="Every TLS service presents a certificate issued by another party.", judge=judge)
