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
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, create_model

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


class ModelOut(Output):
    id: int
    vendor: str
    model: str
    device_type: str
    category: str | None
    supplier_id: int | None
    end_of_support: str | None


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
