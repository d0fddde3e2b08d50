"""A TLS service presents a certificate past its notAfter date: clients either refuse it
or are taught to click through warnings."""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import certificate_check, parse_utc, utc_now
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation


def check(facts: DeviceFacts) -> Outcome:
    now = utc_now(facts)

    def judge(_: ServiceObservation, cert: CertificateInfo) -> dict[str, Any] | None | str:
        not_after = parse_utc(cert.not_after)
        if not_after is None:
            return "the certificate's expiry date could not be read"
        return {"expired_days": (now - not_after).days} if not_after < now else None

    return certificate_check(
        facts, what="The certificate has expired",
        fix="install a new certificate and plan its renewal",
        ok="No TLS service presents an expired certificate.", judge=judge)
