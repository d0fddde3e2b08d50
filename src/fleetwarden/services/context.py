"""Who is acting, and the shared machinery every use case needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fleetwarden.domain.lifecycle import GuardRegistry
from fleetwarden.domain.model import Tenant
from fleetwarden.domain.vocab import Role
from fleetwarden.errors import ConfigurationError, PermissionDenied
from fleetwarden.ports import (
    Clock,
    ComplianceTools,
    DataReaders,
    DiscoveryTools,
    PasswordHasher,
    Signer,
    UnitOfWork,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated actor acting inside one tenant."""

    tenant: Tenant
    actor: str
    """How the actor appears in the audit log: an email, or ``cli:<os user>``."""
    role: Role
    user_id: int | None = None


class Permission:
    READ = "read"
    WRITE = "write"
    TRANSITION = "transition"
    REQUEST_CHANGE = "request_change"
    APPROVE_CHANGE = "approve_change"
    READ_AUDIT = "read_audit"
    ADMIN = "admin"


_GRANTS: dict[Role, frozenset[str]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.ANALYST: frozenset({Permission.READ}),
    Role.AUDITOR: frozenset({Permission.READ, Permission.READ_AUDIT}),
    Role.ENGINEER: frozenset(
        {Permission.READ, Permission.WRITE, Permission.TRANSITION, Permission.REQUEST_CHANGE}
    ),
    Role.ADMIN: frozenset(
        {
            Permission.READ,
            Permission.WRITE,
            Permission.TRANSITION,
            Permission.REQUEST_CHANGE,
            Permission.APPROVE_CHANGE,
            Permission.READ_AUDIT,
            Permission.ADMIN,
        }
    ),
}


def can(principal: Principal, permission: str) -> bool:
    return permission in _GRANTS[principal.role]


def require(principal: Principal, permission: str) -> None:
    if not can(principal, permission):
        what = permission.replace("_", " ")
        raise PermissionDenied(f"role {principal.role.value} may not {what}")


@dataclass(frozen=True)
class Platform:
    """Wiring handed to services by bootstrap: storage, time, signing, guards."""

    uow: Callable[[Tenant | None, bool], UnitOfWork]
    """Opens a unit of work for a tenant (or none yet); the flag says whether it writes."""
    clock: Clock
    signer: Signer
    guards: GuardRegistry
    discovery: DiscoveryTools | None = None
    """Scanner, file readers and fingerprint catalogue (None where nothing discovers)."""
    readers: DataReaders | None = None
    """SBOM and vulnerability-feed readers."""
    compliance: ComplianceTools | None = None
    """Catalogues, checks and assessment probes."""
    passwords: PasswordHasher | None = None
    """The password hash of web sign-in (argon2id)."""

    def now(self) -> datetime:
        return self.clock.now()

    def tools(self) -> DiscoveryTools:
        if self.discovery is None:
            raise ConfigurationError("discovery is not configured in this process")
        return self.discovery

    def password_hasher(self) -> PasswordHasher:
        if self.passwords is None:
            raise ConfigurationError("web sign-in is not configured in this process")
        return self.passwords

    def compliance_tools(self) -> ComplianceTools:
        if self.compliance is None:
            raise ConfigurationError("compliance is not configured in this process")
        return self.compliance

    def data_readers(self) -> DataReaders:
        if self.readers is None:
            raise ConfigurationError("SBOM and feed readers are not configured in this process")
        return self.readers
