"""Everything an automated check may read about one device, gathered before checks run.

Facts come from three places: the network (discovery's service observations plus the
deeper TLS and credential probes of an assessment), the register (model, firmware, the
model's approved service profile, support dates) and the vulnerability findings. A field
that is ``None`` was not collected; checks treat that as "cannot tell", never as clean.

Must not: hold a password. Credential probes record the account and catalogue entry id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from fleetwarden.domain.discovery import ServiceObservation


@dataclass(frozen=True, slots=True)
class TlsScan:
    """What a full TLS scan (sslyze) of one service found."""

    port: int
    service: str
    """Discovery's service name on that port (https, mqtts, rtsps ...)."""
    accepted_protocols: tuple[str, ...] = ()
    """Protocols the server accepted, from SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3."""
    weak_ciphers: tuple[str, ...] = ()
    """Accepted suites (IANA names) that are weak whatever the protocol: NULL, anon,
    EXPORT, RC4, DES/3DES, MD5, IDEA, static RSA key exchange. Sound suites Mozilla's
    intermediate profile leaves out (ECDHE with CBC) are tls-mozilla-profile's finding."""
    fallback_scsv: bool | None = None
    """True when the server refuses a downgraded handshake (RFC 7507); None: not tested."""
    mozilla_profile: str | None = None
    """The strictest Mozilla profile met: modern, intermediate, old; None when none is."""
    mozilla_issues: tuple[str, ...] = ()
    """Why the service misses the intermediate profile, in sslyze's words, bounded."""
    tool: str = ""
    """Tool and version, e.g. ``sslyze 6.3.1``: kept with the evidence."""
    error: str | None = None
    """Why the scan could not finish; the other fields are then not to be trusted."""


@dataclass(frozen=True, slots=True)
class CredentialAttempt:
    """One default-credential entry tried against one login service."""

    port: int
    service: str
    """telnet, ftp, ssh, http, rtsp, mqtt."""
    username: str
    entry: str
    """Id of the catalogue entry tried (the password itself is never kept)."""
    accepted: bool


@dataclass(frozen=True, slots=True)
class CredentialTest:
    """Result of trying well-known defaults on a device's login services."""

    authorised: bool
    """Whether the tenant authorised credential testing on the device's segment."""
    attempts: tuple[CredentialAttempt, ...] = ()
    services_tested: tuple[int, ...] = ()
    """Ports whose login was tried to the end (every applicable entry, or a success)."""
    skipped: Mapping[int, str] = field(default_factory=dict)
    """Port -> why it was not tested (no login seen, attempt budget spent, error ...)."""


@dataclass(frozen=True, slots=True)
class VulnSummary:
    """The device's vulnerability findings that compliance cares about."""

    has_sbom: bool
    """Whether the device's firmware image (or the device) has a software inventory."""
    kev: tuple[str, ...] = ()
    """Open findings listed in CISA KEV (vulnerability ids, bounded)."""
    overdue_p1_p2: tuple[str, ...] = ()
    """Open P1/P2 findings past their due date (vulnerability ids, bounded)."""


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """The input of every check; one per device (or unregistered host) assessed."""

    now: datetime
    ip: str | None = None
    device_id: int | None = None
    """``None``: the host answered but matches no device in the register."""
    host_id: int | None = None
    device_name: str | None = None
    device_type: str | None = None
    vendor: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    lifecycle_state: str | None = None
    segment: str | None = None
    probed: bool = False
    """Whether the network was looked at in this assessment (services below are real)."""
    services: tuple[ServiceObservation, ...] | None = None
    """Open services; ``None`` when the device was not probed (or did not answer)."""
    tls_scans: tuple[TlsScan, ...] | None = None
    credentials: CredentialTest | None = None
    certificate_peers: Mapping[str, int] = field(default_factory=dict)
    """Certificate SHA-256 -> how many *other* devices present the same certificate."""
    public_key_peers: Mapping[str, int] = field(default_factory=dict)
    """Public-key SHA-256 -> how many *other* devices present a certificate with that key."""
    approved_services: tuple[str, ...] | None = None
    """The model's approved profile as ``tcp/443``, ``udp/161``; None when it has none."""
    vulns: VulnSummary | None = None
    firmware_updated: date | None = None
    """When the device last got a new firmware version in the register (or was first
    registered with one); None when unknown."""
    end_of_support: date | None = None
    update_max_age_days: int = 365
    """The tenant's limit on firmware age (``settings assess --update-max-age``)."""
    cert_expiry_warning_days: int = 30
