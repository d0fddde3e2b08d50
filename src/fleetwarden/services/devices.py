"""Device use cases: register, edit, look up, list, transition, delete (R1, R2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from fleetwarden.domain.device_input import DeviceDraft, parse_device
from fleetwarden.domain.identifiers import IdentifierKind, normalise
from fleetwarden.domain.lifecycle import (
    DELETABLE_STATES,
    LifecycleState,
    TransitionContext,
    decide,
    needs_change_approval,
    parse_state,
)
from fleetwarden.domain.model import Device, DeviceModel
from fleetwarden.domain.records import RecordKind
from fleetwarden.domain.vocab import DeviceType
from fleetwarden.errors import ApprovalRequired, IllegalTransition, InputError, NotFound
from fleetwarden.ports import DeviceQuery, UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require

MAX_PAGE = 1000


def summary(d: Device) -> dict[str, Any]:
    """What the audit log keeps of a device: identity and state, no free text bulk."""
    return {
        "name": d.name,
        "device_type": d.device_type.value,
        "lifecycle_state": d.lifecycle_state.value,
        "model_id": d.model_id,
        "serial": d.serial,
        "mac_addresses": list(d.mac_addresses),
        "ip_addresses": list(d.ip_addresses),
        "imei": d.imei,
        "iccid": d.iccid,
        "vin": d.vin,
        "hostname": d.hostname,
        "cert_sha256": d.cert_sha256,
        "firmware_version": d.firmware_version,
        "site_id": d.site_id,
        "segment_id": d.segment_id,
        "owner": d.owner,
        "criticality": d.criticality.value,
        "tags": list(d.tags),
    }


def changed_fields(before: Device, after: Device) -> tuple[dict[str, Any], dict[str, Any]]:
    b, a = summary(before), summary(after)
    keys = [k for k in a if a[k] != b[k]]
    return {k: b[k] for k in keys}, {k: a[k] for k in keys}


class Resolver:
    """Turns the names in a draft into ids, caching per unit of work (imports reuse it)."""

    def __init__(self, platform: Platform, principal: Principal, uow: UnitOfWork) -> None:
        self._platform = platform
        self._principal = principal
        self._uow = uow
        self._cache: dict[tuple[RecordKind, str], Any] = {}
        self.models_created: list[DeviceModel] = []

    def _named(self, kind: RecordKind, name: str) -> Any:
        key = (kind, name)
        if key not in self._cache:
            self._cache[key] = self._uow.records.by_name(kind, name)
        return self._cache[key]

    def device(self, draft: DeviceDraft, base: Device | None = None) -> Device:
        site_id = base.site_id if base else None
        segment_id = base.segment_id if base else None
        if draft.site:
            site = self._named(RecordKind.SITE, draft.site)
            if site is None:
                raise InputError(f"site: unknown site {draft.site!r} (add it first: sites add)")
            site_id = site.id
        if draft.segment:
            seg = self._named(RecordKind.SEGMENT, draft.segment)
            if seg is None:
                raise InputError(
                    f"segment: unknown segment {draft.segment!r} (add it first: segments add)"
                )
            segment_id = seg.id
        model = None
        if draft.vendor or draft.model:
            if not (draft.vendor and draft.model):
                raise InputError("vendor and model go together: give both or neither")
            model = self._model(draft)
        device_type = draft.device_type or (model.device_type if model else None)
        if device_type is None:
            device_type = base.device_type if base else None
        if device_type is None:
            raise InputError("device_type: required (or give a known vendor and model)")
        tenant_id = self._uow.tenant.id
        assert tenant_id is not None
        return Device(
            id=base.id if base else None,
            tenant_id=tenant_id,
            name=draft.name,
            device_type=device_type,
            lifecycle_state=draft.lifecycle_state,
            model_id=model.id if model else (base.model_id if base else None),
            serial=draft.serial,
            mac_addresses=draft.mac_addresses,
            ip_addresses=draft.ip_addresses,
            imei=draft.imei,
            iccid=draft.iccid,
            vin=draft.vin,
            hostname=draft.hostname,
            cert_sha256=draft.cert_sha256,
            firmware_version=draft.firmware_version,
            site_id=site_id,
            segment_id=segment_id,
            owner=draft.owner,
            criticality=draft.criticality,
            first_seen=draft.first_seen,
            last_seen=draft.last_seen,
            tags=draft.tags,
            ever_in_service=draft.ever_in_service or (base.ever_in_service if base else False),
        )

    def _model(self, draft: DeviceDraft) -> DeviceModel:
        assert draft.vendor and draft.model
        key = f"{draft.vendor}/{draft.model}"
        found = self._named(RecordKind.MODEL, key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        if draft.device_type is None:
            raise InputError(
                f"model: unknown model {draft.vendor} {draft.model}; give device_type to add it"
            )
        tenant_id = self._uow.tenant.id
        assert tenant_id is not None
        created = self._uow.records.add(
            DeviceModel(None, tenant_id, draft.vendor, draft.model, draft.device_type)
        )
        assert isinstance(created, DeviceModel)
        audit.record(
            self._platform, self._uow, self._principal.actor, "model.create", "model",
            created.id, after={"vendor": created.vendor, "model": created.model,
                               "device_type": created.device_type.value},
            reason="created for a device that named it",
        )
        self._cache[(RecordKind.MODEL, key)] = created
        self.models_created.append(created)
        return created


def _get(uow: UnitOfWork, device_id: int) -> Device:
    device = uow.devices.get(device_id)
    if device is None:
        raise NotFound(f"device {device_id} not found")
    return device


def get_device(platform: Platform, principal: Principal, device_id: int) -> Device:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return _get(uow, device_id)


def create_device(platform: Platform, principal: Principal, raw: Mapping[str, Any]) -> Device:
    require(principal, Permission.WRITE)
    draft = parse_device(raw)
    with platform.uow(principal.tenant, True) as uow:
        device = uow.devices.add(Resolver(platform, principal, uow).device(draft))
        audit.record(platform, uow, principal.actor, "device.create", "device", device.id,
                     after=summary(device))
        uow.commit()
        return device


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Device]
    next_cursor: tuple[Any, int] | None
    total: int | None


def list_devices(
    platform: Platform, principal: Principal, query: DeviceQuery, *, with_total: bool = False
) -> Page:
    require(principal, Permission.READ)
    if not 1 <= query.limit <= MAX_PAGE:
        raise InputError(f"limit: between 1 and {MAX_PAGE}")
    if query.state:
        try:
            parse_state(query.state)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    if query.device_type and query.device_type not in DeviceType.__members__.values():
        raise InputError(f"type: unknown device type {query.device_type[:40]!r}")
    with platform.uow(principal.tenant, False) as uow:
        items = uow.devices.find(query)
        total = uow.devices.count(query) if with_total else None
    cursor = None
    if len(items) == query.limit:
        last = items[-1]
        assert last.id is not None
        cursor = (getattr(last, query.sort), last.id)
    return Page(items, cursor, total)


def resolve_site_or_segment(
    platform: Platform, principal: Principal, kind: RecordKind, name: str
) -> int:
    """Filter helper: the id of a site or segment given by name (or numeric id)."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        if name.isdigit() and uow.records.get(kind, int(name)) is not None:
            return int(name)
        found = uow.records.by_name(kind, name)
        if found is None or found.id is None:
            raise NotFound(f"{kind.value} {name!r} not found")
        return found.id


