"""The service accepts several protocol versions but not TLS_FALLBACK_SCSV (RFC 7507),
so an attacker can push a retrying client down to the weakest version it accepts."""

from __future__ import annotations

from fleetwarden.checks._helpers import PortVerdict, scan_check
from fleetwarden.domain.compliance.facts import DeviceFacts, TlsScan
from fleetwarden.domain.compliance.results import Outcome


def check(facts: DeviceFacts) -> Outcome:
    def judge(scan: TlsScan) -> PortVerdict:
        versions = list(scan.accepted_protocols)
        if len(versions) < 2:
            return PortVerdict(scan.port, scan.service, applicable=False)
        if scan.fallback_scsv is None:
            return PortVerdict(scan.port, scan.service,
                               missing="downgrade protection (TLS_FALLBACK_SCSV) not tested")
        return PortVerdict(scan.port, scan.service, failed=not scan.fallback_scsv,
                           detail=None if scan.fallback_scsv
                           else {"accepted_protocols": versions, "fallback_scsv": False})

    return scan_check(
        facts, fix="enable TLS_FALLBACK_SCSV or drop the older versions",
        what="Protocol downgrade is not prevented (no TLS_FALLBACK_SCSV)",
        ok="Every TLS service that accepts several versions refuses a downgraded handshake.",
        na="Every TLS service accepts a single protocol version: nothing to downgrade to.",
        judge=judge)
