"""Request and response schemas of the HTTP API (pydantic), for validation and OpenAPI.

These are the API's contract, not domain objects: request bodies are checked for
shape and JSON types here (``"name": 5`` or ``"mac_addresses": "zz"`` is a 422, an
unknown field is a 422), then handed to the services as plain mappings, where the
domain parsers apply the real rules (identifier formats, vocabularies, references).
Response models mirror ``entrypoints.presenters``.

What it must not do: hold business rules (valid MACs, lifecycle moves, ...).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    create_model,
)

from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.vocab import Category, Criticality, DeviceType, Zone

Text = StrictStr
TextList = list[StrictStr]
MAX_ID = 2**62
"""Ids beyond this are refused as input (422) instead of overflowing a database integer."""
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused, a typo must not lose data."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


def partial(
    model: type[BaseModel], name: str, doc: str, not_null: frozenset[str] = frozenset()
) -> type[BaseModel]:
    """The same fields, all optional: a PATCH body (absent fields keep stored values).

    Fields in ``not_null`` may be left out but not set to null (a device needs a name).
    """
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if field_name not in not_null:
            annotation = annotation | None
        if info.metadata:  # keep constraints such as max_length
            annotation = Annotated[(annotation, *info.metadata)]
        fields[field_name] = (annotation, Field(default=None, description=info.description))
    patch: type[BaseModel] = create_model(name, __base__=Input, __doc__=doc, **fields)
    return patch


# --------------------------------------------------------------------------- errors
class ErrorDetail(Output):
    code: str = Field(description="Stable, machine-readable error code.")
    message: str = Field(description="One line for humans; never a traceback.")


class ErrorBody(Output):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, invalid, expired or revoked token"},
    403: {"model": ErrorBody, "description": "The role does not allow this"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    422: {"model": ErrorBody, "description": "Invalid input (the message names the field)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such object in your tenant"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Conflicts with stored state"}}


# -------------------------------------------------------------------------- devices
class DeviceFields(Input):
    """Device fields as ``devices list`` prints them (the import format)."""

    name: Text = Field(max_length=256)
    device_type: DeviceType | None = Field(
        default=None, description="Required unless vendor and model name a known model.")
    vendor: Text | None = None
    model: Text | None = Field(
        default=None, description="With vendor: the device model (created if new).")
    serial: Text | None = None
    mac_addresses: TextList | None = Field(default=None, examples=[["00:1a:2b:3c:4d:5e"]])
    ip_addresses: TextList | None = None
    imei: Text | None = None
    iccid: Text | None = None
    vin: Text | None = None
    hostname: Text | None = None
    cert_sha256: Text | None = Field(default=None,
                                     description="SHA-256 fingerprint of its certificate.")
    firmware_version: Text | None = None
    site: Text | None = Field(default=None, description="Site name (must exist).")
    segment: Text | None = Field(default=None, description="Network segment name.")
    owner: Text | None = Field(default=None, description="Information Asset Owner.")
    criticality: Criticality | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tags: TextList | None = None


class DeviceCreate(DeviceFields):
    """A new device. ``lifecycle_state`` defaults to ``planned``."""

    lifecycle_state: LifecycleState | None = None


DevicePatch = partial(
    DeviceFields, "DevicePatch",
    "Fields to change; absent fields keep their values, null clears one. The lifecycle "
    "state changes only through /transition.",
    not_null=frozenset({"name"}),
)


class DeviceRow(Output):
    id: int
    name: str
    tenant: str
    device_type: str
    vendor: str | None
    model: str | None
    serial: str | None
    mac_addresses: list[str]
    ip_addresses: list[str]
    imei: str | None
    iccid: str | None
    vin: str | None
    hostname: str | None
    cert_sha256: str | None
    firmware_version: str | None
    site: str | None
    segment: str | None
    lifecycle_state: str
    owner: str | None
    criticality: str
    first_seen: str | None
    last_seen: str | None
    tags: list[str]


class DeviceDetail(DeviceRow):
    model_id: int | None
    site_id: int | None
    segment_id: int | None
    ever_in_service: bool


class DevicePage(Output):
    items: list[DeviceRow]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page.")
    total: int | None = Field(description="Matching devices, with include_total=true.")


class DeviceList(Output):
    items: list[DeviceRow]


class TransitionIn(Input):
    state: LifecycleState = Field(description="Target lifecycle state.")
    reason: Text = Field(min_length=1, max_length=2000)
    change_request: Id | None = Field(
        default=None, description="Approved change request, when the tenant requires one.")


class ImportRowError(Output):
    row: int = Field(description="Data row number, from 1.")
    message: str


class ImportReport(Output):
    rows: int
    created: int
    models_created: int
    errors: list[ImportRowError] = Field(description="Up to 100 bad rows.")
    error_count: int
    dry_run: bool
    committed: bool = Field(description="True when the devices were stored.")


# --------------------------------------------------------------------------- audit
class EventOut(Output):
    seq: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    prev_hash: str
    hash: str


class EventList(Output):
    items: list[EventOut]


class EventPage(Output):
    items: list[EventOut]
    next_after_seq: int | None = Field(
        description="Pass as `after_seq` for the next page; null on the last page.")


class BrokenLinkOut(Output):
    seq: int
    reason: str


class VerifyOut(Output):
    ok: bool
    events_checked: int
    checkpoints_checked: int
    last_seq: int
    last_hash: str
    first_break: BrokenLinkOut | None


# ------------------------------------------------------------------------- changes
class ChangeIn(Input):
    device_id: Id
    reason: Text = Field(min_length=1, max_length=2000)
    reference: Text | None = Field(default=None, max_length=256,
                                   description="e.g. a ticket number")


class DecisionIn(Input):
    reason: Text = Field(min_length=1, max_length=2000)


class ChangeOut(Output):
    id: int
    device_id: int
    requester: str
    approver: str | None
    reason: str
    reference: str | None
    status: str = Field(description="pending, approved, rejected or used")


class ChangeList(Output):
    items: list[ChangeOut]


# ----------------------------------------------------------------------- accounts
class MeOut(Output):
    email: str
    role: str
    tenant: str
    user_id: int | None


# ------------------------------------------------------------------------ records
class SiteIn(Input):
    name: Text
    code: Text | None = None
    address: Text | None = None
    kind: Text | None = Field(default=None, description="e.g. station, depot, HQ")


class SiteOut(Output):
    id: int
    name: str
    code: str | None
    address: str | None
    kind: str | None


class SegmentIn(Input):
    name: Text
    cidrs: TextList | None = None
    vlan: Annotated[StrictInt, Field(ge=-(2**31), le=2**31)] | None = None
    zone: Zone | None = None
    site_id: Id | None = None
    site: Text | None = Field(default=None, description="Site name (instead of site_id).")


class SegmentOut(Output):
    id: int
    name: str
    cidrs: list[str]
    vlan: int | None
    zone: str | None
    site_id: int | None


class SupplierIn(Input):
    name: Text
    contact_email: Text | None = None
    disclosure_url: Text | None = Field(
        default=None, description="Where the supplier takes vulnerability reports.")
    notes: Text | None = None


class SupplierOut(Output):
    id: int
    name: str
    contact_email: str | None
    disclosure_url: str | None
    notes: str | None


class ModelIn(Input):
    vendor: Text
    model: Text
    device_type: DeviceType
    category: Category | None = None
    supplier_id: Id | None = None
    supplier: Text | None = Field(default=None, description="Supplier name.")
    end_of_support: date | None = None
    cpe: Text | None = Field(default=None, description="Hardware CPE 2.3 (cpe:2.3:h:...).")


class ModelOut(Output):
    id: int
    vendor: str
    model: str
    device_type: str
    category: str | None
    supplier_id: int | None
    end_of_support: str | None
    cpe: str | None


class DataFlowIO(Input):
    source: Text
    destination: Text
    data: Text
    protocol: Text | None = None


class RaciIO(Input):
    task: Text
    responsible: TextList = Field(min_length=1)
    accountable: Text
    consulted: TextList = []
    informed: TextList = []


class SystemIn(Input):
    name: Text
    description: Text | None = None
    scope: Text | None = None
    data_flows: list[DataFlowIO] | None = None
    raci: list[RaciIO] | None = Field(default=None, description="The RACI matrix.")
    device_ids: list[Id] | None = None


class SystemOut(Output):
    id: int
    name: str
    description: str | None
    scope: str | None
    data_flows: list[DataFlowIO]
    raci: list[RaciIO]
    device_ids: list[int]


class DataItemIn(Input):
    name: Text
    classification: Text = Field(
        description="OFFICIAL, OFFICIAL-SENSITIVE, SECRET or TOP SECRET")
    description: Text | None = None
    system_id: Id | None = None
    system: Text | None = Field(default=None, description="IoT system name.")
    protected_by: TextList | None = None
    aggregate_of: list[Id | StrictStr] | None = Field(
        default=None, description="Ids or names of the items this one aggregates.")


class DataItemOut(Output):
    id: int
    name: str
    classification: str
    description: str | None
    system_id: int | None
    protected_by: list[str]
    aggregate_of: list[int]


class ComponentIn(Input):
    name: Text
    version: Text | None = None
    purl: Text | None = Field(default=None,
                              description="Package URL, e.g. pkg:generic/busybox@1.31.1")
    cpe: Text | None = Field(default=None, description="CPE 2.3 name")
    device_id: Id | None = Field(default=None, description="The device it is installed on.")
    model_id: Id | None = Field(default=None, description="Or the model it ships with.")
    model: Text | None = Field(default=None,
                               description="The model as vendor/model (instead of model_id).")


class ComponentOut(Output):
    id: int
    name: str
    version: str | None
    purl: str | None
    cpe: str | None
    device_id: int | None
    model_id: int | None


# ----------------------------------------------------------------------- discovery
class Contract(BaseModel):
    """A piece of the ``discover --format json`` contract: documented fields, and any
    field a newer scanner adds passes through rather than being dropped."""

    model_config = ConfigDict(extra="allow")


Target = Annotated[StrictStr, Field(min_length=1, max_length=64)]
PORT_LIST = (r"^(?i:iot-top|(?:[tu]:)?\d{1,5}(?:-\d{1,5})?"
             r"(?:\s*,\s*(?:[tu]:)?\d{1,5}(?:-\d{1,5})?)*)$")
"""The shape of a port list (the scanner checks the numbers)."""
MAX_SCAN_RATE = 1_000_000


class ScanOptionsIn(Input):
    ports: Text = Field(default="iot-top", max_length=4096, pattern=PORT_LIST,
                        description="`iot-top`, or a list such as `22,80,8000-8100,U:161` "
                        "(`U:` items are UDP).")
    udp: StrictBool = Field(default=False, description="Also send the UDP probes (SNMP, "
                            "SSDP, mDNS, CoAP).")
    profile: Literal["gentle", "normal", "fast"] = Field(
        default="normal", description="`gentle` is safe for fragile OT kit: low rate, one "
        "connection per host at a time.")
    rate: Annotated[StrictInt, Field(ge=1, le=MAX_SCAN_RATE)] | None = Field(
        default=None, description="Connection attempts per second (default: the profile's).")


class ScanIn(ScanOptionsIn):
    """What to discover: addresses, CIDRs or ranges, and/or a segment's CIDRs."""

    targets: list[Target] = Field(default_factory=list, max_length=256,
                                  examples=[["127.76.0.10", "127.76.1.0/28"]])
    segment: Text | None = Field(
        default=None, max_length=128,
        description="Scan this segment's CIDRs (when no targets) and file new hosts under it.")
    register_hosts: StrictBool = Field(
        default=True, alias="register",
        description="false: report what would change, store nothing but the scan record.")
    allow_outside_scope: StrictBool = Field(
        default=False, description="Admins only: scan targets outside the tenant's segments "
        "(audited).")