def lookup(platform: Platform, principal: Principal, kind: str, value: str) -> list[Device]:
    """Devices holding an identifier: serial, mac, imei, iccid, vin, cert_sha256, ip, hostname."""
    require(principal, Permission.READ)
    try:
        ident_kind = IdentifierKind(kind)
    except ValueError:
        valid = ", ".join(k.value for k in IdentifierKind)
        raise InputError(f"unknown identifier kind {kind!r}; valid: {valid}") from None
    canonical = normalise(ident_kind, value)
    with platform.uow(principal.tenant, False) as uow:
        return uow.devices.lookup(ident_kind, canonical)


def _check_change_control(
    uow: UnitOfWork, device: Device, change_request: int | None, what: str
) -> int | None:
    """Enforce the tenant's change control on live devices; returns the CR to mark used."""
    if not (uow.tenant.settings.require_change_approval
            and needs_change_approval(device.lifecycle_state)):
        return None
    if change_request is None:
        raise ApprovalRequired(
            f"device {device.id} is {device.lifecycle_state.value}: {what} needs an approved "
            "change request (--change-request ID)"
        )
    cr = uow.changes.get(change_request)
    if cr is None or cr.device_id != device.id:
        raise ApprovalRequired(f"change request {change_request} is not for device {device.id}")
    if cr.status != "approved":
        raise ApprovalRequired(f"change request {change_request} is {cr.status}, not approved")
    return change_request


