"""Offline readers for vulnerability data files: NVD, OSV, CISA KEV, EPSS and VEX.

``detect(path)`` tells the format from the content; ``read_feed(path)`` reads a whole
file into domain values (``domain.vulns``) and validates every record before it returns,
so a caller holds either everything or a ``FeedError`` naming the file and the record.
With ``skip_bad_records=True`` a bad record is left out instead, with one warning line
naming it. Structural damage (malformed JSON, a truncated ``.gz``, a hostile zip, a
record nested too deep or too large) always raises.

Which to use:

* ``read_feed`` for every format, and for NVD files up to a few hundred thousand
  records when memory allows (measured figures in the handover note).
* ``iter_nvd`` for the whole NVD in one file: records come one at a time in file order
  and a bad one raises mid-way, so the caller must apply inside one transaction and
  roll back on ``FeedError``.

Must not: reach the network, write anything, or hand out part of a file that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fleetwarden.adapters.feeds import epss as _epss
from fleetwarden.adapters.feeds import kev as _kev
from fleetwarden.adapters.feeds import nvd as _nvd
from fleetwarden.adapters.feeds import osv as _osv
from fleetwarden.adapters.feeds import vex as _vex
from fleetwarden.adapters.feeds._context import Reading, ReadProgress
from fleetwarden.adapters.feeds.detect import FeedKind, detect
from fleetwarden.adapters.feeds.nvd import iter_nvd
from fleetwarden.domain.vulns import (
    EpssScore,
    FeedSource,
    KevEntry,
    VexStatement,
    Vulnerability,
)
from fleetwarden.ports import FeedData

__all__ = ["FeedCounts", "FeedKind", "FeedRead", "ReadProgress", "detect", "iter_nvd",
           "read_feed"]


@dataclass(frozen=True, slots=True)
class FeedCounts:
    read: int
    """Values read (vulnerabilities, KEV entries, scores or VEX statements)."""
    skipped: int = 0
    """Bad records left out (only with ``skip_bad_records``)."""


@dataclass(frozen=True, slots=True)
class FeedRead:
    """Everything one file held, validated; nothing of it applied."""

    kind: FeedKind
    path: Path
    vulnerabilities: tuple[Vulnerability, ...] = ()
    kev: tuple[KevEntry, ...] = ()
    epss: tuple[EpssScore, ...] = ()
    vex: tuple[VexStatement, ...] = ()
    warnings: tuple[str, ...] = ()
    """One line each, naming the file and the record (skipped records, corrections)."""
    counts: FeedCounts = FeedCounts(0)
    version: str | None = None
    """KEV ``catalogVersion`` or EPSS ``model_version``."""
    data_date: datetime | None = None
    """The newest date the data carries (last modified record, catalogue or score date)."""
    cve_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """NVD ``cveTags`` by CVE id, for records that have any (no domain field yet)."""

    @property
    def source(self) -> FeedSource:
        return self.kind.source

    def as_feed_data(self) -> FeedData:
        """The port's value (``DataReaders.read_feed``)."""
        return FeedData(source=self.source, vulnerabilities=self.vulnerabilities,
                        kev=self.kev, epss=self.epss, vex=self.vex, warnings=self.warnings,
                        skipped=self.counts.skipped, data_date=self.data_date)


def read_feed(path: str | Path, *, skip_bad_records: bool = False,
              progress: ReadProgress | None = None) -> FeedRead:
    """Detect the format of ``path`` and read all of it (see the module).

    ``progress(bytes_read, bytes_total)`` is called now and then with the position in
    the file on disk.
    """
    path = Path(path)
    kind = detect(path)
    reading = Reading(path, skip_bad_records)
    return _READERS[kind](kind, reading, progress)


def _counts(reading: Reading, count: int) -> FeedCounts:
    return FeedCounts(count, reading.skipped)


def _read_nvd(kind: FeedKind, reading: Reading, progress: ReadProgress | None) -> FeedRead:
    header = _nvd.NvdHeader()
    records: dict[str, Vulnerability] = {}
    tags: dict[str, tuple[str, ...]] = {}
    for record in _nvd.iter_records(reading, header, progress):
        vuln = record.vulnerability
        if vuln.id in records:
            reading.warn(vuln.id, "listed again; the later record is kept")
            del records[vuln.id]
        records[vuln.id] = vuln
        if record.tags:
            tags[vuln.id] = record.tags
        else:
            tags.pop(vuln.id, None)
    return FeedRead(kind, reading.path, vulnerabilities=tuple(records.values()),
                    warnings=reading.all_warnings(), counts=_counts(reading, len(records)),
                    data_date=header.newest or header.timestamp, cve_tags=tags)


def _read_osv(kind: FeedKind, reading: Reading, progress: ReadProgress | None) -> FeedRead:
    records, newest = _osv.read_osv(reading, progress)
    return FeedRead(kind, reading.path, vulnerabilities=records,
                    warnings=reading.all_warnings(), counts=_counts(reading, len(records)),
                    data_date=newest)


def _read_kev(kind: FeedKind, reading: Reading, progress: ReadProgress | None) -> FeedRead:
    catalogue = _kev.read_kev(reading, progress)
    return FeedRead(kind, reading.path, kev=catalogue.entries,
                    warnings=reading.all_warnings(),
                    counts=_counts(reading, len(catalogue.entries)),
                    version=catalogue.version, data_date=catalogue.released)


def _read_epss(kind: FeedKind, reading: Reading, progress: ReadProgress | None) -> FeedRead:
    scores = _epss.read_epss(reading, progress)
    return FeedRead(kind, reading.path, epss=scores.scores, warnings=reading.all_warnings(),
                    counts=_counts(reading, len(scores.scores)),
                    version=scores.model_version, data_date=scores.score_date)


def _vex_reader(read: Callable[[Reading, ReadProgress | None], tuple[VexStatement, ...]]
                ) -> Callable[[FeedKind, Reading, ReadProgress | None], FeedRead]:
    def reader(kind: FeedKind, reading: Reading, progress: ReadProgress | None) -> FeedRead:
        statements = read(reading, progress)
        newest = max((s.timestamp for s in statements if s.timestamp), default=None)
        return FeedRead(kind, reading.path, vex=statements, warnings=reading.all_warnings(),
                        counts=_counts(reading, len(statements)), data_date=newest)
    return reader


_READERS: dict[FeedKind, Callable[[FeedKind, Reading, ReadProgress | None], FeedRead]] = {
    FeedKind.NVD: _read_nvd,
    FeedKind.OSV: _read_osv,
    FeedKind.KEV: _read_kev,
    FeedKind.EPSS: _read_epss,
    FeedKind.CYCLONEDX_VEX: _vex_reader(_vex.read_cyclonedx),
    FeedKind.OPENVEX: _vex_reader(_vex.read_openvex),
    FeedKind.CSAF_VEX: _vex_reader(_vex.read_csaf),
}
