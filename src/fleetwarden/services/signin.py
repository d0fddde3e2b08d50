"""Web sign-in: passwords, TOTP second factor, lockout and browser sessions.

Signing in needs the user's email, password (argon2id) and a TOTP code: the guideline
asks for multi-factor authentication on sensitive data, so a user without a TOTP secret
cannot use the dashboard at all. After ``MAX_FAILURES`` wrong attempts in a row the
account is locked for ``LOCK_MINUTES``; every failure, lock and sign-in is audited in
the same transaction as the counter it changes.

A session is a random secret in an HttpOnly cookie; only its SHA-256 is stored, and it
ends ``SESSION_HOURS`` after sign-in, at sign-out, or when the user's password, second
factor or state changes. Its CSRF token is derived from the secret (an HMAC), so forms
need nothing stored.

Must not: say which of email, password or code was wrong; keep or log a password, TOTP
secret or session secret anywhere but the hashes and the user's row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fleetwarden.domain import totp
from fleetwarden.domain.model import Tenant
from fleetwarden.domain.vocab import Role
from fleetwarden.errors import AuthenticationError, InputError, NotFound
from fleetwarden.ports import UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require

MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_HOURS = 8
MIN_PASSWORD = 12
MAX_PASSWORD = 256
REFUSED = "sign-in refused: wrong email, password or code"
#: Verified when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$m2pOch2AdJhsa7jYgXFEww$70odUe"
    "BxoMROqrDCcije6HEjeFvEHWIxJm1RGNal0Tk")


@dataclass(frozen=True, slots=True)
class WebSession:
    principal: Principal
    secret: str
    """The cookie's value; shown to the browser once, never stored or logged."""
    expires_at: datetime

    @property
    def csrf(self) -> str:
        return csrf_token(self.secret)


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    """The TOTP secret, shown once to be typed or scanned into an authenticator."""
    uri: str


def session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"fleetwarden csrf", hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ administration
def set_password(platform: Platform, principal: Principal, email: str, password: str) -> None:
    """Set a user's web password (admins); ends their sessions and lifts a lock."""
    require(principal, Permission.ADMIN)
    _check_password(password)
    hashed = platform.password_hasher().hash(password)
    with platform.uow(principal.tenant, True) as uow:
        user_id = _user_id(uow, email)
        uow.web.set_sign_in_state(user_id, password_hash=hashed, failed_signins=0,
                                  locked_until=None)
        ended = uow.web.revoke_user_sessions(user_id, platform.now())
        audit.record(platform, uow, principal.actor, "user.password_set", "user", user_id,
                     after={"email": email, "sessions_ended": ended})
        uow.commit()


def enrol_totp(platform: Platform, principal: Principal, email: str) -> Enrolment:
    """Give a user a new TOTP secret (admins); the old one stops working at once."""
    require(principal, Permission.ADMIN)
    secret = totp.new_secret()
    with platform.uow(principal.tenant, True) as uow:
        user_id = _user_id(uow, email)
        uow.web.set_sign_in_state(user_id, totp_secret=secret, totp_last_step=None)
        ended = uow.web.revoke_user_sessions(user_id, platform.now())
        audit.record(platform, uow, principal.actor, "user.totp_enrol", "user", user_id,
                     after={"email": email, "sessions_ended": ended})
        uow.commit()
    return Enrolment(secret, totp.provisioning_uri(secret, f"{email} ({principal.tenant.name})"))


def unlock(platform: Platform, principal: Principal, email: str) -> None:
    require(principal, Permission.ADMIN)
    with platform.uow(principal.tenant, True) as uow:
        user_id = _user_id(uow, email)
        uow.web.set_sign_in_state(user_id, failed_signins=0, locked_until=None)
        audit.record(platform, uow, principal.actor, "user.unlock", "user", user_id,
                     after={"email": email})
        uow.commit()


