"""Offline vulnerability feeds: import NVD, OSV, KEV, EPSS and VEX files; show their age.

``import_feeds`` applies every file in one transaction: one bad file (or, without
``skip_bad_records``, one bad record) and nothing changes. Small feeds (KEV, EPSS, OSV,
VEX) are read completely before the transaction starts; NVD files, which can hold the
whole NVD (300,000 records), are streamed into it in batches in flat memory, and a bad
record met half way rolls everything back. Re-importing newer data replaces records in
place. Each file is one audit event in the importing tenant's chain, with its SHA-256 and counts.

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

from fleetwarden.domain.vulns import FeedSource, Vulnerability
from fleetwarden.errors import InputError
from fleetwarden.ports import DataReaders, FeedData, ReadProgress, UnitOfWork
from fleetwarden.services import audit
from fleetwarden.services.context import Permission, Platform, Principal, require
from fleetwarden.services.digests import file_sha256
from fleetwarden.services.matching import MatchRun, after_feeds

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
    matching: MatchRun | None = None
    """What re-matching the tenant's inventory found (None: nothing to match yet)."""


@dataclass(slots=True)
class _Changes:
    """What an import changed, for the incremental re-match."""

    vulns: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    kev_before: set[str] = field(default_factory=set)
    vex: list[str] = field(default_factory=list)

    def note(self, uow: UnitOfWork, data: FeedData) -> None:
        self.vulns += [v.id for v in data.vulnerabilities]
        if data.kev:
            ids = [e.cve_id for e in data.kev]
            self.kev_before |= set(uow.feeds.kev_many(ids))
            self.signals += ids
        self.signals += [e.cve_id for e in data.epss]
        self.vex += [st.vulnerability_id for st in data.vex]



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
    files: list[tuple[Path, str, FeedSource]] = []
    for path in paths:
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{path}: no such file")
        files.append((file, file_sha256(file), readers.feed_source(path)))
    read = {str(file): readers.read_feed(str(file), skip_bad_records=skip_bad_records,
                                         progress=progress)
            for file, _, source in files if source is not FeedSource.NVD}
    now = platform.now()
    results = []
    changes = _Changes()
    with platform.uow(principal.tenant, True) as uow:
        for file, sha, _ in files:
            data = read.get(str(file))
            if data is None:
                data, records, updated = _stream_nvd(readers, uow, file, now,
                                                     skip_bad_records, progress, changes)
            else:
                changes.note(uow, data)
                records, updated = _records(data), _apply(uow, data, now)
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
        run = after_feeds(uow, now, changed=changes.vulns, signal_ids=changes.signals,
                          kev_before=changes.kev_before, vex_ids=changes.vex)
        if run is not None:
            audit.record(platform, uow, principal.actor, "vulns.match", "tenant",
                         uow.tenant.id, after={"mode": "feeds", **run.view()})
        uow.commit()
    totals: dict[str, int] = {}
    for r in results:
        totals[r.source] = totals.get(r.source, 0) + r.records
    return FeedImport(tuple(results), totals, run)


def _apply(uow: UnitOfWork, data: FeedData, now: datetime) -> int:
    updated = 0
    for i in range(0, len(data.vulnerabilities), BATCH):
        updated += uow.feeds.upsert_vulnerabilities(data.vulnerabilities[i:i + BATCH], now)
    if data.kev:
        uow.feeds.upsert_kev(data.kev, now)
    if data.epss:
        uow.feeds.upsert_epss(data.epss, now)
    if data.vex:
        uow.software.add_vex(data.vex, now)
    return updated


def _stream_nvd(readers: DataReaders, uow: UnitOfWork, file: Path, now: datetime,
                skip_bad_records: bool, progress: ReadProgress | None, changes: _Changes
                ) -> tuple[FeedData, int, int]:
    """Upsert an NVD file batch by batch; a later record with the same id wins.

    Returns the file's summary (no records kept), how many records it had and how many
    replaced stored ones."""
    warnings: list[str] = []
    batch: dict[str, Vulnerability] = {}
    count = updated = 0
    newest: datetime | None = None
    for vuln in readers.stream_vulnerabilities(str(file), skip_bad_records=skip_bad_records,
                                               warn=warnings.append, progress=progress):
        count += 1
        if vuln.modified is not None and (newest is None or vuln.modified > newest):
            newest = vuln.modified
        batch.pop(vuln.id, None)
        batch[vuln.id] = vuln
        changes.vulns.append(vuln.id)
        if len(batch) >= BATCH:
            updated += uow.feeds.upsert_vulnerabilities(list(batch.values()), now)
            batch.clear()
    if batch:
        updated += uow.feeds.upsert_vulnerabilities(list(batch.values()), now)
    skipped = sum(1 for w in warnings if "skipped" in w)
    summary = FeedData(FeedSource.NVD, warnings=tuple(warnings), skipped=skipped,
                       data_date=newest)
    return summary, count, updated


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