class ScanAccepted(Output):
    scan_id: int
    status: str = Field(description="`running`; follow the Location header.")


class ScanOut(Output):
    id: int
    status: str = Field(description="running, done or failed")
    sources: list[str]
    actor: str
    targets: list[str]
    options: dict[str, Any]
    outside_scope: bool
    registered: bool
    segment_id: int | None
    schedule_id: int | None
    started_at: str | None
    finished_at: str | None
    summary: dict[str, Any] = Field(description="Counts per outcome, alerts, hosts, warnings.")
    error: str | None


class ScanList(Output):
    items: list[ScanOut]


class EvidenceOut(Contract):
    attribute: str
    value: str | None = None
    source: str | None = None
    rule: str | None = None
    certainty: float | None = None
    matched: str | None = Field(default=None, description="Untrusted text seen on the wire.")


class FingerprintOut(Contract):
    vendor: str | None = None
    model: str | None = None
    device_type: str | None = None
    firmware_version: str | None = None
    os: str | None = None
    cpe: str | None = None
    serial: str | None = None
    software: list[str] = []
    confidence: float = 0.0
    evidence: list[EvidenceOut] = Field(default_factory=list,
                                        description="Why each attribute was concluded.")


class ServiceOut(Contract):
    port: int
    transport: str
    service: str | None = None
    product: str | None = None
    version: str | None = None
    banner: str | None = Field(default=None, description="Untrusted text from the device.")
    tls: dict[str, Any] | None = Field(
        default=None, description="`version`, `cipher` and `certificate` {`subject`, "
        "`issuer`, `not_after`, `sha256`, `self_signed`, ...}.")
    fields: dict[str, Any] = {}


