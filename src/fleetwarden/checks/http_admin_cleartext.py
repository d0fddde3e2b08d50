"""An HTTP service without TLS shows a login: credentials and the admin session travel
in clear, readable and replayable by anyone on the path."""

from __future__ import annotations

import re

from fleetwarden.checks._helpers import (
    clip,
    field,
    head,
    http_answered,
    not_probed,
    plain_http,
    ports_text,
    where,
)
from fleetwarden.domain.compliance.facts import DeviceFacts
from fleetwarden.domain.compliance.results import (
    Outcome,
    failed,
    manual,
    not_applicable,
    passed,
)
from fleetwarden.domain.discovery import Field

#: Page titles that announce a login or an administration interface.
_LOGIN_TITLE = re.compile(
    r"\b(log ?in|log ?on|sign ?in|admin\w*|password|authenticat\w*|web ?config\w*|"
    r"management|configuration)\b", re.IGNORECASE)


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    found = plain_http(facts)
    if not found:
        return not_applicable("No HTTP service without TLS was seen on the probed ports.")
    bad, unknown = [], []
    for s in found:
        auth, title = field(s, Field.HTTP_AUTH), field(s, Field.HTTP_TITLE)
        if auth or (title and _LOGIN_TITLE.search(title)):
            item = where(s)
            if auth:
                item["auth"] = clip(auth, 32)
            if title:
                item["title"] = clip(title)
            bad.append(item)
        elif not http_answered(s):
            unknown.append(s)
    if bad:
        return failed(f"A login is served without TLS on port "
                      f"{ports_text(b['port'] for b in bad)}: enable HTTPS and disable plain "
                      "HTTP (or redirect it to HTTPS).", services=head(bad))
    if unknown:
        return manual(f"HTTP answers on port {ports_text(s.port for s in unknown)} but its "
                      "page was not read; open it by hand to see whether it asks for a login.",
                      services=head(where(s) for s in unknown))
    return passed("No HTTP service without TLS showed a login on its front page.",
                  services=head(where(s) for s in found))
