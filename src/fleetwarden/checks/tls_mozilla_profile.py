"""The service misses Mozilla's intermediate server-side TLS profile (the baseline for
general-purpose servers) by protocol, cipher suites, key or certificate."""

from __future__ import annotations

from fleetwarden.checks._helpers import PortVerdict, clip, head, scan_check
from fleetwarden.domain.compliance.facts import DeviceFacts, TlsScan
from fleetwarden.domain.compliance.results import Outcome

GOOD_PROFILES = ("modern", "intermediate")


def check(facts: DeviceFacts) -> Outcome:
    def judge(scan: TlsScan) -> PortVerdict:
        profile = (scan.mozilla_profile or "").lower() or None
        if profile in GOOD_PROFILES:
            return PortVerdict(scan.port, scan.service)
        return PortVerdict(scan.port, scan.service, failed=True, detail={
            "profile": profile, "issues": [clip(i) for i in head(scan.mozilla_issues, 10)]})

    return scan_check(
        facts, fix="configure protocols and suites to Mozilla's intermediate profile",
        what="Mozilla's intermediate TLS profile is not met",
        ok="Every TLS service was scanned and meets Mozilla's intermediate profile or better.",
        judge=judge)
