"""Validating one device record from a file or an API body (the import format).

The same column names are printed by ``devices list`` and accepted here, so an
export can be imported again. This runs once per row of million-row imports, so it
is written for speed: no pydantic, precompiled patterns, early exits. Pure.
"""

from __future__ import annotations

import re
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
    return tuple(values) if len(values) < 2 else tuple(dict.fromkeys(values))


def parse_device(raw: Mapping[str, object], *, partial: bool = False) -> DeviceDraft:
    """Validate one record. Unknown keys are refused: a typo must not lose data.

    ``partial`` is for PATCH bodies: missing required fields are not an error
    (the caller merges the draft with the stored device first).
    """
    draft = _parse_clean(raw, partial)
    if draft is None:
        # Something is unusual or wrong: the checked path names the first problem.
        draft = _parse_checked(raw, partial)
    return draft


def _bad_tag(tag: str) -> bool:
    return len(tag) > 64 or not tag.isprintable() or ";" in tag


def _parse_checked(raw: Mapping[str, object], partial: bool) -> DeviceDraft:
    """The reference implementation: checks field by field, raising on the first error."""
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
    except InputError as exc:
        raise InputError(f"mac_addresses: {exc}") from None
    try:
        ips = _dedupe([ids.normalise_ip(i) for i in _list(raw, "ip_addresses")])
    except InputError as exc:
        raise InputError(f"ip_addresses: {exc}") from None
    tags = _list(raw, "tags")
    for tag in tags:
        if _bad_tag(tag):
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


# -------------------------------------------------------------------------- fast path
# Imports run parse_device a million times, nearly always on clean rows of text. This
# path handles exactly those, in one pass and without exceptions, and gives up
# (returns None) at the first thing that is not plainly valid; ``_parse_checked`` then
# decides, so errors and their order are always the reference implementation's. For
# every record it accepts it must build the same draft as ``_parse_checked`` (a unit
# test compares the two).

_NOT_TEXT = LIST_FIELDS | {"id", "tenant"}  # id, tenant: accepted but never read
_CANONICAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")
_NOT_DEVICE_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")


def _clean_list(value: object) -> list[str] | None:
    if type(value) is str:
        if ";" not in value:
            one = value.strip()
            return [one] if one else []
        items = [p for p in (q.strip() for q in value.split(";")) if p]
    elif type(value) is list or type(value) is tuple:
        items = []
        for v in value:
            if type(v) is not str:
                return None
            if v := v.strip():
                items.append(v)
    else:
        return None
    return items if len(items) <= MAX_LIST else None


def _parse_clean(raw: Mapping[str, object], partial: bool) -> DeviceDraft | None:
    if not IMPORT_COLUMNS.issuperset(raw):
        return None
    try:
        # Only text has .strip() and only text joins: anything else gives up here.
        text: dict[str, str] = {
            k: v.strip()  # type: ignore[attr-defined]
            for k, v in raw.items() if v is not None and k not in _NOT_TEXT
        }
        joined = "".join(text.values())
    except (AttributeError, TypeError):
        return None
    if not joined.isprintable():  # every value is printable iff all of them joined are
        return None
    if len(joined) > MAX_TEXT and max(map(len, text.values())) > MAX_TEXT:
        return None
    if "" in text.values():
        text = {k: v for k, v in text.items() if v}
    lists: dict[str, list[str]] = {}
    for key in LIST_FIELDS:
        if (value := raw.get(key)) is not None:
            items = _clean_list(value)
            if items is None:
                return None
            lists[key] = items
    get = text.get

    name = get("name")
    if name is None and not partial:
        return None
    device_type = None
    if (v := get("device_type")) is not None:
        device_type = _DEVICE_TYPES.get(v.lower())
        if device_type is None:
            return None
    state = LifecycleState.PLANNED
    if (v := get("lifecycle_state")) is not None:
        found = _STATES.get(v.lower())
        if found is None:
            return None
        state = found
    criticality = Criticality.MEDIUM
    if (v := get("criticality")) is not None:
        found_c = _CRITICALITIES.get(v.lower())
        if found_c is None:
            return None
        criticality = found_c

    macs: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    try:
        if found_macs := lists.get("mac_addresses"):
            macs = _dedupe([
                m if _CANONICAL_MAC.fullmatch(m) and m not in _NOT_DEVICE_MACS
                else ids.normalise_mac(m)
                for m in found_macs
            ])
        if found_ips := lists.get("ip_addresses"):
            ips = _dedupe([i if _CANONICAL_IPV4.fullmatch(i) else ids.normalise_ip(i)
                           for i in found_ips])
        serial = ids.normalise_serial(v) if (v := get("serial")) else None
        imei = ids.normalise_imei(v) if (v := get("imei")) else None
        iccid = ids.normalise_iccid(v) if (v := get("iccid")) else None
        vin = ids.normalise_vin(v) if (v := get("vin")) else None
        hostname = ids.normalise_hostname(v) if (v := get("hostname")) else None
        cert = ids.normalise_cert_sha256(v) if (v := get("cert_sha256")) else None
        first_seen = parse_timestamp(v, "first_seen") if (v := get("first_seen")) else None
        last_seen = parse_timestamp(v, "last_seen") if (v := get("last_seen")) else None
    except InputError:
        return None
    if found_tags := lists.get("tags"):
        for tag in found_tags:
            if _bad_tag(tag):
                return None
        tags = _dedupe(found_tags)
    if first_seen and last_seen and last_seen < first_seen:
        return None

    return DeviceDraft(
        name=name or "",
        device_type=device_type,
        vendor=get("vendor"),
        model=get("model"),
        serial=serial,
        mac_addresses=macs,
        ip_addresses=ips,
        imei=imei,
        iccid=iccid,
        vin=vin,
        hostname=hostname,
        cert_sha256=cert,
        firmware_version=get("firmware_version"),
        site=get("site"),
        segment=get("segment"),
        lifecycle_state=state,
        owner=get("owner"),
        criticality=criticality,
        first_seen=first_seen,
        last_seen=last_seen,
        tags=tags,
    )