class FieldChangeOut(Contract):
    field: str
    before: str | None = None
    after: str | None = None


class InventoryOut(Contract):
    device_id: int | None = None
    host_id: int | None = None
    status: str = Field(description="known, changed, new or missing")
    host_status: str | None = Field(default=None,
                                    description="unregistered, registered or rogue")
    matched_by: str | None = None
    changes: list[FieldChangeOut] = []


class HostReportOut(Contract):
    """One host of a discovery run, as ``discover --format json`` prints it."""

    ip: str | None = None
    mac: str | None = None
    hostname: str | None = None
    services: list[ServiceOut] = []
    fingerprint: FingerprintOut
    inventory: InventoryOut
    sources: list[str] = []


class ScanReportOut(Output):
    scan: ScanOut
    hosts: list[HostReportOut]
    warnings: list[str]
    counts: dict[str, int]


class ScanDetail(ScanOut):
    hosts: list[HostReportOut] | None = Field(
        description="The run's hosts while this API process still holds its report "
        "(recent scans it ran); null otherwise: see /discovery/hosts.")
    warnings: list[str] | None
    counts: dict[str, int] | None


class HostRowOut(Output):
    id: int
    status: str = Field(description="unregistered, registered or rogue")
    device_id: int | None
    ip: str | None
    mac: str | None
    hostname: str | None
    vendor: str | None
    model: str | None
    device_type: str | None
    firmware_version: str | None
    confidence: float
    services: str = Field(description="`port/service, ...`")
    first_seen: str | None
    last_seen: str | None


