"""Tenants, users, API tokens and authentication (no default credentials, ever).

Tokens look like ``fw_<id>_<secret>``: the id finds the row, only a SHA-256 of the
secret is stored (tokens are long and random, so a slow hash buys nothing and would
cost every request). Passwords use argon2id through the hasher the caller passes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fleetwarden.domain.audit import GENESIS_HASH
from fleetwarden.domain.model import Tenant, TenantSettings, User
from fleetwarden.domain.vocab import Role
from fleetwarden.errors import (
    AuthenticationError,
    ConfigurationError,
    Conflict,
    InputError,
    NotFound,
)
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require

_TOKEN = re.compile(r"^fw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()&'-]{0,127}$")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    user: User
    token: str
    """Shown once; never stored or logged."""


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_token() -> tuple[str, str, str]:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return token_id, secret, f"fw_{token_id}_{secret}"


def _check_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InputError(f"not an email address: {email[:60]!r}")
    return email


def tenants(platform: Platform) -> list[Tenant]:
    with platform.uow(None, False) as uow:
        return uow.tenants.all()


def resolve_tenant(platform: Platform, name: str | None) -> Tenant:
    """The named tenant, or the only one when no name is given."""
    with platform.uow(None, False) as uow:
        if name:
            found = uow.tenants.by_name(name)
            if found is None:
                raise NotFound(f"tenant {name!r} not found")
            return found
        every = uow.tenants.all()
    if not every:
        raise ConfigurationError(
            "no tenant yet: run `fleetwarden init --tenant NAME --admin EMAIL`"
        )
    if len(every) > 1:
        names = ", ".join(t.name for t in every[:10])
        raise InputError(f"several tenants ({names}): choose one with --tenant")
    return every[0]


def create_tenant(platform: Platform, actor: str, name: str, admin_email: str) -> IssuedToken:
    """A new tenant, its audit chain, its first admin and that admin's first token."""
    name = name.strip()
    if not _TENANT_NAME.match(name):
        raise InputError("tenant: 1-128 letters, digits, spaces and . _ ( ) & ' -")
    email = _check_email(admin_email)
    token_id, secret, token = _new_token()
    with platform.uow(None, True) as uow:
        if uow.tenants.by_name(name) is not None:
            raise Conflict(f"tenant {name!r} already exists")
        tenant = uow.tenants.add(name, platform.now())
        uow.bind(tenant)
        uow.audit.init_head(GENESIS_HASH)
        user = uow.users.add(User(None, tenant.id or 0, email, Role.ADMIN), None)
        uow.users.add_token(token_id, user.id or 0, _hash_secret(secret), "initial admin token")
        audit.record(platform, uow, actor, "tenant.create", "tenant", tenant.id,
                     after={"name": name})
        audit.record(platform, uow, actor, "user.create", "user", user.id,
                     after={"email": email, "role": Role.ADMIN.value})
        audit.record(platform, uow, actor, "token.issue", "user", user.id,
                     after={"token_id": token_id})
        uow.commit()
    return IssuedToken(user, token)


def add_user(
    platform: Platform, principal: Principal, email: str, role: str,
    password_hash: str | None = None,
) -> IssuedToken:
    require(principal, Permission.ADMIN)
    email = _check_email(email)
    try:
        role_value = Role(role)
    except ValueError:
        raise InputError(f"role: one of {', '.join(r.value for r in Role)}") from None
    token_id, secret, token = _new_token()
    with platform.uow(principal.tenant, True) as uow:
        if uow.users.by_email(email) is not None:
            raise Conflict(f"user {email} already exists")
        user = uow.users.add(User(None, uow.tenant.id or 0, email, role_value), password_hash)
        uow.users.add_token(token_id, user.id or 0, _hash_secret(secret), "issued with user")
        audit.record(platform, uow, principal.actor, "user.create", "user", user.id,
                     after={"email": email, "role": role_value.value,
                            "password_set": password_hash is not None})
        audit.record(platform, uow, principal.actor, "token.issue", "user", user.id,
                     after={"token_id": token_id})
        uow.commit()
    return IssuedToken(user, token)


