"""HTTP Basic authentication without TLS: the password crosses the network merely
base64-encoded, on every request. RTSP Basic counts too when discovery recorded it."""

from __future__ import annotations

from fleetwarden.checks._helpers import (
    field,
    head,
    http_answered,
    is_tls,
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

#: Not in discovery's vocabulary yet (RTSP records only the realm); read when present.
RTSP_AUTH = "rtsp.auth"


def check(facts: DeviceFacts) -> Outcome:
    if facts.services is None:
        return not_probed()
    http = plain_http(facts)
    rtsp = [s for s in facts.services
            if s.service.lower() == "rtsp" and not is_tls(s) and field(s, RTSP_AUTH)]
    if not http and not rtsp:
        return not_applicable("No HTTP service without TLS was seen on the probed ports.")
    bad = [{**where(s), "auth": "basic"} for s in http
           if (field(s, Field.HTTP_AUTH) or "").lower() == "basic"]
    bad += [{**where(s), "auth": "basic"} for s in rtsp
            if (field(s, RTSP_AUTH) or "").lower() == "basic"]
    if bad:
        return failed(f"Basic authentication without TLS on port "
                      f"{ports_text(b['port'] for b in bad)}: enable TLS, or at least Digest "
                      "authentication, and disable the cleartext listener.", services=head(bad))
    unknown = [s for s in http if not http_answered(s)]
    if unknown:
        return manual(f"HTTP answers on port {ports_text(s.port for s in unknown)} but its "
                      "authentication was not read; check it by hand.",
                      services=head(where(s) for s in unknown))
    return passed("No service without TLS asked for Basic authentication.",
                  services=head(where(s) for s in [*http, *rtsp]))
