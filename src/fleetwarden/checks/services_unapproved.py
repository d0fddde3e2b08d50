"""The device offers services outside its model's approved service profile."""

from __future__ import annotations

from fleetwarden.checks._helpers import clip, head, not_probed, where
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, manual, passed


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    if facts.approved_services is None:
        return manual("The model has no approved service profile; define one for the model.")
    approved = {a.strip().lower() for a in facts.approved_services}
    extra = [s for s in facts.services if f"{s.transport.lower()}/{s.port}" not in approved]
    if extra:
        names = ", ".join(f"{s.transport}/{s.port} ({clip(s.service, 32)})" for s in extra[:6])
        more = f" and {len(extra) - 6} more" if len(extra) > 6 else ""
        return failed(f"Services outside the approved profile: {names}{more}; disable them or "
                      "update the model's profile.",
                      unapproved=head(where(s) for s in extra), count=len(extra),
                      approved=sorted(approved))
    return passed("Every open service is in the model's approved profile.",
                  services=head(f"{s.transport}/{s.port}" for s in facts.services),
                  approved=sorted(approved))
