"""The one place that wires settings -> adapters -> services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from fleetwarden.adapters.assess.tools import ComplianceToolkit
from fleetwarden.adapters.crypto.passwords import Argon2Passwords
from fleetwarden.adapters.crypto.signing import load_or_create_signer
from fleetwarden.adapters.data_readers import FileDataReaders
from fleetwarden.adapters.db.engine import make_engine
from fleetwarden.adapters.db.migrate import ensure_current
from fleetwarden.adapters.db.uow import SqlUnitOfWork
from fleetwarden.adapters.discovery.tools import NetworkDiscoveryTools
from fleetwarden.domain.lifecycle import GuardRegistry
from fleetwarden.domain.model import Tenant
from fleetwarden.services.context import Platform
from fleetwarden.settings import Settings, load_settings


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def default_guards() -> GuardRegistry:
    """Lifecycle guards shipped with the product; later features register more here."""
    return GuardRegistry()


@dataclass(frozen=True)
class App:
    settings: Settings
    engine: Engine
    platform: Platform


def build(settings: Settings | None = None, *, check_schema: bool = True) -> App:
    settings = settings or load_settings()
    engine = make_engine(settings.db_url)
    if check_schema:
        ensure_current(engine)
    clock = SystemClock()
    signer = load_or_create_signer(settings.audit_key_path)

    def open_uow(tenant: Tenant | None, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, tenant, clock.now, write=write)

    platform = Platform(uow=open_uow, clock=clock, signer=signer, guards=default_guards(),
                        discovery=NetworkDiscoveryTools(), readers=FileDataReaders(),
                        compliance=ComplianceToolkit(), passwords=Argon2Passwords())
    return App(settings, engine, platform)


