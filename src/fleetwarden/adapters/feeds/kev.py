"""CISA Known Exploited Vulnerabilities catalogue (JSON) into ``KevEntry`` values.

The catalogue is ``{"title", "catalogVersion", "dateReleased", "count",
"vulnerabilities": [{"cveID", "vendorProject", "product", "dateAdded", "dueDate",
"knownRansomwareCampaignUse", "requiredAction", ...}]}``. It is streamed like NVD (a
catalogue is small today, but a file is untrusted). ``knownRansomwareCampaignUse`` is
``Known`` or ``Unknown``; only ``Known`` sets ``known_ransomware``. A CVE listed twice
keeps its last entry, with a warning. Names, descriptions and notes that ``KevEntry``
has no field for are not kept.

Must not: apply anything, or reach CISA's site (files only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress
from fleetwarden.adapters.feeds._json import Members
from fleetwarden.adapters.feeds._source import open_source
from fleetwarden.domain.vulns import KevEntry

_REQUIRED_ACTION = 1024


@dataclass(frozen=True, slots=True)
class KevCatalogue:
    entries: tuple[KevEntry, ...]
    version: str | None = None
    released: datetime | None = None


def read_kev(reading: Reading, progress: ReadProgress | None = None) -> KevCatalogue:
    entries: dict[str, KevEntry] = {}
    version: str | None = None
    released: datetime | None = None
    listed = 0
    stated_count: Any = None
    with open_source(reading.path, progress=progress) as source:
        members = Members(source, "vulnerabilities")
        for key, index, value in members:
            if index < 0:
                if key == "vulnerabilities":
                    raise reading.fail("'vulnerabilities' must be an array")
                if key == "catalogVersion":
                    version = _header_text(reading, value, key)
                elif key == "dateReleased":
                    released = _released(reading, value)
                elif key == "count":
                    stated_count = value
                continue
            listed += 1
            entry = _entry(reading, index, value)
            if entry is None:
                continue
            if entry.cve_id in entries:
                reading.warn(f"vulnerabilities[{index}] ({entry.cve_id})",
                             "listed again; the later entry is kept")
                del entries[entry.cve_id]
            entries[entry.cve_id] = entry
    if not members.streamed_found:
        raise reading.fail("no 'vulnerabilities' array: not a CISA KEV catalogue")
    if isinstance(stated_count, int) and stated_count != listed:
        reading.warn("the catalogue header",
                     f"count says {stated_count}, the file lists {listed}")
    return KevCatalogue(tuple(entries.values()), version, released)


def _header_text(reading: Reading, value: Any, key: str) -> str | None:
    try:
        return v.short(value, key, limit=64)
    except BadRecord as exc:
        reading.warn("the catalogue header", exc.reason)
        return None


def _released(reading: Reading, value: Any) -> datetime | None:
    try:
        if isinstance(value, str) and len(value) == 10:
            released = v.day(value, "dateReleased")
            return datetime.combine(released, time(), UTC) if released else None
        return v.timestamp(value, "dateReleased")
    except BadRecord as exc:
        reading.warn("the catalogue header", exc.reason)
        return None


def _entry(reading: Reading, index: int, raw: Any) -> KevEntry | None:
    where = f"vulnerabilities[{index}]"
    if isinstance(raw, dict) and "cveID" in raw:
        where = f"{where} ({v.label(raw['cveID'])})"
    try:
        item = v.as_dict(raw, "an entry")
        ransomware = item.get("knownRansomwareCampaignUse")
        if ransomware is not None and not isinstance(ransomware, str):
            raise BadRecord("knownRansomwareCampaignUse must be a string")
        return KevEntry(
            cve_id=v.cve_id(item.get("cveID"), "cveID"),
            vendor=v.text(item.get("vendorProject"), "vendorProject", v.MAX_SHORT),
            product=v.text(item.get("product"), "product", v.MAX_SHORT),
            date_added=v.day(item.get("dateAdded"), "dateAdded", required=True),
            due_date=v.day(item.get("dueDate"), "dueDate"),
            known_ransomware=(ransomware or "").strip().casefold() == "known",
            required_action=v.text(item.get("requiredAction"), "requiredAction",
                                   _REQUIRED_ACTION))
    except BadRecord as exc:
        reading.bad(where, exc.reason)
        return None

