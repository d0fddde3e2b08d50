"""The service accepts cipher suites Mozilla's intermediate profile does not allow
(RC4, 3DES, export, NULL, anonymous, static RSA key exchange ...)."""

from __future__ import annotations

from fleetwarden.checks._helpers import PortVerdict, clip, head, scan_check
from fleetwarden.domain.compliance.facts import DeviceFacts, TlsScan
from fleetwarden.domain.compliance.results import Outcome


def check(facts: DeviceFacts) -> Outcome:
    def judge(scan: TlsScan) -> PortVerdict:
        weak = [clip(c, 96) for c in head(scan.weak_ciphers)]
        return PortVerdict(scan.port, scan.service, failed=bool(weak),
                           detail={"weak_ciphers": weak, "count": len(scan.weak_ciphers)}
                           if weak else None)

    return scan_check(
        facts, fix="disable them, keeping only suites of Mozilla's intermediate profile",
        what="Weak cipher suites are accepted",
        ok="Every TLS service was scanned and accepts no weak cipher suite.", judge=judge)
