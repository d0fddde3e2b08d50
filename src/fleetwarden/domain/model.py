"""The register's entities as frozen values.

Services build these from stored rows and hand them to entrypoints; nothing here
knows how they are stored. ``id`` is None until the repository assigns one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from fleetwarden.domain.classification import Classification
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.vocab import Category, Criticality, DeviceType, RaciRole, Role, Zone


@dataclass(frozen=True, slots=True)
class TenantSettings:
    require_change_approval: bool = False
    """When true, transitions and edits of live devices need an approved change request."""
    checkpoint_interval: int = 100
    """Sign an audit checkpoint every this many events."""
    missing_after_hours: int = 168
    """A registered device no active scan has seen for this long is reported missing."""
    alert_webhook_url: str | None = None
    """Where discovery alerts are POSTed as JSON (``fleetwarden serve`` delivers them)."""
    alert_webhook_secret: str | None = None
    """Key of the ``X-Fleetwarden-Signature`` HMAC-SHA256 header; never shown or logged."""
    response_days_p1: int = 7
    """Days to remediate a P1 vulnerability finding (P2..P4 below), from first seen."""
    response_days_p2: int = 30
    response_days_p3: int = 60
    response_days_p4: int = 90
    credential_test_segments: tuple[str, ...] = ()
    """Segments where an assessment may try well-known default credentials (R10)."""
    update_max_age_days: int = 365
    """A device whose firmware has not changed for longer fails ``update-stale``."""
    cert_expiry_warning_days: int = 30
    """A certificate expiring within this many days fails ``cert-expiring``."""


@dataclass(frozen=True, slots=True)
class Tenant:
    id: int | None
    name: str
    settings: TenantSettings = field(default_factory=TenantSettings)


@dataclass(frozen=True, slots=True)
class User:
    id: int | None
    tenant_id: int
    email: str
    role: Role
    active: bool = True


@dataclass(frozen=True, slots=True)
class Site:
    id: int | None
    tenant_id: int
    name: str
    code: str | None = None
    address: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    id: int | None
    tenant_id: int
    name: str
    cidrs: tuple[str, ...] = ()
    vlan: int | None = None
    zone: Zone | None = None
    site_id: int | None = None


@dataclass(frozen=True, slots=True)
class Supplier:
    id: int | None
    tenant_id: int
    name: str
    contact_email: str | None = None
    disclosure_url: str | None = None
    """Where the supplier takes vulnerability reports (R15, R16)."""
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceModel:
    id: int | None
    tenant_id: int
    vendor: str
    model: str
    device_type: DeviceType
    category: Category | None = None
    supplier_id: int | None = None
    end_of_support: date | None = None
    cpe: str | None = None
    """Hardware CPE (``cpe:2.3:h:vendor:model:...``): the platform NVD configurations name."""
    approved_services: tuple[str, ...] | None = None
    """The services the model may offer, as ``tcp/443``, ``udp/161``; None: no profile."""


@dataclass(frozen=True, slots=True)
class Device:
    id: int | None
    tenant_id: int
    name: str
    device_type: DeviceType
    lifecycle_state: LifecycleState
    model_id: int | None = None
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    mac_addresses: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    imei: str | None = None
    iccid: str | None = None
    vin: str | None = None
    hostname: str | None = None
    cert_sha256: str | None = None
    firmware_version: str | None = None
    site_id: int | None = None
    site: str | None = None
    segment_id: int | None = None
    segment: str | None = None
    owner: str | None = None
    """The Information Asset Owner (an email or role address)."""
    criticality: Criticality = Criticality.MEDIUM
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tags: tuple[str, ...] = ()
    ever_in_service: bool = False
    firmware_updated_at: datetime | None = None
    """When ``firmware_version`` last changed in the register (None: unknown)."""
    """Set once the device has been live; such devices are never deleted, only disposed."""


@dataclass(frozen=True, slots=True)
class SoftwareComponent:
    id: int | None
    tenant_id: int
    name: str
    version: str | None = None
    purl: str | None = None
    cpe: str | None = None
    device_id: int | None = None
    model_id: int | None = None
    """Exactly one of device_id / model_id says what the component is installed on."""


@dataclass(frozen=True, slots=True)
class RaciEntry:
    """Who is Responsible, Accountable, Consulted and Informed for one task."""

    task: str
    responsible: tuple[str, ...]
    accountable: str
    consulted: tuple[str, ...] = ()
    informed: tuple[str, ...] = ()

    def parties(self, role: RaciRole) -> tuple[str, ...]:
        return {
            RaciRole.RESPONSIBLE: self.responsible,
            RaciRole.ACCOUNTABLE: (self.accountable,),
            RaciRole.CONSULTED: self.consulted,
            RaciRole.INFORMED: self.informed,
        }[role]


@dataclass(frozen=True, slots=True)
class DataFlow:
    source: str
    destination: str
    data: str
    protocol: str | None = None


@dataclass(frozen=True, slots=True)
class IoTSystem:
    id: int | None
    tenant_id: int
    name: str
    description: str | None = None
    scope: str | None = None
    data_flows: tuple[DataFlow, ...] = ()
    raci: tuple[RaciEntry, ...] = ()
    device_ids: tuple[int, ...] = ()
    impact_confidentiality: str | None = None
    """Business impact assessment per axis: low, medium or high (None: not assessed)."""
    impact_integrity: str | None = None
    impact_availability: str | None = None


@dataclass(frozen=True, slots=True)
class DataItem:
    id: int | None
    tenant_id: int
    name: str
    classification: Classification
    description: str | None = None
    system_id: int | None = None
    protected_by: tuple[str, ...] = ()
    """Design features that protect the item (R7: document them with the item)."""
    aggregate_of: tuple[int, ...] = ()
    """Ids of the items this collection aggregates; it may be classified higher."""


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    id: int | None
    tenant_id: int
    device_id: int
    requester: str
    reason: str
    reference: str | None = None
    status: str = "pending"
    """pending | approved | rejected | used"""
    approver: str | None = None