def issue_token(platform: Platform, principal: Principal, email: str, label: str) -> IssuedToken:
    require(principal, Permission.ADMIN)
    token_id, secret, token = _new_token()
    with platform.uow(principal.tenant, True) as uow:
        user = uow.users.by_email(_check_email(email))
        if user is None:
            raise NotFound(f"user {email} not found")
        uow.users.add_token(token_id, user.id or 0, _hash_secret(secret), label)
        audit.record(platform, uow, principal.actor, "token.issue", "user", user.id,
                     after={"token_id": token_id, "label": label})
        uow.commit()
    return IssuedToken(user, token)


def revoke_tokens(platform: Platform, principal: Principal, email: str) -> int:
    require(principal, Permission.ADMIN)
    with platform.uow(principal.tenant, True) as uow:
        user = uow.users.by_email(_check_email(email))
        if user is None:
            raise NotFound(f"user {email} not found")
        n = uow.users.revoke_tokens(user.id or 0)
        audit.record(platform, uow, principal.actor, "token.revoke", "user", user.id,
                     after={"revoked": n})
        uow.commit()
        return n


def list_users(platform: Platform, principal: Principal) -> list[User]:
    require(principal, Permission.READ)
    with platform.uow(principal.tenant, False) as uow:
        return uow.users.list()


def authenticate(platform: Platform, token: str) -> Principal:
    """The principal a bearer token stands for; one generic message for every failure."""
    m = _TOKEN.match(token.strip())
    if not m:
        raise AuthenticationError("invalid or expired token")
    token_id, secret = m.groups()
    with platform.uow(None, False) as uow:
        row = uow.tenants.token(token_id)
        tenant = uow.tenants.by_id(row.tenant_id) if row is not None else None
    if row is None or tenant is None:
        raise AuthenticationError("invalid or expired token")
    if not hmac.compare_digest(row.secret_hash, _hash_secret(secret)):
        raise AuthenticationError("invalid or expired token")
    now = datetime.now(UTC)
    expires = row.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if row.revoked_at is not None or (expires is not None and expires <= now) or not row.active:
        raise AuthenticationError("invalid or expired token")
    return Principal(tenant, row.email, Role(row.role), row.user_id)


def token_id_of(token: str) -> str | None:
    """The public id part of a token, safe to log; None if it is not one of ours."""
    m = _TOKEN.match(token.strip())
    return m.group(1) if m else None


def update_settings(platform: Platform, principal: Principal,
                    change: Callable[[TenantSettings], TenantSettings],
                    shown: Callable[[TenantSettings], dict[str, Any]]) -> Tenant:
    """Apply ``change`` to the tenant's settings; ``shown`` is what the audit log keeps
    of them (never a secret)."""
    require(principal, Permission.ADMIN)
    with platform.uow(principal.tenant, True) as uow:
        before = uow.tenant.settings
        settings = change(before)
        uow.tenants.save_settings(uow.tenant.id or 0, settings)
        audit.record(platform, uow, principal.actor, "tenant.settings", "tenant", uow.tenant.id,
                     before=shown(before), after=shown(settings))
        uow.commit()
    return replace(principal.tenant, settings=settings)


def set_change_approval(platform: Platform, principal: Principal, required: bool) -> Tenant:
    """Turn the tenant's change control for live devices on or off."""
    return update_settings(platform, principal,
                           lambda s: replace(s, require_change_approval=required),
                           lambda s: {"require_change_approval": s.require_change_approval})


def local_principal(tenant: Tenant, os_user: str) -> Principal:
    """Whoever runs the CLI on the server itself administers the installation."""
    return Principal(tenant, f"cli:{os_user}", Role.ADMIN)

