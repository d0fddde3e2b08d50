"""Offline vulnerability feeds: import NVD, OSV, KEV, EPSS and VEX files; show their age.

``import_feeds`` reads every file completely before it writes anything, then applies all
of them in one transaction: one bad file (or, without ``skip_bad_records``, one bad
record) and nothing changes. Re-importing newer data replaces records in place. Each file
is one audit event in the importing tenant's chain, with its SHA-256 and counts.

Feed data is public and shared by all tenants (ADR 0008); VEX statements are the
importing tenant's own.

Must not: reach the network. Everything comes from files the user brought in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fleetwarden.errors import InputError
from fleetwarden.ports import FeedData, ReadProgress
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.digests import file_sha256

BATCH = 5000


@dataclass(frozen=True, slots=True)
class FileImport:
    file: str
    source: str
    records: int
    updated: int = 0
    """Records that replaced stored ones (vulnerabilities only)."""
    skipped: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedImport:
    files: tuple[FileImport, ...]
    totals: dict[str, int] = field(default_factory=dict)



def _records(data: FeedData) -> int:
    return len(data.vulnerabilities) + len(data.kev) + len(data.epss) + len(data.vex)


def import_feeds(platform: Platform, principal: Principal, paths: Sequence[str], *,
                 skip_bad_records: bool = False,
                 progress: ReadProgress | None = None) -> FeedImport:
    """Import ``paths`` all or nothing (see the module)."""
    require(principal, Permission.WRITE)
    if not paths:
        raise InputError("give at least one feed file")
    readers = platform.data_readers()
    read: list[tuple[Path, str, FeedData]] = []
    for path in paths:
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{path}: no such file")
        data = readers.read_feed(path, skip_bad_records=skip_bad_records, progress=progress)
        read.append((file, file_sha256(file), data))
    now = platform.now()
    results = []
    with platform.uow(principal.tenant, True) as uow:
        for file, sha, data in read:
            updated = 0
            for i in range(0, len(data.vulnerabilities), BATCH):
                updated += uow.feeds.upsert_vulnerabilities(
                    data.vulnerabilities[i:i + BATCH], now)
            if data.kev:
                uow.feeds.upsert_kev(data.kev, now)
            if data.epss:
                uow.feeds.upsert_epss(data.epss, now)
            if data.vex:
                uow.software.add_vex(data.vex, now)
            records = _records(data)
            import_id = uow.feeds.record_import(
                source=data.source, file_name=file.name, sha256=sha, records=records,
                skipped=data.skipped, data_date=data.data_date, now=now,
                tenant_id=uow.tenant.id, actor=principal.actor)
            audit.record(platform, uow, principal.actor, "feeds.import", "feed_import",
                         import_id, after={
                             "source": data.source.value, "file": file.name, "sha256": sha,
                             "records": records, "updated": updated,
                             "skipped": data.skipped,
                             "data_date": data.data_date.isoformat() if data.data_date
                             else None})
            results.append(FileImport(file.name, data.source.value, records, updated,
                                      data.skipped, data.warnings))
        uow.commit()
    totals: dict[str, int] = {}
    for r in results:
        totals[r.source] = totals.get(r.source, 0) + r.records
    return FeedImport(tuple(results), totals)


def status(platform: Platform, principal: Principal) -> list[dict[str, Any]]:
    """Each source's stored records, last import and how old its data is."""
    require(principal, Permission.READ)
    now = platform.now()
    with platform.uow(principal.tenant, False) as uow:
        rows = uow.feeds.status(uow.tenant.id)
        vex = uow.software.count_vex()
    out = []
    for row in rows:
        if row["source"] == "vex":
            row = {**row, "stored": vex}
        newest: datetime | None = row["data_date"] or row["last_import"]
        out.append({**row, "age_days": round((now - newest).total_seconds() / 86400, 1)
                    if newest else None})
    return out