class HostPage(Output):
    items: list[HostRowOut]
    next_offset: int | None = Field(
        description="Pass as `offset` for the next page; null on the last page.")


class HostOut(Output):
    id: int
    status: str = Field(description="unregistered, registered or rogue")
    device_id: int | None
    ip: str | None
    mac: str | None
    hostname: str | None
    serial: str | None
    ssh_host_key: str | None
    certificates: list[str] = Field(description="SHA-256 of the certificates it presented.")
    services: list[ServiceOut]
    fingerprint: FingerprintOut
    overrides: dict[str, str] = Field(description="Attributes set by hand; they win.")
    sources: list[str]
    segment_id: int | None
    first_seen: str | None
    last_seen: str | None
    missing_since: str | None
    last_scan_id: int | None
    note: str | None


AttributeName = Annotated[StrictStr, Field(min_length=1, max_length=32)]


class OverridesIn(Input):
    set: dict[AttributeName, Annotated[StrictStr, Field(min_length=1, max_length=128)]] = Field(
        default_factory=dict, max_length=16,
        description="Attribute -> value: vendor, model, device_type, firmware_version, os, "
        "cpe, serial or software.", examples=[{"vendor": "Axis", "model": "P3245"}])
    clear: list[AttributeName] = Field(default_factory=list, max_length=16,
                                       description="Attributes whose override is removed.")


class ApproveIn(Input):
    """Fill or correct what discovery saw; absent fields come from the fingerprint."""

    name: Text | None = Field(default=None, max_length=256)
    model: Text | None = Field(default=None, max_length=256,
                               description="`VENDOR/MODEL` (created if new).",
                               examples=["Axis/P3245"])
    device_type: DeviceType | None = None
    site: Text | None = Field(default=None, max_length=256, description="Site name.")
    segment: Text | None = Field(default=None, max_length=256, description="Segment name.")
    lifecycle_state: LifecycleState | None = Field(default=None,
                                                   description="Default: in_service.")
    owner: Text | None = Field(default=None, max_length=256)
    criticality: Criticality | None = None
    note: Text | None = Field(default=None, max_length=1000)


class MergeIn(Input):
    device_id: Id = Field(description="The registered device this host is.")
    note: Text | None = Field(default=None, max_length=1000)


class RogueIn(Input):
    reason: Text = Field(min_length=1, max_length=1000)


