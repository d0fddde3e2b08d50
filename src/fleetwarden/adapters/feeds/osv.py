"""OSV records (one JSON file, or a zip of them like osv.dev's ``all.zip``) into values.

Mapping: ``id``, ``aliases``, ``modified`` (required), ``published``, ``withdrawn``;
``summary``, or ``details`` when there is no summary, bounded; ``affected`` entries with a
``package`` (ecosystem, name, purl checked by packageurl-python) keep their ranges
(``SEMVER``, ``ECOSYSTEM``, ``GIT`` with ``introduced``/``fixed``/``last_affected``/
``limit`` events) and explicit ``versions``; entries without a package (a bare git repo)
are dropped, since nothing in an estate can match them. ``severity`` entries of type
``CVSS_V2``/``CVSS_V3``/``CVSS_V4`` are scored by the cvss library; other types (e.g.
``Ubuntu``) are ignored. A zip is checked as a whole before any member is read
(``_zip``); a member that is not valid OSV is a bad record named by member name.

Must not: apply anything, or reach osv.dev.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from packageurl import PackageURL

from fleetwarden.adapters.feeds import _values as v
from fleetwarden.adapters.feeds._context import BadRecord, Reading, ReadProgress
from fleetwarden.adapters.feeds._json import json_error_text, load_document, loads
from fleetwarden.adapters.feeds._source import Compression, file_head, open_source
from fleetwarden.adapters.feeds._source import sniff_compression as _sniff
from fleetwarden.adapters.feeds._zip import iter_members
from fleetwarden.domain.vulns import (
    Cvss,
    FeedSource,
    OsvAffected,
    OsvEvent,
    OsvRange,
    Vulnerability,
)

MAX_RECORD = 64 << 20
_RANGE_TYPES = frozenset({"SEMVER", "ECOSYSTEM", "GIT"})
_EVENTS = ("introduced", "fixed", "last_affected", "limit")
_SEVERITY_TYPES = {"CVSS_V2": "2.0", "CVSS_V3": None, "CVSS_V4": "4.0"}


def read_osv(reading: Reading, progress: ReadProgress | None = None
             ) -> tuple[tuple[Vulnerability, ...], datetime | None]:
    """The records, de-duplicated by id (the last wins), and the newest ``modified``."""
    records: dict[str, Vulnerability] = {}
    if _sniff(file_head(reading.path)) is Compression.ZIP:
        members = 0
        for name, data in iter_members(reading.path, ".json", progress):
            members += 1
            where = f"member {name[:80]!r}"
            try:
                raw = loads(data)
            except RecursionError:
                reading.bad(where, "malformed JSON: nested too deep")
                continue
            except UnicodeDecodeError:
                reading.bad(where, "not UTF-8 text")
                continue
            except ValueError as exc:
                reading.bad(where, f"malformed JSON: {json_error_text(exc)}")
                continue
            _add(reading, records, where, raw)
        if members == 0:
            raise reading.fail("the zip archive holds no .json members")
    else:
        with open_source(reading.path, progress=progress,
                         record_limit=2 * MAX_RECORD) as source:
            raw = load_document(source, MAX_RECORD)
        _add(reading, records, "the record", raw)
    newest = max((r.modified for r in records.values() if r.modified), default=None)
    return tuple(records.values()), newest


def _add(reading: Reading, records: dict[str, Vulnerability], where: str, raw: Any) -> None:
    if isinstance(raw, dict) and "id" in raw:
        where = f"{where} ({v.label(raw['id'])})"
    try:
        record = parse_osv(v.as_dict(raw, "an OSV record"))
    except BadRecord as exc:
        reading.bad(where, exc.reason)
        return
    if record.id in records:
        reading.warn(where, "the same id again; the later record is kept")
        del records[record.id]
    records[record.id] = record


def parse_osv(raw: dict[str, Any]) -> Vulnerability:
    """One OSV record as a domain value (raises ``BadRecord``)."""
    schema = raw.get("schema_version")
    if schema is not None and not (isinstance(schema, str) and schema.startswith("1.")):
        raise BadRecord(f"schema_version {v.show(schema)} is not OSV 1.x")
    record_id = v.vuln_id(raw.get("id"))
    aliases = v.as_list(raw.get("aliases"), "aliases")
    if len(aliases) > v.MAX_ALIASES:
        raise BadRecord(f"more than {v.MAX_ALIASES} aliases")
    summary = v.text(raw.get("summary"), "summary") or v.text(raw.get("details"), "details")
    return Vulnerability(
        id=record_id, source=FeedSource.OSV,
        aliases=tuple(dict.fromkeys(v.vuln_id(a, "an alias") for a in aliases)),
        summary=summary,
        published=v.timestamp(raw.get("published"), "published"),
        modified=v.timestamp(raw.get("modified"), "modified", required=True),
        withdrawn=v.timestamp(raw.get("withdrawn"), "withdrawn"),
        cvss=_severity(raw.get("severity")),
        affected=tuple(a for i, entry in enumerate(v.as_list(raw.get("affected"), "affected"))
                       if (a := _affected(entry, f"affected[{i}]")) is not None),
        references=v.urls(v.as_list(raw.get("references"), "references")))


def _severity(raw: Any) -> tuple[Cvss, ...]:
    out = []
    for i, entry in enumerate(v.as_list(raw, "severity")):
        entry = v.as_dict(entry, f"severity[{i}]")
        kind = entry.get("type")
        if kind not in _SEVERITY_TYPES:
            continue
        score = v.cvss(entry.get("score"), version=_SEVERITY_TYPES[kind])
        if kind == "CVSS_V3" and score.version not in ("3.0", "3.1"):
            raise BadRecord(f"severity[{i}] is CVSS_V3 but holds {v.show(score.vector)}")
        out.append(score)
    return tuple(out)


def _affected(raw: Any, what: str) -> OsvAffected | None:
    entry = v.as_dict(raw, what)
    package = entry.get("package")
    if package is None:
        return None
    package = v.as_dict(package, f"{what}.package")
    ecosystem = v.required(package.get("ecosystem"), f"{what}.package.ecosystem", 128)
    name = v.required(package.get("name"), f"{what}.package.name", 512)
    purl = v.short(package.get("purl"), f"{what}.package.purl", limit=1024)
    if purl is not None:
        try:
            PackageURL.from_string(purl)
        except ValueError as exc:
            raise BadRecord(f"{what}.package.purl {v.show(purl)}: {str(exc)[:120]}") from None
    return OsvAffected(
        ecosystem=ecosystem, name=name, purl=purl,
        ranges=tuple(_range(r, f"{what}.ranges[{i}]")
                     for i, r in enumerate(v.as_list(entry.get("ranges"), f"{what}.ranges"))),
        versions=tuple(v.required(x, f"a version in {what}.versions")
                       for x in v.as_list(entry.get("versions"), f"{what}.versions")))


def _range(raw: Any, what: str) -> OsvRange:
    entry = v.as_dict(raw, what)
    kind = entry.get("type")
    if kind not in _RANGE_TYPES:
        raise BadRecord(f"{what}.type {v.show(kind)} is not SEMVER, ECOSYSTEM or GIT")
    events = v.as_list(entry.get("events"), f"{what}.events")
    if not events:
        raise BadRecord(f"{what} has no events")
    return OsvRange(kind, tuple(_event(e, f"{what}.events[{i}]") for i, e in enumerate(events)))


def _event(raw: Any, what: str) -> OsvEvent:
    event = v.as_dict(raw, what)
    keys = [k for k in _EVENTS if k in event]
    if len(keys) != 1:
        raise BadRecord(f"{what} must hold exactly one of introduced, fixed, last_affected, "
                        "limit")
    return OsvEvent(keys[0], v.required(event[keys[0]], f"{what}.{keys[0]}"))
