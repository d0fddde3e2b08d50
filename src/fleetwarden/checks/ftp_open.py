"""FTP is open: logins and files cross the network in clear."""

from __future__ import annotations

from fleetwarden.checks._helpers import head, not_probed, ports_text, services_named, where
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import Outcome, failed, not_applicable

NAMES = ("ftp",)


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = [s for s in services_named(facts, NAMES) if s.tls is None]
    if not found:
        return not_applicable("No cleartext FTP service was seen on the probed ports.")
    return failed(f"FTP answers on port {ports_text(s.port for s in found)}: disable it, or "
                  "use SFTP/FTPS if file transfer is needed.",
                  services=head(where(s) for s in found))