class ScheduleIn(ScanOptionsIn):
    segment: Text = Field(min_length=1, max_length=128, description="One schedule per segment.")
    every: Text = Field(min_length=1, max_length=32, examples=["1h"],
                        description="`90s`, `30m`, `1h`, `2d` (1 minute to 366 days).")


class ScheduleOut(Output):
    id: int
    segment: str | None
    segment_id: int
    every_seconds: int
    options: dict[str, Any]
    enabled: bool
    next_run_at: str | None
    last_run_at: str | None
    last_scan_id: int | None
    last_error: str | None
    created_by: str
    created_at: str | None


class ScheduleList(Output):
    items: list[ScheduleOut]


# -------------------------------------------------------------------------- alerts
class AlertOut(Output):
    id: int
    kind: str = Field(description="device.new, device.changed, device.missing or "
                      "device.rogue_seen")
    severity: str
    title: str = Field(description="May quote device-supplied text.")
    details: dict[str, Any]
    device_id: int | None
    host_id: int | None
    scan_id: int | None
    created_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    delivered_at: str | None = Field(description="When the webhook took it.")


class AlertPage(Output):
    items: list[AlertOut]
    next_before_id: int | None = Field(
        description="Pass as `before_id` for the next (older) page; null on the last page.")


# ------------------------------------------------------------------ vulnerabilities
class FindingComponentOut(Output):
    name: str | None
    version: str | None
    purl: str | None
    cpe: str | None


class CvssOut(Output):
    version: str | None
    score: float | None
    vector: str | None


class MatchBasisOut(Output):
    basis: str | None = Field(description="How the component was matched (cpe, purl, ...).")
    reasons: list[str]


class TriageOut(Output):
    justification: str | None = Field(description="The VEX justification (not_affected).")
    note: str | None
    approver: str | None = Field(description="Who accepted the risk (risk_accepted).")
    expires_at: str | None = Field(description="When the risk acceptance lapses.")
    decided_by: str | None


class FindingOut(Contract):
    """A vulnerability on a device: the ``vulns list --format json`` contract."""

    device_id: int
    device_name: str
    vulnerability_id: str
    aliases: list[str]
    component: FindingComponentOut = Field(description="All null when the finding is "
                                           "no longer matched (fixed).")
    source: str | None = Field(description="Where the component is known from: sbom, "
                               "discovery or manual.")
    cvss: CvssOut
    epss: float | None = Field(description="Probability of exploitation in 30 days (0-1).")
    kev: bool = Field(description="In CISA's Known Exploited Vulnerabilities catalogue.")
    priority: str = Field(description="P1 (most urgent) to P4.")
    due_date: str = Field(description="First seen + the tenant's response time (ISO date).")
    status: str = Field(description="open, affected, not_affected, false_positive, "
                        "risk_accepted, suppressed or fixed")
    reasons: list[str] = Field(description="Why this priority, one line per point source.")
    overdue: bool
    points: int
    first_seen: str | None
    match: MatchBasisOut
    summary: str | None = Field(description="From the feed: text, not markup.")
    site: str | None
    model: str | None
    firmware_version: str | None
    triage: TriageOut
    vex: str | None = Field(description="Source of the VEX statement that applies, if any.")
    fixed_at: str | None


class FindingPageOut(Output):
    items: list[FindingOut]
    next_offset: int | None = Field(
        description="Pass as `offset` for the next page; null on the last page.")
    stale: bool = Field(description="Feeds were imported after the last matching run: "
                        "POST /vulns/match to bring findings up to date.")


class VulnReportRow(Contract):
    cve: str | None = Field(default=None, description="With by=cve.")
    model: str | None = Field(default=None, description="With by=model (null: no model).")
    site: str | None = Field(default=None, description="With by=site (null: no site).")
    devices: int
    findings: int
    active: int = Field(description="Findings still to remediate (open or affected).")
    overdue: int
    kev: bool
    top_priority: str | None
    p1: int
    p2: int
    p3: int
    p4: int


class VulnReportOut(Output):
    by: str
    items: list[VulnReportRow]


