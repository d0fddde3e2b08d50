"""Validation of the register's reference records: sites, segments, suppliers,
device models, IoT systems (with RACI and data flows) and data items.

Each kind has one parser that turns a JSON-like mapping into its frozen value,
merging over the stored value for partial updates. References to other records
may be given by id (``site_id``) or by name (``site``); the caller's ``resolve``
turns names into ids. Pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from enum import StrEnum
from typing import Any

from fleetwarden.domain.classification import Classification, parse_classification
from fleetwarden.domain.cpe import format_cpe, parse_cpe
from fleetwarden.domain.model import (
    DataFlow,
    DataItem,
    DeviceModel,
    IoTSystem,
    RaciEntry,
    Segment,
    Site,
    SoftwareComponent,
    Supplier,
)
from fleetwarden.domain.vocab import Category, DeviceType, Zone
from fleetwarden.errors import InputError


class RecordKind(StrEnum):
    SITE = "site"
    SEGMENT = "segment"
    SUPPLIER = "supplier"
    MODEL = "model"
    SYSTEM = "system"
    DATA_ITEM = "data_item"
    COMPONENT = "component"


Record = Site | Segment | Supplier | DeviceModel | IoTSystem | DataItem | SoftwareComponent
Resolver = Callable[[RecordKind, object], int]
"""Turns a reference (id or name) into the id of a record of the caller's tenant."""


def _str(raw: Mapping[str, Any], key: str, *, limit: int = 256) -> str | None:
    v = raw.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise InputError(f"{key}: expected text, got {type(v).__name__}")
    v = v.strip()
    if len(v) > limit:
        raise InputError(f"{key}: longer than {limit} characters")
    if any(not c.isprintable() and c not in "\n\t" for c in v):
        raise InputError(f"{key}: contains control characters")
    return v or None


def _required(value: str | None, key: str) -> str:
    if not value:
        raise InputError(f"{key}: required")
    return value


def _str_list(raw: Mapping[str, Any], key: str, *, limit: int = 128) -> tuple[str, ...]:
    v = raw.get(key)
    if v is None:
        return ()
    if isinstance(v, str):
        v = [p for p in v.split(";")]
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise InputError(f"{key}: expected a list of text")
    out = tuple(x.strip() for x in v if x.strip())
    if any(len(x) > limit for x in out):
        raise InputError(f"{key}: an entry is longer than {limit} characters")
    return out


def _enum(enum: type[StrEnum], raw: Mapping[str, Any], key: str) -> Any:
    v = _str(raw, key)
    if v is None:
        return None
    try:
        return enum(v.lower() if enum is not Classification else v)
    except ValueError:
        valid = ", ".join(e.value for e in enum)
        raise InputError(f"{key}: unknown value {v[:40]!r}; valid: {valid}") from None


def _int(raw: Mapping[str, Any], key: str, lo: int, hi: int) -> int | None:
    v = raw.get(key)
    if v is None or v == "":
        return None
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise InputError(f"{key}: expected a whole number from {lo} to {hi}")
    return v


def _ref(raw: Mapping[str, Any], key: str, kind: RecordKind, resolve: Resolver) -> int | None:
    """A reference given as ``<key>_id`` (an id) or ``<key>`` (a name)."""
    if raw.get(f"{key}_id") is not None:
        return resolve(kind, raw[f"{key}_id"])
    name = _str(raw, key)
    return resolve(kind, name) if name else None


def _merge(raw: Mapping[str, Any], existing: Record | None) -> dict[str, Any]:
    """Stored values overlaid with the given ones (PATCH semantics)."""
    if existing is None:
        return dict(raw)
    base = {f.name: getattr(existing, f.name) for f in fields(existing)}
    base.update(raw)
    return base


def _site(raw: Mapping[str, Any], tenant_id: int, resolve: Resolver) -> Site:
    return Site(
        id=None,
        tenant_id=tenant_id,
        name=_required(_str(raw, "name", limit=128), "name"),
        code=_str(raw, "code", limit=32),
        address=_str(raw, "address"),
        kind=_str(raw, "kind", limit=64),
    )


