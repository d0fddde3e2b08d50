"""Writing and verifying the tamper-evident audit log (R12).

``record`` must be called inside the unit of work that makes the change, before its
commit, so the change and its event land together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fleetwarden.domain.audit import (
    GENESIS_HASH,
    AuditEvent,
    ChainReport,
    checkpoint_due,
    format_timestamp,
    seal,
    verify_chain,
)
from fleetwarden.errors import StorageError
from fleetwarden.ports import UnitOfWork
from fleetwarden.services.context import Permission, Platform, Principal, require


def record(
    platform: Platform,
    uow: UnitOfWork,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Append one event to the tenant's chain (redacted), checkpointing when due."""
    head = uow.audit.lock_head()
    if head is None:
        raise StorageError("audit chain head missing for this tenant; run `fleetwarden db upgrade`")
    tenant_id = uow.tenant.id
    assert tenant_id is not None
    event = seal(
        tenant_id=tenant_id,
        seq=head.seq + 1,
        at=format_timestamp(platform.now()),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        reason=reason,
        prev_hash=head.hash if head.seq else GENESIS_HASH,
    )
    uow.audit.append(event)
    if checkpoint_due(event.seq, uow.tenant.settings.checkpoint_interval):
        uow.audit.add_checkpoint(
            platform.signer.sign_checkpoint(tenant_id, event.seq, event.hash, event.at)
        )
    return event


def checkpoint(platform: Platform, principal: Principal) -> int | None:
    """Sign a checkpoint at the current head now (e.g. before a backup or an audit)."""
    require(principal, Permission.ADMIN)
    with platform.uow(principal.tenant, True) as uow:
        head = uow.audit.lock_head()
        if head is None or head.seq == 0:
            return None
        existing = {cp.seq for cp in uow.audit.checkpoints()}
        if head.seq not in existing:
            assert principal.tenant.id is not None
            uow.audit.add_checkpoint(
                platform.signer.sign_checkpoint(
                    principal.tenant.id, head.seq, head.hash, format_timestamp(platform.now())
                )
            )
            uow.commit()
        return head.seq


def verify(platform: Platform, principal: Principal) -> ChainReport:
    """Check the whole chain of the principal's tenant; streams, constant memory."""
    require(principal, Permission.READ_AUDIT)
    with platform.uow(principal.tenant, False) as uow:
        assert principal.tenant.id is not None
        return verify_chain(
            principal.tenant.id,
            uow.audit.events(),
            uow.audit.checkpoints(),
            uow.audit.head(),
            platform.signer.verify_checkpoint,
        )


def export(
    platform: Platform, principal: Principal, after_seq: int = 0
) -> Iterator[AuditEvent]:
    """Every event of the tenant after ``after_seq``, oldest first.

    A generator holding a connection: close it (or exhaust it) when done.
    """
    require(principal, Permission.READ_AUDIT)
    with platform.uow(principal.tenant, False) as uow:
        yield from uow.audit.events(after_seq=after_seq)


def history(
    platform: Platform, principal: Principal, object_type: str, object_id: object
) -> list[AuditEvent]:
    """Events about one object: a device's lifecycle timeline, for instance."""
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.audit.for_object(object_type, str(object_id))
