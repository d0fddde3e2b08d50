"""Tenants, users, API tokens and change requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from fleetwarden.adapters.db.tables import (
    api_tokens,
    change_requests,
    tenants,
    users,
    web_sessions,
)
from fleetwarden.domain.model import ChangeRequest, Tenant, TenantSettings, User
from fleetwarden.domain.vocab import Role


def row_to_tenant(r: Any) -> Tenant:
    raw = json.loads(r.settings or "{}")
    known = {k: tuple(v) if isinstance(v, list) else v
             for k, v in raw.items() if k in TenantSettings.__dataclass_fields__}
    return Tenant(r.id, r.name, TenantSettings(**known))


class SqlTenantDirectory:
    """Tenant lookup and creation: the one place that is not tenant-scoped."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def all(self) -> list[Tenant]:
        rows = self._conn.execute(select(tenants).order_by(tenants.c.id)).all()
        return [row_to_tenant(r) for r in rows]

    def by_name(self, name: str) -> Tenant | None:
        row = self._conn.execute(select(tenants).where(tenants.c.name == name)).first()
        return row_to_tenant(row) if row else None

    def by_id(self, tenant_id: int) -> Tenant | None:
        row = self._conn.execute(select(tenants).where(tenants.c.id == tenant_id)).first()
        return row_to_tenant(row) if row else None

    def add(self, name: str, now: datetime) -> Tenant:
        new_id = self._conn.execute(
            insert(tenants).values(name=name, settings="{}", created_at=now)
        ).inserted_primary_key[0]
        return Tenant(new_id, name)

    def save_settings(self, tenant_id: int, settings: TenantSettings) -> None:
        from dataclasses import asdict

        self._conn.execute(
            update(tenants).where(tenants.c.id == tenant_id)
            .values(settings=json.dumps(asdict(settings), sort_keys=True))
        )

    def token(self, token_id: str) -> Any:
        """The token row joined with its user, for authentication (not tenant-scoped:
        the token says which tenant it belongs to)."""
        return self._conn.execute(
            select(
                api_tokens.c.id, api_tokens.c.tenant_id, api_tokens.c.secret_hash,
                api_tokens.c.expires_at, api_tokens.c.revoked_at,
                users.c.id.label("user_id"), users.c.email, users.c.role, users.c.active,
            )
            .select_from(api_tokens.join(users, api_tokens.c.user_id == users.c.id))
            .where(api_tokens.c.id == token_id)
        ).first()

    def web_session(self, session_id: str) -> Any:
        """The session row (by the SHA-256 of its cookie secret) joined with its user."""
        return self._conn.execute(
            select(
                web_sessions.c.id, web_sessions.c.tenant_id, web_sessions.c.expires_at,
                web_sessions.c.revoked_at, web_sessions.c.created_at,
                users.c.id.label("user_id"), users.c.email, users.c.role, users.c.active,
            )
            .select_from(web_sessions.join(users, web_sessions.c.user_id == users.c.id))
            .where(web_sessions.c.id == session_id)
        ).first()


def _user(r: Any) -> User:
    return User(r.id, r.tenant_id, r.email, Role(r.role), bool(r.active))


class SqlUserRepository:
    def __init__(self, conn: Connection, tenant_id: int, clock_now: Any) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._now = clock_now

    def get(self, user_id: int) -> User | None:
        row = self._conn.execute(
            select(users).where(users.c.tenant_id == self._tenant, users.c.id == user_id)
        ).first()
        return _user(row) if row else None

    def by_email(self, email: str) -> User | None:
        row = self._conn.execute(
            select(users).where(users.c.tenant_id == self._tenant, users.c.email == email)
        ).first()
        return _user(row) if row else None

    def list(self) -> list[User]:
        rows = self._conn.execute(
            select(users).where(users.c.tenant_id == self._tenant).order_by(users.c.id)
        ).all()
        return [_user(r) for r in rows]

    def add(self, user: User, password_hash: str | None) -> User:
        new_id = self._conn.execute(
            insert(users).values(
                tenant_id=self._tenant, email=user.email, role=user.role.value,
                password_hash=password_hash, active=user.active, created_at=self._now(),
            )
        ).inserted_primary_key[0]
        return User(new_id, self._tenant, user.email, user.role, user.active)

    def add_token(self, token_id: str, user_id: int, secret_hash: str, label: str) -> None:
        self._conn.execute(
            insert(api_tokens).values(
                id=token_id, tenant_id=self._tenant, user_id=user_id, secret_hash=secret_hash,
                label=label, created_at=self._now(),
            )
        )

    def revoke_tokens(self, user_id: int) -> int:
        result = self._conn.execute(
            update(api_tokens)
            .where(api_tokens.c.tenant_id == self._tenant, api_tokens.c.user_id == user_id,
                   api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        return int(result.rowcount)


def _cr(r: Any) -> ChangeRequest:
    return ChangeRequest(
        r.id, r.tenant_id, r.device_id, r.requester, r.reason, r.reference, r.status, r.approver
    )


class SqlChangeRequestRepository:
    def __init__(self, conn: Connection, tenant_id: int, clock_now: Any) -> None:
        self._conn = conn
        self._tenant = tenant_id
        self._now = clock_now

    def get(self, cr_id: int) -> ChangeRequest | None:
        row = self._conn.execute(
            select(change_requests).where(
                change_requests.c.tenant_id == self._tenant, change_requests.c.id == cr_id
            )
        ).first()
        return _cr(row) if row else None

    def list(self, device_id: int | None = None) -> list[ChangeRequest]:
        stmt = select(change_requests).where(change_requests.c.tenant_id == self._tenant)
        if device_id is not None:
            stmt = stmt.where(change_requests.c.device_id == device_id)
        return [_cr(r) for r in self._conn.execute(stmt.order_by(change_requests.c.id)).all()]

    def add(self, cr: ChangeRequest) -> ChangeRequest:
        new_id = self._conn.execute(
            insert(change_requests).values(
                tenant_id=self._tenant, device_id=cr.device_id, requester=cr.requester,
                reason=cr.reason, reference=cr.reference, status=cr.status,
                created_at=self._now(),
            )
        ).inserted_primary_key[0]
        stored = self.get(new_id)
        assert stored is not None
        return stored

    def set_status(self, cr_id: int, status: str, approver: str | None) -> None:
        values: dict[str, Any] = {"status": status}
        if approver is not None:
            values |= {"approver": approver, "decided_at": datetime.now(UTC)}
        self._conn.execute(
            update(change_requests)
            .where(change_requests.c.tenant_id == self._tenant, change_requests.c.id == cr_id)
            .values(**values)
        )