class TriageIn(Input):
    """A decision about one vulnerability on one device, or on every device that runs
    a firmware image (`model` + `firmware`; a device's own decision wins)."""

    vulnerability_id: Text = Field(min_length=1, max_length=64, examples=["CVE-2021-36260"])
    device_id: Id | None = Field(default=None, description="The device (or give model and "
                                 "firmware).")
    model: Text | None = Field(default=None, min_length=1, max_length=256,
                               description="Model id or `VENDOR/MODEL`, with firmware.",
                               examples=["Hikvision/DS-2CD2026G2-IU/SL"])
    firmware: Text | None = Field(default=None, min_length=1, max_length=128,
                                  description="The firmware version, with model.")
    status: Text = Field(min_length=1, max_length=32,
                         description="affected, not_affected, false_positive, risk_accepted, "
                         "or open to withdraw an earlier decision.")
    justification: Text | None = Field(
        default=None, max_length=64,
        description="Required for not_affected (only then): component_not_present, "
        "vulnerable_code_not_present, vulnerable_code_not_in_execute_path, "
        "vulnerable_code_cannot_be_controlled_by_adversary or "
        "inline_mitigations_already_exist.")
    note: Text | None = Field(default=None, max_length=2000,
                              description="Why; required for false_positive.")
    approver: Text | None = Field(default=None, max_length=256,
                                  description="risk_accepted only: who accepted the risk "
                                  "(not you).")
    expires_at: datetime | None = Field(
        default=None, description="risk_accepted only: when the acceptance lapses (ISO 8601, "
        "UTC when no offset; at most 730 days ahead).")


class TriageOutcome(Output):
    vulnerability_id: str
    subject: str = Field(description="The device or firmware image decided about.")
    status: str
    justification: str | None
    note: str | None
    approver: str | None
    expires_at: str | None
    decided_by: str
    before: dict[str, Any] | None = Field(description="The decision this one replaced.")


class MatchIn(Input):
    full: StrictBool = Field(default=False, description="Re-match everything rather than "
                             "catch up with what was imported since the last run.")


class MatchOut(Output):
    mode: str = Field(description="full or catch-up")
    subjects: int = Field(description="Firmware images and devices matched.")
    components: int
    assessed: int
    candidates: int
    new: int = Field(description="New findings.")
    fixed: int = Field(description="Findings that stopped matching.")
    reopened: int
    alerts: int
    verified_fixed: int = Field(description="Triaged findings seen fixed.")
    undecided: int = Field(description="Assessments that could not be decided either way "
                           "(e.g. a component without a version).")
    undecided_examples: list[str] = Field(description="The first of them, one line each.")


class VulnSettingsIn(Input):
    response_days: list[Annotated[StrictInt, Field(ge=1, le=3650)]] = Field(
        min_length=4, max_length=4, examples=[[7, 30, 60, 90]],
        description="Days to remediate a P1, P2, P3 and P4 finding (not shorter for a "
        "lower priority).")


class VulnSettingsOut(Output):
    response_days: list[int]


# ---------------------------------------------------------------------- compliance
FrameworkId = Annotated[StrictStr, Field(min_length=1, max_length=64)]
RequirementId = Annotated[StrictStr, Field(min_length=1, max_length=100)]


class AssessIn(ScanOptionsIn):
    """What to assess: addresses or CIDRs, one registered device, or one segment."""

    targets: list[Target] = Field(default_factory=list, max_length=256,
                                  examples=[["127.76.0.10"]])
    device_id: Id | None = Field(default=None, description="Assess this registered device "
                                 "(its IPv4 addresses, or its stored observations with "
                                 "probe=false).")
    segment: Text | None = Field(default=None, max_length=128,
                                 description="Assess every device of this segment.")
    frameworks: list[FrameworkId] = Field(
        default_factory=list, max_length=16, examples=[["etsi-en-303-645"]],
        description="Only the checks mapped to these frameworks (default: every check).")
    udp: StrictBool = Field(default=True, description="Also send the UDP probes (SNMP, "
                            "SSDP, mDNS, CoAP).")
    probe: StrictBool = Field(default=True, description="false: assess from the latest "
                              "discovery observations and send nothing (needs device_id or "
                              "segment).")
    tls: StrictBool = Field(default=True, description="Scan every TLS service in depth.")
    credentials: StrictBool = Field(
        default=True, description="Try a few well-known default credentials, only on the "
        "segments the tenant authorised (PUT /settings/assess).")
    allow_outside_scope: StrictBool = Field(
        default=False, description="Admins only: probe targets outside the tenant's segments "
        "(audited).")


class AssessAccepted(Output):
    id: int = Field(description="The assessment run; follow the Location header.")
    status: str = Field(description="`running`.")


