"""The unregistered-devices queue and what discovery knows about hosts (R4).

A new host waits in the queue until someone approves it into the register (with a
model), merges it into a device that is already registered, or marks it rogue. Users
may override any fingerprint attribute; overrides win over every rule and are audited.

Must not: scan (``services.discovery`` does) or accept a host of another tenant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fleetwarden.domain.device_input import parse_device
from fleetwarden.domain.fingerprint import Attribute, with_overrides
from fleetwarden.domain.identifiers import IdentifierKind, normalise
from fleetwarden.domain.inventory import (
    OVERRIDABLE,
    DiscoveredHost,
    ScanRecord,
    fingerprint_from_view,
    fingerprint_view,
)
from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.model import Device
from fleetwarden.domain.reconcile import HostStatus
from fleetwarden.errors import Conflict, InputError, NotFound
from fleetwarden.ports import UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.devices import Resolver, summary
from fleetwarden.services.discovery import host_summary

MAX_PAGE = 1000
MAX_OVERRIDE = 128


def _status(text: str | None) -> HostStatus | None:
    if text is None or text == "all":
        return None
    try:
        return HostStatus(text)
    except ValueError:
        raise InputError(f"status {text[:32]!r}: use unregistered, registered, rogue or all"
                         ) from None


def list_hosts(platform: Platform, principal: Principal, status: str | None = "unregistered",
               *, limit: int = 100, offset: int = 0) -> list[DiscoveredHost]:
    require(principal, Permission.READ)
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InputError(f"limit: between 1 and {MAX_PAGE}; offset: 0 or more")
    with platform.uow(principal.tenant, False) as uow:
        return uow.discovery.list_hosts(_status(status), limit=limit, offset=offset)


def _host(uow: UnitOfWork, host_id: int) -> DiscoveredHost:
    host = uow.discovery.host(host_id)
    if host is None:
        raise NotFound(f"discovered host {host_id} not found")
    return host


def get_host(platform: Platform, principal: Principal, host_id: int) -> DiscoveredHost:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return _host(uow, host_id)


def host_of_device(platform: Platform, principal: Principal,
                   device_id: int) -> DiscoveredHost | None:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        found = uow.discovery.hosts_of_devices([device_id])
        return found[0] if found else None


def list_scans(platform: Platform, principal: Principal, limit: int = 50) -> list[ScanRecord]:
    require(principal, Permission.READ)
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: between 1 and {MAX_PAGE}")
    with platform.uow(principal.tenant, False) as uow:
        return uow.discovery.scans(limit)


def get_scan(platform: Platform, principal: Principal, scan_id: int) -> ScanRecord:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        scan = uow.discovery.scan(scan_id)
    if scan is None:
        raise NotFound(f"scan {scan_id} not found")
    return scan


def _queued(uow: UnitOfWork, host_id: int) -> DiscoveredHost:
    host = _host(uow, host_id)
    if host.status is not HostStatus.UNREGISTERED:
        raise Conflict(f"host {host_id} is {host.status.value}, not in the unregistered queue")
    return host


# ------------------------------------------------------------------ the queue
def approve(platform: Platform, principal: Principal, host_id: int,
            fields: Mapping[str, Any] | None = None) -> Device:
    """Register the host as a new device; ``fields`` fill or correct what was seen.

    The model is the fingerprint's vendor and model unless ``fields`` names one; a model
    the register does not know yet is created with the device type.
    """
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        host = _queued(uow, host_id)
        raw = _draft(uow, host, dict(fields or {}))
        draft = parse_device(raw)
        if not (draft.vendor and draft.model):
            raise InputError(f"host {host_id}: the fingerprint names no vendor and model; "
                             "give --model VENDOR/MODEL")
        device = uow.devices.add(Resolver(platform, principal, uow).device(draft))
        audit.record(platform, uow, principal.actor, "device.create", "device", device.id,
                     after=summary(device), reason=f"approved from discovered host {host_id}")
        stored = uow.discovery.update_host(replace(
            host, status=HostStatus.REGISTERED, device_id=device.id,
            note=_note(fields, host.note)))
        audit.record(platform, uow, principal.actor, "discovery.host.approve", "host", host_id,
                     before=host_summary(host), after=host_summary(stored))
        uow.commit()
        return device


def _draft(uow: UnitOfWork, host: DiscoveredHost, fields: dict[str, Any]) -> dict[str, Any]:
    fields.pop("note", None)
    model = fields.pop("model", None)
    if model is not None:
        vendor, sep, name = str(model).partition("/")
        if not sep or not vendor.strip() or not name.strip():
            raise InputError(f"model {str(model)[:64]!r}: write VENDOR/MODEL")
        fields["vendor"], fields["model"] = vendor.strip(), name.strip()
    hostname = host.hostname if host.hostname and _valid_hostname(host.hostname) else None
    # Device text is untrusted: a name is only made from parts that passed validation.
    name = hostname or "-".join(
        p for p in (host.vendor, host.model, host.ip or host.mac)
        if p and p.isprintable()) or f"host-{host.id}"
    raw: dict[str, Any] = {
        "name": name[:256], "vendor": host.vendor, "model": host.model,
        "device_type": host.device_type, "serial": host.serial,
        "mac_addresses": [host.mac] if host.mac else [],
        "ip_addresses": [host.ip] if host.ip else [], "hostname": hostname,
        "firmware_version": host.firmware_version,
        "lifecycle_state": LifecycleState.IN_SERVICE.value,
        "first_seen": host.first_seen.isoformat() if host.first_seen else None,
        "last_seen": host.last_seen.isoformat() if host.last_seen else None,
    }
    if host.segment_id is not None and "segment" not in fields:
        seg = next((n for n, (i, _) in uow.discovery.segment_cidrs().items()
                    if i == host.segment_id), None)
        raw["segment"] = seg
    if len(host.certificates) == 1 and len(
            uow.discovery.hosts_with_certificates(host.certificates)) == 1:
        raw["cert_sha256"] = host.certificates[0]
    raw.update(fields)
    return {k: v for k, v in raw.items() if v not in (None, "", [])}


def _valid_hostname(name: str) -> bool:

    try:
        normalise(IdentifierKind.HOSTNAME, name)
    except InputError:
        return False
    return True


def _note(fields: Mapping[str, Any] | None, old: str | None) -> str | None:
    note = (fields or {}).get("note")
    return str(note)[:1000] if note else old


def merge(platform: Platform, principal: Principal, host_id: int, device_id: int,
          note: str | None = None) -> Device:
    """The host is a device already in the register: tie them and add what was seen."""
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        host = _queued(uow, host_id)
        device = uow.devices.get(device_id)
        if device is None:
            raise NotFound(f"device {device_id} not found")
        for old in uow.discovery.hosts_of_devices([device_id]):
            uow.discovery.delete_host(old.id or 0)
            audit.record(platform, uow, principal.actor, "discovery.host.delete", "host",
                         old.id, before=host_summary(old),
                         reason=f"replaced by host {host_id} merged into device {device_id}")
        ips = device.ip_addresses
        if host.ip and host.ip not in ips:
            ips = (host.ip, *ips)[:32]
        macs = device.mac_addresses
        if host.mac and host.mac not in macs and not uow.discovery.devices_by("mac", [host.mac]):
            macs = (*macs, host.mac)[:32]
        updated = uow.devices.update(replace(
            device, ip_addresses=ips, mac_addresses=macs,
            serial=device.serial or _free(uow, "serial", host.serial),
            firmware_version=device.firmware_version or host.firmware_version,
            last_seen=host.last_seen or device.last_seen,
            first_seen=device.first_seen or host.first_seen))
        audit.record(platform, uow, principal.actor, "device.update", "device", device_id,
                     before=summary(device), after=summary(updated),
                     reason=f"merged discovered host {host_id}")
        stored = uow.discovery.update_host(replace(
            host, status=HostStatus.REGISTERED, device_id=device_id,
            note=note[:1000] if note else host.note))
        audit.record(platform, uow, principal.actor, "discovery.host.merge", "host", host_id,
                     before=host_summary(host), after=host_summary(stored))
        uow.commit()
        return updated


def _free(uow: UnitOfWork, kind: str, value: str | None) -> str | None:
    if value is None or uow.discovery.devices_by(kind, [value]):
        return None
    return value


def mark_rogue(platform: Platform, principal: Principal, host_id: int,
               reason: str) -> DiscoveredHost:
    """Not allowed on the network: stays out of the register, alerts whenever seen."""
    require(principal, Permission.WRITE)
    if not reason.strip():
        raise InputError("reason: say why the device is rogue")
    with platform.uow(principal.tenant, True) as uow:
        host = _queued(uow, host_id)
        stored = uow.discovery.update_host(replace(host, status=HostStatus.ROGUE,
                                                   note=reason.strip()[:1000]))
        audit.record(platform, uow, principal.actor, "discovery.host.rogue", "host", host_id,
                     before=host_summary(host), after=host_summary(stored),
                     reason=reason.strip()[:1000])
        uow.commit()
        return stored


# ------------------------------------------------------------------ overrides
def set_overrides(platform: Platform, principal: Principal, host_id: int,
                  values: Mapping[str, str], clear: Sequence[str] = ()) -> DiscoveredHost:
    """Set (or clear) fingerprint attributes by hand; they win over every rule."""
    require(principal, Permission.WRITE)
    for name in (*values, *clear):
        if name not in OVERRIDABLE:
            raise InputError(f"attribute {str(name)[:32]!r}: one of {', '.join(OVERRIDABLE)}")
    for name, value in values.items():
        if not str(value).strip() or len(str(value)) > MAX_OVERRIDE:
            raise InputError(f"{name}: give a value of 1 to {MAX_OVERRIDE} characters")
    with platform.uow(principal.tenant, True) as uow:
        host = _host(uow, host_id)
        overrides = {k: v for k, v in host.overrides.items() if k not in clear}
        overrides.update({k: str(v).strip() for k, v in values.items()})
        fp = with_overrides(fingerprint_from_view(host.fingerprint),
                            {Attribute(k): v for k, v in overrides.items()})
        stored = uow.discovery.update_host(replace(
            host, overrides=overrides, fingerprint=fingerprint_view(fp), vendor=fp.vendor,
            model=fp.model, device_type=fp.device_type, firmware_version=fp.firmware_version,
            os=fp.os, confidence=fp.confidence))
        audit.record(platform, uow, principal.actor, "discovery.override", "host", host_id,
                     before={"overrides": dict(host.overrides)},
                     after={"overrides": overrides})
        uow.commit()
        return stored