def _cidrs(raw: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    for text in _str_list(raw, "cidrs"):
        try:
            out.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise InputError(f"cidrs: bad network {text[:40]!r}") from None
    return tuple(dict.fromkeys(out))


def _segment(raw: Mapping[str, Any], tenant_id: int, resolve: Resolver) -> Segment:
    return Segment(
        id=None,
        tenant_id=tenant_id,
        name=_required(_str(raw, "name", limit=128), "name"),
        cidrs=_cidrs(raw),
        vlan=_int(raw, "vlan", 1, 4094),
        zone=_enum(Zone, raw, "zone"),
        site_id=_ref(raw, "site", RecordKind.SITE, resolve),
    )


def _supplier(raw: Mapping[str, Any], tenant_id: int, resolve: Resolver) -> Supplier:
    email = _str(raw, "contact_email", limit=254)
    if email and ("@" not in email or " " in email):
        raise InputError(f"contact_email: not an email address: {email[:40]!r}")
    url = _str(raw, "disclosure_url", limit=512)
    if url and not url.startswith(("https://", "http://", "mailto:")):
        raise InputError("disclosure_url: expected an https://, http:// or mailto: address")
    return Supplier(
        id=None,
        tenant_id=tenant_id,
        name=_required(_str(raw, "name", limit=128), "name"),
        contact_email=email,
        disclosure_url=url,
        notes=_str(raw, "notes", limit=4000),
    )


def _date(raw: Mapping[str, Any], key: str) -> date | None:
    v = raw.get(key)
    if v is None or isinstance(v, date):
        return v
    text = _str(raw, key, limit=32)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{key}: not an ISO date (YYYY-MM-DD): {text!r}") from None


def _model(raw: Mapping[str, Any], tenant_id: int, resolve: Resolver) -> DeviceModel:
    dtype = _enum(DeviceType, raw, "device_type")
    if dtype is None:
        raise InputError("device_type: required")
    return DeviceModel(
        id=None,
        tenant_id=tenant_id,
        vendor=_required(_str(raw, "vendor", limit=128), "vendor"),
        model=_required(_str(raw, "model", limit=128), "model"),
        device_type=dtype,
        category=_enum(Category, raw, "category"),
        supplier_id=_ref(raw, "supplier", RecordKind.SUPPLIER, resolve),
        end_of_support=_date(raw, "end_of_support"),
        cpe=_hardware_cpe(raw),
        approved_services=parse_service_profile(raw),
    )


def parse_service_profile(raw: Mapping[str, Any]) -> tuple[str, ...] | None:
    """``approved_services``: ["tcp/443", "udp/161"] or "tcp/443,udp/161"; absent: None."""
    value = raw.get("approved_services")
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InputError("approved_services: expected a list like ['tcp/443', 'udp/161']")
    out = []
    for item in items:
        text = str(item).strip().lower()
        if not text:
            continue
        proto, _, port = text.partition("/")
        if proto not in ("tcp", "udp") or not port.isdigit() or not 0 < int(port) < 65536:
            raise InputError(f"approved_services: {str(item)[:40]!r} is not tcp/PORT or udp/PORT")
        out.append(f"{proto}/{int(port)}")
    return tuple(dict.fromkeys(out))


def _hardware_cpe(raw: Mapping[str, Any]) -> str | None:
    text = _str(raw, "cpe", limit=512)
    if text is None:
        return None
    try:
        parsed = parse_cpe(text)
    except InputError as exc:
        raise InputError(f"cpe: {exc}") from None
    if parsed.part != "h":
        raise InputError(f"cpe: a model's CPE names hardware (cpe:2.3:h:...), not {text[:80]!r}")
    return format_cpe(parsed)


def _flows(raw: Mapping[str, Any]) -> tuple[DataFlow, ...]:
    items = raw.get("data_flows") or []
    if not isinstance(items, list | tuple):
        raise InputError("data_flows: expected a list")
    out = []
    for i, f in enumerate(items):
        if isinstance(f, DataFlow):
            out.append(f)
            continue
        if not isinstance(f, Mapping):
            raise InputError(f"data_flows[{i}]: expected an object")
        src = f.get("source", f.get("from"))
        dst = f.get("destination", f.get("to"))
        flow = {"source": src, "destination": dst, "data": f.get("data"),
                "protocol": f.get("protocol")}
        out.append(
            DataFlow(
                source=_required(_str(flow, "source"), f"data_flows[{i}].source"),
                destination=_required(_str(flow, "destination"), f"data_flows[{i}].destination"),
                data=_required(_str(flow, "data"), f"data_flows[{i}].data"),
                protocol=_str(flow, "protocol", limit=64),
            )
        )
    return tuple(out)


def _raci(raw: Mapping[str, Any]) -> tuple[RaciEntry, ...]:
    items = raw.get("raci") or []
    if not isinstance(items, list | tuple):
        raise InputError("raci: expected a list")
    out = []
    seen = set()
    for i, r in enumerate(items):
        if isinstance(r, RaciEntry):
            out.append(r)
            continue
        if not isinstance(r, Mapping):
            raise InputError(f"raci[{i}]: expected an object")
        task = _required(_str(r, "task"), f"raci[{i}].task")
        if task.lower() in seen:
            raise InputError(f"raci[{i}]: task {task!r} listed twice")
        seen.add(task.lower())
        responsible = _str_list(r, "responsible")
        if not responsible:
            raise InputError(f"raci[{i}].responsible: at least one party is required")
        accountable = r.get("accountable")
        if isinstance(accountable, list) and len(accountable) == 1:
            accountable = accountable[0]
        if not isinstance(accountable, str) or not accountable.strip():
            raise InputError(f"raci[{i}].accountable: exactly one party is required")
        out.append(
            RaciEntry(
                task=task,
                responsible=responsible,
                accountable=accountable.strip(),
                consulted=_str_list(r, "consulted"),
                informed=_str_list(r, "informed"),
            )
        )
    return tuple(out)


def _device_ids(raw: Mapping[str, Any]) -> tuple[int, ...]:
    v = raw.get("device_ids") or []
    if not isinstance(v, list | tuple) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in v
    ):
        raise InputError("device_ids: expected a list of device ids")
    return tuple(dict.fromkeys(v))