class AssessFindingOut(Contract):
    """One check on one subject: the ``assess --format json`` contract."""

    device_id: int | None = Field(description="null for a host not in the register.")
    host_id: int | None = Field(default=None, description="The discovered host, when the "
                                "subject is not a registered device.")
    device_name: str | None = None
    ip: str | None
    check_id: str
    title: str | None = None
    status: str = Field(description="PASS, FAIL, MANUAL, NOT_APPLICABLE or ERROR")
    severity: str = Field(description="critical, high, medium, low or info")
    requirements: list[str] = Field(description="Requirement ids (`FRAMEWORK/ID`) it "
                                    "evidences (only the chosen frameworks').")
    evidence: dict[str, Any] = Field(description="Facts behind the status; may quote "
                                     "device-supplied text.")
    reason: str


class AssessRunOut(Output):
    id: int
    scan_id: int | None = Field(description="The discovery scan it ran (null with "
                                "probe=false).")
    counts: dict[str, int] = Field(description="Results per status.")
    devices: int = Field(description="Registered devices assessed.")
    unregistered: int = Field(description="Hosts assessed that are not in the register.")
    warnings: list[str]
    findings: list[AssessFindingOut]


class AssessmentOut(Output):
    id: int
    actor: str
    status: str = Field(description="running, done or failed")
    targets: list[str]
    options: dict[str, Any]
    scan_id: int | None
    tool: str
    started_at: str | None
    finished_at: str | None
    summary: dict[str, Any] = Field(description="Devices, unregistered hosts, results, "
                                    "counts per status and the digest of what was stored.")
    error: str | None


class AssessmentDetail(AssessmentOut):
    run: AssessRunOut | None = Field(description="The run's findings while this API process "
                                     "still holds them (recent runs it ran); null "
                                     "otherwise: see GET /devices/{id}/compliance.")


class AssessmentList(Output):
    items: list[AssessmentOut]


class FrameworkOut(Output):
    id: str
    title: str
    version: str
    source: str = Field(description="The document the requirements come from.")
    requirements: int = Field(description="How many requirements it lists.")
    automated: int = Field(description="How many of them at least one check evidences.")


class FrameworkList(Output):
    items: list[FrameworkOut]


class RequirementOut(Output):
    id: str = Field(description="`FRAMEWORK/ID`")
    framework: str
    local_id: str
    title: str
    reference: str = Field(description="Where in the source document.")
    group: str
    mandatory: bool
    applies_to: str = Field(description="device, model or organisation")
    checks: list[str] = Field(description="Checks that evidence it; empty: attestation "
                              "only (MANUAL until attested).")


class RequirementList(Output):
    framework: str
    items: list[RequirementOut]


class CheckOut(Output):
    id: str
    title: str
    severity: str
    rationale: str
    remediation: str
    needs: list[str] = Field(description="What it reads: services, tls, credentials, "
                             "register, vulns.")
    requirements: list[str] = Field(description="Requirement ids it evidences.")


class CheckList(Output):
    items: list[CheckOut]


class DeviceRequirementOut(Output):
    requirement_id: str
    title: str
    group: str
    mandatory: bool
    status: str = Field(description="PASS, FAIL, MANUAL, NOT_APPLICABLE, ERROR or WAIVED")
    reason: str
    decided_by: str = Field(description="check, attestation, waiver or none")
    check_id: str | None
    checks: list[str]
    attestation_id: int | None
    waiver_id: int | None
    assessed_at: str | None


class CheckResultOut(Output):
    check_id: str
    status: str
    severity: str
    reason: str
    evidence: dict[str, Any] = Field(description="May quote device-supplied text.")
    ip: str | None
    assessment_id: int
    assessed_at: str | None
    tool: str


class DeviceComplianceOut(Output):
    device_id: int
    counts: dict[str, int] = Field(description="Requirements per status.")
    requirements: list[DeviceRequirementOut]
    results: list[CheckResultOut] = Field(description="The device's latest check results.")


class RiskFactorOut(Output):
    name: str
    value: str = Field(description="What was seen, or what was assumed.")
    weight: float
    points: float
    evidence: str
    stage: str = Field(description="inherent or residual")


class ThreatOut(Output):
    id: str
    stride: str = Field(description="S, T, R, I, D or E")
    title: str
    status: str = Field(description="mitigated, exposed or unknown")
    because: str


class BusinessImpactOut(Output):
    system: str
    confidentiality: str
    integrity: str
    availability: str


