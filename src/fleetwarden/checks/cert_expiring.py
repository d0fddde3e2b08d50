"""A TLS service's certificate expires within the tenant's warning period
(``cert_expiry_warning_days``): renew it before clients start refusing it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fleetwarden.checks._helpers import certificate_check, parse_utc, utc_now
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation


def check(facts: DeviceFacts) -> Outcome:
    now = utc_now(facts)
    horizon = now + timedelta(days=facts.cert_expiry_warning_days)

    def judge(_: ServiceObservation, cert: CertificateInfo) -> dict[str, Any] | None | str:
        not_after = parse_utc(cert.not_after)
        if not_after is None:
            return "the certificate's expiry date could not be read"
        # An expired certificate is cert-expired's finding, not a warning of this one.
        if now <= not_after <= horizon:
            return {"days_left": (not_after - now).days}
        return None

    return certificate_check(
        facts, what=f"The certificate expires within {facts.cert_expiry_warning_days} days",
        fix="renew it now",
        ok=f"No certificate expires within the next {facts.cert_expiry_warning_days} days.",
        judge=judge)
