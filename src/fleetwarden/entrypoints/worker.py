"""The background worker of ``fleetwarden serve``: due discovery schedules and webhooks.

One daemon thread wakes every ``interval`` seconds, runs the schedules that are due (one
scan at a time) and delivers undelivered alerts to each tenant's webhook. Errors are
logged and the loop goes on: a broken webhook or a failed scan never stops the API.

Must not: hold a database transaction while it waits.
"""

from __future__ import annotations

import logging
import threading

from fleetwarden.adapters.notify.webhook import post
from fleetwarden.services import accounts, alerts, schedules
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

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._interval)
