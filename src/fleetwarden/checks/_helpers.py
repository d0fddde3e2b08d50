"""What several checks share: reading services, TLS scans and certificates from the facts,
bounding device text, and the common "cannot tell" outcomes.

Must not: do I/O or decide a verdict on its own (each check decides from what it gets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from fleetwarden.domain.compliance.facts import DeviceFacts, TlsScan
from fleetwarden.domain.compliance.results import (
    Outcome,
    error,
    failed,
    manual,
    not_applicable,
    passed,
)
from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation

#: Longest device-supplied text kept in a reason or evidence value.
TEXT_MAX = 200
#: Most items listed in one evidence list (the count is always given in full).
LIST_MAX = 20

#: Service names that mean TLS even when discovery recorded no handshake (nmap guesses).
TLS_SERVICE_NAMES = frozenset({"https", "mqtts", "rtsps", "ftps", "tls", "ssl"})
#: Plain HTTP as discovery names it (UPnP descriptions are served over HTTP too).
HTTP_SERVICE_NAMES = frozenset({"http", "upnp"})
LEGACY_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")


def clip(text: object, limit: int = TEXT_MAX) -> str:
    """Untrusted text as one bounded line (control characters become spaces)."""
    line = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def head(items: Iterable[Any], limit: int = LIST_MAX) -> list[Any]:
    """The first ``limit`` items (evidence lists stay small whatever a device shows)."""
    return list(islice(items, limit))


def ports_text(ports: Iterable[object]) -> str:
    shown = [str(p) for p in head(ports, 8)]
    return ", ".join(shown) if shown else "none"


def where(service: ServiceObservation) -> dict[str, Any]:
    """A service as evidence: port, transport, name, and product/version when known."""
    out: dict[str, Any] = {"port": service.port, "transport": service.transport,
                           "service": clip(service.service, 64)}
    if service.product:
        out["product"] = clip(service.product, 128)
    if service.version:
        out["version"] = clip(service.version, 128)
    return out


def not_probed() -> Outcome:
    return manual("Not probed: the device's network services were not observed in this "
                  "assessment; assess it with probing, or check by hand.")


def services_named(facts: DeviceFacts, names: Iterable[str]) -> list[ServiceObservation]:
    wanted = frozenset(names)
    return [s for s in facts.services or () if s.service.lower() in wanted]


def is_tls(service: ServiceObservation) -> bool:
    return service.tls is not None or service.service.lower() in TLS_SERVICE_NAMES


def tls_services(facts: DeviceFacts) -> list[ServiceObservation]:
    return [s for s in facts.services or () if is_tls(s)]


def field(service: ServiceObservation, name: str) -> str | None:
    value = service.fields.get(name)
    return value.strip() if value and value.strip() else None


# --------------------------------------------------------------------- TLS scans
@dataclass(frozen=True, slots=True)
class PortVerdict:
    """One TLS port's part in a scan-based check."""

    port: int
    service: str
    failed: bool = False
    missing: str | None = None
    """Why this port cannot be decided (not scanned, scan failed ...); None when decided."""
    errored: bool = False
    """The scan of this port ran and failed (an ERROR, not a MANUAL)."""
    detail: dict[str, Any] | None = None
    """Evidence for a failure or a note on a pass."""
    applicable: bool = True


def tls_ports(facts: DeviceFacts) -> dict[int, str]:
    """Every TLS port the device has: discovery's TLS services plus whatever was scanned."""
    ports = {s.port: s.service for s in tls_services(facts) if s.transport == "tcp"}
    for scan in facts.tls_scans or ():
        ports.setdefault(scan.port, scan.service)
    return dict(sorted(ports.items()))


def usable_scan(scans: dict[int, TlsScan], port: int) -> tuple[TlsScan | None, str | None]:
    """The port's scan when it can be trusted, else why not."""
    scan = scans.get(port)
    if scan is None:
        return None, "not scanned"
    if scan.error is not None:
        return None, f"scan failed: {clip(scan.error)}"
    if not scan.accepted_protocols:
        return None, "the scan saw no protocol accepted"
    return scan, None


