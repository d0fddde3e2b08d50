"""Bulk device import: all-or-nothing, streamed, with a per-row error report.

Rows are validated and inserted in batches inside ONE transaction; any error means
the whole import is rolled back, and the report lists the bad rows (up to a limit).
Memory stays flat: nothing per row is kept after its batch is written.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fleetwarden.domain.device_input import parse_device
from fleetwarden.domain.model import Device
from fleetwarden.errors import FleetwardenError, InputError
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.devices import Resolver

BATCH = 5000
MAX_REPORTED_ERRORS = 100
ANALYZE_AFTER = 10_000
"""Imports this big refresh the planner's statistics afterwards."""
#: Young-generation threshold of the cyclic GC while an import runs. Each row allocates
#: a few dozen objects, none of them in cycles; with the default (700) the collector
#: runs every few rows and re-scans the batch in hand, about a tenth of the import's
#: CPU time. Restored when the last running import ends.
IMPORT_GC_THRESHOLD = 50_000

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            if _gc_saved[0] and _gc_saved[0] < IMPORT_GC_THRESHOLD:  # 0: GC is disabled
                gc.set_threshold(IMPORT_GC_THRESHOLD, *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    models_created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    """(row number, message); row numbers count data rows from 1."""
    error_count: int = 0
    dry_run: bool = False
    committed: bool = False

    def add_error(self, row: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((row, message))


def import_devices(
    platform: Platform,
    principal: Principal,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    source: Mapping[str, Any],
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import ``(row number, record)`` pairs; ``source`` describes the file for the audit log.

    Reading the file may itself raise ``InputError`` (malformed CSV): that aborts
    the import with nothing written.
    """
    require(principal, Permission.WRITE)
    report = ImportReport(dry_run=dry_run)
    tenant_name = principal.tenant.name
    with _fewer_gc_passes(), platform.uow(principal.tenant, True) as uow:
        resolver = Resolver(platform, principal, uow)
        batch: list[Device] = []
        numbers: list[int] = []

        def flush() -> None:
            refused = uow.devices.add_many(batch)
            for index, message in refused:
                report.add_error(numbers[index], message)
            report.created += len(batch) - len(refused)
            if on_progress:
                on_progress(len(batch))
            batch.clear()
            numbers.clear()

        for number, raw in rows:
            report.rows += 1
            try:
                tenant = raw.get("tenant")
                if tenant not in (None, "", tenant_name):
                    raise InputError(f"tenant: row belongs to {str(tenant)[:40]!r}, not "
                                     f"{tenant_name!r}")
                record = (raw if "id" not in raw and tenant is None
                          else {k: v for k, v in raw.items() if k not in ("id", "tenant")})
                device = resolver.device(parse_device(record))
            except FleetwardenError as exc:
                report.add_error(number, str(exc))
                if on_progress:
                    on_progress(1)
                continue
            batch.append(device)
            numbers.append(number)
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        report.models_created = len(resolver.models_created)
        if report.rows == 0:
            raise InputError("the file holds no device rows")
        if report.error_count:
            report.created = report.models_created = 0
        if report.error_count or dry_run:
            return report  # leaving the unit of work rolls everything back
        audit.record(
            platform, uow, principal.actor, "device.import", "import",
            source.get("sha256", "-"),
            after={"created": report.created, "models_created": report.models_created,
                   **{k: v for k, v in source.items()}},
        )
        uow.commit()
        report.committed = True
        if report.created >= ANALYZE_AFTER:
            uow.devices.refresh_statistics()
            uow.commit()
        return report
