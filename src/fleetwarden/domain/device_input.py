"""Validating one device record from a file or an API body (the import format).

The same column names are printed by ``devices list`` and accepted here, so an
export can be imported again. This runs once per row of million-row imports, so it
is written for speed: no pydantic, precompiled patterns, early exits. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from fleetwarden.domain import identifiers as ids
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.vocab import Criticality, DeviceType
from fleetwarden.errors import InputError

#: Columns ``devices list`` prints, in order; ``id`` and ``tenant`` are informational.
LIST_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "tenant",
    "device_type",
    "vendor",
    "model",
    "serial",
    "mac_addresses",
    "ip_addresses",
    "imei",
    "iccid",
    "vin",
    "hostname",
    "cert_sha256",
    "firmware_version",
    "site",
    "segment",
    "lifecycle_state",
    "owner",
    "criticality",
    "first_seen",
    "last_seen",
    "tags",
)
IMPORT_COLUMNS = frozenset(LIST_COLUMNS)
LIST_FIELDS = frozenset({"mac_addresses", "ip_addresses", "tags"})
MAX_TEXT = 256
MAX_LIST = 32

_DEVICE_TYPES = {t.value: t for t in DeviceType}
_STATES = {s.value: s for s in LifecycleState}
_CRITICALITIES = {c.value: c for c in Criticality}
_BEEN_LIVE = frozenset(
    {
        LifecycleState.IN_SERVICE,
        LifecycleState.MAINTENANCE,
        LifecycleState.QUARANTINED,
        LifecycleState.DECOMMISSIONING,
        LifecycleState.DISPOSED,
    }
)


@dataclass(frozen=True, slots=True)
class DeviceDraft:
    """A validated device record that still refers to site, segment and model by name."""

    name: str
    device_type: DeviceType | None
    vendor: str | None
    model: str | None
    serial: str | None
    mac_addresses: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    imei: str | None
    iccid: str | None
    vin: str | None
    hostname: str | None
    cert_sha256: str | None
    firmware_version: str | None
    site: str | None
    segment: str | None
    lifecycle_state: LifecycleState
    owner: str | None
    criticality: Criticality
    first_seen: datetime | None
    last_seen: datetime | None
    tags: tuple[str, ...]

    @property
    def ever_in_service(self) -> bool:
        return self.lifecycle_state in _BEEN_LIVE

    def strong_identifiers(self) -> list[tuple[ids.IdentifierKind, str]]:
        """Every strong identifier, for duplicate detection and matching."""
        K = ids.IdentifierKind
        out: list[tuple[ids.IdentifierKind, str]] = []
        if self.serial:
            out.append((K.SERIAL, self.serial))
        out.extend((K.MAC, m) for m in self.mac_addresses)
        if self.imei:
            out.append((K.IMEI, self.imei))
        if self.iccid:
            out.append((K.ICCID, self.iccid))
        if self.vin:
            out.append((K.VIN, self.vin))
        if self.cert_sha256:
            out.append((K.CERT_SHA256, self.cert_sha256))
        return out


def _text(raw: Mapping[str, object], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{key}: expected text, got {type(value).__name__}")
        value = str(value)
    value = value.strip()
    if not value:
        return None
    if len(value) > MAX_TEXT:
        raise InputError(f"{key}: longer than {MAX_TEXT} characters")
    if not value.isprintable():
        raise InputError(f"{key}: contains control characters")
    return value


def _list(raw: Mapping[str, object], key: str) -> list[str]:
    value = raw.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        items = [p.strip() for p in value.split(";")] if value.strip() else []
    elif isinstance(value, list | tuple):
        items = []
        for v in value:
            if not isinstance(v, str):
                raise InputError(f"{key}: expected a list of text, got {type(v).__name__}")
            items.append(v.strip())
    else:
        raise InputError(f"{key}: expected a list or ';'-separated text")
    items = [i for i in items if i]
    if len(items) > MAX_LIST:
        raise InputError(f"{key}: more than {MAX_LIST} entries")
    return items


def parse_timestamp(value: str, key: str) -> datetime:
    """ISO 8601; a time without a zone is taken as UTC. Stored as UTC."""
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{key}: not an ISO 8601 time: {value[:40]!r}") from None
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _dedupe(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def parse_device(raw: Mapping[str, object], *, partial: bool = False) -> DeviceDraft:
    """Validate one record. Unknown keys are refused: a typo must not lose data.

    ``partial`` is for PATCH bodies: missing required fields are not an error
    (the caller merges the draft with the stored device first).
    """
    unknown = [k for k in raw if k not in IMPORT_COLUMNS]
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(sorted(map(str, unknown))[:5])}")
    name = _text(raw, "name")
    if name is None and not partial:
        raise InputError("name: required")

    dtype_text = _text(raw, "device_type")
    device_type = None
    if dtype_text is not None:
        device_type = _DEVICE_TYPES.get(dtype_text.lower())
        if device_type is None:
            raise InputError(f"device_type: unknown type {dtype_text[:40]!r}")

    state_text = _text(raw, "lifecycle_state")
    state = LifecycleState.PLANNED
    if state_text is not None:
        found = _STATES.get(state_text.lower())
        if found is None:
            raise InputError(f"lifecycle_state: unknown state {state_text[:40]!r}")
        state = found

    crit_text = _text(raw, "criticality")
    criticality = Criticality.MEDIUM
    if crit_text is not None:
        found_c = _CRITICALITIES.get(crit_text.lower())
        if found_c is None:
            raise InputError(f"criticality: unknown value {crit_text[:40]!r}")
        criticality = found_c

    def ident(key: str, kind: ids.IdentifierKind) -> str | None:
        text = _text(raw, key)
        if text is None:
            return None
        try:
            return ids.normalise(kind, text)
        except InputError as exc:
            raise InputError(f"{key}: {exc}") from None

    try:
        macs = _dedupe([ids.normalise_mac(m) for m in _list(raw, "mac_addresses")])
        ips = _dedupe([ids.normalise_ip(i) for i in _list(raw, "ip_addresses")])
    except InputError as exc:
        raise InputError(f"{'mac_addresses' if 'MAC' in str(exc) else 'ip_addresses'}: {exc}")
    tags = _list(raw, "tags")
    for tag in tags:
        if len(tag) > 64 or not tag.isprintable() or ";" in tag:
            raise InputError("tags: each tag is printable, without ';', at most 64 characters")

    first_text = _text(raw, "first_seen")
    last_text = _text(raw, "last_seen")
    first_seen = parse_timestamp(first_text, "first_seen") if first_text else None
    last_seen = parse_timestamp(last_text, "last_seen") if last_text else None
    if first_seen and last_seen and last_seen < first_seen:
        raise InputError("last_seen: earlier than first_seen")

    return DeviceDraft(
        name=name or "",
        device_type=device_type,
        vendor=_text(raw, "vendor"),
        model=_text(raw, "model"),
        serial=ident("serial", ids.IdentifierKind.SERIAL),
        mac_addresses=macs,
        ip_addresses=ips,
        imei=ident("imei", ids.IdentifierKind.IMEI),
        iccid=ident("iccid", ids.IdentifierKind.ICCID),
        vin=ident("vin", ids.IdentifierKind.VIN),
        hostname=ident("hostname", ids.IdentifierKind.HOSTNAME),
        cert_sha256=ident("cert_sha256", ids.IdentifierKind.CERT_SHA256),
        firmware_version=_text(raw, "firmware_version"),
        site=_text(raw, "site"),
        segment=_text(raw, "segment"),
        lifecycle_state=state,
        owner=_text(raw, "owner"),
        criticality=criticality,
        first_seen=first_seen,
        last_seen=last_seen,
        tags=_dedupe(tags),
    )