def scan_check(facts: DeviceFacts, *, what: str, fix: str, ok: str,
               judge: Callable[[TlsScan], PortVerdict],
               fallback: Callable[[int], PortVerdict | None] | None = None,
               na: str = "Not applicable to any TLS service seen.") -> Outcome:
    """Run ``judge`` on each TLS port's scan and fold the verdicts into one outcome.

    FAIL when any port fails; otherwise ERROR when a scan failed, MANUAL when a port was
    not scanned, PASS only when every TLS port was scanned and passed. ``fallback`` may
    turn an unscanned port into a FAIL from discovery's own evidence, never into a pass.
    """
    if facts.services is None:
        return not_probed()
    ports = tls_ports(facts)
    if not ports:
        return not_applicable("No TLS service was seen on the probed ports.")
    scans = {s.port: s for s in facts.tls_scans or ()}
    verdicts: list[PortVerdict] = []
    for port, service in ports.items():
        scan, why = usable_scan(scans, port)
        if scan is not None:
            verdicts.append(judge(scan))
            continue
        found = fallback(port) if fallback is not None else None
        raw = scans.get(port)
        verdicts.append(found or PortVerdict(
            port, service, missing=why,
            errored=raw is not None and raw.error is not None))
    tools = sorted({clip(s.tool, 64) for s in facts.tls_scans or () if s.tool})
    evidence: dict[str, Any] = {"tls_ports": head(ports), "tool": ", ".join(tools) or None}
    bad = [v for v in verdicts if v.failed]
    if bad:
        evidence["failing"] = head({"port": v.port, "service": clip(v.service, 64),
                                    **(v.detail or {})} for v in bad)
        return failed(f"{what} on port {ports_text(v.port for v in bad)}: {fix}.", **evidence)
    open_ = [v for v in verdicts if v.missing is not None]
    if open_:
        evidence["undecided"] = head({"port": v.port, "why": v.missing} for v in open_)
        reason = (f"Cannot tell on port {ports_text(v.port for v in open_)}: "
                  f"{open_[0].missing}; run a full TLS scan of every TLS service.")
        if any(v.errored for v in open_):
            return error(reason, **evidence)
        return manual(reason, **evidence)
    applicable = [v for v in verdicts if v.applicable]
    notes = [{"port": v.port, **v.detail} for v in verdicts if v.detail]
    if notes:
        evidence["notes"] = head(notes)
    if not applicable:
        return not_applicable(na, **evidence)
    return passed(ok, **evidence)


# ------------------------------------------------------------------ certificates
def certificate_evidence(service: ServiceObservation, cert: CertificateInfo
                         ) -> dict[str, Any]:
    return {"port": service.port, "service": clip(service.service, 64),
            "sha256": cert.sha256, "subject": clip(cert.subject),
            "not_after": clip(cert.not_after, 32)}


def certificate_check(
        facts: DeviceFacts, *, what: str, fix: str, ok: str,
        judge: Callable[[ServiceObservation, CertificateInfo], dict[str, Any] | None | str],
) -> Outcome:
    """Judge every TLS service's certificate: ``judge`` returns failure details (FAIL),
    None (fine) or a string (cannot tell, why). PASS only when every TLS service's
    certificate was read and judged fine."""
    if facts.services is None:
        return not_probed()
    services = tls_services(facts)
    if not services:
        return not_applicable("No TLS service was seen on the probed ports.")
    bad: list[dict[str, Any]] = []
    unknown: list[dict[str, Any]] = []
    good: list[dict[str, Any]] = []
    for service in services:
        cert = service.tls.certificate if service.tls is not None else None
        if cert is None:
            unknown.append({"port": service.port, "why": "certificate not read"})
            continue
        verdict = judge(service, cert)
        if isinstance(verdict, str):
            unknown.append({**certificate_evidence(service, cert), "why": verdict})
        elif verdict is not None:
            bad.append({**certificate_evidence(service, cert), **verdict})
        else:
            good.append(certificate_evidence(service, cert))
    if bad:
        first = bad[0]
        return failed(f"{what} on port {ports_text(b['port'] for b in bad)} (certificate "
                      f"{first['sha256'][:16]}…, {first['subject'] or 'no subject'}): {fix}.",
                      certificates=head(bad), undecided=head(unknown))
    if unknown:
        return manual(f"Cannot tell on port {ports_text(u['port'] for u in unknown)}: "
                      f"{unknown[0]['why']}; read the certificate by hand or re-probe.",
                      undecided=head(unknown), certificates=head(good))
    return passed(ok, certificates=head(good))


def parse_utc(text: str) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` (or any ISO 8601 with an offset) as an aware datetime."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utc_now(facts: DeviceFacts) -> datetime:
    """``facts.now`` as an aware datetime (a naive one is taken as UTC)."""
    now = facts.now
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


# ------------------------------------------------------------------------- HTTP
_HTTP_FIELDS = ("http.server", "http.title", "http.auth", "http.realm")


def plain_http(facts: DeviceFacts) -> list[ServiceObservation]:
    """HTTP services without TLS (by name, or by the HTTP fields discovery recorded)."""
    return [s for s in facts.services or () if not is_tls(s) and (
        s.service.lower() in HTTP_SERVICE_NAMES or any(f in s.fields for f in _HTTP_FIELDS))]


def http_answered(service: ServiceObservation) -> bool:
    """Whether discovery read a response from the service (else its page is unknown)."""
    return service.banner is not None or any(field(service, f) for f in _HTTP_FIELDS)
