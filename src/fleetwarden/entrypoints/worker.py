"""The background worker of ``fleetwarden serve``: schedules, matching, webhooks, the
daily summary snapshot.

One daemon thread wakes every ``interval`` seconds, runs the discovery schedules that are
due (one scan at a time), matches feeds that another tenant imported into the findings of
every tenant that has not seen them yet, and delivers undelivered alerts to each
tenant's webhook. Last, once a day per tenant, it takes the summary snapshot the
dashboard's overview reads compliance % and trends from (``overview.daily_snapshot``:
minutes at 1,000,000 devices, so that round is late). Errors are
logged and the loop goes on: a broken webhook or a failed scan never stops the API.

Must not: hold a database transaction while it waits.
"""

from __future__ import annotations

import logging
import threading

from fleetwarden.adapters.notify.webhook import post
from fleetwarden.services import accounts, alerts, overview, schedules, vulns
from fleetwarden.services.context import Platform

log = logging.getLogger(__name__)
INTERVAL = 30.0


class BackgroundWorker:
    def __init__(self, platform: Platform, interval: float = INTERVAL) -> None:
        self._platform = platform
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fleetwarden-worker",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self) -> None:
        """One round: schedules first (they raise alerts), then delivery."""
        try:
            ran = schedules.run_due(self._platform)
            if ran:
                log.info("ran %d scheduled discovery scan(s)", ran)
        except Exception:
            log.exception("scheduled discovery failed")
        try:
            caught_up = vulns.catch_up_all(self._platform)
            if caught_up:
                log.info("matched new feed data for %d tenant(s)", caught_up)
        except Exception:
            log.exception("vulnerability matching failed")
        for tenant in accounts.tenants(self._platform):
            if not tenant.settings.alert_webhook_url:
                continue
            try:
                sent, failed = alerts.deliver(self._platform, tenant, post)
                if sent or failed:
                    log.info("webhook for tenant %s: %d delivered, %d failed",
                             tenant.id, sent, failed)
            except Exception:
                log.exception("webhook delivery failed for tenant %s", tenant.id)
        for tenant in accounts.tenants(self._platform):
            try:
                if overview.daily_snapshot(self._platform, tenant):
                    log.info("took the daily summary snapshot of tenant %s", tenant.id)
            except Exception:
                log.exception("daily summary snapshot failed for tenant %s", tenant.id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._interval)
