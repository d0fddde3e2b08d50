"""Change requests for live devices (R2: controlled, approved, attributable change)."""

from __future__ import annotations

from fleetwarden.domain.model import ChangeRequest
from fleetwarden.errors import Conflict, InputError, NotFound, PermissionDenied
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require


def request(
    platform: Platform, principal: Principal, device_id: int, reason: str,
    reference: str | None = None,
) -> ChangeRequest:
    require(principal, Permission.REQUEST_CHANGE)
    if not reason.strip():
        raise InputError("reason: required")
    assert principal.tenant.id is not None
    with platform.uow(principal.tenant, True) as uow:
        if uow.devices.get(device_id) is None:
            raise NotFound(f"device {device_id} not found")
        cr = uow.changes.add(
            ChangeRequest(None, principal.tenant.id, device_id, principal.actor, reason.strip(),
                          reference)
        )
        audit.record(platform, uow, principal.actor, "change.request", "change_request", cr.id,
                     after={"device_id": device_id, "reference": reference}, reason=reason)
        uow.commit()
        return cr


def decide(
    platform: Platform, principal: Principal, cr_id: int, approve: bool, reason: str
) -> ChangeRequest:
    """Approve or reject. The approver must not be the requester (separation of duties)."""
    require(principal, Permission.APPROVE_CHANGE)
    with platform.uow(principal.tenant, True) as uow:
        cr = uow.changes.get(cr_id)
        if cr is None:
            raise NotFound(f"change request {cr_id} not found")
        if cr.status != "pending":
            raise Conflict(f"change request {cr_id} is already {cr.status}")
        if cr.requester == principal.actor:
            raise PermissionDenied("the requester cannot approve their own change request")
        status = "approved" if approve else "rejected"
        uow.changes.set_status(cr_id, status, principal.actor)
        action = "change.approve" if approve else "change.reject"
        audit.record(platform, uow, principal.actor, action, "change_request", cr_id,
                     before={"status": "pending"}, after={"status": status}, reason=reason)
        uow.commit()
        found = uow.changes.get(cr_id)
        assert found is not None
        return found


def list_requests(
    platform: Platform, principal: Principal, device_id: int | None = None
) -> list[ChangeRequest]:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.changes.list(device_id)
