"""A certificate is signed with MD5 or SHA-1 (or older), whose collisions are practical."""

from __future__ import annotations

import re
from typing import Any

from fleetwarden.checks._helpers import certificate_check, clip
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation

#: OpenSSL names (``sha1WithRSAEncryption``, ``ecdsa-with-SHA1``, ``md5WithRSAEncryption``).
_WEAK_NAME = re.compile(r"(?<![a-z0-9])(md2|md4|md5|sha-?1)(?![0-9])", re.IGNORECASE)
#: The same signatures when only the dotted OID was known.
WEAK_OIDS = frozenset({
    "1.2.840.113549.1.1.2",   # md2WithRSAEncryption
    "1.2.840.113549.1.1.3",   # md4WithRSAEncryption
    "1.2.840.113549.1.1.4",   # md5WithRSAEncryption
    "1.2.840.113549.1.1.5",   # sha1WithRSAEncryption
    "1.3.14.3.2.29",          # sha1WithRSASignature (OIW)
    "1.2.840.10040.4.3",      # dsa-with-sha1
    "1.2.840.10045.4.1",      # ecdsa-with-SHA1
})


def weak(algorithm: str) -> bool:
    return algorithm.strip() in WEAK_OIDS or _WEAK_NAME.search(algorithm) is not None


def check(facts: DeviceFacts) -> Outcome:
    def judge(_: ServiceObservation, cert: CertificateInfo) -> dict[str, Any] | None | str:
        if not cert.signature_algorithm:
            return "the certificate's signature algorithm was not read"
        if weak(cert.signature_algorithm):
            return {"signature_algorithm": clip(cert.signature_algorithm, 64)}
        return None

    return certificate_check(
        facts, what="The certificate is signed with MD5 or SHA-1",
        fix="issue a new certificate signed with SHA-256 or better",
        ok="No certificate is signed with MD5 or SHA-1.", judge=judge)
