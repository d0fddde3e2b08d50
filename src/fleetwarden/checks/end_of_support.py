"""The supplier no longer supports the device (no more security updates)."""

from __future__ import annotations

from fleetwarden.checks._helpers import utc_now
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, manual, passed

#: How far ahead an approaching end of support is noted in a PASS.
NOTICE_DAYS = 180


def check(facts: DeviceFacts) -> Outcome:
    end = facts.end_of_support
    if end is None:
        return manual("Supplier end-of-support date not recorded; record it for the model.")
    today = utc_now(facts).date()
    left = (end - today).days
    evidence: dict[str, object] = {"end_of_support": end.isoformat(), "days_left": left}
    if end < today:
        return failed(f"Supplier support ended on {end.isoformat()}: plan the device's "
                      "replacement and isolate it until then.", **evidence)
    if left <= NOTICE_DAYS:
        evidence["note"] = f"support ends within {NOTICE_DAYS} days"
        return passed(f"Supported until {end.isoformat()}, only {left} days from now: plan "
                      "the replacement.", **evidence)
    return passed(f"Supported until {end.isoformat()}.", **evidence)
