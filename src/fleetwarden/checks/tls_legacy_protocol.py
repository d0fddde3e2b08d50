"""The service still accepts SSL 2/3, TLS 1.0 or TLS 1.1 (all deprecated, RFC 8996).

Decided from the full TLS scan; without one, discovery's own handshakes (the negotiated
version, or ``tls.legacy`` from its capped second handshake) can show a legacy version is
accepted, but never that none is.
"""

from __future__ import annotations

from fleetwarden.checks._helpers import (
    LEGACY_PROTOCOLS,
    PortVerdict,
    clip,
    field,
    scan_check,
    tls_services,
)
from fleetwarden.domain.compliance.facts import DeviceFacts, TlsScan
from fleetwarden.domain.compliance.results import Outcome
from fleetwarden.domain.discovery import Field


def check(facts: DeviceFacts) -> Outcome:
    seen: dict[int, tuple[str, str]] = {}
    for s in tls_services(facts):
        version = field(s, Field.TLS_LEGACY)
        if version is None and s.tls is not None and s.tls.version in LEGACY_PROTOCOLS:
            version = s.tls.version
        if version is not None:
            seen[s.port] = (s.service, clip(version, 16))

    def judge(scan: TlsScan) -> PortVerdict:
        legacy = [p for p in scan.accepted_protocols if p in LEGACY_PROTOCOLS]
        return PortVerdict(scan.port, scan.service, failed=bool(legacy),
                           detail={"legacy": legacy} if legacy else None)

    def from_discovery(port: int) -> PortVerdict | None:
        if port not in seen:
            return None
        service, version = seen[port]
        return PortVerdict(port, service, failed=True,
                           detail={"legacy": [version], "source": "discovery handshake"})

    return scan_check(
        facts, fix="allow only TLS 1.2 and 1.3 (update the firmware if it cannot)",
        what="Legacy SSL/TLS versions (below TLS 1.2) are accepted",
        ok="Every TLS service was scanned and accepts only TLS 1.2 or newer.",
        judge=judge, fallback=from_discovery)
