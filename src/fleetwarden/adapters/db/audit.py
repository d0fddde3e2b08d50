"""Audit events, the chain head and signed checkpoints, stored per tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, insert, select, update

from fleetwarden.adapters.db.tables import audit_checkpoints, audit_events, audit_heads
from fleetwarden.domain.audit import AuditEvent, ChainHead, Checkpoint, canonical_json


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else canonical_json(value).decode("utf-8")


def _row_to_event(r: Any) -> AuditEvent:
    return AuditEvent(
        tenant_id=r.tenant_id,
        seq=r.seq,
        at=r.at,
        actor=r.actor,
        action=r.action,
        object_type=r.object_type,
        object_id=r.object_id,
        before=None if r.before is None else json.loads(r.before),
        after=None if r.after is None else json.loads(r.after),
        reason=r.reason,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


class SqlAuditRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tenant = tenant_id

    def head(self) -> ChainHead | None:
        row = self._conn.execute(
            select(audit_heads).where(audit_heads.c.tenant_id == self._tenant)
        ).first()
        return ChainHead(row.tenant_id, row.seq, row.hash) if row else None

    def lock_head(self) -> ChainHead | None:
        stmt = select(audit_heads).where(audit_heads.c.tenant_id == self._tenant)
        if self._conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).first()
        return ChainHead(row.tenant_id, row.seq, row.hash) if row else None

    def init_head(self, genesis: str) -> None:
        self._conn.execute(insert(audit_heads).values(tenant_id=self._tenant, seq=0, hash=genesis))

    def append(self, event: AuditEvent) -> None:
        self._conn.execute(
            insert(audit_events).values(
                tenant_id=self._tenant,
                seq=event.seq,
                at=event.at,
                actor=event.actor,
                action=event.action,
                object_type=event.object_type,
                object_id=event.object_id,
                before=_dump(event.before),
                after=_dump(event.after),
                reason=event.reason,
                prev_hash=event.prev_hash,
                hash=event.hash,
            )
        )
        self._conn.execute(
            update(audit_heads)
            .where(audit_heads.c.tenant_id == self._tenant)
            .values(seq=event.seq, hash=event.hash)
        )

    def add_checkpoint(self, cp: Checkpoint) -> None:
        self._conn.execute(
            insert(audit_checkpoints).values(
                tenant_id=self._tenant, seq=cp.seq, hash=cp.hash, at=cp.at,
                key_id=cp.key_id, signature=cp.signature,
            )
        )

    def events(self, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditEvent]:
        """Events in stored order (by row id), so reordered rows show up as breaks."""
        last_id = 0
        first = True
        while True:
            stmt = select(audit_events).where(audit_events.c.tenant_id == self._tenant)
            if first and after_seq:
                stmt = stmt.where(audit_events.c.seq > after_seq)
            rows = self._conn.execute(
                stmt.where(audit_events.c.id > last_id).order_by(audit_events.c.id).limit(batch)
            ).all()
            first = False
            for r in rows:
                yield _row_to_event(r)
            if len(rows) < batch:
                return
            last_id = rows[-1].id

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._conn.execute(
            select(audit_checkpoints)
            .where(audit_checkpoints.c.tenant_id == self._tenant)
            .order_by(audit_checkpoints.c.seq)
        ).all()
        return [Checkpoint(r.tenant_id, r.seq, r.hash, r.at, r.key_id, r.signature) for r in rows]

    def for_object(self, object_type: str, object_id: str) -> list[AuditEvent]:
        rows = self._conn.execute(
            select(audit_events)
            .where(
                audit_events.c.tenant_id == self._tenant,
                audit_events.c.object_type == object_type,
                audit_events.c.object_id == object_id,
            )
            .order_by(audit_events.c.seq)
        ).all()
        return [_row_to_event(r) for r in rows]