class RiskInputsOut(Output):
    device_type: str
    criticality: str
    zone: str | None
    data_classification: str | None
    data_items: list[str]
    business_impact: list[BusinessImpactOut]
    open_services: list[str] | None = Field(description="null: never observed.")
    checks: dict[str, int] = Field(description="Latest check results per status.")
    vulns_by_priority: dict[str, int] = Field(description="Open findings per priority.")
    kev: int
    overdue: int


class DeviceRiskOut(Output):
    device_id: int
    device_name: str
    device_type: str
    systems: list[str]
    inherent: float = Field(description="0..100: from the context alone.")
    residual: float = Field(description="0..100: the sum of every factor's points.")
    inherent_level: str
    residual_level: str = Field(description="low, medium, high or critical")
    impact: float
    likelihood: float
    factors: list[RiskFactorOut]
    threats: list[ThreatOut]
    inputs: RiskInputsOut


class AttestationIn(Input):
    """An attestation without evidence files; send ``multipart/form-data`` with the same
    fields and one ``files`` part per file to attach evidence."""

    requirement_id: RequirementId = Field(examples=["etsi-en-303-645/5.1-1"])
    subject_type: Text = Field(default="device", max_length=16,
                               description="device, model or tenant (organisation-wide).")
    subject_id: Id | None = Field(default=None, description="The device or model id "
                                  "(not for tenant).")
    status: Text = Field(max_length=32, description="PASS, FAIL or NOT_APPLICABLE")
    statement: Text = Field(max_length=8000, description="What was checked and how "
                            "(at least 10 characters).")
    method: Text = Field(max_length=32, description="inspection, test, supplier-statement, "
                         "certification or interview")
    expires_at: datetime = Field(description="When it must be examined again (ISO 8601, "
                                 "UTC when no offset; at most 3 years ahead).")


class EvidenceFileOut(Output):
    id: int
    name: str = Field(description="As uploaded, path and control characters removed.")
    sha256: str
    size: int
    media_type: str | None = Field(description="As the uploader declared it (untrusted).")
    added_by: str
    added_at: str | None
    download: str = Field(description="Path of GET /evidence/{id}.")


class AttestationOut(Output):
    id: int
    requirement_id: str
    subject_type: str
    subject_id: int
    status: str
    statement: str
    method: str
    attested_by: str
    attested_at: str | None
    expires_at: str | None
    revoked_at: str | None
    revoked_by: str | None
    active: bool = Field(description="Not revoked and not expired.")
    files: list[EvidenceFileOut]


class AttestationList(Output):
    items: list[AttestationOut]


class RevokeIn(Input):
    reason: Text = Field(min_length=1, max_length=500)


class WaiverIn(Input):
    """An accepted exception to a check or to a requirement (give one of them)."""

    check_id: Text | None = Field(default=None, min_length=1, max_length=64)
    requirement_id: RequirementId | None = None
    subject_type: Text = Field(default="device", max_length=16,
                               description="device, model or tenant (estate-wide).")
    subject_id: Id | None = None
    justification: Text = Field(max_length=4000, description="At least 10 characters.")
    approver: Text = Field(max_length=256, description="Who accepted it (not you).")
    expires_at: datetime = Field(description="At most a year ahead (ISO 8601, UTC when no "
                                 "offset).")


class WaiverOut(Output):
    id: int
    target: str = Field(description="`check:ID` or `requirement:FRAMEWORK/ID`")
    subject_type: str
    subject_id: int | None
    justification: str
    approver: str
    requested_by: str
    created_at: str | None
    expires_at: str | None
    revoked_at: str | None
    revoked_by: str | None
    active: bool


class WaiverList(Output):
    items: list[WaiverOut]


ServiceName = Annotated[StrictStr, Field(min_length=1, max_length=32)]


class ServiceProfileIn(Input):
    services: list[ServiceName] | None = Field(
        max_length=256, examples=[["tcp/443", "udp/161"]],
        description="The model's approved services; null removes the profile.")


class ServiceProfileOut(Output):
    model_id: int
    approved_services: list[str] | None


class AssessSettingsIn(Input):
    allow_segments: list[Annotated[StrictStr, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=256,
        description="Segments where default credentials may be tried.")
    deny_segments: list[Annotated[StrictStr, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=256, description="Segments where they may not.")
    update_max_age_days: Annotated[StrictInt, Field(ge=1, le=3650)] | None = None
    cert_expiry_warning_days: Annotated[StrictInt, Field(ge=1, le=365)] | None = None


class AssessSettingsOut(Output):
    credential_test_segments: list[str]
    update_max_age_days: int
    cert_expiry_warning_days: int