def update_device(
    platform: Platform,
    principal: Principal,
    device_id: int,
    raw: Mapping[str, Any],
    *,
    change_request: int | None = None,
    reason: str | None = None,
) -> Device:
    """Partial update. The lifecycle state changes only through ``transition``."""
    require(principal, Permission.WRITE)
    if "lifecycle_state" in raw:
        raise InputError("lifecycle_state: use a lifecycle transition to change it")
    if "id" in raw or "tenant" in raw:
        raise InputError("id and tenant cannot be changed")
    draft = parse_device(raw, partial=True)
    if "name" in raw and not draft.name:
        raise InputError("name: cannot be empty")
    with platform.uow(principal.tenant, True) as uow:
        current = _get(uow, device_id)
        merged = _merge_draft(current, draft, raw)
        updated = Resolver(platform, principal, uow).device(merged, base=current)
        updated = replace(updated, lifecycle_state=current.lifecycle_state)
        before, after = changed_fields(current, updated)
        if not after:
            return current
        used = _check_change_control(uow, current, change_request, "editing it")
        stored = uow.devices.update(updated)
        if used is not None:
            uow.changes.set_status(used, "used", None)
        audit.record(platform, uow, principal.actor, "device.update", "device", device_id,
                     before=before, after=after | _cr_note(used), reason=reason)
        uow.commit()
        return stored


def _cr_note(cr: int | None) -> dict[str, Any]:
    return {"change_request": cr} if cr is not None else {}


def _merge_draft(current: Device, draft: DeviceDraft, raw: Mapping[str, Any]) -> DeviceDraft:
    """Fields absent from a PATCH body keep their stored values."""
    keep: dict[str, Any] = {
        "name": current.name,
        "device_type": current.device_type,
        "serial": current.serial,
        "mac_addresses": current.mac_addresses,
        "ip_addresses": current.ip_addresses,
        "imei": current.imei,
        "iccid": current.iccid,
        "vin": current.vin,
        "hostname": current.hostname,
        "cert_sha256": current.cert_sha256,
        "firmware_version": current.firmware_version,
        "owner": current.owner,
        "criticality": current.criticality,
        "first_seen": current.first_seen,
        "last_seen": current.last_seen,
        "tags": current.tags,
        "lifecycle_state": current.lifecycle_state,
    }
    overrides = {k: v for k, v in keep.items() if k not in raw}
    # vendor/model/site/segment stay as ids on the base device unless given.
    return replace(draft, **overrides)


def delete_device(platform: Platform, principal: Principal, device_id: int, reason: str) -> None:
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        device = _get(uow, device_id)
        if device.ever_in_service or device.lifecycle_state not in DELETABLE_STATES:
            raise IllegalTransition(
                f"device {device_id} has been {device.lifecycle_state.value}; devices that were "
                "ever in service are decommissioned and disposed, not deleted"
            )
        uow.devices.delete(device_id)
        audit.record(platform, uow, principal.actor, "device.delete", "device", device_id,
                     before=summary(device), reason=reason)
        uow.commit()


def transition(
    platform: Platform,
    principal: Principal,
    device_id: int,
    target: str,
    reason: str,
    *,
    change_request: int | None = None,
    facts: Mapping[str, object] | None = None,
) -> Device:
    require(principal, Permission.TRANSITION)
    if not reason.strip():
        raise InputError("reason: required for every transition")
    try:
        target_state = parse_state(target)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    with platform.uow(principal.tenant, True) as uow:
        device = _get(uow, device_id)
        assert device.id is not None
        decision = decide(
            TransitionContext(device.id, device.lifecycle_state, target_state, reason,
                              dict(facts or {})),
            platform.guards,
        )
        if not decision.allowed:
            raise IllegalTransition(f"device {device_id}: " + "; ".join(decision.reasons))
        used = _check_change_control(uow, device, change_request, "a transition")
        moved = replace(
            device,
            lifecycle_state=target_state,
            ever_in_service=device.ever_in_service or target_state is LifecycleState.IN_SERVICE,
        )
        stored = uow.devices.update(moved)
        if used is not None:
            uow.changes.set_status(used, "used", None)
        audit.record(
            platform, uow, principal.actor, "device.transition", "device", device_id,
            before={"lifecycle_state": device.lifecycle_state.value},
            after={"lifecycle_state": target_state.value} | _cr_note(used),
            reason=reason,
        )
        uow.commit()
        return stored


def transfer_ownership(
    platform: Platform, principal: Principal, device_id: int, new_owner: str, reason: str,
    *, change_request: int | None = None,
) -> Device:
    """Change of ownership (R2): a new Information Asset Owner, recorded with a reason."""
    if not reason.strip():
        raise InputError("reason: required for a change of ownership")
    return update_device(platform, principal, device_id, {"owner": new_owner},
                         change_request=change_request, reason=reason)
