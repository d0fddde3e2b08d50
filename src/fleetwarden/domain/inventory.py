"""What discovery keeps between runs: hosts, scans, schedules and alerts, as values.

Also the one mapping from observations and fingerprints to the plain dictionaries of the
``discover --format json`` contract, which is also how services and fingerprints are
stored, so the API, the CLI and the database never disagree on a spelling.

Must not: do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from fleetwarden.domain.discovery import CertificateInfo, ServiceObservation, TlsInfo
from fleetwarden.domain.fingerprint import Attribute, Evidence, Fingerprint
from fleetwarden.domain.reconcile import HostStatus


class AlertKind(StrEnum):
    NEW = "device.new"
    CHANGED = "device.changed"
    MISSING = "device.missing"
    ROGUE_SEEN = "device.rogue_seen"
    VULN_NEW = "vuln.new"
    """A new or changed vulnerability record now affects devices."""
    VULN_KEV = "vuln.kev"
    """A vulnerability already found on devices entered CISA KEV."""


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"


SEVERITY: Mapping[AlertKind, Severity] = {
    AlertKind.NEW: Severity.WARNING,
    AlertKind.CHANGED: Severity.INFO,
    AlertKind.MISSING: Severity.WARNING,
    AlertKind.ROGUE_SEEN: Severity.HIGH,
    AlertKind.VULN_NEW: Severity.WARNING,
    AlertKind.VULN_KEV: Severity.HIGH,
}


@dataclass(frozen=True, slots=True)
class DiscoveredHost:
    id: int | None
    tenant_id: int
    status: HostStatus
    device_id: int | None = None
    ip: str | None = None
    mac: str | None = None
    hostname: str | None = None
    serial: str | None = None
    ssh_host_key: str | None = None
    certificates: tuple[str, ...] = ()
    vendor: str | None = None
    model: str | None = None
    device_type: str | None = None
    firmware_version: str | None = None
    os: str | None = None
    confidence: float = 0.0
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    """The contract's ``fingerprint`` object of the latest sighting (with evidence)."""
    services: tuple[Mapping[str, Any], ...] = ()
    """The contract's ``services`` objects of the latest sighting."""
    overrides: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    segment_id: int | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    missing_since: datetime | None = None
    last_scan_id: int | None = None
    note: str | None = None
    """Why it was marked rogue, approved or merged (free text from the user)."""


@dataclass(frozen=True, slots=True)
class ScanRecord:
    id: int | None
    tenant_id: int
    sources: tuple[str, ...]
    """active, pcap, nmap_xml, dhcp_leases, arp_table."""
    actor: str
    status: str
    """running, done or failed."""
    targets: tuple[str, ...]
    """Ranges scanned, or the files read."""
    options: Mapping[str, Any]
    started_at: datetime
    outside_scope: bool = False
    registered: bool = True
    """False for ``--no-register``: the register was compared with, not changed."""
    segment_id: int | None = None
    schedule_id: int | None = None
    finished_at: datetime | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int | None
    tenant_id: int
    segment_id: int
    every_seconds: int
    options: Mapping[str, Any]
    next_run_at: datetime
    created_by: str
    created_at: datetime
    enabled: bool = True
    last_run_at: datetime | None = None
    last_scan_id: int | None = None
    last_error: str | None = None
    segment: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    id: int | None
    tenant_id: int
    kind: AlertKind
    severity: Severity
    title: str
    details: Mapping[str, Any]
    created_at: datetime
    device_id: int | None = None
    host_id: int | None = None
    scan_id: int | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    delivered_at: datetime | None = None
    delivery_attempts: int = 0
    delivery_error: str | None = None


# ------------------------------------------------------------------ contract views
def service_view(s: ServiceObservation) -> dict[str, Any]:
    tls = None
    if s.tls is not None:
        cert = s.tls.certificate
        tls = {"version": s.tls.version, "cipher": s.tls.cipher, "certificate": None if cert
               is None else {"subject": cert.subject, "issuer": cert.issuer,
                             "not_before": cert.not_before, "not_after": cert.not_after,
                             "sha256": cert.sha256, "self_signed": cert.self_signed,
                             "sans": list(cert.sans), "key_type": cert.key_type,
                             "key_bits": cert.key_bits,
                             "public_key_sha256": cert.public_key_sha256,
                             "signature_algorithm": cert.signature_algorithm}}
    return {"port": s.port, "transport": s.transport, "service": s.service,
            "product": s.product, "version": s.version, "banner": s.banner, "tls": tls,
            "fields": dict(s.fields)}


def service_from_view(view: Mapping[str, Any]) -> ServiceObservation:
    """A stored ``service_view`` back as a value (compliance checks read these)."""
    tls = view.get("tls")
    tls_info = None
    if isinstance(tls, Mapping):
        c = tls.get("certificate")
        cert = None if not isinstance(c, Mapping) else CertificateInfo(
            subject=str(c.get("subject") or ""), issuer=str(c.get("issuer") or ""),
            not_before=c.get("not_before"), not_after=str(c.get("not_after") or ""),
            sha256=str(c.get("sha256") or ""), self_signed=bool(c.get("self_signed")),
            sans=tuple(c.get("sans") or ()), public_key_sha256=c.get("public_key_sha256"),
            key_type=c.get("key_type"), key_bits=c.get("key_bits"),
            signature_algorithm=c.get("signature_algorithm"))
        tls_info = TlsInfo(version=tls.get("version"), cipher=tls.get("cipher"),
                           certificate=cert)
    return ServiceObservation(
        port=int(view["port"]), transport=str(view.get("transport") or "tcp"),
        service=str(view.get("service") or "unknown"), product=view.get("product"),
        version=view.get("version"), banner=view.get("banner"),
        fields={str(k): str(v) for k, v in (view.get("fields") or {}).items()}, tls=tls_info)


def fingerprint_view(fp: Fingerprint) -> dict[str, Any]:
    return {
        "vendor": fp.vendor, "model": fp.model, "device_type": fp.device_type,
        "firmware_version": fp.firmware_version, "os": fp.os, "cpe": fp.cpe,
        "serial": fp.serial, "software": list(fp.software), "confidence": fp.confidence,
        "evidence": [{"attribute": e.attribute.value, "value": e.value, "source": e.source,
                      "rule": e.rule, "certainty": round(e.certainty, 4),
                      "matched": e.matched} for e in fp.evidence],
    }


OVERRIDABLE: tuple[str, ...] = tuple(a.value for a in Attribute)


def fingerprint_from_view(view: Mapping[str, Any]) -> Fingerprint:
    """A stored ``fingerprint_view`` back as a value (for re-deciding with overrides)."""
    evidence = tuple(
        Evidence(Attribute(e["attribute"]), str(e["value"]), str(e["source"]), str(e["rule"]),
                 float(e["certainty"]), str(e.get("matched", "")))
        for e in view.get("evidence", ()) if e.get("attribute") in OVERRIDABLE)
    return Fingerprint(evidence=evidence)