def _system(raw: Mapping[str, Any], tenant_id: int, resolve: Resolver) -> IoTSystem:
    return IoTSystem(
        id=None,
        tenant_id=tenant_id,
        name=_required(_str(raw, "name", limit=128), "name"),
        description=_str(raw, "description", limit=4000),
        scope=_str(raw, "scope", limit=4000),
        data_flows=_flows(raw),
        raci=_raci(raw),
        device_ids=_device_ids(raw),
        impact_confidentiality=_impact(raw, "impact_confidentiality"),
        impact_integrity=_impact(raw, "impact_integrity"),
        impact_availability=_impact(raw, "impact_availability"),
    )


def _impact(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text not in ("low", "medium", "high"):
        raise InputError(f"{key}: expected low, medium or high, not {str(value)[:20]!r}")
    return text


def _data_item(raw: Mapping[str, Any], tenant_id: int, resolve: Resolver) -> DataItem:
    text = raw.get("classification")
    if isinstance(text, Classification):
        classification = text
    elif isinstance(text, str):
        try:
            classification = parse_classification(text)
        except ValueError as exc:
            raise InputError(f"classification: {exc}") from None
    else:
        raise InputError("classification: required")
    aggregate = raw.get("aggregate_of") or []
    if not isinstance(aggregate, list | tuple):
        raise InputError("aggregate_of: expected a list of data item ids or names")
    return DataItem(
        id=None,
        tenant_id=tenant_id,
        name=_required(_str(raw, "name", limit=128), "name"),
        classification=classification,
        description=_str(raw, "description", limit=4000),
        system_id=_ref(raw, "system", RecordKind.SYSTEM, resolve),
        protected_by=_str_list(raw, "protected_by"),
        aggregate_of=tuple(dict.fromkeys(resolve(RecordKind.DATA_ITEM, a) for a in aggregate)),
    )


def _component(raw: Mapping[str, Any], tenant_id: int, resolve: Resolver) -> SoftwareComponent:
    purl = _str(raw, "purl", limit=512)
    if purl and not purl.startswith("pkg:"):
        raise InputError("purl: a package URL starts with 'pkg:'")
    cpe = _str(raw, "cpe", limit=512)
    if cpe and not cpe.startswith(("cpe:2.3:", "cpe:/")):
        raise InputError("cpe: expected a CPE 2.3 name (cpe:2.3:...) or a CPE URI (cpe:/...)")
    device_id = _int(raw, "device_id", 1, 2**62)
    model_id = _ref(raw, "model", RecordKind.MODEL, resolve)
    if (device_id is None) == (model_id is None):
        raise InputError("a component is installed on one device (device_id) or one model "
                         "(model_id / model as vendor/model)")
    return SoftwareComponent(
        id=None,
        tenant_id=tenant_id,
        name=_required(_str(raw, "name", limit=256), "name"),
        version=_str(raw, "version", limit=128),
        purl=purl,
        cpe=cpe,
        device_id=device_id,
        model_id=model_id,
    )


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: RecordKind
    cls: type
    parse: Callable[[Mapping[str, Any], int, Resolver], Any]
    label: Callable[[Any], str]
    """How the record is named in messages and audit events."""


SPECS: dict[RecordKind, KindSpec] = {
    RecordKind.SITE: KindSpec(RecordKind.SITE, Site, _site, lambda r: r.name),
    RecordKind.SEGMENT: KindSpec(RecordKind.SEGMENT, Segment, _segment, lambda r: r.name),
    RecordKind.SUPPLIER: KindSpec(RecordKind.SUPPLIER, Supplier, _supplier, lambda r: r.name),
    RecordKind.MODEL: KindSpec(
        RecordKind.MODEL, DeviceModel, _model, lambda r: f"{r.vendor} {r.model}"
    ),
    RecordKind.SYSTEM: KindSpec(RecordKind.SYSTEM, IoTSystem, _system, lambda r: r.name),
    RecordKind.DATA_ITEM: KindSpec(RecordKind.DATA_ITEM, DataItem, _data_item, lambda r: r.name),
    RecordKind.COMPONENT: KindSpec(
        RecordKind.COMPONENT, SoftwareComponent, _component,
        lambda r: f"{r.name} {r.version or ''}".strip(),
    ),
}

#: Kinds whose names need not be unique (many devices run busybox).
UNNAMED_KINDS = frozenset({RecordKind.COMPONENT})


def parse_record(
    kind: RecordKind,
    raw: Mapping[str, Any],
    tenant_id: int,
    resolve: Resolver,
    existing: Record | None = None,
) -> Record:
    """Validate ``raw`` as a ``kind`` record; with ``existing``, as a partial update."""
    if not isinstance(raw, Mapping):
        raise InputError(f"a {kind.value} must be a JSON object")
    allowed = {f.name for f in fields(SPECS[kind].cls)} - {"id", "tenant_id"}
    allowed |= {k[:-3] for k in allowed if k.endswith("_id")}
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise InputError(f"unknown field(s) for {kind.value}: {', '.join(unknown[:5])}")
    merged = _merge(raw, existing)
    for key in list(merged):
        if key.endswith("_id") and key[:-3] in raw and f"{key}" not in raw:
            merged.pop(key)  # a name given in the update replaces the stored id
    record = SPECS[kind].parse(merged, tenant_id, resolve)
    if existing is not None:
        record = replace(record, id=existing.id)
    return record  # type: ignore[no-any-return]


def to_plain(record: Record) -> dict[str, Any]:
    """A JSON-able dict of the record (enums and dates as text)."""
    def plain(v: Any) -> Any:
        if isinstance(v, StrEnum):
            return v.value
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in asdict(record).items()}
