"""A host answers on the network but matches no device in the register: nobody owns,
patches or retires it."""

from __future__ import annotations

from fleetwarden.checks._helpers import clip
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, manual, passed


def check(facts: DeviceFacts) -> Outcome:
    if facts.device_id is not None:
        return passed("The device is in the register.", device_id=facts.device_id)
    if not facts.probed and facts.services is None:
        return manual("Neither a registered device nor a probed host: nothing to tell "
                      "whether it is registered.", host_id=facts.host_id)
    ip = clip(facts.ip, 64) if facts.ip else "this host"
    return failed(f"{ip} answers on the network but matches no registered device: register "
                  "it (or remove it from the network).", ip=facts.ip, host_id=facts.host_id)
