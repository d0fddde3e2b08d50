"""The device's firmware has not changed for longer than the tenant allows."""

from __future__ import annotations

from fleetwarden.checks._helpers import utc_now
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, manual, passed


def check(facts: DeviceFacts) -> Outcome:
    updated, limit = facts.firmware_updated, facts.update_max_age_days
    if updated is None:
        return manual("When the firmware was last updated is not recorded; record the "
                      "device's firmware history.", max_age_days=limit)
    today = utc_now(facts).date()
    age = (today - updated).days
    evidence = {"firmware_updated": updated.isoformat(), "age_days": age,
                "max_age_days": limit, "firmware_version": facts.firmware_version}
    if age < 0:
        return manual("The recorded firmware update date is in the future; correct it.",
                      **evidence)
    if age > limit:
        return failed(f"The firmware was last updated {age} days ago (limit {limit}): check "
                      "for a newer release and update the device.", **evidence)
    return passed(f"The firmware was updated {age} days ago (limit {limit}).", **evidence)