# ------------------------------------------------------------------------ sign-in
def sign_in(platform: Platform, tenant: Tenant, email: str, password: str, code: str,
            client: str) -> WebSession:
    """A new session for the user, or ``AuthenticationError`` (changes audited)."""
    email = email.strip().lower()[:254]
    if len(password) > MAX_PASSWORD:
        password = password[:MAX_PASSWORD + 1]  # still wrong, without hashing megabytes
    hasher = platform.password_hasher()
    now = platform.now()
    with platform.uow(tenant, True) as uow:
        user = uow.users.by_email(email)
        state = uow.web.sign_in_state(user.id) if user and user.id else None
        if user is None or user.id is None or state is None:
            hasher.verify(_DUMMY_HASH, password)
            audit.record(platform, uow, f"web:{client}", "user.signin_failed", "user", None,
                         after={"email": email, "reason": "unknown user"})
            uow.commit()
            raise AuthenticationError(REFUSED)
        if state.locked_until is not None and state.locked_until > now:
            audit.record(platform, uow, f"web:{client}", "user.signin_failed", "user", user.id,
                         after={"email": email, "reason": "locked"})
            uow.commit()
            minutes = max(1, int((state.locked_until - now).total_seconds() // 60) + 1)
            raise AuthenticationError(
                f"sign-in refused: too many failed attempts; try again in {minutes} min "
                "or ask an admin to unlock the account")
        password_ok = bool(state.password_hash) and hasher.verify(state.password_hash or "",
                                                                   password)
        step = (totp.accepted_step(state.totp_secret, code, now, state.totp_last_step)
                if state.totp_secret else None)
        reason = ("inactive" if not user.active else "no password set" if not state.password_hash
                  else "password" if not password_ok else "no second factor enrolled"
                  if not state.totp_secret else "code" if step is None else None)
        if reason is not None:
            failures = state.failed_signins + 1
            locked = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
            uow.web.set_sign_in_state(user.id, failed_signins=0 if locked else failures,
                                      locked_until=locked)
            audit.record(platform, uow, f"web:{client}", "user.signin_failed", "user", user.id,
                         after={"email": email, "reason": reason, "failures": failures})
            if locked:
                audit.record(platform, uow, f"web:{client}", "user.locked", "user", user.id,
                             after={"email": email, "until": locked.isoformat()})
            uow.commit()
            raise AuthenticationError(REFUSED)
        secret = secrets.token_urlsafe(32)
        expires = now + timedelta(hours=SESSION_HOURS)
        values: dict[str, object] = {"failed_signins": 0, "locked_until": None,
                                     "totp_last_step": step}
        if hasher.needs_rehash(state.password_hash or ""):
            values["password_hash"] = hasher.hash(password)
        uow.web.set_sign_in_state(user.id, **values)
        uow.web.purge_sessions(now - timedelta(days=1))
        uow.web.add_session(session_id(secret), user.id, now, expires, client)
        audit.record(platform, uow, user.email, "user.signin", "user", user.id,
                     after={"client": client[:64], "expires_at": expires.isoformat()})
        uow.commit()
        principal = Principal(uow.tenant, user.email, user.role, user.id)
    return WebSession(principal, secret, expires)


def session_principal(platform: Platform, secret: str) -> WebSession:
    """The live session a cookie names, or ``AuthenticationError``."""
    if not secret or len(secret) > 128:
        raise AuthenticationError("not signed in")
    with platform.uow(None, False) as uow:
        row = uow.tenants.web_session(session_id(secret))
        if row is None or row.revoked_at is not None or not row.active:
            raise AuthenticationError("not signed in")
        expires = _utc(row.expires_at)
        if expires <= platform.now():
            raise AuthenticationError("session expired: sign in again")
        tenant = uow.tenants.by_id(row.tenant_id)
    if tenant is None:
        raise AuthenticationError("not signed in")
    principal = Principal(tenant, row.email, Role(row.role), row.user_id)
    return WebSession(principal, secret, expires)


def sign_out(platform: Platform, session: WebSession) -> None:
    principal = session.principal
    with platform.uow(principal.tenant, True) as uow:
        if uow.web.revoke_session(session_id(session.secret), platform.now()):
            audit.record(platform, uow, principal.actor, "user.signout", "user",
                         principal.user_id, after={})
        uow.commit()


# ------------------------------------------------------------------------ helpers
def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InputError(f"password: {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if not password.isprintable():
        raise InputError("password: printable characters only")
    if len(set(password)) < 4:
        raise InputError("password: too simple (use at least 4 different characters)")


def _user_id(uow: UnitOfWork, email: str) -> int:
    user = uow.users.by_email(email.strip().lower())
    if user is None or user.id is None:
        raise NotFound(f"user {email[:80]} not found")
    return user.id


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
