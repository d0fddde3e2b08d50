"""Web sign-in state: password and TOTP per user, lockout counters, browser sessions and
saved filters. Everything is scoped to one tenant; finding the session a cookie names
is ``SqlTenantDirectory.web_session`` (the cookie says which tenant it belongs to)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from fleetwarden.adapters.db.tables import as_utc, saved_filters, users, web_sessions
from fleetwarden.ports import SavedFilter, SignInState


class SqlWebRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self._conn = conn
        self._tenant = tenant_id

    # ------------------------------------------------------------------- users
    def sign_in_state(self, user_id: int) -> SignInState | None:
        row = self._conn.execute(
            select(users.c.password_hash, users.c.totp_secret, users.c.totp_last_step,
                   users.c.failed_signins, users.c.locked_until)
            .where(users.c.tenant_id == self._tenant, users.c.id == user_id)
        ).first()
        if row is None:
            return None
        return SignInState(row.password_hash, row.totp_secret, row.totp_last_step,
                           int(row.failed_signins or 0), as_utc(row.locked_until))

    def set_sign_in_state(self, user_id: int, **values: Any) -> None:
        allowed = {"password_hash", "totp_secret", "totp_last_step", "failed_signins",
                   "locked_until"}
        unknown = set(values) - allowed
        assert not unknown, f"not sign-in state: {unknown}"
        self._conn.execute(
            update(users).where(users.c.tenant_id == self._tenant, users.c.id == user_id)
            .values(**values))

    # ---------------------------------------------------------------- sessions
    def add_session(self, session_id: str, user_id: int, now: datetime, expires: datetime,
                    client: str) -> None:
        self._conn.execute(insert(web_sessions).values(
            id=session_id, tenant_id=self._tenant, user_id=user_id, created_at=now,
            expires_at=expires, client=client[:64]))

    def revoke_session(self, session_id: str, now: datetime) -> bool:
        result = self._conn.execute(
            update(web_sessions)
            .where(web_sessions.c.tenant_id == self._tenant, web_sessions.c.id == session_id,
                   web_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now))
        return bool(result.rowcount)

    def revoke_user_sessions(self, user_id: int, now: datetime) -> int:
        result = self._conn.execute(
            update(web_sessions)
            .where(web_sessions.c.tenant_id == self._tenant,
                   web_sessions.c.user_id == user_id, web_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now))
        return int(result.rowcount)

    def purge_sessions(self, before: datetime) -> int:
        """Forget sessions that ended (expired or revoked) before ``before``."""
        result = self._conn.execute(
            delete(web_sessions).where(web_sessions.c.tenant_id == self._tenant,
                                       web_sessions.c.expires_at < before))
        return int(result.rowcount)

    # ----------------------------------------------------------- saved filters
    def saved_filters(self, user_id: int, page: str) -> list[SavedFilter]:
        rows = self._conn.execute(
            select(saved_filters).where(
                saved_filters.c.tenant_id == self._tenant, saved_filters.c.user_id == user_id,
                saved_filters.c.page == page).order_by(saved_filters.c.name)).all()
        return [SavedFilter(r.id, r.page, r.name, r.query) for r in rows]

    def save_filter(self, user_id: int, page: str, name: str, query: str,
                    now: datetime) -> SavedFilter:
        self._conn.execute(delete(saved_filters).where(
            saved_filters.c.tenant_id == self._tenant, saved_filters.c.user_id == user_id,
            saved_filters.c.page == page, saved_filters.c.name == name))
        new_id = self._conn.execute(insert(saved_filters).values(
            tenant_id=self._tenant, user_id=user_id, page=page, name=name, query=query,
            created_at=now)).inserted_primary_key[0]
        return SavedFilter(int(new_id), page, name, query)

    def delete_filter(self, user_id: int, filter_id: int) -> SavedFilter | None:
        row = self._conn.execute(select(saved_filters).where(
            saved_filters.c.tenant_id == self._tenant, saved_filters.c.user_id == user_id,
            saved_filters.c.id == filter_id)).first()
        if row is None:
            return None
        self._conn.execute(delete(saved_filters).where(saved_filters.c.id == filter_id))
        return SavedFilter(row.id, row.page, row.name, row.query)
