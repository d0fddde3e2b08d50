"""The SQL unit of work: one connection, one transaction, one tenant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from fleetwarden.adapters.db.accounts import (
    SqlChangeRequestRepository,
    SqlTenantDirectory,
    SqlUserRepository,
)
from fleetwarden.adapters.db.audit import SqlAuditRepository
from fleetwarden.adapters.db.audit_search import SqlAuditSearch
from fleetwarden.adapters.db.compliance import SqlComplianceRepository
from fleetwarden.adapters.db.devices import SqlDeviceRepository
from fleetwarden.adapters.db.discovery import SqlDiscoveryRepository
from fleetwarden.adapters.db.engine import WRITE_OPTION
from fleetwarden.adapters.db.findings import SqlFindingRepository
from fleetwarden.adapters.db.overview import SqlOverviewRepository
from fleetwarden.adapters.db.records import SqlRecordRepository
from fleetwarden.adapters.db.vulns import SqlFeedStore, SqlSoftwareRepository
from fleetwarden.adapters.db.web import SqlWebRepository
from fleetwarden.domain.model import Tenant
from fleetwarden.errors import NotFound, StorageError


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        tenant: Tenant | None,
        now: Callable[[], datetime],
        *,
        write: bool = True,
    ) -> None:
        self._engine = engine
        self._now = now
        self._write = write
        self.tenant = tenant
        self._conn: Connection | None = None

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work not entered"
        return self._conn

    def __enter__(self) -> SqlUnitOfWork:
        try:
            conn = self._engine.connect().execution_options(**{WRITE_OPTION: self._write})
            conn.begin()
        except OperationalError as exc:
            raise StorageError(f"database unavailable: {exc.orig}") from None
        self._conn = conn
        self.tenants = SqlTenantDirectory(conn)
        if self.tenant is not None:
            self.bind(self.tenant)
        return self

    def bind(self, tenant: Tenant) -> None:
        """Scope the repositories to ``tenant`` (used when a tenant is created)."""
        conn = self.connection
        tid = tenant.id
        assert tid is not None
        # Settings change while tokens are cached: always act on the stored ones.
        fresh = self.tenants.by_id(tid)
        if fresh is None:
            raise NotFound(f"tenant {tenant.name!r} no longer exists")
        self.tenant = fresh
        self.devices = SqlDeviceRepository(conn, tid, self._now)
        self.records = SqlRecordRepository(conn, tid)
        self.audit = SqlAuditRepository(conn, tid)
        self.audit_search = SqlAuditSearch(conn, tid)
        self.changes = SqlChangeRequestRepository(conn, tid, self._now)
        self.users = SqlUserRepository(conn, tid, self._now)
        self.discovery = SqlDiscoveryRepository(conn, tid)
        self.feeds = SqlFeedStore(conn)
        self.software = SqlSoftwareRepository(conn, tid)
        self.findings = SqlFindingRepository(conn, tid)
        self.compliance = SqlComplianceRepository(conn, tid)
        self.web = SqlWebRepository(conn, tid)
        self.overview = SqlOverviewRepository(conn, tid)

    def commit(self) -> None:
        self.connection.commit()

    def __exit__(self, *exc: Any) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()
