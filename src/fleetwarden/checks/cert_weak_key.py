"""A certificate's key is too small: RSA or DSA below 2048 bits, EC below 256 bits."""

from __future__ import annotations

from typing import Any

from fleetwarden.checks._helpers import certificate_check
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation

#: Smallest acceptable key size per key type, in bits.
MIN_BITS = {"rsa": 2048, "dsa": 2048, "ec": 256}
#: Key types with a fixed, adequate size.
STRONG_TYPES = frozenset({"ed25519", "ed448"})


def check(facts: DeviceFacts) -> Outcome:
    def judge(_: ServiceObservation, cert: CertificateInfo) -> dict[str, Any] | None | str:
        kind = (cert.key_type or "").lower()
        if kind in STRONG_TYPES:
            return None
        if kind not in MIN_BITS:
            return "the certificate's key type was not recognised" if kind else \
                "the certificate's key type was not read"
        if cert.key_bits is None:
            return "the certificate's key size was not read"
        if cert.key_bits < MIN_BITS[kind]:
            return {"key_type": kind, "key_bits": cert.key_bits, "minimum": MIN_BITS[kind]}
        return None

    return certificate_check(
        facts, what="The certificate's key is too small",
        fix="issue a new certificate with an RSA 2048+ or EC P-256+ key",
        ok="Every certificate's key is at least RSA/DSA 2048 or EC 256 bits.", judge=judge)
