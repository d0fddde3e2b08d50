"""Alerts from discovery: list, acknowledge, and deliver them to the tenant's webhook.

Delivery is an outbox: alerts are stored with the change that raised them, and
``deliver`` (run by ``fleetwarden serve``) POSTs the undelivered ones, marking each try.
A failing endpoint is retried up to ``MAX_ATTEMPTS`` times and never blocks a scan.

Must not: put the webhook secret anywhere but the signature header.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fleetwarden.domain.inventory import Alert, AlertKind
from fleetwarden.domain.model import Tenant, TenantSettings
from fleetwarden.errors import FleetwardenError, InputError, NotFound
from fleetwarden.services import accounts, audit
from fleetwarden.services.context import Permission, Platform, Principal, require

MAX_PAGE = 1000
MAX_ATTEMPTS = 5
BATCH = 100

Sender = Callable[[str, bytes, str | None], None]
"""POST (url, JSON body, secret for the signature); raises ``FleetwardenError`` on failure."""


def _kinds(kinds: Sequence[str]) -> list[str]:
    known = {k.value for k in AlertKind}
    out = []
    for kind in kinds:
        full = kind if "." in kind else f"device.{kind}"
        if full not in known:
            raise InputError(f"kind {kind[:32]!r}: one of new, changed, missing, rogue_seen, "
                             "vuln.new, vuln.kev")
        out.append(full)
    return out


def list_alerts(platform: Platform, principal: Principal, *, kinds: Sequence[str] = (),
                unacknowledged: bool = False, since: datetime | None = None,
                device_id: int | None = None, limit: int = 100,
                before_id: int | None = None) -> list[Alert]:
    """Newest first."""
    require(principal, Permission.READ)
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit: between 1 and {MAX_PAGE}")
    with platform.uow(principal.tenant, False) as uow:
        return uow.discovery.alerts(kinds=_kinds(kinds), unacknowledged=unacknowledged,
                                    since=since, device_id=device_id, limit=limit,
                                    before_id=before_id)


def acknowledge(platform: Platform, principal: Principal, alert_id: int) -> Alert:
    require(principal, Permission.WRITE)
    with platform.uow(principal.tenant, True) as uow:
        alert = uow.discovery.alert(alert_id)
        if alert is None:
            raise NotFound(f"alert {alert_id} not found")
        if alert.acknowledged_at is not None:
            return alert
        now = platform.now()
        uow.discovery.acknowledge(alert_id, principal.actor, now)
        audit.record(platform, uow, principal.actor, "alert.acknowledge", "alert", alert_id,
                     after={"acknowledged_at": now.isoformat()})
        uow.commit()
        return replace(alert, acknowledged_at=now, acknowledged_by=principal.actor)


def alert_view(a: Alert) -> dict[str, Any]:
    """The alert as the CLI, the API and the webhook show it."""
    return {"id": a.id, "kind": a.kind.value, "severity": a.severity.value, "title": a.title,
            "details": dict(a.details), "device_id": a.device_id, "host_id": a.host_id,
            "scan_id": a.scan_id, "created_at": a.created_at.isoformat(),
            "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
            "acknowledged_by": a.acknowledged_by,
            "delivered_at": a.delivered_at.isoformat() if a.delivered_at else None}


def shown_url(url: str | None) -> str | None:
    """The URL without any user:password part (for output and the audit log)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"***@{parts.hostname or ''}{port}"))


def set_webhook(platform: Platform, principal: Principal, url: str | None,
                secret: str | None = None, *, unsigned: bool = False) -> Tenant:
    """Where alerts go (None: nowhere). ``secret`` signs each body (HMAC-SHA256); without
    one the current secret is kept unless ``unsigned``."""
    if url is not None:
        if not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
            raise InputError("webhook: an http:// or https:// URL with a host")
        if len(url) > 2048:
            raise InputError("webhook: at most 2048 characters")

    def change(s: TenantSettings) -> TenantSettings:
        kept = None if unsigned else (secret or s.alert_webhook_secret)
        return replace(s, alert_webhook_url=url, alert_webhook_secret=kept if url else None)

    return accounts.update_settings(
        platform, principal, change,
        lambda s: {"alert_webhook_url": shown_url(s.alert_webhook_url),
                   "alert_webhook_signed": s.alert_webhook_secret is not None})


def set_missing_after(platform: Platform, principal: Principal, hours: int) -> Tenant:
    """How long a live device may go unseen by active scans before it is missing."""
    if not 1 <= hours <= 24 * 366:
        raise InputError("missing-after: between 1 hour and 366 days")
    return accounts.update_settings(
        platform, principal, lambda s: replace(s, missing_after_hours=hours),
        lambda s: {"missing_after_hours": s.missing_after_hours})


def deliver(platform: Platform, tenant: Tenant, send: Sender, actor: str = "system:webhook"
            ) -> tuple[int, int]:
    """POST the tenant's undelivered alerts; (delivered, failed)."""
    url = tenant.settings.alert_webhook_url
    if not url:
        return 0, 0
    with platform.uow(tenant, False) as uow:
        pending = uow.discovery.undelivered(BATCH, MAX_ATTEMPTS)
    delivered: list[int] = []
    failed: list[tuple[int, str]] = []
    for alert in pending:
        body = json.dumps({"tenant": tenant.name, "alert": alert_view(alert)},
                          sort_keys=True).encode()
        try:
            send(url, body, tenant.settings.alert_webhook_secret)
        except FleetwardenError as exc:
            failed.append((alert.id or 0, str(exc)[:256]))
        else:
            delivered.append(alert.id or 0)
    if not (delivered or failed):
        return 0, 0
    with platform.uow(tenant, True) as uow:
        now = platform.now()
        for alert_id in delivered:
            uow.discovery.mark_delivery(alert_id, delivered_at=now, error=None)
        for alert_id, error in failed:
            uow.discovery.mark_delivery(alert_id, delivered_at=None, error=error)
        audit.record(platform, uow, actor, "alert.deliver", "webhook", uow.tenant.id,
                     after={"delivered": delivered, "failed": [i for i, _ in failed],
                            "error": failed[0][1] if failed else None})
        uow.commit()
    return len(delivered), len(failed)
